"""AppTest tests of every page: renders without exceptions, Step steps, a config change resets (after asking),
an invalid value shows its message beside the control, and query parameters set the config."""

from __future__ import annotations

import numpy as np
import pytest
from apptest_support import ROOT, TIMEOUT, app, charts, decode, diverged, no_exception  # noqa: F401 (others import them here)
from streamlit.testing.v1 import AppTest

from ui.session import KEYS, WIDGET_PREFIXES

PAGES = [
    "pages/01_train.py",
    "pages/02_gradient_masks.py",
    "pages/03_row_updates.py",
    "pages/04_embedding_space.py",
    "pages/05_lookup.py",
    "pages/06_scale.py",
    "pages/08_compare.py",
    "pages/09_predict.py",
    "pages/10_export.py",
    "pages/07_lessons.py",
]
NO_CHART = (
    "pages/05_lookup.py",
    "pages/06_scale.py",
    "pages/08_compare.py",
    "pages/10_export.py",
    "pages/07_lessons.py",
)


def step_metric(at: AppTest) -> int:
    return int(next(m for m in at.metric if m.label == "Step").value)


def on_train(query: dict[str, str] | None = None) -> AppTest:
    at = app(query)
    at.switch_page("pages/01_train.py").run()
    no_exception(at)
    return at


# ---------------------------------------------------------------- rendering


def test_home_renders_and_links_every_page():
    at = app()
    no_exception(at)
    assert at.title[0].value == "Embedding Explorer"
    assert at.session_state.trainer.step_count == 0


def test_every_page_renders_at_default_config_and_after_steps():
    at = app()
    for page in PAGES:
        at.switch_page(page).run()
        no_exception(at)
    at.switch_page("pages/01_train.py").run()
    at.button(key="train_step_10").click().run()
    at.button(key="train_step_1").click().run()
    assert step_metric(at) == 11
    for page in PAGES:
        at.switch_page(page).run()
        no_exception(at)
        if page not in NO_CHART:
            assert at.get("plotly_chart"), f"{page} shows no chart after 11 steps"
    kept = at.session_state._state.filtered_state  # every key the app keeps is declared in ui/session.py
    assert all(key in KEYS or key.startswith(tuple(WIDGET_PREFIXES)) for key in kept), sorted(kept)
    assert at.session_state.trainer.step_count == 11  # visiting pages never steps or resets


# ---------------------------------------------------------------- Train


def test_step_buttons_change_the_step():
    at = on_train()
    assert step_metric(at) == 0
    at.button(key="train_step_1").click().run()
    assert step_metric(at) == 1
    at.button(key="train_step_10").click().run()
    assert step_metric(at) == 11
    assert [b.label for b in at.button][:5] == ["Step", "Step ×10", "Step ×100", "Run", "Reset"]


def test_run_toggles_to_pause_and_reset_goes_back_to_step_0():
    at = on_train()
    at.button(key="train_run").click().run()
    assert at.session_state.running
    assert at.button(key="train_pause").label == "Pause"
    at.button(key="train_pause").click().run()
    assert not at.session_state.running and at.button(key="train_run").label == "Run"
    at.button(key="train_step_10").click().run()
    at.button(key="train_reset").click().run()
    assert step_metric(at) == 0


def test_going_back_to_an_earlier_step_shows_that_steps_batch():
    at = on_train()
    at.button(key="train_step_10").click().run()
    assert not at.slider  # the latest step is shown until the user asks to go back
    at.toggle(key="train_browse").set_value(True).run()
    at.slider(key="train_view_step").set_value(3).run()
    no_exception(at)
    rec = at.session_state.trainer.history.at(3)
    titles = [c["layout"]["title"]["text"].replace("<br>", " ") for c in charts(at)]
    assert any(t.startswith(f"Step 3's batch: {len(rec.input_ids)} lookups") for t in titles)
    assert any("after step 3" in t for t in titles)  # the table as it was then, from the kept snapshots
    assert step_metric(at) == 10  # looking back does not train or rewind
    at.button(key="train_step_1").click().run()
    assert at.slider(key="train_view_step").value == 3  # a new step does not yank the view forward
    at.slider(key="train_view_step").set_value(11).run()
    at.button(key="train_step_1").click().run()
    assert at.slider(key="train_view_step").value == 12  # back at the end: it follows again


def test_train_charts_mark_this_steps_rows():
    at = on_train()
    at.button(key="train_step_1").click().run()
    rec = at.session_state.trainer.history[-1]
    heatmap = next(c for c in charts(at) if "The table W" in c["layout"]["title"]["text"].replace("<br>", " "))
    strip = decode(heatmap["data"][0]["z"]).ravel()  # 1 = looked up this step
    assert np.array_equal(strip == 1, rec.token_counts > 0)


