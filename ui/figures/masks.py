"""Figures of the Gradient masks page: which rows got a gradient (lookup x actual gradient), the rows' gradients,
a token's per-position contributions, and the embedding table's gradient norms beside the untied head's."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.figures.style import FONT_SIZE, LEGEND_BELOW_ROWS, NOT_USED, PADDING, SIGNED, USED, row_axis, style, symmetric

GROUP_COLOURS = {"looked_up_grad": USED, "looked_up_no_grad": PADDING, "grad_not_looked_up": "#56B4E9",
                 "neither": NOT_USED}  # fmt: skip


def grad_mask_bars(
    rows: np.ndarray, labels: Sequence[str], counts: np.ndarray, groups: Sequence[tuple[str, str, np.ndarray]],
    title: str,
) -> go.Figure:  # fmt: skip
    """One bar per shown row: its count in the batch, coloured by its group (key, legend name, mask over the shown
    rows); a group with no shown row gets no trace. A row looked up 0 times is a sliver, to be seen."""
    fig = go.Figure()
    text = np.asarray(labels, dtype=object)
    for key, name, mask in groups:
        if not mask.any():
            continue
        heights = np.where(counts[mask] > 0, counts[mask], 0.15)
        fig.add_trace(
            go.Bar(
                x=rows[mask], y=heights, name=name, marker_color=GROUP_COLOURS[key],
                customdata=np.stack([text[mask], counts[mask]], axis=1),
                hovertemplate="row %{x} %{customdata[0]}: looked up %{customdata[1]}×<extra>" + name + "</extra>",
            )
        )  # fmt: skip
    return style(
        fig, title, height=380, barmode="overlay", bargap=0.1, xaxis=row_axis(rows),
        yaxis_title="times in batch", showlegend=True, legend=LEGEND_BELOW_ROWS,
    )  # fmt: skip


def _signed_rows(z: np.ndarray, labels: Sequence[str], title: str, height: int) -> go.Figure:
    """Rows x dimensions of gradient values on a diverging scale centred on 0, the first row on top."""
    peak = symmetric(z)
    fig = go.Figure(
        go.Heatmap(
            z=z, y=list(labels), x=np.arange(z.shape[1]), colorscale=SIGNED, zmin=-peak, zmax=peak,
            colorbar={"title": "grad", "thickness": 14}, hovertemplate="%{y}, dim %{x}: %{z:.2e}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_yaxes(autorange="reversed", type="category")
    return style(fig, title, height=height, xaxis_title="dimension", half=True)


def gradient_heatmap(grads: np.ndarray, labels: Sequence[str], title: str) -> go.Figure:
    """The gradient of each touched row (rows x dims), signed."""
    return _signed_rows(grads, labels, title, max(300, min(520, 90 + 18 * len(labels))))


def contributions_heatmap(
    contribs: np.ndarray, positions: np.ndarray, token: str, sum_row: np.ndarray | None = None,
    sum_label: str = "sum = row gradient",
) -> go.Figure:  # fmt: skip
    """A token used k times: its k per-position contributions and, last, `sum_row` under `sum_label` (by default
    their sum; the page passes what the row's gradient really is, e.g. 0 when padding_idx drops them)."""
    total = contribs.sum(axis=0) if sum_row is None else np.asarray(sum_row)
    z = np.vstack([contribs, total[None, :]])
    labels = [f"position {p}" for p in positions] + [sum_label]
    title = f"'{token}' ×{len(positions)}: its {len(positions)} contributions, then the row's"
    return _signed_rows(z, labels, title, max(260, min(480, 110 + 26 * len(labels))))


def grad_norm_contrast(
    rows: np.ndarray, labels: Sequence[str], embedding_norm: np.ndarray, head_norm: np.ndarray, title: str,
    panel_titles: tuple[str, str] = ("embedding table", "output head"),
) -> go.Figure:  # fmt: skip
    """Per-row gradient norms side by side: the embedding table's and the untied head's."""
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04, subplot_titles=panel_titles)
    text = np.asarray(labels, dtype=object)
    for col, norms in ((1, embedding_norm), (2, head_norm)):
        colours = np.where(norms > 0, USED, NOT_USED)
        fig.add_trace(
            go.Bar(x=rows, y=norms, marker_color=colours, customdata=text, showlegend=False,
                   hovertemplate="row %{x} %{customdata}: %{y:.2e}<extra></extra>"),
            row=1, col=col,
        )  # fmt: skip
    fig.update_xaxes(row_axis(rows))
    fig.update_yaxes(title_text="gradient norm", row=1, col=1)
    fig.update_annotations(font_size=FONT_SIZE)
    return style(fig, title, height=360)
