"""Does a bigger model learn better embeddings? A family of models of growing size (small GPTs, and skip-gram at
the same widths) trained on the user's corpus with the same seed and the same number of tokens, each scored on
held-out data it never trained on (held-out loss) and by its token table's kNN category purity.

`plan_family` splits off the held-out data and shrinks the batch to a memory and a time budget; `Family` trains
in chunks a page can show, stop and continue; `start` charges the largest model and the held-out data to the
server before anything is built. A GPT step sees B windows of T tokens; a skip-gram step takes B x T pairs (T
times the batch, the same number of steps), so every member looks up the same number of tokens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from core.budget import run_bytes
from core.config import TrainConfig
from core.corpus import WORD_RE, Corpus, build_corpus, text_in_vocab
from core.limits import SWEEP_BUDGET_BYTES, SWEEP_MAX_LOGITS
from core.metrics import chance_purity, knn_category_purity
from core.model import GPT, TokenModel
from core.sweep import ChunkedTraining, halve_batch
from core.trainer import Trainer

GPT_SIZES = ((1, 16), (2, 32), (4, 64))  # (layers L, width D) of the small GPTs, smallest first
SKIPGRAM_DIMS = (16, 32, 64)  # the skip-grams' widths: the GPTs' D
HEADS = 2  # attention heads of every GPT (each width divides into them)
STEPS = 300  # steps per model: the time bound (300 x 6 models, about 10 s of one core at V = 60)
WINDOWS = 16  # a GPT step's windows B, of T tokens each; a skip-gram step takes B x T pairs
EVAL_TOKENS = 4_096  # held-out predictions scored per model: GPT windows x T, or skip-gram pairs
EVAL_CHUNK = 512  # held-out predictions scored at once (bounds the (chunk, V) logits)
HOLDOUT_SHARE = 0.1  # a user's text: its last tenth of sentences is held out
HOLDOUT_SEED = 1  # the toy language's held-out text: another seed's sentences (seed + 1), the same vocabulary
MAX_VOCAB = 5_000  # beyond this the family takes too long for a page


@dataclass(frozen=True)
class Member:
    """One model of the family: a GPT of `layers` blocks at width `dim`, or a skip-gram (layers 0) at `dim`."""

    model: str  # "gpt" or "skipgram"
    dim: int
    layers: int = 0

    @property
    def label(self) -> str:
        return f"GPT {self.layers}×{self.dim}" if self.model == "gpt" else f"skip-gram D={self.dim}"


MEMBERS = tuple(Member("gpt", d, n) for n, d in GPT_SIZES) + tuple(Member("skipgram", d) for d in SKIPGRAM_DIMS)


@dataclass(frozen=True)
class MemberResult:
    """What one member measured, counted on its trained model and its records."""

    member: Member
    params: int  # every parameter of the trained model (token table, head, a GPT's positions and blocks)
    table_params: int  # the token table's V x D
    steps: int
    tokens_seen: int  # tokens looked up, summed over the records
    train_loss: float  # mean loss of the last tenth of the steps (nan if it diverged)
    held_out_loss: float  # mean loss on the held-out data (nan if it diverged or there is none)
    purity: float  # kNN category purity of the token table (nan without categories)
    diverged: bool = False


@dataclass(frozen=True)
class FamilyPlan:
    """What the family trains: the corpus settings, the members, the batch (shrunk if needed) and the held-out part."""

    base: TrainConfig  # the corpus (a user's text: its training part), seed, window, T; model and D set per member
    members: tuple[Member, ...]
    steps: int
    windows: int  # a GPT step's B (a skip-gram step takes B x T pairs)
    asked_windows: int
    held_text: str | None  # a user's text: its held-out last sentences; None: the toy language with another seed
    peak_bytes: int  # the largest member's bytes and the held-out data's, at this batch
    asked_bytes: int  # ... at the batch asked for
    budget_bytes: int
    max_logits: int  # scores per step at most (B x T x V), for time
    fits: bool  # False: even one window per step exceeds the budget

    @property
    def context(self) -> int:
        return self.base.context

    @property
    def tokens_per_step(self) -> int:
        return self.windows * self.base.context

    @property
    def shrunk(self) -> bool:
        return self.windows != self.asked_windows

    @property
    def over_memory(self) -> bool:
        return self.asked_bytes > self.budget_bytes

    @property
    def has_categories(self) -> bool:
        """The toy language's rows have categories (purity is measured); a user's text has none."""
        return self.base.corpus_text is None


def member_config(plan: FamilyPlan, member: Member) -> TrainConfig:
    """The TrainConfig one member trains with: Adam at the app's default lr for its width, untied head."""
    return _config(plan.base, plan.windows, member)


