"""core.family: a family of models on the same tokens, scored on held-out data, checked against independent
computations (a hand-written forward for the held-out loss, brute-force kNN for the purity, counts from records)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core import TrainConfig, Trainer, run_bytes
from core.corpus import build_corpus
from core.errors import ConfigError
from core.family import (
    MEMBERS,
    Family,
    Member,
    held_for,
    held_out_data,
    member_bytes,
    member_config,
    plan_family,
    split_text,
    start,
    train_family,
)
from core.metrics import chance_purity
from serve.memory import Registry, ServerBusy

STEPS = 12  # small: every test trains the whole family
LN_EPS = 1e-5


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: as the server runs torch


@pytest.fixture(scope="module")
def trained():
    """(plan, family) of the default corpus, trained to the end."""
    family = Family(plan_family(TrainConfig(), steps=STEPS))
    family.advance(float("inf"))
    return family.plan, family


def run_member(plan, member: Member) -> tuple[Trainer, list]:
    """The member trained again here, from its config, and its records."""
    trainer = Trainer(member_config(plan, member))
    return trainer, [trainer.step() for _ in range(plan.steps)]


# ---------------------------------------------------------------- independent references


def gpt_logits(model, windows: np.ndarray) -> torch.Tensor:
    """A GPT's logits (E, T, V), float64, written out by hand from its weights: one_hot @ W, + positions, pre-norm
    blocks with scaled_dot_product_attention, final LayerNorm, head."""
    p = {k: v.detach().double() for k, v in model.state_dict().items()}
    v, d = p["embedding.weight"].shape
    b, t = windows.shape
    heads = model.blocks.layers[0].self_attn.num_heads
    x = F.one_hot(torch.from_numpy(windows), v).double() @ p["embedding.weight"] + p["positions.weight"][:t]
    for i in range(len(model.blocks.layers)):
        at = f"blocks.layers.{i}."
        h = F.layer_norm(x, (d,), p[at + "norm1.weight"], p[at + "norm1.bias"], LN_EPS)
        qkv = F.linear(h, p[at + "self_attn.in_proj_weight"], p[at + "self_attn.in_proj_bias"])
        q, k, val = (z.reshape(b, t, heads, d // heads).transpose(1, 2) for z in qkv.split(d, dim=-1))
        a = F.scaled_dot_product_attention(q, k, val, is_causal=True).transpose(1, 2).reshape(b, t, d)
        x = x + F.linear(a, p[at + "self_attn.out_proj.weight"], p[at + "self_attn.out_proj.bias"])
        h = F.layer_norm(x, (d,), p[at + "norm2.weight"], p[at + "norm2.bias"], LN_EPS)
        hidden = F.gelu(F.linear(h, p[at + "linear1.weight"], p[at + "linear1.bias"]))
        x = x + F.linear(hidden, p[at + "linear2.weight"], p[at + "linear2.bias"])
    x = F.layer_norm(x, (d,), p["norm.weight"], p["norm.bias"], LN_EPS)
    return x @ p["head.weight"].T


def nll(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean -log softmax(logits)[target], numpy float64."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(targets)), targets].mean())


def brute_purity(weight: np.ndarray, categories: np.ndarray, k: int = 5) -> float:
    """Every categorised row's k cosine-nearest categorised rows by a full sort, the share of its category."""
    keep = np.flatnonzero(categories >= 0)
    w = weight[keep].astype(np.float64)
    unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    nearest = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    cats = categories[keep]
    return float((cats[nearest] == cats[:, None]).mean())


# ---------------------------------------------------------------- the measures, recomputed


def test_held_out_loss_equals_a_hand_written_forward_of_each_trained_model(trained):
    plan, family = trained
    held = family.held_out
    for result in family.results:
        trainer, _ = run_member(plan, result.member)
        if result.member.model == "gpt":
            logits = gpt_logits(trainer.model, held.windows).reshape(-1, plan.base.vocab_size).numpy()
            expected = nll(logits, held.next_tokens.reshape(-1))
        else:
            w, head = trainer.weight.astype(np.float64), trainer.head_weight.astype(np.float64)
            expected = nll(w[held.centres] @ head.T, held.contexts)  # skip-gram by numpy: lookup, head
        assert result.held_out_loss == pytest.approx(expected, rel=1e-5), result.member.label


def test_purity_equals_brute_force_knn_on_each_trained_table(trained):
    plan, family = trained
    for result in family.results:
        trainer, _ = run_member(plan, result.member)
        assert result.purity == pytest.approx(brute_purity(trainer.weight, trainer.categories), abs=1e-12)
    assert family.chance == pytest.approx(chance_purity(trainer.categories))


