"""Pure numpy derivations from a run's StepRecords that the pages draw (row samples, gradients, groups, the parts
of a move, rasters, frames); the sentences about them live in core.captions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.metrics import knn_category_purity, nearest_neighbours

MAX_ROWS = 200  # rows a heatmap or bar chart sends to the browser; more are sampled (and the caption says so)
MAX_COLS = 300  # steps a raster shows; more are averaged in bins of consecutive steps
SPECIAL_TOKENS = ("<pad>", "<unk>")
PART_TOLERANCE = 1e-4  # a part of a row's move under this share of the move is float rounding, not a cause


def sample_rows(n_rows: int, max_rows: int = MAX_ROWS, keep: np.ndarray | None = None) -> np.ndarray:
    """Sorted int64 rows: all that fit, else `keep` plus evenly spaced others (union1d with [] would be float64)."""
    if n_rows <= max_rows:
        return np.arange(n_rows, dtype=np.int64)
    keep = np.unique(np.asarray([] if keep is None else keep).astype(np.int64, copy=False))[:max_rows]
    others = np.setdiff1d(np.linspace(0, n_rows - 1, max_rows).astype(np.int64), keep)
    spare = max_rows - len(keep)
    picked = others[np.linspace(0, len(others) - 1, spare).astype(np.int64)] if spare and len(others) else others[:0]
    return np.union1d(keep, picked).astype(np.int64, copy=False)


def sample_among(candidates: np.ndarray, max_rows: int = MAX_ROWS) -> np.ndarray:
    """At most `max_rows` of `candidates`, evenly spaced along their given order (order kept), int64."""
    candidates = np.asarray(candidates).astype(np.int64, copy=False)
    if len(candidates) <= max_rows:
        return candidates
    return candidates[np.unique(np.linspace(0, len(candidates) - 1, max_rows).astype(np.int64))]


def batch_bar_rows(token_counts: np.ndarray, top: int = 30) -> np.ndarray:
    """The rows a batch's bar chart shows: its `top` most looked-up tokens, most first (ties by row), none unused."""
    order = np.argsort(-np.asarray(token_counts), kind="stable")[:top]
    return order[token_counts[order] > 0]


