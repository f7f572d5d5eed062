"""What a run is charged (core.budget.run_bytes) against the peak RSS it really adds, each in a fresh process.

Each subprocess returns freed memory as the app does (core.budget.return_freed_memory), warms the libraries up,
resets the peak (/proc/self/clear_refs), then trains until the history and snapshot budgets are full and does the
pages' work (Lookup's comparison, a PCA). Measured: VmHWM minus the baseline, for the steps and with the pages.
Charged: run_bytes(cfg).total (less the page caches for the steps). Target: within 1.5x, not much below.

Run: python bench/memory.py [--quick]  (Linux only: it reads /proc/self/status)"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CASES = [
    dict(vocab_size=60, dim=16),  # the default
    dict(vocab_size=10_000, dim=128),
    dict(vocab_size=50_257, dim=768, optimizer="adam"),  # GPT-2 small's table
    dict(vocab_size=20_000, dim=8, batch_size=4_096, optimizer="sgd"),  # batch x vocab dominates
    dict(vocab_size=10_000, dim=64, optimizer="adamw"),  # weight decay: the second shadow
    dict(vocab_size=20_000, dim=256, tie_weights=True),  # a tied head: every row's move is split
]


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(settings: dict) -> dict:
    """Runs in the subprocess: returns charged and measured bytes. settings["steps"]: fewer steps (tests)."""
    settings = dict(settings)
    fixed_steps = settings.pop("steps", None)
    import numpy as np

    from core import TrainConfig, Trainer, project
    from core.budget import record_bytes, return_freed_memory, run_bytes
    from core.lookup import compare_lookup

    return_freed_memory()  # as the app does at start-up
    Trainer(TrainConfig(vocab_size=2, dim=1, **{k: v for k, v in settings.items() if k == "optimizer"})).run(2)
    warm = Trainer(TrainConfig(vocab_size=3, dim=2))
    compare_lookup(warm.model.embedding, np.array([0, 1]))
    project([np.random.default_rng(0).standard_normal((8, 3))] * 2, method="pca", seed=0)
    gc.collect()
    cfg = TrainConfig(**settings)
    charged = run_bytes(cfg)
    Path("/proc/self/clear_refs").write_text("5")  # the peak so far is the libraries', not the run's
    baseline = _status_kib("VmRSS") * 1024

    trainer = Trainer(cfg)
    steps = trainer.history.budget_bytes // record_bytes(cfg) + trainer.snapshots.capacity + 2  # budgets full
    steps = fixed_steps or steps
    rec = None
    for _ in range(steps):
        rec = trainer.step()
    steps_peak = _status_kib("VmHWM") * 1024 - baseline
    compare_lookup(trainer.model.embedding, rec.input_ids, rec.output_grad)  # the Lookup page
    frames = [w for _, w in trainer.frames()]
    project(frames[-4:], method="pca", seed=0)  # the Embedding space page's cheaper method
    pages_peak = _status_kib("VmHWM") * 1024 - baseline
    return {
        "steps": steps,
        "charged": charged.total,
        "charged_steps": charged.total - charged.caches,
        "measured_steps": steps_peak,
        "measured": pages_peak,
        "parts": charged.as_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="skip the GPT-2-sized case")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    mb = 1e6
    print("charged = core.budget.run_bytes(cfg).total; measured = peak RSS increase (VmHWM - baseline), MB")
    print(f"{'case':<44} {'steps':>5} {'charged':>8} {'measured':>9} {'ratio':>6}   steps only: charged/measured")
    worst_high, worst_low = 0.0, float("inf")
    for settings in CASES:
        if args.quick and settings["vocab_size"] * settings["dim"] > 10**7:
            continue
        out = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(settings)],
            capture_output=True,
            text=True,
            check=True,
            env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
            cwd=ROOT,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        ratio, ratio_steps = r["charged"] / r["measured"], r["charged_steps"] / r["measured_steps"]
        worst_high, worst_low = max(worst_high, ratio, ratio_steps), min(worst_low, ratio, ratio_steps)
        name = ", ".join(f"{k}={v}" for k, v in settings.items())
        print(
            f"{name:<44} {r['steps']:>5} {r['charged'] / mb:>8.1f} {r['measured'] / mb:>9.1f} {ratio:>5.2f}x"
            f"   {r['charged_steps'] / mb:.1f}/{r['measured_steps'] / mb:.1f} = {ratio_steps:.2f}x"
        )
        parts = {k: round(v / mb, 1) for k, v in r["parts"].items() if k != "total"}
        print(f"{'':<8}parts (MB): {parts}")
    verdict = "meets" if worst_high <= 1.5 and worst_low >= 0.9 else "MISSES"
    print(f"charged/measured from {worst_low:.2f}x to {worst_high:.2f}x: {verdict} the target (<= 1.5x, >= ~0.9x)")


if __name__ == "__main__":
    main()
