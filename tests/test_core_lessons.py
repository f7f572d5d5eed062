"""Lessons: after its suggested steps, each lesson's point holds on its run, measured here with numpy on
the StepRecords (not with core.lessons' own checks), and the loss is below the blind guess ln V."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core import Trainer
from core.lessons import LESSONS, RECENT, check
from ui import nav

PAGES = {page.url for page in nav.PAGES}
SMALL = [key for key in LESSONS if key != "gpt2_table"]


def trained(key: str) -> tuple[Trainer, list]:
    lesson = LESSONS[key]
    trainer = Trainer(lesson.config())
    return trainer, trainer.run(lesson.steps)


def stack(records, field):
    return np.stack([getattr(r, field) for r in records])  # (steps, V)


def claim_holds(key: str, records, trainer: Trainer) -> bool:
    """Each lesson's point, computed independently from the records' arrays."""
    grad, moved, counts = stack(records, "grad_mask"), stack(records, "updated_mask"), stack(records, "token_counts")
    if key == "sgd_used_rows":
        return bool((grad == moved).all())
    if key in ("adam_state", "momentum_state"):
        return bool(((moved & ~grad).sum(axis=1)[1:] > 0).all())
    if key == "weight_decay":  # every row moved and decay had a part; step 1's gradient-less rows: decay alone
        first = records[0]
        alone = (
            np.abs(first.move_decay - first.update_norm)[~first.grad_mask] <= 1e-4 * first.update_norm[~first.grad_mask]
        )
        return bool(moved.all() and (stack(records, "move_decay") != 0).all() and alone.all())
    if key == "sparse_adam":
        return bool((moved == (counts > 0)).all() and not (moved & ~grad).any())
    if key == "tied_head":
        return bool(grad.all())
    if key == "padding_idx":
        pad = trainer.cfg.padding_idx
        return bool(counts[:, pad].sum() > 0 and (stack(records, "grad_norm")[:, pad] == 0).all()) and bool(
            (stack(records, "update_norm")[:, pad] == 0).all()
        )
    if key == "max_norm":
        renorm = stack(records, "renorm_norm") > 0
        last_rows = np.flatnonzero(counts[-1] > 0)
        norms = np.sqrt((trainer.weight[last_rows].astype(np.float64) ** 2).sum(axis=1))
        within = norms <= trainer.cfg.max_norm + records[-1].update_norm[last_rows] + 1e-5
        return bool(renorm.any() and not (renorm & (counts == 0)).any() and within.all())
    if key == "negative_sampling":  # head rows with a gradient: the true contexts and negatives, no more
        drawn = [set(r.target_ids.tolist()) | set(r.negative_ids.ravel().tolist()) for r in records]
        head = [set(np.flatnonzero(r.head_grad_mask).tolist()) for r in records]
        k1 = trainer.cfg.negatives + 1
        return (
            drawn == head
            and max(map(len, head)) <= k1 * trainer.cfg.batch_size < trainer.cfg.vocab_size
            and bool((grad == (counts > 0)).all())
        )
    if key == "gpt_positions":  # every position row: a gradient and a move in every step; token rows: looked up
        pos_grad, pos_moved = stack(records, "position_grad_norm"), stack(records, "position_update_norm")
        return (
            pos_grad.shape[1] == trainer.cfg.context
            and bool((pos_grad > 0).all() and (pos_moved > 0).all())
            and bool((grad == (counts > 0)).all() and not grad.all())
        )
    raise AssertionError(key)


def test_lessons_are_complete_runnable_data():
    for key, lesson in LESSONS.items():
        assert lesson.key == key and lesson.name and lesson.point and lesson.look_for
        assert lesson.page in PAGES
        assert "lr" in lesson.settings and "weight_decay" in lesson.settings  # never the optimizer's default
        cfg = lesson.config()
        assert cfg.lr == lesson.settings["lr"] and cfg.weight_decay == lesson.settings["weight_decay"]
        assert 1 <= lesson.steps <= 200


@pytest.mark.parametrize("key", SMALL)
def test_each_lessons_point_holds_after_its_steps_and_loss_beats_ln_v(key):
    trainer, records = trained(key)
    assert len(records) == LESSONS[key].steps
    assert claim_holds(key, records, trainer)
    verdict = check(LESSONS[key], records, trainer.weight)
    assert verdict.holds, verdict.evidence
    recent = np.mean([r.loss for r in records[-RECENT:]])
    assert recent < math.log(trainer.cfg.vocab_size)
    assert verdict.recent_loss == pytest.approx(recent) and verdict.learned


@pytest.mark.parametrize(
    ("key", "other"),
    [
        ("sgd_used_rows", {"optimizer": "adam", "lr": 0.05}),
        ("adam_state", {"optimizer": "sgd", "lr": 0.5}),
        ("weight_decay", {"optimizer": "adam", "lr": 0.05, "weight_decay": 0.0}),
        ("sparse_adam", {"optimizer": "adam", "lr": 0.05}),
        ("tied_head", {"tie_weights": False}),
        ("padding_idx", {"optimizer": "adam", "lr": 0.05, "tie_weights": True}),
        ("max_norm", {"max_norm": 100.0}),
        ("gpt_positions", {"tie_weights": True}),
    ],
)
def test_check_says_no_on_a_run_that_does_not_show_the_point(key, other):
    lesson = LESSONS[key]
    trainer = Trainer(lesson.config().replace(**other))
    records = trainer.run(20)
    assert not claim_holds(key, records, trainer)
    assert not check(lesson, records, trainer.weight).holds


def test_check_before_any_step_does_not_claim_anything():
    verdict = check(LESSONS["sgd_used_rows"], [])
    assert not verdict.holds and "No step" in verdict.evidence


def test_gpt2_table_learns_below_ln_v_within_20_steps():
    lesson = LESSONS["gpt2_table"]
    cfg = lesson.config()
    assert (cfg.vocab_size, cfg.dim, cfg.init) == (50_257, 768, "small_normal")
    assert lesson.steps <= 20
    trainer = Trainer(cfg)
    records = trainer.run(lesson.steps)
    recent = np.mean([r.loss for r in records[-RECENT:]])
    assert recent < math.log(50_257)
    verdict = check(lesson, records)
    assert verdict.holds and verdict.learned, verdict.evidence


def test_weight_decay_lessons_step_1_moves_gradientless_rows_by_decay_alone():
    """Independently of the record's split: in step 1, a row with no gradient becomes W * (1 - lr * wd)."""
    trainer = Trainer(LESSONS["weight_decay"].config())
    before = trainer.weight.astype(np.float64)
    rec = trainer.step()
    after = trainer.weight.astype(np.float64)
    cfg = trainer.cfg
    rows = ~rec.grad_mask
    assert rows.any()
    assert np.allclose(after[rows], before[rows] * (1 - cfg.lr * cfg.weight_decay), rtol=1e-6, atol=1e-7)
    assert not np.allclose(after[rows], before[rows], rtol=0, atol=0)
    assert check(LESSONS["weight_decay"], [rec]).holds
