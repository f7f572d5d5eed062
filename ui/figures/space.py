"""Figures of the Embedding space page: the table's rows laid out over the kept frames (with trails for chosen
rows), the rows shown and the scatter's title, and kNN category purity. Plain-data figures and frames
(ui.figures.style.figure): an animation of F frames x N points was thousands of validated plotly objects."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from core.rows import sample_rows
from ui.figures.style import (
    FONT_SIZE,
    NO_CATEGORY,
    PADDING,
    USED,
    category_colour,
    clear_corner,
    figure,
    merge,
    plain,
    style,
    trace,
)

PURITY_RANGE = (0.0, 1.02)  # the purity axis: 0 to 1, with room for a marker at 1

MAX_TEXT_LABELS = 60  # points drawn with their word beside them; more only show it on hover
LABEL_PX, HEAD_LABEL_PX = 12, 17  # a point's word; a trail head's
LABEL_PLOT_PX = 268  # the plot's width on a phone (390 px: Streamlit's padding, the figure's side margins)
# Trails: each its own colour and dash, so two trails stay apart even over points of the same colour.
TRAIL_COLOURS = ("#000000", "#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00")
TRAIL_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def shown_rows(n_rows: int, max_points: int, laid_out: np.ndarray | None, trail: Sequence[int]) -> np.ndarray:
    """Sorted int64 rows to draw: all when they fit, else `trail` plus evenly spaced others, all among `laid_out`
    (the rows the layout placed; None = every row). Trail rows that were not laid out are left out."""
    trail = np.asarray(trail, dtype=np.int64)
    if laid_out is None:
        return sample_rows(n_rows, max_points, keep=trail)
    laid_out = np.asarray(laid_out, dtype=np.int64)
    where = np.searchsorted(laid_out, trail)
    found = where[(where < len(laid_out)) & (laid_out[np.minimum(where, len(laid_out) - 1)] == trail)]
    return laid_out[sample_rows(len(laid_out), max_points, keep=found)]


def scatter_title(method: str, n_shown: int, n_rows: int, n_frames: int, categories: np.ndarray) -> str:
    """What the scatter shows, counted from the rows it is given."""
    rows = f"all {n_rows:,} rows" if n_shown == n_rows else f"{n_shown:,} of {n_rows:,} rows"
    cats = np.asarray(categories)
    if cats.size and (cats >= 0).all():
        colour = ", coloured by category"
    elif (cats >= 0).any():
        colour = ", coloured by category (grey: no category)"
    else:
        colour = " (no categories: grey points)"
    frames = "1 kept step" if n_frames == 1 else f"{n_frames} kept steps"
    return f"{method} of {rows} at {frames}{colour}"


def _xyz(points: np.ndarray) -> dict:
    return {"x": points[:, 0], "y": points[:, 1]} | ({"z": points[:, 2]} if points.shape[1] == 3 else {})


def embedding_animation(
    coords: np.ndarray,
    steps: Sequence[int],
    labels: Sequence[str],
    categories: np.ndarray,
    category_names: Sequence[str],
    trail_rows: Sequence[int] = (),
    start: int = -1,
    title: str = "",
    max_text_labels: int = MAX_TEXT_LABELS,
) -> dict:
    """Points (F, N, 2 or 3) animated over the kept frames, `start` shown before Play (default the last).

    Traces, the same in every frame, in order: one per category present ("no category" for -1), then per trail row
    its path so far (`trail: word`, length F, the frames after the current one NaN so points keep their index) and
    its head (one point, text = word). Points show their word as text when at most `max_text_labels`."""
    n_frames, n_points, n_dims = coords.shape
    start = start % n_frames
    categories = np.asarray(categories)
    cats = sorted(set(categories.tolist()))
    labels = [plain(label) for label in labels]
    text = np.asarray(labels, dtype=object)
    kind = "scatter3d" if n_dims == 3 else "scatter"
    show_text = n_points <= max_text_labels
    point_size = 5 if n_dims == 3 else 10

    def traces(f: int) -> list:
        out = []
        for c in cats:
            members = categories == c
            out.append(
                trace(
                    kind, **_xyz(coords[f][members]), mode="markers+text" if show_text else "markers",
                    name="no category" if c < 0 else category_names[c], legendgroup=f"cat{c}",
                    text=text[members], hovertemplate="%{text}<extra></extra>",
                    textposition="top center", textfont={"size": 12, "color": "#444444"},
                    marker={"color": category_colour(c), "size": point_size, "line": {"width": 0.5, "color": "white"}},
                )
            )  # fmt: skip
        for i, row in enumerate(trail_rows):
            colour, dash = TRAIL_COLOURS[i % len(TRAIL_COLOURS)], TRAIL_DASHES[i % len(TRAIL_DASHES)]
            path = coords[:, row].astype(float).copy()  # (F, n)
            path[f + 1 :] = np.nan  # not walked yet: same array length in every frame
            out.append(
                trace(
                    kind, **_xyz(path), mode="lines+markers", name=f"trail: {labels[row]}", legendgroup=f"trail{i}",
                    line={"color": colour, "width": 3, "dash": dash}, connectgaps=False,
                    marker={"size": 3 if n_dims == 3 else 5, "color": colour},
                    hovertemplate=f"{labels[row]}<extra></extra>",
                )
            )  # fmt: skip
            out.append(
                trace(
                    kind, **_xyz(coords[f, row][None, :]), mode="markers+text", name=labels[row],
                    legendgroup=f"trail{i}", showlegend=False, text=[labels[row]], textposition="top center",
                    textfont={"size": 17, "color": colour} | ({} if n_dims == 3 else {"shadow": "auto", "weight": 700}),
                    hovertemplate=f"{labels[row]}<extra></extra>",
                    marker={"size": 9 if n_dims == 3 else 15, "color": colour, "symbol": "diamond",
                            "line": {"width": 1.5, "color": "white"}},
                )
            )  # fmt: skip
        return out

    frames = [{"data": traces(f), "name": str(steps[f])} for f in range(n_frames)]
    fig = figure(traces(start), frames=frames)
    ranges = [_axis_range(coords[..., d]) for d in range(n_dims)]
    if n_dims == 3:
        fig["layout"]["scene"] = {"xaxis": {"range": ranges[0]}, "yaxis": {"range": ranges[1]},
                                  "zaxis": {"range": ranges[2]}, "aspectmode": "cube"}  # fmt: skip
    else:
        fig["layout"] |= {"xaxis": {"range": ranges[0], "zeroline": False},
                          "yaxis": {"range": ranges[1], "zeroline": False}}  # fmt: skip
    play = {"frame": {"duration": 400, "redraw": n_dims == 3}, "transition": {"duration": 250}, "fromcurrent": True}
    fig["layout"] |= dict(
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
    legend = {
        "itemsizing": "constant",
        "font": {"size": FONT_SIZE},
        "orientation": "h",
        "x": 0,
        "xanchor": "left",
        "yref": "container",
        "y": 0,
        "yanchor": "bottom",
    }  # under the slider: at the side it took 40% of a phone
    fig = style(fig, title, height=600, legend=legend)
    rows = 1 + (len(cats) + len(trail_rows)) // 3  # legend rows, three entries a row on a phone
    fig = merge(fig, {"layout": {"margin": {"b": 190 + 30 * rows}}})  # the slider, then the legend
    if show_text and n_dims == 2:
        thin_labels(fig)
    return fig


def labels_thinned(fig: dict) -> bool:
    """Whether `thin_labels` left some point of the figure without its word on screen."""
    frames = [fig["data"], *(frame["data"] for frame in fig.get("frames") or ())]
    return any(isinstance(t.get("texttemplate"), list) and "" in t["texttemplate"] for data in frames for t in data)


def label_boxes(x: np.ndarray, y: np.ndarray, half: np.ndarray, font_px: float, scale: tuple) -> np.ndarray:
    """(N, 4) boxes (left, right, bottom, top) in screen px of words `half` px half-wide drawn above their points
    (textposition "top center"), `scale` = px per data unit along x and y."""
    px, py = np.asarray(x, dtype=float) * scale[0], np.asarray(y, dtype=float) * scale[1]
    return np.stack([px - half, px + half, py + 5, py + 5 + font_px + 6], axis=1)


def half_widths(words: Sequence[str], font_px: float) -> np.ndarray:
    """Half the width in px of each word at `font_px` (0.6 em a character), 4 px between words."""
    return (0.6 * font_px * np.array([len(html.unescape(str(w))) for w in words], dtype=float) + 8) / 2


def overlaps(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(N, M) whether box i of `boxes` overlaps box j of `others`."""
    b, o = boxes[:, None, :], others[None, :, :]
    return (b[..., 0] < o[..., 1]) & (o[..., 0] < b[..., 1]) & (b[..., 2] < o[..., 3]) & (o[..., 2] < b[..., 3])


