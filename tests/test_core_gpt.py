"""A small GPT (core.model.GPT in the trainer), checked against independent computations: a separately written
pre-norm causal transformer (F.layer_norm, heads split by hand, F.scaled_dot_product_attention, F.gelu, residuals)
loaded with the run's weights, its token rows looked up as one_hot(windows) @ W, differentiated by autograd in
float64; the rows that gradient reaches; torch's own optimizers stepping a copy of the model; a seeded run, a clone
and a link's replay bit for bit; training below ln V; the settings refused; the memory budget against the tensors.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core import ConfigError, TrainConfig, Trainer, TrainingDiverged, replay
from core.budget import run_bytes

GPT = {"model": "gpt", "vocab_size": 40, "dim": 8, "batch_size": 6, "context": 5, "layers": 2, "heads": 2, "seed": 3}
LN_EPS = 1e-5  # nn.LayerNorm's and GPT-2's epsilon


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: as the server runs torch


# ---------------------------------------------------------------- the reference: a GPT written again, by hand


def leaves(trainer: Trainer) -> dict[str, torch.Tensor]:
    """The run's weights as float64 leaves, by state_dict name (read before the step)."""
    return {k: v.detach().double().clone().requires_grad_() for k, v in trainer.model.state_dict().items()}


def block(p: dict[str, torch.Tensor], i: int, x: torch.Tensor, heads: int) -> torch.Tensor:
    """One pre-norm causal block: x + attn(ln1(x)), then + mlp(ln2(x)). (B, T, D) -> (B, T, D)."""
    b, t, d = x.shape
    at = f"blocks.layers.{i}."
    h = F.layer_norm(x, (d,), p[at + "norm1.weight"], p[at + "norm1.bias"], LN_EPS)
    qkv = F.linear(h, p[at + "self_attn.in_proj_weight"], p[at + "self_attn.in_proj_bias"])  # (B, T, 3D)
    q, k, v = (z.reshape(b, t, heads, d // heads).transpose(1, 2) for z in qkv.split(d, dim=-1))  # (B, H, T, D/H)
    a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, d)  # (B, T, D)
    x = x + F.linear(a, p[at + "self_attn.out_proj.weight"], p[at + "self_attn.out_proj.bias"])
    h = F.layer_norm(x, (d,), p[at + "norm2.weight"], p[at + "norm2.bias"], LN_EPS)
    return x + F.linear(F.gelu(F.linear(h, p[at + "linear1.weight"], p[at + "linear1.bias"])),
                        p[at + "linear2.weight"], p[at + "linear2.bias"])  # fmt: skip


def reference(cfg: TrainConfig, p: dict[str, torch.Tensor], ids: np.ndarray, targets: np.ndarray):
    """The loss of the (B*T,) flattened windows and its gradients, float64, by autograd through the hand-written
    GPT: returns (loss, dL/d(looked-up row) per position (B*T, D), {name: gradient}). The lookup is
    one_hot @ W; padding_idx's row passes its value but not its gradient (as nn.Embedding); padding is no target."""
    w, v, b, t = p["embedding.weight"], cfg.vocab_size, cfg.batch_size, cfg.context
    windows = torch.from_numpy(ids).reshape(b, t)
    one_hot = F.one_hot(windows, v).double()  # (B, T, V)
    if cfg.padding_idx is None:
        tokens = one_hot @ w
    else:
        pad = torch.zeros(v, dtype=torch.float64)
        pad[cfg.padding_idx] = 1.0
        used = one_hot @ pad  # (B, T): 1 where the window holds the padding token
        tokens = (one_hot * (1.0 - pad)) @ w + used[..., None] * w[cfg.padding_idx].detach()  # value, no gradient
    tokens.retain_grad()  # (B, T, D)
    x = tokens + p["positions.weight"][:t]  # every position row, every window
    for i in range(cfg.layers):
        x = block(p, i, x, cfg.heads)
    x = F.layer_norm(x, (cfg.dim,), p["norm.weight"], p["norm.bias"], LN_EPS)
    head = w if cfg.tie_weights else p["head.weight"]
    logp = torch.log_softmax((x @ head.T).reshape(-1, v), dim=1)  # (B T, V)
    flat = torch.from_numpy(targets)
    scored = flat != (-1 if cfg.padding_idx is None else cfg.padding_idx)  # padding is never a target
    loss = -logp[torch.arange(len(flat)), flat][scored].mean()
    loss.backward()
    grads = {k: leaf.grad.numpy() for k, leaf in p.items() if leaf.grad is not None}
    return loss.item(), tokens.grad.reshape(-1, cfg.dim).numpy(), grads


def norms(a: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a, axis=1)


def step_with_reference(trainer: Trainer):
    """(record, the weights before as float64 leaves, the reference's loss, output_grad and gradients)."""
    ids, targets = trainer.peek_batch()
    p = leaves(trainer)
    before = {k: x.detach().numpy().copy() for k, x in p.items()}
    loss, output_grad, grads = reference(trainer.cfg, p, ids, targets)
    rec = trainer.step()
    np.testing.assert_array_equal(rec.input_ids, ids)
    np.testing.assert_array_equal(rec.target_ids, targets)
    return rec, before, loss, output_grad, grads


# ---------------------------------------------------------------- 1. gradients against the reference


CASES = [dict(tie_weights=t, padding_idx=pad) for t in (False, True) for pad in (None, 0)]
CASE_IDS = [("tied" if c["tie_weights"] else "untied") + ("" if c["padding_idx"] is None else "-pad") for c in CASES]


@pytest.mark.parametrize("settings", CASES, ids=CASE_IDS)
def test_loss_and_every_gradient_match_a_hand_written_gpt_with_the_same_weights(settings):
    cfg = TrainConfig(**GPT, **settings)
    trainer = Trainer(cfg)
    saw_padding = False
    for _ in range(3):  # later steps too: a tied padding row is no longer zero after the first
        rec, before, loss, output_grad, grads = step_with_reference(trainer)
        table = grads["embedding.weight"]  # lookup (minus padding) + a tied head's path
        assert rec.loss == pytest.approx(loss, rel=2e-6)  # float32 against float64: seen up to 2e-7
        scale = np.abs(output_grad).max()
        np.testing.assert_allclose(rec.output_grad, output_grad, rtol=1e-5, atol=1e-5 * scale)  # seen: 7e-7 x scale
        np.testing.assert_allclose(rec.grad_norm, norms(table), rtol=1e-5, atol=0)  # seen 1.2e-6; zero rows: 0 exactly
        np.testing.assert_allclose(rec.position_grad_norm, norms(grads["positions.weight"]), rtol=1e-5, atol=0)
        np.testing.assert_array_equal(rec.token_counts, np.bincount(rec.input_ids, minlength=cfg.vocab_size))
        if cfg.tie_weights:
            assert rec.head_grad_norm is None
        else:
            np.testing.assert_allclose(rec.head_grad_norm, norms(grads["head.weight"]), rtol=1e-5, atol=0)
            lookup = np.zeros_like(table)  # untied, the table's gradient is the positions' contributions, summed
            np.add.at(lookup, rec.input_ids, rec.output_grad)
            if cfg.padding_idx is not None:
                lookup[cfg.padding_idx] = 0.0
            np.testing.assert_allclose(lookup, table, rtol=1e-5, atol=1e-5 * scale)
        if cfg.padding_idx is not None:
            saw_padding |= bool((rec.input_ids == cfg.padding_idx).any() and (rec.target_ids == cfg.padding_idx).any())
            assert (rec.grad_norm[cfg.padding_idx] > 0) == cfg.tie_weights  # only a tied head reaches the pad row
            assert rec.head_grad_mask[cfg.padding_idx]  # a full softmax scores the pad row at every position
    assert saw_padding or cfg.padding_idx is None, "the padded toy corpus should put <pad> in some window"


def test_a_positions_logits_do_not_depend_on_the_tokens_after_it():
    """The causal mask, seen from outside: change the last token of every window and only the last logits change."""
    trainer = Trainer(TrainConfig(**GPT))
    ids, targets = trainer.peek_batch()
    logits, _ = trainer.model(torch.from_numpy(ids).reshape(GPT["batch_size"], GPT["context"]))
    changed = ids.reshape(GPT["batch_size"], GPT["context"]).copy()
    changed[:, -1] = (changed[:, -1] + 1) % GPT["vocab_size"]  # a different last token in every window
    again, _ = trainer.model(torch.from_numpy(changed))
    torch.testing.assert_close(again[:, :-1], logits[:, :-1], rtol=0, atol=1e-6)  # earlier positions: unchanged
    assert not torch.allclose(again[:, -1], logits[:, -1])


# ---------------------------------------------------------------- 2. which rows get a gradient


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
@pytest.mark.parametrize("padding_idx", [None, 0], ids=["nopad", "pad"])
def test_rows_with_a_gradient_are_the_windows_tokens_or_every_row_through_a_tied_head(tied, padding_idx):
    cfg = TrainConfig(**{**GPT, "vocab_size": 500, "batch_size": 4}, tie_weights=tied, padding_idx=padding_idx)
    for rec in Trainer(cfg).run(3):
        looked_up = set(rec.input_ids.tolist()) - {padding_idx}
        assert len(looked_up) < cfg.vocab_size // 10  # 20 positions: a few rows of 500
        table = set(np.flatnonzero(rec.grad_mask).tolist())
        assert table == (set(range(cfg.vocab_size)) if tied else looked_up)
        assert rec.head_grad_mask.all()  # a full softmax over V at every position
        if not tied:
            assert (rec.head_grad_norm > 0).all()
        assert rec.position_grad_norm.shape == rec.position_update_norm.shape == (cfg.context,)
        assert (rec.position_grad_norm > 0).all() and (rec.position_update_norm > 0).all()  # every row, every step
        assert rec.output_grad.shape == (cfg.batch_size * cfg.context, cfg.dim)


def test_a_skip_gram_has_no_positional_table_in_its_records():
    rec = Trainer(TrainConfig(vocab_size=40, dim=8)).step()
    assert rec.position_grad_norm is None and rec.position_update_norm is None


# ---------------------------------------------------------------- 3. the optimizer step


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_plain_sgd_moves_every_parameter_by_minus_lr_times_the_reference_gradient(tied):
    cfg = TrainConfig(**GPT, optimizer="sgd", lr=0.5, momentum=0.0, weight_decay=0.0, tie_weights=tied, padding_idx=0)
    trainer = Trainer(cfg)
    for _ in range(2):
        rec, before, _, _, grads = step_with_reference(trainer)
        after = {k: v.detach().numpy() for k, v in trainer.model.state_dict().items()}
        assert grads.keys() == after.keys()  # every parameter got a gradient: the reference reached them all
        for name, grad in grads.items():
            np.testing.assert_allclose(after[name] - before[name], -cfg.lr * grad, rtol=1e-4, atol=5e-7, err_msg=name)
        table, positions = grads["embedding.weight"], grads["positions.weight"]
        np.testing.assert_allclose(rec.update_norm, cfg.lr * norms(table), rtol=1e-4, atol=5e-7)
        np.testing.assert_allclose(rec.position_update_norm, cfg.lr * norms(positions), rtol=1e-4, atol=5e-7)
        np.testing.assert_array_equal(rec.updated_mask, rec.grad_mask)  # only rows with a gradient move
        np.testing.assert_allclose(rec.move_grad, rec.update_norm, rtol=1e-6)
        assert not rec.move_state.any() and not rec.move_decay.any() and not rec.state_update_norm.any()


def _plain_optimizers(cfg: TrainConfig, model: torch.nn.Module) -> list[torch.optim.Optimizer]:
    """What a plain torch loop would build: the table first, then every other parameter in model.parameters()
    order, one param group (SparseAdam: the table alone, a dense Adam for the rest)."""
    table = model.embedding.weight
    rest = [q for q in model.parameters() if q is not table]
    lr, betas, wd = cfg.lr, (cfg.beta1, cfg.beta2), cfg.weight_decay
    if cfg.optimizer == "sparse_adam":
        return [torch.optim.SparseAdam([table], lr=lr, betas=betas), torch.optim.Adam(rest, lr=lr, betas=betas)]
    params = [table, *rest]
    return [{
        "sgd": lambda: torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=wd),
        "adam": lambda: torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=wd),
        "adamw": lambda: torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=wd),
        "adagrad": lambda: torch.optim.Adagrad(params, lr=lr, weight_decay=wd),
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=lr, momentum=cfg.momentum, weight_decay=wd),
    }[cfg.optimizer]()]  # fmt: skip


