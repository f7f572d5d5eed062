"""The Lookup and Scale pages, run with AppTest: their numbers come from the user's own run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from ui import reference_figures

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["EMBEDDING_EXPLORER_NO_UMAP_WARMUP"] = "1"


def page(script: str, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / script), default_timeout=60)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_lookup_page_shows_lookup_equals_one_hot_matmul_on_this_run():
    at = page("pages/5_lookup.py", {"vocab_size": "300", "dim": "12", "init": "small_normal"})
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["max |emb(x) − one_hot(x) @ W|"]) == 0.0
    assert float(metrics["max gradient difference"]) < 1e-6
    captions = " ".join(c.value for c in at.caption)
    assert "3,600 parameters = 300 × 12: no bias" in captions
    assert "the init promises σ = 0.02" in captions
    assert len(at.get("plotly_chart")) == 2


def test_scale_page_lists_published_tables_and_measures_a_dimension_sweep():
    at = page("pages/6_scale.py", {"vocab_size": "60", "dim": "16"})
    table = at.dataframe[0].value
    assert "GPT-2 small" in set(table["model"]) and "Llama 3 405B" in set(table["model"])
    assert table.iloc[0]["table V × D"] == "960"  # the user's run comes first
    assert len(at.get("plotly_chart")) == 1
    at.button(key="scale_measure").click().run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2
    assert any("Loss" in c.value and "at D=64" in c.value for c in at.caption)


def test_one_hot_product_figure_multiplies_out_to_the_rows_it_shows():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(10, 3))
    ids = np.array([2, 7, 2])
    one_hot = np.eye(10)[ids]
    fig = reference_figures.one_hot_product(one_hot, weight, weight[ids], ["a", "b", "a"])
    z = [np.asarray(trace.z) for trace in fig.data]
    np.testing.assert_allclose(z[0] @ z[1], z[2])


def test_table_sizes_figure_highlights_the_users_run():
    fig = reference_figures.table_sizes(["you", "GPT-2 small"], [960, 38_597_376], "you")
    bar = fig.data[0]
    assert list(bar.y) == [960, 38_597_376]
    assert bar.marker.color[0] != bar.marker.color[1]
    assert fig.layout.yaxis.type == "log"
