"""Pure numpy derivations the pages show: row gradients from per-position contributions, the groups of rows
by lookup and gradient, the signed split of each row's move, rasters over the kept history, row sampling for
big vocabularies, and every sentence a page prints about them. No Streamlit, no torch.

Every label here is computed from a run's StepRecords, never from what a configuration is supposed to do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_ROWS = 200  # rows a heatmap or bar chart sends to the browser; more are sampled (and the caption says so)
MAX_COLS = 300  # steps a raster shows; more are averaged in bins of consecutive steps
SPECIAL_TOKENS = ("<pad>", "<unk>")
PART_TOLERANCE = 1e-4  # a part of a row's move under this share of the move is float rounding, not a cause


def sample_rows(n_rows: int, max_rows: int = MAX_ROWS, keep: np.ndarray | None = None) -> np.ndarray:
    """Sorted int64 row indices: all rows when they fit, else the `keep` rows first plus evenly spaced others.

    Always int64, even for an empty or float `keep` (np.union1d of an int array and [] is float64, and a float
    index array fails on the page).
    """
    if n_rows <= max_rows:
        return np.arange(n_rows, dtype=np.int64)
    keep = np.unique(np.asarray([] if keep is None else keep).astype(np.int64, copy=False))[:max_rows]
    others = np.setdiff1d(np.linspace(0, n_rows - 1, max_rows).astype(np.int64), keep)
    spare = max_rows - len(keep)
    picked = others[np.linspace(0, len(others) - 1, spare).astype(np.int64)] if spare and len(others) else others[:0]
    return np.union1d(keep, picked).astype(np.int64, copy=False)


def sample_among(candidates: np.ndarray, max_rows: int = MAX_ROWS) -> np.ndarray:
    """At most `max_rows` of `candidates`, evenly spaced along their given order (order kept), int64."""
    candidates = np.asarray(candidates).astype(np.int64, copy=False)
    if len(candidates) <= max_rows:
        return candidates
    return candidates[np.unique(np.linspace(0, len(candidates) - 1, max_rows).astype(np.int64))]


def sample_note(rows: np.ndarray, n_rows: int, wanted: np.ndarray, what: str) -> str:
    """' Showing 200 of 10,001 rows: every looked-up row, plus a sample.' (empty when every row is shown), saying
    how many of the `wanted` (bool (V,)) rows made it in."""
    if len(rows) == n_rows:
        return ""
    n_wanted, n_in = int(wanted.sum()), int(wanted[rows].sum())
    if n_wanted == 0:
        return f" Showing {len(rows):,} of {n_rows:,} rows, evenly spaced."
    if n_in == n_wanted:
        kept = f"every {what} row" if n_wanted > 1 else f"the {what} row"
    else:
        kept = f"{n_in:,} of the {n_wanted:,} {what} rows"
    rest = ", plus a sample of the others" if n_in < len(rows) else ""
    return f" Showing {len(rows):,} of {n_rows:,} rows: {kept}{rest}."


# ---------------------------------------------------------------- gradients


def row_gradients(
    input_ids: np.ndarray, output_grad: np.ndarray, padding_idx: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, grads): each looked-up row's gradient from the lookup, the sum of its positions' contributions.
    (n,), (n, D). The padding row's is 0: nn.Embedding drops the lookup's gradient to it."""
    rows, where = np.unique(input_ids, return_inverse=True)
    grads = np.zeros((len(rows), output_grad.shape[1]), dtype=np.float64)
    np.add.at(grads, where, output_grad)  # a token used k times gets the sum of its k contributions
    if padding_idx is not None:
        grads[rows == padding_idx] = 0.0
    return rows, grads


def contributions(input_ids: np.ndarray, output_grad: np.ndarray, row: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, (k, D) contributions) of one row in one batch: the terms its gradient adds up."""
    positions = np.flatnonzero(input_ids == row)
    return positions, output_grad[positions]


def is_tied(rec) -> bool:
    """The record's run has a tied head: the table is its own output layer (no separate head gradient)."""
    return rec.head_grad_norm is None


