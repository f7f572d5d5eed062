"""One step in slow motion for negative sampling: the stages against a hand-written float64 sigmoid loss and its
closed-form gradient (numpy, no torch), the replayed step against the run's records, and the page's numbers."""

from __future__ import annotations

import numpy as np
import pytest
from apptest_support import app, captions, chart, decode, no_exception
from test_core_slow_motion import CASES  # the full softmax's settings: padding, max_norm, a tied head

from core import TrainConfig, Trainer
from core.arithmetic import agreement
from core.slow_motion import SampledStages, optimizer_step, replay_step, stages


def closed_form(cfg: TrainConfig, weight, head, ids, targets, negatives) -> dict:
    """float64 numpy: max_norm's rescale, s = h·c, L = mean(−ln σ(s_0) − Σ ln σ(−s_j)), dL/ds = (σ(s) − y) / B,
    dL/dh = Σ_j dL/ds_j c_j, and the table's gradient (the lookup's rows; a tied head's gathered rows too)."""
    w = weight.astype(np.float64)
    if cfg.max_norm is not None:
        for r in np.unique(ids):
            n = np.linalg.norm(w[r])
            if n > cfg.max_norm:
                w[r] *= cfg.max_norm / (n + 1e-7)
    head_w = w if head is None else head.astype(np.float64)
    scored = np.concatenate([targets[:, None], negatives], axis=1)  # (B, k+1)
    h, c = w[ids], head_w[scored]
    s = np.einsum("bd,bkd->bk", h, c)
    sig = 1.0 / (1.0 + np.exp(-s))
    losses = -np.log(sig[:, 0]) - np.log(1.0 - sig[:, 1:]).sum(axis=1)
    y = np.zeros_like(s)
    y[:, 0] = 1.0
    ds = (sig - y) / len(ids)
    dh = np.einsum("bk,bkd->bd", ds, c)
    grad = np.zeros_like(w)
    for b, r in enumerate(ids):
        if r != cfg.padding_idx:
            grad[r] += dh[b]
    head_grad = np.zeros_like(head_w)
    for b in range(len(ids)):
        for j, r in enumerate(scored[b]):
            head_grad[r] += ds[b, j] * h[b]
    if head is None:
        grad += head_grad
    return {"s": s, "sig": sig, "losses": losses, "ds": ds, "dh": dh, "grad": grad, "head_grad": head_grad,
            "scored": scored}  # fmt: skip


