"""Plotly figures as pure functions of numpy arrays and labels (no Streamlit): each is tested on its data.

Styled for a 1280x800 classroom projector: fonts of 15 px and more, the Okabe-Ito colour-blind-safe palette,
cividis for magnitudes and a red-blue diverging scale centred on zero for signed values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#000000")
NO_CATEGORY = "#9E9E9E"
USED, NOT_USED, PADDING = "#0072B2", "#D9D9D9", "#D55E00"
FROM_GRADIENT, FROM_STATE, FROM_RENORM = "#0072B2", "#E69F00", "#CC79A7"
MAGNITUDE = "cividis"
SIGNED = "RdBu_r"
FONT_SIZE, TITLE_SIZE = 15, 19


def category_colour(category: int) -> str:
    return NO_CATEGORY if category < 0 else OKABE_ITO[category % len(OKABE_ITO)]


FULL_WIDTH_CHARS, HALF_WIDTH_CHARS = 64, 30  # title characters that fit a full / half-width chart at 1024 px


def wrap_title(text: str, max_chars: int) -> str:
    """Plotly cuts a title at the chart's edge instead of wrapping it: break it at spaces into lines (<br>)."""
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > max_chars:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "<br>".join([*lines, line])


def _style(
    fig: go.Figure,
    title: str,
    height: int = 400,
    fixed_margin: dict | None = None,
    half: bool = False,
    **layout,
) -> go.Figure:
    """Title, fonts and margins in one layout update: axis ticks and titles inherit the font size.

    One update with nested dicts on purpose: plotly's per-axis and magic-underscore updates cost several ms
    each, and the Train page rebuilds its figures on every Step click. `fixed_margin` turns off plotly.js's
    automatic margins, which redraw a chart a second time in the browser (a third of its drawing time on
    the Train page): the margins given must then leave room for tick labels, legends and colour bars.
    """
    title = wrap_title(title, HALF_WIDTH_CHARS if half else FULL_WIDTH_CHARS)
    extra = 24 * title.count("<br>")  # room for the title's further lines
    margin = {"l": 70, "r": 20, "t": 60, "b": 55} | (fixed_margin or {})
    margin["t"] += extra
    update = {
        "title": {"text": title, "font": {"size": TITLE_SIZE}, "x": 0, "xanchor": "left"},
        "font": {"size": FONT_SIZE},
        "height": height + extra,
        "margin": margin | {"autoexpand": fixed_margin is None},
        "legend": {"font": {"size": FONT_SIZE}},
    }
    fig.update_layout(_nested(update, layout))
    return fig


_AXIS_PREFIXES = ("xaxis", "yaxis", "legend")


def _nested(base: dict, layout: dict) -> dict:
    """`base` updated with `layout`, whose magic-underscore keys (`xaxis_title="step"`) are turned into nested
    dicts here: plotly parses each such key on its own, several ms per Step click on the Train page."""
    for key, value in layout.items():
        prefix, _, rest = key.partition("_")
        if prefix in _AXIS_PREFIXES and rest:
            part = base.setdefault(prefix, {})
            part[rest] = {"text": value} if rest == "title" and isinstance(value, str) else value
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = base[key] | value
        else:
            base[key] = value
    return base


def _symmetric(values: np.ndarray) -> float:
    peak = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return peak if peak > 0 else 1.0


# ---------------------------------------------------------------- Train


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
    return _style(
        fig, "Loss per step", height=330, showlegend=False, fixed_margin={"l": 70, "b": 60},
        xaxis_title="step", yaxis_title="loss", half=True,
    )  # fmt: skip


def weight_heatmap(
    weight_rows: np.ndarray, row_labels: Sequence[str], used: np.ndarray, padding: np.ndarray, title: str
) -> go.Figure:
    """The embedding matrix (shown rows x D) as a heatmap, with a strip marking the rows used this step."""
    status = np.where(padding, 2, np.where(used, 1, 0))  # 0 not used, 1 used, 2 padding
    labels = list(row_labels)
    peak = _symmetric(weight_rows)
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
    return _style(fig, title, height=460, fixed_margin={"l": left, "r": 100, "b": 60})


