"""Pure numpy derivations the pages show: row gradients from per-position contributions, update splits,
rasters over the kept history, and row sampling for big vocabularies. No Streamlit, no torch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_ROWS = 200  # rows a heatmap or bar chart sends to the browser; more are sampled (and the caption says so)
MAX_COLS = 300  # steps a raster shows; more are averaged in bins of consecutive steps


def sample_rows(n_rows: int, max_rows: int = MAX_ROWS, keep: np.ndarray | None = None) -> np.ndarray:
    """Sorted row indices: all rows when they fit, else the `keep` rows first plus evenly spaced others."""
    if n_rows <= max_rows:
        return np.arange(n_rows)
    keep = np.unique(np.asarray([] if keep is None else keep, dtype=np.int64))[:max_rows]
    others = np.setdiff1d(np.linspace(0, n_rows - 1, max_rows).astype(np.int64), keep)
    spare = max_rows - len(keep)
    picked = others[np.linspace(0, len(others) - 1, spare).astype(np.int64)] if spare and len(others) else others[:0]
    return np.union1d(keep, picked)


def row_gradients(
    input_ids: np.ndarray, output_grad: np.ndarray, padding_idx: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, grads): each looked-up row's gradient, the sum of its positions' contributions. (n,), (n, D)."""
    rows, where = np.unique(input_ids, return_inverse=True)
    grads = np.zeros((len(rows), output_grad.shape[1]), dtype=np.float64)
    np.add.at(grads, where, output_grad)  # a token used k times gets the sum of its k contributions
    if padding_idx is not None:
        grads[rows == padding_idx] = 0.0  # nn.Embedding never passes a gradient to the padding row
    return rows, grads


def contributions(input_ids: np.ndarray, output_grad: np.ndarray, row: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, (k, D) contributions) of one row in one batch: the terms its gradient adds up."""
    positions = np.flatnonzero(input_ids == row)
    return positions, output_grad[positions]


def update_split(
    update_norm: np.ndarray, state_update_norm: np.ndarray, renorm_norm: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's move in three parts that add up to update_norm: (from its gradient, from optimizer state,
    from max_norm's rescale in the forward pass).

    The rescale part is how far max_norm moved the row, capped at how far it moved; the state part is how far
    the row would have moved with a zero gradient, capped at what is left; the gradient part is the rest.
    A row with no gradient is all state (or rescale); plain SGD without max_norm is all gradient.
    """
    renorm = np.zeros_like(update_norm) if renorm_norm is None else renorm_norm
    from_renorm = np.minimum(renorm, update_norm)
    from_state = np.minimum(state_update_norm, update_norm - from_renorm)
    return update_norm - from_renorm - from_state, from_state, from_renorm


def moved_without_gradient(records: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """(steps, counts): per kept step, how many rows moved although they got no gradient."""
    steps = np.array([r.step for r in records], dtype=np.int64)
    counts = np.array([int((r.updated_mask & ~r.grad_mask).sum()) for r in records], dtype=np.int64)
    return steps, counts


def total_movement(records: Sequence, n_rows: int) -> np.ndarray:
    """(V,) each row's summed update norm over the kept steps."""
    total = np.zeros(n_rows)
    for r in records:
        total += r.update_norm
    return total


def update_raster(records: Sequence, rows: np.ndarray, max_cols: int = MAX_COLS) -> tuple[np.ndarray, np.ndarray]:
    """((len(rows), cols) update norms, (cols,) first step of each column); long histories averaged in bins."""
    if not records:
        return np.zeros((len(rows), 0)), np.zeros(0, dtype=np.int64)
    matrix = np.stack([r.update_norm[rows] for r in records], axis=1)  # (rows, steps)
    steps = np.array([r.step for r in records], dtype=np.int64)
    if matrix.shape[1] <= max_cols:
        return matrix, steps
    bins = np.array_split(np.arange(matrix.shape[1]), max_cols)
    return np.stack([matrix[:, b].mean(axis=1) for b in bins], axis=1), np.array([steps[b[0]] for b in bins])


def frame_before(frames: Sequence[tuple[int, np.ndarray]], step: int) -> tuple[int, np.ndarray]:
    """The kept (step, weight) frame at `step`, or the latest one before it."""
    best = frames[0]
    for frame in frames:
        if frame[0] <= step:
            best = frame
    return best


def same_spread(coords: np.ndarray) -> np.ndarray:
    """Each frame of (F, V, n) layouts centred and scaled to a root-mean-square radius of 1.

    Aligned layouts shrink as clusters tighten; on fixed animation axes the last frames would end up as a
    speck. Centring and scaling a frame changes no distance ratio in it, so its shape is kept. NaN rows (not
    laid out) stay NaN.
    """
    centred = coords - np.nanmean(coords, axis=1, keepdims=True)
    radius = np.sqrt(np.nanmean(np.sum(centred**2, axis=2), axis=1))  # (F,)
    return centred / np.where(radius > 0, radius, 1.0)[:, None, None]
