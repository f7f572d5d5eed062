"""An imported matrix: read once per pair of files on Export (its parse charged like a run), explored there and on
Embedding space. Keys import_* and each explorer's <prefix>_row / <prefix>_method."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import captions, export, umap_is_warm
from core.limits import MAX_IMPORT_BYTES
from core.rows import neighbour_table
from serve import memory
from ui import display, session
from ui.figures import compare

LIMIT_MB = MAX_IMPORT_BYTES // 1024**2  # the one upload cap: both uploaders and .streamlit/config.toml say it
MAX_POINTS = 2000  # rows of an imported table in its layout
PICKERS = ("import_row", "space_import_row")  # each explorer's neighbour picker: a new table starts them afresh
CHARGE = "import"  # the session's holding on the server's budget for its imported table (serve.memory)


def _forget() -> None:
    """No imported table: nothing kept, nothing charged."""
    for key in ("import_table", "import_key", "import_layouts"):
        session.pop(key)
    memory.release(f"{memory.current_session_id()}{memory.EXTRA}{CHARGE}")


def imported_table() -> tuple[export.Imported, dict]:
    """The uploaded table and its layouts by method; stops the page until one is chosen, or saying why it is not."""
    matrix = st.file_uploader(
        "Embedding matrix: .npy, Projector vectors .tsv, .csv (ours), word2vec/GloVe .txt or .vec",
        type=["npy", "tsv", "csv", "txt", "vec"], key="import_matrix", max_upload_size=LIMIT_MB,
    )  # fmt: skip
    metadata = st.file_uploader(
        "Labels (optional): metadata .tsv", type=["tsv"], key="import_metadata", max_upload_size=LIMIT_MB
    )
    if matrix is None:
        st.caption(captions.import_limit(LIMIT_MB))
        st.stop()
    key = (matrix.file_id, metadata.file_id if metadata else None)
    if session.get("import_key") != key:
        _forget()  # the old table goes before the new one is parsed: the charge below counts all that is held
        uploads = matrix.size + (metadata.size if metadata else 0)  # Streamlit keeps the uploaded bytes too

        def charge(nbytes: int) -> None:  # before the parse allocates its table
            memory.admit_extra(CHARGE, uploads + nbytes)

        try:
            table = export.import_table(
                matrix.name, matrix.getvalue(), metadata.getvalue() if metadata else None, charge=charge
            )
            memory.admit_extra(CHARGE, uploads + export.kept_bytes(table))  # what stays, now that it is parsed
        except (export.ImportFileError, memory.ServerBusy) as error:
            _forget()
            st.error(display.md_escape(getattr(error, "message", None) or str(error)))
            st.stop()
        session.put("import_table", table)
        session.put("import_key", key)
        session.put("import_layouts", {})
        for picker in PICKERS:
            session.pop(picker)
    return session.get("import_table"), session.get("import_layouts")


def explore(table: export.Imported, layouts: dict, prefix: str) -> None:
    """An imported table's nearest neighbours beside a 2-D layout of its rows (PCA, or UMAP once warm)."""
    V, D = table.weight.shape
    left, right = st.columns([1, 1.6])
    with left:
        row = st.selectbox(
            "Nearest neighbours of", range(min(V, 5000)), format_func=table.labels.__getitem__, key=f"{prefix}_row"
        )
        nearest = neighbour_table(
            table.weight, row, table.labels, table.categories, table.category_names, column="label"
        )
        display.table(pd.DataFrame(nearest), hide_index=True)  # on the wall an HTML table: no column cut
        shown = display.md_escape(table.labels[row])
        st.caption(f"The {len(nearest['label'])} rows most cosine-similar to row {row} ('{shown}') of the imported "
                   f"{V:,} × {D:,} table.")  # fmt: skip
    with right:
        method = st.radio("Layout", ("PCA", "UMAP"), horizontal=True, key=f"{prefix}_method")
        if method == "UMAP" and not umap_is_warm():
            st.info(captions.UMAP_WARMING)
            method = "PCA"
        if method not in layouts:
            with st.spinner(f"Laying out {min(V, MAX_POINTS):,} rows with {method}…"):
                layouts[method] = export.layout(table, method.lower(), MAX_POINTS)
        shown_rows, coords = layouts[method]
        title = f"The imported table's rows, {method}"
        cats, names, labels = table.categories[shown_rows], table.category_names, [table.labels[r] for r in shown_rows]
        display.chart(compare.scatter_panels([method], [coords], labels, cats, names, title))
        st.caption(captions.layout_caption(method, len(shown_rows), V))


def on_embedding_space() -> None:
    """Embedding space's choice of this run's or the imported table (explored here, then the page stops)."""
    table = session.get("import_table")
    if table is None:
        st.caption("Import a matrix on the Export page (word2vec, GloVe, .npy...) to explore it here too.")
        return
    imported = f"Imported table ({table.weight.shape[0]:,} × {table.weight.shape[1]:,})"
    if st.radio("Table", ("This run", imported), horizontal=True, key="space_table") == imported:
        explore(table, session.get("import_layouts"), "space_import")
        st.stop()
