"""Tests of core.layouts: aligned, deterministic, robust UMAP and PCA layouts of embedding frames."""

import threading
import time

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness

from core import TrainConfig, Trainer
from core.layouts import (
    UMAP_MIN_ROWS,
    LayoutCache,
    LayoutError,
    jitter,
    limit_moves,
    project,
    umap_is_warm,
    warm_up_umap,
)


def random_walk(n_rows=1000, dim=32, n_frames=10, step=0.01, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_rows, dim)).astype(np.float32)
    frames = [x]
    for _ in range(n_frames - 1):
        x = x + step * rng.standard_normal(x.shape).astype(np.float32)
        frames.append(x)
    return frames


def clusters(n_rows=300, dim=16, n_clusters=6, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_clusters, n_rows)
    centres = 4.0 * rng.standard_normal((n_clusters, dim))
    return (centres[labels] + 0.5 * rng.standard_normal((n_rows, dim))).astype(np.float32), labels


def test_warm_up_is_idempotent_and_thread_safe():
    results = []
    threads = [threading.Thread(target=lambda: results.append(warm_up_umap())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert umap_is_warm() and len(results) == 2
    start = time.perf_counter()
    warm_up_umap()
    assert time.perf_counter() - start < 0.5  # already compiled: returns at once


@pytest.mark.parametrize("method", ["umap", "pca"])
def test_slow_random_walk_jitter_meets_target(method):
    frames = random_walk()  # the benchmark: 1,000 x 32, 10 frames, rows move ~1% per frame
    layouts = project(frames, method)
    assert layouts.shape == (10, 1000, 2)
    assert jitter(np.stack(frames)) == pytest.approx(0.01, rel=0.1)  # the data's own motion
    assert jitter(layouts) <= 0.10  # the target (independent per-frame fits: ~0.40)


def spread(x: np.ndarray) -> float:
    return float(np.linalg.norm(x - x.mean(axis=0), axis=1).mean())


def screen_moves(layouts: np.ndarray) -> np.ndarray:
    """Per frame pair: mean point step / mean distance to the centroid, each frame centred and scaled to the same
    spread first, as the Embedding space page draws it."""
    shown = [(f - f.mean(axis=0)) / spread(f) for f in np.asarray(layouts, dtype=np.float64)]
    return np.array([np.linalg.norm(b - a, axis=1).mean() / spread(a) for a, b in zip(shown, shown[1:], strict=False)])


def row_moves(frames: list[np.ndarray]) -> np.ndarray:
    """Per frame pair: the rows' own mean step / their mean distance to the centroid."""
    frames = [np.asarray(f, dtype=np.float64) for f in frames]
    return np.array(
        [np.linalg.norm(b - a, axis=1).mean() / spread(a) for a, b in zip(frames, frames[1:], strict=False)]
    )


@pytest.mark.parametrize("lr", [0.05, 0.005])
def test_umap_points_move_as_far_as_their_rows_on_real_training_frames(lr):
    trainer = Trainer(TrainConfig(optimizer="adam", lr=lr))  # 60 x 16, the app's default table
    trainer.run(200)
    frames = [w for _, w in trainer.frames()]  # a frame every 4 steps
    screen, rows = screen_moves(project(frames, "umap")), row_moves(frames)
    late = slice(len(rows) // 2, None)
    assert np.all(screen[late] <= 1.5 * rows[late])  # uncapped UMAP: 5-7x the rows' own move
    if lr < 0.01:
        slow = rows < 0.01  # rows barely move: the case
        assert slow.sum() >= 40
        assert screen[slow].max() <= 0.05  # uncapped UMAP: up to 0.076


def test_limit_moves_keeps_still_rows_still_and_caps_the_others():
    rng = np.random.default_rng(0)
    before = rng.standard_normal((50, 8))
    after = before.copy()
    after[:10] += 0.02 * spread(before) * rng.standard_normal((10, 8)) / np.sqrt(8)  # 10 rows move ~2%
    previous = rng.standard_normal((50, 2))
    proposed = previous + 0.3 * spread(previous) * rng.standard_normal((50, 2))  # UMAP wanders everywhere
    limited = limit_moves(previous, proposed, before, after, factor=1.0, free_move=0.05)
    np.testing.assert_array_equal(limited[10:], previous[10:])  # rows that did not move: points did not move
    row_step = np.linalg.norm(after - before, axis=1) / spread(before)
    point_step = np.linalg.norm(limited - previous, axis=1) / spread(previous)
    assert np.all(point_step[:10] <= row_step[:10] * (1 + 1e-9))
    direction = (limited - previous)[:10] / np.linalg.norm((limited - previous)[:10], axis=1, keepdims=True)
    wanted = (proposed - previous)[:10] / np.linalg.norm((proposed - previous)[:10], axis=1, keepdims=True)
    np.testing.assert_allclose(direction, wanted)  # capped along UMAP's own direction


def test_umap_warm_start_beats_independent_fits():
    frames = random_walk(n_rows=400, n_frames=4)
    independent = np.stack([project([f], "umap")[0] for f in frames])
    assert jitter(project(frames, "umap")) < 0.5 * jitter(independent)


def test_umap_layout_keeps_neighbours_and_follows_the_data():
    start, _ = clusters(seed=1)
    rng = np.random.default_rng(2)
    noise = rng.standard_normal(start.shape).astype(np.float32) * start.std()
    end, _ = clusters(seed=1)
    frames = [noise + t * (end - noise) for t in np.linspace(0, 1, 6)]  # noise organises into clusters
    layouts = project(frames, "umap")
    fresh = project([end], "umap")[0]
    t_fresh = trustworthiness(end, fresh, n_neighbors=10)
    assert t_fresh > 0.9  # a real UMAP of clustered data
    assert trustworthiness(end, layouts[-1], n_neighbors=10) > t_fresh - 0.03  # not frozen at frame 0


def test_same_seed_same_layout_and_identical_frames_identical_layouts():
    x, _ = clusters()
    first = project([x, x + 0.01], "umap", seed=3)
    again = project([x, x + 0.01], "umap", seed=3)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(project([x], "umap", seed=4)[0], first[0])
    projector = LayoutCache("umap")
    same = projector.layouts([x, x.copy(), x])
    np.testing.assert_array_equal(same[0], same[1])
    np.testing.assert_array_equal(same[0], same[2])
    assert projector.n_computed == 1


def test_incremental_computes_only_the_new_frame_and_matches_a_full_run():
    frames = random_walk(n_rows=200, n_frames=4)
    projector = LayoutCache("umap")
    three = projector.layouts(frames[:3])
    assert projector.n_computed == 3
    four = projector.layouts(frames)
    assert projector.n_computed == 4  # one new frame computed
    np.testing.assert_array_equal(four[:3], three)
    np.testing.assert_array_equal(four, project(frames, "umap"))  # as if computed in one go


def test_cache_memory_is_bounded():
    frames = random_walk(n_rows=100, n_frames=8)
    one_layout = 100 * 2 * 4
    projector = LayoutCache("pca", max_cache_bytes=3 * one_layout)
    projector.layouts(frames)
    assert projector.n_cached == 3


@pytest.mark.parametrize("method", ["umap", "pca"])
@pytest.mark.parametrize("n_components", [2, 3])
def test_shapes_and_finite(method, n_components):
    x, _ = clusters(n_rows=120)
    layouts = project([x, 1.01 * x], method, n_components)
    assert layouts.shape == (2, 120, n_components)
    assert np.isfinite(layouts).all()
    assert np.ptp(layouts[0], axis=0).min() > 0  # every axis is used


@pytest.mark.parametrize("n_rows", [2, 3, 5, UMAP_MIN_ROWS - 1])
@pytest.mark.parametrize("n_components", [2, 3])
def test_tiny_vocabulary_falls_back_to_pca(n_rows, n_components):
    rng = np.random.default_rng(0)
    frames = [rng.standard_normal((n_rows, 8)) for _ in range(2)]
    projector = LayoutCache("umap", n_components)
    layouts = projector.layouts(frames)
    assert layouts.shape == (2, n_rows, n_components) and np.isfinite(layouts).all()
    assert any("showing PCA" in note for note in projector.notes)
    pca = LayoutCache("pca", n_components).layouts(frames)
    np.testing.assert_array_equal(layouts, pca)


def test_all_rows_equal_sit_at_the_origin_then_training_spreads_them():
    zero_init = np.zeros((40, 8), dtype=np.float32)
    trained = np.random.default_rng(0).standard_normal((40, 8)).astype(np.float32)
    projector = LayoutCache("umap")
    layouts = projector.layouts([zero_init, trained])
    np.testing.assert_array_equal(layouts[0], 0.0)
    assert any("all rows are equal" in note for note in projector.notes)
    assert np.isfinite(layouts[1]).all() and np.ptp(layouts[1], axis=0).min() > 0


def test_one_dimensional_embeddings():
    x = np.random.default_rng(0).standard_normal((50, 1))
    pca = project([x], "pca")[0]
    np.testing.assert_allclose(np.abs(pca[:, 0]), np.abs(x[:, 0] - x.mean()), rtol=1e-5)
    np.testing.assert_array_equal(pca[:, 1], 0.0)  # D = 1: the second axis has nothing to show
    umap_layout = project([x], "umap")[0]
    assert np.isfinite(umap_layout).all()


def test_duplicate_rows():
    rng = np.random.default_rng(0)
    few = project([np.repeat(rng.standard_normal((5, 8)), 20, axis=0)], "umap")[0]  # 5 distinct rows
    np.testing.assert_array_equal(few[:20], np.repeat(few[:1], 20, axis=0))  # PCA: same row, same point
    base, _ = clusters(n_rows=100)
    doubled = project([np.concatenate([base, base])], "umap")[0]
    assert np.isfinite(doubled).all()
    twin_gap = np.linalg.norm(doubled[:100] - doubled[100:], axis=1).mean()
    assert twin_gap < 0.2 * np.linalg.norm(doubled - doubled.mean(0), axis=1).mean()


def test_non_finite_rows_raise_a_clear_error():
    x = np.ones((30, 4))
    x[17, 2] = np.nan
    with pytest.raises(LayoutError, match=r"Frame 1: row 17 .*non-finite.*learning rate"):
        project([np.ones((30, 4)), x], "umap")
    x[17, 2] = np.inf
    with pytest.raises(ValueError, match="row 17"):  # a LayoutError is a ValueError
        project([x], "pca")


@pytest.mark.parametrize(
    "frames, kwargs, message",
    [
        ([np.ones((4, 2)), np.ones((5, 2))], {}, "share the vocabulary"),
        ([np.ones((0, 2))], {}, "expected a"),
        ([np.ones((4, 2))], {"method": "tsne"}, "Unknown projection"),
        ([np.ones((4, 2))], {"n_components": 4}, "2 or 3"),
    ],
)
def test_bad_inputs_raise_layout_error(frames, kwargs, message):
    with pytest.raises(LayoutError, match=message):
        project(frames, **kwargs)


def test_pca_first_frame_is_sklearn_pca_up_to_sign():
    x, _ = clusters()
    ours = project([x], "pca", 3)[0]
    theirs = PCA(n_components=3).fit_transform(x)
    signs = np.sign((ours * theirs).sum(axis=0))
    np.testing.assert_allclose(ours, theirs * signs, atol=1e-4)


def test_pca_later_frames_are_their_own_pca_rotated_to_the_previous_frame():
    frames = random_walk(n_rows=300, n_frames=3, step=0.2)
    layouts = project(frames, "pca")
    for f in (1, 2):
        theirs = PCA(n_components=2).fit_transform(frames[f])
        rotation, *_ = np.linalg.lstsq(theirs, layouts[f].astype(np.float64), rcond=None)
        np.testing.assert_allclose(rotation.T @ rotation, np.eye(2), atol=1e-4)  # same plane, rotated
        np.testing.assert_allclose(theirs @ rotation, layouts[f], atol=1e-3)


def test_pca_does_not_spin_when_the_top_components_tie():
    angles = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    ring = np.stack([np.cos(angles), np.sin(angles), 0.1 * np.cos(3 * angles)], axis=1)  # equal variances
    moved = ring + 1e-3 * np.random.default_rng(0).standard_normal(ring.shape)
    layouts = project([ring, moved], "pca")
    assert np.abs(layouts[1] - layouts[0]).max() < 0.01  # per-frame PCA alone would turn by any angle


def test_large_vocabulary_uses_a_marked_deterministic_sample():
    frames = random_walk(n_rows=300, dim=8, n_frames=2)
    projector = LayoutCache("umap", max_rows=100, seed=5)
    layouts = projector.layouts(frames)
    sample = projector.sample_idx
    assert len(sample) == 100 and np.all(np.diff(sample) > 0)
    sampled = np.zeros(300, bool)
    sampled[sample] = True
    assert np.isfinite(layouts[:, sampled]).all() and np.isnan(layouts[:, ~sampled]).all()
    assert any("sample of 100 of 300 rows" in note for note in projector.notes)
    np.testing.assert_array_equal(LayoutCache("umap", max_rows=100, seed=5).layouts(frames), layouts)
    sample_only = LayoutCache("umap", seed=5).layouts([f[sample] for f in frames])
    np.testing.assert_array_equal(layouts[:, sampled], sample_only)  # UMAP of exactly those rows
    pca = LayoutCache("pca", max_rows=100).layouts(frames)
    assert np.isfinite(pca).all()  # PCA places every row