@pytest.mark.parametrize("settings", CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_sampled_stages_equal_the_closed_form_sigmoid_gradient(settings, seed):
    rng = np.random.default_rng(seed)
    V, D, B, k = 25, 5, 12, 4
    cfg = TrainConfig(vocab_size=V, dim=D, batch_size=B, model="sgns", negatives=k, **settings)
    weight = rng.normal(size=(V, D)).astype(np.float32) * 0.5
    head = None if cfg.tie_weights else rng.normal(size=(V, D)).astype(np.float32) * 0.5
    ids = rng.integers(0, 6, size=B)  # few rows: repeats, and the padding row among them
    ids[:2] = 3
    targets, negatives = rng.integers(0, V, size=B), rng.integers(0, 8, size=(B, k))  # rows drawn again and again
    ref = closed_form(cfg, weight, head, ids, targets, negatives)
    for position, row in [(0, 3), (5, int(ids[5])), (7, int(negatives[7, 0])), (3, 24)]:
        got = stages(cfg, weight, head, ids, targets, position, row, negatives)
        assert isinstance(got, SampledStages)
        np.testing.assert_array_equal(got.scored, ref["scored"][position])
        np.testing.assert_allclose(got.scores, ref["s"][position], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got.sigmoid, ref["sig"][position], rtol=1e-5)
        np.testing.assert_allclose(got.losses, ref["losses"], rtol=1e-5)
        assert got.loss == pytest.approx(ref["losses"].mean(), rel=1e-5)
        np.testing.assert_allclose(got.dscores, ref["ds"][position], rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(got.dhidden, ref["dh"], rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(got.row_grad, ref["grad"][row], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got.grad_norm, np.linalg.norm(ref["grad"], axis=1), rtol=1e-5, atol=1e-7)
        assert ((got.grad_norm > 0) == (np.abs(ref["grad"]).sum(axis=1) > 0)).all()
        looked_up = np.flatnonzero(ids == row)
        assert list(got.row_positions) == list(looked_up)
        assert got.dropped.sum() == (len(looked_up) if row == cfg.padding_idx else 0)
        if cfg.tie_weights:  # the lookup's parts and every place the head gathered the row add up to its gradient
            assert [tuple(p) for p in got.head_places] == [tuple(p) for p in np.argwhere(ref["scored"] == row)]
            np.testing.assert_allclose(got.lookup_grad + got.head_grad, ref["grad"][row], rtol=1e-5, atol=1e-7)
        else:
            assert got.head_grad is None and not len(got.head_places)
            np.testing.assert_allclose(got.head_grad_norm, np.linalg.norm(ref["head_grad"], axis=1), rtol=1e-5,
                                       atol=1e-8)  # fmt: skip


@pytest.mark.parametrize(
    "settings",
    [{"optimizer": "adam"}, {"optimizer": "sgd", "momentum": 0.9, "max_norm": 1.0, "tie_weights": True},
     {"optimizer": "sparse_adam"}, {"optimizer": "adagrad", "padding_idx": 0}],
)  # fmt: skip
def test_a_replayed_negative_sampling_step_matches_the_runs_records(settings):
    cfg = TrainConfig(vocab_size=30, dim=4, batch_size=16, model="sgns", **settings)
    records = Trainer(cfg).run(5)
    rec = records[3]
    for row in (int(rec.input_ids[0]), int(rec.negative_ids[2, 1]), 29):
        replayed = replay_step(cfg, 4, row)
        np.testing.assert_array_equal(replayed.record.negative_ids, rec.negative_ids)
        got = stages(cfg, replayed.weight, replayed.head, rec.input_ids, rec.target_ids, 0, row, rec.negative_ids)
        assert got.loss == pytest.approx(rec.loss, rel=1e-6)
        np.testing.assert_allclose(got.grad_norm, rec.grad_norm, rtol=1e-5, atol=1e-7)
        assert ((got.grad_norm > 0) == rec.grad_mask).all()
        move = optimizer_step(cfg, replayed)
        assert agreement(move.w_after, replayed.w_after).max_ulps <= 8
        assert np.linalg.norm(move.move) == pytest.approx(rec.update_norm[row], rel=1e-5, abs=1e-12)


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_the_page_shows_each_pairs_sigmoids_and_the_recorded_loss(tied):
    query = {"model": "sgns"} | ({"tie_weights": "true"} if tied else {})
    at = app(query, script="pages/11_slow_motion.py")
    at.button(key="slow_step_take").click().run()
    no_exception(at)
    trainer = at.session_state.trainer
    rec, cfg = trainer.history.at(1), trainer.cfg
    start = Trainer(cfg)  # step 0 of the same seeded run: the table and head the step started from
    table, head = start.weight.astype(np.float64), start.head_weight.astype(np.float64)
    scored = [int(rec.target_ids[0]), *map(int, rec.negative_ids[0])]
    sigma = 1.0 / (1.0 + np.exp(-(head[scored] @ table[int(rec.input_ids[0])])))
    bars = chart(at, f"Pair 0: σ(score) of its true context '{trainer.vocab[scored[0]]}' (blue) and 5 negatives")
    np.testing.assert_allclose(decode(bars["data"][0]["y"]), sigma, rtol=1e-5)
    assert f"the run recorded {rec.loss:.6f}" in captions(at)
    assert "exactly the recorded mask" in captions(at) and "to the bit" in captions(at)
    assert any("dL/ds = (σ(s) − y) / B" in s.value for s in at.subheader)
    assert not at.info  # no "not shown for this model" box
    assert at.number_input(key="slow_position").label == "Pair in the batch"
