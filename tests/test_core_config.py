"""Every invalid setting is refused up front with a ConfigError that names its field and says what to do."""

import math

import pytest

from core import ConfigError, TrainConfig
from core.config import MEMORY_BUDGET_BYTES

BAD = [
    ("vocab_size", dict(vocab_size=1), "between 2"),
    ("vocab_size", dict(vocab_size=0), "between 2"),
    ("vocab_size", dict(vocab_size=10.5), "whole number"),
    ("dim", dict(dim=0), "between 1"),
    ("dim", dict(dim=True), "whole number"),
    ("batch_size", dict(batch_size=0), "between 1"),
    ("window", dict(window=0), "between 1"),
    ("seed", dict(seed=-1), "between 0"),
    ("optimizer", dict(optimizer="lion"), "choose one of: sgd, adam"),
    ("lr", dict(lr=0.0), "above 0"),
    ("lr", dict(lr=-0.1), "above 0"),
    ("lr", dict(lr=math.nan), "above 0"),
    ("lr", dict(lr=math.inf), "above 0"),
    ("lr", dict(lr=1e6), "at most"),
    ("momentum", dict(optimizer="sgd", momentum=1.0), "[0, 1)"),
    ("beta2", dict(beta2=1.5), "[0, 1)"),
    ("weight_decay", dict(weight_decay=-1.0), "positive"),
    ("nesterov", dict(optimizer="sgd", nesterov=True), "momentum above 0"),
    ("init", dict(init="kaiming"), "choose one of"),
    ("padding_idx", dict(vocab_size=10, padding_idx=10), "0 to 9"),
    ("padding_idx", dict(vocab_size=10, padding_idx=-1), "0 to 9"),
    ("max_norm", dict(max_norm=-1.0), "positive"),
    ("max_norm", dict(max_norm=0.0), "positive"),
    ("sparse", dict(sparse=True, optimizer="adam"), "cannot take sparse gradients"),
    ("sparse", dict(sparse=True, optimizer="rmsprop"), "cannot take sparse gradients"),
    ("tie_weights", dict(optimizer="sparse_adam", tie_weights=True), "dense gradient"),
    ("weight_decay", dict(optimizer="adagrad", sparse=True, weight_decay=0.1), "no weight decay"),
    ("momentum", dict(optimizer="sgd", sparse=True, momentum=0.9), "no momentum"),
    ("corpus_text", dict(corpus_text=""), "Paste a longer text"),
    ("corpus_text", dict(corpus_text="word word word word word word word"), "2 different"),
    ("corpus_text", dict(corpus_text="!!! ??? ..."), "0 words"),
    ("corpus_text", dict(corpus_text="ab " * 2_000_000), "the limit is"),
]


@pytest.mark.parametrize(("field", "settings", "says"), BAD, ids=[f"{f}-{s}"[:60] for f, s, _ in BAD])
def test_invalid_settings_raise_config_error_naming_the_field(field, settings, says):
    with pytest.raises(ConfigError) as caught:
        TrainConfig(**settings)
    assert caught.value.field == field
    assert says in caught.value.message


def test_a_table_beyond_the_memory_budget_says_the_budget_and_the_size_asked_for():
    with pytest.raises(ConfigError) as caught:
        TrainConfig(vocab_size=128_256, dim=4_096, optimizer="adam")  # Llama 3 8B's table
    message = caught.value.message
    assert "128,256 x 4,096" in message
    asked = 2 * 128_256 * 4_096 * 4 * 4 / 1024**3  # two tables x (weight, grad, exp_avg, exp_avg_sq) x float32
    assert f"{asked:.2f} GiB" in message
    assert f"{MEMORY_BUDGET_BYTES / 1024**3:.0f} GiB" in message


def test_gpt2_small_table_fits_and_sparse_adam_implies_sparse_gradients():
    TrainConfig(vocab_size=50_257, dim=768, optimizer="adam")
    cfg = TrainConfig(optimizer="sparse_adam")
    assert cfg.sparse_grad and not cfg.sparse


def test_replace_validates_too():
    cfg = TrainConfig()
    assert cfg.replace(dim=32).dim == 32
    with pytest.raises(ConfigError):
        cfg.replace(dim=-3)