def row_gradients(
    input_ids: np.ndarray, output_grad: np.ndarray, padding_idx: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(rows (n,), grads (n, D)): each looked-up row's summed contributions; 0 for the padding row, as nn.Embedding."""
    rows, where = np.unique(input_ids, return_inverse=True)
    grads = np.zeros((len(rows), output_grad.shape[1]), dtype=np.float64)
    np.add.at(grads, where, output_grad)  # a token used k times gets the sum of its k contributions
    if padding_idx is not None:
        grads[rows == padding_idx] = 0.0
    return rows, grads


def contributions(
    input_ids: np.ndarray, output_grad: np.ndarray, row: int, context: int | None = None
) -> tuple[list[str], np.ndarray]:
    """(each lookup's name, (k, D) contributions) of one row in one batch: the terms its gradient adds up. A GPT's
    `context` T names its lookups by window and t (lookup_names)."""
    positions = np.flatnonzero(input_ids == row)
    return lookup_names(positions, context), output_grad[positions]


def lookup_names(positions: np.ndarray, context: int | None = None) -> list[str]:
    """What each lookup is called: a skip-gram batch's "position b" (its b-th pair), or a GPT's "window w, t i"
    (its B x T lookups are flattened window by window, so lookup p is token t = p mod T of window p // T)."""
    if context is None:
        return [f"position {int(p)}" for p in positions]
    return [f"window {int(p) // context}, t {int(p) % context}" for p in positions]


def is_tied(rec) -> bool:
    """The record's run has a tied head: the table is its own output layer (no separate head gradient)."""
    return rec.head_grad_norm is None


@dataclass(frozen=True)
class GradientGroups:
    """The rows of one step in four disjoint groups, by lookup and by actual gradient. Each is bool (V,)."""

    looked_up_grad: np.ndarray
    looked_up_no_grad: np.ndarray
    grad_not_looked_up: np.ndarray
    neither: np.ndarray
    tied: bool
    padding_idx: int | None

    @classmethod
    def of(cls, rec, padding_idx: int | None) -> GradientGroups:
        looked_up, grad = rec.token_counts > 0, rec.grad_norm > 0
        return cls(
            looked_up & grad, looked_up & ~grad, grad & ~looked_up, ~looked_up & ~grad, is_tied(rec), padding_idx
        )

    def counts(self) -> tuple[int, int, int, int]:
        return tuple(int(m.sum()) for m in (self.looked_up_grad, self.looked_up_no_grad, self.grad_not_looked_up,
                                            self.neither))  # fmt: skip

    @property
    def n_rows(self) -> int:
        return len(self.neither)

    def only_padding(self, mask: np.ndarray) -> bool:
        return self.padding_idx is not None and np.flatnonzero(mask).tolist() == [self.padding_idx]

    def named(self) -> list[tuple[str, str, np.ndarray]]:
        """(key, legend name, mask) of each group that has rows, in a fixed order."""
        lookup_no_grad = "looked up, gradient 0" + (
            " (padding_idx drops it)" if self.only_padding(self.looked_up_no_grad) else ""
        )
        via = " (through the tied head)" if self.tied else ""
        groups = [
            ("looked_up_grad", "looked up, got a gradient", self.looked_up_grad),
            ("looked_up_no_grad", lookup_no_grad, self.looked_up_no_grad),
            ("grad_not_looked_up", "not looked up, got a gradient" + via, self.grad_not_looked_up),
            ("neither", "not looked up, no gradient", self.neither),
        ]
        return [g for g in groups if g[2].any()]


def default_token(rows: np.ndarray, vocab: Sequence[str], padding_idx: int | None) -> int:
    """The first of `rows` (ordered most used first) that is a real token: not the padding row, not <pad>/<unk>."""
    for row in np.asarray(rows).tolist():
        if row != padding_idx and vocab[row] not in SPECIAL_TOKENS:
            return int(row)
    return int(rows[0])


STATE_NAMES = {
    "sgd": "momentum",
    "rmsprop": "RMSprop's momentum and square average",
    "adam": "Adam's moment estimates",
    "adamw": "Adam's moment estimates",
    "sparse_adam": "Adam's moment estimates",
    "adagrad": "Adagrad's sum of squares",
}


def move_parts(rec, optimizer: str) -> list[tuple[str, str, np.ndarray]]:
    """(key, name, (V,) signed component <part, d> / |d| along the move d) of each part non-zero this step."""
    tol = PART_TOLERANCE * float(rec.update_norm.max(initial=0.0))
    parts = [
        ("grad", "from its gradient", rec.move_grad),
        ("state", f"optimizer state ({STATE_NAMES.get(optimizer, 'its state')})", rec.move_state),
        ("decay", "weight decay", rec.move_decay),
        ("renorm", "max_norm rescale (forward pass)", rec.move_renorm),
    ]
    return [(key, name, values) for key, name, values in parts if np.any(np.abs(values) > tol)]


@dataclass(frozen=True)
class MoveCounts:
    """Counts for the Row updates caption, all from one record."""

    moved: int
    with_grad: int
    moved_no_grad: int
    no_grad_by: dict[str, int]  # part key -> rows moved without a gradient that this part moved


def move_counts(rec) -> MoveCounts:
    """Rows moved, with a gradient, moved without one, and by which parts (each part over PART_TOLERANCE counts)."""
    moved, grad = rec.update_norm > 0, rec.grad_norm > 0
    lonely = moved & ~grad
    floor = PART_TOLERANCE * rec.update_norm
    by = {}
    for key, values in (("state", rec.move_state), ("decay", rec.move_decay), ("renorm", rec.move_renorm)):
        n = int((lonely & (np.abs(values) > floor)).sum())
        if n:
            by[key] = n
    return MoveCounts(int(moved.sum()), int(grad.sum()), int(lonely.sum()), by)


def moved_without_gradient(records: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """(steps, counts): per kept step, how many rows moved although they got no gradient."""
    steps = np.array([r.step for r in records], dtype=np.int64)
    counts = np.array([int((r.updated_mask & ~r.grad_mask).sum()) for r in records], dtype=np.int64)
    return steps, counts


def total_movement(records: Sequence, n_rows: int) -> np.ndarray:
    """(V,) each row's summed update norm over the kept steps."""
    return sum((r.update_norm for r in records), np.zeros(n_rows))


def split_rows(rec, max_rows: int = MAX_ROWS) -> np.ndarray:
    """Rows for the split bars: all that fit, else moved rows with a gradient and (a third at least) without one."""
    moved, grad = rec.update_norm > 0, rec.grad_norm > 0
    if len(moved) <= max_rows:
        return np.arange(len(moved), dtype=np.int64)
    with_grad, without = np.flatnonzero(moved & grad), np.flatnonzero(moved & ~grad)
    n_without = min(len(without), max(max_rows - len(with_grad), max_rows // 3))
    picked = np.concatenate([sample_among(with_grad, max_rows - n_without), sample_among(without, n_without)])
    return np.sort(picked) if len(picked) else sample_rows(len(moved), max_rows)


def raster_rows(movement: np.ndarray, freq: np.ndarray, max_rows: int = MAX_ROWS) -> np.ndarray:
    """Rows for the raster, most frequent first: all that fit, else a sample of the rows that moved (not blank ones)."""
    by_freq = np.argsort(-np.asarray(freq), kind="stable").astype(np.int64)
    if len(by_freq) <= max_rows:
        return by_freq
    moved = by_freq[movement[by_freq] > 0]
    return sample_among(moved if len(moved) else by_freq, max_rows)


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
    """(F, V, n) layouts, each centred and scaled to RMS radius 1: aligned layouts shrink as clusters tighten."""
    centred = coords - np.nanmean(coords, axis=1, keepdims=True)
    radius = np.sqrt(np.nanmean(np.sum(centred**2, axis=2), axis=1))  # (F,)
    return centred / np.where(radius > 0, radius, 1.0)[:, None, None]


def looked_up(rec, n_rows: int) -> np.ndarray:
    """(V,) bool: the rows the step looked up (none before the first step, when `rec` is None)."""
    return np.zeros(n_rows, bool) if rec is None else rec.token_counts > 0


def loss_series(records) -> tuple[np.ndarray, np.ndarray]:
    """(steps, losses) over the kept history: (n,), (n,)."""
    return np.array(records.steps), np.array([r.loss for r in records])


def most_used(rows: np.ndarray, token_counts: np.ndarray, top: int) -> np.ndarray:
    """Positions into `rows` of its `top` most looked-up rows, most first (ties in the given order)."""
    return np.argsort(-token_counts[rows], kind="stable")[:top]


def moved_and_used(movement: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """Rows that moved and that the corpus uses (the frequency-vs-movement scatter's rows)."""
    return np.flatnonzero((movement > 0) & (freq > 0))


def placed_rows(coords: np.ndarray) -> np.ndarray:
    """(V,) bool: rows the layout placed in every frame (UMAP places a sample on a big vocabulary). coords (F, V, C)."""
    return np.isfinite(coords).all(axis=(0, 2))


def by_use(token_freq: np.ndarray) -> np.ndarray:
    """Every row, most frequent first (ties by row)."""
    return np.argsort(-token_freq, kind="stable")


def purity_series(frames, pick: np.ndarray, categories: np.ndarray, kept: dict) -> tuple[np.ndarray, np.ndarray]:
    """(steps, purity), (F,) each: k=5 category purity of the `pick` rows per frame, memoised by step in `kept`."""
    for step, weight in frames:
        if step not in kept:
            kept[step] = knn_category_purity(weight[pick], categories, k=5)
    return np.array([step for step, _ in frames]), np.array([kept[step] for step, _ in frames])


def neighbour_table(
    weight: np.ndarray, row: int, labels, categories: np.ndarray, category_names, k: int = 8, column: str = "token"
) -> dict:
    """The `k` cosine-nearest rows to `row` as columns: `column` (labels), category ("—": none), cosine (3 places)."""
    rows, sims = nearest_neighbours(weight, row, k=k)
    names = ["—" if c < 0 else category_names[c] for c in categories[rows]]
    return {column: [labels[r] for r in rows], "category": names, "cosine": sims.round(3)}