OPTIMIZER_CASES = [
    dict(optimizer="sgd", momentum=0.9),
    dict(optimizer="sgd", momentum=0.9, nesterov=True, weight_decay=0.01),
    dict(optimizer="sgd", sparse=True),
    dict(optimizer="adam"),
    dict(optimizer="adam", weight_decay=0.05, max_norm=1.0),
    dict(optimizer="adamw", weight_decay=0.1),
    dict(optimizer="sparse_adam"),
    dict(optimizer="adagrad"),
    dict(optimizer="adagrad", weight_decay=0.05, max_norm=1.5),
    dict(optimizer="rmsprop", momentum=0.5),
    dict(optimizer="rmsprop", weight_decay=0.05),
]
TIED_OK = [
    (s, t)
    for s in OPTIMIZER_CASES
    for t in (False, True)
    if not (t and (s.get("sparse") or s["optimizer"] == "sparse_adam"))  # refused: a tied head's gradient is dense
]


@pytest.mark.parametrize(
    ("settings", "tied"), TIED_OK,
    ids=[("tied-" if t else "") + "-".join(f"{k}={v}" for k, v in s.items()) for s, t in TIED_OK],
)  # fmt: skip
def test_torchs_own_optimizer_on_a_copy_of_the_model_gives_the_same_weights_and_the_split_adds_up(settings, tied):
    lr = 0.01 if settings["optimizer"] == "rmsprop" else 0.05
    cfg = TrainConfig(**GPT, lr=lr, padding_idx=1, tie_weights=tied, **settings)
    trainer = Trainer(cfg)
    twin = copy.deepcopy(trainer.model)  # before any step; trained below by a plain torch loop
    optimizers = _plain_optimizers(cfg, twin)
    ours = trainer.optimizers
    assert [len(o.param_groups) for o in ours] == [1] * len(ours)
    got = [q for o in ours for q in o.param_groups[0]["params"]]
    table = trainer.model.embedding.weight
    assert [id(q) for q in got] == [id(table), *(id(q) for q in trainer.model.parameters() if q is not table)]
    for _ in range(3):
        ids, targets = trainer.peek_batch()
        table_before = trainer.weight.astype(np.float64)
        positions_before = trainer.model.positions.weight.detach().numpy().astype(np.float64)
        rec = trainer.step()
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        logits, _ = twin(torch.from_numpy(ids).reshape(cfg.batch_size, cfg.context))  # (B, T, V)
        F.cross_entropy(logits.reshape(-1, cfg.vocab_size), torch.from_numpy(targets), ignore_index=1).backward()
        for optimizer in optimizers:
            optimizer.step()
        theirs = twin.state_dict()
        for name, ours_now in trainer.model.state_dict().items():  # bit for bit
            torch.testing.assert_close(ours_now, theirs[name], rtol=0, atol=0, msg=lambda m, n=name: f"{n}: {m}")
        moved = trainer.weight.astype(np.float64) - table_before
        np.testing.assert_allclose(rec.update_norm, norms(moved), rtol=1e-6, atol=1e-9)
        positions_moved = trainer.model.positions.weight.detach().numpy() - positions_before
        np.testing.assert_allclose(rec.position_update_norm, norms(positions_moved), rtol=1e-6, atol=1e-9)
        parts = rec.move_renorm + rec.move_decay + rec.move_state + rec.move_grad
        np.testing.assert_allclose(parts, rec.update_norm, rtol=1e-5, atol=1e-7)
    if cfg.max_norm is not None:
        assert rec.move_renorm.max() > 1e-3  # N(0, 1) rows of 8 values are longer than 1.5: rescaled
    if cfg.weight_decay:
        assert np.abs(rec.move_decay).max() > 1e-6


