"""2-D and 3-D layouts (UMAP or PCA) of embedding matrices over training, aligned from frame to frame.
`project(frames, method, n_components, seed) -> (F, V, n)`; `LayoutCache`, the same with an LRU cache keyed by
frame content, for a page that reruns; `warm_up_umap()` compiles umap's numba code once per process in the
background (until then a page shows PCA). A point moves only because its row moved:

- UMAP: the first frame is a full fit; each later one a 30-epoch fit warm-started from the previous layout (above
  UMAP_SHORT_ROWS rows: 200 and 10 epochs, `umap_epochs`), its learning rate proportional to how far the rows
  moved (`UMAP_LR_PER_MOVE`), then Procrustes-aligned onto the
  previous layout, and each point's step capped (`limit_moves`) at `UMAP_MAX_MOVE` times its row's relative move
  (more beyond `UMAP_FREE_MOVE`: new neighbours). Without the cap UMAP's SGD moves still points: 0.14-0.26 of the
  spread per frame while rows moved 0.04-0.05 (measured on real training frames). Exact k-NN from numpy goes in
  as `precomputed_knn`, which skips umap's slow small-data path and pynndescent's JIT; while rows moved less
  than UMAP_KNN_REUSE_MOVE since the last exact k-NN, a frame keeps its neighbour lists, measured again (`reuse_knn`).
- PCA: each frame on its own top components (numpy SVD, sklearn's signs on the first), then rotated within that
  plane (Procrustes, no scaling) onto the previous layout, so axes do not flip or spin.
- Under `UMAP_MIN_ROWS` (distinct) rows, or when umap fails: PCA, and `.notes` says why; D < n_components: zeros.
  Over `max_rows` rows (`UMAP_MAX_ROWS`), UMAP lays out a seeded sample (`.sample_idx`) and the others are NaN
  (plotly skips them; row i stays row i); PCA places every row. The same frames and seed give the same layouts."""

from __future__ import annotations

import hashlib
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from threadpoolctl import ThreadpoolController

from core.limits import LAYOUT_CACHE_BYTES, UMAP_MAX_ROWS

METHODS = ("umap", "pca")
UMAP_MIN_ROWS = 16  # fewer rows than this: too few neighbours for UMAP to mean anything; PCA instead
UMAP_N_NEIGHBORS = 15
UMAP_FULL_EPOCHS, UMAP_WARM_EPOCHS = 500, 30  # epochs of a full fit (umap's own default) and of a warm-started frame
UMAP_SHORT_ROWS = 2_000  # above this many rows UMAP_SHORT_EPOCHS instead: a full fit of 5,000 rows took ~7 s
UMAP_SHORT_EPOCHS = (200, 10)  # umap's own full fit above 10,000 rows; a warm frame's lr x 3, for the same reach
UMAP_KNN_REUSE_MOVE = 0.05  # a frame reuses the previous frame's neighbour lists while rows moved less than this
UMAP_LR_PER_MOVE = 2.0  # learning rate per unit of relative row movement (0.01 moved -> lr 0.02)
UMAP_LR_RANGE = (0.005, 1.0)
UMAP_MAX_MOVE = 1.0  # a point's step / layout spread <= this x its row's step / table spread ...
UMAP_FREE_MOVE = 0.05  # ... for rows that moved up to this; a row that moved m > this may move m * m / this

# umap warns that a seed forces one thread, and about the missing search index of precomputed_knn.
warnings.filterwarnings("ignore", category=UserWarning, module=r"umap\.")
# Small SVDs and matmuls run faster on one BLAS thread, and two threads stall for seconds on a busy 2-core
# machine right after umap's numba threads ran (measured: 10 SVDs of 1,000 x 32 took 0.01 s, then 3.8 s).
_BLAS = ThreadpoolController()


class LayoutError(ValueError):
    """Frames that cannot be laid out; the message says what to change."""


_warm_lock = threading.Lock()
_warm = threading.Event()


def umap_is_warm() -> bool:
    """True once `warm_up_umap` has finished in this process (a UMAP view will not wait for the JIT)."""
    return _warm.is_set()


