"""The models under the microscope, each one nn.Embedding token table and a head, and the torch optimizers that
train them (built from core.optimizers' table). `MODEL_CLASSES` names a class for each config.MODELS key.

- "skipgram": word2vec's skip-gram with a full softmax: the centre token's row is looked up and scored against
  every row of the head; the loss asks the head to rank the context token first. With a tied head (as in GPT-2)
  the head *is* the embedding matrix, so every row appears in every step's gradient.
- "sgns": skip-gram with negative sampling (word2vec's objective): the centre's row is scored against the true
  context's head row and k head rows drawn from the unigram distribution to the 3/4 power, with a sigmoid loss,
  so only those k+1 head rows per pair get a gradient.
- "gpt": a small decoder-only transformer (GPT-2's layout at toy size): the token table and a positional table
  `nn.Embedding(T, D)` are looked up and added, pre-norm causal blocks (torch's nn.TransformerEncoderLayer with a
  causal mask) and a final LayerNorm follow, and a head (tied to the token table as in GPT-2, or not) scores every
  token at every position for next-token prediction.
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


def token_table(cfg: TrainConfig, generator: torch.Generator) -> nn.Embedding:
    """The (V, D) token table under the microscope, the same nn.Embedding in every model, initialised by cfg.init.
    Built uninitialised (`_weight`): the default init would fill it with random numbers init_table overwrites."""
    table = nn.Embedding(
        cfg.vocab_size,
        cfg.dim,
        padding_idx=cfg.padding_idx,
        max_norm=cfg.max_norm,
        sparse=cfg.sparse_grad,
        _weight=torch.empty(cfg.vocab_size, cfg.dim),
    )
    init_table(table.weight, cfg.init, generator)
    if cfg.padding_idx is not None:
        with torch.no_grad():
            table.weight[cfg.padding_idx].zero_()  # as nn.Embedding does for its own init
    return table


def untied_head(cfg: TrainConfig, generator: torch.Generator) -> nn.Linear | None:
    """A (V, D) output head of its own, N(0, 1/D), or None when it is tied to the token table."""
    if cfg.tie_weights:
        return None
    head = torch.nn.utils.skip_init(nn.Linear, cfg.dim, cfg.vocab_size, bias=False)  # (V, D), as the table
    with torch.no_grad():
        head.weight.normal_(0.0, 1.0 / math.sqrt(cfg.dim), generator=generator)
    return head


class TokenModel(nn.Module):
    """What every model has: `embedding`, the token table, and `head`, an untied output head or None (tied)."""

    embedding: nn.Embedding
    head: nn.Linear | None
    positions: nn.Embedding | None  # a GPT's positional table; a skip-gram has none (SkipGram.positions)

    @property
    def head_weight(self) -> torch.Tensor:
        return self.embedding.weight if self.head is None else self.head.weight  # (V, D)


class SkipGram(TokenModel):
    """Embedding lookup followed by a (possibly tied) linear head without bias."""

    positions = None  # a class attribute: on a GPT it would shadow the registered nn.Embedding

    def __init__(self, cfg: TrainConfig):
        super().__init__()
        generator = torch.Generator().manual_seed(cfg.seed)
        self.embedding = token_table(cfg, generator)
        self.head = untied_head(cfg, generator)

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


GPT2_POSITION_STD = 0.02  # GPT-2 initialises its positional table N(0, 0.02^2) (initializer_range in its config)


class GPT(TokenModel):
    """A decoder-only transformer around the same token table: token rows plus position rows, `cfg.layers` pre-norm
    causal blocks of `cfg.heads` heads (width D, feed-forward 4D, GELU, no dropout, as GPT-2), a final LayerNorm,
    and a head over the vocabulary. Its batches are (B, T) windows; position t is trained to predict token t + 1."""

    def __init__(self, cfg: TrainConfig):
        super().__init__()
        generator = torch.Generator().manual_seed(cfg.seed)
        self.embedding = token_table(cfg, generator)
        self.positions = nn.Embedding(cfg.context, cfg.dim, _weight=torch.empty(cfg.context, cfg.dim))
        with torch.no_grad():
            self.positions.weight.normal_(0.0, GPT2_POSITION_STD, generator=generator)
        with torch.random.fork_rng(devices=[]):  # torch's layers initialise from the global generator: seed it
            torch.manual_seed(cfg.seed)
            block = nn.TransformerEncoderLayer(
                cfg.dim, cfg.heads, 4 * cfg.dim, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
            )
            self.blocks = nn.TransformerEncoder(block, cfg.layers, enable_nested_tensor=False)  # deep copies
            self.norm = nn.LayerNorm(cfg.dim)
        self.head = untied_head(cfg, generator)
        self.ignore_index = -100 if cfg.padding_idx is None else cfg.padding_idx  # padding is never a target
        self.register_buffer("causal", nn.Transformer.generate_square_subsequent_mask(cfg.context), persistent=False)

    def forward(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, T, V) for the next token at every position, and the looked-up token rows (B, T, D)."""
        length = windows.shape[1]
        tokens = self.embedding(windows)  # (B, T, D): max_norm rescales the looked-up rows here
        where = torch.arange(length, device=windows.device)
        x = tokens + self.positions(where)  # (B, T, D): every position row below T, every window
        x = self.blocks(x, mask=self.causal[:length, :length], is_causal=True)
        return self.norm(x) @ self.head_weight.T, tokens

    def loss(
        self, windows: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, None]:
        """(mean next-token cross-entropy over the B x T positions, the looked-up token rows (B, T, D), None)."""
        logits, tokens = self(windows)
        flat = logits.reshape(-1, logits.shape[-1])
        return nn.functional.cross_entropy(flat, targets.reshape(-1), ignore_index=self.ignore_index), tokens, None


MODEL_CLASSES = {"skipgram": SkipGram, "sgns": SGNS, "gpt": GPT}  # config.MODELS' keys


def build_model(cfg: TrainConfig) -> TokenModel:
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
    embedding: nn.Parameter, others: list[nn.Parameter], cfg: TrainConfig
) -> list[torch.optim.Optimizer]:
    """The optimizers of a run: one param group, the token table first, then every other parameter (an untied
    head, a GPT's positional table and blocks). SparseAdam takes only the table; the others then get a dense Adam."""
    if cfg.optimizer == "sparse_adam":
        optimizers = [torch.optim.SparseAdam([embedding], lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))]
        if others:
            optimizers.append(_torch_optimizer("adam", others, cfg))
        return optimizers
    return [_torch_optimizer(cfg.optimizer, [embedding, *others], cfg)]


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