def test_adam_moves_the_rows_outside_the_windows_by_its_state_alone_as_a_hand_computed_zero_gradient_step():
    lr, b1, b2, eps = 0.05, 0.8, 0.95, 1e-8
    trainer = Trainer(TrainConfig(**GPT, optimizer="adam", lr=lr, beta1=b1, beta2=b2))
    trainer.run(3)
    state = copy.deepcopy(trainer.optimizers[0].state[trainer.model.embedding.weight])
    rec = trainer.step()
    t = int(state["step"]) + 1
    m, v = b1 * state["exp_avg"].numpy(), b2 * state["exp_avg_sq"].numpy()
    update = lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)  # Adam with a zero gradient
    np.testing.assert_allclose(rec.state_update_norm, norms(update), rtol=1e-4, atol=1e-9)
    idle = ~rec.grad_mask
    assert (idle & rec.updated_mask).sum() > 3  # rows seen earlier, not now, still move
    np.testing.assert_array_equal(rec.move_state[idle], rec.update_norm[idle])
    assert not rec.move_grad[idle].any()


# ---------------------------------------------------------------- 4. seeds, clones, replays, peeks


def _same_run(a: Trainer, b: Trainer) -> None:
    for (name, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        assert torch.equal(x, y), name


def test_a_seeded_run_is_reproduced_bit_for_bit_and_another_seed_differs():
    cfg = TrainConfig(**GPT, padding_idx=0)
    a, b, c = Trainer(cfg), Trainer(cfg), Trainer(cfg.replace(seed=4))
    for ra, rb, rc in zip(a.run(20), b.run(20), c.run(20), strict=True):
        np.testing.assert_array_equal(ra.input_ids, rb.input_ids)
        np.testing.assert_array_equal(ra.output_grad, rb.output_grad)
        np.testing.assert_array_equal(ra.position_update_norm, rb.position_update_norm)
        assert ra.loss == rb.loss and not np.array_equal(ra.input_ids, rc.input_ids)
    _same_run(a, b)
    assert not np.array_equal(a.weight, c.weight)
    assert not torch.equal(a.model.positions.weight, c.model.positions.weight)
    assert not torch.equal(a.model.blocks.layers[0].linear1.weight, c.model.blocks.layers[0].linear1.weight)


def test_a_clone_and_a_links_replay_step_on_exactly_as_the_run():
    cfg = TrainConfig(**GPT, optimizer="adamw", weight_decay=0.1)
    by_hand = Trainer(cfg)
    by_hand.run(5)
    twin = by_hand.clone()
    twin.run(5)  # first: stepping the clone must not touch the run
    by_hand.run(5)
    replayed = Trainer(cfg)
    assert replay.replay(replayed, 10) == 10
    for other in (twin, replayed):
        _same_run(other, by_hand)
        np.testing.assert_array_equal(other.history[-1].input_ids, by_hand.history[-1].input_ids)
        assert other.history[-1].loss == by_hand.history[-1].loss
    moments = [o.optimizers[0].state[o.model.positions.weight]["exp_avg"] for o in (by_hand, twin, replayed)]
    assert torch.equal(moments[0], moments[1]) and torch.equal(moments[0], moments[2])


def test_peek_batch_gives_the_next_windows_without_advancing():
    trainer = Trainer(TrainConfig(**GPT))
    first, again = trainer.peek_batch(), trainer.peek_batch()
    rec = trainer.step()
    other = Trainer(TrainConfig(**GPT)).step()  # never peeked
    for a, b in ((first[0], again[0]), (first[1], again[1]), (first[0], rec.input_ids), (first[1], rec.target_ids)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(rec.input_ids, other.input_ids)
    windows, targets = (x.reshape(GPT["batch_size"], GPT["context"]) for x in first)
    np.testing.assert_array_equal(windows[:, 1:], targets[:, :-1])  # next tokens: the window shifted by one
    tokens = trainer.corpus.tokens
    for window, target in zip(windows, targets, strict=True):  # each window is consecutive text of the corpus
        starts = np.flatnonzero(tokens[: len(tokens) - GPT["context"]] == window[0])
        assert any(np.array_equal(tokens[s : s + GPT["context"] + 1], [*window, target[-1]]) for s in starts)


def test_a_non_finite_positional_table_is_found_before_the_step_and_changes_nothing():
    trainer = Trainer(TrainConfig(**GPT))
    trainer.run(2)
    with torch.no_grad():
        trainer.model.positions.weight[1, 0] = float("nan")
    kept = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    batch = trainer.peek_batch()
    with pytest.raises(TrainingDiverged) as caught:
        trainer.step()
    assert "the loss became nan" in caught.value.message and trainer.diverged is None
    for name, value in trainer.model.state_dict().items():
        assert torch.equal(value, kept[name]) or (name == "positions.weight" and value.isnan().sum() == 1), name
    np.testing.assert_array_equal(trainer.peek_batch()[0], batch[0])
    assert trainer.step_count == 2 and len(trainer.history) == 2


def test_a_non_finite_positional_gradient_is_found_before_the_step_named_and_changes_nothing():
    trainer = Trainer(TrainConfig(**GPT))
    trainer.run(2)
    kept = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    moments = [v.clone() for o in trainer.optimizers for s in o.state.values() for v in s.values()]
    batch = trainer.peek_batch()
    hook = trainer.model.positions.weight.register_hook(lambda grad: grad * float("nan"))  # only this gradient
    with pytest.raises(TrainingDiverged) as caught:
        trainer.step()
    assert "the gradient of the positional table became inf or NaN" in caught.value.message
    assert "Nothing was changed" in caught.value.message and trainer.diverged is None  # restored, not frozen
    for name, value in trainer.model.state_dict().items():
        assert torch.equal(value, kept[name]), name
    after = [v for o in trainer.optimizers for s in o.state.values() for v in s.values()]
    assert all(torch.equal(a, b) for a, b in zip(after, moments, strict=True))
    np.testing.assert_array_equal(trainer.peek_batch()[0], batch[0])
    hook.remove()
    trainer.step()  # the run goes on
    assert trainer.step_count == 3


# ---------------------------------------------------------------- 5. it learns


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_a_gpt_trains_below_its_blind_guess_within_100_steps_at_its_defaults(tied):
    cfg = TrainConfig(model="gpt", tie_weights=tied)  # the built-in corpus, V 60, D 16, T 8, 1 block, 2 heads, Adam
    assert cfg.blind_loss == pytest.approx(math.log(cfg.vocab_size)) and cfg.blind_name == "ln V"
    records = Trainer(cfg).run(100)
    recent = float(np.mean([r.loss for r in records[-5:]]))
    assert recent < math.log(cfg.vocab_size), (records[0].loss, recent)
    assert recent < 0.9 * records[0].loss


# ---------------------------------------------------------------- 6. settings refused


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"dim": 16, "heads": 3}, "heads"),
        ({"dim": 10, "heads": 4}, "heads"),
        ({"context": 1}, "context"),
        ({"context": 257}, "context"),
        ({"context": 4.0}, "context"),
        ({"layers": 0}, "layers"),
        ({"layers": 13}, "layers"),
        ({"heads": 0}, "heads"),
        ({"heads": 65, "dim": 130}, "heads"),
        ({"context": 10, "corpus_text": "the cat sat on the mat and the dog ran"}, "corpus_text"),  # 10 words < 11
    ],
)
def test_invalid_gpt_settings_are_refused_with_a_message(settings, field):
    with pytest.raises(ConfigError) as refused:
        TrainConfig(model="gpt", **settings)
    assert refused.value.field == field and len(refused.value.message) > 30


