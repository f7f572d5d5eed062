"""What a run keeps: one StepRecord per step, the recent ones in a bounded History, weight frames in Snapshots."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields

import numpy as np

from core.budget import RECORD_OVERHEAD
from core.limits import HISTORY_MAX_BYTES, MAX_FRAMES, SNAPSHOT_MAX_BYTES


@dataclass(frozen=True, eq=False)
class StepRecord:
    """What one training step did to the embedding table. Arrays are (V,) unless noted."""

    step: int
    loss: float
    input_ids: np.ndarray  # (B,) centre tokens: the rows looked up (a GPT: its B x T window positions, flattened)
    target_ids: np.ndarray  # (B,) context tokens the head had to predict (SGNS: the positives; a GPT: next tokens)
    token_counts: np.ndarray  # occurrences of each row's token in input_ids
    grad_mask: np.ndarray  # bool: the row's gradient is non-zero
    grad_norm: np.ndarray  # L2 norm of the row's gradient
    update_norm: np.ndarray  # L2 norm of W_after - W_before
    updated_mask: np.ndarray  # bool: update_norm > 0
    state_update_norm: np.ndarray  # the update had the row's gradient been zero (optimizer state alone)
    renorm_norm: np.ndarray  # the change max_norm made in the forward pass (no gradient involved)
    head_grad_norm: np.ndarray | None  # L2 norm of each row of an untied head's gradient
    output_grad: np.ndarray  # (B, D) dLoss/d(looked-up row) per batch position: the lookup's contributions
    # The signed split of each row's move d: components <part, d> / |d| that add up to update_norm.
    move_renorm: np.ndarray  # max_norm's rescale in the forward pass
    move_decay: np.ndarray  # what weight decay alone did
    move_state: np.ndarray  # what optimizer state alone did (a zero-gradient step with weight decay off)
    move_grad: np.ndarray  # what the gradient added: the rest
    # bool: the head row got a gradient through the head's path this step (the full softmax: every row it scored;
    # SGNS: the positives and the sampled negatives). Tied, these are rows of the table itself.
    head_grad_mask: np.ndarray | None = None
    negative_ids: np.ndarray | None = None  # (B, k) SGNS's sampled negatives per pair; None for the full softmax
    # A GPT's positional table, (T,) each: its rows' gradient norms and moves (None for a skip-gram). Every row
    # below T is looked up in every window, so every one gets a gradient every step.
    position_grad_norm: np.ndarray | None = None
    position_update_norm: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        arrays = [getattr(self, name) for name in _ARRAY_FIELDS]
        return sum(a.nbytes for a in arrays if a is not None)


_ARRAY_FIELDS = tuple(f.name for f in fields(StepRecord) if f.name not in ("step", "loss"))


class History(Sequence):
    """The most recent StepRecords whose arrays fit in a byte budget (oldest dropped first)."""

    def __init__(self, budget_bytes: int = HISTORY_MAX_BYTES, overhead: int = RECORD_OVERHEAD):
        self.budget_bytes = budget_bytes
        self.overhead = overhead  # a record's Python objects, counted against the budget with its arrays
        self._records: deque[StepRecord] = deque()
        self._bytes = 0

    def append(self, record: StepRecord) -> None:
        self._records.append(record)
        self._bytes += record.nbytes
        while self._bytes + self.overhead * len(self._records) > self.budget_bytes and len(self._records) > 1:
            self._bytes -= self._records.popleft().nbytes

    def __getitem__(self, index):
        return list(self._records)[index] if isinstance(index, slice) else self._records[index]

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[StepRecord]:
        return iter(self._records)

    @property
    def steps(self) -> list[int]:
        return [r.step for r in self._records]

    @property
    def nbytes(self) -> int:
        return self._bytes

    def at(self, step: int) -> StepRecord | None:
        """The record of a step, or None when it was never kept or has been dropped."""
        first = self._records[0].step if self._records else 0
        i = step - first  # records are consecutive steps
        return self._records[i] if 0 <= i < len(self._records) and self._records[i].step == step else None


class Snapshots:
    """Weight frames at a stride that doubles whenever the frames outgrow their budget (step 0 kept)."""

    def __init__(self, frame_bytes: int, budget_bytes: int = SNAPSHOT_MAX_BYTES, max_frames: int = MAX_FRAMES):
        self.capacity = max(2, min(max_frames, budget_bytes // max(frame_bytes, 1)))
        self.stride = 1
        self._frames: dict[int, np.ndarray] = {}

    def wants(self, step: int) -> bool:
        return step % self.stride == 0

    def add(self, step: int, weight: np.ndarray) -> None:
        self._frames[step] = weight
        while len(self._frames) > self.capacity:
            self.stride *= 2
            self._frames = {s: w for s, w in self._frames.items() if s % self.stride == 0}

    def items(self) -> list[tuple[int, np.ndarray]]:
        return sorted(self._frames.items())

    @property
    def nbytes(self) -> int:
        return sum(w.nbytes for w in self._frames.values())