def warm_up_umap() -> float:
    """Compile umap's numba code on tiny data (the pages' fits); seconds taken. A second caller waits for the first."""
    start = time.perf_counter()
    with _warm_lock:
        if not _warm.is_set():
            rng = np.random.default_rng(0)
            first = rng.standard_normal((200, 8)).astype(np.float32)
            second = first + 0.01 * rng.standard_normal(first.shape).astype(np.float32)
            for n_components in (2, 3):  # the same code paths as LayoutCache: full fit, then warm start
                LayoutCache("umap", n_components, seed=0).layouts([first, second])
            _warm.set()
    return time.perf_counter() - start


def frame_key(frame: np.ndarray) -> bytes:
    """A content hash of one frame: equal bytes, dtype and shape give an equal key."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{frame.dtype.str}{frame.shape}".encode())
    h.update(np.ascontiguousarray(frame).tobytes())
    return h.digest()


def relative_move(before: np.ndarray, after: np.ndarray) -> float:
    """Mean row displacement divided by the mean distance to the centroid of `before` (0 if no spread)."""
    spread = np.linalg.norm(before - before.mean(axis=0), axis=1).mean()
    if spread == 0:
        return 0.0 if np.array_equal(before, after) else 1.0
    return float(np.linalg.norm(after - before, axis=1).mean() / spread)


def jitter(layouts: np.ndarray) -> float:
    """Mean displacement between consecutive layouts / mean distance to the centroid (NaN rows ignored)."""
    layouts = np.asarray(layouts, dtype=np.float64)  # (F, V, n)
    layouts = layouts[:, ~np.isnan(layouts).any(axis=(0, 2))]
    spread = np.linalg.norm(layouts - layouts.mean(axis=1, keepdims=True), axis=2).mean()
    if len(layouts) < 2 or spread == 0:
        return 0.0
    return float(np.linalg.norm(np.diff(layouts, axis=0), axis=2).mean() / spread)


def limit_moves(
    previous: np.ndarray,
    proposed: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    factor: float = UMAP_MAX_MOVE,
    free_move: float = UMAP_FREE_MOVE,
) -> np.ndarray:
    """`proposed` (S, n), each point's step from `previous` capped at `factor` x its row's move (module docstring)."""
    data_spread = np.linalg.norm(before - before.mean(axis=0), axis=1).mean()
    layout_spread = np.linalg.norm(previous - previous.mean(axis=0), axis=1).mean()
    if data_spread == 0 or layout_spread == 0 or not np.isfinite(factor):
        return proposed  # factor inf: no cap (bench/projection.py compares with and without)
    row_move = np.linalg.norm(after - before, axis=1) / data_spread  # (S,)
    step = proposed - previous  # (S, n)
    length = np.linalg.norm(step, axis=1) / layout_spread  # (S,)
    allowed = factor * row_move * np.maximum(1.0, row_move / free_move)
    scale = np.where(length > allowed, allowed / np.where(length > 0, length, 1.0), 1.0)
    return previous + step * scale[:, None]


def exact_knn(x: np.ndarray, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Exact Euclidean k nearest neighbours of every row (itself first, even among duplicates): indices (V, k),
    distances (V, k). Candidates are ranked in float32 (one matmul a chunk), the k kept measured in float64."""
    x32, x64 = x.astype(np.float32), x.astype(np.float64)
    sq = (x32 * x32).sum(axis=1)  # (V,)
    indices = np.empty((len(x), k), dtype=np.int64)
    dists = np.empty((len(x), k), dtype=np.float32)
    chunk = max(16, min(chunk, 2**21 // (k * x.shape[1])))  # (chunk, k, D) float64 below: at most 16 MB
    for lo in range(0, len(x), chunk):
        rows = np.arange(lo, min(lo + chunk, len(x)))
        d2 = x32[rows] @ x32.T  # (c, V); |a|^2 - 2<x, a> ranks as |x - a|^2 does (|x|^2 is one constant a row)
        d2 *= -2.0
        d2 += sq
        d2[np.arange(len(rows)), rows] = -np.inf  # a row is its own first neighbour, even among duplicates
        idx = np.argpartition(d2, k - 1, axis=1)[:, :k]  # (c, k)
        exact = np.linalg.norm(x64[rows, None, :] - x64[idx], axis=2)  # (c, k)
        exact[idx == rows[:, None]] = -1.0
        order = np.argsort(exact, axis=1, kind="stable")
        indices[rows] = np.take_along_axis(idx, order, axis=1)
        dists[rows] = np.maximum(np.take_along_axis(exact, order, axis=1), 0.0)
    return indices, dists


def procrustes(source: np.ndarray, target: np.ndarray, scale: bool) -> np.ndarray:
    """`source` rotated/reflected (and scaled and shifted if `scale`) to best match `target`, row by row."""
    s_mean = source.mean(axis=0) if scale else 0.0
    t_mean = target.mean(axis=0) if scale else 0.0
    s, t = source - s_mean, target - t_mean
    if not np.any(s) or not np.any(t):
        return source.copy()
    u, sing, vt = np.linalg.svd(s.T @ t)
    rotation = u @ vt  # (n, n)
    factor = sing.sum() / (s * s).sum() if scale else 1.0
    return factor * s @ rotation + t_mean


def pca_layout(x: np.ndarray, n_components: int, basis_rows: np.ndarray | None = None) -> np.ndarray:
    """Rows of `x` projected on their top principal components (sklearn's signs); zero-padded to n."""
    x = x.astype(np.float64)
    fit_rows = x if basis_rows is None else x[basis_rows]
    mean = fit_rows.mean(axis=0)
    _, sing, vt = np.linalg.svd(fit_rows - mean, full_matrices=False)  # vt (r, D)
    vt = vt[:n_components][sing[:n_components] > 1e-12 * max(sing.max(initial=0.0), 1e-300)]
    vt *= np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])[:, None]  # largest loading positive
    coords = np.zeros((len(x), n_components))
    coords[:, : len(vt)] = (x - mean) @ vt.T
    return coords


