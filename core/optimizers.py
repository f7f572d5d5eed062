"""The optimizer table: one entry per optimizer the app offers, with its capabilities, torch's defaults and the
state it keeps. Pure data, importable without torch (core.model builds the torch optimizers from it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

BASE_DIM = 16  # the default table's dimension: default_lr is tuned for it


@dataclass(frozen=True)
class OptimizerSpec:
    """What the app needs to know about one optimizer."""

    label: str
    default_lr: float  # the app's tuned default at D = BASE_DIM (default_lr_for scales it to other dimensions)
    sparse_ok: bool  # accepts the sparse gradients of nn.Embedding(sparse=True)
    uses_momentum: bool  # the momentum field means something
    uses_betas: bool
    summary: str
    default_weight_decay: float = 0.0  # torch's default (AdamW: 0.01)
    adaptive: bool = True  # steps each value by about lr whatever its gradient's size (all but SGD)


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(
        "SGD", 0.5, sparse_ok=True, uses_momentum=True, uses_betas=False,
        summary="w -= lr * grad (plus momentum and weight decay if set): with neither, only used rows move.",
        adaptive=False,
    ),
    "adam": OptimizerSpec(
        "Adam", 0.05, sparse_ok=False, uses_momentum=False, uses_betas=True,
        summary="Running means of grad and grad^2: rows keep moving for many steps after their last gradient.",
    ),
    "adamw": OptimizerSpec(
        "AdamW", 0.05, sparse_ok=False, uses_momentum=False, uses_betas=True,
        summary="Adam plus decoupled weight decay (torch's default 0.01): every row is pulled towards zero "
        "every step, used or not.",
        default_weight_decay=0.01,
    ),
    "sparse_adam": OptimizerSpec(
        "SparseAdam", 0.05, sparse_ok=True, uses_momentum=False, uses_betas=True,
        summary="Adam that updates only the rows in this step's sparse gradient (the head gets dense Adam).",
    ),
    "adagrad": OptimizerSpec(
        "Adagrad", 0.5, sparse_ok=True, uses_momentum=False, uses_betas=False,
        summary="Per-value learning rates shrink with the sum of past grad^2: rare rows keep larger steps.",
    ),
    "rmsprop": OptimizerSpec(
        "RMSprop", 0.01, sparse_ok=False, uses_momentum=True, uses_betas=False,
        summary="Divides by a running RMS of the gradient; with momentum, unused rows keep moving.",
    ),
}  # fmt: skip


def default_lr_for(name: str, dim: int = BASE_DIM) -> float:
    """The app's lr for `name` on a table of dimension `dim`: default_lr, for an adaptive optimizer times
    sqrt(16 / dim) above D = 16, to two significant figures. An adaptive step moves every value by about lr and a
    logit sums D products, so it moves a logit ~sqrt(D) times more: at D = 128, Adam at 0.05 trains a 10,000-row
    table backwards (10.6 -> 12.2 in 100 steps, ln V = 9.21). SGD's step follows its gradient: it keeps its lr."""
    spec = OPTIMIZERS[name]
    lr = spec.default_lr * (math.sqrt(BASE_DIM / max(dim, BASE_DIM)) if spec.adaptive else 1.0)
    return float(f"{lr:.2g}")


def optimizer_defaults(name: str, dim: int = BASE_DIM) -> dict:
    """The settings a run gets for `name` on a table of dimension `dim` unless the user gives others: torch's
    defaults, the app's lr (default_lr_for)."""
    spec = OPTIMIZERS[name]
    return {
        "lr": default_lr_for(name, dim),
        "weight_decay": spec.default_weight_decay,
        "momentum": 0.0,
        "nesterov": False,
        "beta1": 0.9,
        "beta2": 0.999,
    }


def state_slots(name: str, momentum: float) -> int:
    """How many (V, D) state tensors the optimizer keeps per table (for the memory budget)."""
    if name in ("adam", "adamw", "sparse_adam"):
        return 2
    if name == "sgd":
        return 1 if momentum else 0
    if name == "rmsprop":
        return 2 if momentum else 1
    return 1  # adagrad: the running sum of squares