def thin_labels(fig: dict, plot_px: int = LABEL_PLOT_PX) -> None:
    """Each frame's point words only where they overlap no word kept before them (greedily, in row order, after the
    trail heads' words) on a plot `plot_px` wide, so that they do not pile up on a phone: the others keep their word
    for hover (texttemplate ""). In place; the wall restyles its labels itself (ui.display)."""
    layout = fig["layout"]
    (x0, x1), (y0, y1) = layout["xaxis"]["range"], layout["yaxis"]["range"]
    plot_h = layout["height"] - layout["margin"]["t"] - layout["margin"]["b"]
    scale = (plot_px / (x1 - x0), max(plot_h, 100) / (y1 - y0))
    halves: dict[str, np.ndarray] = {}  # a trace's words are the same in every frame

    def boxes_of(traces: list[dict], font_px: float) -> np.ndarray:
        for t in traces:
            if t["name"] not in halves:
                halves[t["name"]] = half_widths(t["text"], font_px)
        return np.concatenate(
            [label_boxes(t["x"], t["y"], halves[t["name"]], font_px, scale) for t in traces] or [np.zeros((0, 4))]
        )

    for data in [fig["data"], *(frame["data"] for frame in fig["frames"])]:
        labelled = [t for t in data if "text" in t["mode"]]
        kept = boxes_of([t for t in labelled if t["legendgroup"].startswith("trail")], HEAD_LABEL_PX)  # the heads
        points = [t for t in labelled if t["legendgroup"].startswith("cat")]
        boxes = boxes_of(points, LABEL_PX)
        blocked = ~np.isfinite(boxes).all(axis=1) | overlaps(boxes, kept).any(axis=1)
        among = overlaps(boxes, boxes)
        show = np.zeros(len(boxes), dtype=bool)
        for i in range(len(boxes)):
            if not blocked[i]:
                show[i] = True
                blocked |= among[i]
        start = 0
        for t in points:
            t["texttemplate"] = np.where(show[start : start + len(t["text"])], "%{text}", "").tolist()
            start += len(t["text"])