def _check(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    arrays = []
    for f, frame in enumerate(frames):
        a = np.asarray(frame)
        if a.ndim == 1:
            a = a[:, None]  # D = 1 given as a vector
        if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
            raise LayoutError(f"Frame {f} has shape {a.shape}; expected a (vocab_size, dim) matrix.")
        if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
            raise LayoutError(f"Frame {f} holds {a.dtype} values; expected real numbers.")
        bad = ~np.isfinite(a).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)
            more = f" (and {len(rows) - 1} more rows)" if len(rows) > 1 else ""
            raise LayoutError(
                f"Frame {f}: row {rows[0]}{more} has non-finite values (NaN or inf): training diverged. "
                "Reset the run or lower the learning rate."
            )
        if arrays and a.shape[0] != arrays[0].shape[0]:
            raise LayoutError(
                f"Frame {f} has {a.shape[0]} rows but frame 0 has {arrays[0].shape[0]}: frames of one run "
                "must share the vocabulary. Start a new projection after changing the vocabulary size."
            )
        arrays.append(a)
    return arrays


class LayoutCache:
    """Aligned layouts of a run's frames, cached by frame content; cheap to keep one per user session."""

    def __init__(
        self,
        method: str = "umap",
        n_components: int = 2,
        seed: int = 0,
        max_rows: int = UMAP_MAX_ROWS,
        max_cache_bytes: int = LAYOUT_CACHE_BYTES,
    ):
        if method not in METHODS:
            raise LayoutError(f"Unknown projection method {method!r}; choose 'umap' or 'pca'.")
        if n_components not in (2, 3):
            raise LayoutError(f"n_components must be 2 or 3, not {n_components!r}.")
        if max_rows < UMAP_MIN_ROWS:
            raise LayoutError(f"max_rows must be at least {UMAP_MIN_ROWS}, not {max_rows}.")
        self.method, self.n_components, self.seed = method, n_components, int(seed)
        self.max_rows, self.max_cache_bytes = max_rows, max_cache_bytes
        self.sample_idx: np.ndarray | None = None  # rows UMAP laid out when V > max_rows; None: all rows
        self.notes: tuple[str, ...] = ()  # what the last layouts() call did differently, for the page
        self.n_computed = 0  # frames computed (not served from the cache) since construction
        self._cache: OrderedDict[bytes, Entry] = OrderedDict()  # frame key -> (layout, is_umap, UMAP's k-NN)
        self._n_rows: int | None = None

    def layouts(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """One aligned layout per frame, shape (F, V, n_components); computes only unseen frames."""
        arrays = _check(frames)
        if not arrays:
            return np.zeros((0, 0, self.n_components), dtype=np.float32)
        self._set_rows(arrays[0].shape[0])
        notes: list[str] = []
        out = np.empty((len(arrays), arrays[0].shape[0], self.n_components), dtype=np.float32)
        previous: Entry | None = None
        with _BLAS.limit(limits=1, user_api="blas"):
            for f, x in enumerate(arrays):
                key = frame_key(x)
                if key in self._cache:
                    self._cache.move_to_end(key)
                    entry = self._cache[key]
                else:
                    entry = self._compute(x, arrays[f - 1] if f else None, previous, notes)
                    self._store(key, entry)
                    self.n_computed += 1
                out[f] = entry[0]
                previous = entry
        if self.sample_idx is not None and self.method == "umap":
            notes.append(
                f"UMAP shows a fixed sample of {len(self.sample_idx):,} of {len(out[0]):,} rows "
                "(chosen by the seed); PCA shows every row."
            )
        self.notes = tuple(dict.fromkeys(notes))
        return out

    @property
    def n_cached(self) -> int:
        return len(self._cache)

    def _set_rows(self, n_rows: int) -> None:
        if n_rows == self._n_rows:
            return
        self._n_rows = n_rows
        self._cache.clear()  # a new vocabulary size is a new run
        if n_rows > self.max_rows:
            rng = np.random.default_rng(self.seed)
            self.sample_idx = np.sort(rng.choice(n_rows, self.max_rows, replace=False))
        else:
            self.sample_idx = None

    def _store(self, key: bytes, entry: Entry) -> None:
        self._cache[key] = entry
        while len(self._cache) > 1 and sum(_nbytes(e) for e in self._cache.values()) > self.max_cache_bytes:
            self._cache.popitem(last=False)  # least recently used first

    def _compute(self, x, x_prev, previous, notes: list[str]) -> Entry:
        rows = self.sample_idx if self.sample_idx is not None else slice(None)
        if self.method == "umap":
            reason = self._umap_refusal(x[rows])
            if reason is None:
                try:
                    layout, knn = self._umap(x, x_prev, previous)
                    if np.isfinite(layout[rows]).all():
                        return layout, True, knn
                    reason = "UMAP produced non-finite coordinates"
                except Exception as exc:  # on purpose: any umap failure becomes a PCA view plus a note
                    reason = f"UMAP failed ({type(exc).__name__}: {exc})"
            notes.append(f"{reason}; showing PCA instead.")
        return self._pca(x, previous), False, None

    def _umap_refusal(self, x: np.ndarray) -> str | None:
        if len(x) < UMAP_MIN_ROWS:
            return f"UMAP needs at least {UMAP_MIN_ROWS} tokens to find neighbours (this run has {len(x)})"
        n_distinct = len(np.unique(x, axis=0))
        if n_distinct < UMAP_MIN_ROWS:
            what = "all rows are equal" if n_distinct == 1 else f"only {n_distinct} distinct rows"
            return f"UMAP cannot lay out these embeddings: {what} (e.g. a constant initialisation)"
        return None

    def _pca(self, x: np.ndarray, previous) -> np.ndarray:
        layout = pca_layout(x, self.n_components, self.sample_idx)
        if previous is not None and not previous[1]:  # align to a previous PCA layout only
            layout = procrustes(layout, previous[0].astype(np.float64), scale=False)
        return layout.astype(np.float32)

    def _umap(self, x: np.ndarray, x_prev, previous) -> tuple[np.ndarray, Knn]:
        import umap  # slow first import (numba); see warm_up_umap

        rows = self.sample_idx if self.sample_idx is not None else np.arange(len(x))
        xs = x[rows].astype(np.float32)  # (S, D)
        k = min(UMAP_N_NEIGHBORS, len(xs) - 1)
        first_epochs, warm_epochs = umap_epochs(len(xs))
        init = previous[0][rows] if previous is not None and previous[1] else None
        warm = init is not None and np.all(np.ptp(init, axis=0) > 0)
        if warm:
            before, after = x_prev[rows].astype(np.float64), xs.astype(np.float64)
            moved = relative_move(before, after)
        knn = reuse_knn(xs, previous[2], moved) if warm and previous[2] is not None else None
        if knn is None:
            knn = (*exact_knn(xs, k), 0.0)
        options = dict(
            n_components=self.n_components,
            n_neighbors=k,
            random_state=self.seed,
            precomputed_knn=knn[:2],
            force_approximation_algorithm=True,  # otherwise umap ignores precomputed_knn below 4,096 rows
        )
        if warm:
            lr_per_move = UMAP_LR_PER_MOVE * UMAP_WARM_EPOCHS / warm_epochs  # fewer epochs, longer steps: same reach
            lr = float(np.clip(lr_per_move * moved, *UMAP_LR_RANGE))
            reducer = umap.UMAP(init=init, n_epochs=warm_epochs, learning_rate=lr, **options)
            coords = procrustes(reducer.fit_transform(xs).astype(np.float64), init, scale=True)
            coords = limit_moves(init.astype(np.float64), coords, before, after)
        else:
            coords = umap.UMAP(n_epochs=first_epochs, **options).fit_transform(xs)
        layout = np.full((len(x), self.n_components), np.nan, dtype=np.float32)
        layout[rows] = coords
        return layout, knn


Knn = tuple[np.ndarray, np.ndarray, float]  # UMAP's k-NN (indices, distances) and the rows' relative move since exact
Entry = tuple[np.ndarray, bool, Knn | None]  # a LayoutCache entry: layout, whether UMAP made it, its k-NN


def _nbytes(entry: Entry) -> int:
    return entry[0].nbytes + (entry[2][0].nbytes + entry[2][1].nbytes if entry[2] is not None else 0)


def reuse_knn(x: np.ndarray, previous: Knn, moved: float) -> Knn | None:
    """The previous frame's neighbours of each row, measured again and sorted, while the rows have moved at most
    UMAP_KNN_REUSE_MOVE (relative, summed over frames) since the last exact k-NN; else None."""
    indices, _, moved_before = previous
    if len(indices) != len(x) or moved_before + moved > UMAP_KNN_REUSE_MOVE:
        return None
    x64 = x.astype(np.float64)
    dists = np.linalg.norm(x64[:, None, :] - x64[indices], axis=2)  # (S, k)
    dists[:, 0] = -1.0  # itself first
    order = np.argsort(dists, axis=1, kind="stable")
    dists = np.maximum(np.take_along_axis(dists, order, axis=1), 0.0).astype(np.float32)
    return np.take_along_axis(indices, order, axis=1), dists, moved_before + moved


def umap_epochs(n_rows: int) -> tuple[int, int]:
    """Epochs of a full fit and of a warm-started frame for `n_rows` rows (the module docstring)."""
    if n_rows <= UMAP_SHORT_ROWS:
        return UMAP_FULL_EPOCHS, UMAP_WARM_EPOCHS
    return UMAP_SHORT_EPOCHS


def project(frames: Sequence[np.ndarray], method: str = "umap", n_components: int = 2, seed: int = 0) -> np.ndarray:
    """One layout per frame, aligned across frames: shape (F, V, n_components). See the module docstring."""
    return LayoutCache(method, n_components, seed).layouts(frames)
