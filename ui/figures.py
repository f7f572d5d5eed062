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


def _style(fig: go.Figure, title: str, height: int = 400, fixed_margin: dict | None = None, **layout) -> go.Figure:
    """Title, fonts and margins in one layout update: axis ticks and titles inherit the font size.

    One update with nested dicts on purpose: plotly's per-axis and magic-underscore updates cost several ms
    each, and the Train page rebuilds its figures on every Step click. `fixed_margin` turns off plotly.js's
    automatic margins, which redraw a chart a second time in the browser (a third of its drawing time on
    the Train page): the margins given must then leave room for tick labels, legends and colour bars.
    """
    margin = {"l": 70, "r": 20, "t": 60, "b": 55} | (fixed_margin or {})
    fig.update_layout(
        {
            "title": {"text": title, "font": {"size": TITLE_SIZE}, "x": 0, "xanchor": "left"},
            "font": {"size": FONT_SIZE},
            "height": height,
            "margin": margin | {"autoexpand": fixed_margin is None},
            "legend": {"font": {"size": FONT_SIZE}} | layout.pop("legend", {}),
        },
        **layout,
    )
    return fig


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
        xaxis_title="step", yaxis_title="loss",
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
    return _style(fig, title, height=330, xaxis_title="token", yaxis_title="times in batch", fixed_margin={"b": 110})


# ---------------------------------------------------------------- Gradient masks