@dataclass(frozen=True)
class GradientGroups:
    """The rows of one step in four disjoint groups, by lookup and by actual gradient. Each is bool (V,)."""

    looked_up_grad: np.ndarray
    looked_up_no_grad: np.ndarray
    grad_not_looked_up: np.ndarray
    neither: np.ndarray
    tied: bool
    padding_idx: int | None

    @classmethod
    def of(cls, rec, padding_idx: int | None) -> GradientGroups:
        looked_up, grad = rec.token_counts > 0, rec.grad_norm > 0
        return cls(
            looked_up & grad, looked_up & ~grad, grad & ~looked_up, ~looked_up & ~grad, is_tied(rec), padding_idx
        )

    def counts(self) -> tuple[int, int, int, int]:
        return tuple(int(m.sum()) for m in (self.looked_up_grad, self.looked_up_no_grad, self.grad_not_looked_up,
                                            self.neither))  # fmt: skip

    @property
    def n_rows(self) -> int:
        return len(self.neither)

    def _only_padding(self, mask: np.ndarray) -> bool:
        rows = np.flatnonzero(mask)
        return self.padding_idx is not None and rows.tolist() == [self.padding_idx]

    def named(self) -> list[tuple[str, str, np.ndarray]]:
        """(key, legend name, mask) of each group that has rows, in a fixed order."""
        lookup_no_grad = "looked up, gradient 0" + (
            " (padding_idx drops it)" if self._only_padding(self.looked_up_no_grad) else ""
        )
        via = " (through the tied head)" if self.tied else ""
        groups = [
            ("looked_up_grad", "looked up, got a gradient", self.looked_up_grad),
            ("looked_up_no_grad", lookup_no_grad, self.looked_up_no_grad),
            ("grad_not_looked_up", "not looked up, got a gradient" + via, self.grad_not_looked_up),
            ("neither", "not looked up, no gradient", self.neither),
        ]
        return [g for g in groups if g[2].any()]


def mask_title(step: int, groups: GradientGroups) -> str:
    """The Gradient masks chart's title: how many rows got a gradient, and which, as the mask shows."""
    a, b, c, _ = groups.counts()
    n_grad, n_rows = a + c, groups.n_rows
    head = f"Step {step}: all {n_rows:,} rows got a gradient" if n_grad == n_rows else (
        f"Step {step}: {n_grad:,} of {n_rows:,} rows got a gradient"
    )  # fmt: skip
    if c == 0:
        but = "" if b == 0 else f" ({b:,} looked-up row{'s' if b != 1 else ''} got none)"
        return f"{head}: the {a:,} looked up{but}" if a else head
    if groups.tied and n_grad == n_rows:
        return f"{head}: the tied head reaches every row"
    reach = "through the tied head" if groups.tied else "without a lookup"
    return f"{head}: {a:,} looked up, {c:,} more {reach}"


def were(n: int) -> str:
    return "was" if n == 1 else "were"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 row', '2 rows', '1,000 rows'."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def mask_caption(groups: GradientGroups, n_lookups: int) -> str:
    """Lookups, then the four groups' counts (they add up to V), then what padding_idx did this step."""
    a, b, c, d = groups.counts()
    n_used = a + b
    parts = []
    if a:
        parts.append(f"{a:,} {were(a)} looked up and got a gradient")
    if b:
        why = " (the padding row)" if groups._only_padding(
            groups.looked_up_no_grad) else ""  # fmt: skip
        parts.append(f"{b:,} {were(b)} looked up but got a gradient of 0{why}")
    if c:
        via = " through the tied head" if groups.tied else ""
        parts.append(f"{c:,} {were(c)} not looked up but got a gradient{via}")
    if d:
        parts.append(f"{d:,} {were(d)} neither: {'its' if d == 1 else 'their'} gradient is exactly zero")
    text = f"{count(n_lookups, 'lookup')} of {count(n_used, 'distinct token')}. Of the {groups.n_rows:,} rows, "
    text += "; ".join(parts)
    return text + "." + padding_note(groups)


