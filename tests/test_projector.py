"""ui.display: display mode's figure style and CSS; ui.links: links that carry the step and the view (AppTest)."""

from __future__ import annotations

import json
import re

import apptest_support
import numpy as np
import plotly.graph_objects as go
import pytest
from apptest_support import no_exception
from streamlit.testing.v1 import AppTest

from core import TrainConfig, Trainer, replay  # noqa: E402
from ui import display, links, training  # noqa: E402
from ui.figures import space, train  # noqa: E402

TIMEOUT = 90


# ---------------------------------------------------------------------------------------------- style


def _styled(fig, dark: bool = False) -> go.Figure:
    """display_style's plain-data figure, read through go.Figure (which validates it)."""
    return go.Figure(display.display_style(fig, dark=dark))


def test_projector_style_enlarges_type_and_thickens_the_loss_curve():
    fig = train.loss_curve(np.arange(1, 6), np.array([4.0, 3.8, 3.7, 3.5, 3.4]), marked_step=3)
    styled = _styled(fig)
    assert styled.layout.title.font.size >= 24
    assert styled.layout.font.size >= 18
    assert styled.layout.xaxis.tickfont.size >= 18 and styled.layout.yaxis.tickfont.size >= 18
    assert styled.layout.xaxis.title.font.size >= 18
    assert styled.data[0].line.width == pytest.approx(2.5 * 1.6)  # loss_curve draws 2.5 px
    assert styled.data[1].marker.size == pytest.approx(13 * 1.5)  # its marked step: 13 px
    assert styled.layout.font.color == "#000000"
    assert styled.layout.margin.autoexpand is True  # room for the bigger ticks
    # a copy: the page's figure (possibly cached) is untouched
    assert go.Figure(fig).data[0].line.width == 2.5 and go.Figure(fig).layout.title.font.size < 24


def test_projector_style_on_the_dark_theme_writes_white():
    fig = train.loss_curve(np.arange(1, 4), np.array([1.0, 0.9, 0.8]))
    styled = _styled(fig, dark=True)
    assert styled.layout.font.color == "#FFFFFF"
    assert styled.layout.xaxis.tickfont.color == "#FFFFFF"


def test_projector_style_heatmap_colorbar_and_bars():
    weight = np.arange(12, dtype=float).reshape(4, 3)
    labels = [f"{i} w{i}" for i in range(4)]
    heat = _styled(train.weight_heatmap(weight, labels, np.array([1, 0, 1, 0], bool), np.zeros(4, bool), "W"))
    assert heat.data[1].colorbar.tickfont.size >= 18
    assert heat.layout.yaxis.tickfont.size >= 18
    bars = _styled(train.batch_token_bars(["a", "b"], np.array([3, 1]), "A batch"))
    assert bars.layout.xaxis.tickfont.size >= 18 and bars.layout.title.font.size >= 24


def _animation(n_points: int) -> go.Figure:
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(3, n_points, 2))
    labels = [f"tok{i}" for i in range(n_points)]
    cats = np.arange(n_points) % 3
    return space.embedding_animation(
        coords, [0, 5, 10], labels, cats, ["a", "b", "c"], max_text_labels=0, title="Space"
    )


def test_few_scatter_points_get_their_word_as_a_label_in_every_frame():
    styled = _styled(_animation(30))
    points = [t for t in styled.data if t.name in ("a", "b", "c")]
    assert all("text" in t.mode for t in points)
    assert all(t.textfont.size >= 18 for t in points)
    for frame in styled.frames:
        assert all("text" in t.mode for t in frame.data if t.name in ("a", "b", "c"))
    assert all(t.marker.size == pytest.approx(10 * 1.5) for t in points)  # 2-D points are 10 px
    assert styled.layout.sliders[0].currentvalue.font.size >= 18


def test_many_scatter_points_stay_unlabelled():
    styled = _styled(_animation(display.MAX_LABELS + 1))
    assert all("text" not in t.mode for t in styled.data)


