"""Figures of the Gradient masks page: which rows got a gradient (lookup x actual gradient), the rows' gradients,
a token's per-position contributions, and the embedding table's gradient norms beside the untied head's. Plain-data
figures (ui.figures.style.figure), built on every rerun of the page."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ui.figures.style import (
    FONT_SIZE,
    LEGEND_BELOW_ROWS,
    NOT_USED,
    PADDING,
    SIGNED,
    USED,
    colorscale,
    figure,
    panel_title,
    row_axis,
    style,
    symmetric,
    trace,
)

GROUP_COLOURS = {"looked_up_grad": USED, "looked_up_no_grad": PADDING, "grad_not_looked_up": "#56B4E9",
                 "neither": NOT_USED}  # fmt: skip


def grad_mask_bars(
    rows: np.ndarray, labels: Sequence[str], counts: np.ndarray, groups: Sequence[tuple[str, str, np.ndarray]],
    title: str,
) -> dict:  # fmt: skip
    """One bar per shown row: its count in the batch, coloured by its group (key, legend name, mask over the shown
    rows); a group with no shown row gets no trace. A row looked up 0 times is a sliver, to be seen."""
    data = []
    text = np.asarray(labels, dtype=object)
    for key, name, mask in groups:
        if not mask.any():
            continue
        heights = np.where(counts[mask] > 0, counts[mask], 0.15)
        data.append(
            trace(
                "bar", x=rows[mask], y=heights, name=name, marker={"color": GROUP_COLOURS[key]},
                customdata=np.stack([text[mask], counts[mask]], axis=1),
                hovertemplate="row %{x} %{customdata[0]}: looked up %{customdata[1]}×<extra>" + name + "</extra>",
            )
        )  # fmt: skip
    return style(
        figure(data), title, height=380, barmode="overlay", bargap=0.1, xaxis=row_axis(rows),
        yaxis_title="times in batch", showlegend=True, legend=LEGEND_BELOW_ROWS,
    )  # fmt: skip


def _signed_rows(z: np.ndarray, labels: Sequence[str], title: str, height: int) -> dict:
    """Rows x dimensions of gradient values on a diverging scale centred on 0, the first row on top."""
    peak = symmetric(z)
    heat = trace(
        "heatmap", z=z, y=list(labels), x=np.arange(z.shape[1]), colorscale=colorscale(SIGNED), zmin=-peak,
        zmax=peak, colorbar={"title": {"text": "grad"}, "thickness": 14},
        hovertemplate="%{y}, dim %{x}: %{z:.2e}<extra></extra>",
    )  # fmt: skip
    rows = list(labels)  # a tick on every row: plotly's own choice labels every other one once rows are close
    fig = figure([heat], {"yaxis": {"autorange": "reversed", "type": "category", "tickmode": "array",
                                    "tickvals": rows, "ticktext": rows}})  # fmt: skip
    return style(fig, title, height=height, xaxis_title="dimension", half=True)


ROW_PX = 20  # a heatmap row: a 15 px label and the gap beside the next one (display mode makes them taller)


def gradient_heatmap(grads: np.ndarray, labels: Sequence[str], title: str) -> dict:
    """The gradient of each touched row (rows x dims), signed."""
    return _signed_rows(grads, labels, title, max(300, 90 + ROW_PX * len(labels)))


def contributions_heatmap(
    contribs: np.ndarray, names: Sequence[str], token: str, sum_row: np.ndarray | None = None,
    sum_label: str = "sum = row gradient",
) -> dict:  # fmt: skip
    """A token used k times: its k lookups' contributions under `names` (core.rows.lookup_names) and, last,
    `sum_row` under `sum_label` (by default their sum; the page passes what the row's gradient really is, e.g. 0
    when padding_idx drops them)."""
    total = contribs.sum(axis=0) if sum_row is None else np.asarray(sum_row)
    z = np.vstack([contribs, total[None, :]])
    labels = [*names, sum_label]
    title = f"'{token}' ×{len(names)}: its {len(names)} contributions, then the row's"
    return _signed_rows(z, labels, title, max(260, 110 + 26 * len(labels)))


def grad_norm_contrast(
    rows: np.ndarray, labels: Sequence[str], embedding_norm: np.ndarray, head_norm: np.ndarray, title: str,
    panel_titles: tuple[str, str] = ("embedding table", "output head"), y_title: str = "gradient norm",
) -> dict:  # fmt: skip
    """Per-row gradient norms side by side: the embedding table's and the untied head's (the two panels, shared y
    axis and panel titles that plotly's make_subplots(1, 2, shared_yaxes=True, horizontal_spacing=0.04) lays out).
    A tied head passes its two paths' masks (1 or 0) with `y_title` saying so."""
    text = np.asarray(labels, dtype=object)
    data = [
        trace("bar", x=rows, y=norms, marker={"color": np.where(norms > 0, USED, NOT_USED)}, customdata=text,
              showlegend=False, hovertemplate="row %{x} %{customdata}: %{y:.2e}<extra></extra>", xaxis=x, yaxis=y)
        for norms, x, y in ((embedding_norm, "x", "y"), (head_norm, "x2", "y2"))
    ]  # fmt: skip
    domains = ([0.0, 0.48], [0.52, 1.0])
    layout = {
        "xaxis": {"anchor": "y", "domain": domains[0]} | row_axis(rows),
        "yaxis": {"anchor": "x", "domain": [0.0, 1.0], "title": {"text": y_title}},
        "xaxis2": {"anchor": "y2", "domain": domains[1]} | row_axis(rows),
        "yaxis2": {"anchor": "x2", "domain": [0.0, 1.0], "matches": "y", "showticklabels": False},
        "annotations": [
            {"font": {"size": FONT_SIZE}, "showarrow": False, "text": panel_title(text_, d[1] - d[0]),
             "x": sum(d) / 2, "xanchor": "center", "xref": "paper", "y": 1.0, "yanchor": "bottom", "yref": "paper"}
            for text_, d in zip(panel_titles, domains, strict=True)
        ],
    }  # fmt: skip
    return style(figure(data, layout), title, height=360)
