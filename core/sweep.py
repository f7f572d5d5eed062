"""What a wider table buys on the user's own data: the same run trained at several widths, in chunks. `plan_sweep`
shrinks the batch to fit a memory and a time budget; `DimensionSweep` trains in chunks a page can show, stop and
resume; `start` charges the widest model to the server before anything is built."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.budget import run_bytes, scores
from core.config import TrainConfig
from core.errors import TrainingDiverged
from core.limits import SWEEP_BUDGET_BYTES, SWEEP_MAX_LOGITS
from core.metrics import knn_category_purity
from core.trainer import Trainer

DIMS = (2, 4, 8, 16, 32, 64)  # the widths the Scale page measures
STEPS = 300  # steps per width
MAX_VOCAB = 5_000  # beyond this the sweep takes too long for a page


@dataclass(frozen=True)
class DimensionResult:
    """One point of a dimension sweep: the same run at another width."""

    dim: int
    final_loss: float  # mean loss over the last tenth of the steps (nan if it diverged)
    purity: float  # kNN category purity at the end (nan without categories)
    table_params: int  # counted on the trained model's table
    diverged: bool = False


def sweep_bytes(cfg: TrainConfig) -> int:
    """One sweep model's peak bytes: run_bytes less history, snapshots and caches (a sweep keeps none)."""
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
    max_logits: int  # scores a step computes at most (core.budget.scores: B x V for the full softmax), for time
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
    """The sweep of `cfg` at `dims`, its batch halved until the widest model fits `budget_bytes` and `max_logits`."""
    widest = max(dims)
    asked = sweep_bytes(cfg.replace(dim=widest))
    peak_at = lambda b: sweep_bytes(cfg.replace(dim=widest, batch_size=b))  # noqa: E731
    scores_at = lambda b: scores(cfg.replace(batch_size=b))  # noqa: E731
    batch, peak = halve_batch(cfg.batch_size, asked, peak_at, scores_at, budget_bytes, max_logits)
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


def halve_batch(
    batch: int,
    asked_bytes: int,
    peak_at: Callable[[int], int],
    scores_at: Callable[[int], int],
    budget_bytes: int,
    max_scores: int,
) -> tuple[int, int]:
    """`batch` (needing `asked_bytes`) halved until its peak bytes `peak_at(b)` fit `budget_bytes` and a step
    computes at most `max_scores` scores `scores_at(b)`, or it is 1: (the batch, its peak bytes)."""
    peak = asked_bytes
    while (peak > budget_bytes or scores_at(batch) > max_scores) and batch > 1:
        batch = max(1, batch // 2)
        peak = peak_at(batch)
    return batch, peak


class ChunkedTraining:
    """Models trained one after another in chunks of `advance(seconds)`, so a page can show progress, Stop and
    Continue: `steps` steps each. A subclass says how many models (`n_models`), builds the next one's Trainer
    (`_next_trainer`), may note each record (`_noted`), and makes a finished model's result (`_result`)."""

    steps: int

    def __init__(self) -> None:
        self.results: list = []
        self.stopped = False
        self._trainer: Trainer | None = None
        self._losses: list[float] = []

    @property
    def n_models(self) -> int:
        raise NotImplementedError

    @property
    def total_steps(self) -> int:
        return self.n_models * self.steps

    @property
    def done_steps(self) -> int:
        return len(self.results) * self.steps + len(self._losses)

    @property
    def done(self) -> bool:
        return len(self.results) == self.n_models

    @property
    def running(self) -> bool:
        return not self.done and not self.stopped

    def stop(self) -> None:
        """Stop after the current chunk; the finished models and the one in training are kept."""
        self.stopped = True

    def resume(self) -> None:
        self.stopped = False

    def advance(self, seconds: float) -> None:
        """Train for about `seconds` (at least one step), finishing models as their steps are done."""
        start = time.perf_counter()
        while self.running:
            if self._trainer is None:
                self._trainer = self._next_trainer()
            try:
                record = self._trainer.step()
            except TrainingDiverged:
                self._finish(diverged=True)
            else:
                self._losses.append(record.loss)
                self._noted(record)
                if len(self._losses) == self.steps:
                    self._finish(diverged=False)
            if time.perf_counter() - start > seconds:
                return

    def _next_trainer(self) -> Trainer:
        raise NotImplementedError

    def _noted(self, record) -> None:
        """Each step's record, as it comes (nothing by default)."""

    def _result(self, trainer: Trainer, diverged: bool):
        raise NotImplementedError

    def _tail_loss(self) -> float:
        """The mean loss over the last tenth of the model's steps."""
        return float(np.mean(self._losses[-max(1, self.steps // 10) :]))

    def _finish(self, diverged: bool) -> None:
        self.results.append(self._result(self._trainer, diverged))
        self._trainer, self._losses = None, []


class DimensionSweep(ChunkedTraining):
    """A sweep trained in chunks of `advance(seconds)`, so a page can show progress and stop; one model at a time."""

    def __init__(self, plan: SweepPlan):
        super().__init__()
        self.plan, self.steps = plan, plan.steps

    @property
    def n_models(self) -> int:
        return len(self.plan.dims)

    def stop(self) -> None:
        """Stop after the current chunk; the finished widths stay, the model in training is dropped."""
        self.stopped = True
        self._trainer, self._losses = None, []

    def _next_trainer(self) -> Trainer:
        dim = self.plan.dims[len(self.results)]
        return Trainer(self.plan.cfg.replace(dim=dim), history_bytes=1, snapshot_bytes=1)

    def _result(self, trainer: Trainer, diverged: bool) -> DimensionResult:
        return DimensionResult(
            dim=trainer.cfg.dim,
            final_loss=float("nan") if diverged else self._tail_loss(),
            purity=float("nan") if diverged else knn_category_purity(trainer.weight, trainer.categories),
            table_params=int(trainer.model.embedding.weight.numel()),
            diverged=diverged,
        )


def held_for(sweep: DimensionSweep | None, plan: SweepPlan) -> DimensionSweep | None:
    """The sweep a session holds, if it was planned for `plan` (None: there is none, or the settings changed)."""
    return sweep if sweep is not None and sweep.plan == plan else None


def start(plan: SweepPlan, admit: Callable[[int], None]) -> DimensionSweep:
    """A new sweep of `plan`, once `admit(bytes)` charged its widest model to the server (it raises to refuse)."""
    admit(plan.peak_bytes)
    return DimensionSweep(plan)


def dimension_sweep(cfg: TrainConfig, dims: list[int], steps: int) -> list[DimensionResult]:
    """Train the user's configuration at each width for `steps` steps, all at once (see DimensionSweep)."""
    sweep = DimensionSweep(plan_sweep(cfg, dims, steps))
    sweep.advance(float("inf"))
    return sweep.results
