"""Figures of the Row updates page: the split of each row's move into its parts, update norms over the kept
steps, how many rows moved without a gradient, and how far each row moved against its token's frequency.
Plain-data figures (ui.figures.style.figure), built on every rerun of the page."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ui.figures.style import (
    FROM_STATE,
    LEGEND_BELOW_HALF,
    LEGEND_BELOW_ROWS,
    MAGNITUDE,
    PART_COLOURS,
    category_colour,
    colorscale,
    figure,
    row_axis,
    style,
    trace,
)


def update_split_bars(
    rows: np.ndarray, labels: Sequence[str], parts: Sequence[tuple[str, str, np.ndarray]], title: str
) -> dict:
    """Stacked signed bars per row, a trace per part of its move (key, name, (n,) component along the move): a part
    that pulled against the move is drawn below zero (barmode "relative"), and a row's bars add up to its move."""
    text = np.asarray(labels, dtype=object)
    data = [
        trace("bar", x=rows, y=values, name=name, marker={"color": PART_COLOURS[key]}, customdata=text,
              hovertemplate="row %{x} %{customdata}: %{y:.3e}<extra>" + name + "</extra>")
        for key, name, values in parts
    ]  # fmt: skip
    return style(
        figure(data), title, height=420, barmode="relative", xaxis=row_axis(rows),
        yaxis_title="component along the move", showlegend=True,
        legend={"traceorder": "normal"} | LEGEND_BELOW_ROWS,
    )  # fmt: skip


def update_raster(matrix: np.ndarray, row_labels: Sequence[str], col_steps: np.ndarray, title: str) -> dict:
    """Rows x kept steps of update norms on a log colour scale; a blank (white) cell is a row that did not move."""
    moved = matrix > 0
    logs = np.where(moved, np.log10(np.where(moved, matrix, 1.0)), np.nan)  # a row that did not move: blank
    heat = trace(
        "heatmap", z=logs, x=col_steps, y=list(row_labels), colorscale=colorscale(MAGNITUDE), customdata=matrix,
        colorbar={"title": {"text": "log10 update"}, "thickness": 14}, hoverongaps=False,
        hovertemplate="%{y}, step %{x}: %{customdata:.2e}<extra></extra>",
    )  # fmt: skip
    fig = figure(
        [heat], {"yaxis": {"autorange": "reversed", "type": "category", "showticklabels": len(row_labels) <= 40}}
    )
    return style(fig, title, height=460, xaxis_title="step", yaxis_title="rows, most frequent token first")


def count_curve(steps: np.ndarray, counts: np.ndarray, title: str, y_title: str) -> dict:
    """A count of rows per kept step (e.g. rows that moved without a gradient), from zero up."""
    line = trace("scatter", x=steps, y=counts, mode="lines+markers", line={"color": FROM_STATE, "width": 2.5})
    return style(
        figure([line]),
        title,
        height=330,
        xaxis_title="step",
        yaxis={"title": {"text": y_title}, "rangemode": "tozero"},
        half=True,
    )


def log_digits(values: np.ndarray) -> dict:
    """A log axis's ticks over 1 to 3 decades of `values`: 1, 2 and 5 of each ("D2"). plotly's own choice on a
    tall axis there labels every digit, and 0.08, 0.09 and 0.1 (a twentieth of a decade apart) overlap. Under a
    decade plotly's linear ticks and over three its whole decades read well: {} (plotly's choice)."""
    positive = np.asarray(values, dtype=float)
    positive = positive[np.isfinite(positive) & (positive > 0)]
    if positive.size == 0:
        return {}
    decades = float(np.log10(positive.max() / positive.min()))
    return {"dtick": "D2"} if 1.0 <= decades <= 3.0 else {}


def frequency_vs_movement(
    freq: np.ndarray, movement: np.ndarray, labels: Sequence[str], categories: np.ndarray,
    category_names: Sequence[str], title: str,
) -> dict:  # fmt: skip
    """Each row's token frequency against how far it moved in total, log-log: only rows with both > 0 (the caller
    counts the others). Ticks are plain numbers, never SI prefixes (plotly would write 1e-12 as "1p")."""
    data = []
    text = np.asarray(labels, dtype=object)
    for c in sorted(set(np.asarray(categories).tolist())):
        mask = categories == c
        name = "no category" if c < 0 else category_names[c]
        data.append(
            trace(
                "scatter", x=freq[mask], y=movement[mask], mode="markers", name=name,
                marker={"color": category_colour(c), "size": 9, "line": {"width": 0.5, "color": "white"}},
                customdata=text[mask], hovertemplate="%{customdata}: freq %{x:,}, moved %{y:.3g}<extra></extra>",
            )
        )  # fmt: skip
    return style(
        figure(data), title, height=420,
        xaxis={"type": "log", "dtick": 1, "tickformat": ",", "title": {"text": "times in the corpus"}},
        yaxis={"type": "log", "tickformat": "~g", "exponentformat": "power", "title": {"text": "total movement"}}
        | log_digits(movement),
        half=True, legend=LEGEND_BELOW_HALF,  # under the plot: at the side it took most of a half-width chart
    )  # fmt: skip
