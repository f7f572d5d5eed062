"""Per-user state in st.session_state: the settings asked for, the config that runs, its Trainer, the URL.

Keys: `store` holds the settings as the user asked for them (possibly invalid); `cfg` is the last valid config,
the one `trainer` runs; `pending` is a valid change that waits for the user's OK because steps would be lost.
The URL's query parameters always show `cfg`, so a copied link reproduces the run (same seed, same batches).
`running` is Run/Pause on the Train page; `page` is the page of the last full run: a run only trains while its
page is the one shown (`step_for` refuses otherwise, and every other page turns `running` off).
"""

from __future__ import annotations

import time
from dataclasses import asdict

import streamlit as st

from core import ConfigError, TrainConfig, Trainer, TrainingDiverged
from core.optim import optimizer_defaults
from ui import server
from ui.params import parse_query, to_query
from ui.text import md_escape

WIDGET_PREFIX = "cfg_"  # sidebar widget keys: cfg_<TrainConfig field>
DEFAULTS = asdict(TrainConfig())  # lr and weight_decay resolved for the default optimizer
TRAIN_PAGE = "Train"  # the title the Train page passes to ui.setup: the only page whose run may tick


def widget_key(field: str) -> str:
    return WIDGET_PREFIX + field


def _defaults_for(optimizer) -> dict:
    """Every field's default, the optimizer's own where it has one (lr, weight decay, momentum, betas)."""
    try:
        return {**DEFAULTS, **optimizer_defaults(optimizer)}
    except (KeyError, TypeError):
        return DEFAULTS


def _first_valid(values: dict) -> tuple[TrainConfig, dict[str, str]]:
    """The config closest to `values` that validates: each field core refuses falls back to its default."""
    values, errors = dict(values), {}
    for _ in range(len(values) + 1):
        try:
            return TrainConfig(**values), errors
        except ConfigError as error:
            errors.setdefault(error.field, error.message)
            default = _defaults_for(values.get("optimizer"))[error.field]
            if values.get(error.field) == default:
                break  # the default itself is refused with these neighbours: start over from all defaults
            values[error.field] = default
    return TrainConfig(), errors


def init() -> None:
    """Once per browser session: read the link's settings and build the first run."""
    ss = st.session_state
    if "cfg" in ss:
        return
    values, link_errors = parse_query(st.query_params.to_dict())
    store = {**_defaults_for(values.get("optimizer", DEFAULTS["optimizer"])), **values}  # unset: the optimizer's
    cfg, _ = _first_valid(store)
    ss.store = store  # invalid values stay here, so their control shows them with core's message beside
    ss.link_errors = link_errors  # values a link set that could not even be parsed (?dim=abc)
    ss.run_id = 0
    ss.pending = None
    ss.page = None
    ss.busy = None
    try:
        apply(cfg)
    except server.ServerBusy as busy:  # the server is full even for this link's run: say so, try again next time
        ss.pop("cfg", None)
        st.error(md_escape(busy.message), icon=":material/memory:")
        st.stop()


def apply(cfg: TrainConfig) -> None:
    """Start a fresh run with `cfg` (also what Reset does). The server charges the run against its memory budget
    first: when it cannot hold the run, server.ServerBusy is raised and the current run is left as it was."""
    ss = st.session_state
    server.admit(server.current_session_id(), cfg)  # replaces this session's previous charge
    ss.trainer = None  # the old run is freed before the new one is built: never both at once
    ss.cfg = cfg
    ss.trainer = Trainer(cfg)
    ss.run_id += 1
    ss.pending = None
    ss.busy = None
    ss.diverged = None
    ss.running = False
    ss.cache = {}  # per-run derived data (projections, purity), dropped with the run


def _try_apply(cfg: TrainConfig) -> bool:
    """apply(cfg), or keep the current run and remember why the server refused (shown beside the controls)."""
    try:
        apply(cfg)
    except server.ServerBusy as busy:
        st.session_state.busy = busy.message
        return False
    return True


def enter_page(title: str) -> None:
    """Every full run of a page: remember which page is shown; leaving Train pauses its run."""
    ss = st.session_state
    ss.page = title
    if title != TRAIN_PAGE:
        ss.running = False


