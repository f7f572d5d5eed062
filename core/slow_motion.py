"""One step in slow motion: `replay_step` re-trains a fresh Trainer to just before a step (it is deterministic:
core.replay) and lets torch take it; `stages` recomputes it by hand from that start (max_norm's rescale, W[x], the
scores, softmax, dL/dlogits = (softmax − one_hot) / B, dL/dh, the scatter-add without padding_idx's parts, a tied
head's path) for the page to compare with the record; for negative sampling the scores of each pair's true context
and k negatives, σ, dL/ds = (σ(s) − y) / B and the gathered rows' path; for a GPT the next-token softmax of its
B x T positions, dL/dlogits, and each lookup's gradient after torch's autograd took it back through the blocks (the
blocks themselves are not written out). The optimizer's part for one row: core.arithmetic.row_move."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core import budget, replay
from core.arithmetic import RowMove, RowState, agreement, row_move, row_state
from core.captions import count
from core.config import TrainConfig
from core.records import StepRecord
from core.rows import lookup_names
from core.trainer import Trainer


@dataclass(frozen=True)
class Replayed:
    """A step re-taken from its start: the table and head before it, torch's record, one row's state, grad, weights."""

    step: int
    weight: np.ndarray  # (V, D) the table before the step (before max_norm's rescale)
    head: np.ndarray | None  # (V, D) an untied head before the step
    record: StepRecord  # what the replayed step recorded (the same bits as the run's: the replay is deterministic)
    row: int
    state_before: RowState
    state_after: RowState
    torch_grad: np.ndarray  # (D,) the row's gradient from torch's autograd
    parts_in_order: np.ndarray | None  # (k, D) a sparse gradient's uncoalesced parts for the row
    w_after: np.ndarray  # (D,)
    model: nn.Module | None = None  # a GPT's whole model before the step (its blocks are needed to re-take it)


def replay_step(cfg: TrainConfig, step: int, row: int) -> Replayed:
    """Re-train a fresh run to step − 1, keep its start, take step `step` (ConfigError beyond a link's budget)."""
    replay.check(cfg, step)
    trainer = Trainer(cfg, history_bytes=1, snapshot_bytes=1)  # keeps one record and the first frame only
    for _ in replay.steps_to(trainer, step - 1):
        pass
    weight_param, weight = trainer.model.embedding.weight, trainer.weight
    head = None if trainer.model.head is None else trainer.model.head.weight.detach().cpu().numpy().copy()
    before = row_state(trainer.optimizers[0], weight_param, row)
    model = copy.deepcopy(trainer.model) if cfg.model == "gpt" else None  # small beside the run's optimizer state
    record = trainer.step()
    grad, parts = _row_grad(weight_param.grad, row, cfg.dim)
    after = row_state(trainer.optimizers[0], weight_param, row)
    w_after = trainer.weight_rows([row])[0]
    return Replayed(step, weight, head, record, row, before, after, grad, parts, w_after, model)


def replay_bytes(cfg: TrainConfig) -> int:
    """What `replay_step` holds beside the session's run: a second run, and a GPT's model copied before the step
    (its tables and blocks, float32)."""
    copy_bytes = 0
    if cfg.model == "gpt":
        tables = (1 if cfg.tie_weights else 2) * budget.frame_bytes(cfg)
        copy_bytes = tables + budget.FLOAT * budget.gpt_params(cfg)
    return cfg.memory_bytes() + copy_bytes


def _row_grad(grad: torch.Tensor | None, row: int, dim: int) -> tuple[np.ndarray, np.ndarray | None]:
    if grad is None:
        return np.zeros(dim, np.float32), None
    if not grad.is_sparse:
        return grad[row].detach().cpu().numpy().copy(), None
    parts = grad._values()[grad._indices()[0] == row].detach().cpu().numpy().copy()  # batch order
    return parts.sum(axis=0, dtype=np.float32) if len(parts) else np.zeros(dim, np.float32), parts


@dataclass(frozen=True)
class Stages:
    """The step by hand: (B,) and (B, D) arrays over the batch, (V,) over the table, the chosen position's and row's."""

    centres: np.ndarray  # (B,) the looked-up rows
    targets: np.ndarray  # (B,)
    renormed: np.ndarray  # (n,) rows max_norm rescaled in the forward pass
    hidden: np.ndarray  # (B, D) W[x], after the rescale
    position: int
    scores: np.ndarray  # (V,) the head's scores for the chosen position
    softmax: np.ndarray  # (V,)
    target_prob: float
    losses: np.ndarray  # (B,) −log p(target) per position
    loss: float  # their mean
    dlogits: np.ndarray  # (V,) dL/dlogits for the chosen position: (softmax − one_hot) / B
    dhidden: np.ndarray  # (B, D) dL/dh per position
    row: int
    row_positions: np.ndarray  # (k,) positions that looked the row up
    row_parts: np.ndarray  # (k, D) their dL/dh: the scatter-add's contributions to the row
    dropped: np.ndarray  # (k,) bool: a padding_idx part that the lookup drops
    lookup_grad: np.ndarray  # (D,) the sum of the parts kept
    head_grad: np.ndarray | None  # (D,) a tied head's path into the row: Σ_b dL/dlogits[b, row] · h_b
    row_grad: np.ndarray  # (D,) the row's whole gradient
    grad_norm: np.ndarray  # (V,) every row's gradient length
    head_grad_norm: np.ndarray | None  # (V,) an untied head's
    context: int | None = None  # a GPT's T: its B x T lookups are named by window and t (core.rows.lookup_names)


@dataclass(frozen=True)
class SampledStages:
    """Negative sampling's step by hand: each pair b scores k + 1 head rows (its true context, then k negatives)."""

    centres: np.ndarray  # (B,) the looked-up rows
    targets: np.ndarray  # (B,) each pair's true context
    negatives: np.ndarray  # (B, k) each pair's sampled negatives
    renormed: np.ndarray  # (n,) rows max_norm rescaled in the forward pass
    hidden: np.ndarray  # (B, D) W[x], after the rescale
    position: int
    scored: np.ndarray  # (k+1,) the chosen pair's head rows: its true context, then its negatives
    scores: np.ndarray  # (k+1,) s = h · c
    sigmoid: np.ndarray  # (k+1,) σ(s)
    losses: np.ndarray  # (B,) −ln σ(s_0) − Σ_j ln σ(−s_j) per pair
    loss: float  # their mean
    dscores: np.ndarray  # (k+1,) dL/ds for the chosen pair: (σ(s) − y) / B, y = 1 for the true context, else 0
    dhidden: np.ndarray  # (B, D) dL/dh = Σ_j dL/ds_j · c_j per pair
    row: int
    row_positions: np.ndarray  # (k,) pairs that looked the row up
    row_parts: np.ndarray  # (k, D) their dL/dh: the scatter-add's contributions to the row
    dropped: np.ndarray  # (k,) bool: a padding_idx part that the lookup drops
    lookup_grad: np.ndarray  # (D,) the sum of the parts kept
    head_places: np.ndarray  # (m, 2) (pair, column) where a tied head gathered the row; empty untied
    head_parts: np.ndarray  # (m, D) their dL/ds[b, j] · h_b
    head_grad: np.ndarray | None  # (D,) a tied head's path into the row: the sum of head_parts; None untied
    row_grad: np.ndarray  # (D,) the row's whole gradient
    grad_norm: np.ndarray  # (V,) every row's gradient length
    head_grad_norm: np.ndarray | None  # (V,) an untied head's


def stages(
    cfg: TrainConfig, weight: np.ndarray, head: np.ndarray | None, centres: np.ndarray, targets: np.ndarray,
    position: int, row: int, negatives: np.ndarray | None = None, model: nn.Module | None = None,
) -> Stages | SampledStages:  # fmt: skip
    """The step recomputed from its start: the table (V, D) before it, an untied head (V, D) or None, the batch
    (and negative sampling's (B, k) negatives; a GPT's whole model before the step, Replayed.model)."""
    if cfg.model == "gpt":
        return _gpt_stages(cfg, model, centres, targets, position, row)
    if cfg.model == "sgns":
        return _sampled_stages(cfg, weight, head, centres, targets, negatives, position, row)
    with torch.no_grad():
        w, ids, renormed = _looked_up(cfg, weight, centres)
        tgt = torch.as_tensor(targets, dtype=torch.long)
        h = w[ids]  # (B, D) the lookup
        head_w = w if head is None else torch.tensor(head)  # (V, D)
        logits = h @ head_w.T  # (B, V)
        log_p = torch.log_softmax(logits, dim=1)
        p = log_p.exp()
        batch = len(centres)
        losses = -log_p[torch.arange(batch), tgt]  # (B,)
        dlogits = p.clone()
        dlogits[torch.arange(batch), tgt] -= 1
        dlogits /= batch  # (B, V)
        dh = dlogits @ head_w  # (B, D)
        keep = ids != cfg.padding_idx if cfg.padding_idx is not None else torch.ones_like(ids, dtype=torch.bool)
        grad = torch.zeros_like(w).index_add_(0, ids[keep], dh[keep])  # (V, D) the lookup's scatter-add
        head_grad = dlogits.T @ h  # (V, D) the head's gradient: a tied head's extra path into the table
        if head is None:
            grad += head_grad
        at = (ids == row).nonzero()[:, 0]
        return Stages(
            centres=np.asarray(centres), targets=np.asarray(targets), renormed=renormed.numpy(), hidden=h.numpy(),
            position=position, scores=logits[position].numpy(), softmax=p[position].numpy(),
            target_prob=float(p[position, tgt[position]]), losses=losses.numpy(), loss=float(losses.mean()),
            dlogits=dlogits[position].numpy(), dhidden=dh.numpy(), row=row, row_positions=at.numpy(),
            row_parts=dh[at].numpy(), dropped=(~keep[at]).numpy(), lookup_grad=dh[at][keep[at]].sum(0).numpy(),
            head_grad=head_grad[row].numpy() if head is None else None, row_grad=grad[row].numpy(),
            grad_norm=torch.linalg.vector_norm(grad, dim=1).numpy(),
            head_grad_norm=None if head is None else torch.linalg.vector_norm(head_grad, dim=1).numpy(),
        )  # fmt: skip


def _looked_up(cfg: TrainConfig, weight: np.ndarray, centres: np.ndarray) -> tuple[torch.Tensor, ...]:
    """(the table (V, D) after max_norm's rescale of the looked-up rows, the ids (B,), the rescaled rows (n,))."""
    w = torch.tensor(weight)  # (V, D) a copy: max_norm's rescale is done on it
    ids = torch.as_tensor(centres, dtype=torch.long)
    used = torch.unique(ids)
    renormed = used[:0]
    if cfg.max_norm is not None:
        norms = torch.linalg.vector_norm(w[used], dim=1)  # (n,)
        long = norms > cfg.max_norm
        renormed = used[long]
        w[renormed] *= (cfg.max_norm / (norms[long].double() + 1e-7)).float()[:, None]
    return w, ids, renormed


def _gpt_stages(
    cfg: TrainConfig, model: nn.Module, centres: np.ndarray, targets: np.ndarray, position: int, row: int
) -> Stages:
    """A GPT's step from its start: its own forward to the final LayerNorm's output z (B T, D), then by hand the
    logits z·Wᵀ, softmax, dL/dlogits = (softmax − one_hot) / N (N positions with a target: padding is none),
    dL/dz; autograd takes dL/dz back through the blocks to each lookup; by hand again the scatter-add into the
    rows and a tied head's path Σ_p dL/dlogits[p, row]·z_p. `centres`, `targets`: the (B T,) flattened windows."""
    m = copy.deepcopy(model)  # max_norm rescales its rows in place; the replay's copy stays as it was
    b, t = cfg.batch_size, cfg.context
    ids, tgt = torch.as_tensor(centres, dtype=torch.long), torch.as_tensor(targets, dtype=torch.long)
    used = torch.unique(ids)
    norms_before = torch.linalg.vector_norm(m.embedding.weight.detach()[used], dim=1)
    tokens = m.embedding(ids.reshape(b, t))  # (B, T, D), max_norm's rescale done in the lookup
    tokens.retain_grad()
    x = tokens + m.positions(torch.arange(t))
    z = m.norm(m.blocks(x, mask=m.causal[:t, :t], is_causal=True)).reshape(-1, cfg.dim)  # (B T, D)
    with torch.no_grad():
        head_w = m.head_weight.detach()  # (V, D): the rescaled table itself when tied
        logits = z.detach() @ head_w.T  # (B T, V)
        log_p = torch.log_softmax(logits, dim=1)
        p = log_p.exp()
        scored = tgt != m.ignore_index  # padding is never a target
        rows = torch.arange(len(tgt))
        losses = torch.where(scored, -log_p[rows, tgt.clamp(min=0)], 0.0)  # (B T,)
        n = int(scored.sum())
        dlogits = p.clone()
        dlogits[rows[scored], tgt[scored]] -= 1
        dlogits[~scored] = 0.0
        dlogits /= max(n, 1)  # (B T, V)
        dz = dlogits @ head_w  # (B T, D)
    z.backward(dz)  # through the final LayerNorm, the blocks and the position rows, to each lookup
    dh = tokens.grad.reshape(-1, cfg.dim)  # (B T, D)
    with torch.no_grad():
        w = m.embedding.weight.detach()
        keep = ids != cfg.padding_idx if cfg.padding_idx is not None else torch.ones_like(ids, dtype=torch.bool)
        grad = torch.zeros_like(w).index_add_(0, ids[keep], dh[keep])  # (V, D) the lookup's scatter-add
        head_grad = dlogits.T @ z.detach()  # (V, D) the head's gradient: a tied head's extra path into the table
        if cfg.tie_weights:
            grad += head_grad
        renormed = used[norms_before > cfg.max_norm] if cfg.max_norm is not None else used[:0]
        at = (ids == row).nonzero()[:, 0]
        return Stages(
            centres=np.asarray(centres), targets=np.asarray(targets), renormed=renormed.numpy(),
            hidden=tokens.detach().reshape(-1, cfg.dim).numpy(), position=position, scores=logits[position].numpy(),
            softmax=p[position].numpy(), target_prob=float(p[position, tgt[position].clamp(min=0)]),
            losses=losses.numpy(), loss=float(losses.sum() / max(n, 1)), dlogits=dlogits[position].numpy(),
            dhidden=dh.numpy(), row=row, row_positions=at.numpy(), row_parts=dh[at].numpy(),
            dropped=(~keep[at]).numpy(), lookup_grad=dh[at][keep[at]].sum(0).numpy(),
            head_grad=head_grad[row].numpy() if cfg.tie_weights else None, row_grad=grad[row].numpy(),
            grad_norm=torch.linalg.vector_norm(grad, dim=1).numpy(),
            head_grad_norm=None if cfg.tie_weights else torch.linalg.vector_norm(head_grad, dim=1).numpy(),
            context=t,
        )  # fmt: skip


def _sampled_stages(
    cfg: TrainConfig, weight: np.ndarray, head: np.ndarray | None, centres: np.ndarray, targets: np.ndarray,
    negatives: np.ndarray, position: int, row: int,
) -> SampledStages:  # fmt: skip
    """Negative sampling's step from its start: σ of each pair's k + 1 scores, and the two scatter-adds."""
    with torch.no_grad():
        w, ids, renormed = _looked_up(cfg, weight, centres)
        h = w[ids]  # (B, D); a tied head gathers from the rescaled table
        head_w = w if head is None else torch.tensor(head)  # (V, D)
        scored = torch.cat([torch.as_tensor(targets)[:, None], torch.as_tensor(negatives)], dim=1).long()  # (B, k+1)
        c = head_w[scored]  # (B, k+1, D)
        s = torch.einsum("bd,bkd->bk", h, c)  # (B, k+1)
        y = torch.zeros_like(s)
        y[:, 0] = 1.0
        losses = -(torch.nn.functional.logsigmoid(s[:, 0]) + torch.nn.functional.logsigmoid(-s[:, 1:]).sum(1))
        batch = len(centres)
        ds = (torch.sigmoid(s) - y) / batch  # (B, k+1) dL/ds
        dh = torch.einsum("bk,bkd->bd", ds, c)  # (B, D)
        dc = ds[:, :, None] * h[:, None, :]  # (B, k+1, D) dL/dc: what each gathered head row gets
        keep = ids != cfg.padding_idx if cfg.padding_idx is not None else torch.ones_like(ids, dtype=torch.bool)
        grad = torch.zeros_like(w).index_add_(0, ids[keep], dh[keep])  # (V, D) the lookup's scatter-add
        head_grad = torch.zeros_like(head_w).index_add_(0, scored.reshape(-1), dc.reshape(-1, cfg.dim))
        if head is None:
            grad += head_grad
        at = (ids == row).nonzero()[:, 0]
        places = (scored == row).nonzero() if head is None else scored[:0, :2]  # (m, 2) a tied head's gathers
        parts = dc[places[:, 0], places[:, 1]]  # (m, D)
        sig = torch.sigmoid(s[position])
        return SampledStages(
            centres=np.asarray(centres), targets=np.asarray(targets), negatives=np.asarray(negatives),
            renormed=renormed.numpy(), hidden=h.numpy(), position=position, scored=scored[position].numpy(),
            scores=s[position].numpy(), sigmoid=sig.numpy(), losses=losses.numpy(), loss=float(losses.mean()),
            dscores=ds[position].numpy(), dhidden=dh.numpy(), row=row, row_positions=at.numpy(),
            row_parts=dh[at].numpy(), dropped=(~keep[at]).numpy(), lookup_grad=dh[at][keep[at]].sum(0).numpy(),
            head_places=places.numpy(), head_parts=parts.numpy(),
            head_grad=parts.sum(0).numpy() if head is None else None,
            row_grad=grad[row].numpy(), grad_norm=torch.linalg.vector_norm(grad, dim=1).numpy(),
            head_grad_norm=None if head is None else torch.linalg.vector_norm(head_grad, dim=1).numpy(),
        )  # fmt: skip


def optimizer_step(cfg: TrainConfig, replayed: Replayed) -> RowMove:
    """The optimizer's part for the replayed row, from its state and torch's gradient (core.arithmetic)."""
    rec, row = replayed.record, replayed.row
    looked_up = bool((rec.input_ids == row).any())
    present = replayed.parts_in_order is None or len(replayed.parts_in_order) > 0
    w = replayed.weight[row]
    return row_move(cfg, w, replayed.torch_grad, replayed.state_before, looked_up, present, replayed.parts_in_order)


replay_limit = replay.max_steps  # the latest step this page may re-take for a config (a link's replay budget)


def replayable_steps(kept: list[int], cfg: TrainConfig) -> list[int]:
    """The kept steps this page may re-take: 1 and up, within a link's replay budget."""
    limit = replay.max_steps(cfg)
    return [s for s in kept if 1 <= s <= limit]


def lookup_caption(st_: Stages, cfg: TrainConfig) -> str:
    """Stage 1's sentence: how many rows the batch looked up, repeats, max_norm's rescale."""
    distinct, batch = len(np.unique(st_.centres)), len(st_.centres)
    what = f"{cfg.batch_size:,} windows of {cfg.context:,} tokens" if cfg.model == "gpt" else f"{batch:,} centre tokens"
    text = f"The batch's {what} select {distinct:,} distinct rows: W[x] is {batch:,} × {cfg.dim:,}."
    if cfg.max_norm is not None:
        text += f" max_norm = {cfg.max_norm:g} rescaled {len(st_.renormed):,} of them to that length first."
    return text


def forward_caption(st_: Stages | SampledStages, recorded_loss: float, token: str) -> str:
    """Stage 2's sentence: the position's loss and the batch mean against the recorded loss."""
    if isinstance(st_, SampledStages):
        k = len(st_.scored) - 1
        return (
            f"Pair {st_.position}: σ(s) = {st_.sigmoid[0]:.4g} for its true context ({token}) and "
            f"{', '.join(f'{p:.3g}' for p in st_.sigmoid[1:])} for its {k} negatives; its loss −ln σ(s₀) − "
            f"Σ ln σ(−s_j) = {st_.losses[st_.position]:.4f}. The mean over the batch is {st_.loss:.6f}; the run "
            f"recorded {recorded_loss:.6f} (difference {abs(st_.loss - recorded_loss):.1e}, float32 rounding). "
            f"dL/ds is (σ(s) − 1) / B = {st_.dscores[0]:.3e} for the true context and σ(s) / B for each negative: "
            f"only these {k + 1} head rows are scored, not all of them."
        )
    where, n = position_name(st_), "N" if st_.context else "B"
    target = st_.targets[st_.position]
    if st_.context and not np.any(st_.dlogits):  # a GPT's padding target: ignore_index, no loss
        return (
            f"{where}: its next token is the padding token, never a target (ignore_index): no loss and dL/dlogits "
            f"= 0 here. The mean over the positions with a target is {st_.loss:.6f}; the run recorded "
            f"{recorded_loss:.6f} (difference {abs(st_.loss - recorded_loss):.1e}, float32 rounding)."
        )
    over = f"the {np.count_nonzero(st_.losses):,} positions with a target (N)" if st_.context else "the batch"
    return (
        f"{where}: p({token}) = {st_.target_prob:.4g}, loss −ln p = {st_.losses[st_.position]:.4f}. "
        f"The mean over {over} is {st_.loss:.6f}; the run recorded {recorded_loss:.6f} "
        f"(difference {abs(st_.loss - recorded_loss):.1e}, float32 rounding). Its target's dL/dlogit is "
        f"(p − 1) / {n} = {st_.dlogits[target]:.3e}; every other token's is p / {n}."
    )


def position_label(cfg: TrainConfig) -> str:
    """The page's input for which lookup to follow: a skip-gram batch's position (negative sampling's pair), or a
    GPT's lookup counted window by window."""
    if cfg.model == "gpt":
        return f"Position in the batch (window × {cfg.context} + t)"
    return "Pair in the batch" if cfg.model == "sgns" else "Batch position"


def position_name(st_: Stages) -> str:
    """A skip-gram batch's "Position b", a GPT's "Window w, t i" (its B x T lookups, flattened)."""
    return lookup_names(np.array([st_.position]), st_.context)[0].capitalize()


def decay_caption(projected: np.ndarray, cfg: TrainConfig) -> str:
    """The decay plot's sentence: how the state's own move shrinks, or that there is none."""
    if not projected.any():
        return (
            f"With no gradient, {cfg.optimizer}'s state cannot move this row by itself: a row without a gradient "
            "stays put (weight decay aside)."
        )
    ratio = projected[-1] / projected[0] if projected[0] else 0.0
    return (
        f"If this row got no gradient from now on, its state alone would move it {projected[0]:.3e} next step and "
        f"{projected[-1]:.3e} after {len(projected)} steps ({ratio:.2f} of the first): the buffers decay towards zero."
    )


def backward_heading(cfg: TrainConfig) -> str:
    """Stage 3's heading: the model's own backward formulas."""
    if cfg.model == "sgns":
        return "3. Backward: dL/ds = (σ(s) − y) / B, dL/dh = Σ_j dL/ds_j·c_j, the scatter-adds into the row"
    if cfg.model == "gpt":
        return "3. Backward: dL/dlogits = (softmax − one_hot) / N, through the blocks to each lookup, the scatter-add"
    return "3. Backward: dL/dlogits = (softmax − one_hot) / B, dL/dh, the scatter-add into the row"


def _times(n: int) -> str:
    """'once', 'twice', '3 times'."""
    return {1: "once", 2: "twice"}.get(n, f"{n:,} times")


def backward_caption(st_: Stages | SampledStages, rec: StepRecord, cfg: TrainConfig, token: str) -> str:
    """Stage 3's sentence: the row's parts, the head's path, its length against the recorded grad_norm, the mask."""
    k, dropped = len(st_.row_positions), int(st_.dropped.sum())
    text = f"Row {st_.row} ({token}) was looked up {_times(k)}: its lookup gradient sums {count(k - dropped, 'part')}"
    text += f" ({dropped} dropped: padding_idx = {cfg.padding_idx} passes no gradient)." if dropped else "."
    if isinstance(st_, SampledStages) and st_.head_grad is not None:
        m = len(st_.head_places)
        text += (
            f" The tied head gathered it {_times(m)} as a true context or a negative: Σ dL/ds[b, j]·h_b over those, "
            f"length {np.linalg.norm(st_.head_grad):.3e}."
        )
    elif st_.head_grad is not None and st_.context:
        text += (
            f" The tied head adds Σ_p dL/dlogits[p, {st_.row}]·z_p (z: the final LayerNorm's output), length "
            f"{np.linalg.norm(st_.head_grad):.3e}."
        )
    elif st_.head_grad is not None:
        text += f" The tied head adds Σ_b dL/dlogits[b, {st_.row}]·h_b, length {np.linalg.norm(st_.head_grad):.3e}."
    mine, recorded = float(np.linalg.norm(st_.row_grad)), float(rec.grad_norm[st_.row])
    mask = st_.grad_norm > 0
    same = "exactly the recorded mask" if (mask == rec.grad_mask).all() else "NOT the recorded mask"
    return (
        f"{text} |g| = {mine:.6e}; recorded grad_norm {recorded:.6e} (difference {abs(mine - recorded):.1e}). "
        f"{int(mask.sum()):,} rows have a gradient: {same}."
    )


def step_caption(move: RowMove, recorded_move: np.ndarray, looked_up: bool) -> str:
    """Stage 4's sentence: the replayed move against the recorded one, and why a row without a gradient moved."""
    got = agreement(move.w_after, move.w_before + recorded_move)
    how = (
        "equal to the recorded move to the bit (the same float32 operations replayed)"
        if got.bitwise
        else f"within float32 rounding of the recorded move: largest difference {got.max_abs_diff:.1e} "
        f"({got.max_ulps:.0f} float32 spacings)"
    )
    text = f"|Δw| = {np.linalg.norm(move.move):.6e}, {how}."
    if not np.any(move.grad):
        if not move.touched:
            text += " No gradient and a sparse optimizer: the row was not touched at all."
        elif np.any(move.move):
            text += " No gradient this step, yet it moved: the optimizer's state (and any weight decay) moved it."
        else:
            text += " No gradient and no state to carry it: it did not move."
    elif move.w_start is not None and not np.array_equal(move.w_start, move.w_before):
        text += " max_norm rescaled it in the forward pass before the optimizer stepped."
    return text + ("" if looked_up else " (Not looked up this step.)")