def test_diverged_run_offers_a_smaller_learning_rate():
    at = on_train({"optimizer": "sgd", "lr": "100", "init": "normal"})
    for _ in range(5):
        at.button(key="train_step_100").click().run()
        if diverged(at):
            break
    assert diverged(at), "lr=100 with SGD should diverge"
    assert any("diverged" in e.value for e in at.error)
    at.button(key="train_reset_lr").click().run()
    no_exception(at)
    assert at.session_state.trainer.cfg.lr == pytest.approx(10.0) and step_metric(at) == 0


# ---------------------------------------------------------------- configuration


def test_config_change_before_any_step_applies_at_once():
    at = on_train()
    at.number_input(key="cfg_dim").set_value(8).run()
    assert at.session_state.trainer.cfg.dim == 8 and at.session_state.trainer.weight.shape == (60, 8)
    assert at.query_params["dim"] == "8"


def test_config_change_after_steps_asks_first_then_resets():
    at = on_train()
    at.button(key="train_step_10").click().run()
    at.number_input(key="cfg_dim").set_value(8).run()
    assert at.session_state.trainer.cfg.dim == 16 and step_metric(at) == 10  # nothing lost yet
    assert at.button(key="cfg_apply").label == "Apply and reset the run (10 steps will be lost)"
    at.button(key="cfg_apply").click().run()
    assert at.session_state.trainer.cfg.dim == 8 and step_metric(at) == 0
    assert at.session_state.trainer.weight.shape == (60, 8)


def test_keep_current_run_drops_the_pending_change():
    at = on_train()
    at.button(key="train_step_1").click().run()
    at.selectbox(key="cfg_optimizer").set_value("sgd").run()
    at.button(key="cfg_keep").click().run()
    assert at.session_state.pending is None and step_metric(at) == 1
    assert at.selectbox(key="cfg_optimizer").value == "adam"


def test_invalid_value_shows_its_message_beside_the_control_and_keeps_the_run():
    at = on_train()
    at.button(key="train_step_1").click().run()
    at.number_input(key="cfg_lr").set_value(-1.0).run()
    no_exception(at)
    errors = [e.value for e in at.sidebar.error]
    assert any("Learning rate must be a number above 0" in e for e in errors)
    assert at.session_state.trainer.cfg.lr == 0.05 and step_metric(at) == 1  # the last valid run keeps going
    # "beside": the error element directly follows the lr control in the sidebar
    elements = list(at.sidebar)
    lr_at = next(i for i, e in enumerate(elements) if getattr(e, "key", None) == "cfg_lr")
    assert elements[lr_at + 1].type == "error"


def test_sparse_with_adam_is_explained_not_crashed():
    at = on_train()
    at.toggle(key="cfg_sparse").set_value(True).run()
    no_exception(at)
    assert any("cannot take sparse gradients" in e.value for e in at.sidebar.error)


def test_own_text_corpus():
    at = on_train()
    at.radio(key="cfg_corpus_source").set_value("My own text").run()
    assert not at.sidebar.error  # nothing pasted yet is not an error: a neutral prompt instead
    assert any("Paste a text or upload" in i.value for i in at.sidebar.info)
    at.text_area(key="cfg_corpus_paste").input("too short").run()
    assert any("Paste a longer text" in e.value for e in at.sidebar.error)
    text = "the cat sat on the mat . the dog sat on the log . " * 20
    at.text_area(key="cfg_corpus_paste").input(text).run()
    no_exception(at)
    assert at.session_state.trainer.cfg.corpus_text == text
    assert next(e for e in at.sidebar.expander if e.label == "Batches and corpus").proto.expanded  # stays open
    summary = " ".join(c.value for c in at.sidebar.caption)
    assert "On your text" in summary and "On the your" not in summary
    assert "not part of the link" in summary
    at.button(key="train_step_10").click().run()
    assert step_metric(at) == 10


# ---------------------------------------------------------------- query parameters


def test_query_params_set_the_config():
    query = {"optimizer": "sgd", "vocab_size": "100", "dim": "8", "lr": "0.5", "momentum": "0.9",
             "seed": "3", "padding_idx": "0", "tie_weights": "true", "window": "1", "batch_size": "32"}  # fmt: skip
    at = app(query)
    no_exception(at)
    cfg = at.session_state.trainer.cfg
    assert (cfg.optimizer, cfg.vocab_size, cfg.dim, cfg.lr, cfg.momentum, cfg.seed) == ("sgd", 100, 8, 0.5, 0.9, 3)
    assert (cfg.padding_idx, cfg.tie_weights, cfg.window, cfg.batch_size) == (0, True, 1, 32)
    assert at.number_input(key="cfg_vocab_size").value == 100


