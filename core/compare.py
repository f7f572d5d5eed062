"""Optimizers side by side: 2 to 4 Trainers that step in lockstep on one batch stream from one initial table. The
members share SHARED_FIELDS and one corpus, and their batches are checked against each other at every step, so a
difference between their records is the optimizer's doing, never the data's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.config import TrainConfig
from core.errors import ConfigError, TrainingDiverged
from core.layouts import LayoutCache
from core.limits import MEMORY_BUDGET_BYTES
from core.optimizers import optimizer_defaults
from core.records import StepRecord
from core.rows import frame_before, sample_rows
from core.trainer import Trainer

SHARED_FIELDS = ("vocab_size", "dim", "seed", "batch_size", "window", "init", "padding_idx", "corpus_text")
MIN_MEMBERS, MAX_MEMBERS = 2, 4


def member_config(base: TrainConfig, optimizer: str, **options) -> TrainConfig:
    """`base`'s table, corpus and batches with `optimizer` at its defaults for the dimension, then `options`."""
    defaults = optimizer_defaults(optimizer, base.dim)
    return base.replace(**{"optimizer": optimizer, "sparse": False, **defaults, **options})


def batch_kind(cfg: TrainConfig) -> tuple:
    """What a member's batches are: skip-gram's (centre, context) pairs (with or without negative sampling: its
    negatives have a stream of their own), or a GPT's windows of T tokens. Members of one kind see the same batch."""
    return ("windows", cfg.context) if cfg.model == "gpt" else ("pairs",)


class Comparison:
    """Several Trainers on the same batches: `step()` steps every member once; records stay per member."""

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
        self.members = [Trainer(c) for c in configs]
        for member in self.members[1:]:
            member.corpus = self.members[0].corpus  # one corpus: built from the same shared settings
        self.layouts = LayoutCache("pca", 2, configs[0].seed)  # each member's PCA at a step, cached by content
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
        kinds = [batch_kind(c) for c in self.configs]
        for kind in set(kinds):  # skip-gram's pairs (both models), or a GPT's windows of one length: the same batch
            live = [r for r, k in zip(records, kinds, strict=True) if r is not None and k == kind]
            if any(not np.array_equal(r.input_ids, live[0].input_ids) for r in live[1:]):
                raise RuntimeError("members of a comparison drew different batches")  # a bug, never the user's
        self.step_count += 1
        return records

    def run(self, n_steps: int) -> None:
        for _ in range(n_steps):
            self.step()

    @property
    def same_batches(self) -> bool:
        """Every member trains on the same batches (else some are a GPT's windows, others skip-gram's pairs)."""
        return len({batch_kind(c) for c in self.configs}) == 1

    def blind_guesses(self) -> list[tuple[float, str]]:
        """Each distinct blind guess among the members, (loss, its name): ln V, negative sampling's (k+1) ln 2."""
        return list(dict.fromkeys((c.blind_loss, c.blind_name) for c in self.configs))

    def series(self) -> list[Series]:
        return [series(list(m.history)) for m in self.members]

    def frequent_rows(self, n: int = 200) -> list[int]:
        """The `n` rows of the most frequent tokens in the shared corpus, most frequent first."""
        return [int(r) for r in np.argsort(-self.members[0].corpus.token_freq, kind="stable")[:n]]

    def trajectories(self, row: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        return [row_trajectory(list(m.history), row) for m in self.members]

    def frame_steps(self) -> list[int]:
        """The steps every member kept a frame of."""
        return sorted(set.intersection(*(set(s for s, _ in m.frames()) for m in self.members)))

    def pca(self, step: int, max_points: int) -> PCAPanels:
        """Each member's table at `step` (the kept frame at or before it) laid out by PCA on the same rows."""
        frames = [frame_before(m.frames(), step)[1] for m in self.members]
        rows = sample_rows(frames[0].shape[0], max_points)
        coords = [self.layouts.layouts([w[rows]])[0] for w in frames]  # one layout each: no alignment across
        lengths = [float(np.linalg.norm(w, axis=1).mean()) for w in frames]
        return PCAPanels(step, rows, coords, lengths)

    def grad_masks_agree(self) -> tuple[int, int]:
        """(steps in which every member's gradient reached the same rows, steps kept by every member)."""
        histories = [m.history for m in self.members]
        common = set(histories[0].steps).intersection(*(h.steps for h in histories[1:]))
        agree = sum(
            all(np.array_equal(h.at(s).grad_mask, histories[0].at(s).grad_mask) for h in histories[1:]) for s in common
        )
        return agree, len(common)


@dataclass(frozen=True)
class Series:
    """One member's kept history as per-step arrays, for the charts and their captions. (S,) each."""

    steps: np.ndarray
    loss: np.ndarray
    grad_rows: np.ndarray  # rows with a gradient
    moved_rows: np.ndarray  # rows that moved
    moved_without_grad: np.ndarray  # rows that moved with no gradient of their own


def series(records: Sequence[StepRecord]) -> Series:
    return Series(
        steps=np.array([r.step for r in records], dtype=np.int64),
        loss=np.array([r.loss for r in records], dtype=np.float64),
        grad_rows=np.array([int(r.grad_mask.sum()) for r in records], dtype=np.int64),
        moved_rows=np.array([int(r.updated_mask.sum()) for r in records], dtype=np.int64),
        moved_without_grad=np.array([int((r.updated_mask & ~r.grad_mask).sum()) for r in records], dtype=np.int64),
    )


@dataclass(frozen=True)
class PCAPanels:
    """Each member's PCA layout of the same rows at one step, and each table's mean row length."""

    step: int
    rows: np.ndarray  # (n,) the rows laid out
    coords: list[np.ndarray]  # per member, (n, 2)
    lengths: list[float]  # per member: the mean row length of the whole table


def row_trajectory(records: Sequence[StepRecord], row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, update norm of `row` per step, whether it had a gradient that step) over the records."""
    steps = np.array([r.step for r in records], dtype=np.int64)
    norms = np.array([float(r.update_norm[row]) for r in records], dtype=np.float64)
    had_grad = np.array([bool(r.grad_mask[row]) for r in records], dtype=bool)
    return steps, norms, had_grad
