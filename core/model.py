"""The model under the microscope: nn.Embedding -> output head -> softmax over the vocabulary, and the torch
optimizers that train it (built from core.optimizers' table).

It is word2vec's skip-gram with a full softmax: the centre token's row is looked up and scored against every
row of the head; the loss asks the head to rank the context token first. With a tied head (as in GPT-2) the
head *is* the embedding matrix, so every row appears in every step's gradient.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from core.config import TrainConfig


def device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def init_table(weight: torch.Tensor, init: str, generator: torch.Generator) -> None:
    """Fill a (V, D) table in place with one of config.INITS."""
    with torch.no_grad():
        if init == "normal":
            weight.normal_(0.0, 1.0, generator=generator)
        elif init == "small_normal":
            weight.normal_(0.0, 0.02, generator=generator)
        elif init == "uniform":
            weight.uniform_(-1.0, 1.0, generator=generator)
        elif init == "xavier":
            bound = math.sqrt(6.0 / (weight.shape[0] + weight.shape[1]))
            weight.uniform_(-bound, bound, generator=generator)
        elif init == "zeros":
            weight.zero_()
        else:
            raise ValueError(f"unknown init {init!r}")  # TrainConfig validates this first


class SkipGram(nn.Module):
    """Embedding lookup followed by a (possibly tied) linear head without bias."""

    def __init__(self, cfg: TrainConfig):
        super().__init__()
        generator = torch.Generator().manual_seed(cfg.seed)
        # Built uninitialised (`_weight`, skip_init): the default inits would fill both (V, D) tables with random
        # numbers that init_table and the head's init overwrite at once (at GPT-2's size, a second each).
        self.embedding = nn.Embedding(
            cfg.vocab_size,
            cfg.dim,
            padding_idx=cfg.padding_idx,
            max_norm=cfg.max_norm,
            sparse=cfg.sparse_grad,
            _weight=torch.empty(cfg.vocab_size, cfg.dim),
        )
        init_table(self.embedding.weight, cfg.init, generator)
        if cfg.padding_idx is not None:
            with torch.no_grad():
                self.embedding.weight[cfg.padding_idx].zero_()  # as nn.Embedding does for its own init
        self.head = None
        if not cfg.tie_weights:
            self.head = torch.nn.utils.skip_init(nn.Linear, cfg.dim, cfg.vocab_size, bias=False)
            with torch.no_grad():
                self.head.weight.normal_(0.0, 1.0 / math.sqrt(cfg.dim), generator=generator)

    @property
    def head_weight(self) -> torch.Tensor:
        return self.embedding.weight if self.head is None else self.head.weight  # (V, D)

    def forward(self, centres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits over the vocabulary, and the looked-up rows (kept so their gradient can be read)."""
        hidden = self.embedding(centres)  # (B, D)
        return hidden @ self.head_weight.T, hidden  # (B, V), (B, D)


def skipgram_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of predicting each context token from its centre token."""
    return nn.functional.cross_entropy(logits, targets)


def build_optimizers(
    embedding: nn.Parameter, head: nn.Parameter | None, cfg: TrainConfig
) -> list[torch.optim.Optimizer]:
    """The optimizers of a run. SparseAdam takes only the embedding; the head then gets a dense Adam."""
    if cfg.optimizer == "sparse_adam":
        optimizers = [torch.optim.SparseAdam([embedding], lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))]
        if head is not None:
            optimizers.append(_torch_optimizer("adam", [head], cfg))
        return optimizers
    return [_torch_optimizer(cfg.optimizer, [embedding] if head is None else [embedding, head], cfg)]


def _torch_optimizer(name: str, params: list[nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    lr, betas, wd = cfg.lr, (cfg.beta1, cfg.beta2), cfg.weight_decay
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=wd)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=cfg.momentum, weight_decay=wd)
    raise ValueError(f"unknown optimizer {name!r}")  # TrainConfig validates this first
