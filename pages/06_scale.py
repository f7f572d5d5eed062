"""Scale: what GPT-1 to Llama 3 spend on the token table, and what a wider table or a bigger model buys on the
user's data."""

import pandas as pd
import streamlit as st

import ui.page
from core import captions, sweep
from core.reference import MODELS, run_table
from ui import display, session
from ui.figures import scale
from ui.widgets import family
from ui.widgets.sweep import panel as sweep_panel

ui.page.setup("scale", "Scale: what bigger models spend on this table")
cfg, mine = session.cfg(), run_table(session.trainer().model)  # counted from the model's parameters
rows = captions.scale_rows(mine)
display.table(pd.DataFrame(rows), hide_index=True, height="content")  # every row, no scrolling
st.caption(captions.scale_caption(mine))
known = [m for m in MODELS if m.table_params is not None]
names, params = [rows[0]["model"]] + [m.model for m in known], [mine.table_params] + [m.table_params for m in known]
display.chart(scale.table_sizes(names, params, names[0]))
st.caption(captions.sizes_caption(mine))

wider, bigger = st.tabs(["A larger dimension", "A bigger model"])
with wider:
    st.subheader("Does a larger dimension give better embeddings? Measured on your data")
    plan = None if cfg.vocab_size > sweep.MAX_VOCAB else sweep.plan_sweep(cfg, sweep.DIMS, sweep.STEPS)
    if plan is None:
        st.info(captions.sweep_vocab_limit(sweep.MAX_VOCAB))
    elif not plan.fits:
        st.warning(captions.sweep_unfit(plan))
    else:
        st.write(captions.sweep_intro(plan))
        if plan.shrunk:
            st.info(captions.sweep_shrunk(plan))
        sweep_panel(plan)
with bigger:
    st.subheader("Does a bigger model learn better embeddings? Measured on your data")
    family.section(cfg)
