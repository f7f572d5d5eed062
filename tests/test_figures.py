"""Figure builders and the derivations behind them, checked on their data (independently computed)."""

from __future__ import annotations

import numpy as np
import pytest

from core import TrainConfig, Trainer
from ui import analysis, figures
from ui.params import parse_query, parse_value, to_query


@pytest.fixture(scope="module")
def run():
    trainer = Trainer(TrainConfig(vocab_size=40, dim=6, optimizer="adam", batch_size=32, seed=1))
    trainer.run(12)
    return trainer


def test_row_gradient_is_the_sum_of_its_contributions_and_matches_the_trainer(run):
    rec = run.history[-1]
    rows, grads = analysis.row_gradients(rec.input_ids, rec.output_grad)
    assert set(rows.tolist()) == set(np.flatnonzero(rec.token_counts).tolist())
    for row, grad in zip(rows, grads, strict=True):
        _, contribs = analysis.contributions(rec.input_ids, rec.output_grad, row)
        assert len(contribs) == rec.token_counts[row]
        assert np.allclose(grad, contribs.sum(axis=0))
    assert np.allclose(np.linalg.norm(grads, axis=1), rec.grad_norm[rows], rtol=1e-4, atol=1e-7)


def test_padding_row_gets_no_gradient():
    ids = np.array([0, 1, 0, 2])
    rows, grads = analysis.row_gradients(ids, np.ones((4, 3)), padding_idx=0)
    assert np.all(grads[rows == 0] == 0) and np.all(grads[rows == 1] == 1)


def test_update_split_adds_up_and_sgd_is_all_gradient(run):
    rec = run.history[-1]
    from_grad, from_state, from_renorm = analysis.update_split(rec.update_norm, rec.state_update_norm)
    assert np.allclose(from_grad + from_state, rec.update_norm) and not from_renorm.any()
    assert (from_grad >= 0).all() and (from_state >= 0).all()
    assert np.all(from_grad[~rec.grad_mask] == 0)  # no gradient: the whole move is optimizer state
    sgd = Trainer(TrainConfig(vocab_size=40, dim=6, optimizer="sgd", lr=0.5))
    r = sgd.step()
    g, s, _ = analysis.update_split(r.update_norm, r.state_update_norm)
    assert np.all(s == 0) and np.array_equal(g > 0, r.grad_mask)


def test_update_split_shows_max_norms_rescale_as_its_own_part():
    trainer = Trainer(TrainConfig(vocab_size=40, dim=6, optimizer="sgd", lr=1e-4, max_norm=0.5, seed=1))
    lengths = np.linalg.norm(trainer.weight, axis=1)
    rec = trainer.step()  # N(0, 1) rows of 6 values are ~2.4 long: most looked-up rows are cut to 0.5
    g, s, r = analysis.update_split(rec.update_norm, rec.state_update_norm, rec.renorm_norm)
    rescaled = (rec.token_counts > 0) & (lengths > 0.5)
    assert np.allclose(g + s + r, rec.update_norm)
    np.testing.assert_allclose(r[rescaled], lengths[rescaled] - 0.5, rtol=1e-3)  # moved along the row to 0.5
    assert not r[~rescaled].any()
    assert (g[rescaled] < 0.01).all()  # lr=1e-4's gradient step is tiny beside the rescale
    fig = figures.update_split_bars(np.arange(40), [str(i) for i in range(40)], g, s, "t", r)
    assert [t.name for t in fig.data][-1] == "max_norm rescale (no gradient)"


def test_mask_figure_marks_exactly_the_rows_with_a_gradient(run):
    rec = run.history[-1]
    rows = np.arange(40)
    fig = figures.grad_mask_bars(rows, [str(r) for r in rows], rec.token_counts, rec.grad_mask, rows == -1, "t")
    got = {trace.name: set(np.asarray(trace.x).tolist()) for trace in fig.data}
    assert got["got a gradient"] == set(np.flatnonzero(rec.grad_mask).tolist())
    assert got["not used: no gradient"] == set(np.flatnonzero(~rec.grad_mask).tolist())


