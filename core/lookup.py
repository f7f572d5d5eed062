"""Is an embedding an MLP? On the user's own table: the lookup `emb(x)` against `one_hot(x) @ W`, which give the
same rows and gradient (`one_hot(x).T @ dY`) but read B rows instead of multiplying B x V x D numbers. Two options
break the equality, and `compare_lookup` shows by how much: `max_norm` rescales long rows (in W, in the forward
pass); `padding_idx` zeroes the lookup's gradient to its row. Also: how the table was initialised (width: core.sweep).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from core.limits import TIMING_MAX_MACS, TIMING_MAX_TOKENS


@dataclass(frozen=True)
class LookupComparison:
    """The user's own layer `emb(x)` against the plain product `one_hot(x) @ W`, for one batch of ids, on copies of
    the looked-up rows only (unused rows get no gradient either way), so a 50,257 x 768 table costs no V x D copy."""

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


def compare_lookup(
    layer: torch.nn.Embedding, ids: np.ndarray, dy: np.ndarray | None = None, seed: int = 0
) -> LookupComparison:
    """The user's `layer` (its padding_idx, max_norm, sparse ...) against one_hot(x) @ W on copies of its rows.
    `dy` (B, D) is the upstream gradient (the run's own, where there is one), else a seeded N(0, 1) draw."""
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

    own = torch.nn.Embedding(  # `layer`'s options over the copied rows
        len(rows),
        dim,
        padding_idx=local_pad,
        max_norm=layer.max_norm,
        norm_type=layer.norm_type,
        scale_grad_by_freq=layer.scale_grad_by_freq,
        sparse=layer.sparse,
        _weight=w_rows.clone(),  # used as given: the padding row is not zeroed again
    )
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
    """Fastest of up to `max_runs` timings in about `budget_s` (at least `min_runs`), after one untimed run. The
    minimum, not the mean: on a busy server (other sessions, UMAP holding the GIL) the rest is waiting, not work."""
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
    A plain read without copying W (no max_norm: that would rewrite W in place)."""
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


SHOWN = 8  # batch positions drawn in the one-hot product
ONE_HOT_ALL_COLUMNS = 200  # up to this vocabulary the product draws every column; beyond, only the selected ones
MAX_VALUES = 200_000  # table values sent to the initialisation histogram


def run_batch(trainer) -> tuple[np.ndarray, np.ndarray | None]:
    """(ids (B,), dY (B, D) or None): the last step's batch and its own upstream gradient, else the first batch."""
    if not len(trainer.history):
        return trainer.corpus.centres[: trainer.cfg.batch_size], None
    record = trainer.history[-1]
    return record.input_ids, record.output_grad


@dataclass(frozen=True)
class LookupRun:
    """The comparison on the run's own batch, and what the page says about where it came from."""

    result: LookupComparison
    step: int | None  # the step whose batch it is; None: no step yet (the first batch)
    params: int  # the layer's parameters: V x D, no bias
    padding_token: str | None
    tied: bool


def lookup_run(trainer) -> LookupRun:
    """The run's layer against one_hot(x) @ W on its last batch (copies of the looked-up rows only)."""
    layer = trainer.model.embedding
    ids, dy = run_batch(trainer)
    pad = layer.padding_idx
    return LookupRun(
        result=compare_lookup(layer, ids, dy),
        step=trainer.step_count if dy is not None else None,
        params=int(sum(p.numel() for p in layer.parameters())),
        padding_token=None if pad is None else trainer.vocab[pad],
        tied=trainer.cfg.tie_weights,
    )


def timing_key(trainer) -> tuple[int, int, int]:
    """What `time_run`'s result depends on: (V, D, tokens timed)."""
    vocab_size, dim = trainer.cfg.vocab_size, trainer.cfg.dim
    return vocab_size, dim, timing_tokens(len(run_batch(trainer)[0]), vocab_size, dim)


def time_run(trainer) -> LookupTiming:
    """time_lookup on the run's own table and batch."""
    return time_lookup(trainer.model.embedding.weight, run_batch(trainer)[0])


@dataclass(frozen=True)
class OneHotRows:
    """The first positions of the batch as one_hot(x) @ W, with only the columns a 1 falls in for a big V."""

    one_hot: np.ndarray  # (n, C): a single 1 per row
    weight_rows: np.ndarray  # (C, D): W's rows for those columns, as stored now
    product: np.ndarray  # (n, D)
    tokens: list[str]  # "position: token"
    vocab_size: int

    @property
    def all_columns(self) -> bool:
        return self.one_hot.shape[1] == self.vocab_size


def one_hot_rows(trainer, shown: int = SHOWN) -> OneHotRows:
    """one_hot(x) @ W for the first `shown` tokens of the run's batch."""
    ids = run_batch(trainer)[0][:shown]
    vocab_size = trainer.cfg.vocab_size
    columns = np.arange(vocab_size) if vocab_size <= ONE_HOT_ALL_COLUMNS else np.unique(ids)
    one_hot = (ids[:, None] == columns[None, :]).astype(float)  # (n, C)
    weight_rows = trainer.weight_rows(columns)  # (C, D)
    tokens = [f"{i}: {trainer.vocab[t]}" for i, t in enumerate(ids)]
    return OneHotRows(one_hot, weight_rows, one_hot @ weight_rows, tokens, vocab_size)


@dataclass(frozen=True)
class InitView:
    """The table's first kept frame, measured."""

    step: int
    values: np.ndarray  # at most MAX_VALUES of its values, evenly spaced, for a histogram
    stats: InitStats
    padding_idx: int | None
    padding_zero: bool  # the padding row starts at zero (False without padding_idx)


def init_view(trainer, max_values: int = MAX_VALUES) -> InitView:
    """How the run's table was initialised: its first frame's values and their spread."""
    step, start = trainer.frames()[0]
    pad = trainer.cfg.padding_idx
    stats = init_stats(start, trainer.cfg.init, pad)
    zero = pad is not None and not start[pad].any()
    return InitView(step, start.ravel()[:: max(1, start.size // max_values)], stats, pad, zero)
