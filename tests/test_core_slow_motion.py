"""One step in slow motion against torch's own forward and autograd (random batches, padding, a tied head), and
the replayed step against the run's own records."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import TrainConfig, Trainer
from core.arithmetic import agreement
from core.errors import ConfigError
from core.slow_motion import backward_caption, optimizer_step, replay_step, stages

CASES = [
    {},
    {"tie_weights": True},
    {"padding_idx": 3},
    {"padding_idx": 3, "tie_weights": True},
    {"max_norm": 0.8},
    {"max_norm": 0.8, "tie_weights": True, "padding_idx": 0},
]


def torch_step(weight, head, ids, targets, max_norm, padding_idx):
    """nn.Embedding -> (tied) head -> cross_entropy with torch's autograd: the independent reference."""
    emb = torch.nn.Embedding(*weight.shape, padding_idx=padding_idx, max_norm=max_norm)
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(weight))
    head_p = emb.weight if head is None else torch.nn.Parameter(torch.tensor(head))
    x = torch.as_tensor(ids)
    h = emb(x)
    h.retain_grad()
    logits = h @ head_p.T
    logits.retain_grad()
    loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(targets))
    loss.backward()
    return loss, logits, h, emb.weight.grad, None if head is None else head_p.grad


@pytest.mark.parametrize("settings", CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_stages_reproduce_torchs_forward_and_autograd(settings, seed):
    rng = np.random.default_rng(seed)
    V, D, B = 25, 5, 12
    cfg = TrainConfig(vocab_size=V, dim=D, batch_size=B, **settings)
    weight = rng.normal(size=(V, D)).astype(np.float32)
    head = None if cfg.tie_weights else rng.normal(size=(V, D)).astype(np.float32)
    ids = rng.integers(0, 6, size=B)  # few rows: repeats, and the padding row among them
    ids[:2] = 3
    targets = rng.integers(0, V, size=B)
    for position, row in [(0, 3), (5, int(ids[5])), (7, 20)]:
        got = stages(cfg, weight, head, ids, targets, position, row)
        loss, logits, h, grad, head_grad = torch_step(weight, head, ids, targets, cfg.max_norm, cfg.padding_idx)
        np.testing.assert_allclose(got.hidden, h.detach().numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got.scores, logits[position].detach().numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got.softmax, torch.softmax(logits[position], 0).detach().numpy(), rtol=1e-5)
        assert got.loss == pytest.approx(float(loss), rel=1e-6)
        np.testing.assert_allclose(got.dlogits, logits.grad[position].numpy(), rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(got.dhidden, h.grad.numpy(), rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(got.row_grad, grad[row].numpy(), rtol=1e-5, atol=1e-7)
        norms = torch.linalg.vector_norm(grad, dim=1).numpy()
        np.testing.assert_allclose(got.grad_norm, norms, rtol=1e-5, atol=1e-7)
        assert ((got.grad_norm > 0) == (norms > 0)).all()
        k = int((ids == row).sum())
        assert len(got.row_parts) == k and got.dropped.sum() == (k if row == cfg.padding_idx else 0)
        if cfg.tie_weights:  # the row's gradient is the lookup's parts plus the head's path
            np.testing.assert_allclose(got.lookup_grad + got.head_grad, got.row_grad, rtol=1e-5, atol=1e-7)
        else:
            np.testing.assert_allclose(got.head_grad_norm, torch.linalg.vector_norm(head_grad, dim=1), rtol=1e-5)


@pytest.mark.parametrize(
    "settings",
    [{"optimizer": "adam"}, {"optimizer": "sgd", "momentum": 0.9, "max_norm": 1.0},
     {"optimizer": "sparse_adam"}, {"optimizer": "sgd", "sparse": True}, {"optimizer": "rmsprop", "tie_weights": True,
     "padding_idx": 0}],
)  # fmt: skip
def test_replayed_step_matches_the_runs_records(settings):
    cfg = TrainConfig(vocab_size=30, dim=4, batch_size=16, **settings)
    run = Trainer(cfg)
    records = run.run(5)
    for row in (int(records[3].input_ids[0]), 0, 29):
        replayed = replay_step(cfg, 4, row)
        rec = records[3]
        np.testing.assert_array_equal(replayed.record.input_ids, rec.input_ids)
        assert replayed.record.loss == rec.loss
        np.testing.assert_array_equal(replayed.record.grad_norm, rec.grad_norm)
        got = stages(cfg, replayed.weight, replayed.head, rec.input_ids, rec.target_ids, 0, row)
        assert got.loss == pytest.approx(rec.loss, rel=1e-6)
        np.testing.assert_allclose(got.grad_norm, rec.grad_norm, rtol=1e-5, atol=1e-7)
        assert ((got.grad_norm > 0) == rec.grad_mask).all()
        move = optimizer_step(cfg, replayed)
        got = agreement(move.w_after, replayed.w_after)
        assert got.bitwise if run.device.type == "cpu" else got.max_ulps <= 8
        assert np.linalg.norm(move.move) == pytest.approx(rec.update_norm[row], rel=1e-6, abs=1e-12)


def test_replay_beyond_the_budget_is_a_config_error():
    cfg = TrainConfig(vocab_size=50257, dim=768)
    with pytest.raises(ConfigError):
        replay_step(cfg, 10**6, 0)


@pytest.mark.parametrize("settings", [{}, {"model": "sgns", "tie_weights": True}])
def test_backward_caption_counts_the_rows_lookups_in_words(settings):
    cfg = TrainConfig(vocab_size=30, dim=4, batch_size=16, seed=2, **settings)
    rec = replay_step(cfg, 1, 0).record
    counts = np.bincount(rec.input_ids, minlength=30)
    for row in (np.flatnonzero(counts == 1)[0], np.flatnonzero(counts == 2)[0], int(np.argmax(counts))):
        weight = Trainer(cfg).weight  # the table before step 1
        head = None if cfg.tie_weights else Trainer(cfg).head_weight
        position = int(np.flatnonzero(rec.input_ids == row)[0])
        st_ = stages(cfg, weight, head, rec.input_ids, rec.target_ids, position, row, rec.negative_ids)
        text = backward_caption(st_, rec, cfg, "tok")
        k = int(counts[row])  # counted from the record's batch
        said = {1: "once", 2: "twice"}.get(k, f"{k} times")
        parts = "1 part" if k == 1 else f"{k} parts"
        assert text.startswith(f"Row {row} (tok) was looked up {said}: its lookup gradient sums {parts}.")
        if cfg.tie_weights:
            gathered = int((np.concatenate([rec.target_ids[:, None], rec.negative_ids], axis=1) == row).sum())
            said = {1: "once", 2: "twice"}.get(gathered, f"{gathered:,} times")
            assert f" The tied head gathered it {said} as a true context or a negative" in text
