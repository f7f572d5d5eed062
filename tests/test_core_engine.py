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
    with pytest.raises(TrainingDiverged):
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


# ---------------------------------------------------------------- the exact split of each row's move


def _plain_optimizer(cfg: TrainConfig, params: list, weight_decay: float) -> torch.optim.Optimizer:
    """The optimizer a plain torch loop would build (not core.model's build_optimizers)."""
    lr, betas = cfg.lr, (cfg.beta1, cfg.beta2)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)
    if cfg.optimizer == "sparse_adam":
        return torch.optim.SparseAdam(params, lr=lr, betas=betas)
    if cfg.optimizer == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    assert cfg.optimizer == "rmsprop"
    return torch.optim.RMSprop(params, lr=lr, momentum=cfg.momentum, weight_decay=weight_decay)


def _states(trainer: Trainer) -> tuple[dict, dict]:
    """Deep copies of the optimizer state of the table and of the head, before a step."""
    weight, head = trainer.model.embedding.weight, trainer.model.head
    emb_state, head_state = {}, {}
    for optimizer in trainer.optimizers:
        emb_state = copy.deepcopy(optimizer.state[weight]) if weight in optimizer.state else emb_state
        if head is not None and head.weight in optimizer.state:
            head_state = copy.deepcopy(optimizer.state[head.weight])
    return emb_state, head_state


def _zero_grad_step(cfg: TrainConfig, start: torch.Tensor, state: dict, weight_decay: float) -> np.ndarray:
    """Where the table goes from `start` with a zero gradient (sparse: a gradient naming no rows)."""
    p = torch.nn.Parameter(start.clone())
    if cfg.sparse or cfg.optimizer == "sparse_adam":
        empty = torch.empty((1, 0), dtype=torch.long)
        p.grad = torch.sparse_coo_tensor(empty, torch.empty(0, cfg.dim), p.shape, check_invariants=True)
    else:
        p.grad = torch.zeros_like(p)
    optimizer = _plain_optimizer(cfg, [p], weight_decay)
    if state:
        optimizer.state[p] = copy.deepcopy(state)
    optimizer.step()
    return p.detach().numpy().astype(np.float64)


def reference_parts(cfg: TrainConfig, before, head_before, states, rec) -> dict[str, np.ndarray]:
    """A plain torch loop's step on copies, and the four parts of each row's move, computed independently."""
    emb_state, head_state = states
    ids, targets = torch.tensor(rec.input_ids), torch.tensor(rec.target_ids)
    mid = torch.tensor(before)
    if cfg.max_norm is not None:  # torch's embedding_renorm_, by hand
        for row in np.unique(rec.input_ids):
            norm = float(torch.linalg.vector_norm(mid[row]))
            if norm > cfg.max_norm:
                mid[row] *= cfg.max_norm / (norm + 1e-7)
    w = torch.nn.Parameter(mid.clone())
    head = w if cfg.tie_weights else torch.nn.Parameter(torch.tensor(head_before))
    h = torch.nn.functional.embedding(ids, w, padding_idx=cfg.padding_idx)  # (B, D)
    torch.nn.functional.cross_entropy(h @ head.T, targets).backward()
    sparse = cfg.sparse or cfg.optimizer == "sparse_adam"
    if sparse:
        w.grad = w.grad.to_sparse(sparse_dim=1)
    if cfg.optimizer == "sparse_adam":
        optimizers = [_plain_optimizer(cfg, [w], 0.0)]
        if not cfg.tie_weights:
            optimizers.append(torch.optim.Adam([head], lr=cfg.lr, betas=(cfg.beta1, cfg.beta2)))
    else:
        optimizers = [_plain_optimizer(cfg, [w] if cfg.tie_weights else [w, head], cfg.weight_decay)]
    if emb_state:
        optimizers[0].state[w] = copy.deepcopy(emb_state)
    if head_state:
        optimizers[-1].state[head] = copy.deepcopy(head_state)
    for optimizer in optimizers:
        optimizer.step()
    b, m, a = before.astype(np.float64), mid.numpy().astype(np.float64), w.detach().numpy().astype(np.float64)
    s0 = _zero_grad_step(cfg, mid, emb_state, cfg.weight_decay)
    s00 = _zero_grad_step(cfg, mid, emb_state, 0.0)
    d = a - b
    norm = np.linalg.norm(d, axis=1)
    safe = np.where(norm > 0, norm, 1.0)

    def along(part):
        return np.where(norm > 0, (part * d).sum(axis=1) / safe, 0.0)

    return {
        "after": a,
        "head_after": head.detach().numpy(),
        "update_norm": norm,
        "move_renorm": along(m - b),
        "move_decay": along(s0 - s00),
        "move_state": along(s00 - m),
        "move_grad": along(a - s0),
    }


