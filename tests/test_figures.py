"""Figure builders, checked on their data (independently computed); the derivations behind them: test_core_rows.py."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
from stand_in import stand_in_record

from core import TrainConfig, Trainer
from core.captions import mask_caption, mask_title
from core.compare import Series
from core.rows import GradientGroups, lookup_names, move_parts, update_raster
from ui.figures import compare, masks, space, style, train, updates
from ui.links import parse_query, parse_value, to_query


def read(fig: dict) -> go.Figure:
    """A page's plain-data figure read through go.Figure, which validates every property of it."""
    return go.Figure(fig)


@pytest.fixture(scope="module")
def run():
    trainer = Trainer(TrainConfig(vocab_size=40, dim=6, optimizer="adam", batch_size=32, seed=1))
    trainer.run(12)
    return trainer


def test_split_bars_stack_signed_parts_that_add_up_to_the_move():
    # row 0: gradient 3, state pulled back 1 -> moved 2; row 1: no gradient, decay 0.5; row 2: still
    rec = stand_in_record(
        update_norm=np.array([2.0, 0.5, 0.0]), grad_norm=np.array([1.0, 0.0, 0.0]),
        move_grad=np.array([3.0, 0.0, 0.0]), move_state=np.array([-1.0, 0.0, 0.0]),
        move_decay=np.array([0.0, 0.5, 0.0]),
    )  # fmt: skip
    parts = move_parts(rec, "sgd")
    assert [name for _, name, _ in parts] == ["from its gradient", "optimizer state (momentum)", "weight decay"]
    fig = read(updates.update_split_bars(np.arange(3), list("abc"), parts, "t"))
    assert fig.layout.barmode == "relative"  # a part that pulled against the move is drawn below zero
    heights = np.array([np.asarray(t.y, dtype=float) for t in fig.data])
    np.testing.assert_allclose(heights.sum(axis=0), [2.0, 0.5, 0.0])
    assert heights[1, 0] == -1.0


def test_mask_groups_come_from_the_gradient_not_the_row_id():
    # tied head + padding_idx 0: row 0 looked up, its lookup gradient dropped, yet the head gives it one
    rec = stand_in_record(token_counts=np.array([2, 1, 0, 0]), grad_norm=np.array([0.3, 1.0, 0.2, 0.1]))
    rec.head_grad_norm = None
    groups = GradientGroups.of(rec, padding_idx=0)
    assert [k for k, _, _ in groups.named()] == ["looked_up_grad", "grad_not_looked_up"]
    assert mask_title(3, groups) == "Step 3: all 4 rows got a gradient: the tied head reaches every row"
    caption = mask_caption(groups, 3)
    assert "Of the 4 rows, 2 were looked up and got a gradient; 2 were not looked up but got a gradient" in caption
    assert "padding_idx blocks only the lookup's gradient" in caption
    fig = read(masks.grad_mask_bars(np.arange(4), list("abcd"), rec.token_counts, groups.named(), "t"))
    assert [t.name for t in fig.data] == [
        "looked up, got a gradient",
        "not looked up, got a gradient (through the tied head)",
    ]
    assert [np.asarray(t.x).tolist() for t in fig.data] == [[0, 1], [2, 3]]


def test_mask_figure_marks_exactly_the_rows_with_a_gradient(run):
    rec = run.history[-1]
    rows = np.arange(40)
    groups = GradientGroups.of(rec, None)
    fig = read(masks.grad_mask_bars(rows, [str(r) for r in rows], rec.token_counts, groups.named(), "t"))
    got = {trace.name: set(np.asarray(trace.x).tolist()) for trace in fig.data}
    assert got["looked up, got a gradient"] == set(np.flatnonzero(rec.grad_norm > 0).tolist())
    assert got["not looked up, no gradient"] == set(
        np.flatnonzero(np.bincount(rec.input_ids, minlength=40) == 0).tolist()
    )
    assert len(got) == 2  # untied, no padding: the other two groups are empty and not in the legend


def test_raster_is_rows_by_kept_steps_and_bins_long_histories(run):
    rows = np.arange(40)
    matrix, steps = update_raster(list(run.history), rows)
    assert matrix.shape == (40, len(run.history)) and steps.tolist() == run.history.steps
    assert np.allclose(matrix[:, -1], run.history[-1].update_norm)
    binned, bin_steps = update_raster(list(run.history), rows, max_cols=5)
    assert binned.shape == (40, 5) and bin_steps[0] == run.history.steps[0]
    fig = read(updates.update_raster(matrix, [str(r) for r in rows], steps, "t"))
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (40, len(run.history))
    assert np.array_equal(np.isnan(z), matrix == 0)  # a row that did not move is a blank cell


