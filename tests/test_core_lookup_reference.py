"""The lookup page's and the scale page's computations, checked against hand-made numbers."""

import math

import numpy as np
import pytest
import torch

from core import TrainConfig, Trainer
from core.lookup import compare_lookup, init_stats, time_lookup
from core.reference import MODELS, run_table, table_bytes, training_bytes
from core.sweep import DimensionSweep, dimension_sweep, held_for, plan_sweep, start, sweep_bytes
from serve.memory import Registry, ServerBusy


def layer_with(weight: np.ndarray, **options) -> torch.nn.Embedding:
    layer = torch.nn.Embedding(*weight.shape, **options)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight))
    return layer


def test_lookup_and_one_hot_matmul_agree_and_only_the_matmul_multiplies():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(500, 12)).astype(np.float32)
    ids = np.array([4, 4, 499, 0, 17])
    result = compare_lookup(layer_with(weight), ids)
    np.testing.assert_array_equal(result.lookup_rows, weight[ids])  # a lookup is exactly indexing
    assert result.max_value_diff == 0.0
    assert result.max_grad_diff < 1e-6
    assert result.matmul_flops == 5 * 500 * 12 and result.lookup_flops == 0
    assert result.n_distinct == 4 and len(result.rescaled_rows) == 0 and result.padding_hits == 0


def test_max_norm_lookup_returns_rescaled_rows_and_leaves_the_users_table_alone():
    rng = np.random.default_rng(1)
    weight = rng.normal(size=(50, 8)).astype(np.float32)
    weight[7] *= 0.05  # one short row: not rescaled
    ids = np.array([7, 3, 3, 12, 40])
    layer = layer_with(weight, max_norm=1.0)
    result = compare_lookup(layer, ids)
    norms = np.linalg.norm(weight.astype(np.float64), axis=1, keepdims=True)
    expected = np.where(norms > 1.0, weight / (norms + 1e-7), weight)  # torch's renorm: scale max_norm/(norm+1e-7)
    np.testing.assert_allclose(result.lookup_rows, expected[ids], rtol=1e-5)
    np.testing.assert_array_equal(result.matmul_rows, weight[ids])  # the product reads W as stored
    assert result.max_value_diff == pytest.approx(np.abs(expected[ids] - weight[ids]).max(), rel=1e-4)
    assert sorted(result.rescaled_rows.tolist()) == [3, 12, 40]
    assert result.longest_after <= 1.0 + 1e-6 and result.longest_before == pytest.approx(norms[ids].max())
    assert result.max_grad_diff < 1e-6  # the rescale is outside autograd: same gradient
    np.testing.assert_array_equal(layer.weight.detach().numpy(), weight)  # worked on copies


def test_padding_idx_blocks_the_lookups_gradient_but_not_the_one_hot_products():
    rng = np.random.default_rng(2)
    weight = rng.normal(size=(30, 6)).astype(np.float32)
    ids = np.array([0, 5, 0, 9, 0])
    dy = rng.normal(size=(5, 6)).astype(np.float32)
    result = compare_lookup(layer_with(weight, padding_idx=0), ids, dy)
    expected_pad = np.linalg.norm(dy[ids == 0].astype(np.float64).sum(axis=0))  # one_hot(x).T @ dY at row 0
    assert result.padding_hits == 3
    assert result.padding_grad_lookup == 0.0
    assert result.padding_grad_matmul == pytest.approx(expected_pad, rel=1e-5)
    assert result.max_grad_diff == pytest.approx(np.abs(dy[ids == 0].sum(axis=0)).max(), rel=1e-5)
    assert result.max_grad_diff_other == 0.0  # rows 5 and 9 agree exactly
    assert result.max_value_diff == 0.0


def test_sparse_layer_gives_the_same_gradient_values():
    weight = np.random.default_rng(3).normal(size=(40, 4)).astype(np.float32)
    result = compare_lookup(layer_with(weight, sparse=True), np.array([1, 1, 39]))
    assert result.sparse and result.max_grad_diff < 1e-6


def test_timing_ratio_is_stable_across_repeated_measurements():
    weight = torch.randn(60, 16)
    ids = np.random.default_rng(0).integers(0, 60, 64)
    ratios = [time_lookup(weight, ids, budget_s=0.05).ratio for _ in range(3)]
    assert max(ratios) / min(ratios) < 2.0  # the page printed 5x, 69x, 3299x, 17074x for one table before


def test_sweep_plan_shrinks_a_batch_whose_logits_exceed_the_budget():
    cfg = TrainConfig(vocab_size=5_000, dim=16, batch_size=16_384)
    plan = plan_sweep(cfg, [2, 64], 300, budget_bytes=256 * 2**20, max_logits=2**40)
    assert 16_384 * 5_000 * 4 * 2 > 256 * 2**20  # the logits and their gradient alone: 625 MiB
    assert plan.shrunk and plan.over_memory and plan.fits and plan.peak_bytes <= 256 * 2**20
    batch = plan.cfg.batch_size
    assert batch * 5_000 * 4 * 2 <= 256 * 2**20  # what the 5.3 GB sweep lacked
    assert (2 * batch) * 5_000 * 4 * 4 > 256 * 2**20 - 64 * 2**20  # halved no further than needed (roughly)
    fast = plan_sweep(cfg, [2, 64], 300, max_logits=2**20)
    assert fast.cfg.batch_size * 5_000 <= 2**20 < 2 * fast.cfg.batch_size * 5_000
    small = plan_sweep(TrainConfig(), [2, 64], 300)
    assert not small.shrunk and small.cfg == TrainConfig()


