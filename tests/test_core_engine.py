"""The engine against independent computations: every claim of DESIGN.md's "What the app teaches", 1 to 4."""

import copy

import numpy as np
import pytest
import torch

from core import TrainConfig, Trainer, TrainingDiverged


def batch_gradient(trainer: Trainer, before: np.ndarray, head_before: np.ndarray, rec) -> np.ndarray:
    """dLoss/dW for the embedding computed by hand: per-position gradients, summed into rows with numpy.

    No nn.Embedding and no autograd through a lookup: h is a leaf holding the looked-up rows, the head is a
    plain matrix, and the scatter into rows is an explicit loop.
    """
    h = torch.tensor(before[rec.input_ids], requires_grad=True)  # (B, D)
    logits = h @ torch.tensor(head_before).T  # (B, V)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(rec.target_ids))
    (dh,) = torch.autograd.grad(loss, h)
    grad = np.zeros_like(before)
    for position, token in enumerate(rec.input_ids):
        grad[token] += dh[position].numpy()
    return grad


def test_lookup_equals_one_hot_matmul_in_values_and_gradients():
    trainer = Trainer(TrainConfig(vocab_size=30, dim=8, seed=1))
    emb = trainer.model.embedding
    ids = torch.tensor([3, 7, 7, 0, 29, 3, 3])
    dy = torch.randn(len(ids), 8, generator=torch.Generator().manual_seed(0))  # an arbitrary upstream gradient

    (emb(ids) * dy).sum().backward()
    lookup_grad = emb.weight.grad.clone()

    w = emb.weight.detach().clone().requires_grad_(True)
    one_hot = torch.nn.functional.one_hot(ids, 30).float()  # (B, V)
    (one_hot @ w * dy).sum().backward()
    assert torch.allclose(emb(ids), one_hot @ w, atol=0)
    assert torch.allclose(lookup_grad, w.grad, atol=1e-6)
    assert torch.allclose(lookup_grad, one_hot.T @ dy, atol=1e-6)


def test_grad_mask_is_exactly_the_rows_in_the_batch_minus_padding():
    trainer = Trainer(TrainConfig(vocab_size=40, dim=8, padding_idx=0, optimizer="sgd", lr=0.1, seed=2))
    saw_padding = False
    for _ in range(20):
        rec = trainer.step()
        expected = np.zeros(40, dtype=bool)
        expected[rec.input_ids] = True
        saw_padding |= bool(expected[0])
        expected[0] = False
        np.testing.assert_array_equal(rec.grad_mask, expected)
        np.testing.assert_array_equal(rec.token_counts, np.bincount(rec.input_ids, minlength=40))
        assert rec.update_norm[0] == 0 and rec.grad_norm[0] == 0
    assert saw_padding, "the padded toy corpus should put <pad> in some batch"
    assert trainer.vocab[0] == "<pad>" and not trainer.weight[0].any()


def test_plain_sgd_moves_exactly_the_gradient_rows_by_lr_times_a_hand_computed_gradient():
    lr = 0.3
    trainer = Trainer(TrainConfig(vocab_size=50, dim=6, optimizer="sgd", lr=lr, batch_size=32, seed=3))
    for _ in range(5):
        before, head_before = trainer.weight, trainer.head_weight
        rec = trainer.step()
        grad = batch_gradient(trainer, before, head_before, rec)
        np.testing.assert_allclose(trainer.weight, before - lr * grad, atol=1e-6)
        np.testing.assert_array_equal(rec.updated_mask, rec.grad_mask)
        np.testing.assert_allclose(rec.grad_norm, np.linalg.norm(grad, axis=1), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(rec.update_norm, lr * np.linalg.norm(grad, axis=1), rtol=1e-5, atol=1e-7)
        assert not rec.state_update_norm.any()


def test_a_token_used_k_times_gets_the_sum_of_its_k_contributions():
    trainer = Trainer(TrainConfig(vocab_size=12, dim=4, optimizer="sgd", lr=0.1, batch_size=64, seed=4))
    before, head_before = trainer.weight, trainer.head_weight
    rec = trainer.step()
    token = int(np.argmax(rec.token_counts))
    k = rec.token_counts[token]
    assert k > 1
    positions = np.flatnonzero(rec.input_ids == token)
    contributions = rec.output_grad[positions]  # (k, D): one per use of the token
    by_hand = batch_gradient(trainer, before, head_before, rec)[token]
    np.testing.assert_allclose(contributions.sum(axis=0), by_hand, atol=1e-6)
    assert rec.grad_norm[token] == pytest.approx(np.linalg.norm(by_hand), rel=1e-5)


@pytest.mark.parametrize(
    "settings",
    [
        dict(optimizer="sgd", momentum=0.9),
        dict(optimizer="adam"),
        dict(optimizer="adamw", weight_decay=0.1),
        dict(optimizer="rmsprop", momentum=0.5),
        dict(optimizer="sgd", weight_decay=0.01),
    ],
    ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()),
)
def test_optimizer_state_moves_rows_that_got_no_gradient(settings):
    trainer = Trainer(TrainConfig(vocab_size=60, dim=8, lr=0.05, seed=5, **settings))
    trainer.run(3)
    rec = trainer.step()
    idle = ~rec.grad_mask
    assert idle.any()
    moved_without_gradient = idle & rec.updated_mask
    assert moved_without_gradient.sum() > 0
    np.testing.assert_allclose(rec.state_update_norm[idle], rec.update_norm[idle], rtol=1e-6)