SPLIT_CASES = {
    "sgd": [{}, dict(momentum=0.9), dict(momentum=0.9, nesterov=True), dict(weight_decay=0.05), dict(sparse=True)],
    "adam": [{}, dict(beta1=0.5, beta2=0.9), dict(weight_decay=0.05)],
    "adamw": [{}, dict(weight_decay=0.0), dict(beta1=0.5, beta2=0.9, weight_decay=0.2)],
    "sparse_adam": [{}, dict(beta1=0.5, beta2=0.9)],
    "adagrad": [{}, dict(weight_decay=0.05), dict(sparse=True)],
    "rmsprop": [{}, dict(momentum=0.5), dict(weight_decay=0.05, momentum=0.5)],
}
SHARED = [
    {},
    dict(tie_weights=True),
    dict(padding_idx=0),
    dict(max_norm=1.0),
    dict(max_norm=1.5, padding_idx=2),
    dict(tie_weights=True, padding_idx=1),
]


def _split_configs():
    for optimizer, own in SPLIT_CASES.items():
        for settings in own + SHARED[1:]:
            if optimizer == "sparse_adam" and settings.get("tie_weights"):
                continue  # refused: a tied head gives a dense gradient
            extra = dict(weight_decay=0.05) if settings is SHARED[3] and optimizer != "sparse_adam" else {}
            yield dict(optimizer=optimizer, **{**settings, **extra})  # max_norm also with weight decay