def batch_token_bars(tokens: Sequence[str], counts: np.ndarray, title: str) -> go.Figure:
    """How often each token of this batch was looked up (most frequent first)."""
    fig = go.Figure(go.Bar(x=list(tokens), y=counts, marker_color=USED, hovertemplate="%{x}: %{y}<extra></extra>"))
    fig.update_layout(xaxis={"tickangle": -60})  # a fixed angle: plotly.js need not measure labels to choose
    return _style(
        fig, title, height=330, xaxis_title="token", yaxis_title="times in batch", fixed_margin={"b": 110}, half=True
    )


# ---------------------------------------------------------------- Gradient masks


def _row_axis(rows: np.ndarray) -> dict:
    """An x axis over row ids: linear for consecutive rows, else one evenly spaced slot per shown row (a sample
    of a big table would be hair-thin bars scattered over 0..V), in row order."""
    axis = {"title": {"text": "row (token id)"}}
    rows = np.asarray(rows)
    if len(rows) > 1 and np.any(np.diff(rows) != 1):
        axis |= {"type": "category", "categoryorder": "array", "categoryarray": rows.tolist(), "nticks": 12}
        axis["title"]["text"] = "row (token id), sampled"
    return axis


GROUP_COLOURS = {
    "looked_up_grad": USED,
    "looked_up_no_grad": PADDING,
    "grad_not_looked_up": "#56B4E9",
    "neither": NOT_USED,
}


def grad_mask_bars(
    rows: np.ndarray, labels: Sequence[str], counts: np.ndarray, groups: Sequence[tuple[str, str, np.ndarray]],
    title: str,
) -> go.Figure:  # fmt: skip
    """One bar per shown row: its count in the batch, coloured by its group (lookup x actual gradient).

    `groups` is (key, legend name, bool mask over the shown rows) per group; a group with no shown row gets no
    trace, so the legend names only groups that are present. A row looked up 0 times is a sliver, to be seen.
    """
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
    return _style(
        fig, title, height=380, barmode="overlay", bargap=0.1, xaxis=_row_axis(rows),
        yaxis_title="times in batch", showlegend=True,
        legend={"orientation": "h", "y": -0.28, "x": 0, "xanchor": "left", "yanchor": "top"},
    )  # fmt: skip


