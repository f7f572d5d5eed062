"""A GPT's positional table beside the token table, on Train, Gradient masks and Row updates: nothing for the
skip-gram models (their records carry no positions)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core import captions
from core.trainer import Trainer
from ui import display
from ui.figures import positions, train


def table(tr: Trainer) -> None:
    """Train: the positional table now, every row marked as looked up (each window uses every position)."""
    weight = tr.position_weight
    if weight is None:
        return
    n_positions, dim = weight.shape
    labels = [f"pos {t}" for t in range(n_positions)]
    every = np.ones(n_positions, dtype=bool)
    title = captions.positions_title(n_positions, dim, tr.step_count)
    display.chart(train.weight_heatmap(weight, labels, every, ~every, title), config={"displayModeBar": False})
    if tr.history:
        st.caption(captions.positions_caption(tr.history[-1], "gradient"))


def step(rec, what: str) -> None:
    """Gradient masks (`what` "gradient") or Row updates ("move"): one bar per position row for the record's step."""
    if rec is None or rec.position_grad_norm is None:
        return
    values = rec.position_grad_norm if what == "gradient" else rec.position_update_norm
    title = f"Step {rec.step}: the positional table's rows, " + ("|gradient|" if what == "gradient" else "|move|")
    y_title = "‖gradient‖" if what == "gradient" else "‖W_after − W_before‖"
    display.chart(positions.position_bars(values, what, title, y_title))
    st.caption(captions.positions_caption(rec, what))
