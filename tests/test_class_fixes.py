"""Issue 13's classroom fixes, in AppTest and plain pytest: Compare's PCA follows the newest step and takes any
members (SGD beside SGD with momentum); the sidebar names the step on screen after a fragment's Step; Predict scores
picked rows with their reasons; a refused link leaves a way on; the default lr learns at every table size."""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["EMBEDDING_EXPLORER_NO_UMAP_WARMUP"] = "1"

import apptest_support  # noqa: E402
from apptest_support import charts, no_exception  # noqa: E402

from core import TrainConfig, Trainer  # noqa: E402
from core.compare import member_config  # noqa: E402
from core.predict import NOT_LOOKED_UP, PADDING, STATE, next_batch, pick_options, score_picks  # noqa: E402


def page(script: str, query: dict[str, str] | None = None) -> AppTest:
    return apptest_support.page(script, query, timeout=120)


def sidebar_captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.sidebar.caption)


# ---------------------------------------------------------------- Optimizers side by side


def test_compare_pca_follows_the_newest_step_unless_moved_back():
    at = page("pages/08_compare.py")
    for _ in range(3):
        at.button(key="compare_step_10").click().run()
        no_exception(at)
    run = at.session_state.compare_run
    assert run.step_count == 30
    newest = run.frame_steps()[-1]
    assert newest == max(set.intersection(*(set(s for s, _ in m.frames()) for m in run.members)))
    assert at.select_slider(key="compare_pca_step").value == newest
    assert any(f"after step {newest}" in t for t in titles(at))
    back = run.frame_steps()[0]
    at.select_slider(key="compare_pca_step").set_value(back).run()
    at.button(key="compare_step_10").click().run()  # moved back: it stays there
    assert at.select_slider(key="compare_pca_step").value == back
    assert any(f"after step {back}" in t for t in titles(at))


def titles(at: AppTest) -> list[str]:
    import json

    return [json.loads(c.proto.spec)["layout"]["title"]["text"].replace("<br>", " ") for c in at.get("plotly_chart")]


def test_compare_takes_sgd_beside_sgd_with_momentum_each_labelled_by_what_differs():
    at = page("pages/08_compare.py")
    at.multiselect(key="compare_optimizers").set_value(["sgd", "sgd_2"]).run()
    no_exception(at)
    assert at.number_input(key="compare_momentum_sgd_2").value == 0.9
    at.button(key="compare_step_10").click().run()
    no_exception(at)
    cfg = at.session_state.trainer.cfg
    plain, momentum = at.session_state.compare_run.members
    assert (plain.cfg.optimizer, plain.cfg.momentum, momentum.cfg.optimizer, momentum.cfg.momentum) == (
        "sgd", 0.0, "sgd", 0.9,
    )  # fmt: skip
    solo = Trainer(member_config(cfg, "sgd", momentum=0.9)).run(10)  # the same member, trained alone
    assert [r.loss for r in momentum.history] == [r.loss for r in solo]
    loss = next(c for c in charts(at) if c["layout"]["title"]["text"].replace("<br>", " ").startswith("Loss per step"))
    assert [t["name"] for t in loss["data"]][:2] == ["SGD lr 0.5", "SGD lr 0.5, momentum 0.9"]
    moved_plain = sum(int(((r.update_norm > 0) & (r.grad_norm == 0)).sum()) for r in plain.history)
    moved_momentum = sum(int(((r.update_norm > 0) & (r.grad_norm == 0)).sum()) for r in momentum.history)
    assert moved_plain == 0 < moved_momentum  # the momentum lesson's point, now on one page


# ---------------------------------------------------------------- the sidebar names the step on screen


def test_sidebar_link_sentence_names_the_step_after_a_step_on_train():
    at = page("pages/01_train.py")
    assert "reproduces this run." in sidebar_captions(at)
    at.button(key="train_step_1").click().run()
    no_exception(at)
    assert at.session_state.trainer.step_count == 1
    assert "reproduces this run at step 1 " in sidebar_captions(at)
    at.button(key="train_step_10").click().run()
    assert "reproduces this run at step 11 " in sidebar_captions(at)


def test_dark_theme_toggle_offers_a_link_that_carries_the_run_and_step():
    at = page("pages/01_train.py")
    at.button(key="train_step_1").click().run()
    at.toggle(key="view_dark").set_value(True).run()
    no_exception(at)
    text = sidebar_captions(at)
    assert "⋮" not in text  # toolbarMode "minimal": there is no ⋮ menu to point to
    assert "Open this run in the dark theme" in text and "re-trains to step 1" in text
    link = text[text.index("(?") + 1 : text.index(")", text.index("(?"))]
    assert "embed_options=dark_theme" in link and "step=1" in link and "theme=dark" in link
    assert "vocab_size=60" in link and "lr=0.05" in link


# ---------------------------------------------------------------- Predict: picked rows


