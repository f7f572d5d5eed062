"""The Embedding space page and its figures: renders at every size, and every title, label and trail is true."""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from core.metrics import chance_purity
from ui.figures import space, style

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["EMBEDDING_EXPLORER_NO_UMAP_WARMUP"] = "1"  # PCA while UMAP is cold: no numba JIT in these tests
PAGE = "pages/04_embedding_space.py"
TEXT = "the cat sat on the mat . the dog sat on the log . a cat and a dog met on a mat ."


def page(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def scatter_spec(at: AppTest) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


@pytest.mark.parametrize("query", [{"vocab_size": "10001"}, {"vocab_size": "50257", "dim": "768"}])
def test_page_renders_at_big_vocabularies_with_and_without_a_trail(query):
    at = page(query)  # no trail chosen: np.union1d(rows, []) made a float index array and crashed here
    spec = scatter_spec(at)
    n_points = sum(len(t["text"]) for t in spec["data"] if not t["name"].startswith("trail"))
    assert n_points == 2000
    assert "2,000 of" in spec["layout"]["title"]["text"].replace("<br>", " ")
    at.multiselect(key="space_trail").select(at.multiselect(key="space_trail").options[0]).run()
    assert not at.exception, [e.message for e in at.exception]


def test_own_text_gets_grey_labelled_points_and_no_category_claim():
    at = page()
    at.session_state["store"] = {**at.session_state["store"], "corpus_text": TEXT}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    trainer = at.session_state["trainer"]
    assert trainer.cfg.corpus_text == TEXT and (trainer.categories < 0).all()
    spec = scatter_spec(at)
    title = spec["layout"]["title"]["text"].replace("<br>", " ")
    assert "coloured by category" not in title and "no categories" in title
    (points,) = spec["data"]
    assert "text" in points["mode"]  # V = 60 points: each labelled with its word
    assert sorted(points["text"]) == sorted(style.plain(w) for w in trainer.vocab)
    assert "&lt;unk&gt;" in points["text"] or "&lt;pad&gt;" in points["text"]  # shown, not eaten as a tag
    assert any("every point is grey" in c.value for c in at.caption)
    assert any("no purity to measure" in i.value for i in at.info)


def test_shown_rows_are_int_and_stay_among_the_rows_the_layout_placed():
    rows = space.shown_rows(10_001, 2000, None, [])
    assert rows.dtype == np.int64 and len(rows) == 2000  # indexing with it works (float index arrays raise)
    laid_out = np.sort(np.random.default_rng(0).choice(10_001, 5000, replace=False))
    trail = [int(laid_out[7]), int(laid_out[4000])]
    rows = space.shown_rows(10_001, 2000, laid_out, trail)
    assert rows.dtype == np.int64 and len(rows) == 2000
    assert np.isin(rows, laid_out).all() and set(trail) <= set(rows.tolist())
    assert np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(space.shown_rows(60, 2000, None, [3]), np.arange(60))


def test_scatter_title_says_coloured_by_category_only_when_rows_have_one():
    assert "coloured by category" in space.scatter_title("PCA", 60, 60, 5, np.array([0, 1, 2]))
    mixed = space.scatter_title("PCA", 60, 60, 5, np.array([0, -1]))
    assert "grey: no category" in mixed
    none = space.scatter_title("UMAP", 2000, 10_001, 1, -np.ones(5, dtype=int))
    assert "coloured by category" not in none
    assert none == "UMAP of 2,000 of 10,001 rows at 1 kept step (no categories: grey points)"


def test_trails_have_their_own_colour_and_their_label_rides_the_head_in_every_frame():
    rng = np.random.default_rng(0)
    coords = rng.standard_normal((4, 30, 2))  # (F, N, 2)
    labels = [f"w{i}" for i in range(30)]
    cats = np.arange(30) % 3
    fig = go.Figure(space.embedding_animation(coords, [0, 5, 10, 15], labels, cats, ["a", "b", "c"], trail_rows=[4, 9]))
    assert len(fig.frames) == 4
    for f, frame in enumerate(fig.frames):
        paths = [t for t in frame.data if t.name.startswith("trail: ")]
        heads = [t for t in frame.data if t.name in ("w4", "w9")]
        assert [t.name for t in paths] == ["trail: w4", "trail: w9"]
        colours = [t.line.color for t in paths]
        assert len(set(colours)) == 2 and "#000000" in colours  # two different colours, not all black
        for row, path, head in zip((4, 9), paths, heads, strict=True):
            x = np.asarray(path.x, dtype=float)
            assert len(x) == 4  # the same length in every frame: plotly moves points by index
            np.testing.assert_allclose(x[: f + 1], coords[: f + 1, row, 0])
            assert np.isnan(x[f + 1 :]).all()  # not walked yet
            assert list(head.text) == [f"w{row}"]  # the label sits on the head, frame after frame
            np.testing.assert_allclose([head.x[0], head.y[0]], coords[f, row])
            assert head.marker.color == path.line.color
    points = [t for t in fig.data if t.name in ("a", "b", "c")]
    assert sum(len(t.x) for t in points) == 30 and all("text" in t.mode for t in points)
    many = go.Figure(
        space.embedding_animation(
            rng.standard_normal((1, 61, 2)), [0], [str(i) for i in range(61)], np.zeros(61, int), ["a"]
        )
    )
    assert many.data[0].mode == "markers" and len(many.data[0].text) == 61  # hover only above 60 points


def test_animation_in_3d_and_with_rows_not_laid_out():
    coords = np.random.default_rng(1).standard_normal((2, 20, 3))
    coords[:, 5] = np.nan  # a row outside UMAP's sample
    fig = go.Figure(space.embedding_animation(coords, [0, 1], list("abcdefghijklmnopqrst"), np.zeros(20, int), ["x"]))
    assert fig.data[0].type == "scatter3d"
    assert all(np.isfinite(fig.layout.scene.xaxis.range))


def test_chance_purity_is_the_share_of_other_rows_in_the_same_category():
    cats = np.array([0, 0, 0, 1, 2, 2, -1, -1])
    kept = [c for c in cats if c >= 0]
    pairs = [(a, b) for a, b in itertools.permutations(range(len(kept)), 2)]
    expected = sum(kept[a] == kept[b] for a, b in pairs) / len(pairs)
    assert chance_purity(cats) == pytest.approx(expected)  # 8 of 30 ordered pairs, not 1/3
    assert np.isnan(chance_purity(np.array([-1, -1, 0])))


def test_purity_curve_draws_the_values_and_the_chance_it_is_given():
    fig = go.Figure(space.purity_curve(np.array([0, 4, 8]), np.array([0.2, 0.5, 0.9]), 0.27, 8))
    np.testing.assert_allclose(np.asarray(fig.data[0].y), [0.2, 0.5, 0.9])
    assert fig.layout.annotations[0].text == "chance 27%"
    assert [s.y0 for s in fig.layout.shapes if s.type == "line" and s.y0 == s.y1] == [0.27]


def shown_words(trace: dict) -> list[str]:
    """The words a point trace draws on screen (texttemplate "" hides one; no texttemplate: every one)."""
    words = list(trace["text"])
    template = trace.get("texttemplate")
    return words if template is None else [w for w, t in zip(words, template, strict=True) if t]


def test_word_labels_do_not_pile_up_on_a_phone_and_heads_and_hover_keep_every_word():
    rng = np.random.default_rng(0)
    grid = np.stack([4.0 * (np.arange(10) % 5), 6.0 + 6.0 * (np.arange(10) // 5)], axis=1)  # 10 words with room
    coords = np.concatenate([rng.normal(0, 0.3, (3, 50, 2)), np.stack([grid] * 3)], axis=1)  # and a crowd of 50
    labels = [f"word{i}" for i in range(60)]
    fig = space.embedding_animation(coords, [0, 5, 10], labels, np.arange(60) % 3, ["a", "b", "c"], trail_rows=[2])
    layout = fig["layout"]
    (x0, x1), (y0, y1) = layout["xaxis"]["range"], layout["yaxis"]["range"]
    plot_h = layout["height"] - layout["margin"]["t"] - layout["margin"]["b"]
    px_x, px_y = 390 - 2 * 16 - layout["margin"]["l"] - layout["margin"]["r"], plot_h  # a phone's plot, in px
    for data in [fig["data"], *(f["data"] for f in fig["frames"])]:
        points = [t for t in data if t["name"] in ("a", "b", "c")]
        assert sorted(w for t in points for w in t["text"]) == sorted(labels)  # hover: every word
        (head,) = [t for t in data if t["name"] == "word2"]
        assert list(head["text"]) == ["word2"] and "texttemplate" not in head  # a trail's head keeps its word
        boxes = []  # each word shown: 12 px type, 7.2 px a character, just above its point
        for t in points:
            for x, y, word in zip(t["x"], t["y"], t["text"], strict=True):
                if word in shown_words(t):
                    cx, cy = (x - x0) / (x1 - x0) * px_x, (y - y0) / (y1 - y0) * px_y
                    boxes.append((cx - 3.6 * len(word), cx + 3.6 * len(word), cy + 6, cy + 22))
        assert 10 <= len(boxes) < 30  # the grid's words and a few of the crowd's
        for a, b in itertools.combinations(boxes, 2):
            assert not (a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]), "two words overlap"
    sparse = np.stack([np.stack([np.arange(30) % 5, np.arange(30) // 5], axis=1) * 10.0] * 2)  # a wide grid
    spread_out = space.embedding_animation(sparse, [0, 1], labels[:30], np.zeros(30, int), ["a"])
    assert shown_words(spread_out["data"][0]) == labels[:30]  # room for every word: every word shown
    assert not space.labels_thinned(spread_out) and space.labels_thinned(fig)
