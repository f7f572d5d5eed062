"""Figures of a GPT's positional table, the second nn.Embedding beside the token table: one bar per position row
(its gradient's length, or how far the step moved it). Plain-data figures (ui.figures.style.figure)."""

from __future__ import annotations

import numpy as np

from ui.figures.style import FROM_GRADIENT, OKABE_ITO, figure, style, trace

COLOURS = {"gradient": FROM_GRADIENT, "move": OKABE_ITO[1]}


def position_bars(values: np.ndarray, what: str, title: str, y_title: str) -> dict:
    """One bar per position row 0..T-1 (`what`: "gradient" or "move", for its colour), every row labelled."""
    rows = np.arange(len(values))
    bars = trace(
        "bar", x=rows, y=np.asarray(values, dtype=np.float64), marker={"color": COLOURS[what]},
        hovertemplate="position %{x}: %{y:.3g}<extra></extra>",
    )  # fmt: skip
    every = max(1, -(-len(rows) // 32))  # at most 32 tick labels: each one stays readable
    layout = {"xaxis": {"tickmode": "array", "tickvals": rows[::every].tolist(), "title": {"text": "position row"}}}
    return style(figure([bars], layout), title, height=300, yaxis_title=y_title, fixed_margin={"b": 60})
