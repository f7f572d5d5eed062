"""Scale: what GPT-1 to Llama 3 spend on the token table, and what a wider table buys on the user's data."""

import math

import pandas as pd
import streamlit as st

import ui
from core.lookup import dimension_sweep
from core.reference import MODELS, table_bytes, training_bytes
from ui import reference_figures, state

SWEEP_DIMS = (2, 4, 8, 16, 32, 64)
SWEEP_STEPS = 300
SWEEP_MAX_VOCAB = 5_000  # beyond this the sweep takes too long for a page


def gib(n_bytes: float) -> str:
    """Bytes in the largest binary unit that keeps the number at 1 or more."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n_bytes >= size:
            return f"{n_bytes / size:,.2f} {unit}"
    return f"{n_bytes:,.0f} B"


ui.setup("Scale: GPT-1 to Llama 3")
st.title("Scale: what bigger models spend on this table")
tr = state.trainer()
cfg = tr.cfg
yours = f"your run ({cfg.vocab_size:,} × {cfg.dim})"

rows = [
    {
        "model": m.model,
        "year": str(m.year),
        "vocabulary V": f"{m.vocab_size:,}",
        "width D": "not published" if m.dim is None else f"{m.dim:,}",
        "table V × D": "?" if m.table_params is None else f"{m.table_params:,}",
        "head": "tied" if m.tied else "separate",
        "share of model": "?" if m.share is None or math.isnan(m.share) else f"{m.share:.1%}",
        "table in bf16": "?" if m.dim is None else gib(table_bytes(m.vocab_size, m.dim, "bf16")),
        "train with Adam (fp32)": "?" if m.dim is None else gib(training_bytes(m.vocab_size, m.dim, m.tied)),
    }
    for m in MODELS
]
rows.insert(
    0,
    {
        "model": yours,
        "year": "—",
        "vocabulary V": f"{cfg.vocab_size:,}",
        "width D": f"{cfg.dim:,}",
        "table V × D": f"{cfg.vocab_size * cfg.dim:,}",
        "head": "tied" if cfg.tie_weights else "separate",
        "share of model": "100%" if cfg.tie_weights else "50%",
        "table in bf16": gib(table_bytes(cfg.vocab_size, cfg.dim, "bf16")),
        "train with Adam (fp32)": gib(training_bytes(cfg.vocab_size, cfg.dim, cfg.tie_weights)),
    },
)
st.dataframe(pd.DataFrame(rows), hide_index=True, height=36 * (len(rows) + 1) + 3)  # every row, no scrolling
st.caption(
    "Share of model: the token table, plus the output layer when it is separate, over all parameters. "
    "Training memory: weights, gradients and Adam's two moment estimates, 4 bytes each. "
    "GPT-4's architecture is unpublished; its tokenizer has 100,256 tokens."
)

known = [m for m in MODELS if m.table_params is not None]
names = [yours] + [m.model for m in known]
params = [cfg.vocab_size * cfg.dim] + [m.table_params for m in known]
st.plotly_chart(reference_figures.table_sizes(names, params, yours))
gpt2 = next(m for m in MODELS if m.model == "GPT-2 small")
st.caption(
    f"GPT-2 small's table alone is {gpt2.table_params:,} numbers, {gpt2.share:.0%} of the model; "
    f"yours is {cfg.vocab_size * cfg.dim:,}. Bigger models grow D far more than V, so the table's share falls."
)

st.subheader("Does a larger dimension give better embeddings? Measured on your data")
if cfg.vocab_size > SWEEP_MAX_VOCAB:
    st.info(f"The sweep trains six models; it runs for vocabularies up to {SWEEP_MAX_VOCAB:,} tokens.")
    st.stop()
st.write(
    f"Trains your configuration for {SWEEP_STEPS} steps at D = {', '.join(map(str, SWEEP_DIMS))} "
    "(same seed, same batches) and compares the final loss and how well categories cluster."
)
sweeps = st.session_state.cache.setdefault("sweep", {})  # per run, per user
if st.button("Measure", key="scale_measure", type="primary"):
    with st.spinner(f"Training {len(SWEEP_DIMS)} models..."):
        sweeps[cfg] = dimension_sweep(cfg, list(SWEEP_DIMS), SWEEP_STEPS)
if cfg in sweeps:
    results = sweeps[cfg]
    dims = [r.dim for r in results]
    losses = [r.final_loss for r in results]
    purities = [r.purity for r in results]
    st.plotly_chart(reference_figures.dimension_sweep(dims, losses, purities))
    best = min(results, key=lambda r: r.final_loss)
    purity = (
        ""
        if math.isnan(purities[-1])
        else f"; kNN purity {purities[0]:.2f} at D={dims[0]}, {purities[-1]:.2f} at D={dims[-1]}"
    )
    st.caption(
        f"Loss {losses[0]:.3f} at D={dims[0]} and {losses[-1]:.3f} at D={dims[-1]}; lowest at D={best.dim}{purity}. "
        "Past the point where the data's structure fits, a wider table only costs memory."
    )