def _config(base: TrainConfig, windows: int, member: Member) -> TrainConfig:
    gpt = member.model == "gpt"
    return base.replace(
        model=member.model,
        dim=member.dim,
        layers=member.layers if gpt else 1,
        heads=HEADS if gpt else 1,
        batch_size=windows if gpt else windows * base.context,  # T times the batch: the same tokens a step
        lr=None,
        weight_decay=None,
    )


def member_bytes(cfg: TrainConfig) -> int:
    """One member's peak bytes: run_bytes less history, snapshots and caches (a family keeps none)."""
    parts = run_bytes(cfg)
    return parts.total - parts.history - parts.snapshots - parts.caches


def split_text(text: str, share: float = HOLDOUT_SHARE) -> tuple[str, str]:
    """(the text before its last `share` of sentences, those sentences): the held-out part the family never trains
    on. A text of one sentence is cut between words instead. Both keep at least one word when the text has two."""
    starts, sentence_of, sentence = [], [], 0
    for match in WORD_RE.finditer(text):  # as core.corpus tokenises (lower-casing changes no boundary)
        if match.group() in ".!?\n":
            sentence += 1
        else:
            starts.append(match.start())
            sentence_of.append(sentence)
    if len(starts) < 2:
        return text, ""
    sentences = list(dict.fromkeys(sentence_of))  # the sentences that hold words, in order
    if len(sentences) >= 2:
        first_held = sentences[min(max(1, round(len(sentences) * (1 - share))), len(sentences) - 1)]
        cut = starts[sentence_of.index(first_held)]
    else:
        cut = starts[min(max(1, round(len(starts) * (1 - share))), len(starts) - 1)]
    return text[:cut], text[cut:]


def plan_family(
    cfg: TrainConfig,
    members: tuple[Member, ...] = MEMBERS,
    steps: int | None = None,
    windows: int = WINDOWS,
    budget_bytes: int = SWEEP_BUDGET_BYTES,
    max_logits: int = SWEEP_MAX_LOGITS,
) -> FamilyPlan:
    """The family on `cfg`'s corpus (vocabulary, text, seed, window, context T), its batch halved until the
    largest member and the held-out data fit `budget_bytes` and a step scores at most `max_logits`. Raises
    ConfigError when a user's text, less its held-out tenth, is too short to train on. `steps`: STEPS."""
    steps = STEPS if steps is None else steps
    held_text = None
    train_text = cfg.corpus_text
    if train_text is not None:
        train_text, held_text = split_text(train_text)
    base = TrainConfig(
        vocab_size=cfg.vocab_size, seed=cfg.seed, window=cfg.window, context=cfg.context, corpus_text=train_text
    )
    held_bytes = run_bytes(base).corpus  # the held-out text's corpus, built like a training one
    sized = lambda b: max(member_bytes(_config(base, b, m)) for m in members)  # noqa: E731  # grows with b
    asked = sized(windows) + held_bytes
    logits = lambda b: b * base.context * base.vocab_size  # noqa: E731  # a GPT member's B T x V
    batch, peak = halve_batch(windows, asked, lambda b: sized(b) + held_bytes, logits, budget_bytes, max_logits)
    return FamilyPlan(
        base=base,
        members=tuple(members),
        steps=steps,
        windows=batch,
        asked_windows=windows,
        held_text=held_text,
        peak_bytes=peak,
        asked_bytes=asked,
        budget_bytes=budget_bytes,
        max_logits=max_logits,
        fits=peak <= budget_bytes,
    )


@dataclass(frozen=True)
class HeldOut:
    """Held-out data, in the training vocabulary: GPT windows (E, T) and their next tokens, skip-gram pairs (P,)."""

    windows: np.ndarray  # (E, T) int64 (E may be 0: too short a text)
    next_tokens: np.ndarray  # (E, T)
    centres: np.ndarray  # (P,)
    contexts: np.ndarray  # (P,)
    n_tokens: int  # tokens in the held-out text


def held_out_corpus(plan: FamilyPlan, vocab: list[str]) -> Corpus:
    """The held-out text as a corpus in the training vocabulary `vocab`: the toy language with seed + 1 (the same
    vocabulary and categories), or a user's held-out sentences, each word its training row, else <unk>. It reuses
    core.corpus's text_in_vocab, so the held-out pairs are cut exactly as training's."""
    base = plan.base
    if plan.held_text is None:
        return build_corpus(base.vocab_size, base.seed + HOLDOUT_SEED, base.window)
    return text_in_vocab(plan.held_text, vocab, base.window)


