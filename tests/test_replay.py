"""core.replay: a link's step re-trained from the seed equals the run stepped by hand; what a link may ask for."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from core import ConfigError, TrainConfig, Trainer, TrainingDiverged, replay

SMALL = TrainConfig(vocab_size=40, dim=8, optimizer="adam", batch_size=32, seed=3)


def by_hand(cfg: TrainConfig, n: int) -> Trainer:
    trainer = Trainer(cfg)
    for _ in range(n):
        trainer.step()
    return trainer


@pytest.mark.parametrize(
    "cfg",
    [
        SMALL,
        TrainConfig(vocab_size=30, dim=4, optimizer="sgd", momentum=0.9, weight_decay=0.01, batch_size=16, seed=1),
        TrainConfig(vocab_size=30, dim=6, optimizer="sparse_adam", sparse=True, padding_idx=0, seed=2),
    ],
    ids=["adam", "sgd-momentum-decay", "sparse-adam-padding"],
)
def test_a_replayed_run_equals_the_run_stepped_by_hand(cfg):
    expected = by_hand(cfg, 12)
    replayed = Trainer(cfg)
    assert replay.replay(replayed, 12) == 12
    assert replayed.step_count == 12
    np.testing.assert_array_equal(replayed.weight, expected.weight)
    np.testing.assert_array_equal(replayed.head_weight, expected.head_weight)
    assert [r.loss for r in replayed.history] == [r.loss for r in expected.history]
    for got, want in zip(replayed.history, expected.history, strict=True):
        np.testing.assert_array_equal(got.input_ids, want.input_ids)
        np.testing.assert_array_equal(got.update_norm, want.update_norm)
    assert [s for s, _ in replayed.frames()] == [s for s, _ in expected.frames()]
    # and the next step is the same too: optimizer state and the batch stream were reproduced
    np.testing.assert_array_equal(replayed.step().update_norm, expected.step().update_norm)


def test_replay_goes_on_from_where_an_interrupted_one_stopped():
    trainer = Trainer(SMALL)
    for done in replay.steps_to(trainer, 10):
        if done == 4:
            break  # a Stop click: no longer iterating
    assert trainer.step_count == 4
    replay.replay(trainer, 10)
    np.testing.assert_array_equal(trainer.weight, by_hand(SMALL, 10).weight)


def test_progress_and_stop():
    calls, entered = [], []

    @contextlib.contextmanager
    def guard():
        entered.append(trainer.step_count)
        yield

    trainer = Trainer(SMALL)
    reached = replay.replay(
        trainer, 20, progress=lambda d, t: calls.append((d, t)), should_stop=lambda: trainer.step_count >= 5,
        guard=guard, every_seconds=0.0,
    )  # fmt: skip
    assert reached == trainer.step_count == 5
    assert entered == [0, 1, 2, 3, 4]  # each step inside the guard, once
    assert calls[0] == (0, 20) and calls[-1] == (5, 20)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_a_trainer_past_the_step_is_left_alone():
    trainer = by_hand(SMALL, 3)
    before = trainer.weight
    assert replay.replay(trainer, 2) == 3
    assert list(replay.steps_to(trainer, 3)) == []
    np.testing.assert_array_equal(trainer.weight, before)


def test_step_cost_counts_the_table_and_the_batch():
    # 40 x 8 table, batch 32: 320 cells + 320 * 32 / 500 (integer) + the fixed cost of a step
    assert replay.step_cost(SMALL) == 320 + 320 * 32 // 500 + replay.STEP_OVERHEAD_CELLS
    gpt2 = TrainConfig(vocab_size=50_257, dim=768, batch_size=64, init="small_normal", lr=0.01)
    cells = 50_257 * 768
    assert replay.step_cost(gpt2) == cells + cells * 64 // 500 + replay.STEP_OVERHEAD_CELLS
    assert replay.max_steps(gpt2) == replay.REPLAY_BUDGET // replay.step_cost(gpt2)
    assert 12 <= replay.max_steps(gpt2) < 100  # the GPT-2 lesson's 12 steps fit; a few hundred do not
    assert replay.max_steps(TrainConfig()) > 5_000  # the default table: thousands of steps


def test_the_cap_raises_a_config_error_naming_the_most_a_link_may_ask_for():
    cfg = TrainConfig(vocab_size=20_000, dim=256, batch_size=512)
    limit = replay.max_steps(cfg)
    replay.check(cfg, limit)  # the limit itself is allowed
    with pytest.raises(ConfigError) as caught:
        replay.check(cfg, limit + 1)
    assert caught.value.field == "step"
    assert f"{limit:,}" in caught.value.message and f"{limit + 1:,}" in caught.value.message
    assert "20,000 × 256" in caught.value.message
    trainer = Trainer(TrainConfig(vocab_size=20, dim=4))
    with pytest.raises(ConfigError):
        replay.replay(trainer, replay.max_steps(trainer.cfg) + 1)
    assert trainer.step_count == 0  # refused before any work


@pytest.mark.parametrize("step", [-1, 2.5, "7", True])
def test_a_step_that_is_not_a_whole_number_is_refused(step):
    with pytest.raises(ConfigError) as caught:
        replay.check(SMALL, step)
    assert caught.value.field == "step"


def test_a_divergence_stops_the_replay_at_the_last_finite_step():
    cfg = TrainConfig(vocab_size=20, dim=4, optimizer="sgd", lr=100.0, init="normal", seed=0)
    trainer = Trainer(cfg)
    with pytest.raises(TrainingDiverged):
        replay.replay(trainer, replay.max_steps(cfg))
    assert np.isfinite(trainer.weight).all()


@pytest.mark.parametrize("cfg", [SMALL, TrainConfig(vocab_size=30, dim=6, optimizer="rmsprop", momentum=0.5, seed=4)],
                         ids=["adam", "rmsprop-momentum"])  # fmt: skip
def test_a_clone_of_a_replayed_run_trains_on_exactly_as_the_run_stepped_by_hand(cfg):
    replayed = Trainer(cfg)
    replay.replay(replayed, 6)
    clone = replayed.clone()
    replayed.step()  # the original moves on: the clone must not
    assert clone.step_count == 6 and len(clone.history) == 6
    expected = by_hand(cfg, 6)
    np.testing.assert_array_equal(clone.weight, expected.weight)
    for _ in range(4):
        got, want = clone.step(), expected.step()
        for name in ("loss", "input_ids", "update_norm", "state_update_norm", "move_grad", "move_state"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    np.testing.assert_array_equal(clone.head_weight, expected.head_weight)
