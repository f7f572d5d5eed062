"""Optimizers side by side: 2 to 4 optimizers train in lockstep from the same table on the same batches."""

import numpy as np
import streamlit as st

import ui
from core import OPTIMIZERS, ConfigError, project
from core.compare import MAX_MEMBERS, Comparison, member_config, row_trajectory, series
from core.optim import optimizer_defaults
from core.presets import blind_guess
from ui import analysis, classroom, projector, server, state
from ui.text import md_escape

MAX_POINTS = 1000  # rows per PCA panel

ui.setup("Optimizers side by side")
st.title("Optimizers side by side, on the same batches")
classroom.look_for("compare")
ss, base = st.session_state, state.trainer().cfg


def _ask_steps(n: int) -> None:
    st.session_state.compare_asked = n


label = {name: spec.label for name, spec in OPTIMIZERS.items()}
names = st.multiselect(
    f"Optimizers (2 to {MAX_MEMBERS})",
    list(OPTIMIZERS),
    default=["sgd", "adam", "adamw"],
    format_func=label.get,
    max_selections=MAX_MEMBERS,
    key="compare_optimizers",
)
if len(names) < 2:
    st.info("Choose at least 2 optimizers.")
    st.stop()

configs = []
for col, name in zip(st.columns(len(names)), names, strict=True):
    default = optimizer_defaults(name)
    with col:
        opts = {
            "lr": st.number_input(
                f"{label[name]}: lr", 1e-5, 100.0, default["lr"], format="%g", key=f"compare_lr_{name}"
            )
        }
        if name != "sparse_adam":
            opts["weight_decay"] = st.number_input(
                "weight decay", 0.0, 1.0, default["weight_decay"], format="%g", key=f"compare_wd_{name}"
            )
        if OPTIMIZERS[name].uses_momentum:
            opts["momentum"] = st.number_input("momentum", 0.0, 0.99, 0.0, key=f"compare_momentum_{name}")
        if OPTIMIZERS[name].uses_betas:  # beta1 0: no running mean of the gradient, so no moves without one
            opts["beta1"] = st.number_input("beta1", 0.0, 0.999, default["beta1"], key=f"compare_beta1_{name}")
    try:
        configs.append(member_config(base, name, **opts))
    except ConfigError as error:
        st.error(f"{label[name]}: {error.message}")
        st.stop()

run = ss.get("compare_run")
if run is None or run.configs != configs:
    ss.compare_run = None  # the old comparison is freed before the new one is built
    try:
        server.admit_extra("compare", sum(c.memory_bytes() for c in configs))  # counted in the server's budget
        run = ss.compare_run = Comparison(configs)
    except server.ServerBusy as busy:
        st.error(md_escape(busy.message))
        st.stop()
    except ConfigError as error:
        st.error(md_escape(error.message))
        st.stop()
    ss.compare_pca = {}
st.caption(
    f"Every optimizer trains the sidebar's {base.vocab_size:,} × {base.dim:,} table from the same start, "
    f"seed {base.seed}, batch {base.batch_size}. Changing a choice here starts the comparison over."
)

asked = ss.pop("compare_asked", None)  # Step ×n clicked (its on_click ran before this rerun)
busy = asked is not None and projector.is_long(base, asked * len(configs))  # long: the buttons off until done
buttons = st.columns([1, 1, 1, 3])
for col, (text, n) in zip(buttons[:2], (("Step", 1), ("Step ×10", 10)), strict=True):
    col.button(text, key=f"compare_step_{n}", width="stretch", disabled=busy, on_click=_ask_steps, args=(n,))
if asked is not None:
    bar = st.progress(0.0, text=f"Training {asked} steps of {len(configs)} optimizers…") if busy else None
    for i in range(asked):
        with server.work_slot():  # one step of every member per turn, shared fairly with other sessions
            run.step()
        if bar is not None:
            bar.progress((i + 1) / asked, text=f"Training {asked} steps of {len(configs)} optimizers… {i + 1} done")
    if busy:
        st.rerun()  # the buttons back on
