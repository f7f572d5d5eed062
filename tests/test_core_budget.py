"""core.budget: a run is charged for what it really holds, and its history and frames scale with the table."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core import TrainConfig, Trainer
from core.budget import RECORD_OVERHEAD, run_bytes
from core.limits import MEMORY_BUDGET_BYTES

ROOT = Path(__file__).resolve().parents[1]


def test_the_default_run_keeps_64_frames_and_a_big_one_costs_little():
    assert Trainer(TrainConfig()).snapshots.capacity == 64
    mid = run_bytes(TrainConfig(vocab_size=10_000, dim=128))
    assert mid.total <= 180e6  # was ~600 MB of history and snapshots alone
    assert mid.history + mid.snapshots <= 45e6
    for optimizer in ("adam", "adamw", "sgd"):  # GPT-2 small's table fits, weight decay's shadow included
        assert run_bytes(TrainConfig(vocab_size=50_257, dim=768, optimizer=optimizer)).total <= MEMORY_BUDGET_BYTES
    assert TrainConfig().memory_bytes() == run_bytes(TrainConfig()).total


@pytest.mark.parametrize(
    "settings",
    [
        dict(),
        dict(optimizer="adamw"),
        dict(optimizer="sgd", momentum=0.9, tie_weights=True),
        dict(sparse=True, optimizer="sparse_adam"),
        dict(optimizer="rmsprop", momentum=0.5),
        dict(optimizer="adagrad"),
    ],
    ids=str,
)
def test_tables_part_counts_every_parameter_gradient_and_state_tensor(settings):
    cfg = TrainConfig(vocab_size=300, dim=12, batch_size=16, **settings)
    trainer = Trainer(cfg)
    trainer.step()
    held = {}  # by storage, so a tied head is counted once
    for optimizer in trainer.optimizers:
        for group in optimizer.param_groups:
            for p in group["params"]:
                held[p.data_ptr()] = p.numel() * 4
                if p.grad is not None:
                    grad = p.grad.coalesce().values() if p.grad.is_sparse else p.grad
                    held[grad.data_ptr()] = grad.numel() * 4
        for state in optimizer.state.values():
            for value in state.values():
                if torch.is_tensor(value) and value.numel() > 1:
                    held[value.data_ptr()] = value.numel() * 4
    charged = run_bytes(cfg).tables
    assert sum(held.values()) <= charged <= 1.1 * sum(held.values()) + 16 * 12 * 4 * 8


def test_history_and_snapshots_stay_within_what_the_run_is_charged():
    cfg = TrainConfig(vocab_size=5_000, dim=8, batch_size=32)
    parts = run_bytes(cfg)
    trainer = Trainer(cfg)
    for _ in range(120):
        trainer.step()
        assert trainer.history.nbytes + len(trainer.history) * RECORD_OVERHEAD <= parts.history
        assert trainer.snapshots.nbytes <= parts.snapshots
    assert len(trainer.history) < 120  # the budget did bind


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc to measure peak RSS")
def test_a_batch_by_vocabulary_run_is_charged_at_least_its_measured_peak():
    settings = dict(vocab_size=10_000, dim=4, batch_size=2_048, optimizer="sgd", steps=4)  # budgets not yet full
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "memory.py"), "--child", json.dumps(settings)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    logits = 2_048 * 10_000 * 4  # one (B, V) float32 tensor
    assert result["measured_steps"] > 2 * logits  # the B x V part is real, and is most of the run
    assert result["measured"] <= result["charged"]
