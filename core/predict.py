"""Predict, then step: a prediction scored against the step's record, the running tally, and the reasons, all
from the StepRecord (a gradient from a lookup or a tied head, none for the padding row; a move by gradient, state,
weight decay or max_norm). `next_batch` shows the next batch before it is trained on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.records import StepRecord
from core.rows import PART_TOLERANCE, batch_bar_rows

LOOKED_UP, TIED_HEAD, PADDING = "looked up", "tied head", "padding row: looked up, no gradient"
GRADIENT, STATE, DECAY, RENORM = "its gradient", "optimizer state", "weight decay", "max_norm rescale"


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
    tol = PART_TOLERANCE * record.update_norm  # a smaller part of a move is rounding, not a reason

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


@dataclass(frozen=True)
class Prediction:
    """What was predicted for one step of one run (`run_id` tells a reset run's step 3 from the old one's)."""

    run_id: int
    step: int
    grad: int
    moved: int
    picks: tuple[int, ...] = ()  # rows predicted to move


@dataclass(frozen=True)
class Tally:
    """The score so far: points won of points possible (two per scored step)."""

    points: int = 0
    possible: int = 0

    def add(self, result: Score) -> Tally:
        return Tally(self.points + result.points, self.possible + 2)


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


@dataclass(frozen=True)
class NextBatch:
    """The batch the run's next step will train on, before it does, as its bar chart shows it."""

    n_lookups: int
    counts: np.ndarray  # (V,) lookups of each row
    shown: np.ndarray  # rows of the bar chart: the most looked-up, most first
    head_rows: np.ndarray | None = None  # SGNS: the distinct head rows the step will score (contexts, negatives)
    n_scored: int = 0  # SGNS: the B true contexts and B x k draws those rows come from
    tied: bool = False  # the head is the table: its scored rows get a gradient in this table

    @property
    def n_distinct(self) -> int:
        return int((self.counts > 0).sum())


def next_batch(trainer) -> NextBatch:
    """The next batch (Trainer.peek_batch: the run's batch stream is not advanced)."""
    centres, targets = trainer.peek_batch()
    counts = np.bincount(centres, minlength=trainer.cfg.vocab_size)
    negatives = trainer.peek_negatives()  # SGNS's draws, from a copy of its generator
    if negatives is None:
        return NextBatch(len(centres), counts, batch_bar_rows(counts))
    scored = np.concatenate([targets, negatives.ravel()])
    return NextBatch(
        len(centres), counts, batch_bar_rows(counts), np.unique(scored), len(scored), trainer.cfg.tie_weights
    )


NOT_LOOKED_UP = "not looked up: no gradient, and no optimizer state, weight decay or rescale moved it"


@dataclass(frozen=True)
class Pick:
    """One row a student predicted would move, against the record: right when it moved, and why it did or not."""

    row: int
    moved: bool
    reasons: tuple[str, ...]

    @property
    def right(self) -> bool:
        return self.moved


def score_picks(record: StepRecord, rows) -> list[Pick]:
    """Each picked row (predicted to move) scored against the record, with the reasons it moved or stayed."""
    exp = explain(record)
    picks = []
    for row in (int(r) for r in rows):
        reasons = exp.reasons(row)
        if not exp.moved[row] and not reasons:
            reasons = [NOT_LOOKED_UP] if not exp.looked_up[row] else ["looked up, yet its update was zero"]
        picks.append(Pick(row, bool(exp.moved[row]), tuple(reasons)))
    return picks


def pick_options(batch: NextBatch, token_freq: np.ndarray, n_others: int = 20) -> list[int]:
    """Every row of the next batch (most looked-up first), then `n_others` frequent rows outside it (do they move?)."""
    in_batch = [int(r) for r in np.argsort(-batch.counts, kind="stable") if batch.counts[r] > 0]
    outside = [int(r) for r in np.argsort(-token_freq, kind="stable") if batch.counts[r] == 0]
    return in_batch + outside[:n_others]


def picks_table(picks: list[Pick], vocab) -> list[dict]:
    """The picks as table rows: row, token, whether it moved, why."""
    moved = {True: "yes ✓", False: "no ✗"}
    return [{"row": p.row, "token": vocab[p.row], "moved": moved[p.moved], "why": "; ".join(p.reasons)} for p in picks]
