"""The lookup page's and the scale page's computations, checked against hand-made numbers."""

import math

import numpy as np
import pytest

from core import TrainConfig, Trainer
from core.lookup import compare_lookup, dimension_sweep, init_stats
from core.reference import MODELS, table_bytes, training_bytes


def test_lookup_and_one_hot_matmul_agree_and_only_the_matmul_multiplies():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(500, 12)).astype(np.float32)
    ids = np.array([4, 4, 499, 0, 17])
    result = compare_lookup(weight, ids, repeats=3)
    np.testing.assert_array_equal(result.lookup_rows, weight[ids])  # a lookup is exactly indexing
    assert result.max_value_diff == 0.0
    assert result.max_grad_diff < 1e-6
    assert result.matmul_flops == 5 * 500 * 12 and result.lookup_flops == 0
    assert result.lookup_ms > 0 and result.matmul_ms > 0


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
