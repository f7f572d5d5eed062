"""Figures of the Lookup and Scale pages, as pure functions of numbers (no Streamlit)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.figures import FROM_GRADIENT, FROM_STATE, MAGNITUDE, OKABE_ITO, SIGNED, USED, _style
from ui.space_figures import plain


def _short(n: float) -> str:
    """960, 38.6M, 2.1B: a bar label that fits above a bar."""
    for suffix, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{suffix}"
    return f"{n:.0f}"


def one_hot_product(one_hot: np.ndarray, weight: np.ndarray, rows: np.ndarray, tokens: Sequence[str]) -> go.Figure:
    """one_hot (B x V) times W (V x D) gives the selected rows (B x D): the three matrices side by side."""
    tokens = [plain(t) for t in tokens]
    fig = make_subplots(
        rows=1,
        cols=3,
        column_widths=[0.45, 0.3, 0.25],
        subplot_titles=("one_hot(x)  (B × V)", "W  (V × D)", "= one_hot(x) @ W  (B × D)"),
        horizontal_spacing=0.06,
    )
    peak = float(np.abs(weight).max()) or 1.0
    fig.add_trace(go.Heatmap(z=one_hot, y=list(tokens), colorscale=MAGNITUDE, showscale=False), 1, 1)
    fig.add_trace(go.Heatmap(z=weight, colorscale=SIGNED, zmin=-peak, zmax=peak, showscale=False), 1, 2)
    fig.add_trace(go.Heatmap(z=rows, y=list(tokens), colorscale=SIGNED, zmin=-peak, zmax=peak), 1, 3)
    fig.update_yaxes(autorange="reversed")
    fig.update_yaxes(showticklabels=False, row=1, col=3)  # the same tokens as the first panel's rows
    fig.update_xaxes(title_text="vocabulary row", row=1, col=1)
    fig.update_xaxes(title_text="dimension", row=1, col=2)
    fig.update_xaxes(title_text="dimension", row=1, col=3)
    return _style(fig, "A lookup is a one-hot matrix product: each 1 picks one row of W", height=380)


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
    return _style(fig, title, height=340)


def table_sizes(names: Sequence[str], params: Sequence[float], highlight: str) -> go.Figure:
    """Token-table parameters per model, log scale, the user's run highlighted."""
    colours = [FROM_STATE if n == highlight else FROM_GRADIENT for n in names]
    fig = go.Figure(go.Bar(x=list(names), y=list(params), marker_color=colours, text=[_short(p) for p in params]))
    fig.update_traces(textposition="outside", cliponaxis=False, textfont_size=14)
    fig.update_yaxes(type="log", title_text="parameters in the token table (V × D)")
    return _style(fig, "Token-table size: from your run to Llama 3 405B (log scale)", height=420)


def dimension_sweep(dims: Sequence[int], losses: Sequence[float], purities: Sequence[float]) -> go.Figure:
    """Final loss and kNN purity against the embedding dimension, two y-axes."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(x=list(dims), y=list(losses), mode="lines+markers", name="final loss", line_color=OKABE_ITO[3]),
        secondary_y=False,
    )
    if not np.all(np.isnan(np.asarray(purities, dtype=float))):
        fig.add_trace(
            go.Scatter(
                x=list(dims), y=list(purities), mode="lines+markers", name="kNN purity", line_color=OKABE_ITO[0]
            ),
            secondary_y=True,
        )
        fig.update_yaxes(title_text="kNN category purity", range=[0, 1.05], secondary_y=True)
    fig.update_xaxes(type="log", title_text="embedding dimension D", tickvals=list(dims))
    fig.update_yaxes(title_text="loss (lower is better)", secondary_y=False)
    return _style(fig, "What a wider table buys on your data (measured)", height=380)
