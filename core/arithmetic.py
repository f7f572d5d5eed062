"""The arithmetic of one row's move: `row_move` repeats on one (D,) float32 row the ops torch's single-tensor
optimizers apply to the table, in the same order (SGD, Adam, AdamW, Adagrad, RMSprop, SparseAdam, weight decay,
max_norm), keeping each line of the rule for the page. The same ops give the same bits on the CPU; foreach/fused
kernels (CUDA) may round differently, so `Agreement` says which it was."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from core.config import TrainConfig

# torch's defaults for what the app does not expose (core.model builds the optimizers with them)
ADAM_EPS, ADAGRAD_EPS, RMSPROP_EPS, RMSPROP_ALPHA, RENORM_EPS = 1e-8, 1e-10, 1e-8, 0.99, 1e-7
SLOTS = {  # the optimizer's per-row state tensors, by torch's names
    "sgd": ("momentum_buffer",),
    "adam": ("exp_avg", "exp_avg_sq"),
    "adamw": ("exp_avg", "exp_avg_sq"),
    "sparse_adam": ("exp_avg", "exp_avg_sq"),
    "adagrad": ("sum",),
    "rmsprop": ("square_avg", "momentum_buffer"),
}


@dataclass(frozen=True)
class RowState:
    """An optimizer's state for one row: its step count and each slot's (D,) values (a slot not yet made: absent)."""

    step: int
    slots: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Line:
    """One line of the update rule: a name, its formula in the rule's symbols, its (D,) values for the row."""

    name: str
    formula: str
    values: np.ndarray


@dataclass(frozen=True)
class RowMove:
    """One row's step, line by line. w_start is the row after max_norm's rescale, where the optimizer starts."""

    optimizer: str
    w_before: np.ndarray  # (D,)
    w_start: np.ndarray  # (D,) after max_norm's forward rescale (= w_before without one)
    grad: np.ndarray  # (D,) the row's gradient this step
    lines: tuple[Line, ...]
    scalars: dict[str, float]  # lr, bias corrections, step sizes: the rule's numbers that are not per coordinate
    before: RowState
    after: RowState
    w_after: np.ndarray  # (D,)
    touched: bool  # False: the optimizer skipped this row (a sparse gradient without it)

    @property
    def move(self) -> np.ndarray:
        return self.w_after - self.w_before


@dataclass(frozen=True)
class Agreement:
    """How a replayed move compares with the recorded one."""

    bitwise: bool
    max_abs_diff: float
    max_ulps: float  # the largest difference in units of float32's spacing at the recorded value


def agreement(replayed: np.ndarray, recorded: np.ndarray) -> Agreement:
    """Compare two float32 vectors: equal to the bit, or how far apart in float32 spacings."""
    a, b = np.asarray(replayed, np.float32), np.asarray(recorded, np.float32)
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    spacing = np.spacing(np.maximum(np.abs(b), np.finfo(np.float32).tiny)).astype(np.float64)
    return Agreement(bool(np.array_equal(a, b)), float(diff.max(initial=0.0)), float((diff / spacing).max(initial=0)))


def renorm(w: torch.Tensor, max_norm: float | None, looked_up: bool) -> torch.Tensor:
    """max_norm's forward rescale of one looked-up row, as torch's embedding_renorm_: w * max_norm / (|w| + 1e-7)."""
    if max_norm is None or not looked_up:
        return w
    norm = float(torch.linalg.vector_norm(w))
    return w * (max_norm / (norm + RENORM_EPS)) if norm > max_norm else w


def row_move(
    cfg: TrainConfig,
    w_before: np.ndarray,
    grad: np.ndarray,
    state: RowState,
    looked_up: bool,
    present: bool = True,
    parts: np.ndarray | None = None,
) -> RowMove:
    """One row's step; `looked_up`: max_norm applies, `present`: in a sparse gradient, `parts`: sparse SGD's (k, D)."""
    w0 = torch.tensor(np.asarray(w_before, np.float32))  # (D,)
    w = renorm(w0.clone(), cfg.max_norm, looked_up)
    g = torch.tensor(np.asarray(grad, np.float32))
    slots = {k: torch.tensor(np.asarray(v, np.float32)) for k, v in state.slots.items() if v is not None}
    lines: list[Line] = [Line("g", "the row's gradient", g.numpy().copy())]
    scalars: dict[str, float] = {"lr": cfg.lr}
    rule = _RULES[cfg.optimizer]
    w_start = w.clone()
    sparse = cfg.sparse_grad
    if sparse and not present:
        touched, step = False, state.step + (cfg.optimizer != "sgd")  # a per-table count still ticks
        for name in SLOTS[cfg.optimizer] if cfg.optimizer != "sgd" else ():
            slots.setdefault(name, torch.zeros_like(w))  # made for the whole table at the first step
    else:
        parted = None if parts is None else torch.tensor(np.asarray(parts, np.float32))
        touched, step = True, rule(cfg, w, g, slots, state.step, lines, scalars, sparse, parted)
    kept = {k: v.numpy().copy() for k, v in slots.items()}
    return RowMove(
        cfg.optimizer, w0.numpy().copy(), w_start.numpy().copy(), g.numpy().copy(), tuple(lines), scalars,
        state, RowState(step, kept), w.numpy().copy(), touched,
    )  # fmt: skip


