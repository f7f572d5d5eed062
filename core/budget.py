"""What a run costs in memory, known before it starts: everything it holds and everything a step allocates.

`run_bytes(cfg)` counts, in bytes, by name:

- `tables`: weights, gradients and optimizer state of the embedding and of an untied head (float32);
- `optimizer_temps`: what torch's optimizer step allocates while it runs (e.g. Adam's denominator);
- `step_buffers`: the trainer's kept (V, D) buffers (the table before the step, its change) and (V,) records;
- `shadows`: the zero-gradient copies that measure what optimizer state and weight decay did (core.move_split);
- `batch_by_vocab`: the (B, V) logits, their log-softmax and their gradients: the part that grows with B x V (SGNS
  scores only k+1 rows per pair: its (B, k+1) scores, sigmoids and gradients, and the (V,) sampling table);
- `activations`: (B, D) looked-up rows, their gradients, the batch's ids; SGNS's (B, k) negatives and the
  (B, k+1, D) context rows it gathers, their gradient (kept to measure the head's mask) and its sum per row;
- `history`, `snapshots`: the budgets of the kept StepRecords and weight frames (they scale with the table);
- `corpus`: the (centre, context) pair arrays and the tokens they come from;
- `caches`: what the pages derive from a run (projection layouts, the Lookup page's copies of W, one-hot rows).

The history and snapshot budgets are chosen here (`history_bytes`, `snapshot_bytes`) so that what the trainer
keeps and what a run is charged are the same numbers. bench/memory.py measures a run's peak RSS against this.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from dataclasses import dataclass, fields
from typing import Protocol

from core.limits import (
    HISTORY_MAX_BYTES,
    HISTORY_MAX_RECORDS,
    LAYOUT_CACHE_BYTES,
    MAX_FRAMES,
    MAX_PAIRS,
    MIN_FRAMES,
    SNAPSHOT_MAX_BYTES,
    SPLIT_CHUNK,
    UMAP_MAX_ROWS,
    toy_corpus_tokens,
)
from core.optimizers import state_slots

FLOAT = 4  # float32
INDEX = 8  # int64
RECORD_OVERHEAD = 7_000  # a StepRecord's Python objects (dataclass, array headers, allocator), measured
FRAME_OVERHEAD = 200


class RunSettings(Protocol):
    """The settings a run's bytes depend on: a TrainConfig, read by duck typing (config imports this module)."""

    vocab_size: int
    dim: int
    batch_size: int
    optimizer: str
    momentum: float
    weight_decay: float
    max_norm: float | None
    tie_weights: bool
    window: int
    corpus_text: str | None
    model: str
    negatives: int
    context: int
    layers: int
    heads: int

    @property
    def sparse_grad(self) -> bool: ...


@dataclass(frozen=True)
class RunBytes:
    """The bytes of one run, by part (see the module docstring)."""

    tables: int
    optimizer_temps: int
    step_buffers: int
    shadows: int
    batch_by_vocab: int
    activations: int
    history: int
    snapshots: int
    corpus: int
    caches: int

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    @property
    def table_sized(self) -> int:
        """The parts that grow with V x D (what a smaller table saves)."""
        return self.tables + self.optimizer_temps + self.step_buffers + self.shadows + self.snapshots

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"total": self.total}


def lookups(cfg: RunSettings) -> int:
    """Token rows a step looks up: B (centres), or a GPT's B x T window positions."""
    return cfg.batch_size * (cfg.context if cfg.model == "gpt" else 1)


def scores(cfg: RunSettings) -> int:
    """Scores (logits) a step computes: B x V for the full softmax, a GPT's B T x V, SGNS's B x (k+1)."""
    if cfg.model == "sgns":
        return cfg.batch_size * (cfg.negatives + 1)
    return lookups(cfg) * cfg.vocab_size