def test_labels_a_figure_draws_on_many_points_grow_less():
    fig = space.embedding_animation(
        np.zeros((1, 50, 2)), [0], [f"t{i}" for i in range(50)], np.zeros(50, int), ["a"], max_text_labels=60
    )
    assert go.Figure(fig).data[0].textfont.size == 12  # the figure labels its 50 points at 12 px
    assert _styled(fig).data[0].textfont.size == display.CROWDED_TEXT_PX


def test_title_text_is_plain_and_chart_title_can_move_out():
    fig = go.Figure(layout={"title": {"text": "Row '&lt;pad&gt;': <b>moved</b><br>per step"}})
    assert display.title_text(fig) == "Row '<pad>':  moved  per step"
    assert display.without_title(fig).layout.title.text is None


def _rules(css: str) -> dict[str, str]:
    """selector -> declarations, for the CSS `css` returns (one level, no media queries)."""
    body = re.sub(r"/\*.*?\*/", "", css.removeprefix("<style>").removesuffix("</style>"), flags=re.S)
    return {sel.strip(): decl for sel, decl in re.findall(r"([^{}]+)\{([^}]*)\}", body)}


def _px(declarations: str, prop: str) -> float:
    match = re.search(rf"(?<![-\w]){prop}\s*:\s*([0-9.]+)(px|rem)", declarations)
    assert match, (prop, declarations)
    return float(match.group(1)) * (16 if match.group(2) == "rem" else 1)


def test_css_projector_mode_sets_large_type_and_off_only_unclips_buttons():
    off, on = _rules(display.css(False)), _rules(display.css(True))
    assert not any("stCaptionContainer" in sel for sel in off)  # off: the page's type as it was
    assert any("white-space: normal" in decl for sel, decl in off.items() if "stBaseButton" in sel)
    caption = next(decl for sel, decl in on.items() if sel.startswith('[data-testid="stCaptionContainer"]'))
    assert _px(caption, "font-size") >= 18
    title = next(decl for sel, decl in on.items() if sel == ".ee-chart-title")
    assert _px(title, "font-size") >= 24
    assert set(off) <= set(on)


# ---------------------------------------------------------------------------------------------- link values


@pytest.mark.parametrize("raw, value", [("20", 20), (" 7 ", 7), ("0", 0)])
def test_parse_step(raw, value):
    assert links.parse_step(raw) == value


@pytest.mark.parametrize("raw", ["-1", "2.5", "abc", "１２", "1e3", "9" * 13, ""])
def test_parse_step_refuses_what_is_not_a_whole_number(raw):
    with pytest.raises(ValueError, match="not a whole number"):
        links.parse_step(raw)


def test_parse_flag():
    assert links.parse_flag("projector", "1") and not links.parse_flag("projector", "0")
    assert links.parse_flag("theme", "dark") and not links.parse_flag("theme", "light")
    with pytest.raises(ValueError):
        links.parse_flag("projector", "maybe")


def test_link_sentence_says_a_pasted_text_cannot_travel():
    toy, own = TrainConfig(), TrainConfig(corpus_text="the cat sat on the mat " * 20)
    assert "step 200" in links.link_sentence(toy, 200)
    sentence = links.link_sentence(own, 200)
    assert "cannot travel in a link" in sentence and "200 steps" in sentence


# ---------------------------------------------------------------------------------------------- AppTest


def app(query: dict[str, str] | None = None, script: str = "app.py") -> AppTest:
    return apptest_support.app(query, script, timeout=TIMEOUT)


