"""The exact split of each row's move, and the zero-gradient shadows that measure it.

A row's move d = W_after - W_before splits into four parts that add up to d: max_norm's rescale in the forward
pass (mid - before), what weight decay alone did (s0 - s00), what optimizer state alone did (s00 - mid) and what
the gradient added (after - s0). s0 is the optimizer's step from mid with a zero gradient; s00 the same with
weight decay off. Both are cheap because every optimizer in the table is elementwise: a row with no gradient
gets the same update in the real step and in the zero-gradient one, so only the rows with a gradient (and rows
max_norm touched) need a shadow copy with a zero gradient, stepped in the same optimizer.step() call on copies
of their state; with weight decay a second shadow, the whole table in a param group with weight_decay 0, gives
s00. The split keeps each part's component along d, <part, d> / |d|: the four add up to |d| = update_norm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.optim import Optimizer

from core.config import TrainConfig
from core.limits import SPLIT_CHUNK


@dataclass(frozen=True, eq=False)
class MoveSplit:
    """Each row's move d and its parts: (V,) float32 arrays, the rows of one block in this order."""

    renorm: np.ndarray  # the parts' components along d, <part, d> / |d|, adding up to update_norm: max_norm's
    decay: np.ndarray  # rescale, what weight decay alone did,
    state: np.ndarray  # what optimizer state alone did (a zero-gradient step with weight decay off)
    grad: np.ndarray  # and what the gradient added (the rest)
    update_norm: np.ndarray  # |d|
    state_update_norm: np.ndarray  # |s0 - mid|: the move had the row's gradient been zero
    renorm_norm: np.ndarray  # |mid - before|: the change max_norm made in the forward pass


class Shadows:
    """The zero-gradient copies, attached to the embedding's optimizer before its step and detached after it."""

    def __init__(
        self, optimizer: Optimizer, weight: Tensor, before: Tensor, grad_norm: Tensor, centres: Tensor, cfg: TrainConfig
    ):
        """Attach them: call after backward (the forward pass's max_norm rescale is done), before the step."""
        self.optimizer, self.weight, self.before = optimizer, weight, before
        self.rows = torch.nonzero(grad_norm).squeeze(1)  # (n,) the rows whose move is split with a shadow
        self.looked_up = self.mid_looked_up = None
        if cfg.max_norm is not None:
            self.looked_up = torch.unique(centres)  # (u,)
            self.mid_looked_up = weight.detach()[self.looked_up].clone()  # rescaled by max_norm, not yet stepped
            self.rows = torch.unique(torch.cat([self.rows, self.looked_up]))
        self.every_row = len(self.rows) == weight.shape[0]  # a tied head: rows is 0..V-1, so no copies are needed
        self.shadow = self._attach_rows(cfg.sparse_grad)  # (n, D) with the real weight decay
        self.before_rows = before if self.every_row else before[self.rows]  # (n, D)
        self.mid_rows = self.before_rows if self.looked_up is None else self.shadow.detach().clone()
        self.no_decay_group: dict | None = None
        self.no_decay = self._attach_no_decay() if cfg.weight_decay else None  # (V, D) weight decay off

    def _attach_rows(self, sparse: bool) -> Tensor:
        """Add to the optimizer a copy of `rows` with a zero gradient and a copy of their state.

        The real step then also computes, in the same call, where those rows would have gone with a zero
        gradient. The shadow has its own state entries, so the real state is never touched.
        """
        weight, rows, optimizer = self.weight, self.rows, self.optimizer
        shadow = weight.detach()[rows].requires_grad_()  # (n, D) leaf, a copy: indexing by a tensor copies
        state = optimizer.state.get(weight)
        if state:
            optimizer.state[shadow] = {key: _rows_of(value, rows, weight.shape) for key, value in state.items()}
        if sparse:  # a zero sparse gradient names no rows at all
            empty = torch.empty((1, 0), dtype=torch.long, device=weight.device)
            shadow.grad = torch.sparse_coo_tensor(
                empty, torch.empty((0, weight.shape[1]), device=weight.device), shadow.shape, check_invariants=True
            )
        else:
            shadow.grad = (  # a tied head's shadow is the whole table: its zeros are then one value, expanded
                torch.zeros_like(shadow)
                if not self.every_row
                else torch.zeros((1, 1), device=weight.device).expand_as(shadow)
            )
        optimizer.param_groups[0]["params"].append(shadow)
        return shadow

    def _attach_no_decay(self) -> Tensor:
        """A zero-gradient copy of the whole table in a param group of its own with weight_decay 0.

        Only runs with weight decay pay for it (sparse gradients never have weight decay here): its step is
        what optimizer state alone does, so the zero-gradient step splits into state and decay.
        """
        weight, optimizer = self.weight, self.optimizer
        shadow = weight.detach().clone().requires_grad_()  # (V, D)
        state = optimizer.state.get(weight)
        if state:
            optimizer.state[shadow] = {k: v.clone() if torch.is_tensor(v) else v for k, v in state.items()}
        shadow.grad = torch.zeros((1, 1), device=weight.device).expand_as(shadow)  # (V, D) zeros in one value
        group = {key: value for key, value in optimizer.param_groups[0].items() if key != "params"}
        group.update(params=[shadow], weight_decay=0.0)
        optimizer.param_groups.append(group)
        self.no_decay_group = group
        return shadow.detach()

    def detach(self) -> None:
        """Take the shadows back out of the optimizer, leaving it exactly as it was."""
        optimizer = self.optimizer
        params = optimizer.param_groups[0]["params"]
        del params[next(i for i, p in enumerate(params) if p is self.shadow)]  # remove() compares values
        optimizer.state.pop(self.shadow, None)
        if self.no_decay_group is not None:
            groups = optimizer.param_groups
            del groups[next(i for i, g in enumerate(groups) if g is self.no_decay_group)]
            optimizer.state.pop(self.no_decay_group["params"][0], None)
            self.no_decay_group = None

    def split(self, update_norm: Tensor, delta: Tensor, zeros: Tensor) -> MoveSplit:
        """Every row's split, after the step: `update_norm` (V,) = |delta| (V, D); `zeros` (V,). Under no_grad."""
        renorm_norm = zeros
        if self.looked_up is not None:  # the forward pass's rescale is not the optimizer's doing
            renorm_norm = torch.zeros_like(update_norm)
            moved = self.mid_looked_up - self.before[self.looked_up]
            renorm_norm[self.looked_up] = torch.linalg.vector_norm(moved, dim=1)
        s0_rows = self.shadow.detach()  # (n, D) the zero-gradient step of `rows`
        s00_rows = None if self.no_decay is None else self.no_decay[self.rows]  # a copy: indexing by a tensor copies
        decay, state = zeros, update_norm  # outside `rows` without weight decay the whole move is state's
        if self.no_decay is not None:
            decay, state = _decay_and_state(update_norm, self.no_decay, self.before, delta)
        after_rows = self.weight.detach() if self.every_row else self.weight.detach()[self.rows]
        exact = _split_rows(self.before_rows, self.mid_rows, s0_rows, s00_rows, after_rows)  # (6, n)
        block = torch.stack([zeros, decay, state, zeros, update_norm, update_norm, renorm_norm]).cpu().numpy()
        block[:6, self.rows.cpu().numpy()] = exact  # the rows with a shadow: exact; |d| from float64 differences
        return MoveSplit(*block)  # one (7, V) block: a record's objects are few


