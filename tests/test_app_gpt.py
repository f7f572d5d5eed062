"""AppTest of the app with a small GPT (model=gpt): every page renders; the positional table is shown as a second
table on Train, Gradient masks and Row updates with the numbers of its own rows, computed here from the model's
weights and a reference backward pass; the sidebar offers T, blocks and heads only for a GPT; a link replays it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from apptest_support import app, captions, chart, charts, decode, no_exception, page, stepped

from core import TrainConfig, Trainer
from core.lessons import LESSONS
from ui import nav
from ui.links import to_query

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: as the server runs torch

PAGES = [p.file for p in nav.PAGES]  # every page but Home (nav.HOME)
GPT = {"model": "gpt"}


def test_every_page_renders_for_a_gpt_at_the_default_size_after_steps():
    at = stepped(GPT, ("train_step_10", "train_step_1"))
    trainer = at.session_state.trainer
    assert trainer.cfg.model == "gpt" and trainer.step_count == 11
    for path in PAGES:
        at.switch_page(path).run()
        no_exception(at)
    assert not at.info  # slow motion (the last page) re-takes a GPT's step too: no "not shown" box
    at.switch_page("pages/06_scale.py").run()
    blocks = sum(p.numel() for name, p in trainer.model.named_parameters() if name.startswith(("blocks.", "norm.")))
    assert f"the positional table holds {8 * 16:,} and the transformer blocks {blocks:,}" in captions(at)


def test_train_shows_the_positional_table_as_the_model_holds_it():
    at = stepped(GPT, ("train_step_1", "train_step_1", "train_step_1"))
    trainer = at.session_state.trainer
    table = chart(at, "The positional table (8 × 16) after step 3")
    z = np.asarray(decode(table["data"][1]["z"]), dtype=np.float32)
    np.testing.assert_array_equal(z, trainer.model.positions.weight.detach().numpy())  # the model's own rows
    assert list(table["data"][1]["y"]) == [f"pos {t}" for t in range(8)]
    assert "Step 3: 8 of 8 position rows got a gradient (each of the 64 windows" in captions(at)


def reference_position_gradient(trainer: Trainer, windows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """dLoss/d(positional table), (T, D), by torch autograd on a copy of the model whose positions are added as a
    plain (T, D) tensor: an independent path from the trainer's nn.Embedding lookup."""
    model = trainer.model
    pos = model.positions.weight.detach().clone().requires_grad_()
    x = model.embedding.weight.detach()[torch.from_numpy(windows)] + pos
    t = windows.shape[1]
    mask = torch.nn.Transformer.generate_square_subsequent_mask(t)
    with torch.no_grad():
        blocks = [block for block in model.blocks.layers]
    for block in blocks:
        x = block(x, src_mask=mask, is_causal=True)
    logits = model.norm(x) @ model.head_weight.detach().T
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), torch.from_numpy(targets).reshape(-1)
    )
    loss.backward()
    return pos.grad.numpy().astype(np.float64)


def test_gradient_masks_and_row_updates_show_each_position_rows_gradient_and_move():
    at = stepped(GPT, ("train_step_1",))
    trainer = at.session_state.trainer
    ids, targets = trainer.peek_batch()
    cfg = trainer.cfg
    windows, nexts = ids.reshape(cfg.batch_size, cfg.context), targets.reshape(cfg.batch_size, cfg.context)
    expected = np.linalg.norm(reference_position_gradient(trainer, windows, nexts), axis=1)
    before = trainer.model.positions.weight.detach().numpy().astype(np.float64).copy()
    at.button(key="train_step_1").click().run()
    after = at.session_state.trainer.model.positions.weight.detach().numpy().astype(np.float64)
    at.switch_page("pages/02_gradient_masks.py").run()
    no_exception(at)
    bars = chart(at, "Step 2: the positional table's rows, |gradient|")
    np.testing.assert_allclose(decode(bars["data"][0]["y"]), expected, rtol=1e-4)
    assert list(decode(bars["data"][0]["x"])) == list(range(8))
    assert "Step 2: 8 of 8 position rows got a gradient" in captions(at)
    at.switch_page("pages/03_row_updates.py").run()
    no_exception(at)
    moves = np.linalg.norm(after - before, axis=1)
    bars = chart(at, "Step 2: the positional table's rows, |move|")
    np.testing.assert_allclose(decode(bars["data"][0]["y"]), moves, rtol=1e-5)
    top = int(np.argmax(moves))
    assert "Step 2: 8 of 8 position rows moved (each of the 64 windows looks up position rows 0–7 once)" in captions(at)
    assert f"|Δ| = {moves[top]:.3g}, is position {top}'s." in captions(at)


def test_skip_gram_pages_show_no_positional_table():
    at = stepped({})
    for path in ("pages/01_train.py", "pages/02_gradient_masks.py", "pages/03_row_updates.py"):
        at.switch_page(path).run()
        assert not [c for c in charts(at) if "positional table" in c["layout"]["title"]["text"]]


