"""core.rows and core.captions on runs and hand-made records: row gradients, groups, the parts of a move, rasters,
sampling, and the sentences about them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from stand_in import stand_in_record

from core import TrainConfig, Trainer
from core.captions import (
    contribution_story,
    loss_warning,
    mask_caption,
    mask_title,
    move_caption,
    raster_caption,
    sample_note,
    share_of,
)
from core.rows import (
    MAX_ROWS,
    GradientGroups,
    contributions,
    default_token,
    move_parts,
    moved_without_gradient,
    raster_rows,
    row_gradients,
    same_spread,
    sample_rows,
    update_raster,
)


@pytest.fixture(scope="module")
def run():
    trainer = Trainer(TrainConfig(vocab_size=40, dim=6, optimizer="adam", batch_size=32, seed=1))
    trainer.run(12)
    return trainer


def test_row_gradient_is_the_sum_of_its_contributions_and_matches_the_trainer(run):
    rec = run.history[-1]
    rows, grads = row_gradients(rec.input_ids, rec.output_grad)
    assert set(rows.tolist()) == set(np.flatnonzero(rec.token_counts).tolist())
    for row, grad in zip(rows, grads, strict=True):
        _, contribs = contributions(rec.input_ids, rec.output_grad, row)
        assert len(contribs) == rec.token_counts[row]
        assert np.allclose(grad, contribs.sum(axis=0))
    assert np.allclose(np.linalg.norm(grads, axis=1), rec.grad_norm[rows], rtol=1e-4, atol=1e-7)


def test_padding_row_gets_no_gradient():
    ids = np.array([0, 1, 0, 2])
    rows, grads = row_gradients(ids, np.ones((4, 3)), padding_idx=0)
    assert np.all(grads[rows == 0] == 0) and np.all(grads[rows == 1] == 1)


def test_split_names_only_the_parts_present_and_weight_decay_is_never_state():
    sgd_wd = stand_in_record(update_norm=np.array([1.0, 0.1]), grad_norm=np.array([1.0, 0.0]),
                     move_grad=np.array([0.99, 0.0]), move_decay=np.array([0.01, 0.1]))  # fmt: skip
    assert [k for k, _, _ in move_parts(sgd_wd, "sgd")] == ["grad", "decay"]
    caption = move_caption(sgd_wd, "SGD", "sgd", 2)
    assert "1 of them got no gradient this step and moved anyway: 1 by weight decay." in caption
    assert "state" not in caption
    renorm = stand_in_record(update_norm=np.array([1.0, 0.0]), grad_norm=np.array([1.0, 0.0]),
                     move_grad=np.array([0.2, 0.0]), move_renorm=np.array([0.8, 0.0]))  # fmt: skip
    assert [n for _, n, _ in move_parts(renorm, "sgd")] == [
        "from its gradient",
        "max_norm rescale (forward pass)",
    ]
    assert "Every row that moved got a gradient of its own" in move_caption(renorm, "SGD", "sgd", 2)
    adam = stand_in_record(update_norm=np.array([1.0, 0.3, 0.2]), grad_norm=np.array([1.0, 0.0, 0.0]),
                   move_grad=np.array([0.6, 0.0, 0.0]), move_state=np.array([0.4, 0.3, 0.2]))  # fmt: skip
    assert move_parts(adam, "adam")[1][1] == "optimizer state (Adam's moment estimates)"
    assert "2 of them got no gradient this step and moved anyway: 2 by optimizer state (Adam's moment estimates)." in (
        move_caption(adam, "Adam", "adam", 3)
    )


def test_float_rounding_in_a_part_is_not_a_part():
    rec = stand_in_record(update_norm=np.array([1.0, 0.5]), grad_norm=np.array([1.0, 0.0]),
                  move_grad=np.array([1.0, 1e-9]), move_state=np.array([0.0, 0.5]))  # fmt: skip
    assert [k for k, _, _ in move_parts(rec, "adam")] == ["grad", "state"]
    only_grad = stand_in_record(update_norm=np.array([1.0]), grad_norm=np.array([1.0]), move_grad=np.array([1.0]),
                        move_state=np.array([1e-12]))  # fmt: skip
    assert [k for k, _, _ in move_parts(only_grad, "sgd")] == ["grad"]


def test_padding_caption_adds_up_to_the_vocabulary():
    # untied, padding_idx 0 looked up: 3 rows looked up, 2 with a gradient; 57 rows untouched: 60 in all
    counts = np.zeros(60, dtype=np.int32)
    counts[[0, 5, 9]] = [30, 20, 14]
    grad = np.zeros(60)
    grad[[5, 9]] = 1.0
    groups = GradientGroups.of(stand_in_record(token_counts=counts, grad_norm=grad), padding_idx=0)
    caption = mask_caption(groups, 64)
    assert caption.startswith("64 lookups of 3 distinct tokens. Of the 60 rows, 2 were looked up and got a gradient;")
    assert "1 was looked up but got a gradient of 0 (the padding row" in caption
    assert "57 were neither" in caption  # 2 + 1 + 57 = 60
    assert mask_title(3, groups) == "Step 3: 2 of 60 rows got a gradient: the 2 looked up (1 looked-up row got none)"
    assert [n for _, n, _ in groups.named()][1] == "looked up, gradient 0 (padding_idx drops it)"


def test_default_token_is_the_most_used_real_token():
    vocab = ["<pad>", "<unk>", "cat", "dog"]
    assert default_token(np.array([0, 1, 3, 2]), vocab, padding_idx=0) == 3
    assert default_token(np.array([1, 2]), ["a", "<unk>", "b"], padding_idx=None) == 2
    assert default_token(np.array([0]), vocab, padding_idx=0) == 0  # nothing else was looked up


def test_contributions_of_the_padding_row_are_shown_dropped():
    contribs = np.ones((3, 2))
    rec = stand_in_record(grad_norm=np.array([0.0, 1.0]))
    story = contribution_story(rec, 0, contribs, padding_idx=0)
    assert not story.sum_row.any() and "padding_idx drops" in story.sum_label
    assert "gradient norm for this row: 0." in story.caption
    rec.head_grad_norm = None  # tied: the head's part is the whole gradient of the padding row
    rec.grad_norm = np.array([0.25, 1.0])
    assert "is 0.25, all of it from the tied head" in contribution_story(rec, 0, contribs, 0).caption
    tied = contribution_story(rec, 1, contribs, 0)
    assert tied.sum_label == "sum = lookup's part"
    assert f"norm {np.linalg.norm([3, 3]):.3g}" in tied.caption and "norm 1." in tied.caption


def test_loss_warning_only_when_the_loss_stays_above_the_blind_guess():
    blind = np.log(50_257)
    rising = loss_warning([11.3, 29.8, 41.6], 50_257, 0.05, "normal")
    assert rising.startswith(f"The loss rose from 11.3 to 41.6, above the blind guess ln V = {blind:.2f}")
    assert "(now 0.05; e.g. 0.005)" in rising and "small_normal" in rising
    assert loss_warning([11.3], 50_257, 0.05, "normal") is None  # one step says nothing yet
    assert loss_warning([4.6, 4.0, 3.5], 60, 0.05, "normal") is None  # below ln 60 = 4.09
    assert loss_warning([4.64, 4.31, 4.26], 60, 0.05, "normal") is None  # above, but falling
    stuck = [18.0 - 0.1 * i for i in range(25)]  # falls, but stays above ln 60 for 25 steps
    stuck_big = loss_warning(stuck, 60, 0.5, "normal")
    assert "is still above the blind guess ln V = 4.09 after 25 steps" in stuck_big
    assert "Try the small_normal init" in stuck_big  # falling but stuck: the N(0, 1) init, not the step size
    stuck_small = loss_warning(stuck, 60, 0.5, "small_normal")
    assert "small_normal" not in stuck_small and "Try a smaller learning rate (now 0.5; e.g. 0.05)" in stuck_small


def test_moved_without_gradient_counts(run):
    steps, counts = moved_without_gradient(list(run.history))
    expected = [int((r.updated_mask & ~r.grad_mask).sum()) for r in run.history]
    assert counts.tolist() == expected and steps.tolist() == run.history.steps


def test_sample_rows_keeps_the_asked_rows_and_caps_the_count():
    assert sample_rows(50).tolist() == list(range(50))
    rows = sample_rows(50_257, max_rows=200, keep=np.array([7, 49_999]))
    assert len(rows) <= 200 and {7, 49_999} <= set(rows.tolist()) and np.all(np.diff(rows) > 0)


@pytest.mark.parametrize("keep", [None, [], np.array([]), np.array([3.0, 9.0]), np.arange(300)])
@pytest.mark.parametrize("n_rows", [50, 10_001, 50_257])
def test_sample_rows_is_always_an_integer_index(n_rows, keep):
    rows = sample_rows(n_rows, keep=keep)
    assert rows.dtype == np.int64 and len(rows) == min(n_rows, MAX_ROWS)
    np.arange(n_rows)[rows]  # a float array would raise IndexError here, as it did on Embedding space


def test_raster_samples_rows_that_moved_at_large_vocabularies():
    movement = np.zeros(10_001)
    movement[[5, 77, 9_000]] = 1.0
    freq = np.arange(10_001)[::-1].copy()
    rows = raster_rows(movement, freq)
    assert rows.tolist() == [5, 77, 9_000]  # never-moved rows would be blank lines
    small = raster_rows(np.zeros(40), np.arange(40))
    assert sorted(small.tolist()) == list(range(40)) and small[0] == 39  # all rows, most frequent first


def test_same_spread_keeps_each_frames_shape_and_fills_the_same_radius():
    rng = np.random.default_rng(0)
    wide = rng.normal(size=(30, 2)) * 5 + 3
    coords = np.stack([wide, wide * 0.01 - 7])  # a frame that shrank 100-fold and drifted
    coords[1, 4] = np.nan  # a row that was not laid out
    out = same_spread(coords)
    for frame in out:
        radius = np.sqrt(np.nanmean(np.sum((frame - np.nanmean(frame, axis=0)) ** 2, axis=1)))
        assert radius == pytest.approx(1.0)
    ok = ~np.isnan(coords[1, :, 0])
    d0 = np.linalg.norm(coords[1, ok][:, None] - coords[1, ok][None], axis=2)
    d1 = np.linalg.norm(out[1, ok][:, None] - out[1, ok][None], axis=2)
    np.testing.assert_allclose(d1 / d1.max(), d0 / d0.max(), atol=1e-12)  # distance ratios unchanged
    assert np.isnan(out[1, 4]).all()


def test_sample_note_says_how_many_of_the_wanted_rows_are_shown():
    wanted = np.zeros(1000, dtype=bool)
    wanted[[3, 7]] = True
    rows = sample_rows(1000, keep=np.flatnonzero(wanted))
    assert sample_note(rows, 1000, wanted, "looked-up") == (
        " Showing 200 of 1,000 rows: every looked-up row, plus a sample of the others."
    )
    wanted[:300] = True  # more than fit: say how many made it in
    rows = sample_rows(1000, keep=np.flatnonzero(wanted))
    assert sample_note(rows, 1000, wanted, "moved") == " Showing 200 of 1,000 rows: 200 of the 300 moved rows."
    assert sample_note(np.arange(5), 5, wanted[:5], "moved") == ""


@pytest.mark.parametrize(
    ("count", "total", "text"),
    [(0, 300, "0%"), (1, 300, "0.3%"), (1, 10_000, "<0.1%"), (150, 300, "50%"), (299, 300, "99.7%"),
     (9_999, 10_000, ">99.9%"), (300, 300, "100%")],
)  # fmt: skip
def test_a_share_never_rounds_a_count_to_none_or_all(count, total, text):
    assert share_of(count, total) == text


def test_raster_caption_counts_the_blank_cells_of_the_records_it_shows():
    # Adam moves a row only once it has had a gradient (its moments start at 0): rows not yet looked up are blank
    trainer = Trainer(TrainConfig(vocab_size=60, dim=8, optimizer="adam", batch_size=16, seed=3))
    trainer.run(5)
    records, rows = list(trainer.history), np.arange(60)
    moves = np.stack([r.update_norm for r in records], axis=1)  # (60, 5), read from the records themselves
    blank = int((moves == 0).sum())
    assert 3 <= blank < 297  # some cells, not all: a whole-percent share
    matrix, steps = update_raster(records, rows)
    caption = raster_caption(matrix, steps, records, 60, 60, 60)
    assert caption.startswith(f"{blank} cells are blank, {round(100 * blank / 300)}% of 300: exactly 0, the row ")
    assert "did not move that step (steps 1–5)." in caption
    binned, bin_steps = update_raster(records, rows, max_cols=2)  # columns: steps 1-3, steps 4-5
    empty = int((moves[:, :3].sum(axis=1) == 0).sum() + (moves[:, 3:].sum(axis=1) == 0).sum())
    caption = raster_caption(binned, bin_steps, records, 60, 60, 60)
    assert caption.startswith(f"{empty} cells are blank, {100 * empty / 120:.0f}% of 120: ")
    assert "did not move in any step of that column (steps 1–5). Columns average 2.5 steps." in caption


def test_raster_caption_says_when_no_cell_is_blank():
    caption = raster_caption(np.ones((3, 4)), np.arange(1, 5), [SimpleNamespace(step=s) for s in (1, 4)], 3, 3, 3)
    assert caption.startswith("No cell is blank: every row shown moved in every step (steps 1–4).")