def config_errors() -> dict[str, str]:
    """Messages to show beside controls: unparseable link values, then core's verdict on the settings."""
    ss = st.session_state
    errors = dict(ss.link_errors)
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
    frozen = getattr(ss.trainer, "diverged", None)
    if frozen is not None and not ss.diverged:  # frozen by a step taken elsewhere: keep saying so, offer the reset
        ss.diverged, ss.running = frozen.message, False
    if requested is None or requested == ss.cfg:
        ss.pending = None
        ss.busy = None
    elif ss.trainer.step_count == 0:
        _try_apply(requested)  # refused: the current run goes on, the message shows, the next rerun tries again
    else:
        ss.pending = requested
    sync_url()


def sync_url() -> None:
    """Write the running config to the address bar, on every full run: a page switch clears the browser's URL.

    With it the step and the view (ui.projector.link_params), in one write: two would leave two entries in the
    browser's history per run.
    """
    from ui import projector  # here, not at the top: ui.projector imports this module

    st.query_params.from_dict({**to_query(st.session_state.cfg), **projector.link_params()})


def set_setting(field: str, value) -> None:
    """Change one asked-for setting (from a widget callback)."""
    st.session_state.store[field] = value
    st.session_state.link_errors.pop(field, None)


def set_optimizer(name: str) -> None:
    """Switch optimizer with that optimizer's defaults: its lr and weight decay, momentum, Nesterov and betas
    back to torch's (AdamW at Adam's weight decay of 0 would be Adam; SGD at Adam's lr barely learns)."""
    set_setting("optimizer", name)
    try:
        defaults = optimizer_defaults(name)
    except KeyError:
        return  # not an optimizer: core's message shows under the control
    for field, value in defaults.items():
        set_setting(field, value)


def confirm_pending() -> None:
    if st.session_state.pending is not None:
        _try_apply(st.session_state.pending)


def keep_current() -> None:
    """Drop the pending change: every control goes back to the running config."""
    ss = st.session_state
    ss.store = asdict(ss.cfg)
    ss.link_errors = {}
    ss.pending = None
    ss.busy = None
    for field in ss.store:
        ss.pop(widget_key(field), None)  # the sidebar re-creates each control from the store


def reset() -> None:
    _try_apply(st.session_state.cfg)  # the same size as the run it replaces: refused only if memory ran out


def reset_with_lr(lr: float) -> None:
    """After a divergence: the same run from step 0 with a smaller learning rate (a button's on_click).

    The button sits in the Train page's fragment, so its click reruns only the fragment: the sidebar, which
    shows lr, and the URL, which holds it, are outside. Hence the full rerun. (The lr control's state is left
    alone: deleting its key while the browser still shows the control made its next on_change read a key
    that no longer existed, a KeyError.)
    """
    set_setting("lr", lr)
    _try_apply(st.session_state.cfg.replace(lr=lr))
    st.rerun()  # from a callback: the whole page reruns once the callbacks are done


def toggle_run() -> None:
    """Run/Pause as a button's on_click: flip `running` (never on where the Train page is not the page shown) and
    rerun the whole page, which (re)starts or stops the fragment's timer. From the callback the full rerun
    happens even when the click's own rerun was folded into one of the timer's fragment reruns."""
    ss = st.session_state
    ss.running = not ss.get("running") and ss.get("page") == TRAIN_PAGE
    st.rerun()


def trainer() -> Trainer:
    return st.session_state.trainer


def step(n: int = 1) -> None:
    """Train n steps; a divergence stops the run and is remembered so the page can offer a reset.

    A run the engine froze after a divergence (`Trainer.diverged`) raises again on every step: the message
    stays, and so does the reset the page offers.
    """
    ss = st.session_state
    try:
        for _ in range(n):
            with server.work_slot():  # one step per turn, first come first served across sessions
                ss.trainer.step()
    except TrainingDiverged as error:
        ss.diverged = error.message
        ss.running = False


def cached(name: str, key, compute):
    """A per-run, per-user memo in session state (never shared with other users)."""
    store = st.session_state.cache.setdefault(name, {})
    if key not in store:
        store[key] = compute()
    return store[key]


def step_for(seconds: float, max_steps: int = 50) -> None:
    """Run/Pause's tick: as many steps as fit in `seconds` (at least one), so big tables stay responsive.

    Only while running and while the Train page is the page shown: a tick that arrives after the user went to
    another page (the fragment's timer outliving its page) pauses the run instead of training unseen.
    """
    ss = st.session_state
    if ss.get("page") != TRAIN_PAGE:
        ss.running = False
    if not ss.get("running"):
        return
    start = time.perf_counter()
    for _ in range(max_steps):
        step(1)
        if not st.session_state.running or time.perf_counter() - start > seconds:
            return
