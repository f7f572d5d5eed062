"""TrainConfig: every setting of a run, validated up front so a bad value never reaches torch."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from core.budget import run_bytes
from core.corpus import count_words
from core.errors import ConfigError
from core.limits import (
    MAX_BATCH,
    MAX_CONTEXT,
    MAX_CORPUS_CHARS,
    MAX_DIM,
    MAX_HEADS,
    MAX_LAYERS,
    MAX_LR,
    MAX_NEGATIVES,
    MAX_VOCAB,
    MAX_WINDOW,
    MEMORY_BUDGET_BYTES,
)
from core.optimizers import BASE_DIM, OPTIMIZERS, optimizer_defaults

INITS = {
    "normal": "N(0, 1), PyTorch's default for nn.Embedding",
    "small_normal": "N(0, 0.02), as GPT-2 initialises its token table",
    "uniform": "U(-1, 1)",
    "xavier": "Xavier/Glorot uniform: U(-a, a), a = sqrt(6 / (V + D))",
    "zeros": "all zeros: every row starts equal",
}
# The model that trains the table (core.model.MODEL_CLASSES builds each): the same nn.Embedding in every one.
MODELS = {
    "skipgram": "Skip-gram, full softmax: the centre's row is scored against every head row",
    "sgns": "Skip-gram with negative sampling (word2vec): the true context and k sampled rows, sigmoid loss",
    "gpt": "A small GPT: token and positional tables, causal transformer blocks, next-token prediction",
}


@dataclass(frozen=True)
class TrainConfig:
    """One training run: the table's shape, the optimizer, the batches and the corpus."""

    vocab_size: int = 60
    dim: int = 16
    optimizer: str = "adam"
    lr: float | None = None  # None: the optimizer's default for the table's dim (core.optimizers.default_lr_for)
    momentum: float = 0.0
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float | None = None  # None: the optimizer's default (torch's: AdamW 0.01, others 0)
    batch_size: int = 64
    seed: int = 0
    init: str = "normal"
    padding_idx: int | None = None
    max_norm: float | None = None
    sparse: bool = False
    tie_weights: bool = False
    window: int = 2
    corpus_text: str | None = None
    model: str = "skipgram"  # one of MODELS
    negatives: int = 5  # SGNS's k: sampled context rows per (centre, context) pair
    context: int = 8  # GPT: the window's length T (and the positional table's rows)
    layers: int = 1  # GPT: transformer blocks
    heads: int = 2  # GPT: attention heads per block (the width D must divide into them)

    def __post_init__(self) -> None:
        if isinstance(self.optimizer, str) and self.optimizer in OPTIMIZERS:  # else _check_optimizer says so
            defaults = optimizer_defaults(self.optimizer, self.dim if _is_int(self.dim) and self.dim > 0 else BASE_DIM)
            for name in ("lr", "weight_decay"):
                if getattr(self, name) is None:
                    object.__setattr__(self, name, defaults[name])  # frozen: resolved once, here
        for check in _CHECKS:
            check(self)

    @property
    def sparse_grad(self) -> bool:
        """Whether the embedding makes sparse gradients: asked for, or implied by SparseAdam."""
        return self.sparse or self.optimizer == "sparse_adam"

    @property
    def gpt_context(self) -> int | None:
        """T, the length of a GPT's (B, T) windows, whose lookups a record lists window by window; None for the
        skip-gram models, whose lookups are one per pair."""
        return self.context if self.model == "gpt" else None

    @property
    def blind_loss(self) -> float:
        """The loss of a model that knows nothing (every score 0): ln V for the full softmax (1/V for every token),
        (k+1) ln 2 for SGNS (sigmoid 1/2 for the true context and for each of the k negatives)."""
        return (self.negatives + 1) * math.log(2.0) if self.model == "sgns" else math.log(self.vocab_size)

    @property
    def blind_name(self) -> str:
        """How a sentence names blind_loss: "ln V", or negative sampling's "6 ln 2" (k = 5)."""
        return f"{self.negatives + 1} ln 2" if self.model == "sgns" else "ln V"

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed (validated like any other). It keeps this config's resolved lr and
        weight_decay unless `changes` names them: pass `lr=None, weight_decay=None` for a new optimizer's defaults."""
        return TrainConfig(**{**asdict(self), **changes})

    def memory_bytes(self) -> int:
        """Bytes this run holds and allocates at its peak: core.budget.run_bytes(self).total."""
        return run_bytes(self).total


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int_in(cfg: TrainConfig, name: str, low: int, high: int, what: str) -> None:
    value = getattr(cfg, name)
    if not _is_int(value):
        raise ConfigError(name, f"{what} must be a whole number, got {value!r}.")
    if not low <= value <= high:
        raise ConfigError(name, f"{what} must be between {low:,} and {high:,}; you asked for {value:,}.")


