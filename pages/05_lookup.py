"""Lookup, not MLP: the user's own layer read as emb(x) and as one_hot(x) @ W, and how it was initialised."""

import streamlit as st

import ui.page
from core import captions, lookup
from core.config import INITS
from ui import display, session
from ui.figures import lookup as figures

ui.page.setup("lookup", "Is an embedding an MLP? No: it is a lookup")
tr = session.trainer()
V, D = tr.cfg.vocab_size, tr.cfg.dim
run = session.memo("lookup", tr.step_count, lambda: lookup.lookup_run(tr))  # copies the looked-up rows only
timing = session.memo("lookup_timing", lookup.timing_key(tr), lambda: lookup.time_run(tr))

st.markdown(captions.lookup_intro(V, D))
for col, (label, value) in zip(st.columns(4), captions.lookup_metrics(run.result, timing), strict=True):
    col.metric(label, value)
st.caption(captions.lookup_caption(run, timing, V, D))

st.subheader("What your layer's options change")
st.markdown(captions.lookup_notes(run, V, D, display.md_escape(run.padding_token or "")))

product = lookup.one_hot_rows(tr)
display.chart(figures.one_hot_product(product.one_hot, product.weight_rows, product.product, product.tokens))
st.caption(captions.product_caption(product, run.result.max_value_diff))

st.subheader("How was it initialised?")
start = lookup.init_view(tr)
title = f"Your table at step {start.step}: {INITS[tr.cfg.init]}"
display.chart(figures.init_histogram(start.values, start.stats.expected_std, title))
st.caption(captions.init_caption(start))
