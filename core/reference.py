"""Published token-table sizes of well-known language models, and what such a table costs.

Sources (vocabulary, model width, context, tying), as published by each model's authors:
- GPT-1: Radford et al. 2018, "Improving Language Understanding by Generative Pre-Training" (40,478 BPE
  tokens, 768 wide, 512 context; the released config has vocab_size 40478, n_embd 768, n_ctx 512).
- GPT-2: Radford et al. 2019, "Language Models are Unsupervised Multitask Learners", Table 2 (d_model 768,
  1,024, 1,280, 1,600; vocabulary 50,257; context 1,024; the output layer reuses the token table).
- GPT-3: Brown et al. 2020, "Language Models are Few-Shot Learners", Table 2.1 (d_model 768 for 125M,
  12,288 for 175B; the GPT-2 tokenizer's 50,257 tokens; context 2,048).
- GPT-4: OpenAI 2023, "GPT-4 Technical Report" publishes no architecture; its tokenizer (tiktoken's
  cl100k_base) has 100,256 tokens. Its width is unknown, so no table size is given.
- Llama 2: Touvron et al. 2023, "Llama 2: Open Foundation and Fine-Tuned Chat Models" (32,000 tokens;
  4,096 / 5,120 / 8,192 wide for 7B / 13B / 70B; context 4,096; untied output layer).
- Llama 3: Llama Team, Meta 2024, "The Llama 3 Herd of Models", Table 3 (128,000 tokens, 128,256 rows in
  the released tables; 4,096 / 8,192 / 16,384 wide for 8B / 70B / 405B; context 8,192, 128K from 3.1;
  untied output layer)."""

from __future__ import annotations

from dataclasses import dataclass


class _Shares:
    """The vocabulary's and the token table's shares of a model's parameters (None where a size is unpublished)."""

    @property
    def share(self) -> float | None:
        """The vocabulary's share of the whole model's parameters: the table, plus a separate output layer."""
        spent = self.vocab_params
        return None if spent is None else spent / self.total_params

    @property
    def table_share(self) -> float | None:
        table = self.table_params
        return None if table is None else table / self.total_params


@dataclass(frozen=True)
class ModelTable(_Shares):
    """One published model's token embedding table."""

    model: str
    year: int
    vocab_size: int
    dim: int | None  # None: not published
    context: int
    total_params: float  # the whole model, as published
    tied: bool  # the output layer reuses the token table

    @property
    def table_params(self) -> int | None:
        return None if self.dim is None else self.vocab_size * self.dim

    @property
    def vocab_params(self) -> int | None:
        """Parameters spent on the vocabulary: the table, plus the output layer when it is separate."""
        table = self.table_params
        return None if table is None else table * (1 if self.tied else 2)


MODELS: tuple[ModelTable, ...] = (
    ModelTable("GPT-1", 2018, 40_478, 768, 512, 117e6, tied=True),
    ModelTable("GPT-2 small", 2019, 50_257, 768, 1_024, 124e6, tied=True),
    ModelTable("GPT-2 medium", 2019, 50_257, 1_024, 1_024, 355e6, tied=True),
    ModelTable("GPT-2 large", 2019, 50_257, 1_280, 1_024, 774e6, tied=True),
    ModelTable("GPT-2 XL", 2019, 50_257, 1_600, 1_024, 1.558e9, tied=True),
    ModelTable("GPT-3 125M", 2020, 50_257, 768, 2_048, 125e6, tied=True),
    ModelTable("GPT-3 175B", 2020, 50_257, 12_288, 2_048, 175e9, tied=True),
    ModelTable("GPT-4", 2023, 100_256, None, 8_192, float("nan"), tied=False),
    ModelTable("Llama 2 7B", 2023, 32_000, 4_096, 4_096, 6.74e9, tied=False),
    ModelTable("Llama 2 70B", 2023, 32_000, 8_192, 4_096, 68.98e9, tied=False),
    ModelTable("Llama 3 8B", 2024, 128_256, 4_096, 8_192, 8.03e9, tied=False),
    ModelTable("Llama 3 70B", 2024, 128_256, 8_192, 8_192, 70.6e9, tied=False),
    ModelTable("Llama 3 405B", 2024, 128_256, 16_384, 8_192, 405.9e9, tied=False),
)

BYTES_PER_VALUE = {"fp32": 4, "bf16": 2}
ADAM_STATE_VALUES = 2  # exp_avg and exp_avg_sq per trained value


def table_bytes(vocab_size: int, dim: int, dtype: str = "fp32") -> int:
    return vocab_size * dim * BYTES_PER_VALUE[dtype]


def training_bytes(vocab_size: int, dim: int, tied: bool, optimizer_state_values: int = ADAM_STATE_VALUES) -> int:
    """fp32 bytes to train the vocabulary's tables: weights, gradients and optimizer state."""
    tables = 1 if tied else 2
    return tables * vocab_size * dim * 4 * (2 + optimizer_state_values)


@dataclass(frozen=True)
class RunTable(_Shares):
    """The user's own model, counted from its parameters the way MODELS counts published ones."""

    vocab_size: int
    dim: int
    table_params: int
    head_params: int  # 0 when the head is the table itself (tied)
    total_params: int  # every parameter of the model, a shared one counted once
    tied: bool  # the output layer is the token table (the same tensor)
    position_params: int = 0  # a GPT's positional table (its blocks are the rest of total_params)

    @property
    def vocab_params(self) -> int:
        return self.table_params + self.head_params


def run_table(model) -> RunTable:
    """Count a core.model.TokenModel's parameters: its table, its head (if separate) and the whole model."""
    table, head = model.embedding.weight, model.head_weight
    tied = head is table or head.data_ptr() == table.data_ptr()
    vocab_size, dim = table.shape
    return RunTable(
        vocab_size=int(vocab_size),
        dim=int(dim),
        table_params=int(table.numel()),
        head_params=0 if tied else int(head.numel()),
        total_params=int(sum(p.numel() for p in model.parameters())),  # parameters() yields a shared one once
        tied=bool(tied),
        position_params=0 if model.positions is None else int(model.positions.weight.numel()),
    )