def test_raster_is_rows_by_kept_steps_and_bins_long_histories(run):
    rows = np.arange(40)
    matrix, steps = analysis.update_raster(list(run.history), rows)
    assert matrix.shape == (40, len(run.history)) and steps.tolist() == run.history.steps
    assert np.allclose(matrix[:, -1], run.history[-1].update_norm)
    binned, bin_steps = analysis.update_raster(list(run.history), rows, max_cols=5)
    assert binned.shape == (40, 5) and bin_steps[0] == run.history.steps[0]
    fig = figures.update_raster(matrix, [str(r) for r in rows], steps, "t")
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (40, len(run.history))
    assert np.array_equal(np.isnan(z), matrix == 0)  # a row that did not move is a blank cell


def test_moved_without_gradient_counts(run):
    steps, counts = analysis.moved_without_gradient(list(run.history))
    expected = [int((r.updated_mask & ~r.grad_mask).sum()) for r in run.history]
    assert counts.tolist() == expected and steps.tolist() == run.history.steps


def test_contributions_heatmap_last_row_is_the_sum():
    contribs = np.arange(12, dtype=float).reshape(3, 4)
    fig = figures.contributions_heatmap(contribs, np.array([1, 5, 9]), "cat")
    z = np.asarray(fig.data[0].z)
    assert z.shape == (4, 4) and np.allclose(z[-1], contribs.sum(axis=0))


def test_sample_rows_keeps_the_asked_rows_and_caps_the_count():
    assert analysis.sample_rows(50).tolist() == list(range(50))
    rows = analysis.sample_rows(50_257, max_rows=200, keep=np.array([7, 49_999]))
    assert len(rows) <= 200 and {7, 49_999} <= set(rows.tolist()) and np.all(np.diff(rows) > 0)


def test_weight_heatmap_strip_marks_used_and_padding():
    used = np.array([True, False, False, True])
    padding = np.array([False, False, True, False])
    fig = figures.weight_heatmap(np.zeros((4, 3)), list("abcd"), used, padding, "t")
    assert np.asarray(fig.data[0].z).ravel().tolist() == [1, 0, 2, 1]


def test_animation_has_one_frame_per_kept_step_and_trails_grow(run):
    frames = run.frames()
    coords = np.random.default_rng(0).standard_normal((len(frames), 40, 2))
    steps = [s for s, _ in frames]
    fig = figures.embedding_animation(coords, steps, run.vocab, run.categories, run.category_names, trail_rows=[7])
    assert len(fig.frames) == len(frames)
    n_cats = len(set(run.categories.tolist()))
    assert all(len(frame.data) == n_cats + 1 for frame in fig.frames)
    assert [len(frame.data[-1].x) for frame in fig.frames] == list(range(1, len(frames) + 1))
    assert np.allclose(fig.frames[-1].data[-1].x, coords[:, 7, 0])
    assert [s["label"] for s in fig.layout.sliders[0].steps] == [str(s) for s in steps]


def test_same_spread_keeps_each_frames_shape_and_fills_the_same_radius():
    rng = np.random.default_rng(0)
    wide = rng.normal(size=(30, 2)) * 5 + 3
    coords = np.stack([wide, wide * 0.01 - 7])  # a frame that shrank 100-fold and drifted
    coords[1, 4] = np.nan  # a row that was not laid out
    out = analysis.same_spread(coords)
    for frame in out:
        radius = np.sqrt(np.nanmean(np.sum((frame - np.nanmean(frame, axis=0)) ** 2, axis=1)))
        assert radius == pytest.approx(1.0)
    ok = ~np.isnan(coords[1, :, 0])
    d0 = np.linalg.norm(coords[1, ok][:, None] - coords[1, ok][None], axis=2)
    d1 = np.linalg.norm(out[1, ok][:, None] - out[1, ok][None], axis=2)
    np.testing.assert_allclose(d1 / d1.max(), d0 / d0.max(), atol=1e-12)  # distance ratios unchanged
    assert np.isnan(out[1, 4]).all()


def test_palette_is_okabe_ito_and_fonts_are_readable(run):
    fig = figures.loss_curve(np.arange(3), np.ones(3), 1)
    assert fig.layout.font.size >= 14 and fig.layout.title.font.size >= 14
    assert figures.category_colour(0) == "#E69F00" and figures.category_colour(-1) == figures.NO_CATEGORY


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
