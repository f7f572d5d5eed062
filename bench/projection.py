"""Cold and warm projection times and frame-to-frame jitter, for the vocabulary sizes the app offers.

Run: `.venv/bin/python bench/projection.py [--real]` (a few minutes on 2 cores; --real: the second table only).
Data: a random walk, D = 32, N(0, 1) then N(0, 0.01^2) a frame ("input" jitter: that floor). Jitter = mean move
between consecutive layouts / mean distance to the centroid. cold: a fresh process (import umap and numba's JIT in
it); warm: median of `reps` runs here after warm_up_umap(). 50,257 rows: 2 frames, UMAP on its 10,000-row sample.
Real frames: 200 Adam steps at 60 x 16 (lr 0.05, the default, and 0.005). Per frame pair, "rows" is the rows' own
relative move (|dW|/|W| beside it), "screen" the points' move once centred and scaled as the page draws them; UMAP
with core.layouts.limit_moves' cap and without (UMAP_MAX_MOVE = inf). Target: screen <= 0.05 where rows < 0.01.
Fidelity ("knn kept"): the share of a row's 10 nearest rows in the last frame that are among its 10 nearest points in
the last layout (1,000 seeded rows asked, among the rows laid out; random data keeps few: 0.01 is chance at 1,000).
Target (issue 14): 10 frames x 5,000 rows warm <= 5 s (goal 3 s), jitter and knn kept as before."""

import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import core.layouts as core_layouts  # noqa: E402
from core import TrainConfig, Trainer  # noqa: E402
from core.layouts import LayoutCache, jitter, warm_up_umap  # noqa: E402
from core.limits import UMAP_MAX_ROWS  # noqa: E402

DIM = 32
CASES = [(60, 10, 3), (1_000, 10, 3), (5_000, 10, 1), (50_257, 2, 1)]  # (V, frames, warm repetitions)


def random_walk(n_rows: int, n_frames: int, seed: int = 0) -> list[np.ndarray]:
    """Frames of a slow random walk: each entry takes a N(0, 0.01^2) step per frame."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_rows, DIM)).astype(np.float32)
    frames = [x]
    for _ in range(n_frames - 1):
        x = x + 0.01 * rng.standard_normal(x.shape).astype(np.float32)
        frames.append(x)
    return frames


COLD = """
import sys, time
sys.path.insert(0, {root!r})
from bench.projection import random_walk
from core.layouts import LayoutCache
frames = random_walk({v}, {f})
t = time.perf_counter()
LayoutCache("umap").layouts(frames)
print(time.perf_counter() - t)
"""

WARM_UP = """
import sys
sys.path.insert(0, {root!r})
from core.layouts import warm_up_umap
print(warm_up_umap())
"""


def knn_kept(data: np.ndarray, layout: np.ndarray, k: int = 10, n_asked: int = 1000) -> float:
    """Mean share of each asked row's k nearest rows (in `data`) that are among its k nearest points (in `layout`)."""
    placed = np.isfinite(layout).all(axis=1)
    data, layout = np.asarray(data, dtype=np.float64)[placed], np.asarray(layout, dtype=np.float64)[placed]
    asked = np.sort(np.random.default_rng(0).choice(len(data), min(n_asked, len(data)), replace=False))

    def nearest(x: np.ndarray) -> np.ndarray:
        d2 = (x[asked] ** 2).sum(axis=1)[:, None] + (x**2).sum(axis=1)[None, :] - 2 * x[asked] @ x.T
        d2[np.arange(len(asked)), asked] = np.inf  # not itself
        return np.argpartition(d2, k, axis=1)[:, :k]

    return float(np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(nearest(data), nearest(layout), strict=True)]))


def in_fresh_process(code: str) -> float:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(result.stdout.strip().splitlines()[-1])


def timed(method: str, frames: list[np.ndarray], reps: int) -> tuple[float, np.ndarray]:
    times, layouts = [], None
    for _ in range(reps):
        start = time.perf_counter()
        layouts = LayoutCache(method).layouts(frames)
        times.append(time.perf_counter() - start)
    return statistics.median(times), layouts


def _spread(x: np.ndarray) -> float:
    return float(np.linalg.norm(x - x.mean(axis=0), axis=1).mean())