@pytest.mark.parametrize("settings", list(_split_configs()), ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_the_split_of_each_move_matches_a_plain_torch_step_on_copies(settings):
    lr = 0.01 if settings["optimizer"] == "rmsprop" else 0.1
    cfg = TrainConfig(vocab_size=40, dim=6, batch_size=24, lr=lr, seed=21, **settings)
    trainer = Trainer(cfg)
    with torch.no_grad():
        trainer.model.embedding.weight.mul_(2.0)  # so that max_norm has rows to rescale
    for step in range(4):
        before, head_before, states = trainer.weight, trainer.head_weight, _states(trainer)
        rec = trainer.step()
        ref = reference_parts(cfg, before, head_before, states, rec)
        np.testing.assert_allclose(trainer.weight, ref["after"], atol=2e-6)
        np.testing.assert_allclose(trainer.head_weight, ref["head_after"], atol=2e-6)
        np.testing.assert_allclose(rec.update_norm, ref["update_norm"], atol=1e-6)  # float32 W_after - W_before
        for name in ("move_renorm", "move_decay", "move_state", "move_grad"):
            np.testing.assert_allclose(getattr(rec, name), ref[name], atol=2e-6, err_msg=f"{name} at step {step}")
        total = rec.move_renorm + rec.move_decay + rec.move_state + rec.move_grad
        np.testing.assert_allclose(total, rec.update_norm, rtol=1e-5, atol=1e-7)
        if step == 0:  # the case is not vacuous: each option shows in its part
            assert (np.abs(rec.move_decay).max() > 1e-5) == bool(cfg.weight_decay)
            assert (rec.move_renorm.max() > 1e-3) == (cfg.max_norm is not None)
            assert rec.move_grad.max() > 1e-3


def test_plain_sgd_moves_are_all_gradient():
    trainer = Trainer(TrainConfig(vocab_size=50, dim=6, optimizer="sgd", lr=0.3, seed=22))
    for rec in trainer.run(3):
        np.testing.assert_allclose(rec.move_grad, rec.update_norm, rtol=1e-6)
        assert not rec.move_state.any() and not rec.move_decay.any() and not rec.move_renorm.any()


def test_sgd_weight_decay_without_momentum_is_decay_not_state():
    lr, wd = 0.2, 0.1
    trainer = Trainer(TrainConfig(vocab_size=50, dim=6, optimizer="sgd", lr=lr, weight_decay=wd, seed=23))
    trainer.run(2)
    before = trainer.weight.astype(np.float64)
    rec = trainer.step()
    d = trainer.weight.astype(np.float64) - before
    decay = -lr * wd * before  # what weight decay alone does to each row: SGD has no state
    expected = (decay * d).sum(axis=1) / np.linalg.norm(d, axis=1)
    np.testing.assert_allclose(rec.move_decay, expected, rtol=1e-5, atol=1e-8)
    assert not rec.move_state.any()
    idle = ~rec.grad_mask
    np.testing.assert_allclose(rec.move_decay[idle], rec.update_norm[idle], rtol=1e-5)
    np.testing.assert_allclose(rec.update_norm[idle], lr * wd * np.linalg.norm(before[idle], axis=1), rtol=1e-5)


def test_adamw_decay_part_is_exactly_minus_lr_wd_w():
    lr, wd = 0.05, 0.3
    trainer = Trainer(TrainConfig(vocab_size=50, dim=6, optimizer="adamw", lr=lr, weight_decay=wd, seed=24))
    trainer.run(3)
    before = trainer.weight.astype(np.float64)
    rec = trainer.step()
    d = trainer.weight.astype(np.float64) - before
    expected = (-lr * wd * before * d).sum(axis=1) / np.linalg.norm(d, axis=1)
    np.testing.assert_allclose(rec.move_decay, expected, rtol=1e-4, atol=1e-8)
    seen = np.zeros(50, dtype=bool)
    for kept in trainer.history:
        seen[kept.input_ids] = True
    never = ~seen
    assert never.any() and (rec.move_state[seen & ~rec.grad_mask] > 0).all()  # the moments move used rows on
    assert not rec.move_state[never].any()  # rows never used have no moments: their move is decay alone
    np.testing.assert_allclose(rec.move_decay[never], rec.update_norm[never], rtol=1e-6)


def test_adam_rows_without_gradient_move_by_state_alone():
    trainer = Trainer(TrainConfig(vocab_size=60, dim=8, optimizer="adam", seed=25))
    trainer.run(3)
    rec = trainer.step()
    idle = ~rec.grad_mask
    assert (rec.update_norm[idle] > 0).sum() > 5
    np.testing.assert_array_equal(rec.move_state[idle], rec.update_norm[idle])
    assert not rec.move_grad[idle].any() and not rec.move_decay.any() and not rec.move_renorm.any()
    used = rec.grad_mask
    assert (rec.move_grad[used] != 0).all()  # components, not lengths: the gradient's part is never lost


def test_max_norm_rescale_is_its_own_part_of_the_move():
    max_norm = 1.0
    cfg = TrainConfig(vocab_size=30, dim=8, optimizer="sgd", lr=0.1, max_norm=max_norm, padding_idx=0, seed=26)
    trainer = Trainer(cfg)
    with torch.no_grad():
        trainer.model.embedding.weight[0] = 5.0  # a padding row longer than max_norm: no gradient reaches it
    for _ in range(50):
        before = trainer.weight
        rec = trainer.step()
        if 0 in rec.input_ids:
            break
    assert 0 in rec.input_ids, "the padded corpus should look up <pad>"
    length = np.linalg.norm(before[0])
    assert length > max_norm
    assert rec.move_renorm[0] == pytest.approx(length - max_norm, rel=1e-5)  # nothing else moved it
    assert rec.move_grad[0] == 0 and rec.move_state[0] == 0 and rec.update_norm[0] == pytest.approx(rec.move_renorm[0])
    rescaled = np.unique(rec.input_ids[np.linalg.norm(before[rec.input_ids], axis=1) > max_norm])
    rescaled = rescaled[rescaled != 0]
    assert len(rescaled) and (rec.move_grad[rescaled] != 0).all()  # looked up and rescaled, yet a gradient too


# ---------------------------------------------------------------- divergence: exact restore, or a frozen run


def _everything(trainer: Trainer) -> dict:
    """The whole state of a run: table, head, every optimizer's state, the batch stream."""
    return {
        "table": trainer.weight,
        "head": trainer.head_weight,
        "state": [copy.deepcopy(optimizer.state_dict()["state"]) for optimizer in trainer.optimizers],
        "rng": copy.deepcopy(trainer._rng.bit_generator.state),
        "steps": trainer.step_count,
        "history": len(trainer.history),
    }


def _assert_same(a: dict, b: dict) -> None:
    np.testing.assert_array_equal(a["table"], b["table"])
    np.testing.assert_array_equal(a["head"], b["head"])
    assert a["rng"] == b["rng"] and a["steps"] == b["steps"] and a["history"] == b["history"]
    for state_a, state_b in zip(a["state"], b["state"], strict=True):
        assert state_a.keys() == state_b.keys()
        for key in state_a:
            for name, value in state_a[key].items():
                np.testing.assert_array_equal(np.asarray(value), np.asarray(state_b[key][name]))


@pytest.mark.parametrize("what", ["loss", "table_grad", "head_grad", "huge_grad"])
def test_a_failure_before_the_optimizer_step_changes_nothing(what):
    cfg = TrainConfig(vocab_size=40, dim=8, optimizer="adam", max_norm=1.0, seed=30)  # max_norm rescales in place
    trainer = Trainer(cfg)
    trainer.run(3)
    weight, head = trainer.model.embedding.weight, trainer.model.head.weight
    if what == "loss":
        with torch.no_grad():
            weight.abs_()
            head.fill_(3e38)  # finite, but the logits overflow
    elif what == "table_grad":
        weight.register_hook(lambda grad: grad * float("nan"))
    elif what == "head_grad":
        head.register_hook(lambda grad: grad * float("inf"))
    else:
        weight.register_hook(lambda grad: grad * 1e30)  # finite, but its length overflows float32
    after_n = _everything(trainer)
    with pytest.raises(TrainingDiverged) as caught:
        trainer.step()
    _assert_same(_everything(trainer), after_n)
    assert trainer.diverged is None and caught.value.step == 4
    message = caught.value.message
    assert "exactly as after step 3" in message
    expected = {
        "loss": "the loss became",
        "table_grad": "gradient of the table became inf or NaN",
        "head_grad": "gradient of the output head became inf or NaN",
        "huge_grad": "too large for float32",
    }[what]
    assert expected in message
    with pytest.raises(TrainingDiverged):  # the same batch again: the same outcome, nothing lost
        trainer.step()
    _assert_same(_everything(trainer), after_n)


def _fail_after_step(trainer: Trainer, change) -> None:
    for optimizer in trainer.optimizers:
        optimizer.register_step_post_hook(lambda *_: change())


@pytest.mark.parametrize(
    ("what", "settings"),
    [
        ("table", dict(optimizer="adam")),
        ("head", dict(optimizer="adam")),
        ("state", dict(optimizer="adamw", weight_decay=0.01)),  # weight decay: the state is watched
        ("state", dict(optimizer="adagrad")),  # a sum of squares that only grows: always watched
    ],
)
def test_a_failure_after_the_optimizer_step_freezes_the_run_with_the_last_finite_table(what, settings):
    trainer = Trainer(TrainConfig(vocab_size=40, dim=8, seed=31, **settings))
    trainer.run(3)
    weight, head = trainer.model.embedding.weight, trainer.model.head.weight
    after_n = _everything(trainer)
    state = trainer.optimizers[0].state[weight]

    def change():
        with torch.no_grad():
            if what == "table":
                weight[5, 0] = float("nan")
            elif what == "head":
                head[5, 0] = float("inf")
            else:  # Adam's / Adagrad's step is then 0 there: the weights stay finite
                state["exp_avg_sq" if "exp_avg_sq" in state else "sum"][5, 0] = float("inf")

    _fail_after_step(trainer, change)
    with pytest.raises(TrainingDiverged) as caught:
        trainer.step()
    assert trainer.diverged is caught.value
    np.testing.assert_array_equal(trainer.weight, after_n["table"])  # the table: as after step 3
    assert trainer.step_count == 3 and len(trainer.history) == 3
    message = caught.value.message
    expected = {
        "table": "the table's weights became inf or NaN",
        "head": "the output head's weights became inf or NaN",
        "state": f"the optimizer's state ({'sum' if settings['optimizer'] == 'adagrad' else 'exp_avg_sq'}) became",
    }[what]
    assert expected in message
    assert "the table shown is as after step 3" in message.lower()
    assert "the head and the optimizer's state were changed by the failed step" in message
    assert "cannot continue" in message and "smaller learning rate" in message
    for _ in range(2):  # frozen: never trains on from a half-restored state
        with pytest.raises(TrainingDiverged) as again:
            trainer.step()
        assert again.value is caught.value
    np.testing.assert_array_equal(trainer.weight, after_n["table"])
    assert trainer.step_count == 3
    Trainer(trainer.cfg).step()  # a new run is fine


def test_huge_but_finite_weights_are_reported_as_too_large_to_measure_not_as_overflow():
    trainer = Trainer(TrainConfig(vocab_size=40, dim=8, optimizer="sgd", lr=100.0, seed=32))
    with torch.no_grad():
        trainer.model.head.weight.mul_(3e18)  # the table's gradient ~1e18: lr 100 moves rows by ~1e20
    table = trainer.weight
    with pytest.raises(TrainingDiverged) as caught:
        trainer.step()
    message = caught.value.message
    assert "too large" in message and "float32" in message and "inf or NaN" not in message
    assert "the head was changed by the failed step" in message  # plain SGD keeps no state
    np.testing.assert_array_equal(trainer.weight, table)
    assert trainer.diverged is caught.value


def test_a_tied_stateless_run_restores_exactly_after_a_failed_step_and_trains_on():
    cfg = TrainConfig(vocab_size=40, dim=8, optimizer="sgd", lr=0.1, tie_weights=True, seed=33)
    trainer, twin = Trainer(cfg), Trainer(cfg)
    trainer.run(2)
    twin.run(2)
    weight = trainer.model.embedding.weight
    poison = [True]

    def change():
        if poison[0]:
            with torch.no_grad():
                weight[0, 0] = float("nan")

    _fail_after_step(trainer, change)
    after_n = _everything(trainer)
    with pytest.raises(TrainingDiverged) as caught:
        trainer.step()
    assert trainer.diverged is None and "exactly as after step 2" in caught.value.message
    _assert_same(_everything(trainer), after_n)
    poison[0] = False
    trainer.step()
    twin.step()
    np.testing.assert_array_equal(trainer.weight, twin.weight)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_the_decay_free_shadow_is_paid_for_only_with_weight_decay_and_always_removed(weight_decay):
    trainer = Trainer(TrainConfig(vocab_size=30, dim=4, optimizer="adam", weight_decay=weight_decay, seed=34))
    optimizer = trainer.optimizers[0]
    seen = []
    optimizer.register_step_pre_hook(lambda opt, *_: seen.append([len(g["params"]) for g in opt.param_groups]))
    trainer.run(2)
    params_per_group = [2 + 1] + ([1] if weight_decay else [])  # table, head, the rows' shadow; the whole table
    assert seen == [params_per_group, params_per_group]
    assert len(optimizer.param_groups) == 1 and len(optimizer.param_groups[0]["params"]) == 2
    assert len(optimizer.state) == 2  # table and head: no shadow's state left behind


@pytest.mark.parametrize("settings", [dict(optimizer="adam"), dict(optimizer="sgd", momentum=0.9, max_norm=1.0)])
def test_a_large_table_and_an_edit_between_steps_are_measured_from_the_table_as_it_was(settings):
    """A table large enough that the trainer measures the gradient's norms on the looked-up rows only
    (core.trainer.ROWS_NORM_MIN); an in-place edit between steps must be where the next move starts."""
    cfg = TrainConfig(vocab_size=4_200, dim=256, batch_size=32, lr=0.05, seed=5, **settings)
    trainer = Trainer(cfg)
    for step in range(3):
        if step == 1:
            with torch.no_grad():  # an in-place change between steps: the next step starts from it
                trainer.model.embedding.weight[:7].mul_(3.0)
        before, head_before, states = trainer.weight, trainer.head_weight, _states(trainer)
        rec = trainer.step()
        ref = reference_parts(cfg, before, head_before, states, rec)
        np.testing.assert_allclose(trainer.weight, ref["after"], atol=2e-6)
        np.testing.assert_allclose(rec.update_norm, ref["update_norm"], atol=1e-6)
        mid = before.astype(np.float64)  # the gradient is taken at the rows max_norm rescaled
        if cfg.max_norm is not None:
            for row in np.unique(rec.input_ids):
                mid[row] *= min(1.0, cfg.max_norm / (np.linalg.norm(mid[row]) + 1e-7))
        grad = batch_gradient(trainer, mid.astype(np.float32), head_before, rec)
        np.testing.assert_allclose(rec.grad_norm, np.linalg.norm(grad, axis=1), rtol=1e-4, atol=1e-8)
        assert set(np.flatnonzero(rec.grad_mask)) == set(rec.input_ids.tolist())


# Optimizers that move only the rows with a gradient: the trainer then copies, differences and checks only the rows
# a step can reach. Each is tried on every model, with max_norm and padding_idx too.
STILL = [
    dict(optimizer="sgd"),
    dict(optimizer="adagrad"),
    dict(optimizer="sgd", sparse=True),
    dict(optimizer="sparse_adam"),
]
STILL_MODELS = [
    dict(model="skipgram"),
    dict(model="sgns"),
    dict(model="sgns", tie_weights=True),
    dict(model="sgns", max_norm=0.5, padding_idx=0),
    dict(model="gpt", vocab_size=300),
]


def _reached(trainer: Trainer) -> set[int]:
    """The rows the next step can give a gradient: the lookups, and a tied SGNS head's gathered rows."""
    ids, targets = trainer.peek_batch()
    negatives = trainer.peek_negatives()
    rows = set(ids.tolist())
    if trainer.cfg.tie_weights and negatives is not None:
        rows |= set(targets.tolist()) | set(negatives.reshape(-1).tolist())
    return rows


def _name(settings: dict) -> str:
    return "-".join(f"{k}={v}" for k, v in settings.items())


STILL_CASES = [  # a tied head's gradient is dense: sparse gradients with it are refused (ConfigError)
    {**settings, **model}
    for settings in STILL
    for model in STILL_MODELS
    if not ((settings.get("sparse") or settings["optimizer"] == "sparse_adam") and model.get("tie_weights"))
]


@pytest.mark.parametrize("settings", STILL_CASES, ids=_name)
def test_with_an_optimizer_that_moves_only_rows_with_a_gradient_every_rows_move_is_still_measured(settings):
    cfg = TrainConfig(**{"vocab_size": 60, "dim": 8, "batch_size": 6, "seed": 5, **settings})
    trainer = Trainer(cfg)
    with torch.no_grad():
        trainer.model.embedding.weight.mul_(3.0)  # so that max_norm has rows to rescale
    for _ in range(4):
        before, head_before, reached = trainer.weight.astype(np.float64), trainer.head_weight, _reached(trainer)
        rec = trainer.step()
        moved = np.linalg.norm(trainer.weight - before, axis=1)  # every row, from two copies of the whole table
        np.testing.assert_allclose(rec.update_norm, moved, rtol=1e-6, atol=0)
        assert np.count_nonzero(moved) > 0 and set(np.flatnonzero(moved).tolist()) <= reached
        assert len(reached) < cfg.vocab_size  # so the trainer left rows out
        if not cfg.tie_weights and cfg.optimizer != "sparse_adam":  # the head, too, moves only where it has a gradient
            head_moved = np.flatnonzero(np.abs(trainer.head_weight - head_before).sum(axis=1))
            assert np.array_equal(head_moved, np.flatnonzero(rec.head_grad_norm))


@pytest.mark.parametrize("model", STILL_MODELS[1:4], ids=["sgns", "sgns-tied", "sgns-max_norm"])
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_failed_step_of_such_an_optimizer_restores_the_table_bit_for_bit(model, when):
    """Only the rows the step can reach are kept aside: restoring them restores the table, max_norm's rescale
    in the forward pass included."""
    trainer = Trainer(
        TrainConfig(**{"vocab_size": 60, "dim": 8, "batch_size": 6, "seed": 6, "optimizer": "sgd", **model})
    )
    with torch.no_grad():
        trainer.model.embedding.weight.mul_(3.0)
    trainer.run(2)
    table, weight = trainer.weight, trainer.model.embedding.weight
    row = int(trainer.peek_batch()[0][0])
    if when == "before":
        weight.register_hook(lambda grad: grad * float("nan"))
    else:
        _fail_after_step(trainer, lambda: torch.no_grad()(weight.__setitem__)((row, 0), float("nan")))
    with pytest.raises(TrainingDiverged):
        trainer.step()
    np.testing.assert_array_equal(trainer.weight, table)
    assert ("max_norm" not in model) or np.abs(table).max() > 0.5  # rows max_norm rescaled were put back too
