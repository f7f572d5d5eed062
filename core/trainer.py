"""The instrumented trainer: one `step()` trains the model and records what happened to every row.

For each step it records which rows got a gradient, how far each row moved, and how far each row would have
moved had its gradient been zero (the optimizer's own momentum, moment estimates and weight decay). That
counterfactual is cheap because every optimizer in the registry is elementwise: a row with no gradient gets
the same update in the real step and in the zero-gradient one, so only the rows with a gradient need a second,
shadow step, on copies of their weights and optimizer state.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from core.config import TrainConfig
from core.corpus import Corpus, build_corpus
from core.errors import TrainingDiverged
from core.model import SkipGram, device, skipgram_loss
from core.optim import build_optimizers

HISTORY_BYTES = 64 * 1024**2  # per-row arrays of the kept StepRecords
SNAPSHOT_BYTES = 256 * 1024**2  # weight frames kept for the projections
MAX_FRAMES = 64


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

    @property
    def nbytes(self) -> int:
        arrays = [getattr(self, name) for name in _ARRAY_FIELDS]
        return sum(a.nbytes for a in arrays if a is not None)


_ARRAY_FIELDS = tuple(f.name for f in fields(StepRecord) if f.name not in ("step", "loss"))


class History(Sequence):
    """The most recent StepRecords whose arrays fit in a byte budget (oldest dropped first)."""

    def __init__(self, budget_bytes: int = HISTORY_BYTES):
        self.budget_bytes = budget_bytes
        self._records: deque[StepRecord] = deque()
        self._bytes = 0

    def append(self, record: StepRecord) -> None:
        self._records.append(record)
        self._bytes += record.nbytes
        while self._bytes > self.budget_bytes and len(self._records) > 1:
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

    def __init__(self, cfg: TrainConfig, history_bytes: int = HISTORY_BYTES, snapshot_bytes: int = SNAPSHOT_BYTES):
        self.cfg = cfg
        self.corpus: Corpus = build_corpus(cfg.vocab_size, cfg.seed, cfg.window, cfg.padding_idx, cfg.corpus_text)
        self.device = device()
        self.model = SkipGram(cfg).to(self.device)
        head = None if self.model.head is None else self.model.head.weight
        self.optimizers = build_optimizers(self.model.embedding.weight, head, cfg)
        self._before = torch.empty_like(self.model.embedding.weight.detach())  # (V, D), reused every step
        self._delta = torch.empty_like(self._before)
        self._no_renorm = torch.zeros(cfg.vocab_size)
        self._rng = np.random.default_rng([cfg.seed, 0xBA])  # batches; the corpus has its own stream
        self.step_count = 0
        self.history = History(history_bytes)
        self.snapshots = Snapshots(cfg.vocab_size * cfg.dim * 4, snapshot_bytes)
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
        loss_value = float(loss.item())
        if not math.isfinite(loss_value):
            self._diverged(rng_state, f"the loss became {loss_value}")
        loss.backward()

        grad_norm = self._row_norms_of_grad(weight.grad)  # (V,)
        head_grad_norm = None
        if self.model.head is not None:
            head_grad_norm = torch.linalg.vector_norm(self.model.head.weight.grad, dim=1)  # (V,)
        total = grad_norm.sum() if head_grad_norm is None else grad_norm.sum() + head_grad_norm.sum()
        if not math.isfinite(total.item()):  # one sum: any inf or NaN makes it non-finite
            self._diverged(rng_state, "the gradient became non-finite")
        grad_rows = torch.nonzero(grad_norm).squeeze(1)  # (n,)
        if cfg.max_norm is not None:
            looked_up = torch.unique(centres)  # (u,)
            mid_looked_up = weight.detach()[looked_up].clone()  # rescaled by max_norm, not yet stepped

        shadow = self._attach_zero_grad_shadow(grad_rows)
        shadow_start = shadow.detach().clone()  # (n, D)
        try:
            for optimizer in self.optimizers:
                optimizer.step()
        finally:
            self._detach_shadow(shadow)
        counterfactual = torch.linalg.vector_norm(shadow.detach() - shadow_start, dim=1)  # (n,)

        with torch.no_grad():
            delta = torch.sub(weight, before, out=self._delta)  # (V, D)
            update_norm = torch.linalg.vector_norm(delta, dim=1)  # (V,)
            if not math.isfinite(update_norm.sum().item()):
                self._diverged(rng_state, "the weights overflowed")
            state_update = update_norm.clone()  # rows with no gradient: the real update is state alone
            renorm = self._no_renorm
            if cfg.max_norm is not None:  # the forward pass's rescale is not the optimizer's doing
                state_update[looked_up] = torch.linalg.vector_norm(weight[looked_up] - mid_looked_up, dim=1)
                renorm = torch.zeros_like(update_norm)
                renorm[looked_up] = torch.linalg.vector_norm(mid_looked_up - before[looked_up], dim=1)
            state_update[grad_rows] = counterfactual

        self.step_count += 1
        update_np = update_norm.cpu().numpy()
        grad_np = grad_norm.cpu().numpy()
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
            state_update_norm=state_update.cpu().numpy(),
            renorm_norm=renorm.cpu().numpy(),
            head_grad_norm=None if head_grad_norm is None else head_grad_norm.cpu().numpy(),
            output_grad=hidden.grad.detach().cpu().numpy(),
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

    def _attach_zero_grad_shadow(self, rows: torch.Tensor) -> torch.Tensor:
        """Add to the embedding's optimizer a copy of `rows` with a zero gradient and a copy of their state.

        The real step then also computes, in the same call, how far those rows would have moved with a zero
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
            shadow.grad = torch.zeros_like(shadow)
        optimizer.param_groups[0]["params"].append(shadow)
        return shadow

    def _detach_shadow(self, shadow: torch.Tensor) -> None:
        """Take the shadow back out of the optimizer, leaving it exactly as it was."""
        optimizer = self.optimizers[0]
        params = optimizer.param_groups[0]["params"]
        del params[next(i for i, p in enumerate(params) if p is shadow)]  # list.remove would compare values
        optimizer.state.pop(shadow, None)

    def _diverged(self, rng_state: dict, what: str) -> None:
        """Put the table (and the batch stream) back as they were before this step, and say so."""
        with torch.no_grad():
            self.model.embedding.weight.copy_(self._before)
        self._rng.bit_generator.state = rng_state
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        step = self.step_count + 1
        raise TrainingDiverged(
            step,
            f"Training diverged at step {step}: {what}. The run is kept as it was after step {self.step_count}. "
            f"Reset with a smaller learning rate (now {self.cfg.lr:g}).",
        )


def _rows_of(value, rows: torch.Tensor, shape: torch.Size):
    """A copy of one optimizer-state entry restricted to `rows` (per-row tensors), or as it is (step counts)."""
    if not torch.is_tensor(value):
        return value
    if value.shape == shape:
        return value.to_dense()[rows] if value.is_sparse else value[rows]  # indexing by a tensor copies
    return value.clone()
