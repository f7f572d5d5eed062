"""Is an embedding an MLP? Computed on the user's own table: the lookup against one-hot times W.

The lookup `emb(x)` and the matrix product `one_hot(x) @ W` give the same rows and the same gradient
(`one_hot(x).T @ dY`), but the lookup reads B rows where the product multiplies B x V x D numbers. There is
no activation and no bias: it is one linear layer applied to one-hot vectors, done as an index. Two options
of nn.Embedding break the equality, and `compare_lookup` runs the user's own layer to show by how much:
`max_norm` rescales looked-up rows longer than it (in W itself, in the forward pass), so emb(x) returns other
rows than one_hot(x) @ W; `padding_idx` makes the lookup's gradient to its row 0, where one_hot(x).T @ dY is not.
Also here: how the table was initialised, and what a wider table buys on the user's own corpus.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.config import TrainConfig
from core.metrics import knn_category_purity


@dataclass(frozen=True)
class LookupComparison:
    """The user's own layer `emb(x)` against the plain product `one_hot(x) @ W`, for one batch of ids.

    Both read the same copy of W (the run's table is never touched); the upstream gradient dY is the same.
    Rows are ids into the full table; the comparison runs on the looked-up rows only (unused rows get no
    gradient either way and are never read), so a 50,257 x 768 table costs no V x D copy.
    """

    ids: np.ndarray  # (B,)
    lookup_rows: np.ndarray  # (B, D) emb(x) with the layer's options
    matmul_rows: np.ndarray  # (B, D) one_hot(x) @ W, W as stored before the lookup
    max_value_diff: float  # max |emb(x) - one_hot(x) @ W|
    max_grad_diff: float  # max |d emb / dW - one_hot(x).T @ dY| over all rows
    max_grad_diff_other: float  # ... over all rows but the padding row
    n_distinct: int  # rows looked up
    padding_idx: int | None
    padding_hits: int  # positions of the batch that look up the padding row
    padding_grad_lookup: float  # norm of the lookup's gradient to the padding row (0: padding_idx blocks it)
    padding_grad_matmul: float  # norm of one_hot(x).T @ dY at the padding row
    max_norm: float | None
    rescaled_rows: np.ndarray  # rows longer than max_norm: the lookup rescaled them, in W itself
    longest_before: float  # the longest looked-up row before the lookup
    longest_after: float  # ... and after it (<= max_norm when set)
    sparse: bool  # the lookup's gradient is a sparse tensor of the looked-up rows
    lookup_flops: int  # multiply-adds of the lookup: none, B x D values copied
    matmul_flops: int  # B x V x D multiply-adds


def _layer_like(layer: torch.nn.Embedding, weight: torch.Tensor, padding_idx: int | None) -> torch.nn.Embedding:
    """A new nn.Embedding with `layer`'s options (max_norm, norm_type, scale_grad_by_freq, sparse) over `weight`."""
    return torch.nn.Embedding(
        weight.shape[0],
        weight.shape[1],
        padding_idx=padding_idx,
        max_norm=layer.max_norm,
        norm_type=layer.norm_type,
        scale_grad_by_freq=layer.scale_grad_by_freq,
        sparse=layer.sparse,
        _weight=weight,  # used as given: the padding row is not zeroed again
    )


def compare_lookup(
    layer: torch.nn.Embedding, ids: np.ndarray, dy: np.ndarray | None = None, seed: int = 0
) -> LookupComparison:
    """The user's `layer` (its padding_idx, max_norm, sparse ...) against one_hot(x) @ W on copies of its rows.

    `dy` (B, D) is the upstream gradient (the run's own, where there is one), else a seeded N(0, 1) draw.
    """
    ids = np.asarray(ids, dtype=np.int64)
    vocab_size, dim = layer.weight.shape
    rows, local = np.unique(ids, return_inverse=True)  # (U,), (B,): the looked-up rows, each id's position
    with torch.no_grad():
        w_rows = layer.weight.detach()[torch.as_tensor(rows, device=layer.weight.device)].cpu().float()  # (U, D)
    local_t = torch.as_tensor(local.reshape(-1), dtype=torch.long)
    pad = layer.padding_idx
    local_pad = int(np.searchsorted(rows, pad)) if pad is not None and pad in rows else None
    if dy is None:
        dy_t = torch.randn(len(ids), dim, generator=torch.Generator().manual_seed(seed))  # (B, D)
    else:
        dy_t = torch.as_tensor(np.asarray(dy), dtype=torch.float32)

    own = _layer_like(layer, w_rows.clone(), local_pad)
    rows_lookup = own(local_t)  # (B, D); max_norm first rescales rows of own.weight in place
    (rows_lookup * dy_t).sum().backward()
    grad = own.weight.grad
    grad_lookup = grad.to_dense() if grad.is_sparse else grad  # (U, D)
    w_lookup = own.weight.detach()  # W after the lookup

    w_matmul = w_rows.clone().requires_grad_(True)
    one_hot = torch.nn.functional.one_hot(local_t, len(rows)).to(w_rows.dtype)  # (B, U): W's other columns get 0
    rows_matmul = one_hot @ w_matmul  # (B, D)
    (rows_matmul * dy_t).sum().backward()
    grad_matmul = w_matmul.grad  # (U, D)

    grad_diff = (grad_lookup - grad_matmul).abs().amax(dim=1).numpy()  # (U,) per looked-up row
    before = w_rows.norm(dim=1)  # (U,)
    after = w_lookup.norm(dim=1)
    changed = (w_lookup != w_rows).any(dim=1).numpy()
    return LookupComparison(
        ids=ids,
        lookup_rows=rows_lookup.detach().numpy(),
        matmul_rows=rows_matmul.detach().numpy(),
        max_value_diff=float((rows_lookup - rows_matmul).detach().abs().max()) if len(ids) else 0.0,
        max_grad_diff=float(grad_diff.max(initial=0.0)),
        max_grad_diff_other=float(np.delete(grad_diff, [] if local_pad is None else [local_pad]).max(initial=0.0)),
        n_distinct=len(rows),
        padding_idx=pad,
        padding_hits=int((ids == pad).sum()) if pad is not None else 0,
        padding_grad_lookup=float(grad_lookup[local_pad].norm()) if local_pad is not None else 0.0,
        padding_grad_matmul=float(grad_matmul[local_pad].norm()) if local_pad is not None else 0.0,
        max_norm=layer.max_norm,
        rescaled_rows=rows[changed],
        longest_before=float(before.max()) if len(rows) else 0.0,
        longest_after=float(after.max()) if len(rows) else 0.0,
        sparse=bool(layer.sparse),
        lookup_flops=0,
        matmul_flops=len(ids) * vocab_size * dim,
    )


TIMING_MAX_TOKENS = 64  # the product is timed on at most this many tokens of the batch ...
TIMING_MAX_MACS = 2**28  # ... and at most this many multiply-adds per product (50,257 x 768: 6 tokens)


@dataclass(frozen=True)
class LookupTiming:
    """The fastest of many timed runs of each way of reading `n_tokens` rows of a (V, D) table."""

    n_tokens: int
    lookup_s: float
    matmul_s: float  # one_hot(x) @ W, the one-hot included
    lookup_runs: int
    matmul_runs: int

    @property
    def ratio(self) -> float:
        return self.matmul_s / max(self.lookup_s, 1e-12)


def timing_tokens(batch_size: int, vocab_size: int, dim: int) -> int:
    """How many tokens `time_lookup` reads: the batch, capped so that one product stays about a tenth of a second."""
    return max(1, min(batch_size, TIMING_MAX_TOKENS, TIMING_MAX_MACS // (vocab_size * dim)))


def _fastest(fn, max_runs: int, budget_s: float, min_runs: int = 3) -> tuple[float, int]:
    """Fastest of up to `max_runs` timings within about `budget_s` (at least `min_runs`), after one untimed run.

    The minimum, not the mean: on a busy server (other sessions, UMAP compiling in a thread that holds the
    GIL) anything above the fastest run is waiting, not work. Many runs make the minimum stable.
    """
    fn()  # the first call pays for lazy kernel set-up, not for the work
    best, runs, spent = float("inf"), 0, 0.0
    while runs < max_runs and (runs < min_runs or spent < budget_s):
        start = time.perf_counter()
        fn()
        took = time.perf_counter() - start
        best, runs, spent = min(best, took), runs + 1, spent + took
    return best, runs


def time_lookup(weight: torch.Tensor, ids: np.ndarray, budget_s: float = 0.3) -> LookupTiming:
    """Time reading rows `ids[:timing_tokens(...)]` of `weight` (V, D) as a lookup and as a one-hot product.

    A plain read without copying W (no max_norm: that would rewrite W in place). About `budget_s` seconds in
    all at most, plus four products on a big table.
    """
    w = weight.detach()
    vocab_size, dim = w.shape
    n_tokens = timing_tokens(len(ids), vocab_size, dim)
    ids_t = torch.as_tensor(np.asarray(ids[:n_tokens], dtype=np.int64), device=w.device)
    with torch.no_grad():
        lookup_s, lookup_runs = _fastest(lambda: torch.nn.functional.embedding(ids_t, w), 500, budget_s / 3)
        matmul_s, matmul_runs = _fastest(
            lambda: torch.nn.functional.one_hot(ids_t, vocab_size).to(w.dtype) @ w, 100, 2 * budget_s / 3
        )
    return LookupTiming(n_tokens, lookup_s, matmul_s, lookup_runs, matmul_runs)


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


SWEEP_BUDGET_BYTES = 256 * 1024**2  # what one model of a dimension sweep may allocate (one model at a time)
SWEEP_MAX_LOGITS = 2**20  # batch x vocabulary scores per step: keeps the sweep's 1,800 steps to seconds, not minutes


@dataclass(frozen=True)
class DimensionResult:
    """One point of a dimension sweep: the same run at another width."""

    dim: int
    final_loss: float  # mean loss over the last tenth of the steps (nan if it diverged)
    purity: float  # kNN category purity at the end (nan without categories)
    table_params: int  # counted on the trained model's table
    diverged: bool = False


def sweep_bytes(cfg: TrainConfig) -> int:
    """Bytes one sweep model allocates at its peak: core.budget.run_bytes without the parts a sweep keeps none of
    (history, snapshots, page caches). Falls back to the big parts (tables, B x V logits) without core.budget."""
    try:
        from core.budget import run_bytes
    except ImportError:  # an engine without core.budget: weights, grads, two state slots, logits and their grads
        tables = (1 if cfg.tie_weights else 2) * cfg.vocab_size * cfg.dim * 4 * 4
        return tables + 4 * cfg.batch_size * cfg.vocab_size * 4 + 4 * cfg.batch_size * cfg.dim * 4
    parts = run_bytes(cfg)
    return parts.total - parts.history - parts.snapshots - parts.caches


@dataclass(frozen=True)
class SweepPlan:
    """What a dimension sweep will train: the user's configuration, its batch shrunk if needed to fit the budget."""

    cfg: TrainConfig  # the configuration of the sweep's models (dim replaced per model)
    dims: tuple[int, ...]
    steps: int
    asked_batch_size: int
    peak_bytes: int  # sweep_bytes of the widest model at cfg's batch size
    asked_bytes: int  # ... at the batch size asked for
    budget_bytes: int
    max_logits: int  # batch x vocabulary at most, for time
    fits: bool  # False: even a batch of 1 exceeds the budget (a table too big to sweep)

    @property
    def over_memory(self) -> bool:
        """The batch asked for exceeds the memory budget (else it was shrunk, if at all, for time)."""
        return self.asked_bytes > self.budget_bytes

    @property
    def shrunk(self) -> bool:
        return self.cfg.batch_size != self.asked_batch_size


def plan_sweep(
    cfg: TrainConfig,
    dims: Sequence[int],
    steps: int,
    budget_bytes: int = SWEEP_BUDGET_BYTES,
    max_logits: int = SWEEP_MAX_LOGITS,
) -> SweepPlan:
    """The sweep of `cfg` at `dims`, its batch halved until the widest model fits in `budget_bytes` and a step
    scores at most `max_logits` (batch x vocabulary) values."""
    widest = max(dims)
    asked = sweep_bytes(cfg.replace(dim=widest))
    batch, peak = cfg.batch_size, asked
    while (peak > budget_bytes or batch * cfg.vocab_size > max_logits) and batch > 1:
        batch = max(1, batch // 2)
        peak = sweep_bytes(cfg.replace(dim=widest, batch_size=batch))
    return SweepPlan(
        cfg=cfg.replace(batch_size=batch),
        dims=tuple(dims),
        steps=steps,
        asked_batch_size=cfg.batch_size,
        peak_bytes=peak,
        asked_bytes=asked,
        budget_bytes=budget_bytes,
        max_logits=max_logits,
        fits=peak <= budget_bytes,
    )


class DimensionSweep:
    """A dimension sweep that trains in chunks: `advance(seconds)` trains for about that long and returns, so a
    page can show progress, stop it, and let other work run between chunks. One model is held at a time."""

    def __init__(self, plan: SweepPlan):
        self.plan = plan
        self.results: list[DimensionResult] = []
        self.stopped = False
        self._trainer = None
        self._losses: list[float] = []

    @property
    def total_steps(self) -> int:
        return len(self.plan.dims) * self.plan.steps

    @property
    def done_steps(self) -> int:
        return len(self.results) * self.plan.steps + len(self._losses)

    @property
    def done(self) -> bool:
        return len(self.results) == len(self.plan.dims)

    @property
    def running(self) -> bool:
        return not self.done and not self.stopped

    def stop(self) -> None:
        """Stop after the current chunk; the finished widths stay, the model in training is dropped."""
        self.stopped = True
        self._trainer, self._losses = None, []

    def resume(self) -> None:
        self.stopped = False

    def advance(self, seconds: float) -> None:
        """Train for about `seconds` (at least one step), finishing widths as their steps are done."""
        from core.errors import TrainingDiverged
        from core.trainer import Trainer  # the trainer imports this package's siblings; keep import order simple

        start = time.perf_counter()
        while self.running:
            if self._trainer is None:
                dim = self.plan.dims[len(self.results)]
                self._trainer = Trainer(self.plan.cfg.replace(dim=dim), history_bytes=1, snapshot_bytes=1)
            try:
                self._losses.append(self._trainer.step().loss)
            except TrainingDiverged:
                self._finish(diverged=True)
            else:
                if len(self._losses) == self.plan.steps:
                    self._finish(diverged=False)
            if time.perf_counter() - start > seconds:
                return

    def _finish(self, diverged: bool) -> None:
        trainer, steps = self._trainer, self.plan.steps
        tail = self._losses[-max(1, steps // 10) :]
        self.results.append(
            DimensionResult(
                dim=trainer.cfg.dim,
                final_loss=float("nan") if diverged else float(np.mean(tail)),
                purity=float("nan") if diverged else knn_category_purity(trainer.weight, trainer.categories),
                table_params=int(trainer.model.embedding.weight.numel()),
                diverged=diverged,
            )
        )
        self._trainer, self._losses = None, []


def dimension_sweep(cfg: TrainConfig, dims: list[int], steps: int) -> list[DimensionResult]:
    """Train the user's configuration at each width for `steps` steps, all at once (see DimensionSweep)."""
    sweep = DimensionSweep(plan_sweep(cfg, dims, steps))
    sweep.advance(float("inf"))
    return sweep.results