def moves(frames: list[np.ndarray], as_shown: bool) -> np.ndarray:
    """Per consecutive pair: mean row step / mean distance to the centroid (frames centred and scaled if as_shown)."""
    frames = [np.asarray(f, dtype=np.float64) for f in frames]
    if as_shown:
        frames = [(f - f.mean(axis=0)) / _spread(f) for f in frames]
    return np.array(
        [np.linalg.norm(b - a, axis=1).mean() / _spread(a) for a, b in zip(frames, frames[1:], strict=False)]
    )


def real_frames_table() -> None:
    header = (
        f"{'run':>22} {'pairs':>5} {'rows move':>13} {'|dW|/|W|':>13} {'pairs<0.01':>10} "
        f"{'umap before':>22} {'umap now':>22} {'pca':>22}"
    )
    print("\nReal training frames, 60 x 16, 200 steps. Screen move per frame pair: max over pairs with rows < 0.01 /")
    print("max over the late half / late half's max of screen / rows (1 = points move exactly as far as rows).")
    print(header)
    print("-" * len(header))
    for lr in (0.05, 0.005):
        trainer = Trainer(TrainConfig(optimizer="adam", lr=lr))
        trainer.run(200)
        frames = [w for _, w in trainer.frames()]
        rows = moves(frames, as_shown=False)
        rel = np.array([np.linalg.norm(b - a) / np.linalg.norm(a) for a, b in zip(frames, frames[1:], strict=False)])
        slow, late = rows < 0.01, slice(len(rows) // 2, None)
        cells = []
        for method, cap in (("umap", float("inf")), ("umap", 1.0), ("pca", 1.0)):
            core_layouts.UMAP_MAX_MOVE = cap
            screen = moves(list(LayoutCache(method).layouts(frames)), as_shown=True)
            at_slow = f"{screen[slow].max():.3f}" if slow.any() else "  -  "
            cells.append(f"{at_slow} / {screen[late].max():.3f} / {(screen / rows)[late].max():.1f}x")
        core_layouts.UMAP_MAX_MOVE = 1.0
        print(
            f"{'adam lr ' + str(lr):>22} {len(rows):>5} {rows.min():>6.3f}-{rows.max():.3f} "
            f"{rel.min():>6.3f}-{rel.max():.3f} {int(slow.sum()):>10} {cells[0]:>22} {cells[1]:>22} {cells[2]:>22}",
            flush=True,
        )


def main() -> None:
    print(f"warm_up_umap() in a fresh process: {in_fresh_process(WARM_UP.format(root=str(ROOT))):.1f} s")
    print(f"warm_up_umap() again here (first call in this process): {warm_up_umap():.1f} s")
    header = (
        f"{'V':>7} {'frames':>6} {'umap rows':>9} {'cold umap s':>11} {'warm umap s':>11} "
        f"{'warm pca s':>10} {'jit umap':>8} {'jit pca':>8} {'jit input':>9} {'knn kept umap':>13} {'pca':>5}"
    )
    print(header)
    print("-" * len(header))
    for n_rows, n_frames, reps in CASES:
        frames = random_walk(n_rows, n_frames)
        cold = in_fresh_process(COLD.format(root=str(ROOT), v=n_rows, f=n_frames))
        warm_umap, umap_layouts = timed("umap", frames, reps)
        warm_pca, pca_layouts = timed("pca", frames, reps)
        print(
            f"{n_rows:>7,} {n_frames:>6} {min(n_rows, UMAP_MAX_ROWS):>9,} {cold:>11.1f} {warm_umap:>11.2f} "
            f"{warm_pca:>10.2f} {jitter(umap_layouts):>8.3f} {jitter(pca_layouts):>8.3f} "
            f"{jitter(np.stack(frames)):>9.3f} {knn_kept(frames[-1], umap_layouts[-1]):>13.3f} "
            f"{knn_kept(frames[-1], pca_layouts[-1]):>5.3f}",
            flush=True,
        )
    print("warm = median of 3 runs for V <= 1,000, one run above; cold = one run in a fresh process.")
    real_frames_table()


if __name__ == "__main__":
    if sys.argv[1:] == ["--real"]:  # only the real-frames table (a few seconds)
        warm_up_umap()
        real_frames_table()
    else:
        main()
