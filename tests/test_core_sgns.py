"""Skip-gram with negative sampling (core.model.SGNS in the trainer), checked against independent computations:
word2vec's sigmoid loss and its closed-form gradient in numpy float64, the rows that gradient reaches, the noise
distribution (unigram counts to the 3/4 power) by a chi-square test, and a seeded run and a link's replay bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from core import ConfigError, TrainConfig, Trainer, replay
from core.budget import run_bytes
from core.config import INITS
from core.optimizers import OPTIMIZERS

SGNS = {"model": "sgns", "vocab_size": 200, "dim": 8, "batch_size": 32, "negatives": 4, "seed": 5}


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def closed_form(w: np.ndarray, u: np.ndarray, centres, targets, negatives):
    """word2vec's loss and gradients by hand, float64: L = mean_b [-log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c)];
    dL/dv_c = (σ(u_o·v_c) - 1) u_o + Σ_k σ(u_k·v_c) u_k, dL/du_o = (σ(u_o·v_c) - 1) v_c, dL/du_k = σ(u_k·v_c) v_c,
    each / B, summed where rows repeat. Returns (loss, dL/dv per pair (B, D), dL/dW (V, D), dL/dU (V, D))."""
    w, u = w.astype(np.float64), u.astype(np.float64)
    n = len(centres)
    dv, grad_w, grad_u, loss = np.zeros((n, w.shape[1])), np.zeros_like(w), np.zeros_like(u), 0.0
    for b in range(n):
        v = w[centres[b]]
        s_pos = u[targets[b]] @ v
        loss += -math.log(sigmoid(s_pos))
        dv[b] += (sigmoid(s_pos) - 1.0) * u[targets[b]]
        grad_u[targets[b]] += (sigmoid(s_pos) - 1.0) * v
        for k in negatives[b]:
            s_neg = u[k] @ v
            loss += -math.log(sigmoid(-s_neg))
            dv[b] += sigmoid(s_neg) * u[k]
            grad_u[k] += sigmoid(s_neg) * v
    dv, grad_u = dv / n, grad_u / n
    np.add.at(grad_w, centres, dv)
    return loss / n, dv, grad_w, grad_u


def before_and_step(cfg: TrainConfig):
    trainer = Trainer(cfg)
    w, u = trainer.weight, trainer.head_weight
    rec = trainer.step()
    return trainer, w, u, rec


def drawn_rows(rec) -> set[int]:
    return set(rec.target_ids.tolist()) | set(rec.negative_ids.ravel().tolist())


def test_untied_gradients_and_plain_sgd_moves_match_the_closed_form():
    cfg = TrainConfig(**SGNS, optimizer="sgd", lr=0.5, momentum=0.0, weight_decay=0.0)
    trainer, w, u, rec = before_and_step(cfg)
    assert rec.negative_ids.shape == (cfg.batch_size, cfg.negatives)
    loss, dv, grad_w, grad_u = closed_form(w, u, rec.input_ids, rec.target_ids, rec.negative_ids)
    assert rec.loss == pytest.approx(loss, rel=1e-5)
    np.testing.assert_allclose(rec.output_grad, dv, rtol=1e-4, atol=1e-7)  # dL/d(looked-up row), per pair
    np.testing.assert_allclose(rec.grad_norm, np.linalg.norm(grad_w, axis=1), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(rec.head_grad_norm, np.linalg.norm(grad_u, axis=1), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(trainer.weight - w, -cfg.lr * grad_w, rtol=1e-3, atol=1e-6)  # plain SGD: -lr g
    np.testing.assert_allclose(trainer.head_weight - u, -cfg.lr * grad_u, rtol=1e-3, atol=1e-6)


def test_tied_gradient_is_both_paths_into_one_table():
    cfg = TrainConfig(**SGNS, optimizer="sgd", lr=0.5, momentum=0.0, weight_decay=0.0, tie_weights=True)
    trainer, w, u, rec = before_and_step(cfg)
    np.testing.assert_array_equal(w, u)  # tied: the head is the table
    loss, _, grad_w, grad_u = closed_form(w, w, rec.input_ids, rec.target_ids, rec.negative_ids)
    assert rec.loss == pytest.approx(loss, rel=1e-5)
    np.testing.assert_allclose(rec.grad_norm, np.linalg.norm(grad_w + grad_u, axis=1), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(trainer.weight - w, -cfg.lr * (grad_w + grad_u), rtol=1e-3, atol=1e-6)


def test_a_row_drawn_twice_gets_the_sum_of_both_contributions():
    cfg = TrainConfig(**{**SGNS, "vocab_size": 12}, optimizer="sgd", lr=0.5, momentum=0.0, weight_decay=0.0)
    trainer, w, u, rec = before_and_step(cfg)
    rows, counts = np.unique(rec.negative_ids, return_counts=True)
    assert counts.max() > 1  # 12 rows, 128 draws: repeats for sure
    *_, grad_u = closed_form(w, u, rec.input_ids, rec.target_ids, rec.negative_ids)
    np.testing.assert_allclose(trainer.head_weight - u, -cfg.lr * grad_u, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_rows_with_a_gradient_are_the_centres_and_the_drawn_context_rows(tied):
    trainer = Trainer(TrainConfig(**{**SGNS, "vocab_size": 2_000}, tie_weights=tied))
    for rec in trainer.run(3):
        centres, drawn = set(rec.input_ids.tolist()), drawn_rows(rec)
        assert set(np.flatnonzero(rec.head_grad_mask).tolist()) == drawn
        assert len(drawn) < trainer.cfg.vocab_size // 4  # a few of the rows, not all of them
        table = set(np.flatnonzero(rec.grad_mask).tolist())
        assert table == (centres | drawn if tied else centres)
        if not tied:
            assert set(np.flatnonzero(rec.head_grad_norm > 0).tolist()) == drawn


def test_the_full_softmax_head_reaches_every_row_tied_or_not():
    for tied in (False, True):
        rec = Trainer(TrainConfig(vocab_size=80, dim=8, tie_weights=tied)).step()
        assert rec.negative_ids is None and rec.head_grad_mask.all()


def test_negatives_follow_the_unigram_distribution_to_the_three_quarters_power():
    trainer = Trainer(TrainConfig(model="sgns", vocab_size=60, dim=4, batch_size=256, negatives=8, seed=2))
    draws = np.concatenate([r.negative_ids.ravel() for r in trainer.run(20)])  # 40,960 draws
    observed = np.bincount(draws, minlength=60)
    freq = trainer.corpus.token_freq.astype(np.float64)
    for power, should_fit in ((0.75, True), (1.0, False), (0.0, False)):
        expected = freq**power / (freq**power).sum() * len(draws)
        p = stats.chisquare(observed, expected).pvalue
        assert (p > 1e-3) if should_fit else (p < 1e-6), (power, p)


def test_a_seeded_run_is_reproduced_bit_for_bit_and_another_seed_differs():
    cfg = TrainConfig(**SGNS, tie_weights=True)
    a, b, c = Trainer(cfg), Trainer(cfg), Trainer(cfg.replace(seed=6))
    for ra, rb, rc in zip(a.run(8), b.run(8), c.run(8), strict=True):
        np.testing.assert_array_equal(ra.negative_ids, rb.negative_ids)
        assert ra.loss == rb.loss and not np.array_equal(ra.negative_ids, rc.negative_ids)
    np.testing.assert_array_equal(a.weight, b.weight)
    assert not np.array_equal(a.weight, c.weight)


def test_a_links_replay_and_a_clone_give_the_same_table_bit_for_bit():
    cfg = TrainConfig(**SGNS)
    by_hand = Trainer(cfg)
    by_hand.run(6)
    twin = by_hand.clone()
    by_hand.run(6)
    twin.run(6)
    replayed = Trainer(cfg)
    assert replay.replay(replayed, 12) == 12
    for other in (replayed, twin):
        np.testing.assert_array_equal(other.weight, by_hand.weight)
        np.testing.assert_array_equal(other.head_weight, by_hand.head_weight)
        np.testing.assert_array_equal(other.history[-1].negative_ids, by_hand.history[-1].negative_ids)


def test_peek_batch_does_not_advance_the_negatives():
    trainer = Trainer(TrainConfig(**SGNS))
    peeked = trainer.peek_batch()
    rec = trainer.step()
    other = Trainer(TrainConfig(**SGNS)).step()
    np.testing.assert_array_equal(peeked[0], rec.input_ids)
    np.testing.assert_array_equal(rec.negative_ids, other.negative_ids)


def test_sgns_trains_below_its_blind_guesses_within_100_steps_at_its_defaults():
    cfg = TrainConfig(model="sgns")  # the built-in corpus, V 60, D 16, Adam, k = 5
    records = Trainer(cfg).run(100)
    recent = float(np.mean([r.loss for r in records[-5:]]))
    assert recent < math.log(cfg.vocab_size)  # the full softmax's blind guess
    assert recent < (cfg.negatives + 1) * math.log(2) == pytest.approx(cfg.blind_loss)  # every score 0
    assert recent < 0.8 * records[0].loss


@pytest.mark.parametrize(
    ("optimizer", "tied"),  # SparseAdam takes sparse gradients: a tied head is refused (tested below)
    [(o, t) for o in OPTIMIZERS for t in (False, True) if not (t and o == "sparse_adam")],
)
def test_every_optimizer_trains_and_the_move_split_adds_up(optimizer, tied):
    cfg = TrainConfig(**SGNS, optimizer=optimizer, tie_weights=tied, padding_idx=0, max_norm=3.0)
    for rec in Trainer(cfg).run(3):
        parts = rec.move_grad + rec.move_state + rec.move_decay + rec.move_renorm
        np.testing.assert_allclose(parts, rec.update_norm, rtol=1e-4, atol=1e-6)
        assert np.isfinite(rec.loss)


@pytest.mark.parametrize("init", list(INITS))
def test_every_init_and_sparse_gradients_train(init):
    for extra in ({}, {"sparse": True, "optimizer": "sgd", "lr": 0.5, "weight_decay": 0.0}):
        trainer = Trainer(TrainConfig(**SGNS, init=init, **extra))
        rec = trainer.run(2)[-1]
        assert np.array_equal(rec.grad_mask, rec.token_counts > 0)
        if extra:
            assert trainer.model.embedding.weight.grad.is_sparse


def test_padding_row_gets_no_lookup_gradient_but_the_tied_head_reaches_it_when_drawn():
    trainer = Trainer(TrainConfig(**SGNS, padding_idx=0, tie_weights=True, optimizer="sgd", lr=0.5))
    for rec in trainer.run(20):
        drawn = 0 in drawn_rows(rec)
        assert rec.head_grad_mask[0] == drawn and rec.grad_mask[0] == drawn


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"model": "word2vec"}, "model"),
        ({"model": "sgns", "negatives": 0}, "negatives"),
        ({"model": "sgns", "negatives": 1_000}, "negatives"),
        ({"model": "sgns", "negatives": 2.5}, "negatives"),
        ({"model": "sgns", "tie_weights": True, "optimizer": "sparse_adam"}, "tie_weights"),
        ({"model": "sgns", "vocab_size": 200_000, "dim": 4_096}, "vocab_size"),
    ],
)
def test_invalid_settings_are_refused_with_a_message(settings, field):
    with pytest.raises(ConfigError) as refused:
        TrainConfig(**settings)
    assert refused.value.field == field and len(refused.value.message) > 30


def test_the_tied_sparse_refusal_says_why_for_sgns():
    with pytest.raises(ConfigError) as refused:
        TrainConfig(model="sgns", tie_weights=True, sparse=True, optimizer="sgd", weight_decay=0.0)
    assert "every row" not in refused.value.message and "sampled" in refused.value.message


def test_the_budget_counts_the_tensors_an_sgns_step_makes():
    cfg = TrainConfig(**{**SGNS, "vocab_size": 500, "dim": 32, "batch_size": 128, "negatives": 10})
    trainer = Trainer(cfg)
    rec = trainer.step()
    centres, targets = (torch.from_numpy(a) for a in (rec.input_ids, rec.target_ids))
    loss, hidden, context = trainer.model.loss(centres, targets, torch.from_numpy(rec.negative_ids))
    context.retain_grad()
    loss.backward()
    made = context.nbytes + context.grad.nbytes + rec.negative_ids.nbytes + hidden.nbytes  # measured tensors
    softmax = run_bytes(cfg.replace(model="skipgram"))
    sgns = run_bytes(cfg)
    assert sgns.activations - softmax.activations >= made - hidden.nbytes
    assert sgns.activations >= made
    assert sgns.batch_by_vocab < softmax.batch_by_vocab  # no (B, V) logits


def test_gpt2_sized_sgns_fits_the_run_budget_and_costs_less_than_the_softmax():
    cfg = TrainConfig(model="sgns", vocab_size=50_257, dim=768, init="small_normal", lr=0.01, weight_decay=0.0)
    assert run_bytes(cfg).total < run_bytes(cfg.replace(model="skipgram")).total


def test_compare_members_may_differ_in_model_and_still_see_the_same_batches():
    from core.compare import Comparison

    base = TrainConfig(vocab_size=2_000, dim=8, seed=4)
    run = Comparison([base, base.replace(model="sgns"), base.replace(model="sgns", negatives=2, tie_weights=True)])
    run.run(5)
    softmax, sgns, tied = (m.history[-1] for m in run.members)
    np.testing.assert_array_equal(softmax.input_ids, sgns.input_ids)
    np.testing.assert_array_equal(softmax.target_ids, tied.target_ids)
    assert softmax.negative_ids is None and sgns.negative_ids.shape == (64, 5) and tied.negative_ids.shape == (64, 2)
    assert softmax.head_grad_mask.all() and sgns.head_grad_mask.sum() <= 64 * 6 < base.vocab_size


def test_a_failed_step_puts_the_negatives_back_too():
    trainer = Trainer(TrainConfig(**SGNS))
    twin = trainer.clone()
    with torch.no_grad():
        trainer.model.embedding.weight[:] = float("nan")
    with pytest.raises(Exception, match="diverged"):
        trainer.step()
    assert (trainer._rng.bit_generator.state, trainer._noise_rng.bit_generator.state) == (
        twin._rng.bit_generator.state,
        twin._noise_rng.bit_generator.state,
    )


def test_a_tied_rows_story_says_when_the_head_gave_it_nothing():
    from core.captions import contribution_story
    from core.rows import contributions

    trainer = Trainer(TrainConfig(**{**SGNS, "vocab_size": 2_000}, tie_weights=True))
    rec = trainer.step()
    lonely = sorted(set(rec.input_ids.tolist()) - drawn_rows(rec))  # looked up, never scored as a context
    assert lonely
    _, contribs = contributions(rec.input_ids, rec.output_grad, lonely[0])
    story = contribution_story(rec, lonely[0], contribs, None)
    assert story.sum_label == "sum = row gradient" and "the tied head's path gave it none" in story.caption
    assert float(np.linalg.norm(contribs.sum(axis=0))) == pytest.approx(float(rec.grad_norm[lonely[0]]), rel=1e-5)
    both = sorted(set(rec.input_ids.tolist()) & drawn_rows(rec))[0]
    _, contribs = contributions(rec.input_ids, rec.output_grad, both)
    assert contribution_story(rec, both, contribs, None).sum_label == "sum = lookup's part"


def test_the_exported_history_keeps_the_negatives_and_the_heads_mask():
    import io

    from core.export import history_npz

    trainer = Trainer(TrainConfig(**SGNS))
    records = trainer.run(3)
    saved = np.load(io.BytesIO(history_npz(records)))
    np.testing.assert_array_equal(saved["negative_ids"], np.stack([r.negative_ids for r in records]))
    assert saved["negative_ids"].shape == (3, SGNS["batch_size"], SGNS["negatives"])
    np.testing.assert_array_equal(saved["head_grad_mask"][-1], records[-1].head_grad_mask)


def test_a_large_heads_norms_taken_on_the_drawn_rows_equal_the_whole_gradients():
    trainer = Trainer(TrainConfig(model="sgns", vocab_size=70_000, dim=16, batch_size=16))  # 1.1M cells: rows only
    rec = trainer.step()
    whole = torch.linalg.vector_norm(trainer.model.head.weight.grad, dim=1).numpy()  # every row, by torch
    np.testing.assert_array_equal(rec.head_grad_norm, whole)
    np.testing.assert_array_equal(np.flatnonzero(whole), np.unique(list(drawn_rows(rec))))


def test_the_dimension_sweep_counts_sgnss_scores_not_b_x_v_logits():
    from core import sweep
    from core.limits import SWEEP_MAX_LOGITS

    cfg = TrainConfig(model="sgns", vocab_size=5_000, batch_size=4_096, negatives=5)
    assert cfg.batch_size * cfg.vocab_size > SWEEP_MAX_LOGITS  # a full softmax's batch would be shrunk for time
    plan = sweep.plan_sweep(cfg, sweep.DIMS, sweep.STEPS)
    assert cfg.batch_size * (cfg.negatives + 1) <= SWEEP_MAX_LOGITS and not plan.over_memory
    assert plan.cfg.batch_size == 4_096  # 4,096 x 6 scores a step: nothing to shrink
    softmax = sweep.plan_sweep(cfg.replace(model="skipgram"), sweep.DIMS, sweep.STEPS)
    assert softmax.cfg.batch_size * 5_000 <= SWEEP_MAX_LOGITS < 2 * softmax.cfg.batch_size * 5_000