def test_a_link_with_a_step_re_trains_to_that_step():
    cfg = TrainConfig(vocab_size=30, dim=6, optimizer="sgd", lr=0.5, batch_size=16, seed=4)
    at = app({"vocab_size": "30", "dim": "6", "optimizer": "sgd", "lr": "0.5", "batch_size": "16", "seed": "4",
              "step": "20"})  # fmt: skip
    no_exception(at)
    trainer = at.session_state.trainer
    assert trainer.cfg == cfg and trainer.step_count == 20
    fresh = Trainer(cfg)
    for _ in range(20):
        fresh.step()
    np.testing.assert_array_equal(trainer.weight, fresh.weight)
    assert at.query_params["step"] == ["20"] or at.query_params["step"] == "20"
    at.switch_page("pages/01_train.py").run()
    no_exception(at)
    assert int(next(m for m in at.metric if m.label == "Step").value) == 20
    assert at.session_state.trainer.step_count == 20  # a page switch neither re-trains nor resets


def _query(at: AppTest, name: str):
    value = at.query_params.get(name)
    return value[-1] if isinstance(value, list) else value


def test_the_address_bar_carries_the_step_after_step_clicks():
    at = app()
    at.switch_page("pages/01_train.py").run()
    assert _query(at, "step") is None  # step 0: nothing to re-train
    at.button(key="train_step_10").click().run()
    assert _query(at, "step") == "10"
    at.button(key="train_step_1").click().run()
    assert _query(at, "step") == "11"
    at.button(key="train_reset").click().run()
    assert _query(at, "step") is None


def test_a_step_beyond_the_cap_is_refused_with_the_most_a_link_may_ask_for():
    query = {"vocab_size": "20000", "dim": "256", "batch_size": "512"}
    cfg = TrainConfig(vocab_size=20_000, dim=256, batch_size=512)
    limit = replay.max_steps(cfg)
    at = app({**query, "step": str(limit + 1)})
    no_exception(at)
    assert at.session_state.trainer.step_count == 0
    assert any(f"{limit:,}" in e.value for e in at.error)
    assert at.button(key="replay_to_limit")


def test_an_unreadable_step_is_named_and_the_run_opens_at_step_0():
    at = app({"step": "abc"})
    no_exception(at)
    assert at.session_state.trainer.step_count == 0
    assert any("not a whole number" in w.value for w in at.warning)


def test_projector_toggle_round_trips_through_the_link():
    at = app({"projector": "1"})
    no_exception(at)
    assert at.session_state.display_mode is True
    assert at.toggle(key="view_projector").value is True
    assert _query(at, "projector") == "1"
    at.switch_page("pages/01_train.py").run()
    at.button(key="train_step_1").click().run()
    no_exception(at)
    title = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"].get("title", {})
    assert not title.get("text")  # in projector mode the title is drawn above the chart, as HTML
    at.toggle(key="view_projector").set_value(False).run()
    assert at.session_state.display_mode is False and _query(at, "projector") is None
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["layout"]["title"]["text"].replace("<br>", " ") == "Loss per step"  # off: the page's figure untouched


def test_dark_theme_choice_is_kept_in_the_link():
    at = app({"theme": "dark"})
    no_exception(at)
    assert at.toggle(key="view_dark").value is True
    assert _query(at, "theme") == "dark"
    at.toggle(key="view_dark").set_value(False).run()
    assert _query(at, "theme") is None


def test_own_text_is_offered_as_a_download_and_kept_out_of_the_link():
    at = app()
    at.session_state.store["corpus_text"] = "the cat sat on the mat and the dog sat on the log " * 30
    at.run()
    no_exception(at)
    assert at.session_state.trainer.cfg.corpus_text is not None
    assert any("cannot travel in a link" in c.value for c in at.caption)
    assert at.get("download_button")


def test_a_long_step_click_trains_with_its_buttons_off_then_back_on():
    cfg = TrainConfig(vocab_size=12000, dim=128)
    assert training.is_long(cfg, 10) and not training.is_long(cfg, 1)
    at = app({"vocab_size": "12000", "dim": "128"})
    at.switch_page("pages/01_train.py").run()
    at.button(key="train_step_10").click().run()
    no_exception(at)
    assert at.session_state.trainer.step_count == 10
    assert _query(at, "step") == "10"
    assert not any(at.button(key=k).disabled for k in ("train_step_1", "train_step_10", "train_reset"))