def padding_note(groups: GradientGroups, rec=None) -> str:
    """What happened to the padding row this step (empty without padding_idx)."""
    p = groups.padding_idx
    if p is None:
        return ""
    looked_up = bool(groups.looked_up_grad[p] or groups.looked_up_no_grad[p])
    got = bool(groups.looked_up_grad[p] or groups.grad_not_looked_up[p])
    if looked_up and not got:
        if groups.tied:
            return (
                f" The padding row (row {p}) was looked up, but padding_idx drops the lookup's gradient to it, and the "
                "tied head gave it none this step."
            )
        return (
            f" The padding row (row {p}) was looked up, but padding_idx drops the lookup's gradient to it (only the "
            "lookup's: a tied head would still reach the row)."
        )
    if looked_up and got:
        return (
            f" The padding row (row {p}) was looked up; padding_idx dropped those lookups' gradient, yet the row got a "
            "gradient from the tied head: padding_idx blocks only the lookup's gradient."
        )
    if got:
        return (
            f" The padding row (row {p}) was not looked up and still got a gradient from the tied head: padding_idx "
            "blocks only the lookup's gradient."
        )
    return f" The padding row (row {p}) was not looked up this step."


def train_gradient_sentence(groups: GradientGroups) -> str:
    """The Train page's line on which rows got a gradient, from the mask."""
    a, b, c, d = groups.counts()
    n_rows, n_used = groups.n_rows, a + b
    text = f"{count(n_used, 'distinct token')} of {n_rows:,} {were(n_used)} looked up; "
    if c == 0 and b == 0 and d == 0:
        text += "every row was looked up, and every row got a gradient."
    elif c == 0 and b == 0:
        text += f"exactly their rows got a gradient (the other {count(d, 'row')}: exactly zero)."
    elif c == 0:
        text += f"{a:,} of their rows got a gradient"
        text += ": padding_idx drops the padding row's." if groups._only_padding(groups.looked_up_no_grad) else "."
    elif a + c == n_rows and groups.tied:
        text += (
            f"all {n_rows:,} rows got a gradient, because the tied head (the table is also the output layer) "
            "reaches every row."
        )
    else:
        via = " through the tied head" if groups.tied else ""
        text += f"{a + c:,} rows got a gradient: {c:,} of them{via} without being looked up."
    return text


def strip_caption(used: np.ndarray, padding_idx: int | None, step: int) -> str:
    """Under the Train page's table: how many rows the step looked up, by their colour in the strip (the padding
    row is orange whether looked up or not)."""
    n = int(used.sum())
    if step == 0:
        return "No step yet: no row has been looked up."
    text = f"{n:,} row{'s' if n != 1 else ''} {were(n)} looked up in step {step}"
    if padding_idx is not None and used[padding_idx]:
        return text + f": blue in the strip, and the padding row (row {padding_idx}), orange."
    return text + " (blue in the strip)."


def default_token(rows: np.ndarray, vocab: Sequence[str], padding_idx: int | None) -> int:
    """The first of `rows` (ordered most used first) that is a real token: not the padding row, not <pad>/<unk>."""
    for row in np.asarray(rows).tolist():
        if row != padding_idx and vocab[row] not in SPECIAL_TOKENS:
            return int(row)
    return int(rows[0])


@dataclass(frozen=True)
class ContributionStory:
    """What the contributions of one looked-up row add up to, told truthfully for this run."""

    sum_row: np.ndarray  # (D,) the last row the heatmap shows
    sum_label: str
    caption: str


