"""Links: the settings <-> the URL's query parameters (a teacher's link read robustly, the running config written
back), the view's parameters (&step, &projector, &theme), and whether a link's step may be re-trained to.

A pasted text cannot travel in a URL: it is offered as a .txt download. `&theme=dark` asks for Streamlit's dark
theme, which only the browser can switch (its settings menu, or Streamlit's `embed_options=dark_theme`)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from urllib.parse import urlencode

import streamlit as st

from core import INITS, OPTIMIZERS, ConfigError, TrainConfig, replay
from core.config import MODELS
from ui import session
from ui.display import md_escape

INT_FIELDS = ("vocab_size", "dim", "batch_size", "seed", "window", "negatives", "context", "layers", "heads")
FLOAT_FIELDS = ("lr", "momentum", "beta1", "beta2", "weight_decay")
BOOL_FIELDS = ("sparse", "tie_weights", "nesterov")
OPTIONAL_INT_FIELDS = ("padding_idx",)
OPTIONAL_FLOAT_FIELDS = ("max_norm",)
CHOICE_FIELDS = {"optimizer": tuple(OPTIMIZERS), "init": tuple(INITS), "model": tuple(MODELS)}
# every TrainConfig field but corpus_text (a pasted text does not fit in a link)
URL_FIELDS = (*INT_FIELDS[:2], "optimizer", *FLOAT_FIELDS, *INT_FIELDS[2:5], "init", *OPTIONAL_INT_FIELDS,
              *OPTIONAL_FLOAT_FIELDS, *BOOL_FIELDS, "model", *INT_FIELDS[5:])  # fmt: skip
# Settings added after links were shared: written only when not at their default, so a link made before them (and
# the address bar of a run that leaves them alone) reads exactly as it did.
LATER_FIELDS = {name: getattr(TrainConfig, name) for name in ("model", *INT_FIELDS[5:])}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}  # a view flag also reads "" as off
_NONE = {"", "none", "null"}
# A number as a link may write it: ASCII digits, one optional sign, a decimal point, an exponent. Python's float()
# also takes "١٢٣" (Arabic-Indic digits), "６４" (full-width), "1_000", "nan" and "inf"; a link that relies on
# those is refused with the same message as "abc".
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
MAX_NUMBER_CHARS = 40
SHOWN_CHARS = 60  # a refused value is quoted in its message up to this many characters
_ASCII_SPACE = " \t\r\n"
_EXPECTED = {  # what a link's value for the field should have been
    **dict.fromkeys(INT_FIELDS, "a whole number (digits 0-9)"),
    **dict.fromkeys(FLOAT_FIELDS, "a number (digits 0-9, a point, an exponent: 0.05, 5e-2)"),
    **dict.fromkeys(OPTIONAL_INT_FIELDS, "a whole number (digits 0-9), or empty for none"),
    **dict.fromkeys(OPTIONAL_FLOAT_FIELDS, "a number (digits 0-9, a point, an exponent), or empty for none"),
    **dict.fromkeys(BOOL_FIELDS, "true or false"),
    **{field: "one of " + ", ".join(options) for field, options in CHOICE_FIELDS.items()},
}


def _number(raw: str) -> float:
    if len(raw) > MAX_NUMBER_CHARS or not NUMBER.fullmatch(raw):
        raise ValueError
    value = float(raw)
    if not math.isfinite(value):  # 1e999
        raise ValueError
    return value


def _parse_int(raw: str) -> int:
    value = _number(raw)  # accepts "64" and "64.0", refuses "abc"
    if not value.is_integer():
        raise ValueError
    return int(raw) if raw.lstrip("+-").isdigit() else int(value)  # exact beyond 2**53


def _quoted(raw: str, limit: int = SHOWN_CHARS) -> str:
    """The value as the message quotes it: repr, cut to `limit` characters (the message is escaped where shown)."""
    return repr(raw if len(raw) <= limit else raw[:limit] + "…")


def parse_value(field: str, raw: str):
    """One query-parameter string as the field's Python value; ValueError with a readable message if it is not."""
    text = raw.strip(_ASCII_SPACE)
    try:
        if field in INT_FIELDS:
            return _parse_int(text)
        if field in FLOAT_FIELDS:
            return _number(text)
        if field in OPTIONAL_INT_FIELDS:
            return None if text.lower() in _NONE else _parse_int(text)
        if field in OPTIONAL_FLOAT_FIELDS:
            return None if text.lower() in _NONE else _number(text)
        if field in BOOL_FIELDS and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        if text.lower() in CHOICE_FIELDS.get(field, ()):
            return text.lower()
    except ValueError:
        pass
    raise ValueError(
        f"The link sets {field}={_quoted(raw)}, which is not {_EXPECTED[field]}; the default is used instead."
    )


def parse_query(query: Mapping[str, str | list[str]]) -> tuple[dict, dict[str, str]]:
    """Known settings in a query mapping -> (values, errors by field). Unknown keys are ignored."""
    values, errors = {}, {}
    for field in [f for f in URL_FIELDS if f in query]:
        raw = query[field][-1] if isinstance(query[field], list) else query[field]  # ?dim=8&dim=16: the last wins
        try:
            values[field] = parse_value(field, str(raw))
        except ValueError as error:
            errors[field] = str(error)
    return values, errors


def to_query(cfg: TrainConfig) -> dict[str, str]:
    """The config as query parameters: every setting but the corpus text; an unset optional is left out."""
    values = {field: getattr(cfg, field) for field in URL_FIELDS}
    values = {f: v for f, v in values.items() if v is not None and (f not in LATER_FIELDS or v != LATER_FIELDS[f])}
    return {field: str(v).lower() if isinstance(v, bool) else str(v) for field, v in values.items()}