def _decay_and_state(update_norm: Tensor, no_decay: Tensor, before: Tensor, delta: Tensor) -> tuple[Tensor, Tensor]:
    """(V,) x 2: components <decay, d> / |d| and <state, d> / |d| for rows outside the shadow's `rows`.

    There no gradient reached the row and max_norm left it alone, so its whole move d is the zero-gradient
    step s0: the state part is s00 - before (s00 from the weight-decay-free shadow) and the decay part the
    rest of d. `no_decay` (V, D) is overwritten.
    """
    state = torch.sub(no_decay, before, out=no_decay)  # (V, D) s00 - before
    along = torch.einsum("vd,vd->v", state, delta)  # (V,) <state, d>
    state_part = torch.where(update_norm > 0, along / update_norm, 0.0)  # exactly 0 where state did nothing
    return update_norm - state_part, state_part  # d = decay + state: the decay part is the rest


def _split_rows(before: Tensor, mid: Tensor, s0: Tensor, s00: Tensor | None, after: Tensor) -> np.ndarray:
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
        x = torch.stack([t[i : i + chunk] for t in (before, mid, s0, s00, after)]).cpu().numpy()
        b, m, z, zz, a = x.astype(np.float64)  # (c, D) each: before, mid, s0, s00, after
        parts = np.stack([m - b, z - zz, zz - m, a - z, a - b])  # (5, c, D): renorm, decay, state, grad; d
        along = np.einsum("kcd,cd->kc", parts, parts[4])  # (5, c): <part, d>, and |d|^2
        norm = np.sqrt(along[4])
        np.divide(along[:4], norm, out=out[:4, i : i + chunk], where=norm > 0)  # 0 where d = 0
        out[4, i : i + chunk] = norm
        zero_grad_move = z - m  # (c, D)
        out[5, i : i + chunk] = np.sqrt(np.einsum("cd,cd->c", zero_grad_move, zero_grad_move))
    return out.astype(np.float32)


def _split_state_and_grad(before: Tensor, s0: Tensor, after: Tensor) -> np.ndarray:
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


def _rows_of(value, rows: Tensor, shape: torch.Size):
    """A copy of one optimizer-state entry restricted to `rows` (per-row tensors), or as it is (step counts)."""
    if not torch.is_tensor(value):
        return value
    if value.shape == shape:
        return value.to_dense()[rows] if value.is_sparse else value[rows]  # indexing by a tensor copies
    return value.clone()