def contribution_story(rec, row: int, contribs: np.ndarray, padding_idx: int | None) -> ContributionStory:
    """The sum row and caption under a token's contributions: plain sum = row gradient; the padding row's
    contributions dropped by padding_idx; with a tied head, the lookup's part plus the head's part."""
    k = len(contribs)
    lookup_sum = contribs.sum(axis=0)
    total = float(rec.grad_norm[row])
    if row == padding_idx:
        caption = (
            f"padding_idx drops these {k} contributions (their sum would have norm "
            f"{float(np.linalg.norm(lookup_sum)):.3g}): the lookup gives this row a gradient of 0. "
        )
        if is_tied(rec) and total > 0:
            caption += f"The trainer's gradient norm for this row is {total:.3g}, all of it from the tied head."
        elif is_tied(rec):
            caption += "The trainer's gradient norm for this row: 0 (the tied head gave it none this step)."
        else:
            caption += f"The trainer's gradient norm for this row: {total:.3g}."
        return ContributionStory(np.zeros_like(lookup_sum), "0: padding_idx drops them", caption)
    s = float(np.linalg.norm(lookup_sum))
    if is_tied(rec):
        caption = (
            f"The {k} contributions add up to the lookup's part of this row's gradient (norm {s:.3g}). The tied head "
            f"adds its own part through the output layer: the row's whole gradient has norm {total:.3g}."
        )
        return ContributionStory(lookup_sum, "sum = lookup's part", caption)
    caption = f"Norm of the sum: {s:.3g}; the trainer's gradient norm for this row: {total:.3g}."
    return ContributionStory(lookup_sum, "sum = row gradient", caption)


# ---------------------------------------------------------------- loss


def loss_warning(losses: Sequence[float], vocab_size: int, lr: float, init: str) -> str | None:
    """A warning when the loss is above the blind guess ln V and rising (3 steps or more), or has stayed above
    it for the last 10 of 20 steps or more; with a concrete hint. None when the records show neither.

    Rising: the steps are too large (a smaller lr; a large N(0, 1) table also starts with huge logits). Stuck
    above while falling: a large init is the usual cause (small_normal), else the learning rate.
    """
    losses = np.asarray(losses, dtype=float)
    blind = math.log(vocab_size)
    first, last = (float(losses[0]), float(losses[-1])) if len(losses) else (0.0, 0.0)
    big_init = init in ("normal", "uniform")
    smaller_lr = f"a smaller learning rate (now {lr:g}; e.g. {lr / 10:g})"
    small_init = "the small_normal init (N(0, 0.02), as GPT-2), which starts at the blind guess"
    if len(losses) >= 3 and np.all(losses[-3:] > blind) and last > first:
        what = (f"The loss rose from {first:.3g} to {last:.3g}, above the blind guess ln V = {blind:.2f}: "
                "this run is training backwards.")  # fmt: skip
        hint = f" Try {smaller_lr}" + (f" or {small_init}" if big_init else "")
    elif len(losses) >= 20 and np.all(losses[-10:] > blind):
        what = (f"The loss ({last:.3g}, from {first:.3g}) is still above the blind guess ln V = {blind:.2f} after "
                f"{len(losses)} steps: the model predicts worse than a uniform guess.")  # fmt: skip
        hint = f" Try {small_init}" if big_init else f" Try {smaller_lr}"
    else:
        return None
    return what + hint + "."


# ---------------------------------------------------------------- the split of a row's move

STATE_NAMES = {
    "sgd": "momentum",
    "rmsprop": "RMSprop's momentum and square average",
    "adam": "Adam's moment estimates",
    "adamw": "Adam's moment estimates",
    "sparse_adam": "Adam's moment estimates",
    "adagrad": "Adagrad's sum of squares",
}