def _line(lines: list[Line], name: str, formula: str, values: torch.Tensor) -> None:
    lines.append(Line(name, formula, values.detach().numpy().copy()))


def _decayed(cfg: TrainConfig, w: torch.Tensor, g: torch.Tensor, lines: list[Line]) -> torch.Tensor:
    """g + λ·w (L2 weight decay folded into the gradient), as torch's grad.add(param, alpha=λ)."""
    if not cfg.weight_decay:
        return g
    g = g.add(w, alpha=cfg.weight_decay)
    _line(lines, "g + λw", f"gradient plus weight decay λ = {cfg.weight_decay:g} times the row", g)
    return g


def _sgd(cfg, w, g, slots, step, lines, scalars, sparse, parts=None) -> int:
    if sparse:  # torch adds the uncoalesced gradient: one lookup's part at a time
        before = w.clone()
        for part in [g] if parts is None else parts:
            w.add_(part, alpha=-cfg.lr)
        _line(lines, "Δw", "−lr·g, one lookup's part at a time (only rows in the sparse gradient)", w - before)
        return step
    g = _decayed(cfg, w, g, lines)
    if cfg.momentum:
        scalars["μ"] = cfg.momentum
        buf = slots.get("momentum_buffer")
        if buf is None:
            buf = g.detach().clone()
            _line(lines, "b", "b = g (the first step starts the buffer)", buf)
        else:
            buf.mul_(cfg.momentum).add_(g, alpha=1)
            _line(lines, "b", "b = μ·b + g", buf)
        slots["momentum_buffer"] = buf
        if cfg.nesterov:
            g = g.add(buf, alpha=cfg.momentum)
            _line(lines, "g + μb", "nesterov: the step looks ahead along the buffer", g)
        else:
            g = buf
    before = w.clone()
    w.add_(g, alpha=-cfg.lr)
    _line(lines, "Δw", "−lr·" + ("(g + μb)" if cfg.nesterov else "b" if cfg.momentum else "g"), w - before)
    return step


def _adam(cfg, w, g, slots, step, lines, scalars, sparse, parts=None) -> int:
    b1, b2, lr, wd = cfg.beta1, cfg.beta2, cfg.lr, cfg.weight_decay
    step += 1
    start = w.clone()
    if wd and cfg.optimizer == "adamw":
        w.mul_(1 - lr * wd)
        _line(lines, "decay", f"AdamW's decoupled decay: w·(1 − lr·λ), 1 − lr·λ = {1 - lr * wd:.6g}", w - start)
    elif wd:
        g = _decayed(cfg, w, g, lines)
    m = slots.setdefault("exp_avg", torch.zeros_like(w))
    v = slots.setdefault("exp_avg_sq", torch.zeros_like(w))
    m.lerp_(g, 1 - b1)
    _line(lines, "m", "m = β1·m + (1 − β1)·g", m)
    v.mul_(b2).addcmul_(g, g, value=1 - b2)
    _line(lines, "v", "v = β2·v + (1 − β2)·g²", v)
    bc1, bc2 = 1 - b1**step, 1 - b2**step
    step_size, bc2_sqrt = lr / bc1, bc2**0.5
    scalars.update({"t": step, "1 − β1^t": bc1, "1 − β2^t": bc2, "lr / (1 − β1^t)": step_size})
    _line(lines, "m̂", "m / (1 − β1^t)", m / bc1)
    denom = (v.sqrt() / bc2_sqrt).add_(ADAM_EPS)
    _line(lines, "√v̂ + ε", f"√(v / (1 − β2^t)) + ε, ε = {ADAM_EPS:g}", denom)
    before = w.clone()
    w.addcdiv_(m, denom, value=-step_size)
    _line(lines, "Δw", "−lr·m̂ / (√v̂ + ε)", w - before)
    return step


