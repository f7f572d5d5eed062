"""AppTest of the app with negative sampling (model=sgns): every page renders; Gradient masks shows the head's mask
beside the table's (tied: one table's two paths), its numbers checked against the batch and the negatives drawn;
a link reproduces the run bit for bit; a link without `model` opens the full softmax as before."""

from __future__ import annotations

import numpy as np
import pytest
from apptest_support import app, captions, chart, decode, no_exception, stepped

from core import TrainConfig, Trainer
from ui import nav
from ui.links import to_query

PAGES = [p.file for p in nav.PAGES]  # every page but Home (nav.HOME)
SGNS = {"model": "sgns"}


def drawn(rec) -> np.ndarray:
    """The head rows a step scored: its true contexts and its negatives (from the record's batch)."""
    return np.unique(np.concatenate([rec.target_ids, rec.negative_ids.ravel()]))


def test_every_page_renders_for_sgns_at_the_default_size_after_steps():
    at = stepped(SGNS, ("train_step_10", "train_step_1"))
    assert at.session_state.trainer.cfg.model == "sgns" and at.session_state.trainer.step_count == 11
    for page in PAGES:
        at.switch_page(page).run()
        no_exception(at)
    assert PAGES[-1] == "pages/11_slow_motion.py" and not any("not shown here" in i.value for i in at.info)
    at.switch_page("pages/01_train.py").run()
    rec = at.session_state.trainer.history[-1]
    k1 = at.session_state.trainer.cfg.negatives + 1
    assert f"Step 11: loss {rec.loss:.3f}, negative sampling's" in captions(at)
    assert f"{k1} ln 2 = {k1 * np.log(2):.2f} is a blind guess" in captions(at)


def test_the_sidebar_shows_k_only_for_sgns_and_the_default_link_has_no_model():
    softmax = app()
    assert "model" not in softmax.query_params and "negatives" not in softmax.query_params
    assert not [w for w in softmax.number_input if w.key == "cfg_negatives"]
    sgns = app({"model": "sgns", "negatives": "7"})
    no_exception(sgns)
    assert sgns.session_state.trainer.cfg.negatives == 7
    assert next(w for w in sgns.number_input if w.key == "cfg_negatives").value == 7
    assert sgns.query_params["model"] == "sgns" and sgns.query_params["negatives"] == "7"


def test_a_link_made_before_the_model_setting_opens_the_same_run():
    old = to_query(TrainConfig(optimizer="sgd", lr=0.5))
    assert "model" not in old
    at = app(old)
    no_exception(at)
    assert at.session_state.trainer.cfg == TrainConfig(optimizer="sgd", lr=0.5)


def test_a_bad_model_or_k_in_a_link_is_explained():
    at = app({"model": "gpt9"})
    no_exception(at)
    assert at.session_state.trainer.cfg.model == "skipgram"
    text = " ".join(e.value.replace("\\", "") for e in at.error)
    assert "The link sets model='gpt9', which is not one of skipgram, sgns" in text
    at = app({"model": "sgns", "negatives": "0"})
    no_exception(at)
    text = " ".join(e.value.replace("\\", "") for e in at.error)
    assert "The number of negatives k (sampled rows per pair) must be between 1 and 64; you asked for 0." in text