def _check_sizes(cfg: TrainConfig) -> None:
    _int_in(cfg, "vocab_size", 2, MAX_VOCAB, "Vocabulary size")
    _int_in(cfg, "dim", 1, MAX_DIM, "Embedding dimension")
    _int_in(cfg, "batch_size", 1, MAX_BATCH, "Batch size")
    _int_in(cfg, "window", 1, MAX_WINDOW, "Context window")
    _int_in(cfg, "seed", 0, 2**31 - 1, "Seed")


def _check_optimizer(cfg: TrainConfig) -> None:
    if cfg.optimizer not in OPTIMIZERS:
        names = ", ".join(OPTIMIZERS)
        raise ConfigError("optimizer", f"Unknown optimizer {cfg.optimizer!r}; choose one of: {names}.")
    if not _is_number(cfg.lr) or not math.isfinite(cfg.lr) or not 0 < cfg.lr <= MAX_LR:
        raise ConfigError(
            "lr", f"Learning rate must be a number above 0 and at most {MAX_LR:g}; you asked for {cfg.lr!r}."
        )
    if not _is_number(cfg.momentum) or not 0 <= cfg.momentum < 1:
        raise ConfigError("momentum", f"Momentum must be in [0, 1); you asked for {cfg.momentum!r}.")
    for name in ("beta1", "beta2"):
        value = getattr(cfg, name)
        if not _is_number(value) or not 0 <= value < 1:
            raise ConfigError(name, f"Adam's {name} must be in [0, 1); you asked for {value!r}.")
    if not _is_number(cfg.weight_decay) or not math.isfinite(cfg.weight_decay) or cfg.weight_decay < 0:
        raise ConfigError(
            "weight_decay", f"Weight decay must be 0 or a positive number; you asked for {cfg.weight_decay!r}."
        )
    if cfg.nesterov and (cfg.optimizer != "sgd" or cfg.momentum == 0):
        raise ConfigError("nesterov", "Nesterov momentum needs the SGD optimizer and a momentum above 0.")


def _check_model(cfg: TrainConfig) -> None:
    if cfg.model not in MODELS:
        raise ConfigError("model", f"Unknown model {cfg.model!r}; choose one of: {', '.join(MODELS)}.")
    _int_in(cfg, "negatives", 1, MAX_NEGATIVES, "The number of negatives k (sampled rows per pair)")
    _int_in(cfg, "context", 2, MAX_CONTEXT, "The context length T (tokens per window)")
    _int_in(cfg, "layers", 1, MAX_LAYERS, "The number of transformer blocks")
    _int_in(cfg, "heads", 1, MAX_HEADS, "The number of attention heads")
    if cfg.model == "gpt" and _is_int(cfg.dim) and cfg.dim % cfg.heads:
        raise ConfigError(
            "heads",
            f"A width of {cfg.dim} does not split into {cfg.heads} attention heads (each head takes D / heads "
            f"dimensions). Choose a number of heads that divides {cfg.dim}, such as "
            f"{max(h for h in range(1, min(cfg.heads, cfg.dim) + 1) if cfg.dim % h == 0)}.",
        )


def _check_embedding(cfg: TrainConfig) -> None:
    if cfg.init not in INITS:
        raise ConfigError("init", f"Unknown init {cfg.init!r}; choose one of: {', '.join(INITS)}.")
    if cfg.padding_idx is not None:
        if not _is_int(cfg.padding_idx) or not 0 <= cfg.padding_idx < cfg.vocab_size:
            raise ConfigError(
                "padding_idx",
                f"padding_idx must be a row of the table, 0 to {cfg.vocab_size - 1}, or empty for none; "
                f"you asked for {cfg.padding_idx!r}.",
            )
        if cfg.vocab_size < 3:
            raise ConfigError("padding_idx", "A padding row needs a vocabulary of at least 3 tokens.")
    if cfg.max_norm is not None and (
        not _is_number(cfg.max_norm) or not math.isfinite(cfg.max_norm) or cfg.max_norm <= 0
    ):
        raise ConfigError(
            "max_norm", f"max_norm must be a positive number, or empty for none; you asked for {cfg.max_norm!r}."
        )


