"""Bounded history and snapshots, the metrics against brute force, and what training achieves."""

from pydoc_data.topics import topics  # English prose that ships with Python: nothing downloaded

import numpy as np
import pytest

from core import TrainConfig, Trainer, knn_category_purity, nearest_neighbours


def test_history_keeps_consecutive_records_within_its_byte_budget():
    trainer = Trainer(TrainConfig(vocab_size=200, dim=4, batch_size=16), history_bytes=60_000)
    trainer.run(50)
    kept = trainer.history
    assert kept.nbytes <= 60_000
    assert 1 < len(kept) < 50
    assert kept.steps == list(range(51 - len(kept), 51))
    assert kept.at(50) is kept[-1] and kept.at(1) is None and kept.at(51) is None
    assert sum(r.nbytes for r in kept) == kept.nbytes


def test_snapshots_thin_to_a_bounded_number_of_frames_with_their_steps():
    cfg = TrainConfig(vocab_size=100, dim=8, optimizer="sgd", lr=0.5)
    frame = 100 * 8 * 4
    trainer = Trainer(cfg, snapshot_bytes=10 * frame)
    weights = {0: trainer.weight}
    for _ in range(100):
        step = trainer.step().step
        weights[step] = trainer.weight
    frames = trainer.frames()
    steps = [s for s, _ in frames]
    assert len(trainer.snapshots.items()) <= 10 and trainer.snapshots.nbytes <= 10 * frame
    assert steps[0] == 0 and steps[-1] == 100 and steps == sorted(steps)
    assert len(set(np.diff(steps[:-1]))) == 1  # an even stride, the current weight appended
    for step, weight in frames:
        np.testing.assert_array_equal(weight, weights[step])


def test_nearest_neighbours_match_brute_force_cosine():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(40, 6))
    weight[5] = 0.0  # a zero row must not produce NaNs
    rows, sims = nearest_neighbours(weight, 3, k=4)
    cos = [
        weight[3] @ w / (np.linalg.norm(weight[3]) * np.linalg.norm(w)) if np.linalg.norm(w) else 0.0 for w in weight
    ]
    cos[3] = -np.inf
    expected = np.argsort(cos)[::-1][:4]
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_allclose(sims, np.asarray(cos)[expected])


def test_purity_is_one_for_separated_clusters_and_near_chance_for_noise():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 16)) * 10
    cats = np.repeat(np.arange(4), 25)
    clustered = centres[cats] + rng.normal(size=(100, 16))
    assert knn_category_purity(clustered, cats) == 1.0
    noise = knn_category_purity(rng.normal(size=(100, 16)), cats)
    assert 0.1 < noise < 0.45  # chance is 0.25
    with_uncategorised = np.concatenate([cats[:-10], -np.ones(10, dtype=int)])
    assert knn_category_purity(clustered, with_uncategorised) == 1.0
    assert np.isnan(knn_category_purity(clustered, -np.ones(100, dtype=int)))


def test_defaults_make_each_category_a_neighbourhood_within_600_adam_steps():
    trainer = Trainer(TrainConfig())
    assert trainer.cfg.optimizer == "adam"
    start = knn_category_purity(trainer.weight, trainer.categories)
    trainer.run(600)
    assert start < 0.5
    assert knn_category_purity(trainer.weight, trainer.categories) >= 0.8


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_loss_falls_on_real_english_prose(optimizer):
    text = " ".join(topics[k] for k in sorted(topics)[:40])
    trainer = Trainer(TrainConfig(vocab_size=300, dim=16, optimizer=optimizer, corpus_text=text, seed=0))
    losses = [r.loss for r in trainer.run(300)]
    assert np.mean(losses[-50:]) < np.mean(losses[:10]) - 0.5


def test_weight_rows_reads_the_same_rows_as_the_whole_table():
    trainer = Trainer(TrainConfig(vocab_size=80, dim=4))
    trainer.run(2)
    rows = np.array([79, 0, 5, 5])
    np.testing.assert_array_equal(trainer.weight_rows(rows), trainer.weight[rows])


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "sparse_adam", "adagrad", "rmsprop"])
def test_each_optimizer_learns_at_its_own_defaults_within_100_steps(optimizer):
    import math

    trainer = Trainer(TrainConfig(optimizer=optimizer))  # the app's default table, the optimizer's defaults
    losses = [r.loss for r in trainer.run(100)]
    assert np.mean(losses[-10:]) < math.log(trainer.cfg.vocab_size) - 0.3  # below a blind guess