def test_the_heads_refusal_says_what_divides_and_a_skip_gram_ignores_the_gpt_settings():
    with pytest.raises(ConfigError) as refused:
        TrainConfig(model="gpt", dim=16, heads=3)
    assert "16" in refused.value.message and "3" in refused.value.message
    TrainConfig(dim=16, heads=3)  # a skip-gram has no heads to split the width into


def test_a_text_of_context_plus_one_words_is_the_shortest_a_gpt_trains_on():
    text = "the cat sat on the mat and the dog ran off"  # 11 words
    with pytest.raises(ConfigError, match="11 words"):
        TrainConfig(model="gpt", context=11, corpus_text=text, dim=8)
    trainer = Trainer(TrainConfig(model="gpt", context=10, corpus_text=text, dim=8, batch_size=3))
    rec = trainer.step()  # one window fits: the whole text
    assert rec.input_ids.shape == (30,) and np.isfinite(rec.loss)
    np.testing.assert_array_equal(rec.input_ids[:10], trainer.corpus.tokens[:10])


# ---------------------------------------------------------------- 7. the memory budget


def _held_by_a_step(cfg: TrainConfig) -> int:
    """Measured: the bytes of the parameters, their gradients and the optimizer's state after a step (taken at
    batch 1: the same tensors), and the (B, T, V) float32 logits of cfg's batch and their gradient, from the shapes."""
    trainer = Trainer(cfg.replace(batch_size=1))
    trainer.step()
    params = sum(q.nbytes for q in trainer.model.parameters())
    grads = sum(q.grad.nbytes for q in trainer.model.parameters() if q.grad is not None)
    slots = [v for o in trainer.optimizers for s in o.state.values() for v in s.values() if torch.is_tensor(v)]
    state = sum(v.nbytes for v in slots)
    assert grads == params and state >= 2 * params - 1_000  # Adam: two moments for every parameter
    return params + grads + state + 2 * cfg.batch_size * cfg.context * cfg.vocab_size * 4