def gpt_params(cfg: RunSettings) -> int:
    """A GPT's parameters beside the token table and head: per block attention (in_proj 3D x D + 3D, out_proj
    D x D + D), feed-forward (4D x D + 4D, D x 4D + D) and two LayerNorms (4D); the positional table (T x D) and
    the final LayerNorm (2D). 0 for the skip-gram models."""
    if cfg.model != "gpt":
        return 0
    d = cfg.dim
    return cfg.layers * (12 * d * d + 13 * d) + cfg.context * d + 2 * d


def record_bytes(cfg: RunSettings) -> int:
    """Bytes of one StepRecord: (V,) arrays, (B,) ids and the (B, D) contributions, plus its objects."""
    per_row = FLOAT * 11 + 1 * 2 + 4  # 11 float32 arrays (4 of them the move's split), 2 masks, int32 counts
    per_row += 1  # head_grad_mask
    per_position = INDEX * 2 + FLOAT * cfg.dim  # input and target ids, output_grad
    if cfg.model == "sgns":
        per_position += INDEX * cfg.negatives  # negative_ids
    positional = 2 * FLOAT * cfg.context if cfg.model == "gpt" else 0  # the positional table's norms and moves
    return cfg.vocab_size * per_row + lookups(cfg) * per_position + positional + RECORD_OVERHEAD


def history_bytes(cfg: RunSettings) -> int:
    """The history budget: HISTORY_MAX_RECORDS records, at most HISTORY_MAX_BYTES, at least two records."""
    one = record_bytes(cfg)
    return max(2 * one, min(HISTORY_MAX_RECORDS * one, HISTORY_MAX_BYTES))


def frame_bytes(cfg: RunSettings) -> int:
    return cfg.vocab_size * cfg.dim * FLOAT