def test_plain_sgd_and_adagrad_leave_rows_without_gradient_alone():
    for optimizer in ("sgd", "adagrad"):
        trainer = Trainer(TrainConfig(vocab_size=60, dim=8, optimizer=optimizer, lr=0.1, seed=6))
        for rec in trainer.run(5):
            np.testing.assert_array_equal(rec.updated_mask, rec.grad_mask)
            assert not rec.state_update_norm.any()


def test_adam_counterfactual_matches_a_hand_computed_zero_gradient_step():
    lr, b1, b2, eps = 0.05, 0.8, 0.95, 1e-8
    trainer = Trainer(TrainConfig(vocab_size=40, dim=5, optimizer="adam", lr=lr, beta1=b1, beta2=b2, seed=7))
    trainer.run(4)
    weight = trainer.model.embedding.weight
    state = copy.deepcopy(trainer.optimizers[0].state[weight])
    rec = trainer.step()
    t = int(state["step"]) + 1
    m = b1 * state["exp_avg"].numpy()
    v = b2 * state["exp_avg_sq"].numpy()
    update = lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)  # Adam with a zero gradient
    np.testing.assert_allclose(rec.state_update_norm, np.linalg.norm(update, axis=1), rtol=1e-4, atol=1e-9)


def test_instrumentation_does_not_disturb_the_real_optimizer():
    cfg = TrainConfig(vocab_size=50, dim=8, optimizer="adamw", weight_decay=0.05, seed=8)
    trainer = Trainer(cfg)
    records = trainer.run(10)

    bare = Trainer(cfg)  # same seed: same init; now a plain torch loop over the same batches
    for rec in records:
        for opt in bare.optimizers:
            opt.zero_grad()
        logits, _ = bare.model(torch.tensor(rec.input_ids))
        torch.nn.functional.cross_entropy(logits, torch.tensor(rec.target_ids)).backward()
        for opt in bare.optimizers:
            opt.step()
    np.testing.assert_allclose(trainer.weight, bare.weight, atol=1e-6)
    np.testing.assert_allclose(trainer.head_weight, bare.head_weight, atol=1e-6)


def test_sparse_adam_moves_only_the_used_rows():
    trainer = Trainer(TrainConfig(vocab_size=60, dim=8, optimizer="sparse_adam", padding_idx=3, seed=9))
    for rec in trainer.run(8):
        used = np.zeros(60, dtype=bool)
        used[rec.input_ids] = True
        used[3] = False
        np.testing.assert_array_equal(rec.updated_mask, used)
        assert not rec.state_update_norm.any()
    assert trainer.model.embedding.weight.grad is None or trainer.model.embedding.weight.grad.is_sparse


def test_sparse_sgd_matches_dense_sgd():
    dense = Trainer(TrainConfig(vocab_size=30, dim=4, optimizer="sgd", lr=0.2, seed=10))
    sparse = Trainer(TrainConfig(vocab_size=30, dim=4, optimizer="sgd", lr=0.2, seed=10, sparse=True))
    for a, b in zip(dense.run(5), sparse.run(5), strict=True):
        np.testing.assert_array_equal(a.grad_mask, b.grad_mask)
        np.testing.assert_allclose(a.update_norm, b.update_norm, rtol=1e-4, atol=1e-6)  # float32 W_after - W_before
    np.testing.assert_allclose(dense.weight, sparse.weight, atol=1e-6)


