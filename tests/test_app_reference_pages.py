"""The Lookup and Scale pages, run with AppTest: their numbers come from the user's own run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import TrainConfig
from serve import memory
from serve.memory import Registry
from ui.figures import lookup, scale

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["EMBEDDING_EXPLORER_NO_UMAP_WARMUP"] = "1"


def page(script: str, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / script), default_timeout=60)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def metrics_of(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_lookup_page_shows_lookup_equals_one_hot_matmul_on_this_run():
    at = page("pages/05_lookup.py", {"vocab_size": "300", "dim": "12", "init": "small_normal"})
    metrics = metrics_of(at)
    assert float(metrics["max |emb(x) − one_hot(x) @ W|"]) == 0.0
    assert float(metrics["max gradient difference"]) == 0.0
    assert metrics["multiply-adds"] == f"0 vs {64 * 300 * 12:,}"
    captions = " ".join(c.value for c in at.caption)
    assert "3,600 parameters = 300 × 12: no bias" in captions
    assert "the init promises σ = 0.02" in captions
    assert len(at.get("plotly_chart")) == 2
    text = " ".join(m.value for m in at.markdown)
    assert "padding_idx**: not set" in text and "max_norm**: not set" in text


def independent_lookup(weight: np.ndarray, ids: np.ndarray, dy: np.ndarray, max_norm, padding_idx):
    """nn.Embedding's forward and backward by hand (numpy): renorm, read, scatter-add, padding row blocked."""
    w = weight.astype(np.float64).copy()
    rows = np.unique(ids)
    norms = np.linalg.norm(w[rows], axis=1)
    if max_norm is not None:
        long = norms > max_norm
        w[rows[long]] *= (max_norm / (norms[long] + 1e-7))[:, None]  # torch's embedding_renorm_
    grad_lookup = np.zeros_like(w)
    np.add.at(grad_lookup, ids, dy)
    grad_matmul = grad_lookup.copy()  # one_hot(x).T @ dY
    if padding_idx is not None:
        grad_lookup[padding_idx] = 0.0
    return w[ids], grad_lookup, grad_matmul, rows[long] if max_norm is not None else rows[:0]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_lookup_page_uses_the_users_own_layer_with_padding_idx_and_max_norm(optimizer):
    query = {"vocab_size": "60", "dim": "16", "padding_idx": "0", "max_norm": "1.5", "optimizer": optimizer}
    at = page("pages/05_lookup.py", query)
    trainer = at.session_state["trainer"]
    trainer.run(10)  # as the Train page's Step x10 does
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    record = trainer.history[-1]
    weight_now = trainer.weight.copy()
    ids, dy = record.input_ids, record.output_grad.astype(np.float64)
    rows, grad_lookup, grad_matmul, rescaled = independent_lookup(weight_now, ids, dy, 1.5, 0)
    metrics = metrics_of(at)
    value_diff = np.abs(rows - weight_now[ids]).max()
    assert float(metrics["max |emb(x) − one_hot(x) @ W|"]) == pytest.approx(value_diff, rel=1e-2, abs=1e-6)
    grad_diff = np.abs(grad_lookup - grad_matmul).max()
    assert float(metrics["max gradient difference"]) == pytest.approx(grad_diff, rel=1e-2, abs=1e-6)
    text = " ".join(m.value for m in at.markdown)
    hits = int((ids == 0).sum())
    assert hits > 0  # <pad> is the toy corpus's most used token
    assert f"looks it up {hits} times" in text
    assert f"gradient of length {np.linalg.norm(grad_matmul[0]):.3g}" in text
    assert f"{len(rescaled)} of the {len(np.unique(ids))} looked-up rows" in text
    np.testing.assert_array_equal(trainer.weight, weight_now)  # the page worked on copies


def test_scale_page_lists_published_tables_and_measures_a_dimension_sweep():
    at = page("pages/06_scale.py", {"vocab_size": "60", "dim": "16"})
    table = at.dataframe[0].value
    assert "GPT-2 small" in set(table["model"]) and "Llama 3 405B" in set(table["model"])
    assert table.iloc[0]["table V × D"] == "960"  # the user's run comes first
    assert table.iloc[0]["table's share"] == "50.0%"  # untied: table 960 of 960 + 960 parameters
    assert table.iloc[0]["table + head's share"] == "100.0%"
    assert len(at.get("plotly_chart")) == 1
    at.button(key="scale_measure").click().run()
    for _ in range(200):  # AppTest runs the fragment once per run: one chunk each
        if any(p.proto.value == 100 for p in at.get("progress")) or not at.get("progress"):
            break
        at.run()
    at.run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2
    assert any("Loss" in c.value and "at D=64" in c.value for c in at.caption)


