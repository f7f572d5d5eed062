"""Optimizers side by side's controls: the optimizers, their settings, the (charged) comparison, its buttons."""

from __future__ import annotations

import streamlit as st

from core import OPTIMIZERS, ConfigError, TrainConfig
from core.captions import MODEL_NAMES
from core.compare import MAX_MEMBERS, Comparison, member_config
from core.config import MODELS
from core.optimizers import optimizer_defaults
from serve import memory
from ui import display, session, training

SECOND = "_2"  # a member's key: the optimizer's name, or the name + SECOND for the same optimizer again
LABELS = {name: spec.label for name, spec in OPTIMIZERS.items()}
LABELS |= {name + SECOND: f"{spec.label}, other settings" for name, spec in OPTIMIZERS.items()}
SECOND_DEFAULTS = {"sgd" + SECOND: {"momentum": 0.9}}  # the momentum lesson's pair in one pick


def optimizer_of(member: str) -> str:
    """The optimizer a member key trains with ("sgd_2" -> "sgd")."""
    return member.removesuffix(SECOND)


def _options(member: str, dim: int, model: str) -> dict:
    """One member's own settings, at its optimizer's defaults (for the table's dimension) until changed, and the
    model around its table (the sidebar's until changed)."""
    name = optimizer_of(member)
    default = {**optimizer_defaults(name, dim), **SECOND_DEFAULTS.get(member, {})}
    lr = st.number_input(f"{LABELS[member]}: lr", 1e-5, 100.0, default["lr"], format="%g", key=f"compare_lr_{member}")
    opts = {"lr": lr}
    if name != "sparse_adam":
        opts["weight_decay"] = st.number_input(
            "weight decay", 0.0, 1.0, default["weight_decay"], format="%g", key=f"compare_wd_{member}"
        )
    if OPTIMIZERS[name].uses_momentum:
        opts["momentum"] = st.number_input("momentum", 0.0, 0.99, default["momentum"], key=f"compare_momentum_{member}")
    if OPTIMIZERS[name].uses_betas:  # beta1 0: no running mean of the gradient, so no moves without one
        opts["beta1"] = st.number_input("beta1", 0.0, 0.999, default["beta1"], key=f"compare_beta1_{member}")
    models = list(MODELS)
    opts["model"] = st.selectbox("model", models, models.index(model), format_func=MODEL_NAMES.get,
                                 key=f"compare_model_{member}")  # fmt: skip
    return opts


def members(base: TrainConfig) -> list[TrainConfig]:
    """The chosen members' configs on `base` (the page stops until valid); "…, other settings": an optimizer again."""
    names = st.multiselect(
        f"Optimizers (2 to {MAX_MEMBERS})", list(LABELS), default=["sgd", "adam", "adamw"],
        format_func=LABELS.get, max_selections=MAX_MEMBERS, key="compare_optimizers",
        help="Pick an optimizer twice with “…, other settings” (SGD and SGD with momentum 0.9, say).",
    )  # fmt: skip
    if len(names) < 2:
        st.info("Choose at least 2 optimizers.")
        st.stop()
    configs = []
    for col, name in zip(st.columns(len(names)), names, strict=True):
        with col:
            opts = _options(name, base.dim, base.model)
        try:
            configs.append(member_config(base, optimizer_of(name), **opts))
        except ConfigError as error:
            st.error(f"{LABELS[name]}: {error.message}")
            st.stop()
    return configs


def comparison(configs: list[TrainConfig]) -> Comparison:
    """The session's comparison of `configs`: kept while they stay, else rebuilt once the server admits it."""
    run = session.get("compare_run")
    if run is None or run.configs != configs:
        session.put("compare_run", None)  # the old comparison is freed before the new one is built
        try:
            memory.admit_extra("compare", sum(c.memory_bytes() for c in configs))  # counted in the server's budget
            run = Comparison(configs)
        except (memory.ServerBusy, ConfigError) as error:
            st.error(display.md_escape(error.message))
            st.stop()
        session.put("compare_run", run)
    return run


def step_buttons(run: Comparison) -> Comparison:
    """Step, Step ×10 (every member on the same batches, in lockstep) and Reset; the comparison after them."""
    asked = session.pop("compare_asked")  # Step ×n clicked (its on_click ran before this rerun)
    busy = asked is not None and training.is_long(run.configs[0], asked * len(run.configs))  # buttons off till done
    buttons = st.columns([1, 1, 1, 3])
    for col, (text, n) in zip(buttons[:2], (("Step", 1), ("Step ×10", 10)), strict=True):
        col.button(text, key=f"compare_step_{n}", width="stretch", disabled=busy, on_click=session.put,
                   args=("compare_asked", n))  # fmt: skip
    if asked is not None:
        label = f"Training {asked} steps of {len(run.configs)} optimizers…" if busy else None
        training.lockstep(asked, run.step, label)  # a member that diverges stops; the others go on
        if busy:
            st.rerun()  # the buttons back on
    if buttons[2].button("Reset", key="compare_reset", width="stretch", disabled=busy):
        run = Comparison(run.configs)
        session.put("compare_run", run)
    buttons[3].metric("Step", run.step_count)
    return run
