"""One step in slow motion for a small GPT: the stages against test_core_gpt's separately written GPT (float64,
heads split by hand, one_hot @ W), the replayed step against the run's records, and the page's numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from apptest_support import app, captions, chart, decode, no_exception
from test_core_gpt import GPT, LN_EPS, block, leaves, norms, reference

from core import TrainConfig, Trainer
from core.arithmetic import agreement
from core.slow_motion import optimizer_step, replay_bytes, replay_step, stages

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: as the server runs torch

CASES = [dict(tie_weights=t, padding_idx=pad) for t in (False, True) for pad in (None, 0)]
CASE_IDS = [("tied" if c["tie_weights"] else "untied") + ("" if c["padding_idx"] is None else "-pad") for c in CASES]


def reference_logits(cfg: TrainConfig, p: dict[str, torch.Tensor], ids: np.ndarray) -> np.ndarray:
    """(B T, V) float64 logits of the hand-written GPT (no gradient)."""
    with torch.no_grad():
        w = p["embedding.weight"]
        x = w[torch.from_numpy(ids).reshape(cfg.batch_size, cfg.context)] + p["positions.weight"][: cfg.context]
        for i in range(cfg.layers):
            x = block(p, i, x, cfg.heads)
        x = F.layer_norm(x, (cfg.dim,), p["norm.weight"], p["norm.bias"], LN_EPS)
        head = w if cfg.tie_weights else p["head.weight"]
        return (x @ head.T).reshape(-1, cfg.vocab_size).numpy()


@pytest.mark.parametrize("settings", CASES, ids=CASE_IDS)
def test_gpt_stages_equal_a_hand_written_gpts_forward_and_autograd(settings):
    trainer = Trainer(TrainConfig(**{**GPT, **settings}))
    trainer.run(2)
    cfg = trainer.cfg
    ids, targets = trainer.peek_batch()
    p = leaves(trainer)
    logits = reference_logits(cfg, p, ids)
    loss, output_grad, grads = reference(cfg, p, ids, targets)
    head = None if cfg.tie_weights else trainer.head_weight
    for position, row in [(0, int(ids[0])), (7, int(ids[7])), (len(ids) - 1, 39)]:
        got = stages(cfg, trainer.weight, head, ids, targets, position, row, model=trainer.model)
        assert got.loss == pytest.approx(loss, rel=1e-5)
        np.testing.assert_allclose(got.scores, logits[position], rtol=1e-4, atol=1e-5)
        soft = np.exp(logits[position] - logits[position].max())
        np.testing.assert_allclose(got.softmax, soft / soft.sum(), rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(got.dhidden, output_grad, rtol=1e-3, atol=1e-7)  # each lookup's dL/dx
        table_grad = grads["embedding.weight"]
        np.testing.assert_allclose(got.row_grad, table_grad[row], rtol=1e-3, atol=1e-7)
        np.testing.assert_allclose(got.grad_norm, norms(table_grad), rtol=1e-3, atol=1e-7)
        assert ((got.grad_norm > 0) == (norms(table_grad) > 0)).all()
        assert list(got.row_positions) == list(np.flatnonzero(ids == row)) and got.context == cfg.context
        if not cfg.tie_weights:
            np.testing.assert_allclose(got.head_grad_norm, norms(grads["head.weight"]), rtol=1e-3, atol=1e-7)


@pytest.mark.parametrize(
    "settings",
    [{}, {"tie_weights": True, "max_norm": 1.0, "padding_idx": 0}, {"optimizer": "sgd", "momentum": 0.9},
     {"optimizer": "sparse_adam"}],
)  # fmt: skip
def test_a_replayed_gpt_step_matches_the_runs_records(settings):
    cfg = TrainConfig(**{**GPT, **settings})
    records = Trainer(cfg).run(4)
    rec = records[2]
    for row in (int(rec.input_ids[0]), 39):
        replayed = replay_step(cfg, 3, row)
        np.testing.assert_array_equal(replayed.record.input_ids, rec.input_ids)
        got = stages(cfg, replayed.weight, replayed.head, rec.input_ids, rec.target_ids, 0, row, model=replayed.model)
        assert got.loss == pytest.approx(rec.loss, rel=1e-5)
        np.testing.assert_allclose(got.grad_norm, rec.grad_norm, rtol=1e-4, atol=1e-7)
        assert ((got.grad_norm > 0) == rec.grad_mask).all()
        kept = replayed.model.embedding.weight.detach().numpy()  # max_norm rescaled a copy, not the kept model
        np.testing.assert_array_equal(kept, replayed.weight)
        move = optimizer_step(cfg, replayed)
        assert agreement(move.w_after, replayed.w_after).max_ulps <= 8
        assert np.linalg.norm(move.move) == pytest.approx(rec.update_norm[row], rel=1e-5, abs=1e-12)


def test_the_page_shows_a_windows_next_token_softmax_and_the_recorded_loss():
    at = app({"model": "gpt"}, script="pages/11_slow_motion.py")
    at.button(key="slow_step_take").click().run()
    no_exception(at)
    trainer = at.session_state.trainer
    rec, cfg = trainer.history.at(1), trainer.cfg
    start = Trainer(cfg)  # step 0 of the same seeded run: the weights the step started from
    logits = reference_logits(cfg, leaves(start), rec.input_ids)[0]
    soft = np.exp(logits - logits.max())
    soft /= soft.sum()
    target = int(rec.target_ids[0])
    bars = chart(at, f"Window 0, t 0: softmax of the head's scores (target '{trainer.vocab[target]}' in blue)")
    shown = [trainer.vocab.index(word) for word in bars["data"][0]["x"]]
    np.testing.assert_allclose(decode(bars["data"][0]["y"]), soft[shown], rtol=1e-4)
    assert f"the run recorded {rec.loss:.6f}" in captions(at) and "exactly the recorded mask" in captions(at)
    assert f"The batch's {cfg.batch_size} windows of {cfg.context} tokens select" in captions(at)
    assert any("through the blocks to each lookup" in s.value for s in at.subheader) and not at.info
    assert at.number_input(key="slow_position").label == f"Position in the batch (window × {cfg.context} + t)"


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_the_replay_is_charged_for_the_gpt_model_it_keeps(tied):
    cfg = TrainConfig(**{**GPT, "tie_weights": tied})
    kept = replay_step(cfg, 1, 0).model
    held = sum(p.numel() * p.element_size() for p in kept.parameters())  # counted on the model itself
    assert replay_bytes(cfg) - cfg.memory_bytes() == held
    skip_gram = TrainConfig(vocab_size=40, dim=8)
    assert replay_bytes(skip_gram) == skip_gram.memory_bytes() and replay_step(skip_gram, 1, 0).model is None