def held_out_data(plan: FamilyPlan, vocab: list[str]) -> HeldOut:
    """EVAL_TOKENS held-out predictions drawn once, with their own seeded generator, for every member alike."""
    corpus, t = held_out_corpus(plan, vocab), plan.base.context
    rng = np.random.default_rng([plan.base.seed, 0xE7])
    if len(corpus.tokens) > t:
        windows, next_tokens = corpus.windows(rng, EVAL_TOKENS // t, t)
    else:
        windows = next_tokens = np.empty((0, t), dtype=np.int64)
    if len(corpus.centres):
        centres, contexts = corpus.sample(rng, EVAL_TOKENS)
    else:
        centres = contexts = np.empty(0, dtype=np.int64)
    return HeldOut(windows, next_tokens, centres, contexts, int(corpus.n_tokens))


def held_out_loss(model: TokenModel, held: HeldOut) -> float:
    """The mean cross-entropy of the model on the held-out data (its own task: a GPT's next tokens, a skip-gram's
    context words), scored in chunks; nan when there is none."""
    gpt = isinstance(model, GPT)
    inputs, targets = (held.windows, held.next_tokens) if gpt else (held.centres, held.contexts)
    if len(inputs) == 0:
        return float("nan")
    device = model.embedding.weight.device
    step = max(1, EVAL_CHUNK // inputs.shape[1]) if gpt else EVAL_CHUNK
    total = 0.0
    with torch.no_grad():
        for at in range(0, len(inputs), step):
            x = torch.from_numpy(inputs[at : at + step]).to(device)
            y = torch.from_numpy(targets[at : at + step]).to(device)
            logits = model(x)[0]  # (n, V) or (n, T, V)
            flat = logits.reshape(-1, logits.shape[-1]).double()
            total += float(torch.nn.functional.cross_entropy(flat, y.reshape(-1), reduction="sum"))
    return total / targets.size


class Family(ChunkedTraining):
    """A family trained in chunks of `advance(seconds)`, one model at a time, so a page can show progress, Stop
    (the model in training is kept) and Continue (it trains on exactly as it would have)."""

    def __init__(self, plan: FamilyPlan):
        super().__init__()
        self.plan, self.steps = plan, plan.steps
        self.held_out: HeldOut | None = None  # drawn with the first model (it needs the training vocabulary)
        self.chance = float("nan")  # a random table's kNN purity on these categories (core.metrics.chance_purity)
        self._tokens = 0

    @property
    def n_models(self) -> int:
        return len(self.plan.members)

    def _next_trainer(self) -> Trainer:
        trainer = Trainer(member_config(self.plan, self.plan.members[len(self.results)]), history_bytes=1,
                          snapshot_bytes=1)  # fmt: skip
        if self.held_out is None:
            self.held_out = held_out_data(self.plan, trainer.vocab)
            self.chance = chance_purity(trainer.categories)
        return trainer

    def _noted(self, record) -> None:
        self._tokens += record.input_ids.size  # a GPT's B x T positions, a skip-gram's centres

    def _result(self, trainer: Trainer, diverged: bool) -> MemberResult:
        nan = float("nan")
        return MemberResult(
            member=self.plan.members[len(self.results)],
            params=sum(p.numel() for p in trainer.model.parameters()),
            table_params=int(trainer.model.embedding.weight.numel()),
            steps=len(self._losses),
            tokens_seen=self._tokens,
            train_loss=nan if diverged else self._tail_loss(),
            held_out_loss=nan if diverged else held_out_loss(trainer.model, self.held_out),
            purity=nan if diverged else knn_category_purity(trainer.weight, trainer.categories),
            diverged=diverged,
        )

    def _finish(self, diverged: bool) -> None:
        super()._finish(diverged)
        self._tokens = 0


def held_for(family: Family | None, plan: FamilyPlan) -> Family | None:
    """The family a session holds, if it was planned for `plan` (None: there is none, or the settings changed)."""
    return family if family is not None and family.plan == plan else None


def start(plan: FamilyPlan, admit: Callable[[int], None]) -> Family:
    """A new family of `plan`, once `admit(bytes)` charged its largest model and held-out data (it raises to refuse)."""
    admit(plan.peak_bytes)
    return Family(plan)


def train_family(cfg: TrainConfig, **plan_args) -> list[MemberResult]:
    """Every member of the family on `cfg`'s corpus, all at once (see Family)."""
    family = Family(plan_family(cfg, **plan_args))
    family.advance(float("inf"))
    return family.results
