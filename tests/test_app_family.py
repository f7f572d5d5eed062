"""The Scale page's family of models, run with AppTest: Measure, progress, Stop, Continue, the server's budget, and
captions and charts whose numbers are the family's own results (core.family, tested on its own elsewhere)."""

from __future__ import annotations

import re

import pytest
from apptest_support import app, charts, decode, no_exception

from core import TrainConfig, family
from serve import memory
from serve.memory import Registry
from ui.widgets import chunked

SCALE = "pages/06_scale.py"
STEPS = 6  # per model: the page's family, shortened (its full size is core.family.STEPS)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: as the server runs torch


@pytest.fixture(autouse=True)
def short_family(monkeypatch):
    monkeypatch.setattr(family, "STEPS", STEPS)
    # Chunks of a few steps: at the page's 0.25 s a quiet machine could train all 6 x 6 steps in the first chunk,
    # and the progress bar the first test looks for would never be drawn
    monkeypatch.setattr(chunked, "CHUNK_SECONDS", 0.02)


def on_scale(at=None):
    at = at or app()
    at.switch_page(SCALE).run()
    no_exception(at)
    return at


def held(at) -> family.Family:
    return at.session_state["cache"]["family"]


def run_to_the_end(at, limit: int = 300):
    for _ in range(limit):  # AppTest runs the fragment once per run: one chunk each
        if not at.get("progress"):
            break
        at.run()
    no_exception(at)
    return at


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def family_charts(at) -> dict[str, dict]:
    found = {}
    for spec in charts(at):
        title = spec["layout"]["title"]["text"]
        if "by model size" in title:
            found["purity" if "purity" in title else "loss"] = spec
    return found


def test_measure_trains_the_family_and_every_number_shown_is_its_results():
    at = on_scale()
    intro = " ".join(m.value for m in at.markdown)
    assert f"{STEPS} steps each" in intro and "T times the batch" in intro
    assert f"the same {STEPS * 16 * 8:,} tokens" in intro
    assert "different tasks" in captions(at) and "A toy corpus is not GPT-4's data" in captions(at)
    assert not family_charts(at)
    at.button(key="scale_family_measure").click().run()
    no_exception(at)
    assert any("Training:" in p.proto.text for p in at.get("progress"))
    run_to_the_end(at)
    fam = held(at)
    assert fam.done and len(fam.results) == 6
    assert fam.results == family.train_family(TrainConfig(), steps=STEPS)  # the page trained the core's
    text = captions(at)
    for r in fam.results:
        assert (
            f"{r.member.label} ({r.params:,} parameters): held-out loss {r.held_out_loss:.3f}, purity {r.purity:.2f}"
            in text
        )
    assert f"Each model looked up {STEPS * 16 * 8:,} tokens." in text
    best_gpt = min(fam.results[:3], key=lambda r: r.held_out_loss)
    assert f"Lowest held-out loss: {best_gpt.member.label}." in text
    figs = family_charts(at)
    assert set(figs) == {"loss", "purity"}
    for what, spec in figs.items():
        assert spec["layout"]["xaxis"]["type"] == "log"
        for trace, model in zip(spec["data"], ("gpt", "skipgram"), strict=True):
            mine = [r for r in fam.results if r.member.model == model]
            assert list(decode(trace["x"])) == [r.params for r in mine]
            values = [r.held_out_loss if what == "loss" else r.purity for r in mine]
            assert list(decode(trace["y"])) == pytest.approx(values)


def test_a_users_text_shows_loss_only_and_says_it_has_no_categories():
    at = app()
    at.radio(key="cfg_corpus_source").set_value("My own text").run()
    text = " ".join(f"the {w} sat on the mat. a {w} ran to the log." for w in ("cat", "dog", "fox", "owl") * 8)
    at.text_area(key="cfg_corpus_paste").input(text).run()
    at = on_scale(at)
    assert "last tenth of your text's sentences" in captions(at) and "no categories" in captions(at)
    at.button(key="scale_family_measure").click().run()
    run_to_the_end(at)
    fam = held(at)
    assert fam.done and fam.plan.held_text and not fam.plan.has_categories
    assert set(family_charts(at)) == {"loss"}
    shown = captions(at)
    for r in fam.results:
        assert f"{r.member.label} ({r.params:,} parameters): held-out loss {r.held_out_loss:.3f}" in shown
    assert "purity 0" not in shown and "purest" not in shown


def test_stop_stops_continue_resumes_and_the_results_are_an_uninterrupted_runs(monkeypatch):
    monkeypatch.setattr(family, "STEPS", 40)  # long enough that one chunk (0.25 s) cannot finish the family
    at = on_scale()
    at.button(key="scale_family_measure").click().run()
    at.run()
    at.button(key="scale_family_stop").click().run()
    no_exception(at)
    fam = held(at)
    steps = fam.done_steps
    assert fam.stopped and not fam.running and 0 < steps < fam.total_steps
    at.run()
    assert held(at).done_steps == steps  # stopped: no more training
    label = at.button(key="scale_family_resume").label
    assert re.fullmatch(r"Continue \(\d of 6 models done\)", label)
    at.button(key="scale_family_resume").click().run()
    run_to_the_end(at)
    assert held(at) is fam and fam.done
    assert fam.results == family.train_family(TrainConfig(), steps=40)


def test_the_family_trains_only_while_the_scale_page_is_shown(monkeypatch):
    monkeypatch.setattr(family, "STEPS", 40)  # long enough that one chunk (0.25 s) cannot finish the family
    at = on_scale()
    at.button(key="scale_family_measure").click().run()
    fam = held(at)
    steps = fam.done_steps
    at.switch_page("pages/01_train.py").run()
    no_exception(at)
    for _ in range(3):
        at.run()
    assert fam.done_steps == steps and not fam.done  # another page: no chunk trains (nor would a stray timer's)
    at = on_scale(at)
    assert held(at) is fam and (fam.done_steps > steps or fam.stopped)  # back: it goes on, or Continue does


def test_the_family_is_charged_to_the_server_and_refused_when_it_does_not_fit(monkeypatch):
    run_bytes = TrainConfig().memory_bytes()
    reg = Registry(budget=10 * 1024**3)
    monkeypatch.setattr(memory, "_registry", reg)
    at = on_scale()
    assert reg.held == run_bytes
    at.button(key="scale_family_measure").click().run()
    no_exception(at)
    assert reg.held == run_bytes + held(at).plan.peak_bytes

    small = Registry(budget=run_bytes + 1)  # room for the sidebar's run only
    monkeypatch.setattr(memory, "_registry", small)
    at = on_scale()
    at.button(key="scale_family_measure").click().run()
    no_exception(at)
    assert "memory budget" in " ".join(e.value for e in at.error)
    assert "family" not in at.session_state["cache"] and small.held == run_bytes
    assert at.button(key="scale_family_measure")  # Measure stays, to try again
