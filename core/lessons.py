"""Lessons: runs that each make one point about nn.Embedding, and a check of that point on a run's records.

A lesson is data: a name, the point in one sentence, what to look for, the page to open, the settings (a
TrainConfig's keyword arguments, lr and weight decay always given) and the suggested number of steps. `check`
measures the point on the StepRecords of a run made with those settings; it never trusts the settings to
mean what they say. Every lesson is tested to hold after its suggested steps, with the loss below ln V.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from core.captions import count
from core.config import TrainConfig
from core.records import StepRecord

RECENT = 5  # the loss compared with ln V is the mean of this many most recent steps (one batch is noisy)


@dataclass(frozen=True)
class Lesson:
    """One lesson: a run whose records show one point."""

    key: str
    name: str
    point: str  # the claim, one sentence
    look_for: str  # what to look at on `page`
    page: str  # url path of the page to open (ui.nav.PAGES)
    settings: Mapping  # TrainConfig keyword arguments
    steps: int  # suggested number of steps

    def config(self) -> TrainConfig:
        return TrainConfig(**self.settings)


@dataclass(frozen=True)
class Verdict:
    """Whether a lesson's point holds on a run, with the measured numbers in a sentence."""

    holds: bool
    evidence: str
    recent_loss: float  # mean loss of the last RECENT steps
    blind_guess: float  # ln V: the loss of a uniform guess over the vocabulary (SGNS: (k+1) ln 2, every score 0)
    blind_name: str = "ln V"  # how a sentence names it: "ln V", or negative sampling's "6 ln 2"

    @property
    def learned(self) -> bool:
        return self.recent_loss < self.blind_guess


def _lesson(key, name, point, look_for, page, steps, **settings) -> Lesson:
    return Lesson(key, name, point, look_for, page, MappingProxyType(settings), steps)


SMALL = {"vocab_size": 60, "dim": 16, "batch_size": 64, "seed": 0, "init": "normal"}