def test_every_model_looked_up_the_same_tokens_counted_from_its_records(trained):
    plan, family = trained
    assert [r.member for r in family.results] == list(MEMBERS)
    counts = set()
    for result in family.results:
        trainer, records = run_member(plan, result.member)
        counted = sum(len(r.input_ids) for r in records)  # a GPT's B x T positions, a skip-gram's centres
        assert result.tokens_seen == counted and result.steps == len(records) == STEPS
        counts.add(counted)
        assert result.train_loss == pytest.approx(np.mean([r.loss for r in records][-max(1, STEPS // 10) :]))
        assert result.params == sum(p.numel() for p in trainer.model.parameters())
    assert counts == {STEPS * plan.windows * plan.base.context}
    gpt, skipgram = (member_config(plan, m) for m in (MEMBERS[0], MEMBERS[-1]))
    assert gpt.batch_size * gpt.context == skipgram.batch_size  # T times the batch, the same steps


def test_parameters_grow_within_each_family(trained):
    _, family = trained
    for model in ("gpt", "skipgram"):
        params = [r.params for r in family.results if r.member.model == model]
        assert params == sorted(params) and len(set(params)) == 3
    gpt = family.results[2]  # 4 blocks at D = 64: 12 D^2 + 13 D per block, T x D positions, 2D, table and head
    assert gpt.params == 4 * (12 * 64 * 64 + 13 * 64) + 8 * 64 + 2 * 64 + 2 * 60 * 64


def test_the_same_seed_gives_the_same_results_and_another_seed_others(trained):
    _, family = trained
    again = train_family(TrainConfig(), steps=STEPS)
    assert again == family.results
    other = train_family(TrainConfig(seed=1), steps=STEPS)
    assert [r.held_out_loss for r in other] != [r.held_out_loss for r in again]


def test_stop_stops_and_continue_resumes_to_the_numbers_of_an_uninterrupted_run(trained):
    _, whole = trained
    family = Family(plan_family(TrainConfig(), steps=STEPS))
    for _ in range(STEPS + 3):  # into the second model
        family.advance(0.0)  # one step a call
    assert family.done_steps == STEPS + 3 and len(family.results) == 1
    family.stop()
    family.advance(float("inf"))
    assert family.done_steps == STEPS + 3 and not family.running
    family.resume()
    family.advance(float("inf"))
    assert family.done and family.done_steps == family.total_steps == 6 * STEPS
    assert family.results == whole.results


# ---------------------------------------------------------------- the held-out data


def test_the_toy_languages_held_out_text_is_another_seeds_in_the_same_vocabulary(trained):
    plan, family = trained
    train = build_corpus(60, 0, 2)
    other = build_corpus(60, 1, 2)
    assert other.vocab == train.vocab and not np.array_equal(other.tokens[:500], train.tokens[:500])
    held = family.held_out
    t = plan.base.context
    assert held.windows.shape == (4096 // t, t) and held.centres.shape == (4096,)
    text = other.tokens.tobytes()
    for window, following in zip(held.windows[:20], held.next_tokens[:20], strict=True):
        assert window.tobytes() in text  # cut from the other seed's text
        np.testing.assert_array_equal(following[:-1], window[1:])
    pairs = set(zip(other.centres.tolist(), other.contexts.tolist(), strict=True))
    assert all(p in pairs for p in zip(held.centres.tolist(), held.contexts.tolist(), strict=True))


STORY = " ".join(f"the {a} cat saw a {b} dog." for a, b in zip("ab" * 30, "cd" * 30, strict=True))
STORY += " zebra quagga okapi ran. " * 6  # the last sentences hold words the first nine tenths never use


def test_a_users_text_holds_out_its_last_tenth_of_sentences_in_the_training_vocabulary():
    train, held = split_text(STORY)
    assert train + held == STORY
    assert held.count(".") == round(66 * 0.1) and "zebra" in held and "zebra" not in train
    plan = plan_family(TrainConfig(corpus_text=STORY, vocab_size=20), steps=2)
    assert plan.base.corpus_text == train and plan.held_text == held and not plan.has_categories
    trainer = Trainer(member_config(plan, MEMBERS[0]))
    data = held_out_data(plan, trainer.vocab)
    unk = trainer.vocab.index("<unk>")
    words = [w if w in trainer.vocab else "<unk>" for w in held.lower().replace(".", " ").split()]
    ids = [trainer.vocab.index(w) for w in words]
    assert "zebra" not in trainer.vocab and unk in set(data.centres.tolist())
    for window in data.windows[:10]:
        assert window.tobytes() in np.asarray(ids, dtype=np.int64).tobytes()
    results = train_family(TrainConfig(corpus_text=STORY, vocab_size=20), steps=2)
    assert all(np.isnan(r.purity) for r in results) and all(np.isfinite(r.held_out_loss) for r in results)


def test_a_text_of_one_sentence_is_cut_between_words_and_too_short_a_text_is_refused():
    train, held = split_text("one two three four five six seven eight nine ten")
    assert train == "one two three four five six seven eight nine " and held == "ten"
    with pytest.raises(ConfigError):
        plan_family(TrainConfig(corpus_text="a b c d e f g h i", window=1))  # 8 words train; a GPT needs T + 1


# ---------------------------------------------------------------- memory and time


def test_the_family_is_charged_its_largest_model_and_held_out_data_before_it_starts():
    plan = plan_family(TrainConfig(), steps=STEPS)
    largest = max(member_bytes(member_config(plan, m)) for m in MEMBERS)
    assert plan.peak_bytes == largest + run_bytes(plan.base).corpus  # the held-out text, built like a corpus
    assert largest == member_bytes(member_config(plan, MEMBERS[2]))  # the 4-block GPT at D = 64
    charged = []
    held = start(plan, charged.append)
    assert charged == [plan.peak_bytes] and held.done_steps == 0 and held.held_out is None
    full = Registry(budget=plan.peak_bytes - 1)
    with pytest.raises(ServerBusy):
        start(plan, lambda n: full.admit("session#family", n))
    assert "session#family" not in full
    assert held_for(held, plan) is held and held_for(held, plan_family(TrainConfig(seed=1))) is None


def test_a_large_vocabulary_shrinks_the_windows_a_step_to_the_time_budget():
    plan = plan_family(TrainConfig(vocab_size=5_000, context=32))
    assert plan.shrunk and not plan.over_memory and plan.fits and plan.asked_windows == 16
    assert plan.windows * 32 * 5_000 <= plan.max_logits < 2 * plan.windows * 32 * 5_000  # halved as far as needed
    assert member_config(plan, MEMBERS[0]).batch_size == plan.windows
    assert member_config(plan, MEMBERS[-1]).batch_size == plan.windows * 32
    small = plan_family(TrainConfig())
    assert not small.shrunk and small.windows == 16
