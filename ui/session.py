"""The one owner of st.session_state: every key the app keeps, declared once (KEYS), with typed accessors.

The settings as asked for (`store`, possibly invalid) start the run (`trainer`: its cfg and diverged are not copied);
a link's run that a shared replay will hand over is not built here (`awaiting` holds its config until then);
a change that would lose steps waits as `pending`. `apply` resets exactly the keys the run owns (a `Key.fresh`).
Widget keys carry their page's prefix (WIDGET_PREFIXES); `get`, `put` and `pop` refuse an undeclared key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

import streamlit as st

from core import ConfigError, TrainConfig, Trainer, optimizer_defaults, run_bytes
from serve import memory
from ui import replays

DEFAULTS = asdict(TrainConfig())  # lr and weight_decay resolved for the default optimizer
TRAIN_PAGE = "Train"  # the title the Train page passes to ui.page.setup: the only page whose run may tick


@dataclass(frozen=True)
class Key:
    """A session-state key: its type, the module that writes it, what it holds, its fresh value if the run owns it."""

    type: str
    owner: str
    what: str
    fresh: Callable[[], Any] | None = None  # owned by the run: `apply` resets it to fresh()


class Busy(NamedTuple):
    """Why the server refused a run, and who asked for it ("settings" or "lesson": each shows its own)."""

    message: str
    source: str


KEYS = MappingProxyType({
    "trainer": Key("Trainer | None", "session", "the run, set by apply (tests outside the app read it directly); "
                   "None while `awaiting`"),
    "awaiting": Key("TrainConfig | None", "session", "a link's run not built yet: its shared replay hands this "
                    "session a copy (training), or trainer() builds it at step 0 when asked first"),
    "run_id": Key("int", "session", "how many runs this session started, counted by apply (tells runs apart)"),
    "pending": Key("TrainConfig | None", "session", "a valid change waiting for the user's OK", lambda: None),
    "busy": Key("Busy | None", "session", "the server's refusal of the last run asked for", lambda: None),
    "cache": Key("dict", "session", "per-run memo (memo, run_cache): layouts, purity, the sweep", dict),
    "failed_step": Key("str | None", "training", "a failed step that left the run able to go on", lambda: None),
    "running": Key("bool", "training", "Run/Pause on the Train page", lambda: False),
    "store": Key("dict", "session", "the settings as asked for, possibly invalid (each control shows why)"),
    "page": Key("str | None", "session", "the title of the page shown (a run only ticks on Train)"),
    "nav_seen": Key("bool", "nav", "this session ran a page before (ui.nav: a first run in pages/ mode reruns)"),
    "link_errors": Key("dict[str, str]", "links", "link values that could not be read, by query parameter"),
    "replay_target": Key("int | None", "links", "the step a link asked for, until it is reached"),
    "replay_refused": Key("tuple | None", "links", "(config, message, most steps) for a step a link may not ask"),
    "display_mode": Key("bool", "display", "classroom display mode (the link's projector=1)"),
    "theme_dark": Key("bool", "display", "the dark theme asked for (the link's theme=dark)"),
    "refused_link": Key("TrainConfig | None", "session", "the link's run the server refused before any run started"),
    "link_boxes": Key("dict[str, DeltaGenerator]", "widgets.sidebar", "the sidebar's sentences that name the step, by "
                      "name: a Step in the Train page's fragment rewrites them (widgets.sidebar.refresh_links)"),
    "corpus_paste": Key("str", "widgets.sidebar", "the pasted text as typed (its text area is rebuilt from it)"),
    "corpus_upload_error": Key("str | None", "widgets.sidebar", "why an uploaded .txt was refused"),
    "_server_run_token": Key("RunToken", "serve.memory", "this session's charge on the server (freed with it)"),
})  # fmt: skip

# Widget keys (and a page's own data keys) by prefix: the page or widget module that owns them
WIDGET_PREFIXES = MappingProxyType({
    "cfg_": "widgets.sidebar: cfg_<TrainConfig field> and the corpus controls",
    "view_": "widgets.sidebar: the display-mode and dark-theme toggles",
    "share_": "links: the pasted text's download",
    "replay_": "training, links: a replay's Stop button, re-train to the most a link may ask",
    "page_": "widgets.sidebar: the pending banner's buttons",
    "train_": "pages/01_train.py", "masks_": "pages/02_gradient_masks.py", "updates_": "pages/03_row_updates.py",
    "space_": "pages/04_embedding_space.py", "lookup_": "pages/05_lookup.py", "scale_": "pages/06_scale.py",
    "lesson_": "widgets.lessons, pages/07_lessons.py", "compare_": "pages/08_compare.py",
    "predict_": "pages/09_predict.py", "export_": "pages/10_export.py", "import_": "widgets.upload (pages 10, 04)",
    "slow_": "pages/11_slow_motion.py",
})  # fmt: skip


def widget_key(field: str) -> str:
    """The sidebar control's key for a TrainConfig field."""
    return "cfg_" + field


