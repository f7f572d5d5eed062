"""The optimizer registry: one entry per optimizer the app offers, name -> factory and capabilities."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from core.config import TrainConfig

Params = Iterable[torch.nn.Parameter]


@dataclass(frozen=True)
class OptimizerSpec:
    """What the app needs to know about one optimizer."""

    label: str
    factory: Callable[[Params, TrainConfig], torch.optim.Optimizer]
    default_lr: float  # the app's tuned default: learns the default table within ~100 steps
    sparse_ok: bool  # accepts the sparse gradients of nn.Embedding(sparse=True)
    uses_momentum: bool  # the momentum field means something
    uses_betas: bool
    summary: str
    default_weight_decay: float = 0.0  # torch's default (AdamW: 0.01)


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


def _sgd(params: Params, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay
    )


def _adam(params: Params, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)


def _adamw(params: Params, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)


def _sparse_adam(params: Params, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.SparseAdam(list(params), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))


def _adagrad(params: Params, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.Adagrad(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _rmsprop(params: Params, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(
        "SGD", _sgd, 0.5, sparse_ok=True, uses_momentum=True, uses_betas=False,
        summary="w -= lr * grad (plus momentum and weight decay if set): with neither, only used rows move.",
    ),
    "adam": OptimizerSpec(
        "Adam", _adam, 0.05, sparse_ok=False, uses_momentum=False, uses_betas=True,
        summary="Running means of grad and grad^2: rows keep moving for many steps after their last gradient.",
    ),
    "adamw": OptimizerSpec(
        "AdamW", _adamw, 0.05, sparse_ok=False, uses_momentum=False, uses_betas=True,
        summary="Adam plus decoupled weight decay (torch's default 0.01): every row is pulled towards zero "
        "every step, used or not.",
        default_weight_decay=0.01,
    ),
    "sparse_adam": OptimizerSpec(
        "SparseAdam", _sparse_adam, 0.05, sparse_ok=True, uses_momentum=False, uses_betas=True,
        summary="Adam that updates only the rows in this step's sparse gradient (the head gets dense Adam).",
    ),
    "adagrad": OptimizerSpec(
        "Adagrad", _adagrad, 0.5, sparse_ok=True, uses_momentum=False, uses_betas=False,
        summary="Per-value learning rates shrink with the sum of past grad^2: rare rows keep larger steps.",
    ),
    "rmsprop": OptimizerSpec(
        "RMSprop", _rmsprop, 0.01, sparse_ok=False, uses_momentum=True, uses_betas=False,
        summary="Divides by a running RMS of the gradient; with momentum, unused rows keep moving.",
    ),
}  # fmt: skip


def state_slots(name: str, momentum: float) -> int:
    """How many (V, D) state tensors the optimizer keeps per table (for the memory budget)."""
    if name in ("adam", "adamw", "sparse_adam"):
        return 2
    if name == "sgd":
        return 1 if momentum else 0
    if name == "rmsprop":
        return 2 if momentum else 1
    return 1  # adagrad: the running sum of squares


def build_optimizers(
    embedding: torch.nn.Parameter, head: torch.nn.Parameter | None, cfg: TrainConfig
) -> list[torch.optim.Optimizer]:
    """The optimizers of a run. SparseAdam takes only the embedding; the head then gets a dense Adam."""
    spec = OPTIMIZERS[cfg.optimizer]
    if cfg.optimizer == "sparse_adam":
        optimizers = [spec.factory([embedding], cfg)]
        if head is not None:
            optimizers.append(_adam([head], cfg))
        return optimizers
    return [spec.factory([embedding] if head is None else [embedding, head], cfg)]
