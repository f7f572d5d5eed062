"""k-NN overlap against a brute-force computation (Python sets, one row at a time)."""

from __future__ import annotations

import numpy as np
import pytest

from core.neighbours import Changes, changes, changes_caption, jaccard, knn, pool_rows, settling


def brute_knn(w: np.ndarray, k: int) -> list[list[int]]:
    out = []
    for i in range(len(w)):
        sims = [
            (float(w[i] @ w[j] / (np.linalg.norm(w[i]) * np.linalg.norm(w[j]))), j) for j in range(len(w)) if j != i
        ]
        out.append([j for _, j in sorted(sims, key=lambda t: -t[0])[:k]])
    return out


@pytest.mark.parametrize("k", [1, 3, 7])
def test_knn_and_overlap_match_brute_force(k):
    rng = np.random.default_rng(k)
    a, b = rng.normal(size=(40, 6)), rng.normal(size=(40, 6))
    b[:10] = a[:10] * 3.0  # rescaled rows: cosine neighbours unchanged among themselves
    assert knn(a, k).tolist() == brute_knn(a, k)
    pool = np.arange(40)
    ch = changes(a, b, k, pool)
    old, new = brute_knn(a, k), brute_knn(b, k)
    want = [len(set(o) & set(n)) / len(set(o) | set(n)) for o, n in zip(old, new, strict=True)]
    np.testing.assert_allclose(ch.overlap, want)
    assert ch.mean == pytest.approx(np.mean(want))
    worst = ch.most_changed(5)
    assert sorted(ch.overlap[worst]) == sorted(want)[:5]


def test_pool_is_a_subset_and_neighbours_are_table_rows():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(50, 4))
    pool = pool_rows(50, np.arange(50)[::-1], size=20)
    assert pool.tolist() == list(range(30, 50))
    ch = changes(w, w, 3, pool)
    assert set(ch.old.ravel()) <= set(pool.tolist()) and (ch.overlap == 1).all()


def test_settling_is_the_mean_overlap_of_consecutive_frames():
    rng = np.random.default_rng(1)
    frames = [(s, rng.normal(size=(30, 5))) for s in (0, 2, 4)]
    steps, means = settling(frames, 4, np.arange(30))
    assert steps == [2, 4]
    for (_, a), (_, b), m in zip(frames, frames[1:], means, strict=False):
        old, new = brute_knn(a, 4), brute_knn(b, 4)
        assert m == pytest.approx(
            np.mean([len(set(o) & set(n)) / len(set(o) | set(n)) for o, n in zip(old, new, strict=True)])
        )
    assert jaccard(np.array([[1, 2]]), np.array([[2, 3]]))[0] == pytest.approx(1 / 3)


def test_settling_keeps_each_steps_sets_between_calls():
    rng = np.random.default_rng(2)
    frames = [(s, rng.normal(size=(20, 3))) for s in (0, 1, 2)]
    kept: dict = {}
    first = settling(frames, 3, np.arange(20), kept)
    assert len(kept) == 3
    assert settling(frames[1:] + [(3, rng.normal(size=(20, 3)))], 3, np.arange(20), kept)[1][0] == first[1][1]
    assert sorted(key[0] for key in kept) == [1, 2, 3]  # step 0's sets dropped with its frame


@pytest.mark.parametrize("kept", [0, 1, 2])
def test_changes_caption_counts_the_rows_that_kept_their_neighbours(kept):
    overlap = np.where(np.arange(12) < kept, 1.0, 0.5)  # only `kept` rows keep exactly their set
    neighbours = np.zeros((12, 3), dtype=np.int64)
    caption = changes_caption("Steps 0 -> 5", Changes(np.arange(12), 3, neighbours, neighbours, overlap), 12)
    rows = "1 row" if kept == 1 else f"{kept} rows"
    assert caption.endswith(f"; {rows} kept exactly the same neighbours.")
    assert "over every row, a row's 3 cosine-nearest neighbours overlap by" in caption