@pytest.mark.parametrize(
    "settings",
    [
        dict(vocab_size=2_000, dim=16, context=256, batch_size=64),  # the logits dominate: 131 MB
        dict(vocab_size=1_000, dim=256, context=8, layers=12, heads=4, batch_size=4),  # the blocks dominate: 9.5 M
    ],
    ids=["logits", "blocks"],
)
def test_the_budget_counts_a_gpts_parameters_optimizer_state_and_logits(settings):
    cfg = TrainConfig(model="gpt", init="small_normal", **settings)
    held, budget = _held_by_a_step(cfg), run_bytes(cfg)
    assert budget.total >= held, (held, budget.as_dict())


def test_the_budget_grows_with_the_context_and_the_layers_by_at_least_their_tensors():
    base = TrainConfig(model="gpt", vocab_size=1_000, dim=32, context=8, layers=1, heads=2, batch_size=16)
    longer, deeper = base.replace(context=128), base.replace(layers=4)
    logits = base.batch_size * (longer.context - base.context) * base.vocab_size * 4  # the extra (B, T, V) logits
    assert run_bytes(longer).total - run_bytes(base).total >= 2 * logits
    one_block = sum(q.nbytes for q in torch.nn.TransformerEncoderLayer(32, 2, 128, batch_first=True).parameters())
    assert run_bytes(deeper).total - run_bytes(base).total >= 3 * one_block * (2 + 2)  # weights, grads, Adam's two


