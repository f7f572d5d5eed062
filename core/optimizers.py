"""The optimizer table: one entry per optimizer the app offers, with its capabilities, torch's defaults and the
state it keeps. Pure data, importable without torch (core.model builds the torch optimizers from it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OptimizerSpec:
    """What the app needs to know about one optimizer."""

    label: str
    default_lr: float  # the app's tuned default: learns the default table within ~100 steps
    sparse_ok: bool  # accepts the sparse gradients of nn.Embedding(sparse=True)
    uses_momentum: bool  # the momentum field means something
    uses_betas: bool
    summary: str
    default_weight_decay: float = 0.0  # torch's default (AdamW: 0.01)


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(
        "SGD", 0.5, sparse_ok=True, uses_momentum=True, uses_betas=False,
        summary="w -= lr * grad (plus momentum and weight decay if set): with neither, only used rows move.",
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


def optimizer_defaults(name: str) -> dict:
    """The settings a run gets for `name` unless the user gives others: torch's defaults, the app's lr."""
    spec = OPTIMIZERS[name]
    return {
        "lr": spec.default_lr,
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