def test_dimension_sweep_in_chunks_matches_one_go_and_stops():
    cfg = TrainConfig(seed=2)
    whole = dimension_sweep(cfg, dims=[2, 8], steps=40)
    sweep = DimensionSweep(plan_sweep(cfg, [2, 8], 40))
    chunks = 0
    while sweep.running:
        sweep.advance(0.0)  # one step per call
        chunks += 1
    assert chunks == 80 and sweep.done and sweep.done_steps == sweep.total_steps == 80
    assert [(r.dim, r.final_loss, r.purity) for r in sweep.results] == [(r.dim, r.final_loss, r.purity) for r in whole]
    stopped = DimensionSweep(plan_sweep(cfg, [2, 8], 40))
    stopped.advance(0.0)
    stopped.stop()
    stopped.advance(10.0)
    assert stopped.done_steps == 0 and not stopped.running and stopped.results == []


def test_a_sweep_is_charged_its_widest_model_before_it_starts_and_refused_when_the_server_is_full():
    plan = plan_sweep(TrainConfig(), [2, 64], 10)
    charged = []
    held = start(plan, charged.append)
    assert charged == [plan.peak_bytes] == [sweep_bytes(TrainConfig(dim=64))] and held.done_steps == 0
    assert plan.peak_bytes > sweep_bytes(TrainConfig(dim=2))
    full = Registry(budget=plan.peak_bytes - 1)
    with pytest.raises(ServerBusy):
        start(plan, lambda n: full.admit("session#sweep", n))
    assert "session#sweep" not in full
    room = Registry(budget=plan.peak_bytes)
    held = start(plan, lambda n: room.admit("session#sweep", n))
    assert room.held == plan.peak_bytes and held_for(held, plan) is held
    assert held_for(held, plan_sweep(TrainConfig(seed=1), [2, 64], 10)) is None and held_for(None, plan) is None


def test_run_table_counts_parameters_of_tied_and_untied_models():
    untied = run_table(Trainer(TrainConfig(vocab_size=100, dim=8)).model)
    assert (untied.table_params, untied.head_params, untied.total_params) == (800, 800, 1600)
    assert not untied.tied and untied.table_share == 0.5 and untied.share == 1.0
    tied = run_table(Trainer(TrainConfig(vocab_size=100, dim=8, tie_weights=True)).model)
    assert (tied.table_params, tied.head_params, tied.total_params) == (800, 0, 800)
    assert tied.tied and tied.table_share == 1.0


@pytest.mark.parametrize(
    ("init", "expected_std"), [("normal", 1.0), ("small_normal", 0.02), ("uniform", 1 / math.sqrt(3))]
)
def test_init_stats_measure_the_spread_each_init_promises(init, expected_std):
    trainer = Trainer(TrainConfig(vocab_size=400, dim=32, init=init, padding_idx=0))
    stats = init_stats(trainer.weight, init, padding_idx=0)
    assert stats.expected_std == pytest.approx(expected_std)
    assert stats.std == pytest.approx(expected_std, rel=0.05)
    assert abs(stats.mean) < 0.05 * expected_std + 1e-3


def test_zero_init_rows_are_all_equal():
    trainer = Trainer(TrainConfig(init="zeros"))
    stats = init_stats(trainer.weight, "zeros")
    assert stats.std == 0.0 and stats.row_norm_mean == 0.0


def test_dimension_sweep_trains_each_width_and_wider_fits_the_toy_language_better():
    results = dimension_sweep(TrainConfig(seed=1), dims=[1, 16], steps=300)
    assert [r.dim for r in results] == [1, 16]
    assert [r.table_params for r in results] == [60, 960]
    assert results[1].final_loss < results[0].final_loss
    assert results[1].purity > results[0].purity


def test_reference_tables_match_the_published_sizes():
    by_name = {m.model: m for m in MODELS}
    gpt2 = by_name["GPT-2 small"]
    assert gpt2.table_params == 50_257 * 768 == 38_597_376
    assert gpt2.share == pytest.approx(38_597_376 / 124e6)
    llama = by_name["Llama 3 8B"]
    assert llama.vocab_params == 2 * 128_256 * 4_096  # untied: table and output layer
    assert by_name["GPT-4"].table_params is None and by_name["GPT-4"].share is None
    assert table_bytes(50_257, 768, "bf16") == 50_257 * 768 * 2
    assert training_bytes(10, 4, tied=False) == 2 * 10 * 4 * 4 * 4
