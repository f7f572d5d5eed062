"""Figures of the Compare page (optimizers side by side on the same batches) and the 2-D scatter panels it
shares with the Export page: one line style per member, so curves that coincide (Adam, AdamW) stay visible."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.compare import Series
from ui.figures.style import (
    FONT_SIZE,
    LEGEND_BELOW,
    LEGEND_BELOW_HALF,
    OKABE_ITO,
    category_colour,
    clear_corner,
    panel_title,
    plain,
    style,
)

# Members whose curves coincide (Adam and AdamW without decay) stay apart: each its own colour, dash and marker
DASHES = ("solid", "dash", "dot", "dashdot")
SYMBOLS = ("circle", "square-open", "diamond", "triangle-up-open")  # open and larger, filled and smaller: two markers
MARKER_SIZES = (10, 14, 9, 14)  # on the same point both show (the open one's outline around the filled one)
MEMBER_COLOURS = (OKABE_ITO[3], OKABE_ITO[4], OKABE_ITO[5], OKABE_ITO[7])  # blue, vermillion, pink, black: no
# orange (the optimizer state's colour elsewhere) and no yellow (#F0E442 is faint on white)
MARKERS_SHOWN = 12  # markers per curve: enough to tell two coinciding curves apart, few enough to read the line
# A legend entry of a half-width chart: its symbol and about this many characters fit a 1024 px projector's half
# column (~255 px at the legend's 13 px); a longer label is cut at the chart's edge (plotly does not wrap it)
HALF_LEGEND_CHARS = 30
MOVED = ": moved"  # compare_counts' legend entry: the member's label and this


def legends_fit_half(labels: Sequence[str]) -> bool:
    """Whether Compare's count charts can sit side by side: every member's legend entry fits a half column (the
    longest are compare_counts' 'label: moved')."""
    return max((len(label) for label in labels), default=0) + len(MOVED) <= HALF_LEGEND_CHARS


def _count_axis(title: str, series: Sequence[Series], fields: Sequence[str]) -> dict:
    """A y axis counting rows: whole-number ticks where the counts span only a few rows (plotly's own choice
    there, 58, 58.5, 59, reads as half rows)."""
    values = [v for s in series for f in fields for v in getattr(s, f)]
    axis = {"title": {"text": title}}
    if values and max(values) - min(values) <= 5:
        axis["dtick"] = 1
    return axis


def _member_colour(i: int) -> str:
    return MEMBER_COLOURS[i % len(MEMBER_COLOURS)]


def _member_line(i: int) -> dict:
    return {"color": _member_colour(i), "width": 2.5, "dash": DASHES[i % len(DASHES)]}


def _member_marker(i: int) -> dict:
    symbol, size = SYMBOLS[i % len(SYMBOLS)], MARKER_SIZES[i % len(MARKER_SIZES)]
    colour = _member_colour(i)
    return {"symbol": symbol, "size": size, "color": colour, "maxdisplayed": MARKERS_SHOWN, "line": {"width": 2}}


def _member_curves(labels: Sequence[str], series: Sequence[Series], field: str) -> go.Figure:
    fig = go.Figure()
    for i, (label, s) in enumerate(zip(labels, series, strict=True)):
        fig.add_trace(
            go.Scatter(x=s.steps, y=getattr(s, field), mode="lines+markers", name=label, line=_member_line(i),
                       marker=_member_marker(i))
        )  # fmt: skip
    return fig


def compare_loss(
    labels: Sequence[str],
    series: Sequence[Series],
    guesses: Sequence[tuple[float, str]],
    same_batches: bool = True,
) -> go.Figure:
    """Each member's loss per step on one chart, with each distinct blind guess (loss, its name: ln V, negative
    sampling's (k+1) ln 2) dashed."""
    fig = _member_curves(labels, series, "loss")
    curves = [(s.steps, s.loss) for s in series]
    taken = None
    for value, what in guesses:  # each label where no curve is; two close lines: their labels at opposite ends
        corner = clear_corner(curves, value, prefer="right" if taken != "right" else "left")
        if corner["xanchor"] == taken:
            corner = corner | {"x": 1 - corner["x"], "xanchor": "left" if taken == "right" else "right"}
        taken = corner["xanchor"]
        fig.add_hline(y=value, line={"dash": "dash", "color": "#777777"})
        fig.add_annotation(text=f"{what}: a blind guess", showarrow=False, xref="x domain", yref="y", y=value,
                           font={"color": "#777777"}, **corner)  # fmt: skip
    return style(
        fig,
        "Loss per step, same batches" if same_batches else "Loss per step, same text",
        height=360,
        xaxis_title="step",
        yaxis_title="loss",
        legend=LEGEND_BELOW,
    )


def compare_counts(labels: Sequence[str], series: Sequence[Series], half: bool = True) -> go.Figure:
    """Per step and member: rows with a gradient (dotted) and rows that moved (solid). One legend entry a member
    (the title says which line is which; clicking it hides both): two a member ran into the x axis's title.
    `half`: drawn in a half column (legends_fit_half)."""
    fig = go.Figure()
    for i, (label, s) in enumerate(zip(labels, series, strict=True)):
        colour = _member_colour(i)
        fig.add_trace(go.Scatter(x=s.steps, y=s.moved_rows, mode="lines+markers", name=f"{label}{MOVED}",
                                 line={"color": colour, "width": 2.5}, marker=_member_marker(i),
                                 legendgroup=label))  # fmt: skip
        fig.add_trace(go.Scatter(x=s.steps, y=s.grad_rows, mode="lines", name=f"{label}: gradient",
                                 line={"color": colour, "width": 2, "dash": "dot"}, legendgroup=label,
                                 showlegend=False))  # fmt: skip
    return style(
        fig, "Rows with a gradient (dotted), rows moved", height=380, xaxis_title="step",
        yaxis=_count_axis("rows", series, ("moved_rows", "grad_rows")), legend=LEGEND_BELOW_HALF, half=half,
    )  # fmt: skip


def compare_moved_without_grad(labels: Sequence[str], series: Sequence[Series], half: bool = True) -> go.Figure:
    """Per step and member: how many rows moved although they got no gradient. `half`: as compare_counts."""
    return style(
        _member_curves(labels, series, "moved_without_grad"), "Rows that moved without a gradient", height=360,
        xaxis_title="step", yaxis=_count_axis("rows", series, ("moved_without_grad",)), legend=LEGEND_BELOW_HALF,
        half=half,
    )  # fmt: skip


def compare_row_trajectory(
    labels: Sequence[str], trajectories: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], token: str
) -> go.Figure:
    """One row's update norm per step under each member; a filled marker where the row had a gradient."""
    fig = go.Figure()
    for i, (label, (steps, norms, had_grad)) in enumerate(zip(labels, trajectories, strict=True)):
        colour = _member_colour(i)
        marker = {"size": 8, "color": np.where(had_grad, colour, "white"), "line": {"color": colour, "width": 1.5},
                  "symbol": SYMBOLS[i % len(SYMBOLS)]}  # fmt: skip
        fig.add_trace(
            go.Scatter(x=steps, y=norms, mode="lines+markers", name=label, line=_member_line(i), marker=marker)
        )
    title = f"Row '{plain(token)}': how far it moved each step (filled: it had a gradient)"
    return style(fig, title, height=360, xaxis_title="step", yaxis_title="update norm", legend=LEGEND_BELOW)


