"""Export and import: the table at a kept step and the history as files; a matrix from elsewhere to explore."""

import pandas as pd
import streamlit as st

import ui.page
from core import captions, export, umap_is_warm
from core.rows import frame_before, neighbour_table
from ui import display, session
from ui.figures import compare
from ui.widgets.export import export_buttons
from ui.widgets.upload import imported_table

MAX_POINTS = 2000  # rows of an imported table in its layout

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
V, D = table.weight.shape
st.metric("Imported table", f"{V:,} × {D:,}")

left, right = st.columns([1, 1.6])
with left:
    row = st.selectbox(
        "Nearest neighbours of", range(min(V, 5000)), format_func=table.labels.__getitem__, key="import_row"
    )
    nearest = neighbour_table(table.weight, row, table.labels, table.categories, table.category_names, column="label")
    st.dataframe(pd.DataFrame(nearest), hide_index=True)
    st.caption(f"The 8 rows most cosine-similar to row {row} of the imported table.")
with right:
    method = st.radio("Layout", ("PCA", "UMAP"), horizontal=True, key="import_method")
    if method == "UMAP" and not umap_is_warm():
        st.info(captions.UMAP_WARMING)
        method = "PCA"
    if method not in layouts:
        with st.spinner(f"Laying out {min(V, MAX_POINTS):,} rows with {method}…"):
            layouts[method] = export.layout(table, method.lower(), MAX_POINTS)
    shown, coords = layouts[method]
    title = f"The imported table's rows, {method}"
    cats, names = table.categories[shown], table.category_names
    display.chart(compare.scatter_panels([method], [coords], [table.labels[r] for r in shown], cats, names, title))
    st.caption(captions.layout_caption(method, len(shown), V))