LESSONS: dict[str, Lesson] = {
    p.key: p
    for p in (
        _lesson(
            "sgd_used_rows", "SGD moves only the rows it used",
            "With plain SGD (no momentum, no weight decay) the rows that move are exactly the rows with a gradient.",
            "Rows moved without a gradient stays at 0 every step; every bar is all gradient.",
            "row_updates", 100, optimizer="sgd", lr=0.5, momentum=0.0, weight_decay=0.0, **SMALL,
        ),
        _lesson(
            "adam_state", "Adam keeps moving rows that got no gradient",
            "Adam's moment estimates keep moving a row for many steps after its last gradient.",
            "From step 2 on, rows without a gradient still move (orange bars: optimizer state).",
            "row_updates", 100, optimizer="adam", lr=0.05, weight_decay=0.0, **SMALL,
        ),
        _lesson(
            "momentum_state", "Momentum keeps moving rows that got no gradient",
            "SGD with momentum 0.9 keeps moving a row after its last gradient: the velocity is optimizer state.",
            "From step 2 on, rows without a gradient still move; compare with the plain SGD lesson.",
            "row_updates", 100, optimizer="sgd", lr=0.2, momentum=0.9, weight_decay=0.0, **SMALL,
        ),
        _lesson(
            "weight_decay", "Weight decay shrinks every row, every step",
            "AdamW at torch's default weight decay 0.01 pulls every row towards zero every step, used or not.",
            "Every row moves in every step, even in step 1, before any optimizer state exists.",
            "row_updates", 100, optimizer="adamw", lr=0.05, weight_decay=0.01, **SMALL,
        ),
        _lesson(
            "sparse_adam", "SparseAdam: sparse gradients, lazy moments",
            "SparseAdam updates only the rows in this step's sparse gradient: the rows looked up.",
            "The rows that moved are exactly the rows looked up, every step; no row moves without a gradient.",
            "row_updates", 100, optimizer="sparse_adam", lr=0.05, weight_decay=0.0, **SMALL,
        ),
        _lesson(
            "tied_head", "A tied output head gives every row a gradient",
            "When the output head is the embedding matrix (as in GPT-2), every row gets a gradient every step.",
            "Every row is marked as having a gradient, though only a few dozen were looked up.",
            "gradient_masks", 100, optimizer="sgd", lr=0.5, momentum=0.0, weight_decay=0.0, tie_weights=True,
            **SMALL,
        ),
        _lesson(
            "padding_idx", "padding_idx: the lookup's gradient never reaches the padding row",
            "The padding row is looked up in many steps, yet its gradient is always 0 and (with plain SGD) it "
            "never moves.",
            "Row 0 <pad> is looked up but never marked as having a gradient.",
            "gradient_masks", 100, optimizer="sgd", lr=0.5, momentum=0.0, weight_decay=0.0, padding_idx=0,
            **SMALL,
        ),
        _lesson(
            "max_norm", "max_norm rescales the rows it looks up, with no gradient",
            "With max_norm 1, every row looked up whose norm is above 1 is rescaled in the forward pass: a move "
            "that no gradient made.",
            "The max_norm part of each looked-up row's bar; rows not looked up are never rescaled.",
            "row_updates", 100, optimizer="sgd", lr=0.5, momentum=0.0, weight_decay=0.0, max_norm=1.0, **SMALL,
        ),
        _lesson(
            "negative_sampling", "Negative sampling: only k+1 context rows get a gradient",
            "word2vec's negative sampling scores each pair's true context and k = 5 rows drawn from the unigram "
            "distribution to the 3/4 power: only those head rows get a gradient, not all V of them.",
            "The second chart: the head's rows with a gradient are a few hundred of 5,000, the table's only the "
            "looked-up rows.",
            "gradient_masks", 100, model="sgns", negatives=5, vocab_size=5_000, dim=16, batch_size=64, seed=0,
            init="small_normal", optimizer="adam", lr=0.05, weight_decay=0.0,
        ),
        _lesson(
            "gpt_positions", "A GPT's positional table: every position row, every step",
            "A small GPT looks up two tables: the token table (a row per token it sees) and the positional table "
            "(a row per position of the window). Every window uses every position, so every position row gets a "
            "gradient and moves in every step, while token rows get a gradient only when their token occurs.",
            "The positional table's bars: all T = 8 rows, every step; beside them the token rows, only the "
            "looked-up ones (untied head).",
            "gradient_masks", 100, model="gpt", context=8, layers=1, heads=2, optimizer="adam", lr=0.01,
            weight_decay=0.0, **(SMALL | {"vocab_size": 200, "batch_size": 4}),
        ),
        _lesson(
            "gpt2_table", "GPT-2's table: 50,257 x 768",
            "A table the size of GPT-2's, initialised as GPT-2's (N(0, 0.02)), learns with Adam at lr 0.01: the "
            "loss falls below the blind guess ln V within 20 steps (here with an untied output head).",
            "The loss curve against ln V = 10.82; the gradient still reaches only the rows looked up.",
            "train", 12, vocab_size=50_257, dim=768, optimizer="adam", lr=0.01, weight_decay=0.0,
            init="small_normal", batch_size=64, seed=0,
        ),
    )
}  # fmt: skip


def blind_guess(vocab_size: int) -> float:
    """ln V: the loss of predicting every token with probability 1/V (a run's own: TrainConfig.blind_loss)."""
    return math.log(vocab_size)


def check(lesson: Lesson, records: Sequence[StepRecord], weight: np.ndarray | None = None) -> Verdict:
    """Measure the lesson's point on a run's records (consecutive steps from step 1, as a fresh run keeps them).
    `weight`, the table after the last record, lets the max_norm check bound the looked-up rows' norms too."""
    cfg = lesson.config()
    if not records:
        return Verdict(False, "No step yet: train first.", math.nan, cfg.blind_loss, cfg.blind_name)
    recent = float(np.mean([r.loss for r in records[-RECENT:]]))
    holds, evidence = _CHECKS[lesson.key](records, cfg, weight)
    return Verdict(bool(holds), evidence, recent, cfg.blind_loss, cfg.blind_name)


