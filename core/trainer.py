"""The instrumented trainer: one `step()` trains the model and records what happened to every row.

For each step it records which rows got a gradient, how far each row moved, and the exact signed split of each
row's move d = W_after - W_before into four parts that add up to d: max_norm's rescale in the forward pass
(mid - before), what weight decay alone did (s0 - s00), what optimizer state alone did (s00 - mid) and what the
gradient added (after - s0). s0 is the optimizer's step from mid with a zero gradient; s00 the same with
weight decay off. Both are cheap because every optimizer in the registry is elementwise: a row with no gradient
gets the same update in the real step and in the zero-gradient one, so only the rows with a gradient (and rows
max_norm touched) need a shadow copy with a zero gradient, stepped in the same optimizer.step() call on copies
of their state; with weight decay a second shadow, the whole table in a param group with weight_decay 0, gives
s00. The record keeps each part's component along d, <part, d> / |d|: the four add up to |d| = update_norm.

A step that fails before the optimizer steps (a non-finite loss or gradient) changes nothing. One that fails
after it (non-finite or unmeasurably large weights, head or optimizer state) puts the table back and freezes the
run: `Trainer.diverged` is set and every later step raises it, since the head and state cannot be put back.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from core import budget
from core.budget import SPLIT_CHUNK
from core.config import TrainConfig
from core.corpus import Corpus, build_corpus
from core.errors import TrainingDiverged
from core.model import SkipGram, device, skipgram_loss
from core.optim import build_optimizers

HISTORY_BYTES = budget.HISTORY_MAX_BYTES  # the most a run's kept StepRecords take (budget.history_bytes)
SNAPSHOT_BYTES = budget.SNAPSHOT_MAX_BYTES  # weight frames kept for the projections (budget.snapshot_bytes)
MAX_FRAMES = budget.MAX_FRAMES


@dataclass(frozen=True, eq=False)
class StepRecord:
    """What one training step did to the embedding table. Arrays are (V,) unless noted."""

    step: int
    loss: float
    input_ids: np.ndarray  # (B,) centre tokens: the rows looked up
    target_ids: np.ndarray  # (B,) context tokens the head had to predict
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

    @property
    def nbytes(self) -> int:
        arrays = [getattr(self, name) for name in _ARRAY_FIELDS]
        return sum(a.nbytes for a in arrays if a is not None)


_ARRAY_FIELDS = tuple(f.name for f in fields(StepRecord) if f.name not in ("step", "loss"))


class History(Sequence):
    """The most recent StepRecords whose arrays fit in a byte budget (oldest dropped first)."""

    def __init__(self, budget_bytes: int = HISTORY_BYTES, overhead: int = budget.RECORD_OVERHEAD):
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

    def __init__(self, frame_bytes: int, budget_bytes: int = SNAPSHOT_BYTES, max_frames: int = MAX_FRAMES):
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


class Trainer:
    """Builds corpus, model and optimizer from a TrainConfig; `step()` trains one batch and records it."""

    def __init__(self, cfg: TrainConfig, history_bytes: int | None = None, snapshot_bytes: int | None = None):
        """`history_bytes` and `snapshot_bytes` default to the budgets core.budget charges the run for."""
        self.cfg = cfg
        self.corpus: Corpus = build_corpus(cfg.vocab_size, cfg.seed, cfg.window, cfg.padding_idx, cfg.corpus_text)
        self.device = device()
        self.model = SkipGram(cfg).to(self.device)
        head = None if self.model.head is None else self.model.head.weight
        self.optimizers = build_optimizers(self.model.embedding.weight, head, cfg)
        self._before = torch.empty_like(self.model.embedding.weight.detach())  # (V, D), reused every step
        self._delta = torch.empty_like(self._before)
        self._no_renorm = torch.zeros(cfg.vocab_size, device=self.device)
        self._rng = np.random.default_rng([cfg.seed, 0xBA])  # batches; the corpus has its own stream
        self.step_count = 0
        self.diverged: TrainingDiverged | None = None  # set when a failed step left the run unable to go on
        self._decays = bool(cfg.weight_decay)  # only then a second shadow splits decay from state
        # The optimizer's state can turn non-finite while the weights stay finite only through Adagrad's growing
        # sum of squares, or a weight-decayed gradient g + wd * w beyond float32's square root of its maximum:
        # with the gradient's lengths measured finite, every other state is a bounded average of finite values
        # (Adam's and RMSprop's moments, momentum buffers), and a non-finite one moves the weights to inf/NaN.
        self._watch_state = cfg.optimizer == "adagrad" or self._decays
        self._shadow: torch.Tensor | None = None
        self._no_decay_group: dict | None = None
        self.history = History(budget.history_bytes(cfg) if history_bytes is None else history_bytes)
        frame = budget.frame_bytes(cfg)
        self.snapshots = Snapshots(frame, budget.snapshot_bytes(cfg) if snapshot_bytes is None else snapshot_bytes)
        self.snapshots.add(0, self.weight)

    # ------------------------------------------------------------ what the pages read

    @property
    def weight(self) -> np.ndarray:
        """A copy of the embedding matrix, (V, D) float32."""
        return self.model.embedding.weight.detach().cpu().numpy().copy()

    def weight_rows(self, rows: np.ndarray) -> np.ndarray:
        """A copy of some rows of the embedding matrix, (len(rows), D), without copying the whole table."""
        index = torch.as_tensor(np.asarray(rows, dtype=np.int64), device=self.device)
        return self.model.embedding.weight.detach()[index].cpu().numpy()

    @property
    def head_weight(self) -> np.ndarray:
        """A copy of the output head, (V, D): the embedding matrix itself when tied."""
        return self.model.head_weight.detach().cpu().numpy().copy()

    @property
    def vocab(self) -> list[str]:
        return self.corpus.vocab

    @property
    def categories(self) -> np.ndarray:
        return self.corpus.categories

    @property
    def category_names(self) -> list[str]:
        return self.corpus.category_names

    def frames(self) -> list[tuple[int, np.ndarray]]:
        """(step, weight) for every kept snapshot, the current weight last."""
        kept = self.snapshots.items()
        return kept if kept[-1][0] == self.step_count else [*kept, (self.step_count, self.weight)]

    # ------------------------------------------------------------ training

    def run(self, n_steps: int) -> list[StepRecord]:
        """`n_steps` steps; a divergence raises after keeping the records of the steps before it."""
        return [self.step() for _ in range(n_steps)]

    def step(self) -> StepRecord:
        """Train on one batch and return what it did to every row."""
        if self.diverged is not None:
            raise self.diverged  # frozen: the head or the optimizer's state hold a failed step
        cfg, weight = self.cfg, self.model.embedding.weight
        rng_state = self._rng.bit_generator.state
        centres_np, targets_np = self.corpus.sample(self._rng, cfg.batch_size)
        centres = torch.from_numpy(centres_np).to(self.device)  # (B,)
        targets = torch.from_numpy(targets_np).to(self.device)  # (B,)
        before = self._before
        before.copy_(weight.detach())  # a kept buffer: a fresh (V, D) tensor each step costs page faults

        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        logits, hidden = self.model(centres)  # (B, V), (B, D); max_norm may have rescaled rows in place
        hidden.retain_grad()
        loss = skipgram_loss(logits, targets)
        del logits  # the loss keeps what its backward needs
        loss_value = float(loss.item())
        if not math.isfinite(loss_value):
            self._restore(rng_state, f"the loss became {loss_value}")
        loss.backward()
        del loss

        grad_norm = self._row_norms_of_grad(weight.grad)  # (V,)
        head_grad_norm = None
        if self.model.head is not None:
            head_grad_norm = torch.linalg.vector_norm(self.model.head.weight.grad, dim=1)  # (V,)
        total = grad_norm.sum() if head_grad_norm is None else grad_norm.sum() + head_grad_norm.sum()
        if not math.isfinite(total.item()):  # any inf or NaN, or a length beyond float32, makes the sum so
            self._restore(rng_state, self._describe_gradient())
        grad_rows = torch.nonzero(grad_norm).squeeze(1)  # (n,)
        rows = grad_rows  # the rows whose move is split with a zero-gradient shadow
        looked_up = mid_looked_up = None
        if cfg.max_norm is not None:
            looked_up = torch.unique(centres)  # (u,)
            mid_looked_up = weight.detach()[looked_up].clone()  # rescaled by max_norm, not yet stepped
            rows = torch.unique(torch.cat([grad_rows, looked_up]))

        shadow = self._attach_shadow(rows)  # (n, D) with the real weight decay
        every_row = len(rows) == cfg.vocab_size  # a tied head: rows is 0..V-1, so no copies are needed
        before_rows = before if every_row else before[rows]  # (n, D)
        mid_rows = before_rows if looked_up is None else shadow.detach().clone()  # as the optimizer found them
        no_decay = self._attach_no_decay_shadow() if self._decays else None  # (V, D) weight decay off
        try:
            for optimizer in self.optimizers:
                optimizer.step()
        finally:
            self._detach_shadows()

        with torch.no_grad():
            delta = torch.sub(weight, before, out=self._delta)  # (V, D)
            update_norm = torch.linalg.vector_norm(delta, dim=1)  # (V,)
            failure = self._check_after_step(update_norm)
            if failure is not None:
                self._freeze(rng_state, failure)
            renorm = self._no_renorm
            if looked_up is not None:  # the forward pass's rescale is not the optimizer's doing
                renorm = torch.zeros_like(update_norm)
                renorm[looked_up] = torch.linalg.vector_norm(mid_looked_up - before[looked_up], dim=1)
            s0_rows = shadow.detach()  # (n, D) the zero-gradient step of `rows`
            s00_rows = None if no_decay is None else no_decay[rows]  # a copy: indexing by a tensor copies
            bulk = [] if no_decay is None else self._decay_and_state(update_norm, no_decay)  # 2 x (V,)
            after_rows = weight.detach() if every_row else weight.detach()[rows]
            exact = _split_rows(before_rows, mid_rows, s0_rows, s00_rows, after_rows)  # (6, n)

        self.step_count += 1
        head_rows = self._no_renorm if head_grad_norm is None else head_grad_norm
        per_row = torch.stack([grad_norm, update_norm, update_norm, renorm, head_rows, *bulk]).cpu().numpy()
        grad_np, update_np = per_row[0], per_row[1]  # one array for all (V,) fields: a record's objects are few
        split = np.zeros((4, cfg.vocab_size), dtype=np.float32)  # renorm, decay, state, grad
        if bulk:  # outside `rows`: decay and state; without weight decay: state alone
            split[1:3] = per_row[5:7]
        else:
            split[2] = update_np
        rows_np = rows.cpu().numpy()
        split[:, rows_np] = exact[:4]
        update_np[rows_np] = exact[4]  # |d| from the exact float64 difference, what the four add up to
        per_row[2][rows_np] = exact[5]  # state_update_norm: |s0 - mid|; elsewhere the whole move is s0's
        record = StepRecord(
            step=self.step_count,
            loss=loss_value,
            input_ids=centres_np,
            target_ids=targets_np,
            token_counts=np.bincount(centres_np, minlength=cfg.vocab_size).astype(np.int32),
            grad_mask=grad_np > 0,
            grad_norm=grad_np,
            update_norm=update_np,
            updated_mask=update_np > 0,
            state_update_norm=per_row[2],
            renorm_norm=per_row[3],
            head_grad_norm=None if head_grad_norm is None else per_row[4],
            output_grad=hidden.grad.detach().cpu().numpy().copy(),  # (B, D) owned by numpy, not torch
            move_renorm=split[0],
            move_decay=split[1],
            move_state=split[2],
            move_grad=split[3],
        )
        self.history.append(record)
        if self.snapshots.wants(self.step_count):
            self.snapshots.add(self.step_count, self.weight)
        return record

    def _row_norms_of_grad(self, grad: torch.Tensor | None) -> torch.Tensor:
        """L2 norm of each row of the embedding's gradient, dense or sparse."""
        if grad is None:
            return torch.zeros(self.cfg.vocab_size, device=self.device)
        if not grad.is_sparse:
            return torch.linalg.vector_norm(grad, dim=1)
        grad = grad.coalesce()
        norms = torch.zeros(self.cfg.vocab_size, device=self.device)
        norms[grad.indices()[0]] = torch.linalg.vector_norm(grad.values(), dim=1)
        return norms

    # ------------------------------------------------------------ the split of each row's move

    def _decay_and_state(self, update_norm: torch.Tensor, no_decay: torch.Tensor) -> list[torch.Tensor]:
        """(V,) x 2: components <decay, d> / |d| and <state, d> / |d| for rows outside the shadow's `rows`.

        There no gradient reached the row and max_norm left it alone, so its whole move d is the zero-gradient
        step s0: the state part is s00 - before (s00 from the weight-decay-free shadow) and the decay part the
        rest of d. `no_decay` (V, D) is overwritten.
        """
        state = torch.sub(no_decay, self._before, out=no_decay)  # (V, D) s00 - before
        along = torch.einsum("vd,vd->v", state, self._delta)  # (V,) <state, d>
        state_part = torch.where(update_norm > 0, along / update_norm, 0.0)  # exactly 0 where state did nothing
        return [update_norm - state_part, state_part]  # d = decay + state: the decay part is the rest

    def _attach_shadow(self, rows: torch.Tensor) -> torch.Tensor:
        """Add to the embedding's optimizer a copy of `rows` with a zero gradient and a copy of their state.

        The real step then also computes, in the same call, where those rows would have gone with a zero
        gradient. The shadow has its own state entries, so the real state is never touched.
        """
        weight = self.model.embedding.weight
        optimizer = self.optimizers[0]  # the one that owns the embedding
        shadow = weight.detach()[rows].requires_grad_()  # (n, D) leaf, a copy: indexing by a tensor copies
        state = optimizer.state.get(weight)
        if state:
            optimizer.state[shadow] = {key: _rows_of(value, rows, weight.shape) for key, value in state.items()}
        if self.cfg.sparse_grad:  # a zero sparse gradient names no rows at all
            empty = torch.empty((1, 0), dtype=torch.long, device=self.device)
            shadow.grad = torch.sparse_coo_tensor(
                empty, torch.empty((0, self.cfg.dim), device=self.device), shadow.shape, check_invariants=True
            )
        else:
            shadow.grad = (  # a tied head's shadow is the whole table: its zeros are then one value, expanded
                torch.zeros_like(shadow)
                if len(rows) < self.cfg.vocab_size
                else torch.zeros((1, 1), device=self.device).expand_as(shadow)
            )
        optimizer.param_groups[0]["params"].append(shadow)
        self._shadow = shadow
        return shadow

    def _attach_no_decay_shadow(self) -> torch.Tensor:
        """A zero-gradient copy of the whole table in a param group of its own with weight_decay 0.

        Only runs with weight decay pay for it (sparse gradients never have weight decay here): its step is
        what optimizer state alone does, so the zero-gradient step splits into state and decay.
        """
        weight = self.model.embedding.weight
        optimizer = self.optimizers[0]
        shadow = weight.detach().clone().requires_grad_()  # (V, D)
        state = optimizer.state.get(weight)
        if state:
            optimizer.state[shadow] = {k: v.clone() if torch.is_tensor(v) else v for k, v in state.items()}
        shadow.grad = torch.zeros((1, 1), device=self.device).expand_as(shadow)  # (V, D) zeros in one value
        group = {key: value for key, value in optimizer.param_groups[0].items() if key != "params"}
        group.update(params=[shadow], weight_decay=0.0)
        optimizer.param_groups.append(group)
        self._no_decay_group = group
        return shadow.detach()

    def _detach_shadows(self) -> None:
        """Take the shadows back out of the optimizer, leaving it exactly as it was."""
        optimizer = self.optimizers[0]
        if self._shadow is not None:
            params = optimizer.param_groups[0]["params"]
            del params[next(i for i, p in enumerate(params) if p is self._shadow)]  # remove() compares values
            optimizer.state.pop(self._shadow, None)
            self._shadow = None
        if self._no_decay_group is not None:
            groups = optimizer.param_groups
            del groups[next(i for i, g in enumerate(groups) if g is self._no_decay_group)]
            optimizer.state.pop(self._no_decay_group["params"][0], None)
            self._no_decay_group = None

    # ------------------------------------------------------------ divergence

    def _describe_gradient(self) -> str:
        """What was wrong with a gradient whose norms are not finite: inf/NaN values, or only their size."""
        weight, head = self.model.embedding.weight, self.model.head
        grads = [("table" if head is not None else "table (and tied head)", weight.grad)]
        if head is not None:
            grads.append(("output head", head.weight.grad))
        largest = 0.0
        for name, grad in grads:
            if grad is None:
                continue
            values = grad.coalesce().values() if grad.is_sparse else grad
            if not bool(torch.isfinite(values).all()):
                return f"the gradient of the {name} became inf or NaN"
            largest = max(largest, float(values.abs().max())) if values.numel() else largest
        return (
            f"the gradient grew to {largest:.1e} in one entry, too large for float32 to measure its length "
            "(squares beyond 3.4e38)"
        )

    def _check_after_step(self, update_norm: torch.Tensor) -> str | None:
        """None when the table, the head and the optimizer's state are finite and measurable, else what is not."""
        total = update_norm.sum()
        head = self.model.head
        if head is not None:
            total = total + head.weight.detach().sum()
        states = [
            (key, value)
            for optimizer in (self.optimizers if self._watch_state else ())
            for param_state in optimizer.state.values()
            for key, value in param_state.items()
            if torch.is_tensor(value) and value.numel() > 1
        ]
        for _, value in states:
            total = total + value.sum()
        if math.isfinite(total.item()):  # one number: any inf or NaN makes it non-finite
            return None
        tables = [("the table's weights", self.model.embedding.weight.detach())]
        if head is not None:
            tables.append(("the output head's weights", head.weight.detach()))
        for name, tensor in tables:
            if not bool(torch.isfinite(tensor).all()):
                return f"{name} became inf or NaN"
        for key, value in states:
            if not bool(torch.isfinite(value).all()):
                return f"the optimizer's state ({key}) became inf or NaN"
        if bool(torch.isfinite(update_norm).all()):
            return None  # all finite and measurable: only the sum of the sums overflowed
        largest = max(float(tensor.abs().max()) for _, tensor in tables)
        return (
            f"the weights grew to {largest:.1e} in one entry, too large for float32 to measure the rows' lengths "
            "(beyond about 1e19 their squares overflow)"
        )

    def _restore(self, rng_state: dict, what: str) -> None:
        """A failure before the optimizer stepped: put the table (max_norm's rescale included) and the batch
        stream back; the head and the optimizer's state were not touched. The run can go on (or be reset)."""
        self._put_back(rng_state)
        step = self.step_count + 1
        raise TrainingDiverged(
            step,
            f"Training diverged at step {step}: {what}. Nothing was changed: the table, the head, the optimizer's "
            f"state and the next batch are exactly as after step {self.step_count}. Reset with a smaller "
            f"learning rate (now {self.cfg.lr:g}).",
        )

    def _freeze(self, rng_state: dict, what: str) -> None:
        """A failure after the optimizer stepped: the table goes back to its last finite state, but whatever
        else the step changed cannot, so the run is frozen (every later step raises this error again)."""
        self._put_back(rng_state)
        changed = []
        if self.model.head is not None:
            changed.append("the head")
        if any(optimizer.state for optimizer in self.optimizers):
            changed.append("the optimizer's state")
        if not changed:  # a tied head and a stateless optimizer: the table was everything, so this is exact
            self._restore(rng_state, what)
        step = self.step_count + 1
        these = " and ".join(changed) + (" were" if len(changed) > 1 else " was")
        self.diverged = TrainingDiverged(
            step,
            f"Training diverged at step {step}: {what}. The table shown is as after step {self.step_count}; "
            f"{these} changed by the failed step, so this run cannot continue: reset, with a smaller learning "
            f"rate (now {self.cfg.lr:g}).",
        )
        raise self.diverged

    def _put_back(self, rng_state: dict) -> None:
        with torch.no_grad():
            self.model.embedding.weight.copy_(self._before)
        self._rng.bit_generator.state = rng_state
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)