def _declared(key: str) -> str:
    if key not in KEYS and not key.startswith(tuple(WIDGET_PREFIXES)):
        raise KeyError(f"session state key {key!r} is not declared in ui/session.py")
    return key


def get(key: str, default: Any = None) -> Any:
    """A declared key's value (a widget's, a page's own), or `default`."""
    return st.session_state.get(_declared(key), default)


def put(key: str, value: Any) -> None:
    st.session_state[_declared(key)] = value


def pop(key: str, default: Any = None) -> Any:
    return st.session_state.pop(_declared(key), default)


def has(key: str) -> bool:
    return _declared(key) in st.session_state


def started() -> bool:
    """Whether this browser session has its run (init built it, or holds it for a shared replay's copy)."""
    return st.session_state.get("trainer") is not None or awaiting()


def trainer() -> Trainer:
    """The session's run; one awaiting a shared replay's copy is built now, at step 0, when something needs it first."""
    ss = st.session_state
    if ss.get("awaiting") is not None:
        ss.trainer, ss.awaiting = Trainer(ss.awaiting), None
    return ss.trainer


def cfg() -> TrainConfig:
    """The running config (the last valid one asked for)."""
    waiting = st.session_state.get("awaiting")
    return waiting if waiting is not None else st.session_state.trainer.cfg


def step_count() -> int:
    """The run's step, without building a run that awaits a shared replay (step 0 until its copy arrives)."""
    return 0 if awaiting() else st.session_state.trainer.step_count


def awaiting() -> bool:
    """Whether the run is not built yet: a link's shared replay is to hand this session its copy (adopt)."""
    return st.session_state.get("awaiting") is not None


def adopt(run: Trainer) -> None:
    """Make `run` (a copy of a shared replay, of the config this session is charged for) the session's run."""
    st.session_state.trainer, st.session_state.awaiting = run, None


def run_id() -> int:
    return st.session_state.run_id


def store() -> dict:
    """The settings as asked for (a control writes here through set_setting)."""
    return st.session_state.store


def pending() -> TrainConfig | None:
    return st.session_state.pending


def busy(source: str = "settings") -> str | None:
    """The server's refusal of a run `source` asked for ("settings" or "lesson"), if any."""
    refused = st.session_state.get("busy")
    return refused.message if refused is not None and refused.source == source else None


def diverged() -> str | None:
    """Why training stopped: the frozen run's message, or the last failed step's; None while it can go on."""
    frozen = getattr(st.session_state.get("trainer"), "diverged", None)  # None too while the run awaits a copy
    return frozen.message if frozen is not None else st.session_state.get("failed_step")


def step_failed(message: str) -> None:
    """A step diverged (the step loop's report): Run stops, the message shows until the next run."""
    st.session_state.failed_step, st.session_state.running = message, False


def running() -> bool:
    return bool(st.session_state.get("running"))


def set_running(on: bool) -> None:
    st.session_state.running = on


def link_errors() -> dict[str, str]:
    """The link's unreadable values, by query parameter (settings and view)."""
    return st.session_state.link_errors


def page() -> str | None:
    return st.session_state.get("page")


def run_cache() -> dict:
    """Per-run derived data (layouts, purity, a sweep), dropped with the run."""
    return st.session_state.cache


def memo(name: str, key, compute, keep: int | None = None):
    """`compute()` once per `key` under `name` for this run (never shared with other users); `keep`: at most that
    many keys stay (a 5,000,000-character text is kept once, and compared by identity first: immediate)."""
    kept = st.session_state.cache.setdefault(name, {})
    if key not in kept:
        if keep is not None and len(kept) >= keep:
            kept.clear()
        kept[key] = compute()
    return kept[key]


