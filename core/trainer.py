"""The instrumented trainer: one `step()` trains the model (core.model: any of config.MODELS around the same
nn.Embedding token table) and records what happened to every row.

For each step it records which rows got a gradient, how far each row moved, and the exact signed split of each
row's move into max_norm's rescale, weight decay, optimizer state and the gradient (core.move_split).

A step that fails before the optimizer steps (a non-finite loss or gradient) changes nothing. One that fails
after it (non-finite or unmeasurably large weights, head or optimizer state) puts the table back and freezes the
run: `Trainer.diverged` is set and every later step raises it, since the head and state cannot be put back.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import Tensor
from torch.linalg import vector_norm

from core import budget
from core.config import TrainConfig
from core.corpus import Corpus, build_corpus
from core.errors import TrainingDiverged
from core.model import build_model, build_optimizers, device, draw_negatives, noise_cdf
from core.move_split import MoveSplit, Shadows
from core.records import History, Snapshots, StepRecord

ROWS_NORM_MIN = 2**20  # an untied table (or SGNS's head) this large: the norms of the rows its backward wrote only


class Trainer:
    """Builds corpus, model and optimizer from a TrainConfig; `step()` trains one batch and records it."""

    def __init__(self, cfg: TrainConfig, history_bytes: int | None = None, snapshot_bytes: int | None = None):
        """`history_bytes` and `snapshot_bytes` default to the budgets core.budget charges the run for."""
        self.cfg = cfg
        self.corpus: Corpus = build_corpus(cfg.vocab_size, cfg.seed, cfg.window, cfg.padding_idx, cfg.corpus_text)
        self.device = device()
        self.model = build_model(cfg).to(self.device)
        self._noise_cdf = noise_cdf(self.corpus.token_freq) if cfg.model == "sgns" else None  # (V,) float64
        table = self.model.embedding.weight
        self._others = self._named_others()  # (what a sentence calls it, parameter): an untied head, a GPT's layers
        self.optimizers = build_optimizers(table, [param for _, param in self._others], cfg)
        self._layers = [(name, param) for name, param in self._others if name != "the head"]  # a GPT's
        positions = self.model.positions
        self._positions_before = None if positions is None else torch.empty_like(positions.weight.detach())  # (T, D)
        self._before = torch.empty_like(self.model.embedding.weight.detach())  # (V, D), reused every step
        # Only rows with a gradient move (SGD without momentum or decay, Adagrad without decay, sparse gradients):
        # then a step copies, differences and checks those rows, not the table (whose other rows are bit-unchanged)
        self._table_still, self._head_still = _unmoved_without_gradient(cfg)
        self._moving: Tensor | None = None  # this step's rows that can move, when only they are copied
        self._delta = torch.empty_like(self._before)
        self._zeros = torch.zeros(cfg.vocab_size, device=self.device)  # (V,)
        self._rng = np.random.default_rng([cfg.seed, 0xBA])  # batches; the corpus has its own stream
        # SGNS's negatives: a stream of their own, so a run's batches are the same whatever its model (Compare)
        self._noise_rng = np.random.default_rng([cfg.seed, 0x5E])
        self.step_count = 0
        self.diverged: TrainingDiverged | None = None  # set when a failed step left the run unable to go on
        # The optimizer's state can turn non-finite while the weights stay finite only through Adagrad's growing
        # sum of squares, or a weight-decayed gradient g + wd * w beyond float32's square root of its maximum:
        # with the gradient's lengths measured finite, every other state is a bounded average of finite values
        # (Adam's and RMSprop's moments, momentum buffers), and a non-finite one moves the weights to inf/NaN.
        self._watch_state = cfg.optimizer == "adagrad" or bool(cfg.weight_decay)
        self.history = History(budget.history_bytes(cfg) if history_bytes is None else history_bytes)
        frame = budget.frame_bytes(cfg)
        self.snapshots = Snapshots(frame, budget.snapshot_bytes(cfg) if snapshot_bytes is None else snapshot_bytes)
        self.snapshots.add(0, self.weight)

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
    def position_weight(self) -> np.ndarray | None:
        """A copy of a GPT's positional table, (T, D) float32; None for the skip-gram models."""
        positions = self.model.positions
        return None if positions is None else positions.weight.detach().cpu().numpy().copy()

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

    def clone(self) -> Trainer:
        """An independent copy of this run at its step: model, optimizer state, history, snapshots, the batch
        stream and the divergence, each its own, so stepping one never changes the other and the copy steps on
        exactly as this run would. Shared, as no step changes them: the frozen config and the corpus (its arrays
        are read-only). Weight gradients are not copied: every step sets them anew."""
        memo = {id(self.cfg): self.cfg, id(self.corpus): self.corpus}
        tensors = [*self.model.parameters(), *self.model.buffers(), *vars(self).values()]
        tensors += [v for opt in self.optimizers for state in opt.state.values() for v in state.values()]
        for tensor in tensors:
            if torch.is_tensor(tensor) and id(tensor) not in memo and (twin := _copied(tensor)) is not None:
                memo[id(tensor)] = twin
        return copy.deepcopy(self, memo)  # the rest, with those tensors (and their sharing) as copied above

    def run(self, n_steps: int) -> list[StepRecord]:
        """`n_steps` steps; a divergence raises after keeping the records of the steps before it."""
        return [self.step() for _ in range(n_steps)]

    def peek_batch(self) -> tuple[np.ndarray, np.ndarray]:
        """The (looked-up ids, targets) the next step will train on, without drawing them: (B,) each, or a GPT's
        B x T positions flattened window by window."""
        centres, targets = self._batch(copy.deepcopy(self._rng))  # a copy: ours is not advanced
        return centres.reshape(-1), targets.reshape(-1)

    def peek_negatives(self) -> np.ndarray | None:
        """SGNS's (B, k) negatives for the next step, without drawing them; None for the other models."""
        return self._negatives(copy.deepcopy(self._noise_rng))  # a copy: ours is not advanced

    def _batch(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Skip-gram's (centre, context) pairs (B,) each, or a GPT's (B, T) windows and their next tokens."""
        if self.cfg.model == "gpt":
            return self.corpus.windows(rng, self.cfg.batch_size, self.cfg.context)
        return self.corpus.sample(rng, self.cfg.batch_size)

    def _draw(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The next batch from the run's seeded generators: centres, targets (B,) (a GPT's (B, T) windows) and
        SGNS's negatives (B, k), so a seed (and a link's replay) gives the same negatives too."""
        centres, targets = self._batch(self._rng)
        return centres, targets, self._negatives(self._noise_rng)

    def _negatives(self, rng: np.random.Generator) -> np.ndarray | None:
        """SGNS's (B, k) negatives drawn from `rng`; None for the other models."""
        if self._noise_cdf is None:
            return None
        return draw_negatives(self._noise_cdf, rng, self.cfg.batch_size, self.cfg.negatives)

    def step(self) -> StepRecord:
        """Train on one batch and return what it did to every row."""
        if self.diverged is not None:
            raise self.diverged  # frozen: the head or the optimizer's state hold a failed step
        weight, before = self.model.embedding.weight, self._before
        rng_state = self._rng.bit_generator.state, self._noise_rng.bit_generator.state
        batch = self._draw()  # numpy: centres (B,), targets (B,), negatives (B, k) or None
        centres, targets, negatives = (None if a is None else torch.from_numpy(a).to(self.device) for a in batch)
        scored = None if negatives is None else torch.cat([targets[:, None], negatives], dim=1)  # SGNS's (B, k+1)
        self._moving = moving = self._rows_that_can_move(centres, scored)  # (n,) or None: every row
        if moving is None:
            before.copy_(weight.detach())  # a kept buffer: a fresh (V, D) tensor each step costs page faults
        else:  # only these rows are valid in `before` this step: the rest cannot move, so nothing reads them
            before.index_copy_(0, moving, weight.detach()[moving])
        if self._positions_before is not None:
            self._positions_before.copy_(self.model.positions.weight.detach())

        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        loss, hidden, context = self.model.loss(centres, targets, negatives)  # max_norm may rescale rows in place
        for kept in (hidden, context):  # (B, D) and SGNS's gathered (B, k+1, D): their gradients are recorded
            if kept is not None:
                kept.retain_grad()
        loss_value = float(loss.item())
        if not math.isfinite(loss_value):
            self._restore(rng_state, f"the loss became {loss_value}")
        loss.backward()
        del loss
        centres = centres.reshape(-1)  # a GPT's (B, T) windows: each position is one lookup, window by window
        hidden_grad = hidden.grad.reshape(-1, self.cfg.dim)  # (B, D), or (B T, D): each lookup's gradient

        grad_norm, head_grad_norm = self._grad_norms(centres, scored)  # (V,), (V,) for an untied head
        total = grad_norm.sum() if head_grad_norm is None else grad_norm.sum() + head_grad_norm.sum()
        for _, param in self._layers:  # a GPT's positional table and blocks: small, summed whole
            total = total + param.grad.sum() if param.grad is not None else total
        if not math.isfinite(total.item()):  # any inf or NaN, or a length beyond float32, makes the sum so
            self._restore(rng_state, self._describe_gradient())
        head_mask = self._head_mask(centres, scored, hidden_grad, context, grad_norm, head_grad_norm)
        shadows = Shadows(self.optimizers[0], weight, before, grad_norm, centres, self.cfg)  # zero-gradient rows
        try:
            for optimizer in self.optimizers:
                optimizer.step()
        finally:
            shadows.detach()

        with torch.no_grad():
            if moving is None:
                delta = torch.sub(weight, before, out=self._delta)  # (V, D)
                update_norm = torch.linalg.vector_norm(delta, dim=1)  # (V,)
            else:  # every other row is bit-unchanged: its move is 0 (split: no weight decay, so no delta is read)
                delta, update_norm = None, torch.zeros(self.cfg.vocab_size, device=self.device)
                update_norm[moving] = torch.linalg.vector_norm(weight.detach()[moving] - before[moving], dim=1)
            failure = self._check_after_step(update_norm, scored)
            if failure is not None:
                self._freeze(rng_state, failure)
            split = shadows.split(update_norm, delta, self._zeros)
            positions = self._position_norms()
        self.step_count += 1
        record = self._record(loss_value, batch, grad_norm, head_grad_norm, head_mask, hidden_grad, split, positions)
        self.history.append(record)
        if self.snapshots.wants(self.step_count):
            self.snapshots.add(self.step_count, self.weight)
        return record

    def _head_mask(
        self, centres: Tensor, scored: Tensor | None, hidden_grad: Tensor, context: Tensor | None,
        grad_norm: Tensor, head_grad_norm: Tensor | None,
    ) -> np.ndarray:  # fmt: skip
        """bool (V,): the head rows whose gradient through the head's path is non-zero, measured. An untied head:
        its own gradient. A tied SGNS head: the gathered rows' gradients summed per row (a row sampled twice gets
        both). A tied full softmax: the table's gradient less the lookup's part (the looked-up positions'
        contributions, padding_idx's dropped); a row not looked up has only the head's."""
        if head_grad_norm is not None:
            return (head_grad_norm > 0).cpu().numpy()
        v, d = self.cfg.vocab_size, self.cfg.dim
        with torch.no_grad():
            if context is not None:
                rows, where = torch.unique(scored, return_inverse=True)
                summed = torch.zeros(len(rows), d, device=self.device).index_add_(
                    0, where.reshape(-1), context.grad.reshape(-1, d)
                )
                mask = torch.zeros(v, dtype=torch.bool, device=self.device)
                mask[rows] = torch.linalg.vector_norm(summed, dim=1) > 0
                return mask.cpu().numpy()
            mask = grad_norm > 0  # (V,) rows not looked up: all of their gradient is the head's
            rows, where = torch.unique(centres, return_inverse=True)
            lookup = torch.zeros(len(rows), d, device=self.device).index_add_(0, where, hidden_grad)
            if self.cfg.padding_idx is not None:
                lookup[rows == self.cfg.padding_idx] = 0.0  # nn.Embedding drops the lookup's part to this row
            grad = self.model.embedding.weight.grad
            mask[rows] = torch.linalg.vector_norm(grad[rows] - lookup, dim=1) > 0
            return mask.cpu().numpy()

    def _grad_norms(self, centres: Tensor, scored: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """L2 norm of each row of the embedding's gradient (dense or sparse), and of an untied head's. (V,) each.
        `scored`: SGNS's (B, k+1) head rows (its only gradient rows), None for the other models."""
        grad, head = self.model.embedding.weight.grad, self.model.head
        head_norm = None if head is None else self._row_norms(head.weight.grad, scored)
        if grad is None:
            return torch.zeros(self.cfg.vocab_size, device=self.device), head_norm
        if not grad.is_sparse:
            # Untied, only the rows looked up have a gradient (the lookup's backward writes zeros elsewhere)
            return self._row_norms(grad, centres if head is not None else None), head_norm
        grad = grad.coalesce()
        norms = torch.zeros(self.cfg.vocab_size, device=self.device)
        norms[grad.indices()[0]] = torch.linalg.vector_norm(grad.values(), dim=1)
        return norms, head_norm

    def _row_norms(self, grad: Tensor, rows: Tensor | None) -> Tensor:
        """(V,) norms of a dense gradient's rows. Given the only `rows` its backward wrote (a lookup's, or SGNS's
        gather into the head: zeros elsewhere) and a large table, only theirs are computed."""
        if rows is None or grad.numel() < ROWS_NORM_MIN:
            return torch.linalg.vector_norm(grad, dim=1)
        norms = torch.zeros(self.cfg.vocab_size, device=self.device)
        rows = torch.unique(rows)
        norms[rows] = torch.linalg.vector_norm(grad[rows], dim=1)
        return norms

    def _record(
        self,
        loss: float,
        batch: tuple[np.ndarray, np.ndarray, np.ndarray | None],
        grad_norm: Tensor,
        head_grad_norm: Tensor | None,
        head_mask: np.ndarray,
        output_grad: Tensor,
        split: MoveSplit,
        positions: tuple[np.ndarray, np.ndarray] | None,
    ) -> StepRecord:
        centres, targets, negatives = batch
        centres, targets = centres.reshape(-1), targets.reshape(-1)  # a GPT's windows, one after another
        grad_np = grad_norm.cpu().numpy()  # on the CPU, no copy
        return StepRecord(
            step=self.step_count,
            loss=loss,
            input_ids=centres,
            target_ids=targets,
            token_counts=np.bincount(centres, minlength=self.cfg.vocab_size).astype(np.int32),
            grad_mask=grad_np > 0,
            grad_norm=grad_np,
            update_norm=split.update_norm,
            updated_mask=split.update_norm > 0,
            state_update_norm=split.state_update_norm,
            renorm_norm=split.renorm_norm,
            head_grad_norm=None if head_grad_norm is None else head_grad_norm.cpu().numpy(),
            output_grad=output_grad.detach().cpu().numpy().copy(),  # (B, D) owned by numpy, not torch
            move_renorm=split.renorm,
            move_decay=split.decay,
            move_state=split.state,
            move_grad=split.grad,
            head_grad_mask=head_mask,
            negative_ids=negatives,
            position_grad_norm=None if positions is None else positions[0],
            position_update_norm=None if positions is None else positions[1],
        )

    def _position_norms(self) -> tuple[np.ndarray, np.ndarray] | None:
        """A GPT's positional table: each row's gradient norm and how far the step moved it, (T,) each."""
        if self._positions_before is None:
            return None
        table = self.model.positions.weight
        grad = torch.zeros(len(table), device=self.device) if table.grad is None else vector_norm(table.grad, dim=1)
        moved = vector_norm(table.detach() - self._positions_before, dim=1)
        return grad.cpu().numpy().copy(), moved.cpu().numpy().copy()

    def _describe_gradient(self) -> str:
        """What was wrong with a gradient whose norms are not finite: inf/NaN values, or only their size."""
        weight, head = self.model.embedding.weight, self.model.head
        grads = [("table" if head is not None else "table (and tied head)", weight.grad)]
        if head is not None:
            grads.append(("output head", head.weight.grad))
        grads += [(name.removeprefix("the "), param.grad) for name, param in self._layers]
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

    def _rows_that_can_move(self, centres: Tensor, scored: Tensor | None) -> Tensor | None:
        """(n,) the table's rows this step can move, when its optimizer moves only rows with a gradient: the rows
        looked up (max_norm rescales only them) and a tied SGNS head's gathered rows. None: any row can move (the
        optimizer moves rows without a gradient, or a tied full softmax gives every row one)."""
        if not self._table_still or (self.cfg.tie_weights and self.cfg.model != "sgns"):
            return None
        rows = centres.reshape(-1)
        if self.cfg.tie_weights:  # SGNS: the head's path reaches the true contexts' and the negatives' rows
            rows = torch.cat([rows, scored.reshape(-1)])
        return torch.unique(rows)

    def _check_after_step(self, update_norm: Tensor, scored: Tensor | None) -> str | None:
        """None when the table, the head and the optimizer's state are finite and measurable, else what is not.
        An SGNS head whose optimizer moves only rows with a gradient is checked on the rows it gathered: the
        others are as the last step left them, finite."""
        total = update_norm.sum()
        for name, param in self._others:
            if name == "the head" and self._head_still and scored is not None:
                total = total + param.detach()[torch.unique(scored)].sum()
            else:
                total = total + param.detach().sum()
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
        tables += [(f"{name.replace('the head', 'the output head')}'s weights", p.detach()) for name, p in self._others]
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

    def _restore(self, rng_state: tuple[dict, dict], what: str) -> None:
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

    def _freeze(self, rng_state: tuple[dict, dict], what: str) -> None:
        """A failure after the optimizer stepped: the table goes back to its last finite state, but whatever
        else the step changed cannot, so the run is frozen (every later step raises this error again)."""
        self._put_back(rng_state)
        changed = list(dict.fromkeys(name for name, _ in self._others))
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

    def _named_others(self) -> list[tuple[str, Tensor]]:
        """The parameters beside the token table, each with what a sentence calls it."""
        names = {"head.weight": "the head", "positions.weight": "the positional table"}
        return [
            (names.get(name, "the transformer blocks"), param)  # a GPT's blocks and final LayerNorm
            for name, param in self.model.named_parameters()
            if param is not self.model.embedding.weight
        ]

    def _put_back(self, rng_state: tuple[dict, dict]) -> None:
        with torch.no_grad():
            if self._moving is None:
                self.model.embedding.weight.copy_(self._before)
            else:  # only these rows were copied, and only they can have changed
                self.model.embedding.weight.index_copy_(0, self._moving, self._before[self._moving])
        self._rng.bit_generator.state, self._noise_rng.bit_generator.state = rng_state
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)


def _unmoved_without_gradient(cfg: TrainConfig) -> tuple[bool, bool]:
    """(table, head): whether the optimizer leaves every row without a gradient bit-unchanged. SGD without
    momentum or weight decay adds -lr * 0; Adagrad without weight decay adds -clr * 0 / (sqrt(sum) + eps);
    a sparse gradient's optimizer touches only its rows. SparseAdam's head gets a dense Adam, which moves rows
    on their running means."""
    if cfg.weight_decay:
        return False, False
    if cfg.optimizer == "sgd":
        return cfg.momentum == 0, cfg.momentum == 0
    if cfg.optimizer == "adagrad":
        return True, True
    return cfg.optimizer == "sparse_adam" and cfg.sparse_grad, False


def _copied(tensor: Tensor) -> Tensor | None:
    """A dense CPU tensor's copy in one single-threaded memcpy (numpy's; a Parameter stays one), or None for
    deepcopy to make. torch's own copy of a (V, D) table splits across its threads, and on a busy server it
    waits for them: 10-30x slower than the memcpy under load."""
    if tensor.device.type != "cpu" or tensor.layout != torch.strided or not tensor.is_contiguous():
        return None
    if tensor.requires_grad and not isinstance(tensor, torch.nn.Parameter):
        return None  # part of a graph: deepcopy's business
    source = tensor.detach()
    try:
        view = source.numpy()
    except (TypeError, RuntimeError):  # a dtype numpy lacks (bfloat16), a tensor numpy cannot view
        return None
    out = torch.empty_like(source)
    np.copyto(out.numpy(), view)
    if isinstance(tensor, torch.nn.Parameter):
        return torch.nn.Parameter(out, requires_grad=tensor.requires_grad)
    return out