_PLUS = [1, 2, 3, 4, 4, 2]  # mid - before, s0 - s00, s00 - mid, after - s0, after - before, s0 - mid
_MINUS = [0, 3, 1, 2, 0, 1]


def _split_rows(
    before: torch.Tensor, mid: torch.Tensor, s0: torch.Tensor, s00: torch.Tensor | None, after: torch.Tensor
) -> np.ndarray:
    """(6, k): components along d = after - before of renorm (mid - before), decay (s0 - s00), state
    (s00 - mid) and grad (after - s0), then |d| and |s0 - mid|; each row's four components add up to |d|.
    Inputs (k, D); s00 None: = s0.

    float64 (numpy, in chunks of rows): the differences of float32 values are exact there, so the parts add up
    to d exactly.
    """
    k, dim = before.shape
    if mid is before and s00 is None:  # no max_norm, no weight decay: only state and gradient parts
        return _split_state_and_grad(before, s0, after)
    s00 = s0 if s00 is None else s00
    out = np.zeros((6, k), dtype=np.float64)
    chunk = max(1, SPLIT_CHUNK // max(dim, 1))
    for i in range(0, k, chunk):
        rows = [t[i : i + chunk] for t in (before, mid, s0, s00, after)]
        x = torch.stack(rows).cpu().numpy().astype(np.float64)  # (5, c, D): before, mid, s0, s00, after
        parts = x[_PLUS] - x[_MINUS]  # (6, c, D): the four parts, d, s0 - mid
        along = np.einsum("kcd,cd->kc", parts[:5], parts[4])  # (5, c): <part, d>, and |d|^2
        norm = np.sqrt(along[4])
        np.divide(along[:4], norm, out=out[:4, i : i + chunk], where=norm > 0)  # 0 where d = 0
        out[4, i : i + chunk] = norm
        out[5, i : i + chunk] = np.sqrt(np.einsum("cd,cd->c", parts[5], parts[5]))
    return out.astype(np.float32)


def _split_state_and_grad(before: torch.Tensor, s0: torch.Tensor, after: torch.Tensor) -> np.ndarray:
    """_split_rows when mid = before and s00 = s0: the state part s0 - before, the gradient part the rest."""
    k, dim = before.shape
    out = np.zeros((6, k), dtype=np.float64)
    chunk = max(1, SPLIT_CHUNK // max(dim, 1))
    for i in range(0, k, chunk):
        tensors = (before, s0, after) if k <= chunk else (t[i : i + chunk] for t in (before, s0, after))
        x = torch.stack(list(tensors)).cpu().numpy().astype(np.float64)  # (3, c, D)
        d, state = x[2] - x[0], x[1] - x[0]  # (c, D)
        norm = np.sqrt(np.einsum("cd,cd->c", d, d))
        part = slice(i, i + chunk)
        np.divide(np.einsum("cd,cd->c", state, d), norm, out=out[2, part], where=norm > 0)
        out[3, part] = norm - out[2, part]  # <d - state, d> / |d|
        out[4, part] = norm
        out[5, part] = np.sqrt(np.einsum("cd,cd->c", state, state))
    return out.astype(np.float32)


def _rows_of(value, rows: torch.Tensor, shape: torch.Size):
    """A copy of one optimizer-state entry restricted to `rows` (per-row tensors), or as it is (step counts)."""
    if not torch.is_tensor(value):
        return value
    if value.shape == shape:
        return value.to_dense()[rows] if value.is_sparse else value[rows]  # indexing by a tensor copies
    return value.clone()
