"""Lookup, not MLP: the user's own layer read as emb(x) and as one_hot(x) @ W, and how it was initialised."""

import numpy as np
import streamlit as st

import ui
from core.config import INITS
from core.lookup import compare_lookup, init_stats, time_lookup, timing_tokens
from ui import classroom, projector, reference_figures, state
from ui.text import md_escape

SHOWN = 8  # batch positions drawn in the product figure
MAX_VALUES = 200_000  # table values sent to the histogram

ui.setup("Lookup, not MLP")
st.title("Is an embedding an MLP? No: it is a lookup")
classroom.look_for("lookup")
tr = state.trainer()
cfg, V, D = tr.cfg, tr.cfg.vocab_size, tr.cfg.dim
layer = tr.model.embedding
record = tr.history[-1] if len(tr.history) else None
batch = record.input_ids if record is not None else tr.corpus.centres[: cfg.batch_size]
dy = record.output_grad if record is not None else None  # the run's own upstream gradient, where there is one
result = state.cached("lookup", tr.step_count, lambda: compare_lookup(layer, batch, dy))  # copies looked-up rows
timing = state.cached(
    "lookup_timing", (V, D, timing_tokens(len(batch), V, D)), lambda: time_lookup(layer.weight, batch)
)
B = len(batch)

st.markdown(
    f"`nn.Embedding({V:,}, {D})` holds one {D}-number row per token. `emb(x)` returns row x. "
    "Multiplying a one-hot vector by the table returns the same row, so an embedding is a linear layer "
    "without bias or activation, computed as an index instead of a product."
)
cols = st.columns(4)
cols[0].metric("max |emb(x) − one_hot(x) @ W|", f"{result.max_value_diff:.3g}")
cols[1].metric("max gradient difference", f"{result.max_grad_diff:.3g}")
cols[2].metric("multiply-adds", f"0 vs {result.matmul_flops:,}")
cols[3].metric("product time / lookup time", f"{timing.ratio:,.0f}×")
params = sum(p.numel() for p in layer.parameters())
where = f"this run's batch at step {tr.step_count}" if record is not None else "the first batch (no step yet)"
upstream = "this step's own upstream gradient dY" if dy is not None else "a random upstream gradient dY"
st.caption(
    f"On {where}: {B} tokens, {result.n_distinct} distinct rows, with {upstream}. The lookup copies "
    f"{B * D:,} numbers and multiplies nothing; the product does {B:,} × {V:,} × {D} = {result.matmul_flops:,} "
    f"multiply-adds. Timed here on {timing.n_tokens} of the tokens: fastest of {timing.lookup_runs} lookups "
    f"{timing.lookup_s * 1e6:,.1f} µs, fastest of {timing.matmul_runs} products (one-hot included) "
    f"{timing.matmul_s * 1e6:,.1f} µs. The layer has "
    f"{params:,} parameters = {V:,} × {D}: no bias."
)

st.subheader("What your layer's options change")
notes = []
pad = result.padding_idx
if pad is None:
    notes.append("**padding_idx**: not set, so every looked-up row gets its gradient, in both.")
elif result.padding_hits:
    tied = (
        " Your head is tied to this table, so the row still gets a gradient through the head."
        if cfg.tie_weights
        else ""
    )
    notes.append(
        f"**padding_idx = {pad}** ('{md_escape(tr.vocab[pad])}'): this batch looks it up {result.padding_hits} "
        f"times. Your layer's gradient to row {pad} is {result.padding_grad_lookup:.3g}: padding_idx blocks the "
        f"lookup's gradient to it. one_hot(x)ᵀ @ dY gives it a gradient of length {result.padding_grad_matmul:.3g}. "
        f"Every other row's gradient agrees (largest difference {result.max_grad_diff_other:.3g}).{tied}"
    )
else:
    notes.append(
        f"**padding_idx = {pad}**: row {pad} is not looked up in this batch, so the gradients agree here "
        f"(largest difference {result.max_grad_diff:.3g}); where it is looked up, your layer gives it no gradient "
        "and one_hot(x)ᵀ @ dY does."
    )
if result.max_norm is None:
    notes.append("**max_norm**: not set, so emb(x) returns the rows exactly as stored: the same as one_hot(x) @ W.")
elif len(result.rescaled_rows):
    notes.append(
        f"**max_norm = {result.max_norm:g}**: {len(result.rescaled_rows)} of the {result.n_distinct} looked-up rows "
        f"were longer than {result.max_norm:g} (the longest {result.longest_before:.3g}). Your layer rescaled them "
        f"to length {result.max_norm:g} (longest now {result.longest_after:.3g}) in W itself, during the forward "
        f"pass, and returned the rescaled rows: emb(x) differs from one_hot(x) @ W by up to "
        f"{result.max_value_diff:.3g}. The rescale happens outside autograd: the gradients agree "
        f"(largest difference {result.max_grad_diff_other:.3g} off the padding row). Computed on copies: your "
        "run's table is untouched."
    )
else:
    notes.append(
        f"**max_norm = {result.max_norm:g}**: none of the {result.n_distinct} looked-up rows is longer than "
        f"{result.max_norm:g} (the longest {result.longest_before:.3g}), so nothing is rescaled in this batch and "
        f"emb(x) equals one_hot(x) @ W (largest difference {result.max_value_diff:.3g})."
    )
if result.sparse:
    notes.append(
        f"**sparse**: your layer's gradient is a sparse tensor of the {result.n_distinct} looked-up rows; "
        f"one_hot(x)ᵀ @ dY is a dense {V:,} × {D} matrix, zero outside those rows. The values are the same."
    )
st.markdown("\n".join(f"- {n}" for n in notes))

ids = batch[:SHOWN]
columns = np.arange(V) if V <= 200 else np.unique(ids)  # a big V: only the columns the 1s fall in
one_hot = (ids[:, None] == columns[None, :]).astype(float)
tokens = [f"{i}: {tr.vocab[t]}" for i, t in enumerate(ids)]
w_columns = tr.weight_rows(columns)  # W as stored now
projector.chart(reference_figures.one_hot_product(one_hot, w_columns, one_hot @ w_columns, tokens))
note = "" if V <= 200 else f" Only the {len(columns)} rows of W that a 1 selects are drawn; the other "
note += "" if V <= 200 else f"{V - len(columns):,} are multiplied by 0."
same = (
    "emb(x) returns these same rows."
    if result.max_value_diff == 0
    else f"Your layer's emb(x) differs from this product by up to {result.max_value_diff:.3g} (max_norm, above)."
)
st.caption(f"The first {len(ids)} tokens of the batch. Each row of one_hot(x) has a single 1. {same}{note}")

st.subheader("How was it initialised?")
start_step, start = tr.frames()[0]
stats = init_stats(start, cfg.init, cfg.padding_idx)
values = start.ravel()[:: max(1, start.size // MAX_VALUES)]
title = f"Your table at step {start_step}: {INITS[cfg.init]}"
projector.chart(reference_figures.init_histogram(values, stats.expected_std, title))
promise = "" if stats.expected_std is None else f" (the init promises σ = {stats.expected_std:.3g})"
pad_note = ""
if cfg.padding_idx is not None:
    zero = "at zero, on purpose" if not start[cfg.padding_idx].any() else "non-zero"
    pad_note = f" The padding row {cfg.padding_idx} starts {zero} (the measured mean and spread leave it out)."
st.caption(
    f"Measured: mean {stats.mean:.3g}, standard deviation {stats.std:.3g}{promise}; mean row length "
    f"{stats.row_norm_mean:.3g}. Random, so rows mean nothing until training moves them.{pad_note}"
)
