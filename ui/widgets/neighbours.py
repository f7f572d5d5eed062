"""Which words changed their neighbours: k-NN overlap between two kept steps of a run (Embedding space) or between
two optimizers at one step (Optimizers side by side), the words that changed most, and the space settling."""

from __future__ import annotations

import streamlit as st

from core import neighbours as nb
from core.compare import Comparison
from core.rows import by_use
from core.trainer import Trainer
from ui import display, session
from ui.figures.style import FROM_STATE, figure, style, trace


def _k(prefix: str) -> int:
    return int(st.slider("Neighbours k", 1, 20, 5, key=f"{prefix}_nb_k"))


def _table(ch: nb.Changes, vocab, old: str, new: str) -> dict:
    shown = ch.most_changed()
    return {
        "word": [vocab[r] for r in ch.pool[shown]],
        "overlap": [f"{ch.overlap[i]:.2f}" for i in shown],
        old: [", ".join(vocab[n] for n in ch.old[i]) for i in shown],
        new: [", ".join(vocab[n] for n in ch.new[i]) for i in shown],
    }


def settling_chart(steps: list[int], means: list[float], k: int) -> dict:
    """The mean k-NN overlap between consecutive kept steps: near 1 when the space has settled."""
    data = [trace("scatter", x=steps, y=means, mode="lines+markers", line={"color": FROM_STATE}, name="overlap")]
    title = f"Mean {k}-NN overlap with the kept step before: the space settling"
    return style(figure(data), title, height=300, xaxis_title="step", yaxis={"title": {"text": "mean Jaccard"},
                 "range": [0, 1.05]})  # fmt: skip


def _pool(trainer: Trainer):
    return nb.pool_rows(trainer.cfg.vocab_size, by_use(trainer.corpus.token_freq))


def for_steps(tr: Trainer, prefix: str) -> None:
    """Two kept steps of the run: who changed neighbours between them, and the overlap over training."""
    frames = tr.frames()
    if len(frames) < 2:
        return
    st.subheader("Which words changed their neighbours")
    steps = [s for s, _ in frames]
    a, b = st.select_slider("Between steps", steps, value=(steps[0], steps[-1]), key=f"{prefix}_nb_steps")
    k, tables, pool = _k(prefix), dict(frames), _pool(tr)
    ch = session.memo(f"{prefix}_nb", (a, b, k, steps[-1]), lambda: nb.changes(tables[a], tables[b], k, pool), keep=2)
    st.dataframe(_table(ch, tr.vocab, f"neighbours at step {a}", f"at step {b}"), hide_index=True)
    st.caption(nb.changes_caption(f"Steps {a} → {b}", ch, tr.cfg.vocab_size))
    kept = session.run_cache().setdefault(f"{prefix}_nb_sets", {})  # each step's k-NN sets, computed once
    display.chart(settling_chart(*nb.settling(frames, k, pool, kept), k))


def for_members(run: Comparison, labels: list[str], prefix: str) -> None:
    """Two optimizers at one kept step: who has different neighbours in one table than in the other."""
    steps = run.frame_steps()
    if len(run.members) < 2 or not steps:
        return
    st.subheader("Which words have different neighbours under two optimizers")
    c1, c2, c3 = st.columns(3)
    i = c1.selectbox("Optimizer", range(len(labels)), format_func=labels.__getitem__, key=f"{prefix}_nb_a")
    j = c2.selectbox("and", range(len(labels)), 1, format_func=labels.__getitem__, key=f"{prefix}_nb_b")
    with c3:
        step = st.select_slider("At step", steps, value=steps[-1], key=f"{prefix}_nb_step") if len(steps) > 1 else 0
    k, first, pool = _k(prefix), run.members[0], _pool(run.members[0])
    a, b = dict(run.members[i].frames())[step], dict(run.members[j].frames())[step]
    ch = session.memo(f"{prefix}_nb", (i, j, step, k, tuple(run.configs)), lambda: nb.changes(a, b, k, pool), keep=2)
    st.dataframe(_table(ch, first.vocab, labels[i], labels[j]), hide_index=True)
    st.caption(nb.changes_caption(f"{labels[i]} vs {labels[j]} at step {step}", ch, len(first.vocab)))