def snapshot_bytes(cfg: RunSettings) -> int:
    """The snapshot budget: as many frames as fit in SNAPSHOT_MAX_BYTES, between MIN_FRAMES and MAX_FRAMES."""
    frame = frame_bytes(cfg)
    frames = max(MIN_FRAMES, min(MAX_FRAMES, SNAPSHOT_MAX_BYTES // frame))
    return frames * frame


def _corpus_bytes(cfg: RunSettings) -> int:
    if cfg.corpus_text is None:
        n_tokens = toy_corpus_tokens(cfg.vocab_size, cfg.window)
        held = n_tokens * INDEX * 2  # tokens and sentence ids while it is built
    else:
        n_tokens = len(cfg.corpus_text) // 4 + 1  # at most one word per 4 characters, on average
        held = n_tokens * (INDEX * 3 + 80)  # ids and sentence ids, and the tokenised words' Python objects
    raw_pairs = 2 * cfg.window * n_tokens
    pairs = 2 * INDEX * raw_pairs * 3 // 2  # (centre, context) int64 pairs: the parts and their concatenation
    if raw_pairs > MAX_PAIRS:
        pairs += 2 * INDEX * MAX_PAIRS  # thinned to MAX_PAIRS: a copy
    return held + pairs


def run_bytes(cfg: RunSettings) -> RunBytes:
    """Every byte `Trainer(cfg)` holds or allocates at its peak, and what the pages derive from it."""
    v, d, b = cfg.vocab_size, cfg.dim, lookups(cfg)  # b: the rows a step looks up (a GPT's B x T positions)
    frame = frame_bytes(cfg)
    slots = state_slots(cfg.optimizer, cfg.momentum)
    head_slots = 2 if cfg.optimizer == "sparse_adam" else slots  # SparseAdam's head gets a dense Adam
    table_grad = 4 * b * d * FLOAT + 2 * b * INDEX if cfg.sparse_grad else frame  # sparse: values and indices
    tables = frame * (1 + slots) + table_grad
    if not cfg.tie_weights:
        tables += frame * (2 + head_slots)
    others = gpt_params(cfg) * FLOAT  # a GPT's positional table and blocks: weights, gradients, state
    tables += others * (2 + head_slots)
    decoupled = cfg.optimizer == "adamw"
    temps = (frame + others) * (1 + (1 if cfg.weight_decay and not decoupled else 0))  # sqrt(v), grad + wd * w
    step_buffers = 2 * frame + 40 * v * FLOAT  # before, delta, and the step's (V,) norms and parts
    sgns = cfg.model == "sgns"
    ctx = b * (cfg.negatives + 1)  # SGNS: the (centre, context) pair's true context and its k negatives
    # rows with a gradient, and rows max_norm rescaled: a tied full softmax reaches every row, a tied SGNS its
    # centres and the context rows it sampled
    shadow_rows = (min(v, b + ctx) if sgns else v) if cfg.tie_weights else min(v, 2 * b)
    # (n, D) each: the shadow, the rows before and after (no copies when n = V), mid (max_norm), s00 (weight decay)
    copies = 1 + (0 if cfg.tie_weights else 2) + (cfg.max_norm is not None) + bool(cfg.weight_decay)
    shadows = shadow_rows * d * FLOAT * (copies + slots)  # and the shadow's copy of the rows' optimizer state
    shadows += 14 * min(shadow_rows * d, SPLIT_CHUNK) * 8  # the float64 chunks of the exact split
    if cfg.weight_decay:  # a zero-gradient, zero-decay copy of the whole table and its state
        shadows += frame * (1 + slots)  # its zero gradient is one value, expanded
    batch_by_vocab = 3 * b * v * FLOAT  # log-softmax (kept for backward) and the gradients of it and the logits
    activations = 4 * b * d * FLOAT + 4 * b * INDEX
    if sgns:
        batch_by_vocab = 6 * ctx * FLOAT + 3 * v * 8  # scores, log-sigmoids, their gradients; the float64 cdf
        # the gathered (B, k+1, D) rows, their retained gradient, the gradient's sum per row; the ids and negatives
        activations += 3 * ctx * d * FLOAT + 3 * ctx * INDEX  # (an untied head is the context table: in `tables`)
    if cfg.model == "gpt":  # per block, what backward keeps and makes: ~20 (B T, D) tensors (the inputs of its
        # LayerNorms, q, k, v, attention's output, 4D-wide feed-forward before and after GELU, residuals) and as
        # many gradients; the (B, H, T, T) attention scores in case the fused kernel is not used; the positions'
        # sums, the final LayerNorm and their gradients
        t = cfg.context
        activations += cfg.layers * (40 * b * d + 3 * cfg.batch_size * cfg.heads * t * t) * FLOAT + 6 * b * d * FLOAT
    snapshots = snapshot_bytes(cfg) + frame + (MAX_FRAMES + 1) * FRAME_OVERHEAD  # + the copy being added
    layout_rows = min(v, UMAP_MAX_ROWS)
    caches = (
        min(LAYOUT_CACHE_BYTES, MAX_FRAMES * layout_rows * 2 * 8)  # projected layouts
        + 2 * frame  # a page's float64 copy of one frame
        + 2 * b * min(v, b) * FLOAT  # the Lookup page's one-hot rows over the looked-up rows, and gradients
    )
    return RunBytes(
        tables=tables,
        optimizer_temps=temps,
        step_buffers=step_buffers,
        shadows=shadows,
        batch_by_vocab=batch_by_vocab,
        activations=activations,
        history=history_bytes(cfg),
        snapshots=snapshots,
        corpus=_corpus_bytes(cfg),
        caches=caches,
    )


M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter


def return_freed_memory() -> bool:
    """Make glibc hand freed memory back to the system (mallopt(M_TRIM_THRESHOLD, 0), as the environment
    variable MALLOC_TRIM_THRESHOLD_=0 does). Without it a process that trains keeps every freed (V, D)
    temporary: RSS grows step after step far beyond what run_bytes charges (10,000 x 128: ~500 MB after 60
    steps against ~160 MB with it). Process-wide: call once at start-up. False where there is no glibc."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        return bool(libc.mallopt(M_TRIM_THRESHOLD, 0))
    except (OSError, AttributeError):
        return False
