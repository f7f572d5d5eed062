"""AppTest tests of the classroom pages (Lessons, Optimizers side by side, Predict then step, Export and import)
and of the figures and tables behind them; expected values come from solo Trainers run here."""

from __future__ import annotations

import base64
import io
import os
import sys
from pathlib import Path

import apptest_support
import numpy as np
import pytest
from apptest_support import charts, no_exception
from streamlit.testing.v1 import AppTest

from core import OPTIMIZERS, Trainer
from core.captions import member_labels
from core.compare import Comparison, member_config, series
from core.export import projector_metadata, table_npy
from core.glossary import LOOK_FOR, TERMS
from core.lessons import LESSONS
from core.predict import Tally, breakdown, explain
from ui import nav
from ui.figures import compare, predict

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["EMBEDDING_EXPLORER_NO_UMAP_WARMUP"] = "1"

NEW_PAGES = ["pages/07_lessons.py", "pages/08_compare.py", "pages/09_predict.py", "pages/10_export.py"]


def page(script: str, query: dict[str, str] | None = None) -> AppTest:
    return apptest_support.page(script, query, timeout=90)


def decode(value) -> np.ndarray:
    """A plotly JSON array: plain list, or the typed-array form {dtype, bdata}."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value)


def captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


# ---------------------------------------------------------------- every page


@pytest.mark.parametrize("script", NEW_PAGES)
def test_each_new_page_renders_and_is_in_the_navigation(script):
    page(script)
    entry = next(p for p in nav.PAGES if p[0] == script)
    assert entry.question and entry.url in LOOK_FOR


def test_every_page_has_a_look_for_line_and_the_glossary_has_every_term():
    assert {page.url for page in nav.PAGES} <= set(LOOK_FOR)
    wanted = {"gradient", "gradient mask", "optimizer state", "momentum", "moment estimates", "weight decay",
              "tied head", "padding_idx", "max_norm", "sparse gradient", "UMAP", "PCA"}  # fmt: skip
    assert wanted <= set(TERMS)


def test_glossary_popover_lists_every_term():
    at = AppTest.from_string(
        "from ui.widgets.glossary import glossary, look_for\nglossary()\nlook_for('compare')", default_timeout=30
    ).run()
    no_exception(at)
    text = " ".join(m.value for m in at.markdown)
    assert all(f"**{term}**" in text for term in TERMS)
    assert LOOK_FOR["compare"] in captions(at)


# ---------------------------------------------------------------- Lessons


def test_a_lesson_sets_up_its_run_trains_and_shows_its_point_holds():
    at = page("pages/07_lessons.py")
    at.selectbox(key="lesson_pick").set_value("adam_state").run()
    at.button(key="lesson_load").click().run()
    no_exception(at)
    preset = LESSONS["adam_state"]
    assert at.session_state.trainer.cfg == preset.config() and at.session_state.trainer.step_count == 0
    assert at.query_params["optimizer"] == "adam"  # the address bar now carries the lesson's run
    at.button(key="lesson_steps").click().run()
    no_exception(at)
    assert at.session_state.trainer.step_count == preset.steps
    solo = Trainer(preset.config()).run(preset.steps)
    moved_no_grad = [int(((r.update_norm > 0) & (r.grad_norm == 0)).sum()) for r in solo[1:]]
    assert min(moved_no_grad) > 0  # the point, measured on a solo run of the same settings
    assert at.success and "rows moved without a gradient" in at.success[0].value
    assert any(link.proto.page == "row_updates" for link in at.get("page_link"))


def test_lesson_on_another_run_says_so():
    at = page("pages/07_lessons.py")
    at.selectbox(key="lesson_pick").set_value("sgd_used_rows").run()
    assert "other settings" in captions(at) and not at.success


# ---------------------------------------------------------------- Optimizers side by side


def test_compare_steps_all_optimizers_on_the_same_batches():
    at = page("pages/08_compare.py")
    assert at.multiselect(key="compare_optimizers").value == ["sgd", "adam", "adamw"]
    at.button(key="compare_step_10").click().run()
    no_exception(at)
    assert int(metric(at, "Step")) == 10
    run = at.session_state.compare_run
    cfg = at.session_state.trainer.cfg
    solo = [Trainer(member_config(cfg, name)).run(10) for name in ("sgd", "adam", "adamw")]
    loss = next(c for c in charts(at) if c["layout"]["title"]["text"].replace("<br>", " ").startswith("Loss per step"))
    for trace, records in zip(loss["data"], solo, strict=True):
        assert np.allclose(decode(trace["y"]), [r.loss for r in records])
    for member, records in zip(run.members, solo, strict=True):
        assert [r.loss for r in member.history] == [r.loss for r in records]
    assert "In 10 of 10 kept steps every optimizer's gradient reached exactly the same rows" in captions(at)
    sgd_moved_no_grad = sum(int(((r.update_norm > 0) & (r.grad_norm == 0)).sum()) for r in solo[0])
    assert sgd_moved_no_grad == 0 and "on average: SGD lr 0.5: 0.0;" in captions(at)
    assert len(charts(at)) == 5


def test_compare_restarts_when_a_choice_changes_and_needs_two_optimizers():
    at = page("pages/08_compare.py")
    at.button(key="compare_step_1").click().run()
    at.number_input(key="compare_lr_adam").set_value(0.01).run()
    no_exception(at)
    assert int(metric(at, "Step")) == 0 and at.session_state.compare_run.configs[1].lr == 0.01
    at.multiselect(key="compare_optimizers").set_value(["sgd"]).run()
    no_exception(at)
    assert any("at least 2" in i.value for i in at.info)


def test_compare_figures_hold_the_series():
    base = member_config(LESSONS["sgd_used_rows"].config(), "sgd", lr=0.5)
    run = Comparison([base, member_config(base, "adam", lr=0.05)])
    run.run(3)
    all_series = [series(list(m.history)) for m in run.members]
    fig = compare.compare_counts(member_labels(run.configs), all_series)
    assert len(fig.data) == 4
    assert list(fig.data[0].y) == [int(r.updated_mask.sum()) for r in run.members[0].history]
    assert list(fig.data[1].y) == [int(r.grad_mask.sum()) for r in run.members[0].history]
    fig = compare.compare_moved_without_grad(member_labels(run.configs), all_series)
    assert list(fig.data[0].y) == [0, 0, 0] and sum(fig.data[1].y) > 0


# ---------------------------------------------------------------- Predict, then step


def test_predict_scores_an_exact_prediction_and_explains_the_rows():
    at = page("pages/09_predict.py")
    solo = Trainer(at.session_state.trainer.cfg).run(2)
    at.button(key="predict_step").click().run()  # step 1 with the default guesses (0, 0)
    no_exception(at)
    assert at.session_state.predict_tally == Tally(points=0, possible=2)
    rec = solo[1]
    n_grad, n_moved = int((rec.grad_norm > 0).sum()), int((rec.update_norm > 0).sum())
    at.number_input(key="predict_grad").set_value(n_grad).run()
    at.number_input(key="predict_moved").set_value(n_moved).run()
    at.button(key="predict_step").click().run()
    no_exception(at)
    assert at.subheader[0].value == "Step 2: 2 of 2 right"
    assert at.session_state.predict_tally == Tally(points=2, possible=4)
    reasons = at.dataframe[1].value
    moved_no_grad = np.flatnonzero((rec.update_norm > 0) & (rec.grad_norm == 0))
    assert len(moved_no_grad) > 0  # Adam, the default: rows with state move without a gradient
    why = dict(zip(reasons["row"], reasons["why"], strict=True))
    assert all("moved by optimizer state" in why[r] for r in moved_no_grad)
    assert f"{n_moved} moved" in captions(at)


def test_predict_shows_the_next_batch_before_stepping():
    at = page("pages/09_predict.py")
    rec = Trainer(at.session_state.trainer.cfg).step()
    titles = [c["layout"]["title"]["text"].replace("<br>", " ") for c in charts(at)]
    bars = next(t for t in titles if t.startswith("The next batch"))
    distinct = int((rec.token_counts > 0).sum())
    assert f"{len(rec.input_ids)} lookups of {distinct} distinct tokens" in bars
    assert at.session_state.trainer.step_count == 0  # showing it did not consume it


def test_reason_table_and_caption_come_from_the_record():
    trainer = Trainer(LESSONS["tied_head"].config().replace(padding_idx=0))
    rec = next(r for r in trainer.run(40) if r.token_counts[0] > 0)
    exp = explain(rec)
    table, n_rows = predict.reason_table(exp, rec.token_counts, trainer.vocab)
    assert n_rows == len(trainer.vocab)  # tied head: every row got a gradient
    first = table.iloc[0]
    assert "tied head" in first["why"] or "padding" in first["why"]  # surprises first
    counts = breakdown(exp)
    text = predict.breakdown_caption(counts, int(rec.grad_mask.sum()), int(rec.updated_mask.sum()))
    head_only = int(((rec.grad_norm > 0) & (rec.token_counts == 0)).sum())
    assert f"({head_only} only through the tied head)" in text
    assert "padding row" not in text  # a tied head's gradient reaches the padding row too
    untied = Trainer(LESSONS["padding_idx"].config())
    rec = next(r for r in untied.run(40) if r.token_counts[0] > 0)
    counts = breakdown(explain(rec))
    text = predict.breakdown_caption(counts, int(rec.grad_mask.sum()), int(rec.updated_mask.sum()))
    assert "the padding row was looked up but got none" in text


# ---------------------------------------------------------------- Export and import


def test_export_page_offers_every_format():
    at = page("pages/10_export.py", {"vocab_size": "30", "dim": "4"})
    labels = [b.label for b in at.get("download_button")]
    assert labels == [".npy", ".csv", "Projector vectors.tsv", "Projector metadata.tsv", "word2vec .txt",
                      "History .npz"]  # fmt: skip
    assert at.get("download_button")[-1].proto.disabled  # no history before the first step


def test_import_a_matrix_and_explore_its_neighbours_and_pca():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(12, 3)).astype(np.float32)
    weight[5] = weight[2] * 2  # row 5 points the same way as row 2: cosine 1
    labels = [f"w{i}" for i in range(12)]
    cats = np.array([0, 1] * 6)
    metadata = projector_metadata(labels, cats, ["even", "odd"])
    at = page("pages/10_export.py")
    at.file_uploader(key="import_matrix").set_value(("m.npy", table_npy(weight), "application/octet-stream")).run()
    at.file_uploader(key="import_metadata").set_value(("meta.tsv", metadata.encode(), "text/tab-separated-values"))
    at.run()
    no_exception(at)
    assert metric(at, "Imported table") == "12 × 3"
    at.selectbox(key="import_row").set_value(2).run()
    table = at.dataframe[0].value
    assert table["label"].iloc[0] == "w5" and table["cosine"].iloc[0] == pytest.approx(1.0)
    unit = weight / np.linalg.norm(weight, axis=1, keepdims=True)
    sims = unit @ unit[2]
    sims[2] = -np.inf
    assert list(table["label"]) == [labels[i] for i in np.argsort(-sims, kind="stable")[:8]]
    pca = next(c for c in charts(at) if "PCA" in c["layout"]["title"]["text"].replace("<br>", " "))
    assert {t["name"] for t in pca["data"]} == {"even", "odd"}
    at.radio(key="import_method").set_value("UMAP").run()  # UMAP is cold in tests: PCA is shown, and said so
    no_exception(at)
    assert any("warming up" in i.value for i in at.info)


def test_a_file_that_does_not_parse_gets_a_message_not_an_exception():
    at = page("pages/10_export.py")
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(4))
    at.file_uploader(key="import_matrix").set_value(("v.npy", buffer.getvalue(), "application/octet-stream")).run()
    no_exception(at)
    assert at.error and "array of shape" in at.error[0].value


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_predict_works_for_every_optimizer_and_gives_every_surprise_a_reason(optimizer):
    at = page("pages/09_predict.py", {"optimizer": optimizer})
    for _ in range(2):
        at.button(key="predict_step").click().run()
        no_exception(at)
    rec = at.session_state.trainer.history[-1]
    reasons = at.dataframe[1].value
    involved = (rec.token_counts > 0) | (rec.grad_norm > 0) | (rec.update_norm > 0)
    assert sorted(reasons["row"]) == list(np.flatnonzero(involved))
    assert all(why for why in reasons["why"])
    moved_no_grad = set(np.flatnonzero((rec.update_norm > 0) & (rec.grad_norm == 0)).tolist())
    for row, why in zip(reasons["row"], reasons["why"], strict=True):
        if row in moved_no_grad:
            assert "moved by" in why and "its gradient" not in why


def test_compare_explains_an_optimizer_the_run_cannot_take():
    at = page("pages/08_compare.py", {"tie_weights": "true"})
    at.multiselect(key="compare_optimizers").set_value(["sgd", "sparse_adam"]).run()
    no_exception(at)
    assert at.error and at.error[0].value.startswith("SparseAdam:")


def test_export_turns_text_formats_off_for_a_big_table():
    at = page("pages/10_export.py", {"vocab_size": "50257", "dim": "128", "optimizer": "sgd"})
    disabled = {b.label: b.proto.disabled for b in at.get("download_button")}
    assert not disabled[".npy"] and disabled[".csv"] and disabled["Projector vectors.tsv"]
    assert not disabled["Projector metadata.tsv"] and disabled["word2vec .txt"]
    assert "Text formats are off" in captions(at)


def test_a_lesson_link_starts_that_lesson():
    at = page("pages/07_lessons.py", {"lesson": "tied_head"})
    assert at.session_state.trainer.cfg == LESSONS["tied_head"].config()
    assert at.selectbox(key="lesson_pick").value == "tied_head"
    assert at.query_params["lesson"] == "tied_head" and at.query_params["tie_weights"] == "true"
    at.button(key="lesson_steps").click().run()
    no_exception(at)
    assert at.success and "All 60 rows got a gradient in 100 of 100 steps" in at.success[0].value
    at.selectbox(key="lesson_pick").set_value("sgd_used_rows").run()  # choosing another does not re-open the link's
    assert at.session_state.trainer.cfg == LESSONS["tied_head"].config()


def test_trajectory_and_pca_panel_figures_hold_their_data():
    steps, norms, had = np.arange(1, 4), np.array([0.1, 0.0, 0.2]), np.array([True, False, True])
    fig = compare.compare_row_trajectory(["A", "B"], [(steps, norms, had), (steps, norms * 2, had)], "<pad>")
    assert list(fig.data[1].y) == [0.2, 0.0, 0.4]
    assert list(fig.data[0].marker.color) == [fig.data[0].line.color, "white", fig.data[0].line.color]
    assert "&lt;pad&gt;" in fig.layout.title.text.replace("<br>", " ")
    xy = [np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]), np.zeros((3, 2))]
    fig = compare.scatter_panels(["A", "B"], xy, ["x", "y", "z"], np.array([0, -1, 0]), ["c"], "t")
    first = [t for t in fig.data if t.xaxis == "x"]
    assert {t.name for t in first} == {"c", "no category"}
    c = next(t for t in first if t.name == "c")
    assert list(c.x) == [0.0, 4.0] and list(c.text) == ["x", "z"]
    assert sum(t.showlegend for t in fig.data) == 2  # one legend entry per category, not per panel


def test_compare_adam_with_beta1_0_moves_only_rows_with_a_gradient():
    at = page("pages/08_compare.py")
    at.multiselect(key="compare_optimizers").set_value(["adam", "sgd"]).run()
    at.number_input(key="compare_beta1_adam").set_value(0.0).run()
    at.button(key="compare_step_10").click().run()
    no_exception(at)
    adam = at.session_state.compare_run.members[0]
    assert adam.cfg.beta1 == 0.0
    assert all(np.array_equal(r.update_norm > 0, r.grad_norm > 0) for r in adam.history)
    assert "on average: Adam lr 0.05, beta1 0: 0.0;" in captions(at)