def test_the_scale_sweep_is_charged_to_the_server_and_refused_when_it_does_not_fit(monkeypatch):
    run_bytes = TrainConfig(vocab_size=60, dim=16).memory_bytes()
    reg = Registry(budget=10 * 1024**3)
    monkeypatch.setattr(memory, "_registry", reg)
    at = page("pages/06_scale.py", {"vocab_size": "60", "dim": "16"})
    assert reg.held == run_bytes
    at.button(key="scale_measure").click().run()
    assert not at.exception, [e.message for e in at.exception]
    sweep = at.session_state["cache"]["sweep"]
    assert reg.held == run_bytes + sweep.plan.peak_bytes  # charged like Compare's runs

    small = Registry(budget=run_bytes + 1)  # room for the sidebar's run only
    monkeypatch.setattr(memory, "_registry", small)
    at = page("pages/06_scale.py", {"vocab_size": "60", "dim": "16"})
    at.button(key="scale_measure").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert "memory budget" in " ".join(e.value for e in at.error)
    assert "sweep" not in at.session_state["cache"] and small.held == run_bytes
    assert at.button(key="scale_measure")  # Measure stays, to try again


def test_scale_table_counts_a_tied_model_from_its_parameters():
    at = page("pages/06_scale.py", {"vocab_size": "100", "dim": "8", "tie_weights": "true"})
    row = at.dataframe[0].value.iloc[0]
    trainer = at.session_state["trainer"]
    n_params = sum(p.numel() for p in trainer.model.parameters())
    assert n_params == 800  # independent count: one shared table, no head
    assert row["head"] == "tied" and row["table's share"] == "100.0%" and row["table + head's share"] == "100.0%"


def test_scale_sweep_at_a_huge_batch_is_shrunk_with_a_message_and_can_be_stopped():
    at = page("pages/06_scale.py", {"vocab_size": "5000", "dim": "16", "batch_size": "16384"})
    info = " ".join(i.value for i in at.info)
    assert "Your batch of 16,384" in info and "batches of" in info
    at.button(key="scale_measure").click().run()
    assert not at.exception
    assert at.get("progress")
    sweep = at.session_state["cache"]["sweep"]
    assert sweep.plan.cfg.batch_size < 16_384 and sweep.done_steps < sweep.total_steps
    at.button(key="scale_stop").click().run()
    assert not at.exception
    sweep = at.session_state["cache"]["sweep"]
    assert sweep.stopped and not sweep.running
    steps = sweep.done_steps
    at.run()
    assert at.session_state["cache"]["sweep"].done_steps == steps  # stopped: no more training
    assert at.button(key="scale_resume")


def test_one_hot_product_figure_multiplies_out_to_the_rows_it_shows():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(10, 3))
    ids = np.array([2, 7, 2])
    one_hot = np.eye(10)[ids]
    fig = lookup.one_hot_product(one_hot, weight, weight[ids], ["a", "b", "a"])
    z = [np.asarray(trace.z) for trace in fig.data]
    np.testing.assert_allclose(z[0] @ z[1], z[2])


def test_table_sizes_figure_highlights_the_users_run():
    fig = scale.table_sizes(["you", "GPT-2 small"], [960, 38_597_376], "you")
    bar = fig.data[0]
    assert list(bar.y) == [960, 38_597_376]
    assert bar.marker.color[0] != bar.marker.color[1]
    assert fig.layout.yaxis.type == "log"


@pytest.mark.parametrize("query", [{"vocab_size": "10001"}, {"vocab_size": "50257", "dim": "768"}])
@pytest.mark.parametrize("script", ["pages/05_lookup.py", "pages/06_scale.py"])
def test_reference_pages_render_at_big_vocabularies(script, query):
    at = page(script, query)
    if script == "pages/05_lookup.py":
        metrics = metrics_of(at)
        v, d = int(query["vocab_size"]), int(query.get("dim", 16))
        assert metrics["multiply-adds"] == f"0 vs {64 * v * d:,}"
        assert float(metrics["max |emb(x) − one_hot(x) @ W|"]) == 0.0
    else:
        assert (
            at.dataframe[0].value.iloc[0]["table V × D"] == f"{int(query['vocab_size']) * int(query.get('dim', 16)):,}"
        )
