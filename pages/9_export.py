"""Export and import: the table at a kept step and the history as files; a matrix from elsewhere to explore."""

import pandas as pd
import streamlit as st

import ui
from core import nearest_neighbours, project, umap_is_warm
from core.export import MAX_IMPORT_BYTES, TEXT_EXPORT_MAX_VALUES, ImportFileError, import_table
from ui import analysis, classroom, projector, state
from ui.text import md_escape

MAX_POINTS = 2000  # rows of an imported table in its PCA

ui.setup("Export and import")
st.title("Export and import")
classroom.look_for("export")
ss, tr = st.session_state, state.trainer()

st.subheader("Export this run")
steps = [s for s, _ in tr.frames()]
chosen = st.select_slider("Table at step", steps, value=steps[-1], key="export_step") if len(steps) > 1 else steps[0]
records = tr.history
classroom.export_buttons(
    lambda: analysis.frame_before(tr.frames(), chosen)[1],
    tr.vocab,
    tr.categories,
    tr.category_names,
    chosen,
    (lambda: list(tr.history)) if len(records) else None,
    tr.cfg.vocab_size * tr.cfg.dim,
)
every = f"every {tr.snapshots.stride} steps" if tr.snapshots.stride > 1 else "every step"
kept = f"steps {records.steps[0]}–{records.steps[-1]}" if len(records) else "no step yet"
tables = f"steps {steps[0]}–{steps[-1]} ({every} kept)" if len(steps) > 1 else f"step {steps[0]}"
st.caption(
    f"The table is available at {tables}. The history holds {kept}: every array of each step's record, stacked by "
    "step. For projector.tensorflow.org: Load, then vectors.tsv and metadata.tsv."
    + (
        f" Text formats are off for tables over {TEXT_EXPORT_MAX_VALUES:,} values: .npy holds this one exactly."
        if tr.cfg.vocab_size * tr.cfg.dim > TEXT_EXPORT_MAX_VALUES
        else ""
    )
)

st.subheader("Import a matrix to explore")
limit_mb = MAX_IMPORT_BYTES // 1024**2
matrix = st.file_uploader(
    "Embedding matrix: .npy, Projector vectors .tsv, .csv (ours), word2vec/GloVe .txt or .vec",
    type=["npy", "tsv", "csv", "txt", "vec"],
    key="import_matrix",
    max_upload_size=limit_mb,
)
metadata = st.file_uploader("Labels (optional): metadata .tsv", type=["tsv"], key="import_metadata")
if matrix is None:
    st.caption(f"Up to {limit_mb} MB. A .npy file is read without unpickling; nothing is run or kept on the server.")
    st.stop()
key = (matrix.file_id, metadata.file_id if metadata else None)
if ss.get("import_key") != key:
    try:
        ss.import_table = import_table(matrix.name, matrix.getvalue(), metadata.getvalue() if metadata else None)
    except ImportFileError as error:
        st.error(md_escape(str(error)))
        st.stop()
    ss.import_key, ss.import_layouts = key, {}
table = ss.import_table
V, D = table.weight.shape
st.metric("Imported table", f"{V:,} × {D:,}")

left, right = st.columns([1, 1.6])
with left:
    row = st.selectbox(
        "Nearest neighbours of", range(min(V, 5000)), format_func=table.labels.__getitem__, key="import_row"
    )
    rows, sims = nearest_neighbours(table.weight, row, k=8)
    names = ["—" if c < 0 else table.category_names[c] for c in table.categories[rows]]
    st.dataframe(
        pd.DataFrame({"label": [table.labels[r] for r in rows], "category": names, "cosine": sims.round(3)}),
        hide_index=True,
    )
    st.caption(f"The 8 rows most cosine-similar to row {row} of the imported table.")
with right:
    method = st.radio("Layout", ("PCA", "UMAP"), horizontal=True, key="import_method")
    if method == "UMAP" and not umap_is_warm():
        st.info("UMAP is warming up (numba compiles once per server, about a minute). Showing PCA meanwhile.")
        method = "PCA"
    shown = analysis.sample_rows(V, MAX_POINTS)
    if method not in ss.import_layouts:
        with st.spinner(f"Laying out {len(shown):,} rows with {method}…"):
            ss.import_layouts[method] = project([table.weight[shown]], method=method.lower(), n_components=2, seed=0)[0]
    labels = [table.labels[r] for r in shown]
    title = f"The imported table's rows, {method}"
    fig = classroom.scatter_panels(
        [method], [ss.import_layouts[method]], labels, table.categories[shown], table.category_names, title
    )
    projector.chart(fig)
    sampled = "" if len(shown) == V else f" Showing {len(shown):,} of {V:,} rows."
    what = {
        "PCA": "Each row's shadow on the table's 2 directions of largest spread.",
        "UMAP": "A map that keeps each row's nearest neighbours near; far distances mean little.",
    }
    st.caption(what[method] + sampled)