if buttons[2].button("Reset", key="compare_reset", width="stretch", disabled=busy):
    run = ss.compare_run = Comparison(configs)
    ss.compare_pca = {}
buttons[3].metric("Step", run.step_count)
for i, message in run.diverged.items():
    st.error(f"{run.labels[i]}: {message}")
if run.step_count == 0:
    st.info("Press **Step**: every optimizer then trains on the same batch.")
    st.stop()

labels, members = run.labels, run.members
all_series = [series(list(m.history)) for m in members]
V = base.vocab_size
projector.chart(classroom.compare_loss(labels, all_series, blind_guess(V)))
st.caption(
    "Loss at its last step: "
    + "; ".join(f"{lab}: {s.loss[-1]:.3f}" for lab, s in zip(labels, all_series, strict=True))
    + f" (ln V = {blind_guess(V):.3f})."
)

left, right = st.columns(2)
with left:
    projector.chart(classroom.compare_counts(labels, all_series))
    agree, kept = run.grad_masks_agree()
    moved = "; ".join(f"{lab}: {s.moved_rows.mean():.1f}" for lab, s in zip(labels, all_series, strict=True))
    st.caption(
        f"In {agree} of {kept} kept steps every optimizer's gradient reached exactly the same rows "
        f"({all_series[0].grad_rows.mean():.1f} per step for {labels[0]}). Rows moved per step: {moved}."
    )
with right:
    projector.chart(classroom.compare_moved_without_grad(labels, all_series))
    means = "; ".join(f"{lab}: {s.moved_without_grad.mean():.1f}" for lab, s in zip(labels, all_series, strict=True))
    st.caption(f"Rows moved with no gradient of their own, per step on average: {means}.")

vocab = members[0].vocab
by_freq = [int(r) for r in np.argsort(-members[0].corpus.token_freq, kind="stable")[:200]]
row = st.selectbox("Follow one row", by_freq, format_func=vocab.__getitem__, key="compare_row")
trajectories = [row_trajectory(list(m.history), row) for m in members]
projector.chart(classroom.compare_row_trajectory(labels, trajectories, vocab[row]))
steps_with_grad = int(trajectories[0][2].sum())
moves = "; ".join(f"{lab}: {int((t[1] > 0).sum())}" for lab, t in zip(labels, trajectories, strict=True))
st.caption(
    f"'{md_escape(vocab[row])}' had a gradient in {steps_with_grad} of {len(trajectories[0][0])} steps; "
    f"steps in which it moved: {moves}."
)

frame_steps = sorted(set.intersection(*(set(s for s, _ in m.frames()) for m in members)))
chosen = st.select_slider("PCA at step", frame_steps, value=frame_steps[-1], key="compare_pca_step")
rows = analysis.sample_rows(V, MAX_POINTS)
cache = ss.compare_pca  # the layouts of one step (the chosen one): a new step replaces them
if cache.get("step") != chosen:
    frames = [analysis.frame_before(m.frames(), chosen)[1] for m in members]
    layouts = [project([w[rows]], method="pca", n_components=2, seed=base.seed)[0] for w in frames]
    lengths = [float(np.linalg.norm(w, axis=1).mean()) for w in frames]
    cache.clear()
    cache.update(step=chosen, coords=layouts, lengths=lengths)
coords, lengths = cache["coords"], cache["lengths"]
fig = classroom.scatter_panels(
    labels,
    coords,
    [vocab[r] for r in rows],
    members[0].categories[rows],
    members[0].category_names,
    f"PCA of each optimizer's table after step {chosen}",
)
projector.chart(fig)
spread = "; ".join(f"{lab}: {n:.2f}" for lab, n in zip(labels, lengths, strict=True))
shown = "" if len(rows) == V else f" Showing {len(rows):,} of {V:,} rows."
st.caption(
    f"Same step, same batches, same start: the layouts differ only by optimizer. Mean row length: {spread}.{shown}"
)