def test_contributions_heatmap_last_row_is_the_sum():
    contribs = np.arange(12, dtype=float).reshape(3, 4)
    fig = read(masks.contributions_heatmap(contribs, lookup_names(np.array([1, 5, 9])), "cat"))
    z = np.asarray(fig.data[0].z)
    assert z.shape == (4, 4) and np.allclose(z[-1], contribs.sum(axis=0))
    names = lookup_names(np.array([1, 5, 9]))
    dropped = read(masks.contributions_heatmap(contribs, names, "<pad>", np.zeros(4), "row gradient = 0"))
    assert not np.asarray(dropped.data[0].z)[-1].any() and list(dropped.data[0].y)[-1] == "row gradient = 0"


def test_frequency_vs_movement_uses_plain_ticks():
    fig = read(updates.frequency_vs_movement(np.array([1, 100]), np.array([1e-3, 2.0]), ["a", "b"], np.array([0, 0]),
                                        ["c"], "t"))  # fmt: skip
    assert fig.layout.yaxis.exponentformat != "SI" and fig.layout.yaxis.tickformat == "~g"
    assert fig.layout.xaxis.tickformat == ","


def test_weight_heatmap_strip_marks_used_and_padding():
    used = np.array([True, False, False, True])
    padding = np.array([False, False, True, False])
    fig = read(train.weight_heatmap(np.zeros((4, 3)), list("abcd"), used, padding, "t"))
    assert np.asarray(fig.data[0].z).ravel().tolist() == [1, 0, 2, 1]


def test_palette_is_okabe_ito_and_fonts_are_readable(run):
    fig = read(train.loss_curve(np.arange(3), np.ones(3), 1))
    assert fig.layout.font.size >= 14 and fig.layout.title.font.size >= 14
    assert style.category_colour(0) == "#E69F00" and style.category_colour(-1) == style.NO_CATEGORY


def test_query_params_round_trip():
    cfg = TrainConfig(optimizer="sgd", lr=0.125, momentum=0.9, nesterov=True, padding_idx=0, max_norm=2.0)
    values, errors = parse_query(to_query(cfg))
    assert not errors and cfg.replace(**values) == cfg


@pytest.mark.parametrize(
    ("field", "raw", "value"),
    [("dim", "8", 8), ("dim", "8.0", 8), ("lr", "1e-3", 1e-3), ("sparse", "TRUE", True), ("padding_idx", "", None),
     ("max_norm", "none", None), ("optimizer", "SGD", "sgd")],
)  # fmt: skip
def test_parse_value_accepts(field, raw, value):
    assert parse_value(field, raw) == value


@pytest.mark.parametrize(("field", "raw"), [("dim", "abc"), ("dim", "2.5"), ("lr", "nan"), ("sparse", "maybe")])
def test_parse_value_refuses_with_a_message(field, raw):
    with pytest.raises(ValueError, match=field):
        parse_value(field, raw)


def test_sampled_rows_get_evenly_spaced_slots_in_row_order():
    rows = np.array([3, 500, 9_000])
    fig = read(updates.update_split_bars(rows, ["a", "b", "c"], [("grad", "from its gradient", np.ones(3))], "t"))
    assert fig.layout.xaxis.type == "category" and list(fig.layout.xaxis.categoryarray) == [3, 500, 9_000]
    whole = read(
        masks.grad_mask_bars(np.arange(4), list("abcd"), np.ones(4), [("neither", "n", np.ones(4, bool))], "t")
    )
    assert whole.layout.xaxis.type in (None, "-", "linear")  # every row: a plain numeric axis