def _axis_range(values: np.ndarray) -> list[float]:
    """The finite values' range with a margin (rows not laid out are NaN)."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return [-1.0, 1.0]
    low, high = float(finite.min()), float(finite.max())
    pad = 0.06 * (high - low) if high > low else 1.0
    return [low - pad, high + pad]


def purity_curve(steps: np.ndarray, purity: np.ndarray, chance: float | None, marked_step: int | None) -> dict:
    """kNN category purity over the kept frames, with the chance level and the step the page is looking at."""
    curve = trace("scatter", x=steps, y=purity, mode="lines+markers", name="purity", line={"color": USED, "width": 2.5})
    shapes, annotations = [], []
    if chance is not None:  # what plotly's add_hline writes, its label where the curve is not
        shapes.append({"line": {"color": NO_CATEGORY, "dash": "dash"}, "type": "line", "x0": 0, "x1": 1,
                       "xref": "x domain", "y0": chance, "y1": chance, "yref": "y"})  # fmt: skip
        annotations.append({"font": {"size": FONT_SIZE}, "showarrow": False, "text": f"chance {chance:.0%}",
                            "xref": "x domain", "y": chance, "yref": "y",
                            **clear_corner([(steps, purity)], chance, PURITY_RANGE, prefer="left")})  # fmt: skip
    if marked_step is not None:  # add_vline
        shapes.append({"line": {"color": PADDING, "width": 2}, "type": "line", "x0": marked_step, "x1": marked_step,
                       "xref": "x", "y0": 0, "y1": 1, "yref": "y domain"})  # fmt: skip
    fig = figure(
        [curve], ({"shapes": shapes} if shapes else {}) | ({"annotations": annotations} if annotations else {})
    )
    return style(fig, "Category purity of 5 nearest neighbours", height=330,
                  xaxis_title="step", yaxis_title="purity", yaxis_range=list(PURITY_RANGE), half=True)  # fmt: skip
