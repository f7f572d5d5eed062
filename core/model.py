"""The models under the microscope, each one nn.Embedding token table and a head, and the torch optimizers that
train them (built from core.optimizers' table). `MODEL_CLASSES` names a class for each config.MODELS key.

- "skipgram": word2vec's skip-gram with a full softmax: the centre token's row is looked up and scored against
  every row of the head; the loss asks the head to rank the context token first. With a tied head (as in GPT-2)
  the head *is* the embedding matrix, so every row appears in every step's gradient.
- "sgns": skip-gram with negative sampling (word2vec's objective): the centre's row is scored against the true
  context's head row and k head rows drawn from the unigram distribution to the 3/4 power, with a sigmoid loss,
  so only those k+1 head rows per pair get a gradient.
"""

from __future__ import annotations

import math

import numpy as np
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

    def loss(
        self, centres: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(mean loss, the looked-up rows (B, D), the gathered head rows or None: every head row is scored)."""
        logits, hidden = self(centres)  # (B, V), (B, D)
        return skipgram_loss(logits, targets), hidden, None


class SGNS(SkipGram):
    """Skip-gram with negative sampling: the same token table, and a head (word2vec's "context vectors") of which
    each pair gathers only its true context's row and its k negatives' rows. Tied, the head is the table. The head
    starts as the full softmax's does, N(0, 1/D) (word2vec.c starts its context vectors at 0)."""

    def forward(
        self, centres: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Scores of the true context (column 0) and of the k negatives, the looked-up rows and the gathered ones."""
        hidden = self.embedding(centres)  # (B, D); max_norm rescales the centres' rows here, before the gather
        context_ids = torch.cat([targets[:, None], negatives], dim=1)  # (B, k+1)
        context = self.head_weight[context_ids]  # (B, k+1, D) a gather: its backward adds into those rows only
        scores = torch.einsum("bd,bkd->bk", hidden, context)  # (B, k+1)
        return scores, hidden, context

    def loss(
        self, centres: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(mean over pairs of -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c), the looked-up rows, the gathered rows)."""
        scores, hidden, context = self(centres, targets, negatives)
        return sgns_loss(scores), hidden, context


MODEL_CLASSES = {"skipgram": SkipGram, "sgns": SGNS}  # config.MODELS' keys


def build_model(cfg: TrainConfig) -> SkipGram:
    """The model cfg.model names, its token table and head initialised from cfg.seed."""
    return MODEL_CLASSES[cfg.model](cfg)


def skipgram_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of predicting each context token from its centre token."""
    return nn.functional.cross_entropy(logits, targets)


def sgns_loss(scores: torch.Tensor) -> torch.Tensor:
    """word2vec's negative-sampling objective, averaged over pairs: -log σ(s_0) - Σ_{j>0} log σ(-s_j). (B, k+1)."""
    logsig = nn.functional.logsigmoid
    return -(logsig(scores[:, 0]) + logsig(-scores[:, 1:]).sum(dim=1)).mean()


NOISE_POWER = 0.75  # word2vec's noise distribution: unigram counts to the 3/4 power (Mikolov et al. 2013,
# "Distributed Representations of Words and Phrases and their Compositionality", section 2.2)


def noise_cdf(token_freq: np.ndarray) -> np.ndarray:
    """The cumulative noise distribution over the V rows, float64 (V,): freq^0.75, normalised. A row whose token
    never occurs in the corpus has probability 0 and is never drawn."""
    weights = np.asarray(token_freq, dtype=np.float64) ** NOISE_POWER
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0  # rounding: every uniform draw in [0, 1) lands on a row
    return cdf


def draw_negatives(cdf: np.ndarray, rng: np.random.Generator, n_pairs: int, k: int) -> np.ndarray:
    """(n_pairs, k) int64 rows drawn independently from the noise distribution, with the run's generator. As in
    most implementations (and unlike word2vec.c, which skips it), a draw may equal the pair's true context."""
    return np.searchsorted(cdf, rng.random((n_pairs, k)), side="right").astype(np.int64)


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