def test_a_gpt_whose_logits_alone_exceed_the_run_budget_is_refused():
    with pytest.raises(ConfigError) as refused:  # 64 x 256 x 50,257 float32 logits: 3.1 GiB, before anything else
        TrainConfig(model="gpt", vocab_size=50_257, dim=64, context=256, batch_size=64, init="small_normal")
    assert refused.value.field in ("batch_size", "vocab_size", "context") and "GiB" in refused.value.message


def test_the_dimension_sweep_counts_a_gpts_b_x_t_x_v_logits():
    from core import captions, sweep
    from core.limits import SWEEP_MAX_LOGITS

    cfg = TrainConfig(model="gpt", vocab_size=2_000, batch_size=64, context=16)  # 64 x 2,000 fits; x 16 does not
    assert cfg.batch_size * cfg.vocab_size <= SWEEP_MAX_LOGITS < cfg.batch_size * cfg.context * cfg.vocab_size
    plan = sweep.plan_sweep(cfg, sweep.DIMS, sweep.STEPS)
    b = plan.cfg.batch_size
    assert b * 16 * 2_000 <= SWEEP_MAX_LOGITS < 2 * b * 16 * 2_000  # halved until B x T x V fits
    said = captions.sweep_shrunk(plan)
    assert f"Your batch of 64 × 16 positions × 2,000 tokens would score {64 * 16 * 2_000:,} logits a step" in said
