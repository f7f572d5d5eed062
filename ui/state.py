"""Per-user state in st.session_state: the settings asked for, the config that runs, its Trainer, the URL.

Keys: `store` holds the settings as the user asked for them (possibly invalid); `cfg` is the last valid config,
the one `trainer` runs; `pending` is a valid change that waits for the user's OK because steps would be lost.
The URL's query parameters always show `cfg`, so a copied link reproduces the run (same seed, same batches).
"""

from __future__ import annotations

import time
from dataclasses import asdict

import streamlit as st

from core import ConfigError, TrainConfig, Trainer, TrainingDiverged
from ui.params import parse_query, to_query

WIDGET_PREFIX = "cfg_"  # sidebar widget keys: cfg_<TrainConfig field>
DEFAULTS = asdict(TrainConfig())


def widget_key(field: str) -> str:
    return WIDGET_PREFIX + field


def _first_valid(values: dict) -> tuple[TrainConfig, dict[str, str]]:
    """The config closest to `values` that validates: each field core refuses falls back to its default."""
    values, errors = dict(values), {}
    for _ in range(len(values) + 1):
        try:
            return TrainConfig(**values), errors
        except ConfigError as error:
            errors.setdefault(error.field, error.message)
            if values.get(error.field) == DEFAULTS[error.field]:
                break  # the default itself is refused with these neighbours: start over from all defaults
            values[error.field] = DEFAULTS[error.field]
    return TrainConfig(), errors


def init() -> None:
    """Once per browser session: read the link's settings and build the first run."""
    ss = st.session_state
    if "cfg" in ss:
        return
    values, link_errors = parse_query(st.query_params.to_dict())
    store = {**DEFAULTS, **values}
    cfg, _ = _first_valid(store)
    ss.store = store  # invalid values stay here, so their control shows them with core's message beside
    ss.link_errors = link_errors  # values a link set that could not even be parsed (?dim=abc)
    ss.run_id = 0
    ss.pending = None
    apply(cfg)


def apply(cfg: TrainConfig) -> None:
    """Start a fresh run with `cfg` (also what Reset does)."""
    ss = st.session_state
    ss.cfg = cfg
    ss.trainer = Trainer(cfg)
    ss.run_id += 1
    ss.pending = None
    ss.diverged = None
    ss.running = False
    ss.cache = {}  # per-run derived data (projections, purity), dropped with the run


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
    if requested is None or requested == ss.cfg:
        ss.pending = None
    elif ss.trainer.step_count == 0:
        apply(requested)
    else:
        ss.pending = requested
    sync_url()


def sync_url() -> None:
    """Write the running config to the address bar, on every full run: a page switch clears the browser's URL."""
    st.query_params.from_dict(to_query(st.session_state.cfg))


def set_setting(field: str, value) -> None:
    """Change one asked-for setting (from a widget callback)."""
    st.session_state.store[field] = value
    st.session_state.link_errors.pop(field, None)


def confirm_pending() -> None:
    if st.session_state.pending is not None:
        apply(st.session_state.pending)


def keep_current() -> None:
    """Drop the pending change: every control goes back to the running config."""
    ss = st.session_state
    ss.store = asdict(ss.cfg)
    ss.link_errors = {}
    ss.pending = None
    for field in ss.store:
        ss.pop(widget_key(field), None)  # the sidebar re-creates each control from the store


def reset() -> None:
    apply(st.session_state.cfg)


def reset_with_lr(lr: float) -> None:
    """After a divergence: the same run from step 0 with a smaller learning rate."""
    set_setting("lr", lr)
    st.session_state.pop(widget_key("lr"), None)
    apply(st.session_state.cfg.replace(lr=lr))


def trainer() -> Trainer:
    return st.session_state.trainer


def step(n: int = 1) -> None:
    """Train n steps; a divergence stops the run and is remembered so the page can offer a reset."""
    ss = st.session_state
    try:
        ss.trainer.run(n)
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
    """Run/Pause's tick: as many steps as fit in `seconds` (at least one), so big tables stay responsive."""
    start = time.perf_counter()
    for _ in range(max_steps):
        step(1)
        if not st.session_state.running or time.perf_counter() - start > seconds:
            return
