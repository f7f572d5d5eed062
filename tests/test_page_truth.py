"""Every number, title, legend group and bar the Train, Gradient masks and Row updates pages print, checked
against an independent computation, for each optimizer x {plain, momentum/betas, weight decay, tied head,
padding_idx, max_norm, sparse}.

"Independent": which rows get a gradient follows from the batch and the model's maths (untied: the looked-up
rows but the padding row; tied: every row, through the output layer), never from the pages' helpers; how far a
row moved is read from the kept weight snapshots; the parts of a move are rebuilt with numpy where the
optimizer's rule allows (SGD's gradient, weight decay and max_norm's rescale; Adam's state from its moments).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from test_app import app, charts, decode, no_exception

BASE = {"vocab_size": "40", "dim": "8", "batch_size": "32", "seed": "0", "init": "normal"}
N_STEPS = 10
CONFIGS = {
    "sgd": {"optimizer": "sgd", "lr": "0.5"},
    "sgd_momentum": {"optimizer": "sgd", "lr": "0.5", "momentum": "0.9"},
    "sgd_weight_decay": {"optimizer": "sgd", "lr": "0.5", "weight_decay": "0.05"},
    "sgd_momentum_weight_decay": {"optimizer": "sgd", "lr": "0.5", "momentum": "0.9", "weight_decay": "0.05"},
    "sgd_tied": {"optimizer": "sgd", "lr": "0.5", "tie_weights": "true"},
    "sgd_padding": {"optimizer": "sgd", "lr": "0.5", "padding_idx": "0"},
    "sgd_tied_padding": {"optimizer": "sgd", "lr": "0.5", "tie_weights": "true", "padding_idx": "0"},
    "sgd_max_norm": {"optimizer": "sgd", "lr": "0.5", "max_norm": "1.0"},
    "sgd_sparse": {"optimizer": "sgd", "lr": "0.5", "sparse": "true"},
    "sgd_sparse_padding": {"optimizer": "sgd", "lr": "0.5", "sparse": "true", "padding_idx": "3"},
    "sgd_nesterov": {"optimizer": "sgd", "lr": "0.5", "momentum": "0.9", "nesterov": "true"},
    "sgd_tied_max_norm": {"optimizer": "sgd", "lr": "0.5", "tie_weights": "true", "max_norm": "1.5"},
    "sgd_zeros_init": {"optimizer": "sgd", "lr": "0.5", "init": "zeros", "seed": "4"},
    "adam": {"optimizer": "adam", "lr": "0.05"},
    "adam_betas": {"optimizer": "adam", "lr": "0.05", "beta1": "0.5", "beta2": "0.9"},
    "adam_weight_decay": {"optimizer": "adam", "lr": "0.05", "weight_decay": "0.01"},
    "adam_tied": {"optimizer": "adam", "lr": "0.05", "tie_weights": "true", "init": "small_normal"},
    "adam_padding": {"optimizer": "adam", "lr": "0.05", "padding_idx": "0", "seed": "2"},
    "adam_tied_padding": {"optimizer": "adam", "lr": "0.05", "tie_weights": "true", "padding_idx": "0"},
    "adam_max_norm": {"optimizer": "adam", "lr": "0.05", "max_norm": "1.0"},
    "adamw": {"optimizer": "adamw", "lr": "0.05", "weight_decay": "0.01"},
    "adamw_padding_max_norm": {
        "optimizer": "adamw",
        "lr": "0.05",
        "weight_decay": "0.1",
        "padding_idx": "0",
        "max_norm": "2.0",
    },
    "adamw_tied": {"optimizer": "adamw", "lr": "0.05", "weight_decay": "0.01", "tie_weights": "true"},
    "sparse_adam": {"optimizer": "sparse_adam", "lr": "0.05"},
    "sparse_adam_padding_max_norm": {"optimizer": "sparse_adam", "lr": "0.05", "padding_idx": "0", "max_norm": "1.0"},
    "adagrad": {"optimizer": "adagrad", "lr": "0.5"},
    "adagrad_weight_decay": {"optimizer": "adagrad", "lr": "0.5", "weight_decay": "0.05"},
    "adagrad_sparse_padding": {"optimizer": "adagrad", "lr": "0.5", "sparse": "true", "padding_idx": "0"},
    "rmsprop": {"optimizer": "rmsprop", "lr": "0.01"},
    "rmsprop_momentum_weight_decay": {"optimizer": "rmsprop", "lr": "0.01", "momentum": "0.9", "weight_decay": "0.05"},
    "adagrad_tied_max_norm": {"optimizer": "adagrad", "lr": "0.5", "tie_weights": "true", "max_norm": "1.0"},
    "rmsprop_momentum": {"optimizer": "rmsprop", "lr": "0.01", "momentum": "0.5", "batch_size": "8"},
    "rmsprop_padding_max_norm": {"optimizer": "rmsprop", "lr": "0.01", "padding_idx": "0", "max_norm": "1.0"},
    "adam_batch_of_one": {"optimizer": "adam", "lr": "0.05", "batch_size": "1"},
    "sgd_every_row_looked_up": {"optimizer": "sgd", "lr": "0.5", "vocab_size": "8", "batch_size": "64"},
    "adam_tied_zeros": {"optimizer": "adam", "lr": "0.05", "tie_weights": "true", "init": "zeros"},
    # found by a random sweep of configurations: degenerate runs must be told as truthfully
    "adagrad_tied_zeros_padding": {
        "optimizer": "adagrad",
        "lr": "0.5",
        "seed": "75",
        "vocab_size": "12",
        "init": "zeros",
        "tie_weights": "true",
        "padding_idx": "5",
        "window": "4",
    },
    "rmsprop_only_padding_looked_up": {
        "optimizer": "rmsprop",
        "lr": "0.01",
        "seed": "37",
        "vocab_size": "12",
        "batch_size": "1",
        "init": "uniform",
        "window": "4",
        "padding_idx": "0",
        "momentum": "0.9",
        "weight_decay": "0.1",
    },
    "sgd_tied_softmax_underflow": {
        "optimizer": "sgd",
        "lr": "0.5",
        "seed": "7",
        "vocab_size": "12",
        "batch_size": "1",
        "window": "1",
        "tie_weights": "true",
        "momentum": "0.9",
        "weight_decay": "0.1",
    },
    "rmsprop_tied": {"optimizer": "rmsprop", "lr": "0.01", "tie_weights": "true"},
}
LABELS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "sparse_adam": "SparseAdam", "adagrad": "Adagrad",
          "rmsprop": "RMSprop"}  # fmt: skip


class Truth:
    """What the pages should say about one run, computed without the app's helpers."""

    def __init__(self, tr):
        self.tr, self.cfg = tr, tr.cfg
        self.V = tr.cfg.vocab_size
        self.rec = tr.history[-1]
        self.step = self.rec.step
        self.frames = dict(tr.snapshots.items())
        assert all(s in self.frames for s in range(self.step + 1)), "every step's weights are kept at this size"

    def looked_up(self, rec=None) -> np.ndarray:
        mask = np.zeros(self.V, dtype=bool)
        mask[np.unique((rec or self.rec).input_ids)] = True
        return mask

    def gets_gradient(self, rec=None) -> np.ndarray:
        """Untied, the maths: the lookup's gradient reaches the looked-up rows but the padding row. Tied, plain
        torch on the weights before the step (kept snapshot): the table is also the output layer, and a softmax
        probability that underflows to 0 in float32 gives its row no gradient."""
        rec = rec or self.rec
        if self.cfg.tie_weights:
            return self._tied_gradient(rec).norm(dim=1).numpy() > 0
        mask = self.looked_up(rec)
        if self.cfg.padding_idx is not None:
            mask[self.cfg.padding_idx] = False
        return mask

    def _tied_gradient(self, rec) -> torch.Tensor:
        cfg = self.cfg
        weight = torch.tensor(self.frames[rec.step - 1], dtype=torch.float32)  # (V, D)
        centres, targets = torch.from_numpy(rec.input_ids), torch.from_numpy(rec.target_ids)
        if cfg.max_norm is not None:  # nn.Embedding rescales the looked-up rows in place, before the lookup
            rows = torch.unique(centres)
            norms = weight[rows].norm(dim=1)
            over = norms > cfg.max_norm
            weight[rows[over]] *= (cfg.max_norm / (norms[over] + 1e-7))[:, None]
        weight.requires_grad_()
        hidden = torch.nn.functional.embedding(centres, weight, padding_idx=cfg.padding_idx)  # (B, D)
        torch.nn.functional.cross_entropy(hidden @ weight.T, targets).backward()
        return weight.grad

    def head_gets_gradient(self) -> int:
        """Rows of an untied head with a gradient: (p - y)^T h reaches every row unless every looked-up row is 0."""
        return self.V if np.any(self.frames[self.step - 1][self.rec.input_ids]) else 0

    def move(self, step: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(W before, d = W after - W before) of a step, from the kept snapshots."""
        step = step or self.step
        before = self.frames[step - 1].astype(np.float64)
        return before, self.frames[step].astype(np.float64) - before

    def moved(self, step: int | None = None) -> np.ndarray:
        return np.linalg.norm(self.move(step)[1], axis=1) > 0


def _run(name: str):
    at = app(BASE | CONFIGS[name])
    at.switch_page("pages/01_train.py").run()
    at.button(key="train_step_10").click().run()
    no_exception(at)
    truth = Truth(at.session_state.trainer)
    assert truth.step == N_STEPS, at.session_state.get("failed_step") or at.session_state.trainer.diverged
    return at, truth


def _chart(at, words: str) -> dict:
    return next(c for c in charts(at) if words in c["layout"]["title"]["text"].replace("<br>", " "))


def _captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def _check_train(at, t: Truth) -> None:
    looked, grad = t.looked_up(), t.gets_gradient()
    assert np.array_equal(t.rec.grad_norm > 0, grad), "the engine's mask disagrees with the maths"
    captions = _captions(at)
    n_used = int(looked.sum())
    tokens = "1 distinct token of" if n_used == 1 else f"{n_used:,} distinct tokens of"
    assert f"{tokens} {t.V:,} {'was' if n_used == 1 else 'were'} looked up; " in captions
    assert "only their rows" not in captions
    a, b = int((looked & grad).sum()), int((looked & ~grad).sum())
    c, d = int((~looked & grad).sum()), int((~looked & ~grad).sum())
    if c and a + c == t.V:
        assert f"all {t.V:,} rows got a gradient, because the tied head" in captions
    elif c:
        assert (
            f"{a + c:,} rows got a gradient: {c:,} of them through the tied head without being looked up." in captions
        )
    elif b and np.flatnonzero(looked & ~grad).tolist() == [t.cfg.padding_idx]:
        assert f"{a:,} of their rows got a gradient: padding_idx drops the padding row's." in captions
    elif b:
        assert f"; {a:,} of their rows got a gradient." in captions
    elif d == 0:
        assert "every row was looked up, and every row got a gradient." in captions
    else:
        rows = "1 row" if d == 1 else f"{d:,} rows"
        assert f"exactly their rows got a gradient (the other {rows}: exactly zero)." in captions
    if c:
        assert "exactly their rows" not in captions
    batch = _chart(at, "Step 10's batch")
    n_b = len(t.rec.input_ids)
    lookups = "1 lookup" if n_b == 1 else f"{n_b} lookups"
    shown = ("1 token" if n_used == 1 else f"{n_used} tokens") + (" shown" if n_used <= 30 else " (30 shown)")
    assert batch["layout"]["title"]["text"].replace("<br>", " ") == f"Step 10's batch: {lookups} of {shown}"
    top = sorted(np.bincount(t.rec.input_ids, minlength=t.V)[looked].tolist())[-30:]  # the 30 most used
    assert sorted(decode(batch["data"][0]["y"]).tolist()) == top
    assert f"Step 10: loss {t.rec.loss:.3f} (ln V = {np.log(t.V):.2f} is a blind guess)." in captions
    strip = decode(_chart(at, "The table W")["data"][0]["z"]).ravel()  # 1 looked up, 2 the padding row
    pad = t.cfg.padding_idx
    rows = "1 row was" if n_used == 1 else f"{n_used} rows were"
    assert np.array_equal(strip == 1, looked & (np.arange(t.V) != pad))
    if pad is not None and looked[pad]:
        assert f"{rows} looked up in step 10: blue in the strip, and the padding row (row {pad}), orange." in (captions)
    else:
        assert f"{rows} looked up in step 10 (blue in the strip)." in captions


def _check_masks(at, t: Truth) -> None:
    at.switch_page("pages/02_gradient_masks.py").run()
    no_exception(at)
    looked, grad, pad = t.looked_up(), t.gets_gradient(), t.cfg.padding_idx
    lookups = "1 lookup" if len(t.rec.input_ids) == 1 else f"{len(t.rec.input_ids)} lookups"
    groups = {
        "looked up, got a gradient": looked & grad,
        "looked up, gradient 0": looked & ~grad,
        "not looked up, got a gradient": ~looked & grad,
        "not looked up, no gradient": ~looked & ~grad,
    }
    a, b, c, d = (int(m.sum()) for m in groups.values())
    assert a + b + c + d == t.V
    bars = _chart(at, "rows got a gradient")
    title = bars["layout"]["title"]["text"].replace("<br>", " ")
    if c and a + c == t.V and t.cfg.tie_weights:
        assert title == f"Step 10: all {t.V} rows got a gradient: the tied head reaches every row"
    elif c:
        assert title == f"Step 10: {a + c} of {t.V} rows got a gradient: {a} looked up, {c} more through the tied head"
    elif a + c == 0:
        assert title == f"Step 10: 0 of {t.V} rows got a gradient"
    elif a == t.V:
        assert title == f"Step 10: all {t.V} rows got a gradient: the {a} looked up"
    elif b:
        rows = "1 looked-up row" if b == 1 else f"{b} looked-up rows"
        assert title == f"Step 10: {a} of {t.V} rows got a gradient: the {a} looked up ({rows} got none)"
    else:
        assert title == f"Step 10: {a} of {t.V} rows got a gradient: the {a} looked up"
    shown = {trace["name"]: set(decode(trace["x"]).tolist()) for trace in bars["data"]}
    expected = {name: set(np.flatnonzero(m).tolist()) for name, m in groups.items() if m.any()}
    assert {re.sub(r" \(.*\)$", "", n): rows for n, rows in shown.items()} == expected  # only present groups
    if b and np.flatnonzero(looked & ~grad).tolist() == [pad]:
        assert "looked up, gradient 0 (padding_idx drops it)" in shown
    captions = _captions(at)
    tokens = "1 distinct token" if a + b == 1 else f"{a + b} distinct tokens"
    assert f"{lookups} of {tokens}. Of the {t.V} rows, " in captions
    if a:
        assert f"Of the {t.V} rows, {a} {'was' if a == 1 else 'were'} looked up and got a gradient" in captions
    for n, words in (
        (b, "looked up but got a gradient of 0"),
        (c, "not looked up but got a gradient"),
        (d, "neither: "),
    ):
        if n:
            assert f"{n} {'was' if n == 1 else 'were'} {words}" in captions, (n, words)
        else:
            assert f"was {words}" not in captions and f"were {words}" not in captions, words
    if pad is not None and t.cfg.tie_weights and grad[pad]:
        assert "padding_idx blocks only the lookup's gradient" in captions

    counts = np.bincount(t.rec.input_ids, minlength=t.V)
    real = [r for r in range(t.V) if counts[r] and r != pad and t.tr.vocab[r] not in ("<pad>", "<unk>")]
    default = max(real or np.flatnonzero(counts).tolist(), key=lambda r: (counts[r], -r))  # else: all there is
    assert at.selectbox(key="masks_token").value == default
    _check_contributions(at, t, default)
    if pad is not None and counts[pad]:
        at.selectbox(key="masks_token").set_value(pad).run()
        no_exception(at)
        _check_contributions(at, t, pad)
    if not t.cfg.tie_weights:
        contrast = _chart(at, "untied head")
        panels = [a["text"].replace("<br>", " ") for a in contrast["layout"]["annotations"]]  # lines to fit a phone
        rows = lambda n: "1 row" if n == 1 else f"{n:,} rows"  # noqa: E731
        assert panels == [f"embedding table: {rows(a)}", f"output head: {rows(t.head_gets_gradient())}"]


def _check_contributions(at, t: Truth, row: int) -> None:
    contribs = t.rec.output_grad[t.rec.input_ids == row].astype(np.float64)
    heat = _chart(at, f"×{len(contribs)}: its {len(contribs)} contributions")
    z, labels = decode(heat["data"][0]["z"]), heat["data"][0]["y"]
    np.testing.assert_allclose(z[:-1], contribs, rtol=1e-6)
    whole = float(t.rec.grad_norm[row])
    lookup = float(np.linalg.norm(contribs.sum(axis=0)))
    captions = _captions(at)
    if row == t.cfg.padding_idx:
        assert not z[-1].any() and "padding_idx drops" in labels[-1]
        assert f"padding_idx drops these {len(contribs)} contributions" in captions
        if t.cfg.tie_weights and t.gets_gradient()[row]:
            assert whole > 0 and f"gradient norm for this row is {whole:.3g}, all of it from the tied head" in captions
        elif t.cfg.tie_weights:
            assert whole == 0 and "gradient norm for this row: 0 (the tied head gave it none this step)." in captions
        else:
            assert whole == 0 and "gradient norm for this row: 0." in captions
    elif t.cfg.tie_weights:
        np.testing.assert_allclose(z[-1], contribs.sum(axis=0), rtol=1e-5, atol=1e-9)
        assert labels[-1] == "sum = lookup's part"
        assert f"(norm {lookup:.3g})" in captions and f"whole gradient has norm {whole:.3g}" in captions
    else:
        np.testing.assert_allclose(z[-1], contribs.sum(axis=0), rtol=1e-5, atol=1e-9)
        assert labels[-1] == "sum = row gradient"
        assert lookup == pytest.approx(whole, rel=1e-4)
        assert f"Norm of the sum: {lookup:.3g}; the trainer's gradient norm for this row: {whole:.3g}." in captions


def _expected_parts(t: Truth) -> set[str]:
    """The parts of this step's moves, from the optimizer's rule and the snapshots (not from the records)."""
    cfg = t.cfg
    if not t.moved().any():
        return set()
    parts = {"from its gradient"} if (t.gets_gradient() & t.moved()).any() else set()
    stateful = {"sgd": cfg.momentum > 0, "rmsprop": cfg.momentum > 0, "adam": True, "adamw": True}
    if stateful.get(cfg.optimizer, False):
        parts.add("optimizer state")
    if cfg.weight_decay:
        parts.add("weight decay")
    if cfg.max_norm is not None:
        before, _ = t.move()
        if (t.looked_up() & (np.linalg.norm(before, axis=1) > cfg.max_norm)).any():
            parts.add("max_norm rescale (forward pass)")
    return parts


def _check_updates(at, t: Truth) -> None:
    at.switch_page("pages/03_row_updates.py").run()
    no_exception(at)
    cfg = t.cfg
    before, d = t.move()
    length = np.linalg.norm(d, axis=1)  # (V,)
    split = _chart(at, "how far each row moved, and why")
    assert split["layout"]["barmode"] == "relative"
    bars = {tr["name"]: decode(tr["y"]).astype(np.float64) for tr in split["data"]}
    for tr in split["data"]:
        assert decode(tr["x"]).tolist() == list(range(t.V))
    assert {re.sub(r" \(.*\)$", "", n) if n.startswith("optimizer") else n for n in bars} == _expected_parts(t)
    np.testing.assert_allclose(sum(bars.values()), length, rtol=1e-3, atol=1e-6 * length.max())
    state_names = [n for n in bars if n.startswith("optimizer state")]
    if state_names:
        want = {"sgd": "momentum", "rmsprop": "RMSprop's momentum and square average"}.get(
            cfg.optimizer, "Adam's moment estimates"
        )
        assert state_names == [f"optimizer state ({want})"]
    if cfg.optimizer == "sgd" and not cfg.momentum:  # SGD's move is -lr * (grad + wd * W) after max_norm: rebuild
        _check_sgd_parts(t, before, d, bars)
    if cfg.optimizer == "adam" and not (cfg.weight_decay or cfg.tie_weights or cfg.max_norm is not None):
        _check_adam_state(t, d, bars)

    grad = t.gets_gradient()
    moved = length > 0
    lonely = int((moved & ~grad).sum())
    captions = _captions(at)
    label = LABELS[cfg.optimizer]
    n_grad_rows = "1 row" if grad.sum() == 1 else f"{int(grad.sum()):,} rows"
    assert f"{label} moved {int(moved.sum()):,} of {t.V:,} rows in step 10; {n_grad_rows} got a gradient." in (captions)
    if not moved.any():
        assert "No row moved in this step." in captions
    elif lonely == 0:
        assert "Every row that moved got a gradient of its own." in captions
    else:
        assert f"{lonely:,} of them got no gradient this step and moved anyway: " in captions
    if not cfg.weight_decay:
        assert "by weight decay" not in captions
    if "optimizer state" not in _expected_parts(t):
        assert "by optimizer state" not in captions
    if cfg.optimizer == "sgd" and cfg.weight_decay and not cfg.momentum and lonely:
        assert f"moved anyway: {lonely:,} by weight decay." in captions
    if cfg.optimizer == "adam" and not cfg.weight_decay and not cfg.tie_weights and lonely:
        assert f"moved anyway: {lonely:,} by optimizer state (Adam's moment estimates)." in captions
    assert "How the split is computed" in captions

    _check_history(at, t)


def _check_sgd_parts(t: Truth, before: np.ndarray, d: np.ndarray, bars: dict) -> None:
    """Plain SGD: max_norm rescales the looked-up rows first, then w -= lr * (grad + wd * w)."""
    cfg = t.cfg
    length = np.linalg.norm(d, axis=1)
    safe = np.where(length > 0, length, 1.0)
    mid = before.copy()
    if cfg.max_norm is not None:
        rows = np.flatnonzero(t.looked_up())
        norms = np.linalg.norm(before[rows], axis=1)
        over = norms > cfg.max_norm
        mid[rows[over]] *= (cfg.max_norm / (norms[over] + 1e-7))[:, None]  # torch's embedding_renorm_
    renorm = ((mid - before) * d).sum(axis=1) / safe
    decay = ((-cfg.lr * cfg.weight_decay * mid) * d).sum(axis=1) / safe
    scale = 1e-4 * length.max()
    np.testing.assert_allclose(bars.get("weight decay", 0 * length), decay, atol=scale)
    np.testing.assert_allclose(bars.get("max_norm rescale (forward pass)", 0 * length), renorm, atol=scale)
    np.testing.assert_allclose(bars.get("from its gradient", 0 * length), length - decay - renorm, atol=scale)
    if not cfg.weight_decay and cfg.max_norm is None:  # the whole move is lr x the gradient
        gradient_part = bars.get("from its gradient", 0 * length)
        np.testing.assert_allclose(gradient_part, cfg.lr * t.rec.grad_norm, rtol=1e-4, atol=1e-7)


def _check_adam_state(t: Truth, d: np.ndarray, bars: dict) -> None:
    """Adam, untied, no decay: the state part is the step a zero gradient would have made, rebuilt from the
    moments torch keeps (m_t, v_t) and this step's gradient (the sum of the lookup's contributions)."""
    cfg, rec = t.cfg, t.rec
    state = t.tr.optimizers[0].state[t.tr.model.embedding.weight]
    m, v = state["exp_avg"].numpy().astype(np.float64), state["exp_avg_sq"].numpy().astype(np.float64)
    n = float(state["step"])
    g = np.zeros_like(m)
    np.add.at(g, rec.input_ids, rec.output_grad.astype(np.float64))
    if cfg.padding_idx is not None:
        g[cfg.padding_idx] = 0.0  # nn.Embedding drops the lookup's gradient to the padding row
    b1, b2 = cfg.beta1, cfg.beta2
    m_prev, v_prev = (m - (1 - b1) * g) / b1, np.maximum((v - (1 - b2) * g**2) / b2, 0.0)
    seen = np.zeros(t.V, dtype=bool)  # rows with a gradient in an earlier step: the others had no moments yet
    for r in t.tr.history:
        if r.step < rec.step:
            seen |= t.gets_gradient(r)
    m_prev[~seen], v_prev[~seen] = 0.0, 0.0  # exactly, not the float residue of the subtraction above
    zero_step = -cfg.lr / (1 - b1**n) * (b1 * m_prev) / (np.sqrt(b2 * v_prev) / np.sqrt(1 - b2**n) + 1e-8)
    length = np.linalg.norm(d, axis=1)
    expected = (zero_step * d).sum(axis=1) / np.where(length > 0, length, 1.0)
    state_bar = next(y for name, y in bars.items() if name.startswith("optimizer state"))
    np.testing.assert_allclose(state_bar, expected, atol=2e-3 * length.max())
    lonely = ~t.gets_gradient()
    np.testing.assert_allclose(state_bar[lonely], length[lonely], rtol=1e-4)  # no gradient: all state


def _check_history(at, t: Truth) -> None:
    raster = _chart(at, "Update norm: rows × steps")
    z = decode(raster["data"][0]["z"]).astype(np.float64)
    moved = np.stack([t.moved(s) for s in range(1, t.step + 1)], axis=1)  # (V, steps) from the snapshots
    order = np.argsort(-t.tr.corpus.token_freq, kind="stable")
    assert np.array_equal(~np.isnan(z), moved[order])
    counts = _chart(at, "Rows moved without a gradient")
    lonely = [int((t.moved(r.step) & ~t.gets_gradient(r)).sum()) for r in t.tr.history]
    assert decode(counts["data"][0]["y"]).tolist() == lonely
    scatter = _chart(at, "Token frequency vs total movement")
    plotted = sum(len(decode(trace["x"])) for trace in scatter["data"])
    ever = moved.any(axis=1)
    freq = t.tr.corpus.token_freq
    assert plotted == int((ever & (freq > 0)).sum())
    assert scatter["layout"]["yaxis"].get("exponentformat") != "SI"
    never = int((~ever).sum())
    assert (f"{never:,} row{'s' if never != 1 else ''} that never moved" in _captions(at)) == bool(never)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_pages_say_what_the_run_did(name):
    at, truth = _run(name)
    _check_train(at, truth)
    _check_masks(at, truth)
    _check_updates(at, truth)


def test_train_warns_when_the_loss_rises_above_the_blind_guess():
    at = app({"optimizer": "adam", "lr": "0.5", "vocab_size": "200", "dim": "64", "init": "normal"})
    at.switch_page("pages/01_train.py").run()
    at.button(key="train_step_1").click().run()
    assert not [w for w in at.warning if "blind guess" in w.value]  # one step says nothing yet
    for _ in range(2):
        at.button(key="train_step_1").click().run()
    no_exception(at)
    losses = [r.loss for r in at.session_state.trainer.history]
    assert losses[0] < losses[-1] and min(losses) > np.log(200)  # this run does train backwards
    warned = [w.value for w in at.warning if "blind guess" in w.value]
    assert warned[0].startswith(f"The loss rose from {losses[0]:.3g} to {losses[-1]:.3g}")
    assert "Try a smaller learning rate (now 0.5; e.g. 0.05)" in warned[0] and "small_normal" in warned[0]
    calm = app({"optimizer": "adam", "lr": "0.05", "init": "normal"})
    calm.switch_page("pages/01_train.py").run()
    calm.button(key="train_step_10").click().run()
    assert not [w for w in calm.warning if "blind guess" in w.value]


def test_train_warns_when_the_loss_stays_above_the_blind_guess():
    at = app({"optimizer": "adam", "lr": "0.05", "tie_weights": "true", "init": "normal"})
    at.switch_page("pages/01_train.py").run()
    for _ in range(2):
        at.button(key="train_step_10").click().run()
    no_exception(at)
    losses = [r.loss for r in at.session_state.trainer.history]
    above = all(loss > np.log(60) for loss in losses[-10:])
    warned = [w.value for w in at.warning if "blind guess" in w.value]
    assert above and warned and losses[-1] < losses[0]  # a tied N(0, 1) table falls slowly from ~18
    assert warned[0].startswith(f"The loss ({losses[-1]:.3g}, from {losses[0]:.3g}) is still above the blind guess")
    assert "after 20 steps" in warned[0] and "Try the small_normal init" in warned[0]


@pytest.mark.slow
@pytest.mark.parametrize(("vocab_size", "dim", "tied"), [(10_001, 16, False), (10_001, 16, True), (50_257, 768, False)])
def test_pages_render_at_large_vocabularies(vocab_size, dim, tied):
    query = {"vocab_size": str(vocab_size), "dim": str(dim), "optimizer": "adam", "lr": "0.05"}
    at = app(query | ({"tie_weights": "true", "init": "small_normal"} if tied else {}))
    at.switch_page("pages/01_train.py").run()
    at.button(key="train_step_1").click().run()
    no_exception(at)
    rec = at.session_state.trainer.history[-1]
    looked = np.unique(rec.input_ids)
    for page in ("pages/04_embedding_space.py", "pages/03_row_updates.py", "pages/02_gradient_masks.py"):
        at.switch_page(page).run()
        no_exception(at)
    bars = _chart(at, "rows got a gradient")
    shown = set().union(*(decode(trace["x"]).tolist() for trace in bars["data"]))
    assert set(looked.tolist()) <= shown and len(shown) == 200  # every looked-up row, and a sample
    assert f"Showing 200 of {vocab_size:,} rows: every looked-up row, plus a sample of the others." in _captions(at)
    if tied:
        assert (
            bars["layout"]["title"]["text"].replace("<br>", " ")
            == f"Step 1: all {vocab_size:,} rows got a gradient: the tied head reaches every row"
        )
    else:
        n = len(looked)
        assert (
            bars["layout"]["title"]["text"].replace("<br>", " ")
            == f"Step 1: {n} of {vocab_size:,} rows got a gradient: the {n} looked up"
        )
    at.switch_page("pages/03_row_updates.py").run()
    z = decode(_chart(at, "Update norm: rows × steps")["data"][0]["z"]).astype(np.float64)
    assert np.isfinite(z).any(axis=1).all()  # every sampled row moved at least once: no all-blank lines