def move_parts(rec, optimizer: str) -> list[tuple[str, str, np.ndarray]]:
    """(key, name, (V,) signed component along the move) of each part of the move that is non-zero this step.

    The parts are vectors that add up to the row's move d; each value is <part, d> / |d|, so a row's values add
    up to |d| exactly (a part that pulled against the move is negative).
    """
    tol = PART_TOLERANCE * float(rec.update_norm.max(initial=0.0))
    parts = [
        ("grad", "from its gradient", rec.move_grad),
        ("state", f"optimizer state ({STATE_NAMES.get(optimizer, 'its state')})", rec.move_state),
        ("decay", "weight decay", rec.move_decay),
        ("renorm", "max_norm rescale (forward pass)", rec.move_renorm),
    ]
    return [(key, name, values) for key, name, values in parts if np.any(np.abs(values) > tol)]


@dataclass(frozen=True)
class MoveCounts:
    """Counts for the Row updates caption, all from one record."""

    moved: int
    with_grad: int
    moved_no_grad: int
    no_grad_by: dict[str, int]  # part key -> rows moved without a gradient that this part moved


def move_counts(rec) -> MoveCounts:
    """How many rows moved, got a gradient, moved without one, and which parts moved those (a row can count in
    more than one: a part counts when its component is at least PART_TOLERANCE of the row's move)."""
    moved, grad = rec.update_norm > 0, rec.grad_norm > 0
    lonely = moved & ~grad
    floor = PART_TOLERANCE * rec.update_norm
    by = {}
    for key, values in (("state", rec.move_state), ("decay", rec.move_decay), ("renorm", rec.move_renorm)):
        n = int((lonely & (np.abs(values) > floor)).sum())
        if n:
            by[key] = n
    return MoveCounts(int(moved.sum()), int(grad.sum()), int(lonely.sum()), by)


def move_caption(rec, label: str, optimizer: str, n_rows: int) -> str:
    """The Row updates caption: rows moved, with a gradient, without one and why, from the record."""
    c = move_counts(rec)
    text = (
        f"{label} moved {c.moved:,} of {n_rows:,} rows in step {rec.step}; {count(c.with_grad, 'row')} got a gradient. "
    )
    if c.moved == 0:
        return text + "No row moved in this step."
    if c.moved_no_grad == 0:
        return text + "Every row that moved got a gradient of its own."
    why = {
        "state": f"optimizer state ({STATE_NAMES.get(optimizer, 'its state')})",
        "decay": "weight decay",
        "renorm": "max_norm's rescale in the forward pass",
    }
    reasons = [f"{n:,} by {why[key]}" for key, n in c.no_grad_by.items()]
    more = " (a row can count twice)" if sum(c.no_grad_by.values()) > c.moved_no_grad else ""
    listing = (": " + ", ".join(reasons) + more) if reasons else ""
    return text + f"{c.moved_no_grad:,} of them got no gradient this step and moved anyway{listing}."


SPLIT_EXPLAINED = (
    "How the split is computed: a row's move d = W_after − W_before is a sum of vectors: what max_norm's rescale "
    "did in the forward pass, what weight decay alone did, what the optimizer's state alone did (the same step with "
    "a zero gradient and no decay), and what the gradient added (the rest). Each bar is one part's signed component "
    "along the move, ⟨part, d⟩ / |d|: a row's bars add up to the length of its move exactly, and a part that "
    "pulled against the move goes below zero. Only parts that are non-zero in this step are shown."
)


