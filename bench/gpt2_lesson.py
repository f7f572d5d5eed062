"""The GPT-2 lesson's wall time: Trainer(cfg) for 50,257 x 768 plus its 12 steps, against bare torch steps.

Wall clock and CPU time per step; the bare step (bench/step_overhead.py's) runs interleaved on a second model, so
load hits both alike. Run: python bench/gpt2_lesson.py [--repo DIR] [--rounds N]  (--repo: another tree's core)."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(ROOT), help="the tree whose core is timed")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.repo).resolve()))
    sys.path.insert(1, str(ROOT))
    import torch

    from bench.step_overhead import bare_step
    from core import Trainer
    from core.lessons import LESSONS

    lesson = LESSONS["gpt2_table"]
    cfg = lesson.config()
    print(f"{args.repo}: torch {torch.__version__}, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.2f}")
    print(f"lesson {lesson.key}: {cfg.vocab_size:,} x {cfg.dim}, {cfg.optimizer}, {lesson.steps} steps")
    for r in range(args.rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        trainer = Trainer(cfg)
        build_s, build_cpu = time.perf_counter() - t0, time.process_time() - c0
        bare = Trainer(cfg)
        steps, bares = [], []
        for _ in range(lesson.steps):
            b0 = time.perf_counter()
            bare_step(bare.model, bare.optimizers, bare.corpus, bare._rng, cfg.batch_size, bare.device)
            s0 = time.perf_counter()
            trainer.step()
            steps.append(time.perf_counter() - s0)
            bares.append(s0 - b0)
        del bare
        lesson_s = build_s + sum(steps)
        print(
            f"round {r}: build {build_s:.2f} s (cpu {build_cpu:.2f}); step median {statistics.median(steps):.3f} s "
            f"(first {steps[0]:.3f}, max {max(steps):.3f}); bare median {statistics.median(bares):.3f} s; "
            f"ratio {statistics.median(steps) / statistics.median(bares):.2f}x; lesson (build + steps) "
            f"{lesson_s:.1f} s; load {os.getloadavg()[0]:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
