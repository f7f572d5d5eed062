"""Lookup, not MLP: the user's own table read as emb(x) and as one_hot(x) @ W, and how it was initialised."""

import numpy as np
import streamlit as st

import ui
from core.config import INITS
from core.lookup import compare_lookup, init_stats
from ui import reference_figures, state

SHOWN = 8  # batch positions drawn in the product figure
MAX_VALUES = 200_000  # table values sent to the histogram

ui.setup("Lookup, not MLP")
st.title("Is an embedding an MLP? No: it is a lookup")
tr = state.trainer()
cfg, V, D = tr.cfg, tr.cfg.vocab_size, tr.cfg.dim
batch = tr.history[-1].input_ids if len(tr.history) else tr.corpus.centres[: cfg.batch_size]
result = state.cached("lookup", tr.step_count, lambda: compare_lookup(tr.weight, batch))  # copies W once a step

st.markdown(
    f"`nn.Embedding({V:,}, {D})` holds one {D}-number row per token. `emb(x)` returns row x. "
    "Multiplying a one-hot vector by the table returns the same row, so an embedding is a linear layer "
    "without bias or activation, computed as an index instead of a product."
)
cols = st.columns(4)
cols[0].metric("max |emb(x) − one_hot(x) @ W|", f"{result.max_value_diff:.1g}")
cols[1].metric("max gradient difference", f"{result.max_grad_diff:.1g}")
cols[2].metric("lookup time (best of 7)", f"{result.lookup_ms:.3f} ms")
cols[3].metric("one-hot matmul time", f"{result.matmul_ms:.3f} ms")
params = sum(p.numel() for p in tr.model.embedding.parameters())
st.caption(
    f"On this run's latest batch of {len(batch)} tokens at step {tr.step_count}: the lookup copies "
    f"{len(batch) * D:,} numbers; the product does {result.matmul_flops:,} multiply-adds, "
    f"{result.matmul_ms / max(result.lookup_ms, 1e-9):.0f}× the time here. The layer has {params:,} parameters "
    f"= {V:,} × {D}: no bias. The gradient of W is one_hot(x)ᵀ @ dY, the same in both."
)

ids = batch[:SHOWN]
columns = np.arange(V) if V <= 200 else np.unique(ids)  # a big V: only the columns the 1s fall in
one_hot = (ids[:, None] == columns[None, :]).astype(float)
tokens = [f"{i}: {tr.vocab[t]}" for i, t in enumerate(ids)]
st.plotly_chart(reference_figures.one_hot_product(one_hot, tr.weight_rows(columns), tr.weight_rows(ids), tokens))
note = "" if V <= 200 else f" Only the {len(columns)} columns of W that a 1 selects are drawn; the other "
note += "" if V <= 200 else f"{V - len(columns):,} are multiplied by 0."
st.caption(f"The first {len(ids)} tokens of the batch. Each row of one_hot(x) has a single 1.{note}")

st.subheader("How was it initialised?")
start_step, start = tr.frames()[0]
stats = init_stats(start, cfg.init, cfg.padding_idx)
values = start.ravel()[:: max(1, start.size // MAX_VALUES)]
title = f"Your table at step {start_step}: {INITS[cfg.init]}"
st.plotly_chart(reference_figures.init_histogram(values, stats.expected_std, title))
promise = "" if stats.expected_std is None else f" (the init promises σ = {stats.expected_std:.3g})"
pad = "" if cfg.padding_idx is None else f" The padding row {cfg.padding_idx} starts at zero, on purpose."
st.caption(
    f"Measured: mean {stats.mean:.3g}, standard deviation {stats.std:.3g}{promise}; mean row length "
    f"{stats.row_norm_mean:.3g}. Random, so rows mean nothing until training moves them.{pad}"
)
