"""Figures of the Lookup page: a lookup as a one-hot matrix product, and the table's initial values against
the density its init promises."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.figures.style import FROM_STATE, MAGNITUDE, SIGNED, USED, panel_title, plain, style


def one_hot_product(one_hot: np.ndarray, weight: np.ndarray, rows: np.ndarray, tokens: Sequence[str]) -> go.Figure:
    """one_hot (B x V) times W (V x D) gives the selected rows (B x D): the three matrices side by side."""
    tokens = [plain(t) for t in tokens]
    # Gaps wide enough for W's row ticks (the next panel's left) and the colour bar of the product
    widths, gap = [0.36, 0.32, 0.32], 0.08
    shapes = ("one_hot(x)<br>(B × V)", "W<br>(V × D)", "one_hot(x) @ W<br>(B × D)")  # each shape on a line of its own
    titles = [panel_title(t, w) for t, w in zip(shapes, widths, strict=True)]  # narrow panels on a phone
    fig = make_subplots(rows=1, cols=3, column_widths=widths, subplot_titles=titles, horizontal_spacing=gap)
    peak = float(np.abs(weight).max()) or 1.0
    fig.add_trace(go.Heatmap(z=one_hot, y=list(tokens), colorscale=MAGNITUDE, showscale=False), 1, 1)
    fig.add_trace(go.Heatmap(z=weight, colorscale=SIGNED, zmin=-peak, zmax=peak, showscale=False), 1, 2)
    colorbar = {"thickness": 12, "len": 0.9}  # thin: the three panels share the width
    fig.add_trace(go.Heatmap(z=rows, y=list(tokens), colorscale=SIGNED, zmin=-peak, zmax=peak, colorbar=colorbar), 1, 3)
    fig.update_yaxes(autorange="reversed")
    fig.update_yaxes(showticklabels=False, row=1, col=3)  # the same tokens as the first panel's rows
    fig.update_xaxes(title_text="vocabulary<br>row", row=1, col=1)  # two lines: "dimension" is next to it on a phone
    fig.update_xaxes(title_text="dimension", row=1, col=2)
    fig.update_xaxes(title_text="dimension", row=1, col=3)
    return style(fig, "A lookup is a one-hot matrix product: each 1 picks one row of W", height=400)


def init_histogram(values: np.ndarray, expected_std: float | None, title: str) -> go.Figure:
    """The values of the table at step 0, with the density the chosen init promises (when it is normal)."""
    fig = go.Figure(
        go.Histogram(x=values, histnorm="probability density", nbinsx=60, marker_color=USED, name="your table")
    )
    if expected_std:
        x = np.linspace(values.min(), values.max(), 200)
        density = np.exp(-0.5 * (x / expected_std) ** 2) / (expected_std * np.sqrt(2 * np.pi))
        fig.add_trace(go.Scatter(x=x, y=density, mode="lines", line={"color": FROM_STATE, "width": 3}, name="N(0, σ)"))
    fig.update_xaxes(title_text="value")
    fig.update_yaxes(title_text="density")
    return style(fig, title, height=340)