def test_picked_rows_are_scored_against_the_table_torch_changed():
    cfg = TrainConfig(padding_idx=0, optimizer="adam", lr=0.05, weight_decay=0.0)
    tr = Trainer(cfg)
    tr.run(3)  # Adam now holds state for rows the next batch may miss
    everything = np.arange(cfg.vocab_size)
    before = tr.weight_rows(everything).copy()
    batch = next_batch(tr)
    options = pick_options(batch, tr.corpus.token_freq)
    assert set(options[: batch.n_distinct]) == set(np.flatnonzero(batch.counts))  # the batch's rows first
    rec = tr.step()
    changed = np.any(tr.weight_rows(everything) != before, axis=1)  # brute force: which rows torch changed
    picks = score_picks(rec, everything)
    assert [p.moved for p in picks] == changed.tolist()
    assert all(p.reasons for p in picks)
    assert not picks[0].moved and PADDING in picks[0].reasons  # the padding row: looked up or not, never moves
    looked_up = np.bincount(rec.input_ids.ravel(), minlength=cfg.vocab_size) > 0
    by_state = [p for p in picks if p.moved and not looked_up[p.row]]
    assert by_state and all(f"moved by {STATE}" in p.reasons for p in by_state)
    stayed = [p for p in picks if not p.moved and not looked_up[p.row] and p.row != 0]
    assert all(p.reasons == (NOT_LOOKED_UP,) for p in stayed)


def test_predict_page_scores_each_pick_with_its_reason():
    at = page("pages/09_predict.py")
    tr = at.session_state.trainer
    batch = next_batch(tr)
    in_batch = int(np.flatnonzero(batch.counts)[0])
    outside = int(np.flatnonzero(batch.counts == 0)[0])
    at.multiselect(key="predict_rows").set_value([in_batch, outside]).run()
    at.button(key="predict_step").click().run()
    no_exception(at)
    table = at.dataframe[0].value
    assert list(table["row"]) == [in_batch, outside]
    assert list(table["moved"]) == ["yes ✓", "no ✗"]  # Adam's first step: only looked-up rows move
    assert "looked up" in table["why"][0] and table["why"][1] == NOT_LOOKED_UP
    assert any("1 of 2 picked rows moved" in c.value for c in at.caption)
    assert at.multiselect(key="predict_rows").value == []  # the next batch is picked afresh


# ---------------------------------------------------------------- the default lr follows the table


@pytest.mark.parametrize("vocab_size, dim", [(60, 16), (1_000, 64), (10_000, 128)])
def test_default_settings_get_below_ln_v_within_100_steps(vocab_size, dim):
    losses = [r.loss for r in Trainer(TrainConfig(vocab_size=vocab_size, dim=dim)).run(100)]
    assert np.mean(losses[-10:]) < math.log(vocab_size), (losses[0], losses[-10:])


def test_a_link_without_lr_gets_the_tables_default_and_an_explicit_lr_stays():
    at = page("pages/01_train.py", {"vocab_size": "10000", "dim": "128"})
    assert at.session_state.trainer.cfg.lr == 0.018
    at = page("pages/01_train.py", {"vocab_size": "10000", "dim": "128", "lr": "0.05"})
    assert at.session_state.trainer.cfg.lr == 0.05


def test_the_lr_follows_the_dimension_until_the_user_sets_it():
    at = page("pages/01_train.py")
    at.sidebar.number_input(key="cfg_dim").set_value(128).run()
    no_exception(at)
    assert at.session_state.trainer.cfg.lr == 0.018
    at.sidebar.number_input(key="cfg_lr").set_value(0.03).run()
    at.sidebar.number_input(key="cfg_dim").set_value(64).run()
    assert at.session_state.trainer.cfg.lr == 0.03


# ---------------------------------------------------------------- a refused link leaves a way on


def test_a_refused_link_shows_the_sidebar_and_starts_the_largest_table_that_fits(monkeypatch):
    from core.budget import run_bytes
    from serve import memory

    asked = TrainConfig(vocab_size=50_257, dim=768)
    budget = run_bytes(asked).total // 2
    monkeypatch.setattr(memory, "_registry", memory.Registry(budget=budget))
    at = page("pages/01_train.py", {"vocab_size": "50257", "dim": "768"})
    assert at.session_state.trainer is None and "choose a smaller" in " ".join(e.value for e in at.error)
    assert at.sidebar.error and at.sidebar.button(key="cfg_refused_fit")  # the sidebar is there, with a way on
    fit = next(b for b in at.button if b.key == "page_refused_fit")
    v = int(re.search(r"V = ([0-9,]+)", fit.label).group(1).replace(",", ""))
    # brute force: the largest V whose run fits the budget, the other settings as the link's
    assert run_bytes(asked.replace(vocab_size=v)).total <= budget < run_bytes(asked.replace(vocab_size=v + 1)).total
    fit.click().run()
    no_exception(at)
    cfg = at.session_state.trainer.cfg
    assert cfg == asked.replace(vocab_size=v) and at.query_params["vocab_size"] in (str(v), [str(v)])
    assert at.sidebar.number_input(key="cfg_vocab_size").value == v
