"""Is an embedding an MLP? Computed on the user's own table: the lookup against one-hot times W.

The lookup `emb(x)` and the matrix product `one_hot(x) @ W` give the same rows and the same gradient
(`one_hot(x).T @ dY`), but the lookup reads B rows where the product multiplies B x V x D numbers. There is
no activation and no bias: it is one linear layer applied to one-hot vectors, done as an index.
Also here: how the table was initialised, and what a wider table buys on the user's own corpus.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from core.config import TrainConfig
from core.metrics import knn_category_purity


@dataclass(frozen=True)
class LookupComparison:
    """emb(x) against one_hot(x) @ W for one batch of ids, with their costs."""

    ids: np.ndarray  # (B,)
    lookup_rows: np.ndarray  # (B, D) emb(x)
    matmul_rows: np.ndarray  # (B, D) one_hot(x) @ W
    max_value_diff: float
    max_grad_diff: float  # between the two gradients of W for the same upstream gradient
    lookup_ms: float  # best of several wall times
    matmul_ms: float
    lookup_flops: int  # multiply-adds: none, B x D values copied
    matmul_flops: int  # B x V x D multiply-adds


def _best_ms(fn, repeats: int) -> float:
    """Best of `repeats` timings: in a busy server (UMAP compiling in another thread holds the GIL) the
    minimum is the cost of the work itself; anything above it is waiting."""
    fn()  # the first call pays for lazy kernel set-up, not for the work
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def compare_lookup(weight: np.ndarray, ids: np.ndarray, repeats: int = 7, seed: int = 0) -> LookupComparison:
    """Both ways of reading rows of `weight` (V, D), their gradients for one random dY, and their timings."""
    w = torch.tensor(weight)
    ids_t = torch.as_tensor(ids, dtype=torch.long)
    vocab_size, dim = w.shape
    dy = torch.randn(len(ids), dim, generator=torch.Generator().manual_seed(seed))  # (B, D)

    w_lookup = w.clone().requires_grad_(True)
    rows_lookup = torch.nn.functional.embedding(ids_t, w_lookup)  # (B, D)
    (rows_lookup * dy).sum().backward()

    w_matmul = w.clone().requires_grad_(True)
    one_hot = torch.nn.functional.one_hot(ids_t, vocab_size).to(w.dtype)  # (B, V)
    rows_matmul = one_hot @ w_matmul  # (B, D)
    (rows_matmul * dy).sum().backward()

    with torch.no_grad():
        lookup_ms = _best_ms(lambda: torch.nn.functional.embedding(ids_t, w), repeats)
        matmul_ms = _best_ms(
            lambda: torch.nn.functional.one_hot(ids_t, vocab_size).to(w.dtype) @ w, repeats
        )  # the one-hot is part of the cost
    return LookupComparison(
        ids=np.asarray(ids),
        lookup_rows=rows_lookup.detach().numpy(),
        matmul_rows=rows_matmul.detach().numpy(),
        max_value_diff=float((rows_lookup - rows_matmul).detach().abs().max()),
        max_grad_diff=float((w_lookup.grad - w_matmul.grad).abs().max()),
        lookup_ms=lookup_ms,
        matmul_ms=matmul_ms,
        lookup_flops=0,
        matmul_flops=len(ids) * vocab_size * dim,
    )


@dataclass(frozen=True)
class InitStats:
    """How the values of a table at step 0 are spread."""

    mean: float
    std: float
    row_norm_mean: float
    expected_std: float | None  # what the chosen init promises, where it promises one


def init_stats(weight: np.ndarray, init: str, padding_idx: int | None = None) -> InitStats:
    """Measured spread of a freshly initialised table (the padding row, zeroed on purpose, left out)."""
    rows = np.delete(weight, padding_idx, axis=0) if padding_idx is not None else weight
    vocab_size, dim = weight.shape
    expected = {
        "normal": 1.0,
        "small_normal": 0.02,
        "uniform": 1 / math.sqrt(3),  # U(-1, 1)
        "xavier": math.sqrt(6 / (vocab_size + dim)) / math.sqrt(3),
        "zeros": 0.0,
    }.get(init)
    return InitStats(
        mean=float(rows.mean()),
        std=float(rows.std()),
        row_norm_mean=float(np.linalg.norm(rows, axis=1).mean()),
        expected_std=expected,
    )


@dataclass(frozen=True)
class DimensionResult:
    """One point of a dimension sweep: the same run at another width."""

    dim: int
    final_loss: float  # mean loss over the last tenth of the steps
    purity: float  # kNN category purity at the end (nan without categories)
    table_params: int


def dimension_sweep(cfg: TrainConfig, dims: list[int], steps: int) -> list[DimensionResult]:
    """Train the user's configuration at each width for `steps` steps: what a larger dimension buys, measured."""
    from core.trainer import Trainer  # the trainer imports this package's siblings; keep import order simple

    results = []
    for dim in dims:
        trainer = Trainer(cfg.replace(dim=dim), history_bytes=1, snapshot_bytes=1)  # nothing kept but the end
        losses = [trainer.step().loss for _ in range(steps)]
        tail = losses[-max(1, steps // 10) :]
        results.append(
            DimensionResult(
                dim=dim,
                final_loss=float(np.mean(tail)),
                purity=knn_category_purity(trainer.weight, trainer.categories),
                table_params=cfg.vocab_size * dim,
            )
        )
    return results
