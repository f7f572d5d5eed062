"""Figures of the Train page: the loss per step, the embedding matrix with the rows this step used, and the
batch's token counts. Plain-data figures (ui.figures.style.figure): built on every Step click."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ui.figures.style import (
    FONT_SIZE,
    NOT_USED,
    PADDING,
    SIGNED,
    USED,
    clear_corner,
    colorscale,
    figure,
    style,
    symmetric,
    trace,
)

STATUS_TEXT = np.array(["not used", "used this step", "padding"], dtype=object)


def loss_curve(steps: np.ndarray, losses: np.ndarray, marked_step: int | None = None, cfg=None) -> dict:
    """Training loss per kept step, with the chosen step marked and, given the run's TrainConfig, the loss of a
    blind guess dashed and labelled with its value (ln V for a softmax over the V tokens)."""
    data = [trace("scatter", x=steps, y=losses, mode="lines", line={"color": USED, "width": 2.5}, name="loss")]
    layout = {}
    if cfg is not None:
        blind_guess = cfg.blind_loss
        blind_label = "blind guess" if cfg.model == "sgns" else "ln V"  # not by value: 6 ln 2 = ln 64
        layout["shapes"] = [{"type": "line", "xref": "x domain", "x0": 0, "x1": 1, "yref": "y", "y0": blind_guess,
                             "y1": blind_guess, "line": {"color": "#555555", "dash": "dash", "width": 2}}]  # fmt: skip
        layout["annotations"] = [{"text": f"{blind_label} = {blind_guess:.2f}", "showarrow": False, "xref": "x domain",
                                  "yref": "y", "y": blind_guess, "font": {"size": FONT_SIZE, "color": "#555555"},
                                  **clear_corner([(steps, losses)], blind_guess)}]  # fmt: skip
    if marked_step is not None:
        where = np.flatnonzero(np.asarray(steps) == marked_step)
        if where.size:
            data.append(
                trace(
                    "scatter", x=[marked_step], y=[losses[int(where[0])]], mode="markers", name=f"step {marked_step}",
                    marker={"color": PADDING, "size": 13, "symbol": "diamond"},
                )
            )  # fmt: skip
    return style(
        figure(data, layout), "Loss per step", height=330, showlegend=False, fixed_margin={"l": 70, "b": 60},
        xaxis_title="step", yaxis_title="loss", half=True,
    )  # fmt: skip


def weight_heatmap(
    weight_rows: np.ndarray, row_labels: Sequence[str], used: np.ndarray, padding: np.ndarray, title: str
) -> dict:
    """The embedding matrix (shown rows x D) as a heatmap, with a strip marking the rows used this step."""
    status = np.where(padding, 2, np.where(used, 1, 0))  # 0 not used, 1 used, 2 padding
    labels = list(row_labels)
    peak = symmetric(weight_rows)
    strip = trace(  # a column left of dimension 0, on the table's own axes: one axis pair to draw
        "heatmap", z=status[:, None], y=labels, x=[-1.5], zmin=0, zmax=2, showscale=False,
        colorscale=[[0, NOT_USED], [0.33, NOT_USED], [0.34, USED], [0.66, USED], [0.67, PADDING], [1, PADDING]],
        hovertemplate="%{y}: %{customdata}<extra></extra>", customdata=STATUS_TEXT[status][:, None],
    )  # fmt: skip
    table = trace(
        "heatmap", z=weight_rows, y=labels, x=np.arange(weight_rows.shape[1]), colorscale=colorscale(SIGNED),
        zmin=-peak, zmax=peak, colorbar={"title": {"text": "value"}, "thickness": 14, "len": 0.8},
        hovertemplate="%{y}, dim %{x}: %{z:.3f}<extra></extra>",
    )  # fmt: skip
    dim = weight_rows.shape[1]
    ticks = list(range(0, dim, max(1, dim // 8)))
    layout = {
        "xaxis": {
            "title": {"text": "dimension"}, "range": [-2.1, dim - 0.5], "zeroline": False, "showgrid": False,
            "tickvals": [-1.5, *ticks], "ticktext": ["used", *map(str, ticks)],
        },
        "yaxis": {"autorange": "reversed", "showticklabels": len(labels) <= 40, "showgrid": False},
    }  # fmt: skip
    left = 150 if len(labels) <= 40 else 60  # room for row labels only when they are shown
    return style(figure([strip, table], layout), title, height=460, fixed_margin={"l": left, "r": 100, "b": 60})


def batch_token_bars(tokens: Sequence[str], counts: np.ndarray, title: str) -> dict:
    """How often each token of this batch was looked up (most frequent first)."""
    bars = trace("bar", x=list(tokens), y=counts, marker={"color": USED}, hovertemplate="%{x}: %{y}<extra></extra>")
    fig = figure([bars], {"xaxis": {"tickangle": -60}})  # a fixed angle: plotly.js need not measure labels to choose
    return style(
        fig, title, height=330, xaxis_title="token", yaxis_title="times in batch", fixed_margin={"b": 110}, half=True
    )
