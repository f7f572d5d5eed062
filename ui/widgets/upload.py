"""The Export page's import: a matrix and its labels uploaded, read once per pair of files. Keys import_*."""

from __future__ import annotations

import streamlit as st

from core import captions, export
from core.limits import MAX_IMPORT_BYTES
from ui import display, session


def imported_table() -> tuple[export.Imported, dict]:
    """The uploaded table and its layouts by method (kept until other files are chosen); stops the page until a
    matrix is chosen, or when it cannot be read (saying why)."""
    limit_mb = MAX_IMPORT_BYTES // 1024**2
    matrix = st.file_uploader(
        "Embedding matrix: .npy, Projector vectors .tsv, .csv (ours), word2vec/GloVe .txt or .vec",
        type=["npy", "tsv", "csv", "txt", "vec"], key="import_matrix", max_upload_size=limit_mb,
    )  # fmt: skip
    metadata = st.file_uploader("Labels (optional): metadata .tsv", type=["tsv"], key="import_metadata")
    if matrix is None:
        st.caption(captions.import_limit(limit_mb))
        st.stop()
    key = (matrix.file_id, metadata.file_id if metadata else None)
    if session.get("import_key") != key:
        try:
            table = export.import_table(matrix.name, matrix.getvalue(), metadata.getvalue() if metadata else None)
        except export.ImportFileError as error:
            st.error(display.md_escape(str(error)))
            st.stop()
        session.put("import_table", table)
        session.put("import_key", key)
        session.put("import_layouts", {})
    return session.get("import_table"), session.get("import_layouts")
