"""Optimizers side by side (core.compare) and Predict, then step (core.predict): members are exactly solo runs on the
same batches, a peeked batch is the next batch, and the quiz's reasons match the records."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from core import ConfigError, StepRecord, TrainConfig, Trainer
from core.captions import member_labels
from core.compare import Comparison, member_config, row_trajectory, series
from core.predict import Tally, breakdown, explain, score

BASE = TrainConfig(vocab_size=60, dim=16, seed=3, batch_size=32)
MEMBERS = [
    member_config(BASE, "sgd", lr=0.5),
    member_config(BASE, "adam", lr=0.05),
    member_config(BASE, "adamw"),
    member_config(BASE, "sparse_adam", lr=0.05),
]


def assert_records_equal(a: StepRecord, b: StepRecord) -> None:
    for f in fields(StepRecord):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


def test_every_member_equals_a_solo_trainer_with_its_config():
    comparison = Comparison(MEMBERS)
    comparison.run(12)
    for cfg, member in zip(MEMBERS, comparison.members, strict=True):
        solo = Trainer(cfg)
        solo_records = solo.run(12)
        assert len(member.history) == 12
        for got, want in zip(member.history, solo_records, strict=True):
            assert_records_equal(got, want)
        assert np.array_equal(member.weight, solo.weight)


def test_members_start_from_one_table_and_see_the_same_batches():
    comparison = Comparison(MEMBERS)
    start = [m.weight for m in comparison.members]
    assert all(np.array_equal(w, start[0]) for w in start[1:])
    first = comparison.step()
    masks = [r.grad_mask for r in first]
    assert all(np.array_equal(m, masks[0]) for m in masks[1:])  # the same batch: the same rows get a gradient
    assert all(np.array_equal(r.input_ids, first[0].input_ids) for r in first)
    # the optimizers differ in what moves: SGD only rows with a gradient, AdamW every row (weight decay)
    assert np.array_equal(first[0].updated_mask, first[0].grad_mask)
    assert first[2].updated_mask.all()


def test_defaults_come_from_the_optimizer_and_labels_are_distinct():
    cfg = member_config(BASE, "adamw")
    assert cfg.weight_decay == pytest.approx(0.01)  # torch's AdamW default
    comparison = Comparison([member_config(BASE, "adam", lr=0.05), member_config(BASE, "adam", lr=0.05)])
    assert len(set(member_labels(comparison.configs))) == 2


def test_members_must_share_table_and_batches_and_number_2_to_4():
    with pytest.raises(ConfigError):
        Comparison(MEMBERS[:1])
    with pytest.raises(ConfigError):
        Comparison([*MEMBERS, member_config(BASE, "adagrad")])
    with pytest.raises(ConfigError) as error:
        Comparison([MEMBERS[0], member_config(BASE.replace(seed=4), "adam")])
    assert error.value.field == "seed"


def test_a_diverged_member_stops_and_the_others_go_on():
    comparison = Comparison([member_config(BASE, "sgd", lr=100.0, init="normal"), member_config(BASE, "adam")])
    for _ in range(30):
        comparison.step()
        if comparison.diverged:
            break
    assert 0 in comparison.diverged and 1 not in comparison.diverged
    records = comparison.step()
    assert records[0] is None and records[1] is not None


def test_series_and_trajectory_count_from_the_records():
    comparison = Comparison(MEMBERS[:2])
    comparison.run(5)
    records = list(comparison.members[1].history)
    s = series(records)
    assert s.steps.tolist() == [1, 2, 3, 4, 5]
    for i, r in enumerate(records):
        assert s.grad_rows[i] == np.count_nonzero(r.grad_norm)
        assert s.moved_rows[i] == np.count_nonzero(r.update_norm)
        assert s.moved_without_grad[i] == np.count_nonzero((r.update_norm > 0) & (r.grad_norm == 0))
    row = int(records[0].input_ids[0])
    steps, norms, had = row_trajectory(records, row)
    assert norms[0] == pytest.approx(
        np.linalg.norm(
            comparison.members[1].snapshots.items()[1][1][row] - comparison.members[1].snapshots.items()[0][1][row]
        )
    )
    assert had[0]


# ---------------------------------------------------------------- Predict, then step


def test_peek_batch_is_the_next_batch_and_does_not_consume_it():
    trainer = Trainer(BASE)
    trainer.step()
    centres, targets = trainer.peek_batch()
    again, _ = trainer.peek_batch()
    assert np.array_equal(centres, again)
    rec = trainer.step()
    assert np.array_equal(rec.input_ids, centres) and np.array_equal(rec.target_ids, targets)
    solo = Trainer(BASE)
    assert np.array_equal(solo.run(2)[1].input_ids, rec.input_ids)  # peeking changed nothing downstream


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"optimizer": "sgd", "lr": 0.5, "weight_decay": 0.0}, "none"),
        ({"optimizer": "adamw", "lr": 0.05, "weight_decay": 0.01}, "decay"),
        ({"optimizer": "adam", "lr": 0.05, "weight_decay": 0.0}, "state"),
        ({"optimizer": "sgd", "lr": 0.5, "weight_decay": 0.0, "tie_weights": True}, "tied"),
        ({"optimizer": "sgd", "lr": 0.5, "weight_decay": 0.0, "padding_idx": 0}, "padding"),
    ],
)
def test_reasons_match_the_records(changes, expected):
    trainer = Trainer(BASE.replace(**changes))
    records = trainer.run(3)
    rec = records[-1]
    exp = explain(rec)
    looked_up = np.bincount(rec.input_ids, minlength=60) > 0
    no_grad_moved = (rec.update_norm > 0) & (rec.grad_norm == 0)
    counts = breakdown(exp)
    assert counts["looked up"] == looked_up.sum()
    assert counts["moved without a gradient"] == no_grad_moved.sum()
    for row in exp.surprising_rows():
        assert exp.reasons(int(row)), f"row {row} has no reason"
    if expected == "none":
        assert len(exp.surprising_rows()) == 0
    if expected == "decay":  # every row moved; rows without a gradient by weight decay at least
        assert all("moved by weight decay" in exp.reasons(int(r)) for r in np.flatnonzero(no_grad_moved))
    if expected == "state":
        assert no_grad_moved.any()
        assert all("moved by optimizer state" in exp.reasons(int(r)) for r in np.flatnonzero(no_grad_moved))
    if expected == "tied":
        head_only = (rec.grad_norm > 0) & ~looked_up
        assert head_only.any() and counts["gradient: tied head only"] == head_only.sum()
        assert all("tied head" in exp.reasons(int(r)) for r in np.flatnonzero(head_only))
    if expected == "padding":
        pad_used = next(r for r in records + trainer.run(30) if r.token_counts[0] > 0)
        assert "padding row: looked up, no gradient" in explain(pad_used).reasons(0)
        assert breakdown(explain(pad_used))["looked up, no gradient (padding)"] == 1


def test_score_counts_exact_answers():
    rec = Trainer(BASE).step()
    n_grad, n_moved = int((rec.grad_norm > 0).sum()), int((rec.update_norm > 0).sum())
    assert score(rec, n_grad, n_moved).points == 2
    assert score(rec, n_grad, n_moved + 1).points == 1
    assert score(rec, 0, 0).points == 0


def test_grad_masks_agree_counts_steps_with_identical_masks():
    untied = Comparison(MEMBERS[:3])
    untied.run(4)
    assert untied.grad_masks_agree() == (4, 4)
    tied = Comparison([MEMBERS[0], member_config(BASE.replace(tie_weights=True), "sgd", lr=0.5)])
    tied.run(3)
    masks = [[r.grad_mask for r in m.history] for m in tied.members]
    expected = sum(np.array_equal(a, b) for a, b in zip(*masks, strict=True))
    assert tied.grad_masks_agree() == (expected, 3) and expected == 0  # a tied head reaches every row


def test_tally_adds_each_steps_points_of_two():
    rec = Trainer(BASE).step()
    right = score(rec, int(rec.grad_mask.sum()), int(rec.updated_mask.sum()))
    half = score(rec, int(rec.grad_mask.sum()), 0)
    tally = Tally().add(right).add(half)
    assert (right.points, half.points) == (2, 1 + int(rec.updated_mask.sum() == 0))
    assert (tally.points, tally.possible) == (2 + half.points, 4)
