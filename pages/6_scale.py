"""Scale: what GPT-1 to Llama 3 spend on the token table, and what a wider table buys on the user's data."""

import math

import pandas as pd
import streamlit as st

import ui
from core.lookup import DimensionSweep, plan_sweep
from core.reference import MODELS, run_table, table_bytes, training_bytes
from ui import classroom, projector, reference_figures, server, state

TITLE = "Scale: GPT-1 to Llama 3"
SWEEP_DIMS = (2, 4, 8, 16, 32, 64)
SWEEP_STEPS = 300
SWEEP_MAX_VOCAB = 5_000  # beyond this the sweep takes too long for a page
TICK_SECONDS = 0.4  # the sweep trains in chunks: one chunk per tick of its fragment ...
CHUNK_SECONDS = 0.25  # ... of about this long, so the server runs other sessions' work in between


def gib(n_bytes: float) -> str:
    """Bytes in the largest binary unit that keeps the number at 1 or more."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n_bytes >= size:
            return f"{n_bytes / size:,.2f} {unit}"
    return f"{n_bytes:,.0f} B"


def percent(share: float | None) -> str:
    return "?" if share is None or math.isnan(share) else f"{share:.1%}"


ui.setup(TITLE)
st.title("Scale: what bigger models spend on this table")
classroom.look_for("scale")
ss, tr = st.session_state, state.trainer()
cfg = tr.cfg
mine = run_table(tr.model)  # counted from the model's parameters
yours = f"your run ({mine.vocab_size:,} × {mine.dim:,})"

rows = [
    {
        "model": m.model,
        "year": str(m.year),
        "vocabulary V": f"{m.vocab_size:,}",
        "width D": "not published" if m.dim is None else f"{m.dim:,}",
        "table V × D": "?" if m.table_params is None else f"{m.table_params:,}",
        "head": "tied" if m.tied else "separate",
        "table's share": percent(m.table_share),
        "table + head's share": percent(m.share),
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
        "vocabulary V": f"{mine.vocab_size:,}",
        "width D": f"{mine.dim:,}",
        "table V × D": f"{mine.table_params:,}",
        "head": "tied" if mine.tied else "separate",
        "table's share": percent(mine.table_share),
        "table + head's share": percent(mine.share),
        "table in bf16": gib(table_bytes(mine.vocab_size, mine.dim, "bf16")),
        "train with Adam (fp32)": gib(training_bytes(mine.vocab_size, mine.dim, mine.tied)),
    },
)
st.dataframe(pd.DataFrame(rows), hide_index=True, height=36 * (len(rows) + 1) + 3)  # every row, no scrolling
head = (
    "its output layer is the table itself (tied)"
    if mine.tied
    else f"its separate output layer has another {mine.head_params:,}"
)
st.caption(
    f"Shares are of all parameters. Your model has {mine.total_params:,} parameters: the table holds "
    f"{mine.table_params:,} ({percent(mine.table_share)}), and {head}; there are no others. "
    "Training memory: weights, gradients and Adam's two moment estimates, 4 bytes each. "
    "GPT-4's architecture is unpublished; its tokenizer has 100,256 tokens."
)

known = [m for m in MODELS if m.table_params is not None]
names = [yours] + [m.model for m in known]
params = [mine.table_params] + [m.table_params for m in known]
projector.chart(reference_figures.table_sizes(names, params, yours))
gpt2 = next(m for m in MODELS if m.model == "GPT-2 small")
st.caption(
    f"GPT-2 small's table alone is {gpt2.table_params:,} numbers, {gpt2.table_share:.0%} of the model; "
    f"yours is {mine.table_params:,}. Bigger models grow D far more than V, so the table's share falls."
)

st.subheader("Does a larger dimension give better embeddings? Measured on your data")
if cfg.vocab_size > SWEEP_MAX_VOCAB:
    st.info(f"The sweep trains six models; it runs for vocabularies up to {SWEEP_MAX_VOCAB:,} tokens.")
    st.stop()
plan = plan_sweep(cfg, SWEEP_DIMS, SWEEP_STEPS)
if not plan.fits:
    st.warning(
        f"Even one example per batch needs {gib(plan.peak_bytes)} per model at D = {max(SWEEP_DIMS)}, over the "
        f"sweep's budget of {gib(plan.budget_bytes)}. Choose a smaller vocabulary to measure."
    )
    st.stop()
st.write(
    f"Trains your configuration for {SWEEP_STEPS} steps at D = {', '.join(map(str, SWEEP_DIMS))} "
    "(same seed, same batches) and compares the final loss and how well categories cluster."
)
if plan.shrunk and plan.over_memory:
    st.info(
        f"Your batch of {plan.asked_batch_size:,} would need {gib(plan.asked_bytes)} per model at D = "
        f"{max(SWEEP_DIMS)} (mostly the batch × vocabulary logits and their gradients), over the sweep's budget of "
        f"{gib(plan.budget_bytes)}. The sweep trains with batches of {plan.cfg.batch_size:,} instead "
        f"({gib(plan.peak_bytes)})."
    )
elif plan.shrunk:
    st.info(
        f"Your batch of {plan.asked_batch_size:,} × {cfg.vocab_size:,} tokens would score "
        f"{plan.asked_batch_size * cfg.vocab_size:,} logits a step, {len(SWEEP_DIMS) * SWEEP_STEPS:,} times: "
        f"minutes of a shared server. The sweep trains with batches of {plan.cfg.batch_size:,} instead "
        f"(at most {plan.max_logits:,} logits a step)."
    )


def _start() -> None:
    ss.cache["sweep"] = DimensionSweep(plan)


def _stop() -> None:
    ss.cache["sweep"].stop()


def _resume() -> None:
    ss.cache["sweep"].resume()


sweep = ss.cache.get("sweep")
if sweep is not None and sweep.plan != plan:
    sweep = None  # planned for another configuration


ticking = sweep is not None and sweep.running  # the fragment's timer runs only while a sweep does


@st.fragment(run_every=TICK_SECONDS if ticking else None)
def sweep_panel() -> None:
    sweep = ss.cache.get("sweep")
    running = sweep is not None and sweep.running
    if running != ticking:
        st.rerun()  # started or stopped by a button in this fragment: a full rerun (re)sets the timer
    if running:
        if ss.get("page", TITLE) != TITLE:  # the timer outlived its page: never train unseen
            sweep.stop()
        else:
            with server.work_slot():  # one chunk per turn: other sessions' Steps run in between
                sweep.advance(CHUNK_SECONDS)
        if not sweep.running:
            st.rerun()  # done: a full rerun stops the timer
        done = sweep.done_steps / sweep.total_steps
        st.progress(done, text=f"Training: {sweep.done_steps:,} of {sweep.total_steps:,} steps "
                               f"({len(sweep.results)} of {len(sweep.plan.dims)} widths done)")  # fmt: skip
        st.button("Stop", key="scale_stop", on_click=_stop)
    else:
        c1, c2 = st.columns([1, 4])
        c1.button("Measure", key="scale_measure", type="primary", on_click=_start)
        if sweep is not None and sweep.stopped and not sweep.done:
            label = f"Continue ({len(sweep.results)} of {len(sweep.plan.dims)} widths done)"
            c2.button(label, key="scale_resume", on_click=_resume)
    if sweep is not None and sweep.results:
        show_results(sweep)


def show_results(sweep: DimensionSweep) -> None:
    results = [r for r in sweep.results if not r.diverged]
    diverged = [r.dim for r in sweep.results if r.diverged]
    if diverged:
        st.warning(f"Training diverged at D = {', '.join(map(str, diverged))}: no loss to compare there.")
    if not results:
        return
    dims = [r.dim for r in results]
    losses = [r.final_loss for r in results]
    purities = [r.purity for r in results]
    projector.chart(reference_figures.dimension_sweep(dims, losses, purities))
    best = min(results, key=lambda r: r.final_loss)
    purity = (
        ""
        if math.isnan(purities[-1])
        else f"; kNN purity {purities[0]:.2f} at D={dims[0]}, {purities[-1]:.2f} at D={dims[-1]}"
    )
    partial = "" if sweep.done else f" Stopped after {len(sweep.results)} of {len(sweep.plan.dims)} widths."
    st.caption(
        f"Loss {losses[0]:.3f} at D={dims[0]} and {losses[-1]:.3f} at D={dims[-1]}; lowest at D={best.dim}{purity}. "
        f"Each: the mean loss of its last {max(1, sweep.plan.steps // 10)} steps, batches of "
        f"{sweep.plan.cfg.batch_size:,}.{partial} Past the point where the data's structure fits, a wider table "
        "only costs memory."
    )


sweep_panel()