def _moved_without_grad(r: StepRecord) -> int:
    return int((r.updated_mask & ~r.grad_mask).sum())


def _check_sgd(records, cfg, weight) -> tuple[bool, str]:
    same = [bool(np.array_equal(r.updated_mask, r.grad_mask)) for r in records]
    mean_grad = np.mean([r.grad_mask.sum() for r in records])
    return all(same), (
        f"In {sum(same)} of {len(records)} steps the rows that moved were exactly the rows with a gradient "
        f"({mean_grad:.1f} of {cfg.vocab_size} rows per step on average)."
    )


def _check_state(records, cfg, weight) -> tuple[bool, str]:
    later = records[1:] if records[0].step == 1 else records
    counts = [_moved_without_grad(r) for r in later]
    holds = bool(later) and min(counts) > 0
    return holds, (
        f"In {sum(c > 0 for c in counts)} of {len(later)} steps after the first, rows moved without a gradient "
        f"({np.mean(counts) if counts else 0:.1f} rows per step on average)."
    )


def _check_decay(records, cfg, weight) -> tuple[bool, str]:
    every = [bool(r.updated_mask.all()) for r in records]
    decayed = [bool((r.move_decay != 0).all()) for r in records]  # weight decay's part of every row's move
    first = records[0]
    no_grad = ~first.grad_mask
    first_ok = first.step != 1 or bool(np.allclose(first.move_decay[no_grad], first.update_norm[no_grad], rtol=1e-4))
    return all(every) and all(decayed) and first_ok, (
        f"Every one of the {cfg.vocab_size} rows moved in {sum(every)} of {len(records)} steps, with a weight-decay "
        f"part in {sum(decayed)} of them. In step 1, before any optimizer state existed, the {int(no_grad.sum())} "
        "rows without a gradient moved by weight decay alone."
    )


def _check_sparse(records, cfg, weight) -> tuple[bool, str]:
    same = [bool(np.array_equal(r.updated_mask, r.token_counts > 0)) for r in records]
    moved_no_grad = sum(_moved_without_grad(r) for r in records)
    return all(same) and moved_no_grad == 0, (
        f"In {sum(same)} of {len(records)} steps the rows that moved were exactly the rows looked up; "
        f"{moved_no_grad} row moves in all were without a gradient."
    )


def _check_tied(records, cfg, weight) -> tuple[bool, str]:
    every = [bool(r.grad_mask.all()) for r in records]
    looked_up = np.mean([(r.token_counts > 0).sum() for r in records])
    return all(every), (
        f"All {cfg.vocab_size} rows got a gradient in {sum(every)} of {len(records)} steps, though only "
        f"{looked_up:.1f} rows per step were looked up."
    )


def _check_negative_sampling(records, cfg, weight) -> tuple[bool, str]:
    exact, table_exact, n_head = [], [], []
    for r in records:
        drawn = np.zeros(cfg.vocab_size, dtype=bool)
        drawn[r.target_ids] = drawn[r.negative_ids.ravel()] = True  # the step's true contexts and negatives
        exact.append(bool(np.array_equal(r.head_grad_mask, drawn)))
        table_exact.append(bool(np.array_equal(r.grad_mask, r.token_counts > 0)))
        n_head.append(int(r.head_grad_mask.sum()))
    per_pair = cfg.negatives + 1
    return all(exact) and all(table_exact) and max(n_head) <= cfg.batch_size * per_pair, (
        f"In {sum(exact)} of {len(records)} steps the head rows with a gradient were exactly that step's true "
        f"contexts and sampled negatives: {min(n_head)}-{max(n_head)} of {cfg.vocab_size:,} rows (at most "
        f"{cfg.batch_size} pairs x {per_pair} = {cfg.batch_size * per_pair}). In {sum(table_exact)} steps the "
        "table's rows with a gradient were exactly the rows looked up."
    )