def test_same_link_gives_the_same_run():
    query = {"optimizer": "adam", "seed": "7", "vocab_size": "50"}
    runs = []
    for _ in range(2):
        at = on_train(query)
        at.button(key="train_step_10").click().run()
        runs.append(at.session_state.trainer.weight)
    assert np.array_equal(runs[0], runs[1])


def test_url_holds_every_setting_of_the_run():
    at = on_train({"optimizer": "sgd"})
    for field in ("vocab_size", "dim", "optimizer", "lr", "momentum", "beta1", "beta2", "weight_decay",
                  "batch_size", "seed", "init", "sparse", "tie_weights", "window", "nesterov"):  # fmt: skip
        assert field in at.query_params, field
    assert at.query_params["optimizer"] == "sgd"


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"dim": "abc"}, "dim", "not a whole number"),
        ({"lr": "-1"}, "lr", "Learning rate must be a number above 0"),
        ({"optimizer": "lion"}, "optimizer", "not one of"),
        ({"vocab_size": "1"}, "vocab_size", "between 2"),
    ],
)
def test_bad_link_values_show_a_message_not_a_traceback(query, field, words):
    at = app(query)
    no_exception(at)
    assert any(words in e.value for e in at.sidebar.error), [e.value for e in at.sidebar.error]
    assert getattr(at.session_state.trainer.cfg, field) == getattr(
        type(at.session_state.trainer.cfg)(), field
    )  # default runs


def test_deep_link_to_an_inner_page_as_first_run():
    """What a fresh server does with /row_updates?optimizer=sgd: runs the page alone, without app.py."""
    at = app({"optimizer": "sgd", "vocab_size": "100"}, script="pages/03_row_updates.py")
    no_exception(at)
    assert at.session_state.trainer.cfg.optimizer == "sgd" and at.session_state.trainer.cfg.vocab_size == 100
    at.button(key="updates_step_take").click().run()
    no_exception(at)
    assert at.session_state.trainer.step_count == 10
    split = next(c for c in charts(at) if "how far each row moved" in c["layout"]["title"]["text"].replace("<br>", " "))
    parts = {trace["name"]: decode(trace["y"]) for trace in split["data"]}
    others = [y for name, y in parts.items() if name != "from its gradient"]
    assert all(np.allclose(y, 0) for y in others)  # plain SGD: every move is the gradient's (no state, no decay)


@pytest.mark.parametrize("page", PAGES)
def test_deep_link_to_each_page_renders(page):
    at = app({"vocab_size": "40", "dim": "4"}, script=page)
    no_exception(at)
    assert at.session_state.trainer.cfg.vocab_size == 40


# ---------------------------------------------------------------- pages on their data


def test_row_updates_adam_moves_rows_without_gradient():
    at = on_train({"optimizer": "adam"})
    at.button(key="train_step_10").click().run()
    at.switch_page("pages/03_row_updates.py").run()
    no_exception(at)
    rec = at.session_state.trainer.history[-1]
    moved = int((rec.updated_mask & ~rec.grad_mask).sum())
    assert moved > 0
    assert any(f"{moved:,} of them got no gradient" in c.value for c in at.caption)


def test_gradient_masks_untied_head_shows_head_gradient_on_every_row():
    at = on_train({"tie_weights": "false"})
    at.button(key="train_step_1").click().run()
    at.switch_page("pages/02_gradient_masks.py").run()
    no_exception(at)
    contrast = next(c for c in charts(at) if "untied head" in c["layout"]["title"]["text"].replace("<br>", " "))
    head = decode(contrast["data"][1]["y"])
    emb = decode(contrast["data"][0]["y"])
    assert (head > 0).all() and (emb == 0).any()


def test_embedding_space_shows_pca_while_umap_is_cold(monkeypatch):
    import core.layouts

    monkeypatch.setattr(core.layouts, "umap_is_warm", lambda: False)  # cold, whichever test warmed it before
    at = on_train()
    at.button(key="train_step_10").click().run()
    at.switch_page("pages/04_embedding_space.py").run()
    at.radio(key="space_method").set_value("UMAP").run()
    no_exception(at)
    assert any("UMAP is warming up" in i.value for i in at.info)
    animation = next(c for c in charts(at) if "kept steps" in c["layout"]["title"]["text"].replace("<br>", " "))
    assert animation["layout"]["title"]["text"].replace("<br>", " ").startswith("PCA")
    assert len(animation["frames"]) == len(at.session_state.trainer.frames())