STEP, PROJECTOR, THEME = "step", "projector", "theme"  # query parameters besides the config's (a contract)
_STEP_DIGITS = re.compile(r"[0-9]{1,12}")


def parse_step(raw: str) -> int:
    """A link's `step` value as a whole number; ValueError with a message a student can act on."""
    text = raw.strip()
    if not _STEP_DIGITS.fullmatch(text):
        raise ValueError(
            f"The link sets step={_quoted(raw, 40)}, which is not a whole number of 0 or more; it opens at step 0."
        )
    return int(text)


def parse_flag(name: str, raw: str) -> bool:
    """A link's on/off value (`projector=1`, `theme=dark`); ValueError when it is neither."""
    text = raw.strip().lower()
    if name == THEME and text in ("dark", "light"):
        return text == "dark"
    if text in _TRUE | _FALSE | {""}:
        return text in _TRUE
    expected = "dark or light" if name == THEME else "1 or 0"
    raise ValueError(f"The link sets {name}={_quoted(raw, 40)}, which is not {expected}; it is ignored.")


def read() -> tuple[dict, dict[str, str], dict]:
    """The link as the session's first state: (settings, unreadable values by parameter, the view's keys)."""
    query = st.query_params.to_dict()
    values, errors = parse_query(query)
    view = {"replay_target": None, "display_mode": False, "theme_dark": False}
    for name, key in ((STEP, "replay_target"), (PROJECTOR, "display_mode"), (THEME, "theme_dark")):
        if name not in query:
            continue
        try:
            # step=0: nothing to re-train
            view[key] = (parse_step(query[name]) or None) if name == STEP else parse_flag(name, query[name])
        except ValueError as error:
            errors[name] = str(error)
    return values, errors, view


def shared_step() -> int:
    """The step the link shows: the run's, or the one a link asked for while it is being re-trained."""
    return max(session.step_count(), session.get("replay_target") or 0)


def link_params() -> dict[str, str]:
    """What the address bar holds besides the settings: the step (unless the run trains on a pasted text, which
    the link cannot carry), display mode and the dark theme when on."""
    params = {}
    step = shared_step()
    if step and session.cfg().corpus_text is None:
        params[STEP] = str(step)
    if session.get("display_mode"):
        params[PROJECTOR] = "1"
    if session.get("theme_dark"):
        params[THEME] = "dark"
    return params


def sync_url() -> None:
    """Write the running config, the step and the view to the address bar, on every full run (a page switch
    clears the browser's URL), in one write: two would leave two entries in the browser's history per run."""
    st.query_params.from_dict({**to_query(session.cfg()), **link_params()})


def sync_step() -> None:
    """Write the run's step into the address bar (for a fragment's rerun, which the full-page sync misses)."""
    want = link_params().get(STEP)
    if want is None:
        st.query_params.pop(STEP, None)
    elif st.query_params.get(STEP) != want:
        st.query_params[STEP] = want


def theme_link(dark: bool) -> str:
    """This run's address (every setting, the step, the view) with Streamlit's own switch to its dark or light
    theme, which the browser reads when it opens the link (`embed_options=dark_theme`)."""
    query = {**to_query(session.cfg()), **link_params(), "embed_options": "dark_theme" if dark else "light_theme"}
    if not dark:
        query.pop(THEME, None)
    return "?" + urlencode(query)


def link_sentence(cfg, step: int) -> str:
    """What the address bar's link reproduces, in one sentence (for the sidebar's summary)."""
    at = f" at step {step:,} (opening it re-trains to that step)" if step else ""
    if cfg.corpus_text is None:
        return f"The link in the address bar reproduces this run{at}."
    return (
        "The link in the address bar holds every setting but your text: a pasted text cannot travel in a link. "
        "Download it below; on the other screen choose “My own text”, upload it"
        + (f", then train {step:,} steps (same seed, same batches)." if step else ".")
    )


def text_download(cfg) -> None:
    """The run's pasted text as a .txt file, to upload on another screen (nothing when the toy corpus runs)."""
    if cfg.corpus_text is None:
        return
    st.download_button(
        "Download your text (.txt)", cfg.corpus_text.encode("utf-8"), file_name="embedding-explorer-text.txt",
        mime="text/plain", key="share_text_download", icon=":material/download:", width="stretch",
    )  # fmt: skip


def link_notes() -> None:
    """Unreadable view values from the link, and a step the link may not ask for (with the most it may)."""
    for name, message in session.link_errors().items():
        if name in (STEP, PROJECTOR, THEME):
            st.warning(md_escape(message), icon=":material/link_off:")
    refused = session.get("replay_refused")
    if refused is None:
        return
    cfg, message, limit = refused
    if session.cfg() != cfg or session.trainer().step_count > 0:
        session.put("replay_refused", None)  # the run moved on: the message no longer applies
        return
    st.error(md_escape(message), icon=":material/timer_off:")
    st.button(f"Re-train to step {limit:,} instead", key="replay_to_limit", on_click=_ask_replay, args=(limit,))


def _ask_replay(step: int) -> None:
    session.put("replay_target", step)
    session.put("replay_refused", None)


def replay_asked() -> int | None:
    """The step a link asks the run to be re-trained to, once the link may ask for it (else None, and a step
    beyond the cap is kept as refused, for link_notes)."""
    target, cfg = session.get("replay_target"), session.cfg()
    if target is None or session.step_count() >= target or session.diverged():
        session.put("replay_target", None)
        return None
    try:
        replay.check(cfg, target)
    except ConfigError as error:
        session.put("replay_target", None)
        session.put("replay_refused", (cfg, error.message, replay.max_steps(cfg)))
        return None
    return target


def replay_done() -> None:
    session.put("replay_target", None)
