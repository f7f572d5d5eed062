"""The wall's figure rules on plain data (the browser test, tests/test_browser_wall.py, measures the drawn pages):
the Train loss chart's ln V line, Compare's members told apart without yellow, the batch title's count of bars, and
a crowded scatter's word labels thinned to boxes that do not overlap, a heatmap of rows labelled on every row."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from core import TrainConfig
from core.captions import batch_title
from core.compare import Series
from ui import display
from ui.figures import compare, masks, space, train


def test_the_train_loss_chart_draws_ln_v_dashed_with_its_value():
    cfg = TrainConfig(vocab_size=60, dim=16)
    fig = go.Figure(train.loss_curve(np.arange(1, 6), np.array([5.0, 4.5, 4.2, 4.0, 3.9]), 5, cfg))
    (line,) = fig.layout.shapes
    assert line.line.dash == "dash" and line.y0 == line.y1 == pytest.approx(math.log(60))
    (label,) = fig.layout.annotations
    assert label.text == f"ln V = {math.log(60):.2f}"


def _series(n: int = 20) -> Series:
    steps = np.arange(1, n + 1)
    fields = {name: np.ones(n) for name in Series.__dataclass_fields__ if name != "steps"}
    return Series(steps=steps, **fields)


def test_compare_members_differ_in_colour_dash_and_marker_and_none_is_yellow():
    labels = ["SGD", "SGD momentum 0.9", "Adam", "AdamW"]
    fig = compare.compare_loss(labels, [_series() for _ in labels], [(math.log(60), "ln V")])
    styles = {(t.line.color, t.line.dash, t.marker.symbol) for t in fig.data}
    assert len(styles) == len(labels)
    assert all(t.line.color.upper() != "#F0E442" for t in fig.data)  # faint on white
    assert len({t.marker.size for t in fig.data}) > 1  # on one point, an open marker shows around a filled one


def test_a_batch_title_counts_the_bars_it_shows():
    assert batch_title(20, 64, 20, 28) == "Step 20's batch: 64 lookups of 28 tokens (20 shown)"
    assert batch_title(20, 64, 28, 28) == "Step 20's batch: 64 lookups of 28 tokens shown"


def test_a_crowded_scatter_on_the_wall_labels_a_subset_whose_boxes_do_not_overlap():
    rng = np.random.default_rng(0)
    n = 60
    fig = space.embedding_animation(rng.normal(size=(2, n, 2)), [0, 1], [f"word{i}" for i in range(n)],
                                    np.arange(n) % 3, ["a", "b", "c"])  # fmt: skip
    styled = display.display_style(fig)
    for data in (styled["data"], *(frame["data"] for frame in styled["frames"])):
        shown = [(x, y) for t in data for x, y, tt in zip(t["x"], t["y"], t["texttemplate"], strict=True) if tt]
        assert 0 < len(shown) < n  # a readable subset, not every word and not none
    assert all(t["textfont"]["size"] >= 18 for t in styled["data"])
    go.Figure(styled)  # still a valid figure


def test_a_legend_under_the_chart_on_the_wall_sits_below_the_axis_title():
    labels = ["SGD lr 0.5", "SGD lr 0.5, momentum 0.9", "Adam lr 0.05", "AdamW lr 0.05, wd 0.01"]
    styled = display.display_style(compare.compare_moved_without_grad(labels, [_series() for _ in labels]))
    legend, margin = styled["layout"]["legend"], styled["layout"]["margin"]
    assert (legend["yref"], legend["y"], legend["yanchor"]) == ("container", 0, "bottom")
    assert margin["b"] >= 80 + display.LEGEND_ROW_PX * 2  # four long entries: more than one row
    counts = compare.compare_counts(labels, [_series() for _ in labels])  # one entry a member, for both its lines
    shown = [t.name for t in counts.data if t.showlegend is not False]
    assert shown == [f"{label}: moved" for label in labels]
    assert [t.legendgroup for t in counts.data] == [label for label in labels for _ in range(2)]


def test_a_heatmap_of_rows_on_the_wall_labels_every_row_and_is_tall_enough_for_them():
    labels = [f"{r} word{r}" for r in range(display.MAX_ROWS)]  # as many rows as the wall draws
    fig = masks.gradient_heatmap(np.ones((len(labels), 16)), labels, "Each looked-up row's gradient")
    assert fig["layout"]["yaxis"]["tickvals"] == labels  # off the wall too: every row labelled, in 15 px
    assert (fig["layout"]["height"] - 90) / len(labels) >= masks.ROW_PX
    styled = display.display_style(fig)
    axis, margin = styled["layout"]["yaxis"], styled["layout"]["margin"]
    assert axis["tickvals"] == labels and axis["ticktext"] == labels  # a tick on every row, none left to plotly
    plot_px = styled["layout"]["height"] - margin["t"] - max(margin["b"], 90)
    assert plot_px / len(labels) >= display.ROW_PX >= 1.5 * display.TICK_PX  # room for each 18 px label
    assert styled["layout"]["height"] <= 768  # the wall's 20 rows stay within a projector's screen
    go.Figure(styled)  # still a valid figure