def grad_mask_bars(
    rows: np.ndarray, labels: Sequence[str], counts: np.ndarray, grad_mask: np.ndarray, padding: np.ndarray, title: str
) -> go.Figure:
    """One bar per shown row: its count in the batch, coloured by whether its gradient is non-zero."""
    fig = go.Figure()
    groups = (
        ("got a gradient", grad_mask & ~padding, USED),
        ("padding (looked up, no gradient)", padding, PADDING),
        ("not used: no gradient", ~grad_mask & ~padding, NOT_USED),
    )
    for name, mask, colour in groups:
        heights = np.where(counts[mask] > 0, counts[mask], 0.15)  # a sliver, so rows with count 0 are visible
        fig.add_trace(
            go.Bar(
                x=rows[mask], y=heights, name=name, marker_color=colour, customdata=np.stack(
                    [np.asarray(labels, dtype=object)[mask], counts[mask]], axis=1
                ) if mask.any() else None,
                hovertemplate="row %{x} %{customdata[0]}: used %{customdata[1]}×<extra></extra>",
            )
        )  # fmt: skip
    return _style(
        fig, title, height=360, barmode="overlay", bargap=0.1, xaxis_title="row (token id)",
        yaxis_title="times in batch", legend={"orientation": "h", "y": -0.25, "font": {"size": FONT_SIZE}},
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
    return _style(fig, title, height=max(300, min(520, 90 + 18 * len(labels))), xaxis_title="dimension")


def contributions_heatmap(contribs: np.ndarray, positions: np.ndarray, token: str) -> go.Figure:
    """A token used k times: its k per-position contributions and, last, their sum (the row's gradient)."""
    total = contribs.sum(axis=0, keepdims=True)
    z = np.vstack([contribs, total])
    labels = [f"position {p}" for p in positions] + ["sum = row gradient"]
    peak = _symmetric(z)
    fig = go.Figure(
        go.Heatmap(
            z=z, y=labels, x=np.arange(z.shape[1]), colorscale=SIGNED, zmin=-peak, zmax=peak,
            colorbar={"title": "grad", "thickness": 14}, hovertemplate="%{y}, dim %{x}: %{z:.2e}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_yaxes(autorange="reversed", type="category")
    title = f"'{token}' ×{len(positions)}: {len(positions)} contributions and their sum"
    return _style(fig, title, height=max(260, min(480, 110 + 26 * len(labels))), xaxis_title="dimension")


def grad_norm_contrast(
    rows: np.ndarray, labels: Sequence[str], embedding_norm: np.ndarray, head_norm: np.ndarray, title: str
) -> go.Figure:
    """Per-row gradient norms side by side: the embedding (used rows only) and the untied head (every row)."""
    fig = make_subplots(
        rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
        subplot_titles=("embedding: only looked-up rows", "output head: every row"),
    )  # fmt: skip
    text = np.asarray(labels, dtype=object)
    for col, norms in ((1, embedding_norm), (2, head_norm)):
        colours = np.where(norms > 0, USED, NOT_USED)
        fig.add_trace(
            go.Bar(x=rows, y=norms, marker_color=colours, customdata=text, showlegend=False,
                   hovertemplate="row %{x} %{customdata}: %{y:.2e}<extra></extra>"),
            row=1, col=col,
        )  # fmt: skip
    fig.update_xaxes(title_text="row (token id)")
    fig.update_yaxes(title_text="gradient norm", row=1, col=1)
    fig.update_annotations(font_size=FONT_SIZE)
    return _style(fig, title, height=360)


# ---------------------------------------------------------------- Row updates


def update_split_bars(
    rows: np.ndarray,
    labels: Sequence[str],
    from_gradient: np.ndarray,
    from_state: np.ndarray,
    title: str,
    from_renorm: np.ndarray | None = None,
) -> go.Figure:
    """Stacked bars per row: the parts of its move due to its gradient, to optimizer state and, when max_norm
    rescaled rows this step, to that rescale."""
    text = np.asarray(labels, dtype=object)
    fig = go.Figure()
    parts = [("from its gradient", from_gradient, FROM_GRADIENT), ("from optimizer state", from_state, FROM_STATE)]
    if from_renorm is not None and np.any(from_renorm > 0):
        parts.append(("max_norm rescale (no gradient)", from_renorm, FROM_RENORM))
    for name, part, colour in parts:
        fig.add_trace(
            go.Bar(x=rows, y=part, name=name, marker_color=colour, customdata=text,
                   hovertemplate="row %{x} %{customdata}: %{y:.2e}<extra>" + name + "</extra>")
        )  # fmt: skip
    return _style(
        fig, title, height=400, barmode="stack", xaxis_title="row (token id)", yaxis_title="update norm",
        legend={"traceorder": "normal", "orientation": "h", "y": -0.22, "x": 0, "xanchor": "left", "yanchor": "top"},
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
    return _style(fig, title, height=330, xaxis_title="step", yaxis_title=y_title)


def frequency_vs_movement(
    freq: np.ndarray, movement: np.ndarray, labels: Sequence[str], categories: np.ndarray,
    category_names: Sequence[str], title: str,
) -> go.Figure:  # fmt: skip
    """Each row's token frequency in the corpus against how far it moved in total (log-log)."""
    fig = go.Figure()
    text = np.asarray(labels, dtype=object)
    for c in sorted(set(np.asarray(categories).tolist())):
        mask = categories == c
        name = "no category" if c < 0 else category_names[c]
        fig.add_trace(
            go.Scatter(
                x=np.maximum(freq[mask], 1), y=np.maximum(movement[mask], 1e-12), mode="markers", name=name,
                marker={"color": category_colour(c), "size": 9, "line": {"width": 0.5, "color": "white"}},
                customdata=text[mask], hovertemplate="%{customdata}: freq %{x}, moved %{y:.3g}<extra></extra>",
            )
        )  # fmt: skip
    fig.update_xaxes(type="log", dtick=1, title_text="times in the corpus")
    fig.update_yaxes(type="log", title_text="total movement")
    return _style(fig, title, height=420)


# ---------------------------------------------------------------- Embedding space


def _axis_range(values: np.ndarray) -> list[float]:
    low, high = float(np.min(values)), float(np.max(values))
    pad = 0.06 * (high - low) if high > low else 1.0
    return [low - pad, high + pad]


def embedding_animation(
    coords: np.ndarray,
    steps: Sequence[int],
    labels: Sequence[str],
    categories: np.ndarray,
    category_names: Sequence[str],
    trail_rows: Sequence[int] = (),
    start: int = -1,
    title: str = "",
) -> go.Figure:
    """Points (F, N, 2 or 3) animated over the kept frames: one trace per category, then one trail per chosen row.

    Every frame holds the same traces in the same order; a trail shows the row's path up to that frame.
    `start` is the frame shown before Play (default the last).
    """
    n_frames, _, n_dims = coords.shape
    start = start % n_frames
    cats = sorted(set(np.asarray(categories).tolist()))
    text = np.asarray(labels, dtype=object)
    scatter = go.Scatter3d if n_dims == 3 else go.Scatter

    def traces(f: int) -> list:
        out = []
        for c in cats:
            pts = coords[f][categories == c]
            xyz = {"x": pts[:, 0], "y": pts[:, 1]} | ({"z": pts[:, 2]} if n_dims == 3 else {})
            out.append(
                scatter(
                    **xyz, mode="markers", name="no category" if c < 0 else category_names[c],
                    text=text[categories == c], hovertemplate="%{text}<extra></extra>",
                    marker={"color": category_colour(c), "size": 5 if n_dims == 3 else 10,
                            "line": {"width": 0.5, "color": "white"}} ,
                )
            )  # fmt: skip
        for row in trail_rows:
            path = coords[: f + 1, row]
            xyz = {"x": path[:, 0], "y": path[:, 1]} | ({"z": path[:, 2]} if n_dims == 3 else {})
            out.append(
                scatter(
                    **xyz, mode="lines+markers+text", name=f"trail: {labels[row]}",
                    text=[""] * f + [labels[row]], textposition="top center", textfont={"size": 16},
                    line={"color": "#000000", "width": 2}, marker={"size": 4 if n_dims == 3 else 6, "color": "#000000"},
                    hovertemplate=labels[row] + "<extra></extra>",
                )
            )  # fmt: skip
        return out

    frames = [go.Frame(data=traces(f), name=str(steps[f])) for f in range(n_frames)]
    fig = go.Figure(data=traces(start), frames=frames)
    ranges = [_axis_range(coords[..., d]) for d in range(n_dims)]
    if n_dims == 3:
        fig.update_layout(scene={"xaxis": {"range": ranges[0]}, "yaxis": {"range": ranges[1]},
                                 "zaxis": {"range": ranges[2]}, "aspectmode": "cube"})  # fmt: skip
    else:
        fig.update_xaxes(range=ranges[0], zeroline=False)
        fig.update_yaxes(range=ranges[1], zeroline=False)
    play = {"frame": {"duration": 400, "redraw": n_dims == 3}, "transition": {"duration": 250}, "fromcurrent": True}
    fig.update_layout(
        updatemenus=[{
            "type": "buttons", "direction": "left", "x": 0, "y": -0.1, "xanchor": "left", "yanchor": "top",
            "pad": {"r": 10, "t": 10}, "font": {"size": FONT_SIZE},
            "buttons": [
                {"label": "▶ Play", "method": "animate", "args": [None, play]},
                {"label": "❚❚ Pause", "method": "animate",
                 "args": [[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}]},
            ],
        }],
        sliders=[{
            "active": start, "x": 0.22, "len": 0.78, "y": -0.1, "yanchor": "top", "pad": {"t": 40},
            "currentvalue": {"prefix": "step ", "font": {"size": FONT_SIZE}}, "font": {"size": 12},
            "steps": [{"label": str(s), "method": "animate",
                       "args": [[str(s)], {"frame": {"duration": 0, "redraw": n_dims == 3}, "mode": "immediate"}]}
                      for s in steps],
        }],
    )  # fmt: skip
    fig = _style(fig, title, height=600, legend={"itemsizing": "constant", "font": {"size": FONT_SIZE}})
    fig.update_layout(margin={"b": 130})
    return fig


def purity_curve(steps: np.ndarray, purity: np.ndarray, chance: float | None, marked_step: int | None) -> go.Figure:
    """kNN category purity over the kept frames, with the chance level."""
    fig = go.Figure(go.Scatter(x=steps, y=purity, mode="lines+markers", line={"color": USED, "width": 2.5}))
    if chance is not None:
        fig.add_hline(y=chance, line_dash="dash", line_color=NO_CATEGORY, annotation_text="chance",
                      annotation_font_size=FONT_SIZE)  # fmt: skip
    if marked_step is not None:
        fig.add_vline(x=marked_step, line_color=PADDING, line_width=2)
    return _style(fig, "Category purity of 5 nearest neighbours", height=330,
                  xaxis_title="step", yaxis_title="purity", yaxis_range=[0, 1.02])  # fmt: skip