def scatter_panels(
    panel_titles: Sequence[str],
    coords: Sequence[np.ndarray],
    labels: Sequence[str],
    categories: np.ndarray,
    category_names: Sequence[str],
    title: str,
) -> go.Figure:
    """One 2-D scatter per panel (each (N, 2)), points coloured by category, a legend entry per category once.
    Panel titles are broken into lines that fit their panel: plotly would run them into each other."""
    n = len(coords)
    titles = [panel_title(t, 1 / max(n, 1)) for t in panel_titles]
    fig = make_subplots(rows=1, cols=n, subplot_titles=titles, horizontal_spacing=0.04)
    text = np.asarray(labels, dtype=object)
    categories = np.asarray(categories)
    for col, xy in enumerate(coords, start=1):
        for c in sorted(set(categories.tolist())):
            mask = categories == c
            fig.add_trace(
                go.Scatter(
                    x=xy[mask, 0], y=xy[mask, 1], mode="markers", text=text[mask],
                    hovertemplate="%{text}<extra></extra>", name="no category" if c < 0 else category_names[c],
                    legendgroup=str(c), showlegend=col == 1,
                    marker={"color": category_colour(c), "size": 8, "line": {"width": 0.5, "color": "white"}},
                ),
                row=1, col=col,
            )  # fmt: skip
    fig.update_annotations(font_size=FONT_SIZE)
    fig.update_xaxes(showticklabels=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, zeroline=False)
    return style(fig, title, height=420, legend={"orientation": "h", "y": -0.05, "x": 0, "yanchor": "top"})
