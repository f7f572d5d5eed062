"""Figures of the Train page: the loss per step, the embedding matrix with the rows this step used, and the
batch's token counts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ui.figures.style import NOT_USED, PADDING, SIGNED, USED, style, symmetric


def loss_curve(steps: np.ndarray, losses: np.ndarray, marked_step: int | None = None) -> go.Figure:
    """Training loss per kept step, with the chosen step marked."""
    fig = go.Figure(go.Scatter(x=steps, y=losses, mode="lines", line={"color": USED, "width": 2.5}, name="loss"))
    if marked_step is not None and marked_step in set(np.asarray(steps).tolist()):
        i = int(np.flatnonzero(np.asarray(steps) == marked_step)[0])
        fig.add_trace(
            go.Scatter(
                x=[marked_step], y=[losses[i]], mode="markers", name=f"step {marked_step}",
                marker={"color": PADDING, "size": 13, "symbol": "diamond"},
            )
        )  # fmt: skip
    return style(
        fig, "Loss per step", height=330, showlegend=False, fixed_margin={"l": 70, "b": 60},
        xaxis_title="step", yaxis_title="loss", half=True,
    )  # fmt: skip


def weight_heatmap(
    weight_rows: np.ndarray, row_labels: Sequence[str], used: np.ndarray, padding: np.ndarray, title: str
) -> go.Figure:
    """The embedding matrix (shown rows x D) as a heatmap, with a strip marking the rows used this step."""
    status = np.where(padding, 2, np.where(used, 1, 0))  # 0 not used, 1 used, 2 padding
    labels = list(row_labels)
    peak = symmetric(weight_rows)
    strip = go.Heatmap(  # a column left of dimension 0, on the table's own axes: one axis pair to draw
        z=status[:, None], y=labels, x=[-1.5], zmin=0, zmax=2, showscale=False,
        colorscale=[[0, NOT_USED], [0.33, NOT_USED], [0.34, USED], [0.66, USED], [0.67, PADDING], [1, PADDING]],
        hovertemplate="%{y}: %{customdata}<extra></extra>",
        customdata=np.array(["not used", "used this step", "padding"])[status][:, None],
    )  # fmt: skip
    table = go.Heatmap(
        z=weight_rows, y=labels, x=np.arange(weight_rows.shape[1]), colorscale=SIGNED,
        zmin=-peak, zmax=peak, colorbar={"title": {"text": "value"}, "thickness": 14, "len": 0.8},
        hovertemplate="%{y}, dim %{x}: %{z:.3f}<extra></extra>",
    )  # fmt: skip
    dim = weight_rows.shape[1]
    ticks = list(range(0, dim, max(1, dim // 8)))
    fig = go.Figure(
        data=[strip, table],
        layout={
            "xaxis": {
                "title": {"text": "dimension"}, "range": [-2.1, dim - 0.5], "zeroline": False, "showgrid": False,
                "tickvals": [-1.5, *ticks], "ticktext": ["used", *map(str, ticks)],
            },
            "yaxis": {"autorange": "reversed", "showticklabels": len(labels) <= 40, "showgrid": False},
        },
    )  # fmt: skip
    left = 150 if len(labels) <= 40 else 60  # room for row labels only when they are shown
    return style(fig, title, height=460, fixed_margin={"l": left, "r": 100, "b": 60})


def batch_token_bars(tokens: Sequence[str], counts: np.ndarray, title: str) -> go.Figure:
    """How often each token of this batch was looked up (most frequent first)."""
    fig = go.Figure(go.Bar(x=list(tokens), y=counts, marker_color=USED, hovertemplate="%{x}: %{y}<extra></extra>"))
    fig.update_layout(xaxis={"tickangle": -60})  # a fixed angle: plotly.js need not measure labels to choose
    return style(
        fig, title, height=330, xaxis_title="token", yaxis_title="times in batch", fixed_margin={"b": 110}, half=True
    )