def _defaults_for(optimizer, dim=DEFAULTS["dim"]) -> dict:
    """Every field's default, the optimizer's own where it has one (lr for the table's `dim`, weight decay,
    momentum, betas)."""
    try:
        return {**DEFAULTS, **optimizer_defaults(optimizer, dim)}
    except (KeyError, TypeError):
        return DEFAULTS


def _first_valid(values: dict) -> TrainConfig:
    """The config closest to `values` that validates: each field core refuses falls back to its default."""
    values = dict(values)
    for _ in range(len(values) + 1):
        try:
            return TrainConfig(**values)
        except ConfigError as error:
            default = _defaults_for(values.get("optimizer"), values.get("dim"))[error.field]
            if values.get(error.field) == default:
                break  # the default itself is refused with these neighbours: start over from all defaults
            values[error.field] = default
    return TrainConfig()


def init(values: dict, link_errors: dict[str, str], view: dict[str, Any]) -> str | None:
    """Once per browser session: keep the link's settings (unreadable ones in `link_errors`) and view, then build
    the first run; the server's refusal, if any (the next rerun tries again)."""
    ss = st.session_state
    optimizer, dim = values.get("optimizer", DEFAULTS["optimizer"]), values.get("dim", DEFAULTS["dim"])
    store = {**_defaults_for(optimizer, dim), **values}  # unset: the optimizer's, its lr for the link's dim
    ss.store = store  # invalid values stay here, so their control shows them with core's message beside
    ss.link_errors = dict(link_errors)  # values a link set that could not even be parsed (?dim=abc, ?step=x)
    for key, value in view.items():
        ss[_declared(key)] = value
    ss.replay_refused, ss.page, ss.run_id = None, None, 0
    cfg = _first_valid(store)
    try:
        apply(cfg, build=not (view.get("replay_target") and replays.shareable(cfg)))  # a copy of the link's replay
    except memory.ServerBusy as refused:  # the server is full even for this link's run: a smaller one is offered
        ss.trainer, ss.refused_link = None, cfg
        return refused.message
    return None


def start_instead(cfg: TrainConfig) -> None:
    """After a refused link: start `cfg` (a button's on_click) and show it in every control; refused again, the
    next rerun's init says why."""
    try:
        apply(cfg)
    except memory.ServerBusy:
        return
    st.session_state.store, st.session_state.refused_link = asdict(cfg), None
    _clear_link_errors()


def apply(cfg: TrainConfig, build: bool = True) -> None:
    """Start a fresh run with `cfg` (also what Reset does). The server charges the run against its memory budget
    first: when it cannot hold the run, memory.ServerBusy is raised and the current run is left as it was.
    build=False: the run awaits a shared replay's copy (`adopt`), charged the same, and is not built here."""
    ss = st.session_state
    memory.admit(memory.current_session_id(), run_bytes(cfg).total)  # replaces this session's previous charge
    ss.trainer, ss.awaiting = None, None  # the old run is freed before the new one is built: never both at once
    if build:
        ss.trainer = Trainer(cfg)
    else:
        ss.awaiting = cfg
    ss.run_id = ss.get("run_id", 0) + 1
    for name, key in KEYS.items():
        if key.fresh is not None:
            ss[name] = key.fresh()


def _try_apply(cfg: TrainConfig, source: str = "settings") -> bool:
    """apply(cfg), or keep the current run and remember why the server refused (shown where `source` asked)."""
    try:
        apply(cfg)
    except memory.ServerBusy as refused:
        st.session_state.busy = Busy(refused.message, source)
        return False
    return True


def load_settings(cfg: TrainConfig) -> bool:
    """A lesson's run: start `cfg` and show it in every control; False (the current run kept) when refused."""
    if not _try_apply(cfg, "lesson"):
        return False
    st.session_state.store = asdict(cfg)  # the sidebar writes every control's value from the store next run
    _clear_link_errors()
    return True


def enter_page(title: str) -> None:
    """Every full run of a page: remember which page is shown; leaving Train pauses its run."""
    st.session_state.page = title
    if title != TRAIN_PAGE:
        st.session_state.running = False