def _check_gpt_positions(records, cfg, weight) -> tuple[bool, str]:
    every_grad = [bool((r.position_grad_norm > 0).all()) for r in records]
    every_move = [bool((r.position_update_norm > 0).all()) for r in records]
    tokens_exact = [bool(np.array_equal(r.grad_mask, r.token_counts > 0)) for r in records]
    looked_up = np.mean([(r.token_counts > 0).sum() for r in records])
    n_positions = len(records[0].position_grad_norm)
    return all(every_grad) and all(every_move) and all(tokens_exact), (
        f"All {n_positions} position rows got a gradient in {sum(every_grad)} of {len(records)} steps and moved in "
        f"{sum(every_move)}. The token rows with a gradient were exactly the rows looked up in {sum(tokens_exact)} "
        f"steps: {looked_up:.1f} of {cfg.vocab_size} rows per step on average."
    )


def _check_padding(records, cfg, weight) -> tuple[bool, str]:
    pad = cfg.padding_idx
    looked_up = sum(int(r.token_counts[pad] > 0) for r in records)
    lookups = sum(int(r.token_counts[pad]) for r in records)
    max_grad = max(float(r.grad_norm[pad]) for r in records)
    max_move = max(float(r.update_norm[pad]) for r in records)
    return looked_up > 0 and max_grad == 0 and max_move == 0, (
        f"The padding row {pad} was looked up {lookups} times in {looked_up} of {len(records)} steps; its largest "
        f"gradient norm was {max_grad:g} and its largest move {max_move:g}."
    )


def _check_max_norm(records, cfg, weight) -> tuple[bool, str]:
    rescaled = [r.renorm_norm > 0 for r in records]
    outside = sum(int((m & (r.token_counts == 0)).sum()) for m, r in zip(rescaled, records, strict=True))
    n_rescaled = sum(int(m.sum()) for m in rescaled)
    holds = n_rescaled > 0 and outside == 0
    evidence = (
        f"{count(n_rescaled, 'rescale')} in {len(records)} steps, every one of a row looked up in that step "
        f"({outside} of rows not looked up)."
    )
    if weight is not None:  # last step: rescaled to <= max_norm, then moved by at most update_norm
        last = records[-1]
        rows = np.flatnonzero(last.token_counts > 0)
        excess = np.linalg.norm(weight[rows].astype(np.float64), axis=1) - cfg.max_norm - last.update_norm[rows]
        holds = holds and bool((excess <= 1e-5).all())
        evidence += (
            f" After step {last.step}, each of its {len(rows)} looked-up rows is within max_norm {cfg.max_norm:g} "
            "plus that step's update."
        )
    return holds, evidence


def _check_gpt2(records, cfg, weight) -> tuple[bool, str]:
    within = [r for r in records if r.step <= 20]
    recent = float(np.mean([r.loss for r in within[-RECENT:]])) if within else math.nan
    guess = blind_guess(cfg.vocab_size)
    return recent < guess, (
        f"Mean loss of steps {within[-RECENT:][0].step}–{within[-1].step}: {recent:.3f}, against the blind guess "
        f"ln {cfg.vocab_size:,} = {guess:.3f}."
        if within
        else "No step within the first 20 is kept."
    )


_CHECKS = {
    "sgd_used_rows": _check_sgd,
    "adam_state": _check_state,
    "momentum_state": _check_state,
    "weight_decay": _check_decay,
    "sparse_adam": _check_sparse,
    "tied_head": _check_tied,
    "padding_idx": _check_padding,
    "max_norm": _check_max_norm,
    "gpt2_table": _check_gpt2,
    "negative_sampling": _check_negative_sampling,
    "gpt_positions": _check_gpt_positions,
}