def gradient_heatmap(grads: np.ndarray, labels: Sequence[str], title: str) -> go.Figure:
    """The gradient of each touched row (rows x dims), signed."""
    peak = _symmetric(grads)
    fig = go.Figure(
        go.Heatmap(
            z=grads, y=list(labels), x=np.arange(grads.shape[1]), colorscale=SIGNED, zmin=-peak, zmax=peak,
            colorbar={"title": "grad", "thickness": 14}, hovertemplate="%{y}, dim %{x}: %{z:.2e}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_yaxes(autorange="reversed", type="category")
    return _style(fig, title, height=max(300, min(520, 90 + 18 * len(labels))), xaxis_title="dimension", half=True)


def contributions_heatmap(
    contribs: np.ndarray, positions: np.ndarray, token: str, sum_row: np.ndarray | None = None,
    sum_label: str = "sum = row gradient",
) -> go.Figure:  # fmt: skip
    """A token used k times: its k per-position contributions and, last, `sum_row` under `sum_label` (by default
    their sum; the page passes what the row's gradient really is, e.g. 0 when padding_idx drops them)."""
    total = contribs.sum(axis=0) if sum_row is None else np.asarray(sum_row)
    z = np.vstack([contribs, total[None, :]])
    labels = [f"position {p}" for p in positions] + [sum_label]
    peak = _symmetric(z)
    fig = go.Figure(
        go.Heatmap(
            z=z, y=labels, x=np.arange(z.shape[1]), colorscale=SIGNED, zmin=-peak, zmax=peak,
            colorbar={"title": "grad", "thickness": 14}, hovertemplate="%{y}, dim %{x}: %{z:.2e}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_yaxes(autorange="reversed", type="category")
    title = f"'{token}' ×{len(positions)}: its {len(positions)} contributions, then the row's"
    return _style(fig, title, height=max(260, min(480, 110 + 26 * len(labels))), xaxis_title="dimension", half=True)


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
    fig.update_xaxes(_row_axis(rows))
    fig.update_yaxes(title_text="gradient norm", row=1, col=1)
    fig.update_annotations(font_size=FONT_SIZE)
    return _style(fig, title, height=360)


# ---------------------------------------------------------------- Row updates

PART_COLOURS = {"grad": FROM_GRADIENT, "state": FROM_STATE, "decay": "#009E73", "renorm": FROM_RENORM}


def update_split_bars(
    rows: np.ndarray, labels: Sequence[str], parts: Sequence[tuple[str, str, np.ndarray]], title: str
) -> go.Figure:
    """Stacked signed bars per row, one trace per part of its move: (key, name, (n,) signed component along the
    move). barmode "relative": a negative part (it pulled against the move) is drawn below zero, and a row's
    bars add up to the length of its move."""
    text = np.asarray(labels, dtype=object)
    fig = go.Figure()
    for key, name, values in parts:
        fig.add_trace(
            go.Bar(x=rows, y=values, name=name, marker_color=PART_COLOURS[key], customdata=text,
                   hovertemplate="row %{x} %{customdata}: %{y:.3e}<extra>" + name + "</extra>")
        )  # fmt: skip
    return _style(
        fig, title, height=420, barmode="relative", xaxis=_row_axis(rows),
        yaxis_title="component along the move", showlegend=True,
        legend={"traceorder": "normal", "orientation": "h", "y": -0.28, "x": 0, "xanchor": "left", "yanchor": "top"},
    )  # fmt: skip


def update_raster(matrix: np.ndarray, row_labels: Sequence[str], col_steps: np.ndarray, title: str) -> go.Figure:
    """Rows x kept steps of update norms on a log colour scale; a blank (white) cell is a row that did not move."""
    moved = matrix > 0
    logs = np.where(moved, np.log10(np.where(moved, matrix, 1.0)), np.nan)  # a row that did not move: blank
    fig = go.Figure(
        go.Heatmap(
            z=logs, x=col_steps, y=list(row_labels), colorscale=MAGNITUDE, customdata=matrix,
            colorbar={"title": "log10 update", "thickness": 14}, hoverongaps=False,
            hovertemplate="%{y}, step %{x}: %{customdata:.2e}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_yaxes(autorange="reversed", type="category", showticklabels=len(row_labels) <= 40)
    return _style(fig, title, height=460, xaxis_title="step", yaxis_title="rows, most frequent token first")


def count_curve(steps: np.ndarray, counts: np.ndarray, title: str, y_title: str) -> go.Figure:
    fig = go.Figure(go.Scatter(x=steps, y=counts, mode="lines+markers", line={"color": FROM_STATE, "width": 2.5}))
    return _style(
        fig, title, height=330, xaxis_title="step", yaxis={"title": {"text": y_title}, "rangemode": "tozero"}, half=True
    )


def frequency_vs_movement(
    freq: np.ndarray, movement: np.ndarray, labels: Sequence[str], categories: np.ndarray,
    category_names: Sequence[str], title: str,
) -> go.Figure:  # fmt: skip
    """Each row's token frequency in the corpus against how far it moved in total (log-log).

    The caller passes only rows with freq > 0 and movement > 0 (a log axis has no 0) and counts the others in
    its caption. Ticks are plain numbers, never SI prefixes (plotly's default would write 1e-12 as "1p").
    """
    fig = go.Figure()
    text = np.asarray(labels, dtype=object)
    for c in sorted(set(np.asarray(categories).tolist())):
        mask = categories == c
        name = "no category" if c < 0 else category_names[c]
        fig.add_trace(
            go.Scatter(
                x=freq[mask], y=movement[mask], mode="markers", name=name,
                marker={"color": category_colour(c), "size": 9, "line": {"width": 0.5, "color": "white"}},
                customdata=text[mask], hovertemplate="%{customdata}: freq %{x:,}, moved %{y:.3g}<extra></extra>",
            )
        )  # fmt: skip
    return _style(
        fig, title, height=420,
        xaxis={"type": "log", "dtick": 1, "tickformat": ",", "title": {"text": "times in the corpus"}},
        yaxis={"type": "log", "tickformat": "~g", "exponentformat": "power", "title": {"text": "total movement"}},
        half=True,
    )  # fmt: skip