def moved_without_gradient(records: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """(steps, counts): per kept step, how many rows moved although they got no gradient."""
    steps = np.array([r.step for r in records], dtype=np.int64)
    counts = np.array([int((r.updated_mask & ~r.grad_mask).sum()) for r in records], dtype=np.int64)
    return steps, counts


def total_movement(records: Sequence, n_rows: int) -> np.ndarray:
    """(V,) each row's summed update norm over the kept steps."""
    total = np.zeros(n_rows)
    for r in records:
        total += r.update_norm
    return total


def split_rows(rec, max_rows: int = MAX_ROWS) -> np.ndarray:
    """Rows for the split bars: all rows when they fit, else rows that moved this step, both kinds: with a
    gradient and (at least a third, when there are such rows) without one. Sorted int64."""
    moved, grad = rec.update_norm > 0, rec.grad_norm > 0
    if len(moved) <= max_rows:
        return np.arange(len(moved), dtype=np.int64)
    with_grad, without = np.flatnonzero(moved & grad), np.flatnonzero(moved & ~grad)
    n_without = min(len(without), max(max_rows - len(with_grad), max_rows // 3))
    picked = np.concatenate([sample_among(with_grad, max_rows - n_without), sample_among(without, n_without)])
    return np.sort(picked) if len(picked) else sample_rows(len(moved), max_rows)


def movement_caption(movement: np.ndarray, freq: np.ndarray, n_steps: int, n_shown: int) -> str:
    """Under the frequency-vs-movement chart: what it shows, and the rows a log axis cannot (never moved, or a
    token absent from the corpus), counted."""
    never = int((movement == 0).sum())
    absent = int(((movement > 0) & (freq == 0)).sum())
    left_out = [f"{n:,} {what if n == 1 else whats}" for n, what, whats in (
        (never, "row that never moved", "rows that never moved"),
        (absent, "moved row whose token is not in the corpus", "moved rows whose token is not in the corpus"),
    ) if n]  # fmt: skip
    plotted = int(((movement > 0) & (freq > 0)).sum())
    text = f"Total movement over the {n_steps} kept steps, per row."
    text += f" Not on the log axes: {' and '.join(left_out)}." if left_out else ""
    return text + ("" if n_shown == plotted else f" {n_shown:,} of {plotted:,} rows shown.")


def raster_rows(movement: np.ndarray, freq: np.ndarray, max_rows: int = MAX_ROWS) -> np.ndarray:
    """Rows for the rows x steps raster, most frequent token first: all rows when they fit, else a sample of
    the rows that moved in the kept steps (a sample of never-moved rows would be blank)."""
    by_freq = np.argsort(-np.asarray(freq), kind="stable").astype(np.int64)
    if len(by_freq) <= max_rows:
        return by_freq
    moved = by_freq[movement[by_freq] > 0]
    return sample_among(moved if len(moved) else by_freq, max_rows)


def update_raster(records: Sequence, rows: np.ndarray, max_cols: int = MAX_COLS) -> tuple[np.ndarray, np.ndarray]:
    """((len(rows), cols) update norms, (cols,) first step of each column); long histories averaged in bins."""
    if not records:
        return np.zeros((len(rows), 0)), np.zeros(0, dtype=np.int64)
    matrix = np.stack([r.update_norm[rows] for r in records], axis=1)  # (rows, steps)
    steps = np.array([r.step for r in records], dtype=np.int64)
    if matrix.shape[1] <= max_cols:
        return matrix, steps
    bins = np.array_split(np.arange(matrix.shape[1]), max_cols)
    return np.stack([matrix[:, b].mean(axis=1) for b in bins], axis=1), np.array([steps[b[0]] for b in bins])


def frame_before(frames: Sequence[tuple[int, np.ndarray]], step: int) -> tuple[int, np.ndarray]:
    """The kept (step, weight) frame at `step`, or the latest one before it."""
    best = frames[0]
    for frame in frames:
        if frame[0] <= step:
            best = frame
    return best


def same_spread(coords: np.ndarray) -> np.ndarray:
    """Each frame of (F, V, n) layouts centred and scaled to a root-mean-square radius of 1.

    Aligned layouts shrink as clusters tighten; on fixed animation axes the last frames would end up as a
    speck. Centring and scaling a frame changes no distance ratio in it, so its shape is kept. NaN rows (not
    laid out) stay NaN.
    """
    centred = coords - np.nanmean(coords, axis=1, keepdims=True)
    radius = np.sqrt(np.nanmean(np.sum(centred**2, axis=2), axis=1))  # (F,)
    return centred / np.where(radius > 0, radius, 1.0)[:, None, None]
