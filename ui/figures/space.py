"""Figures of the Embedding space page: the table's rows laid out over the kept frames (with trails for chosen
rows), the rows shown and the scatter's title, and kNN category purity. Plain-data figures and frames
(ui.figures.style.figure): an animation of F frames x N points was thousands of validated plotly objects."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.rows import sample_rows
from ui.figures.style import FONT_SIZE, NO_CATEGORY, PADDING, USED, category_colour, figure, merge, plain, style, trace

MAX_TEXT_LABELS = 60  # points drawn with their word beside them; more only show it on hover
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
    return merge(fig, {"layout": {"margin": {"b": 190 + 30 * rows}}})  # the slider, then the legend


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
    if chance is not None:  # what plotly's add_hline(annotation_position="top left") writes
        shapes.append({"line": {"color": NO_CATEGORY, "dash": "dash"}, "type": "line", "x0": 0, "x1": 1,
                       "xref": "x domain", "y0": chance, "y1": chance, "yref": "y"})  # fmt: skip
        annotations.append({"font": {"size": FONT_SIZE}, "showarrow": False, "text": f"chance {chance:.0%}",
                            "x": 0, "xanchor": "left", "xref": "x domain", "y": chance, "yanchor": "bottom",
                            "yref": "y"})  # fmt: skip
    if marked_step is not None:  # add_vline
        shapes.append({"line": {"color": PADDING, "width": 2}, "type": "line", "x0": marked_step, "x1": marked_step,
                       "xref": "x", "y0": 0, "y1": 1, "yref": "y domain"})  # fmt: skip
    fig = figure(
        [curve], ({"shapes": shapes} if shapes else {}) | ({"annotations": annotations} if annotations else {})
    )
    return style(fig, "Category purity of 5 nearest neighbours", height=330,
                  xaxis_title="step", yaxis_title="purity", yaxis_range=[0, 1.02], half=True)  # fmt: skip
