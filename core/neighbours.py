"""Which words changed their neighbours: each row's k cosine-nearest rows in two tables, and their overlap (the
Jaccard index |A ∩ B| / |A ∪ B|). Neighbours are searched within a pool (a big table's most used rows), so a
50,257-row table costs a pool x pool product, not V x V."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.captions import count

MAX_POOL = 1000  # rows whose neighbours are compared (the most used ones when the table has more)
CHANGED_SHOWN = 8


def knn(weight: np.ndarray, k: int) -> np.ndarray:
    """Each row's k cosine-nearest other rows, nearest first: (n, k) indices into `weight` (n, D)."""
    w = np.asarray(weight, np.float64)
    unit = w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12)
    sims = unit @ unit.T  # (n, n)
    np.fill_diagonal(sims, -np.inf)
    k = min(k, len(w) - 1)
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row by row, |A ∩ B| / |A ∪ B| of two (n, k) index sets. (n,)"""
    common = (a[:, :, None] == b[:, None, :]).any(axis=2).sum(axis=1)
    return common / (2 * a.shape[1] - common)


@dataclass(frozen=True)
class Changes:
    """Two tables' neighbour sets over one pool of rows, and their overlaps."""

    pool: np.ndarray  # (n,) the rows compared (indices into the table)
    k: int
    old: np.ndarray  # (n, k) neighbours in the first table, as rows of the table
    new: np.ndarray  # (n, k) in the second
    overlap: np.ndarray  # (n,) Jaccard per pooled row

    @property
    def mean(self) -> float:
        return float(self.overlap.mean())

    def most_changed(self, n: int = CHANGED_SHOWN) -> np.ndarray:
        """Positions in the pool of the n rows whose neighbourhoods changed most (lowest overlap first)."""
        return np.argsort(self.overlap, kind="stable")[:n]


def pool_rows(n_rows: int, frequent_first: np.ndarray, size: int = MAX_POOL) -> np.ndarray:
    """The rows to compare: every row of a small table, else the `size` most used (sorted)."""
    return np.arange(n_rows) if n_rows <= size else np.sort(np.asarray(frequent_first)[:size])


def changes(first: np.ndarray, second: np.ndarray, k: int, pool: np.ndarray) -> Changes:
    """k-NN overlap of every pooled row between two (V, D) tables."""
    old, new = pool[knn(first[pool], k)], pool[knn(second[pool], k)]
    return Changes(pool, old.shape[1], old, new, jaccard(old, new))


def settling(
    frames: list[tuple[int, np.ndarray]], k: int, pool: np.ndarray, kept: dict | None = None
) -> tuple[list[int], list[float]]:
    """(later step, mean overlap) of each pair of consecutive frames; `kept` keeps each step's sets between calls."""
    kept = {} if kept is None else kept
    for stale in [key for key in kept if key[0] not in {s for s, _ in frames} or key[1:] != (k, len(pool))]:
        del kept[stale]
    sets = [kept.setdefault((s, k, len(pool)), None) for s, _ in frames]
    for i, (s, w) in enumerate(frames):
        if sets[i] is None:
            sets[i] = kept[(s, k, len(pool))] = knn(w[pool], k)
    steps = [s for s, _ in frames[1:]]
    return steps, [float(jaccard(a, b).mean()) for a, b in zip(sets, sets[1:], strict=False)]


def changes_caption(what: str, ch: Changes, n_rows: int) -> str:
    pooled = "every row" if len(ch.pool) == n_rows else f"the {len(ch.pool):,} most used of {n_rows:,} rows"
    same = count(int((ch.overlap == 1).sum()), "row")
    return (
        f"{what}: over {pooled}, a row's {ch.k} cosine-nearest neighbours overlap by {ch.mean:.2f} on average "
        f"(Jaccard |A ∩ B| / |A ∪ B|: 1 = the same set); {same} kept exactly the same neighbours."
    )
