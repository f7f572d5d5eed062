"""Every invalid setting is refused up front with a ConfigError that names its field and says what to do."""

import inspect
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core import OPTIMIZERS, ConfigError, TrainConfig
from core.limits import MEMORY_BUDGET_BYTES
from core.optimizers import optimizer_defaults

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
    assert f"{asked:.2f} GiB for weights, gradients and optimizer state" in message
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


TORCH_CLASSES = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sparse_adam": torch.optim.SparseAdam,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_each_optimizer_gets_torchs_defaults_and_its_own_learning_rate(name):
    signature = inspect.signature(TORCH_CLASSES[name]).parameters  # torch's own defaults, read from torch
    torch_wd = signature["weight_decay"].default if "weight_decay" in signature else 0.0
    cfg = TrainConfig(optimizer=name)
    assert cfg.weight_decay == torch_wd == optimizer_defaults(name)["weight_decay"]
    assert cfg.lr == OPTIMIZERS[name].default_lr == optimizer_defaults(name)["lr"]
    if "momentum" in signature:
        assert cfg.momentum == signature["momentum"].default == optimizer_defaults(name)["momentum"]
    if "betas" in signature:
        assert (cfg.beta1, cfg.beta2) == signature["betas"].default
    assert set(optimizer_defaults(name)) == {"lr", "weight_decay", "momentum", "nesterov", "beta1", "beta2"}


def test_adamw_defaults_to_weight_decay_and_given_values_are_kept():
    assert TrainConfig(optimizer="adamw").weight_decay == 0.01
    assert TrainConfig(optimizer="adam").weight_decay == 0.0
    assert TrainConfig(optimizer="sgd").lr == OPTIMIZERS["sgd"].default_lr != OPTIMIZERS["adam"].default_lr
    cfg = TrainConfig(optimizer="adamw", weight_decay=0.0, lr=0.003)
    assert (cfg.weight_decay, cfg.lr) == (0.0, 0.003)
    assert TrainConfig(optimizer="adamw") == TrainConfig(optimizer="adamw", weight_decay=0.01)
    assert "pulled towards zero" in OPTIMIZERS["adamw"].summary and "0.01" in OPTIMIZERS["adamw"].summary


def test_replace_keeps_resolved_values_unless_asked_for_defaults():
    adam = TrainConfig()
    assert adam.replace(dim=8).lr == adam.lr
    sgd = adam.replace(optimizer="sgd")
    assert sgd.lr == adam.lr  # the resolved value travels
    fresh = adam.replace(optimizer="adamw", lr=None, weight_decay=None)
    assert (fresh.lr, fresh.weight_decay) == (OPTIMIZERS["adamw"].default_lr, 0.01)
    with pytest.raises(ConfigError) as caught:
        TrainConfig(optimizer="lion", lr=None)
    assert caught.value.field == "optimizer"


def test_a_batch_by_vocabulary_too_big_for_the_budget_is_refused_naming_the_batch():
    with pytest.raises(ConfigError) as caught:
        TrainConfig(batch_size=65_536, vocab_size=200_000, dim=1)  # ~52 GB of logits: was accepted
    assert caught.value.field == "batch_size"
    assert "65,536 x 200,000" in caught.value.message and "smaller batch" in caught.value.message
    logits = 65_536 * 200_000 * 4  # one float32 (B, V) tensor, counted independently
    assert TrainConfig(vocab_size=200_000, dim=1, batch_size=64).memory_bytes() < logits
    with pytest.raises(ConfigError) as big_table:
        TrainConfig(vocab_size=200_000, dim=2_000, batch_size=64)
    assert big_table.value.field == "vocab_size"


def test_the_optimizer_table_the_limits_and_the_config_import_without_torch():
    code = (
        "import sys, core.optimizers, core.limits, core.config; assert 'torch' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1], timeout=60)