def test_a_tied_head_gives_every_row_a_gradient_every_step():
    trainer = Trainer(TrainConfig(vocab_size=40, dim=8, tie_weights=True, optimizer="sgd", lr=0.01, seed=11))
    for rec in trainer.run(3):
        assert rec.grad_mask.all()
        assert rec.head_grad_norm is None
    untied = Trainer(TrainConfig(vocab_size=40, dim=8, optimizer="sgd", lr=0.01, seed=11)).step()
    assert not untied.grad_mask.all()
    assert (untied.head_grad_norm > 0).all()  # the separate head: every row, every step


def test_max_norm_rescales_looked_up_rows_in_the_forward_pass_without_a_gradient():
    lr, max_norm = 0.1, 1.0
    trainer = Trainer(
        TrainConfig(vocab_size=30, dim=8, optimizer="sgd", lr=lr, max_norm=max_norm, padding_idx=0, seed=12)
    )
    with torch.no_grad():
        trainer.model.embedding.weight[0] = 5.0  # a padding row longer than max_norm
    before, head_before = trainer.weight, trainer.head_weight
    rec = trainer.step()
    looked_up = np.unique(rec.input_ids)
    norms = np.linalg.norm(before[looked_up], axis=1)
    scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)  # torch's embedding_renorm_
    renormed = before.copy()
    renormed[looked_up] *= scale[:, None]
    grad = batch_gradient(trainer, renormed, head_before, rec)
    grad[0] = 0.0  # padding_idx
    np.testing.assert_allclose(trainer.weight, renormed - lr * grad, atol=1e-5)
    expected_renorm = np.zeros(30, dtype=bool)
    expected_renorm[looked_up[norms > max_norm]] = True
    np.testing.assert_array_equal(rec.renorm_norm > 1e-6, expected_renorm)
    if 0 in looked_up:  # the padding row moved, with no gradient and no optimizer state
        assert rec.update_norm[0] > 0 and not rec.grad_mask[0] and rec.state_update_norm[0] == 0


def test_same_seed_same_run_and_another_seed_another_run():
    cfg = TrainConfig(vocab_size=50, dim=8, seed=13)
    a, b, c = Trainer(cfg), Trainer(cfg), Trainer(cfg.replace(seed=14))
    for ra, rb, rc in zip(a.run(5), b.run(5), c.run(5), strict=True):
        np.testing.assert_array_equal(ra.input_ids, rb.input_ids)
        assert ra.loss == rb.loss
        assert not np.array_equal(ra.input_ids, rc.input_ids)
    np.testing.assert_array_equal(a.weight, b.weight)
    assert not np.array_equal(a.weight, c.weight)


def test_divergence_raises_and_keeps_the_last_finite_state():
    trainer = Trainer(TrainConfig(vocab_size=30, dim=8, optimizer="sgd", lr=100.0, seed=15))
    with pytest.raises(TrainingDiverged) as caught:
        for _ in range(200):
            last_weight, steps_before = trainer.weight, trainer.step_count
            trainer.step()
    assert np.isfinite(last_weight).all()
    np.testing.assert_array_equal(trainer.weight, last_weight)
    assert trainer.step_count == steps_before == caught.value.step - 1
    assert len(trainer.history) == steps_before and trainer.history[-1].step == steps_before
    assert "smaller learning rate" in str(caught.value)
    with pytest.raises(TrainingDiverged):  # the same batch again: the same outcome, nothing lost
        trainer.step()
    np.testing.assert_array_equal(trainer.weight, last_weight)


@pytest.mark.parametrize(
    "settings",
    [dict(init="zeros"), dict(init="small_normal"), dict(init="uniform"), dict(init="xavier"), dict(vocab_size=2)],
)
def test_every_init_and_the_smallest_vocabulary_train(settings):
    trainer = Trainer(TrainConfig(**{"dim": 4, **settings}))
    records = trainer.run(3)
    assert all(np.isfinite(r.loss) for r in records)
