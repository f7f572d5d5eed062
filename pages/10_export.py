"""Export and import: the table at a kept step and the history as files; a matrix from elsewhere to explore."""

import streamlit as st

import ui.page
from core import captions
from core.rows import frame_before
from ui import session
from ui.widgets.export import export_buttons
from ui.widgets.upload import explore, imported_table

ui.page.setup("export", "Export and import")
tr = session.trainer()

st.subheader("Export this run")
steps, records, n_values = [s for s, _ in tr.frames()], tr.history, tr.cfg.vocab_size * tr.cfg.dim
chosen = st.select_slider("Table at step", steps, value=steps[-1], key="export_step") if len(steps) > 1 else steps[0]
history = (lambda: list(tr.history)) if len(records) else None
weight_at = lambda: frame_before(tr.frames(), chosen)[1]  # noqa: E731 (made only when a button asks)
export_buttons(weight_at, tr.vocab, tr.categories, tr.category_names, chosen, history, n_values)
st.caption(captions.export_caption(steps, tr.snapshots.stride, records.steps, n_values))

st.subheader("Import a matrix to explore")
table, layouts = imported_table()
st.metric("Imported table", f"{table.weight.shape[0]:,} × {table.weight.shape[1]:,}")
explore(table, layouts, "import")
st.caption("Explore it on Embedding space too: its Table choice shows the imported table.")