def _check_sparse(cfg: TrainConfig) -> None:
    if not cfg.sparse_grad:
        return
    spec = OPTIMIZERS[cfg.optimizer]
    if not spec.sparse_ok:
        raise ConfigError(
            "sparse",
            f"{spec.label} cannot take sparse gradients. Turn 'sparse' off, or pick SGD, Adagrad or SparseAdam.",
        )
    if cfg.tie_weights:
        why = (
            "A tied head's gradient here is dense (the sampled context rows are gathered from the table itself)"
            if cfg.model == "sgns"
            else "A tied output head gives every row a dense gradient"
        )
        raise ConfigError(
            "tie_weights",
            f"{why}, so sparse gradients cannot be used. "
            "Untie the head, or turn 'sparse' off and pick a dense optimizer.",
        )
    if cfg.weight_decay:
        raise ConfigError(
            "weight_decay", f"{spec.label} with sparse gradients has no weight decay in PyTorch; set it to 0."
        )
    if cfg.optimizer == "sgd" and cfg.momentum:
        raise ConfigError(
            "momentum", "SGD with sparse gradients takes no momentum here; set momentum to 0 or turn 'sparse' off."
        )


def _check_corpus(cfg: TrainConfig) -> None:
    text = cfg.corpus_text
    if text is None:
        return
    if not isinstance(text, str):
        raise ConfigError("corpus_text", "Your text must be a string (paste it, or upload a .txt file).")
    if len(text) > MAX_CORPUS_CHARS:
        raise ConfigError(
            "corpus_text",
            f"Your text has {len(text):,} characters; the limit is {MAX_CORPUS_CHARS:,}. Use a shorter excerpt.",
        )
    n_words, n_distinct = count_words(text)
    needed = max(2 * cfg.window + 2, cfg.context + 1 if cfg.model == "gpt" else 0)  # a GPT's window and its target
    if n_distinct < 2 or n_words < needed:
        raise ConfigError(
            "corpus_text",
            f"Your text has {n_words} words ({n_distinct} different); training needs at least "
            f"{needed} words and 2 different ones. Paste a longer text.",
        )


def _check_memory(cfg: TrainConfig) -> None:
    parts = run_bytes(cfg)
    if parts.total <= MEMORY_BUDGET_BYTES:
        return
    gib, budget = parts.total / 1024**3, MEMORY_BUDGET_BYTES / 1024**3
    if parts.batch_by_vocab >= parts.table_sized and cfg.model != "sgns":
        gpt = cfg.model == "gpt"
        batch = f"{cfg.batch_size:,} windows of {cfg.context:,} tokens" if gpt else f"{cfg.batch_size:,}"
        positions = f"{cfg.batch_size * cfg.context:,}" if gpt else f"{cfg.batch_size:,}"
        raise ConfigError(
            "batch_size",
            f"A batch of {batch} over a vocabulary of {cfg.vocab_size:,} needs {gib:.2f} GiB in all: "
            f"each step scores every token for every batch position ({positions} x {cfg.vocab_size:,} "
            f"logits, {parts.batch_by_vocab / 1024**3:.2f} GiB with their gradients). This app's budget is "
            f"{budget:.0f} GiB per run. Choose a smaller batch"
            + (", context or vocabulary." if gpt else " or vocabulary."),
        )
    raise ConfigError(
        "vocab_size",
        f"A {cfg.vocab_size:,} x {cfg.dim:,} table with {OPTIMIZERS[cfg.optimizer].label} needs {gib:.2f} GiB "
        f"in all ({parts.tables / 1024**3:.2f} GiB for weights, gradients and optimizer state, the rest for "
        f"the step's buffers, history and snapshots); this app's budget is {budget:.0f} GiB per run. "
        "Choose a smaller vocabulary or dimension" + ("." if cfg.tie_weights else ", or tie the output head."),
    )


_CHECKS = (_check_sizes, _check_model, _check_optimizer, _check_embedding, _check_sparse, _check_corpus, _check_memory)


def largest_vocab_that_fits(cfg: TrainConfig, budget_bytes: int) -> int | None:
    """The largest vocabulary size, at most cfg's, whose run with cfg's other settings needs at most
    `budget_bytes` (core.budget.run_bytes); None when even the smallest table does not fit."""
    low = max(2, 3 if cfg.padding_idx is not None else 2, (cfg.padding_idx or 0) + 1)
    fits = lambda v: run_bytes(cfg.replace(vocab_size=v)).total <= budget_bytes  # noqa: E731  # grows with V
    if low > cfg.vocab_size or not fits(low):
        return None
    high = cfg.vocab_size
    while low < high:  # invariant: fits(low)
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(mid) else (low, mid - 1)
    return low