def test_the_sidebar_shows_t_blocks_and_heads_only_for_a_gpt_and_old_links_stay_the_same():
    softmax = app()
    assert not {"context", "layers", "heads"} & set(softmax.query_params)
    assert not [w for w in softmax.number_input if w.key in ("cfg_context", "cfg_layers", "cfg_heads")]
    old = to_query(TrainConfig(optimizer="sgd", lr=0.5))
    assert not {"context", "layers", "heads"} & set(old)
    gpt = app({"model": "gpt", "context": "12", "layers": "2", "heads": "4"})
    no_exception(gpt)
    cfg = gpt.session_state.trainer.cfg
    assert (cfg.model, cfg.context, cfg.layers, cfg.heads) == ("gpt", 12, 2, 4)
    shown = {w.key: w.value for w in gpt.number_input}
    assert shown["cfg_context"] == 12 and shown["cfg_layers"] == 2 and shown["cfg_heads"] == 4
    assert gpt.query_params["context"] == "12" and "negatives" not in gpt.query_params


def test_heads_that_do_not_divide_the_width_are_explained_beside_the_control():
    at = app({"model": "gpt", "dim": "16", "heads": "3"})
    no_exception(at)
    text = " ".join(e.value.replace("\\", "") for e in at.error)
    assert "A width of 16 does not split into 3 attention heads" in text and "such as 2" in text


def test_a_link_to_step_n_replays_a_gpt_bit_for_bit():
    at = app({"model": "gpt", "vocab_size": "300", "dim": "8", "tie_weights": "true", "step": "5"})
    at.switch_page("pages/01_train.py").run()
    no_exception(at)
    trainer = at.session_state.trainer
    by_hand = Trainer(trainer.cfg)
    by_hand.run(5)
    assert trainer.step_count == 5
    np.testing.assert_array_equal(trainer.weight, by_hand.weight)
    np.testing.assert_array_equal(trainer.position_weight, by_hand.position_weight)


def test_the_positional_lesson_link_starts_it_and_its_check_holds():
    at = page("pages/07_lessons.py", {"lesson": "gpt_positions"})
    assert at.session_state.trainer.cfg == LESSONS["gpt_positions"].config()
    assert at.query_params["model"] == "gpt" and at.query_params["lesson"] == "gpt_positions"
    at.button(key="lesson_steps").click().run()
    no_exception(at)
    records = list(at.session_state.trainer.history)
    looked_up = np.mean([(r.token_counts > 0).sum() for r in records])  # the evidence's numbers, from the records
    assert (
        at.success and "All 8 position rows got a gradient in 100 of 100 steps and moved in 100" in at.success[0].value
    )
    assert f"{looked_up:.1f} of 200 rows per step on average" in at.success[0].value


@pytest.mark.slow
def test_every_page_renders_for_a_gpt_at_v_10001():
    at = stepped({**GPT, "vocab_size": "10001"})
    for path in PAGES:
        at.switch_page(path).run()
        no_exception(at)


@pytest.mark.slow
def test_a_gpt2_sized_token_table_trains_under_a_small_gpt():
    query = {**GPT, "vocab_size": "50257", "dim": "768", "heads": "12", "batch_size": "4", "context": "16",
             "init": "small_normal", "lr": "0.01", "tie_weights": "true"}  # fmt: skip
    at = stepped(query)
    trainer = at.session_state.trainer
    assert trainer.step_count == 1 and trainer.cfg.dim == 768
    for path in PAGES:  # every page renders at GPT-2's table size
        at.switch_page(path).run()
        no_exception(at)
    at.switch_page("pages/02_gradient_masks.py").run()
    no_exception(at)
    assert "Step 1: 16 of 16 position rows got a gradient" in captions(at)


def test_gradient_masks_names_each_lookup_of_a_token_by_its_window_and_place():
    """A GPT's lookups are B x T: the contributions heatmap names each by window and t, counted here from the
    batch's (B, T) windows, and each row is that lookup's gradient in the record."""
    at = stepped(GPT, ("train_step_1",))
    at.switch_page("pages/02_gradient_masks.py").run()
    no_exception(at)
    trainer = at.session_state.trainer
    rec, cfg = trainer.history.at(1), trainer.cfg
    token = at.selectbox(key="masks_token").value
    windows = rec.input_ids.reshape(cfg.batch_size, cfg.context)
    places = np.argwhere(windows == token)  # (k, 2): (window, t), in the order the lookups are flattened
    heatmap = chart(at, f"'{trainer.vocab[token]}' ×{len(places)}: its {len(places)} contributions, then the row's")
    assert list(heatmap["data"][0]["y"])[:-1] == [f"window {w}, t {t}" for w, t in places]
    z = np.asarray(decode(heatmap["data"][0]["z"]), dtype=np.float64)[:-1]
    np.testing.assert_allclose(z, rec.output_grad.reshape(cfg.batch_size, cfg.context, -1)[tuple(places.T)], rtol=1e-6)