def test_compare_panel_titles_wrap_at_their_items_and_counts_get_whole_number_ticks():
    labels = ["negative sampling: SGD lr 0.5", "AdamW lr 0.05, wd 0.01", "Adam lr 0.05, beta1 0", "RMSprop lr 0.01"]
    xy = [np.zeros((3, 2)) for _ in labels]
    fig = compare.scatter_panels(labels, xy, ["a", "b", "c"], np.array([0, 1, -1]), ["x", "y"], "PCA")
    titles = [a.text for a in fig.layout.annotations][: len(labels)]
    assert [t.replace("<br>", " ") for t in titles] == labels  # every word kept, in order
    width = style.PANEL_TITLE_CHARS // len(labels)
    assert all(len(line) <= width for t in titles for line in t.split("<br>"))
    assert style.wrap_items(labels[1], 17) == "AdamW lr 0.05,<br>wd 0.01"  # between items, not inside "wd 0.01"
    assert style.panel_titles_px(fig) == 4 * (style.FONT_SIZE + 6)  # room for the longest title's 4 lines

    assert compare.legends_fit_half(["SGD lr 0.5", "AdamW lr 0.05, wd 0.01"])  # "AdamW lr 0.05, wd 0.01: moved"
    assert not compare.legends_fit_half(["SGD lr 0.5", "RMSprop lr 0.01, momentum 0.9"])  # 29 characters, and ": moved"
    assert not compare.legends_fit_half(["SGD lr 0.5", "negative sampling: AdamW lr 0.05, wd 0.01"])

    def series(rows):
        n = len(rows)
        return Series(np.arange(1, n + 1), np.zeros(n), np.asarray(rows), np.asarray(rows), np.zeros(n, int))

    few = compare.compare_counts(["a"], [series([58, 60, 59])])
    many = compare.compare_counts(["a"], [series([10, 60, 35])])
    assert few.layout.yaxis.dtick == 1 and many.layout.yaxis.dtick is None  # 58, 59, 60: no "58.5 rows"


def _points_under_label(label: dict, x: np.ndarray, y: np.ndarray, y_range: tuple[float, float]) -> int:
    """Points of a curve inside a reference line's label: a third of the plot wide at its end, an eighth high."""
    height, third = (y_range[1] - y_range[0]) / 8, (x.max() - x.min()) / 3
    at_end = x <= x.min() + third if label["xanchor"] == "left" else x >= x.max() - third
    low, high = (label["y"], label["y"] + height) if label["yanchor"] == "bottom" else (label["y"] - height, label["y"])
    side = (y >= low) & (y <= high)
    return int((at_end & side).sum())


def test_a_reference_lines_label_goes_where_no_curve_is():
    cfg = TrainConfig(vocab_size=60, dim=16)
    steps, guess = np.arange(1, 21), float(np.log(60))
    hugging = np.r_[np.full(10, guess + 2.0), guess + 0.05 * (-1.0) ** np.arange(10)]  # ends on both sides of ln V
    label = train.loss_curve(steps, hugging, cfg=cfg)["layout"]["annotations"][0]
    assert _points_under_label(label, steps, hugging, (guess - 0.05, guess + 2.0)) == 0
    assert label["xanchor"] == "left"  # the right end, where it was always drawn, has points on both sides
    rising = np.r_[np.full(5, 0.16), np.linspace(0.2, 0.9, 15)]  # purity from just above chance upwards
    label = space.purity_curve(steps, rising, 0.15, None)["layout"]["annotations"][0]
    assert _points_under_label(label, steps, rising, space.PURITY_RANGE) == 0
    assert (label["xanchor"], label["yanchor"]) != ("left", "bottom")  # where "chance 15%" lay over the curve


def test_compare_puts_two_blind_guesses_labels_at_opposite_ends():
    series = [Series(np.arange(1, 11), np.linspace(5.0, 3.0, 10), np.ones(10), np.ones(10), np.zeros(10, int))]
    fig = compare.compare_loss(["a"], series, [(4.09, "ln V"), (4.16, "6 ln 2")])
    ends = {a.text: a.xanchor for a in fig.layout.annotations}
    assert set(ends) == {"ln V: a blind guess", "6 ln 2: a blind guess"} and len(set(ends.values())) == 2


def test_the_movement_axis_labels_1_2_and_5_of_each_decade_where_plotly_would_label_every_digit():
    def axis(movement):
        freq = np.arange(1, len(movement) + 1) * 10
        return updates.frequency_vs_movement(freq, movement, ["w"] * len(movement), np.zeros(len(movement), int),
                                             ["c"], "t")["layout"]["yaxis"]  # fmt: skip

    assert axis(np.array([0.03, 0.1, 0.65]))["dtick"] == "D2"  # 1.3 decades: 0.08, 0.09, 0.1 overlapped
    assert "dtick" not in axis(np.array([1.4, 2.0, 3.1]))  # under a decade: plotly's linear ticks
    assert "dtick" not in axis(np.array([1e-6, 1e-3, 1.0]))  # six decades: plotly's whole decades
