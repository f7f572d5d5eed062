"""Optimizers side by side: 2 to 4 Trainers that step in lockstep on one batch stream from one initial table.

The members share every setting that decides the table's start and the batches (vocabulary, dimension, seed,
batch size, window, init, padding row, corpus); each has its own optimizer, learning rate and options. One
corpus is built and shared, and every member's batch is checked against the others' at every step, so a
difference between members' records is the optimizer's doing, never the data's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.config import MEMORY_BUDGET_BYTES, TrainConfig
from core.errors import ConfigError, TrainingDiverged
from core.optim import OPTIMIZERS, optimizer_defaults
from core.trainer import StepRecord, Trainer

SHARED_FIELDS = ("vocab_size", "dim", "seed", "batch_size", "window", "init", "padding_idx", "corpus_text")
MIN_MEMBERS, MAX_MEMBERS = 2, 4


def member_config(base: TrainConfig, optimizer: str, **options) -> TrainConfig:
    """`base`'s table, corpus and batches with `optimizer` at its own defaults, overridden by `options`."""
    defaults = optimizer_defaults(optimizer)
    return base.replace(**{"optimizer": optimizer, "sparse": False, **defaults, **options})


def member_label(cfg: TrainConfig) -> str:
    """A short name for a member: the optimizer and the settings that set it apart."""
    parts = [f"{OPTIMIZERS[cfg.optimizer].label} lr {cfg.lr:g}"]
    if cfg.momentum:
        parts.append(f"momentum {cfg.momentum:g}")
    if OPTIMIZERS[cfg.optimizer].uses_betas and cfg.beta1 != optimizer_defaults(cfg.optimizer)["beta1"]:
        parts.append(f"beta1 {cfg.beta1:g}")
    if cfg.weight_decay:
        parts.append(f"wd {cfg.weight_decay:g}")
    if cfg.tie_weights:
        parts.append("tied")
    if cfg.max_norm is not None:
        parts.append(f"max_norm {cfg.max_norm:g}")
    return ", ".join(parts)


class Comparison:
    """Several Trainers on the same batches. `step()` steps every member once; records stay per member."""

    def __init__(self, configs: Sequence[TrainConfig]):
        configs = list(configs)
        if not MIN_MEMBERS <= len(configs) <= MAX_MEMBERS:
            raise ConfigError(
                "compare", f"Compare {MIN_MEMBERS} to {MAX_MEMBERS} optimizers; you chose {len(configs)}."
            )
        for name in SHARED_FIELDS:
            if len({repr(getattr(c, name)) for c in configs}) > 1:
                raise ConfigError(name, f"Every optimizer in a comparison must share {name}; they differ.")
        needed = sum(c.memory_bytes() for c in configs)
        if needed > MEMORY_BUDGET_BYTES:
            raise ConfigError(
                "vocab_size",
                f"{len(configs)} runs of a {configs[0].vocab_size:,} x {configs[0].dim:,} table need "
                f"{needed / 1024**3:.2f} GiB together; the budget is {MEMORY_BUDGET_BYTES / 1024**3:.0f} GiB. "
                "Compare fewer optimizers or choose a smaller table.",
            )
        self.configs = configs
        self.labels = _unique([member_label(c) for c in configs])
        self.members = [Trainer(c) for c in configs]
        for member in self.members[1:]:
            member.corpus = self.members[0].corpus  # one corpus: built from the same shared settings
        self.diverged: dict[int, str] = {}  # member index -> message; a diverged member stops, the others go on
        self.step_count = 0

    def step(self) -> list[StepRecord | None]:
        """One step of every member on the same batch (None for a member that has diverged)."""
        records: list[StepRecord | None] = []
        for i, member in enumerate(self.members):
            if i in self.diverged:
                records.append(None)
                continue
            try:
                records.append(member.step())
            except TrainingDiverged as error:
                self.diverged[i] = error.message
                records.append(None)
        live = [r for r in records if r is not None]
        if any(not np.array_equal(r.input_ids, live[0].input_ids) for r in live[1:]):
            raise RuntimeError("members of a comparison drew different batches")  # a bug, never the user's
        self.step_count += 1
        return records

    def run(self, n_steps: int) -> None:
        for _ in range(n_steps):
            self.step()

    def grad_masks_agree(self) -> tuple[int, int]:
        """(steps in which every member's gradient reached the same rows, steps kept by every member)."""
        histories = [m.history for m in self.members]
        common = set(histories[0].steps).intersection(*(h.steps for h in histories[1:]))
        agree = sum(
            all(np.array_equal(h.at(s).grad_mask, histories[0].at(s).grad_mask) for h in histories[1:]) for s in common
        )
        return agree, len(common)


def _unique(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


@dataclass(frozen=True)
class Series:
    """One member's kept history as per-step arrays, for the charts and their captions. (S,) each."""

    steps: np.ndarray
    loss: np.ndarray
    grad_rows: np.ndarray  # rows with a gradient
    moved_rows: np.ndarray  # rows that moved
    moved_without_grad: np.ndarray  # rows that moved with no gradient of their own


def series(records: Sequence[StepRecord]) -> Series:
    """Per-step counts of one member's records."""
    return Series(
        steps=np.array([r.step for r in records], dtype=np.int64),
        loss=np.array([r.loss for r in records], dtype=np.float64),
        grad_rows=np.array([int(r.grad_mask.sum()) for r in records], dtype=np.int64),
        moved_rows=np.array([int(r.updated_mask.sum()) for r in records], dtype=np.int64),
        moved_without_grad=np.array([int((r.updated_mask & ~r.grad_mask).sum()) for r in records], dtype=np.int64),
    )


def row_trajectory(records: Sequence[StepRecord], row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, update norm of `row` per step, whether it had a gradient that step) over the records."""
    steps = np.array([r.step for r in records], dtype=np.int64)
    norms = np.array([float(r.update_norm[row]) for r in records], dtype=np.float64)
    had_grad = np.array([bool(r.grad_mask[row]) for r in records], dtype=bool)
    return steps, norms, had_grad
