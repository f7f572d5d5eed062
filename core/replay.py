"""Replaying a run to a link's `&step=N`: a Trainer is deterministic for a config (its seed fixes the table, the
corpus and every batch), so N fresh steps reproduce the teacher's run to the bit. A link may ask for at most
`max_steps(cfg)`: the steps whose `step_cost` fits in REPLAY_BUDGET."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from core.budget import lookups, scores
from core.config import TrainConfig
from core.errors import ConfigError
from core.limits import REPLAY_BUDGET
from core.trainer import Trainer

# A step's cost in "table cells": each of the V x D cells is touched by the optimizer, the records and the split
# of every row's move; the B x V x D logits and their gradients add 1/500 of a cell per product; and a step has a
# fixed cost of a few ms (Python, autograd), about 50,000 cells.
BATCH_PER_CELL = 500
STEP_OVERHEAD_CELLS = 50_000
# For the time a replay is expected to take before this server has timed one of its size (ui.replays.estimate),
# and whether a Step xN shows a progress bar. Trainer.step on one torch thread here, per cell of step_cost (medians,
# 2026-12-01): 29 ns at the default 60 x 16, 32 at 1,000 x 64 and 10,000 x 128, 26 at 50,257 x 768, 28-40 for
# SGNS, 34-59 for a GPT, 18 for plain SGD. It was 90 ns before the trainer's speed-ups, 3x too long by then.
SECONDS_PER_CELL = 35e-9


BLOCK_OVERHEAD_CELLS = 20_000  # a GPT block's own fixed cost (its dozen autograd nodes), measured: ~2 ms


def step_cost(cfg: TrainConfig) -> int:
    """One training step's work for this config, in table cells (see BATCH_PER_CELL, STEP_OVERHEAD_CELLS). The
    products: the full softmax's B x V x D logits; SGNS's B x (k+1) x D scores; a GPT's B T x V x D logits and per
    block its B T x 12 D^2 weights' products and B T x 2 T D of attention."""
    cells, d = cfg.vocab_size * cfg.dim, cfg.dim
    products, blocks = scores(cfg) * d, 0  # each score is a D-long product
    if cfg.model == "gpt":
        products += cfg.layers * lookups(cfg) * (12 * d * d + 2 * cfg.context * d)
        blocks = cfg.layers * BLOCK_OVERHEAD_CELLS
    return int(cells + products // BATCH_PER_CELL + STEP_OVERHEAD_CELLS + blocks)


def max_steps(cfg: TrainConfig) -> int:
    """The most steps a link may re-train for this config (at least 1: any table may take one step)."""
    return max(1, REPLAY_BUDGET // step_cost(cfg))


def expected_seconds(cfg: TrainConfig, n_steps: int) -> float:
    """About how long `n_steps` steps take on one core (for a message, never for a decision)."""
    return n_steps * step_cost(cfg) * SECONDS_PER_CELL


def check(cfg: TrainConfig, step: int) -> None:
    """Raise ConfigError("step", ...) unless a link may re-train this config to `step`."""
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ConfigError("step", f"A link's step must be a whole number of 0 or more; it asks for {step!r}.")
    limit = max_steps(cfg)
    if step > limit:
        raise ConfigError(
            "step",
            f"This link asks for step {step:,}, but re-training a {cfg.vocab_size:,} × {cfg.dim:,} table "
            f"(batch {cfg.batch_size:,}) is limited to {limit:,} steps, about a minute of the server's time. "
            f"Open it with step={limit:,} or less, or train on from there.",
        )


def steps_to(
    trainer: Trainer, step: int, guard: Callable[[], AbstractContextManager] = contextlib.nullcontext
) -> Iterator[int]:
    """Train `trainer` up to `step`, each step inside `guard()`, yielding its step count (stop by not iterating)."""
    while trainer.step_count < step:
        with guard():
            trainer.step()
        yield trainer.step_count


def replay(
    trainer: Trainer,
    step: int,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    guard: Callable[[], AbstractContextManager] = contextlib.nullcontext,
    every_seconds: float = 0.1,
) -> int:
    """Train `trainer` to `step` (ConfigError past the budget), `progress(done, target)` every `every_seconds`."""
    check(trainer.cfg, step)
    if progress is not None:
        progress(trainer.step_count, step)
    last = time.perf_counter()
    for done in steps_to(trainer, step, guard):
        if progress is not None and time.perf_counter() - last >= every_seconds:
            progress(done, step)
            last = time.perf_counter()
        if should_stop is not None and should_stop():
            break
    if progress is not None:
        progress(trainer.step_count, step)
    return trainer.step_count