def _sparse_adam(cfg, w, g, slots, step, lines, scalars, sparse, parts=None) -> int:
    b1, b2, lr = cfg.beta1, cfg.beta2, cfg.lr
    step += 1
    old_m = slots.get("exp_avg", torch.zeros_like(w))
    old_v = slots.get("exp_avg_sq", torch.zeros_like(w))
    m_update = g.sub(old_m).mul_(1 - b1)
    slots["exp_avg"] = old_m + m_update
    _line(lines, "m", "m = m + (1 − β1)·(g − m): only rows in the sparse gradient", slots["exp_avg"])
    v_update = g.pow(2).sub_(old_v).mul_(1 - b2)
    slots["exp_avg_sq"] = old_v + v_update
    _line(lines, "v", "v = v + (1 − β2)·(g² − v)", slots["exp_avg_sq"])
    numer = m_update.add_(old_m)
    denom = v_update.add_(old_v).sqrt_().add_(ADAM_EPS)
    _line(lines, "√v + ε", f"ε = {ADAM_EPS:g}", denom)
    bc1, bc2 = 1 - b1**step, 1 - b2**step
    step_size = lr * math.sqrt(bc2) / bc1
    scalars.update({"t": step, "1 − β1^t": bc1, "1 − β2^t": bc2, "lr·√(1 − β2^t) / (1 − β1^t)": step_size})
    delta = -step_size * numer.div_(denom)
    w.add_(delta)
    _line(lines, "Δw", "−lr·√(1 − β2^t)/(1 − β1^t) · m / (√v + ε)", delta)
    return step


def _adagrad(cfg, w, g, slots, step, lines, scalars, sparse, parts=None) -> int:
    step += 1
    g = _decayed(cfg, w, g, lines)
    clr = cfg.lr / (1 + (step - 1) * 0.0)  # torch's lr_decay, 0 by default: the rate shrinks only through the sum
    scalars.update({"t": step, "lr / (1 + (t − 1)·lr_decay)": clr})
    total = slots.setdefault("sum", torch.zeros_like(w))
    before = w.clone()
    if sparse:  # torch's sparse and dense paths: the same sums, in other ops
        total.add_(g.pow(2))
    else:
        total.addcmul_(g, g, value=1)
    _line(lines, "G", "G = G + g² (the running sum of squares)", total)
    std = total.sqrt().add_(ADAGRAD_EPS)
    _line(lines, "√G + ε", f"ε = {ADAGRAD_EPS:g}", std)
    if sparse:
        w.add_(g / std, alpha=-clr)
    else:
        w.addcdiv_(g, std, value=-clr)
    _line(lines, "Δw", "−lr·g / (√G + ε)", w - before)
    return step


def _rmsprop(cfg, w, g, slots, step, lines, scalars, sparse, parts=None) -> int:
    step += 1
    g = _decayed(cfg, w, g, lines)
    scalars.update({"α": RMSPROP_ALPHA})
    sq = slots.setdefault("square_avg", torch.zeros_like(w))
    sq.mul_(RMSPROP_ALPHA).addcmul_(g, g, value=1 - RMSPROP_ALPHA)
    _line(lines, "s", "s = α·s + (1 − α)·g²", sq)
    avg = sq.sqrt().add_(RMSPROP_EPS)
    _line(lines, "√s + ε", f"ε = {RMSPROP_EPS:g}", avg)
    before = w.clone()
    if cfg.momentum:
        scalars["μ"] = cfg.momentum
        buf = slots.setdefault("momentum_buffer", torch.zeros_like(w))
        buf.mul_(cfg.momentum).addcdiv_(g, avg)
        _line(lines, "b", "b = μ·b + g / (√s + ε)", buf)
        w.add_(buf, alpha=-cfg.lr)
        _line(lines, "Δw", "−lr·b", w - before)
    else:
        w.addcdiv_(g, avg, value=-cfg.lr)
        _line(lines, "Δw", "−lr·g / (√s + ε)", w - before)
    return step


_RULES = {"sgd": _sgd, "adam": _adam, "adamw": _adam, "sparse_adam": _sparse_adam, "adagrad": _adagrad,
          "rmsprop": _rmsprop}  # fmt: skip


def state_only_moves(cfg: TrainConfig, move: RowMove, n_steps: int) -> np.ndarray:
    """(n_steps,) |Δw| of the row over the next steps with no gradient or decay: the state's own, decaying move."""
    plain = cfg.replace(weight_decay=0.0, max_norm=None)
    zeros, state, w, norms = np.zeros_like(move.grad), move.after, move.w_after, []
    for _ in range(n_steps):
        nxt = row_move(plain, w, zeros, state, looked_up=False, present=False)
        norms.append(float(np.linalg.norm(nxt.move.astype(np.float64))))
        state, w = nxt.after, nxt.w_after
    return np.asarray(norms)


def row_state(optimizer: torch.optim.Optimizer, param: torch.Tensor, row: int) -> RowState:
    """One row's slice of a torch optimizer's state for `param`: its step count and each (V, D) slot's row."""
    state = optimizer.state.get(param, {})
    step = state.get("step", 0)
    slots = {k: v[row].detach().cpu().numpy().copy() for k, v in state.items() if torch.is_tensor(v) and v.dim() == 2}
    return RowState(int(step.item() if torch.is_tensor(step) else step), slots)
