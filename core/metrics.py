"""Measures of an embedding matrix: cosine nearest neighbours, and how well categories cluster."""

from __future__ import annotations

import numpy as np

CHUNK = 2048  # rows of the similarity matrix computed at once, so V = 50,257 never needs V x V memory


def nearest_neighbours(weight: np.ndarray, row: int, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The k rows most cosine-similar to `row`, and their similarities; no float64 copy (50,257 x 768: 300 MB)."""
    weight = np.asarray(weight)
    norms = np.sqrt(np.einsum("ij,ij->i", weight, weight, dtype=np.float64))  # (V,)
    dots = (weight @ weight[row]).astype(np.float64)  # (V,)
    scale = norms * norms[row]
    sims = np.divide(dots, scale, out=np.zeros_like(dots), where=scale > 0)  # a zero row: similarity 0 to all
    sims[row] = -np.inf
    k = min(k, len(sims) - 1)
    top = np.argpartition(-sims, k - 1)[:k] if k > 0 else np.empty(0, dtype=np.int64)
    top = top[np.lexsort((top, -sims[top]))]  # by similarity, ties by row index
    return top, sims[top]


def chance_purity(categories: np.ndarray) -> float:
    """A random layout's purity: Σ_c n_c (n_c - 1) / (n (n - 1)) over n categorised rows; NaN under 2 rows."""
    cats = np.asarray(categories)
    cats = cats[cats >= 0]
    n = len(cats)
    if n < 2:
        return float("nan")
    counts = np.unique(cats, return_counts=True)[1].astype(np.float64)
    return float((counts * (counts - 1)).sum() / (n * (n - 1)))


def knn_category_purity(weight: np.ndarray, categories: np.ndarray, k: int = 5) -> float:
    """Mean share of each categorised row's k cosine-nearest categorised rows of its category (-1: left out)."""
    keep = np.flatnonzero(np.asarray(categories) >= 0)
    if len(keep) < 2:
        return float("nan")
    w = np.asarray(weight, dtype=np.float64)[keep]
    norms = np.linalg.norm(w, axis=1, keepdims=True)
    unit = w / np.where(norms > 0, norms, 1.0)  # a zero row stays zero: similarity 0 to all
    cats = np.asarray(categories)[keep]
    k = min(k, len(keep) - 1)
    shares = np.empty(len(keep))
    for start in range(0, len(keep), CHUNK):
        sims = unit[start : start + CHUNK] @ unit.T  # (c, n)
        sims[np.arange(sims.shape[0]), np.arange(start, start + sims.shape[0])] = -np.inf
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]  # (c, k)
        shares[start : start + CHUNK] = (cats[top] == cats[start : start + CHUNK, None]).mean(axis=1)
    return float(shares.mean())
