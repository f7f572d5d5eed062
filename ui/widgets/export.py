"""The Export page's download buttons, each file made only when clicked (a big table's text takes seconds)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import streamlit as st

from core import export
from core.limits import TEXT_EXPORT_MAX_VALUES

BINARY, TSV = "application/octet-stream", "text/tab-separated-values"


def export_buttons(
    weight_at: Callable[[], np.ndarray],
    labels: Sequence[str],
    categories: np.ndarray,
    category_names: Sequence[str],
    step: int,
    history: Callable[[], list] | None,
    n_values: int,
) -> None:
    """The table at `step` in every format, and the history; text stops at TEXT_EXPORT_MAX_VALUES (GPT-2's: 0.5 GB)."""
    stem = f"embedding_step{step}"
    too_big = n_values > TEXT_EXPORT_MAX_VALUES
    columns = (  # per column: (label, the file's maker, file name, MIME type, key suffix, disabled)
        (
            (".npy", lambda: export.table_npy(weight_at()), f"{stem}.npy", BINARY, "npy", False),
            (".csv", lambda: export.table_csv(weight_at(), labels), f"{stem}.csv", "text/csv", "csv", too_big),
        ),
        (
            ("Projector vectors.tsv", lambda: export.projector_vectors(weight_at()), f"{stem}_vectors.tsv", TSV,
             "vec", too_big),
            ("Projector metadata.tsv", lambda: export.projector_metadata(labels, categories, category_names),
             "metadata.tsv", TSV, "meta", False),
        ),
        (
            ("word2vec .txt", lambda: export.word2vec_text(weight_at(), labels), f"{stem}.txt", "text/plain", "w2v",
             too_big),
            ("History .npz", lambda: export.history_npz(history()) if history else b"", "history.npz", BINARY, "npz",
             history is None),
        ),
    )  # fmt: skip
    for column, buttons in zip(st.columns(3), columns, strict=True):
        with column:
            for label, data, file_name, mime, key, disabled in buttons:
                st.download_button(
                    label, data, file_name=file_name, mime=mime, key=f"export_{key}", on_click="ignore",
                    disabled=disabled,
                )  # fmt: skip
