"""The CUDA path: a few steps on the GPU match the same steps on the CPU (skipped where there is no GPU)."""

import numpy as np
import pytest
import torch

import core.model
import core.trainer
from core import TrainConfig, Trainer

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device here (torch.cuda.is_available() is False): CPU only"
)

CASES = [
    dict(),
    dict(optimizer="adamw"),  # weight decay: the second, expanded-gradient shadow
    dict(optimizer="sgd", momentum=0.9, max_norm=1.0, padding_idx=0),
    dict(optimizer="sparse_adam"),
    dict(optimizer="rmsprop", momentum=0.5, tie_weights=True),
]


def _trainer_on(device: str, cfg: TrainConfig, monkeypatch) -> Trainer:
    monkeypatch.setattr(core.trainer, "device", lambda: torch.device(device))
    return Trainer(cfg)


@pytest.mark.parametrize("settings", CASES, ids=str)
def test_a_few_cuda_steps_match_the_cpu(settings, monkeypatch):
    cfg = TrainConfig(vocab_size=200, dim=16, seed=3, **settings)
    gpu = _trainer_on("cuda", cfg, monkeypatch)
    cpu = _trainer_on("cpu", cfg, monkeypatch)
    assert gpu.model.embedding.weight.is_cuda and not cpu.model.embedding.weight.is_cuda
    for a, b in zip(gpu.run(5), cpu.run(5), strict=True):
        np.testing.assert_array_equal(a.input_ids, b.input_ids)
        assert a.loss == pytest.approx(b.loss, rel=1e-4)
        np.testing.assert_array_equal(a.grad_mask, b.grad_mask)
        for name in ("update_norm", "move_renorm", "move_decay", "move_state", "move_grad"):
            np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-3, atol=1e-5, err_msg=name)
        total = a.move_renorm + a.move_decay + a.move_state + a.move_grad
        np.testing.assert_allclose(total, a.update_norm, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gpu.weight, cpu.weight, rtol=1e-4, atol=1e-5)


def test_model_device_is_cuda_here():
    assert core.model.device().type == "cuda"
