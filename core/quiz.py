"""Predict, then step: the next batch before it is trained on, and a prediction scored against the step's record.

The score and every reason come from the StepRecord: a row got a gradient because it was looked up or because
a tied head reached it; a looked-up row got none because it is the padding row; a row moved because of its
gradient, optimizer state, weight decay or max_norm's rescale (the record's signed split of each move).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from core.trainer import StepRecord, Trainer

PART_TOL = 1e-4  # a part of a move smaller than this share of the move is not named as a reason

LOOKED_UP, TIED_HEAD, PADDING = "looked up", "tied head", "padding row: looked up, no gradient"
GRADIENT, STATE, DECAY, RENORM = "its gradient", "optimizer state", "weight decay", "max_norm rescale"


def peek_batch(trainer: Trainer) -> tuple[np.ndarray, np.ndarray]:
    """The (centres, targets) the trainer's next step will train on, (B,) each, without drawing them."""
    rng = copy.deepcopy(trainer._rng)  # a copy of the batch stream: the trainer's own is not advanced
    return trainer.corpus.sample(rng, trainer.cfg.batch_size)


@dataclass(frozen=True)
class Explanation:
    """Why each row got a gradient and why it moved in one step. Boolean (V,) arrays."""

    looked_up: np.ndarray
    grad: np.ndarray
    moved: np.ndarray
    grad_from_head: np.ndarray  # a gradient without a lookup: only a tied head gives one
    blocked: np.ndarray  # looked up, yet no gradient: the padding row
    by_gradient: np.ndarray
    by_state: np.ndarray
    by_decay: np.ndarray
    by_renorm: np.ndarray

    def reasons(self, row: int) -> list[str]:
        """In words: why this row got a gradient (or did not), and what moved it."""
        out = [LOOKED_UP] if self.looked_up[row] and self.grad[row] else []
        out += [TIED_HEAD] if self.grad_from_head[row] else []
        out += [PADDING] if self.blocked[row] else []
        moves = (self.by_gradient, GRADIENT), (self.by_state, STATE), (self.by_decay, DECAY), (self.by_renorm, RENORM)
        return out + [f"moved by {name}" for mask, name in moves if mask[row]]

    def surprising_rows(self) -> np.ndarray:
        """Rows a 'only the looked-up rows' prediction gets wrong: moved or got a gradient unlike their lookup."""
        return np.flatnonzero((self.grad != self.looked_up) | (self.moved != self.looked_up))


def explain(record: StepRecord) -> Explanation:
    """Each row's reasons, from the record's masks, token counts and the signed split of its move."""
    moved = record.updated_mask
    tol = PART_TOL * record.update_norm

    def part(values: np.ndarray) -> np.ndarray:
        return moved & (np.abs(values) > tol)

    looked_up, grad = record.token_counts > 0, record.grad_mask
    return Explanation(
        looked_up=looked_up,
        grad=grad,
        moved=moved,
        grad_from_head=grad & ~looked_up,
        blocked=looked_up & ~grad,
        by_gradient=part(record.move_grad) & grad,
        by_state=part(record.move_state),
        by_decay=part(record.move_decay),
        by_renorm=part(record.move_renorm),
    )


@dataclass(frozen=True)
class Score:
    """A prediction of how many rows get a gradient and how many move, against the record."""

    predicted_grad: int
    actual_grad: int
    predicted_moved: int
    actual_moved: int

    @property
    def points(self) -> int:
        return int(self.predicted_grad == self.actual_grad) + int(self.predicted_moved == self.actual_moved)


def score(record: StepRecord, predicted_grad: int, predicted_moved: int) -> Score:
    return Score(int(predicted_grad), int(record.grad_mask.sum()), int(predicted_moved), int(record.updated_mask.sum()))


def breakdown(exp: Explanation) -> dict[str, int]:
    """The counts behind the answer: rows with a gradient by source, rows that moved by what moved them."""
    no_grad_moved = exp.moved & ~exp.grad
    return {
        "looked up": int(exp.looked_up.sum()),
        "gradient: looked up": int((exp.looked_up & exp.grad).sum()),
        "gradient: tied head only": int(exp.grad_from_head.sum()),
        "looked up, no gradient (padding)": int(exp.blocked.sum()),
        "moved with a gradient": int((exp.moved & exp.grad).sum()),
        "moved without a gradient": int(no_grad_moved.sum()),
        "of those, by optimizer state": int((no_grad_moved & exp.by_state).sum()),
        "of those, by weight decay": int((no_grad_moved & exp.by_decay).sum()),
        "of those, by max_norm": int((no_grad_moved & exp.by_renorm).sum()),
    }