def test_a_link_to_step_n_replays_sgns_bit_for_bit():
    query = {"model": "sgns", "vocab_size": "300", "dim": "8", "tie_weights": "true", "step": "7"}
    at = app(query)
    at.switch_page("pages/01_train.py").run()
    no_exception(at)
    trainer = at.session_state.trainer
    by_hand = Trainer(trainer.cfg)
    by_hand.run(7)
    assert trainer.step_count == 7
    np.testing.assert_array_equal(trainer.weight, by_hand.weight)
    np.testing.assert_array_equal(trainer.history[-1].negative_ids, by_hand.history[-1].negative_ids)


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_gradient_masks_shows_the_heads_mask_beside_the_tables(tied):
    at = stepped({**SGNS, "vocab_size": "10001", "tie_weights": str(tied).lower()})
    at.switch_page("pages/02_gradient_masks.py").run()
    no_exception(at)
    rec = at.session_state.trainer.history[-1]
    centres, rows = np.unique(rec.input_ids), drawn(rec)
    text = captions(at)
    if not tied:
        contrast = chart(at, "untied head's gradient")
        head_x, head_y = decode(contrast["data"][1]["x"]), decode(contrast["data"][1]["y"])
        table_x, table_y = decode(contrast["data"][0]["x"]), decode(contrast["data"][0]["y"])
        assert len(head_x) == 200 and set(table_x[table_y > 0].tolist()) == set(centres.tolist())  # all of them
        assert set(head_x[head_y > 0].tolist()) == set(rows.tolist()) & set(head_x.tolist())  # only drawn rows
        assert 50 <= (head_y > 0).sum() < 200  # shown: drawn rows and rows without a gradient
        assert f"reaches {len(rows):,} of 10,001 rows: negative sampling scores only" in text
        assert f"{len(rows):,} distinct rows), and exactly those got one" in text
        return
    two = chart(at, "One table, two paths")
    shown = set(decode(two["data"][0]["x"]).tolist())
    lookup = decode(two["data"][0]["x"])[decode(two["data"][0]["y"]) > 0]
    head = decode(two["data"][1]["x"])[decode(two["data"][1]["y"]) > 0]
    assert set(lookup.tolist()) == set(centres.tolist())  # the lookup's path: the centres, every one shown
    assert set(head.tolist()) == set(rows.tolist()) & shown and len(head) < len(shown) == 200  # the drawn rows
    union = len(set(centres.tolist()) | set(rows.tolist()))
    assert "these are two masks of one table" in text and f"Their union, {union:,} of 10,001 rows" in text
    title = chart(at, "rows got a gradient")["layout"]["title"]["text"].replace("<br>", " ")
    assert title.startswith(f"Step 1: {union:,} of 10,001 rows got a gradient")  # not "every row"


@pytest.mark.slow
def test_every_page_renders_for_sgns_at_v_10001():
    at = stepped({**SGNS, "vocab_size": "10001"})
    for page in PAGES:
        at.switch_page(page).run()
        no_exception(at)


@pytest.mark.slow
def test_gpt2_sized_sgns_trains_and_shows_its_masks():
    query = {**SGNS, "vocab_size": "50257", "dim": "768", "init": "small_normal", "lr": "0.01", "optimizer": "adam"}
    at = stepped(query)
    assert at.session_state.trainer.step_count == 1
    for path in PAGES:  # every page renders at GPT-2's table size
        at.switch_page(path).run()
        no_exception(at)
    at.switch_page("pages/02_gradient_masks.py").run()
    no_exception(at)
    rec = at.session_state.trainer.history[-1]
    assert f"reaches {len(drawn(rec)):,} of 50,257 rows" in captions(at)


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_predict_previews_the_head_rows_negative_sampling_will_score_and_they_are_the_steps(tied):
    at = app({**SGNS, "tie_weights": str(tied).lower()})
    at.switch_page("pages/09_predict.py").run()
    no_exception(at)
    preview = next(c.value for c in at.caption if c.value.startswith("Negative sampling will score"))
    at.button(key="predict_step").click().run()
    no_exception(at)
    rec = at.session_state.trainer.history[-1]  # the step the preview was of: its contexts and negatives
    b, k = rec.negative_ids.shape
    assert f"will score {len(drawn(rec)):,} distinct head rows next step: {b:,} true contexts and {b * k:,} draws" in (
        preview
    )
    assert ("The head is tied: these are rows of this table" in preview) == tied
    if tied:  # and each of them got a gradient in the table: by a lookup or by the head's path
        assert rec.grad_mask[drawn(rec)].all()


def test_predict_has_no_head_preview_for_the_full_softmax():
    at = app()
    at.switch_page("pages/09_predict.py").run()
    assert not [c for c in at.caption if c.value.startswith("Negative sampling will score")]