def config_errors() -> dict[str, str]:
    """Messages to show beside controls: unparseable link values, then core's verdict on the settings."""
    ss = st.session_state
    errors = {field: message for field, message in ss.link_errors.items() if field in DEFAULTS}
    try:
        TrainConfig(**ss.store)
    except ConfigError as error:
        errors.setdefault(error.field, error.message)
    return errors


def sync() -> None:
    """Per rerun: start the asked-for config when no step would be lost, else hold it as pending."""
    ss = st.session_state
    try:
        requested = TrainConfig(**ss.store)
    except ConfigError:
        requested = None  # keep the last valid run going while a control holds an invalid value
    if getattr(ss.get("trainer"), "diverged", None) is not None:  # frozen by a step taken elsewhere: Run stops,
        ss.running = False  # the reset is offered
    if requested is None or requested == cfg():
        ss.pending = None
        if busy() is not None:
            ss.busy = None
    elif step_count() == 0:
        _try_apply(requested)  # refused: the current run goes on, the message shows, the next rerun tries again
    else:
        ss.pending = requested


def set_setting(field: str, value) -> None:
    """Change one asked-for setting (from a widget callback)."""
    st.session_state.store[field] = value
    st.session_state.link_errors.pop(field, None)


def _clear_link_errors() -> None:
    errors = st.session_state.link_errors
    for field in [f for f in errors if f in DEFAULTS]:
        del errors[field]


def set_optimizer(name: str) -> None:
    """Switch optimizer with that optimizer's defaults: its lr and weight decay, momentum, Nesterov and betas
    back to torch's (AdamW at Adam's weight decay of 0 would be Adam; SGD at Adam's lr barely learns)."""
    set_setting("optimizer", name)
    try:
        defaults = optimizer_defaults(name, st.session_state.store["dim"])
    except (KeyError, TypeError):
        return  # not an optimizer: core's message shows under the control
    for field, value in defaults.items():
        set_setting(field, value)


def set_dim(dim) -> None:
    """Change the table's dimension; an lr left at the optimizer's default for the old one follows to the new
    one's (core.optimizers.default_lr_for), an lr the user chose stays."""
    store = st.session_state.store
    try:
        followed = store["lr"] == optimizer_defaults(store["optimizer"], store["dim"])["lr"]
        new_lr = optimizer_defaults(store["optimizer"], dim)["lr"]
    except (KeyError, TypeError):  # an unknown optimizer or an invalid dimension: core's message shows
        followed = False
    set_setting("dim", dim)
    if followed:
        set_setting("lr", new_lr)


def confirm_pending() -> None:
    if st.session_state.pending is not None:
        _try_apply(st.session_state.pending)


def keep_current() -> None:
    """Drop the pending change: every control goes back to the running config."""
    ss = st.session_state
    ss.store = asdict(cfg())
    _clear_link_errors()
    ss.pending = None
    if busy() is not None:
        ss.busy = None
    for field in ss.store:
        ss.pop(widget_key(field), None)  # the sidebar re-creates each control from the store


def reset() -> None:
    _try_apply(cfg())  # the same size as the run it replaces: refused only if memory ran out


def reset_with_lr(lr: float) -> None:
    """After a divergence: the same run from step 0 with a smaller learning rate (a button's on_click).

    The button is in the Train page's fragment, whose click reruns only the fragment, not the sidebar (lr) or the
    URL: hence the full rerun. The lr control's key is not deleted: its next on_change then hit a KeyError."""
    set_setting("lr", lr)
    _try_apply(cfg().replace(lr=lr))
    st.rerun()  # from a callback: the whole page reruns once the callbacks are done


def set_running_and_rerun(on: bool) -> None:
    """Run (on=True) or Pause (on=False) as a button's on_click: set `running` (on only on the Train page) and rerun
    the whole page, which (re)starts or stops the fragment's timer, even when the click's rerun was folded into a
    timer's fragment rerun. It sets, never flips: under load Streamlit 1.67 can deliver one click's trigger twice
    (replayed after the callback's st.rerun), and a flip then undid the Pause (seen in tests/test_browser.py); Run
    and Pause are two keys (ui.training.step_row), so a late replay cannot reach the other button's args."""
    ss = st.session_state
    ss.running = on and ss.get("page") == TRAIN_PAGE
    st.rerun()
