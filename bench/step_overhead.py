"""Cost of the instrumentation: Trainer.step() against a bare torch step of the same model, optimizer and batch.

Both loops run interleaved in this process, timed by the wall clock and by this thread's CPU time (torch on 1
thread: not inflated by a shared machine); the target is checked on both. The bare step is a plain training loop's;
the instrumented one adds all a StepRecord holds. Each model (core.config.MODELS) is timed against its own bare step;
then SGNS's step against the full softmax's at GPT-2's 50,257 x 768.
Run: python bench/step_overhead.py [--steps N] [--optimizer adam] [--model sgns]"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import TrainConfig, Trainer  # noqa: E402
from core.config import MODELS  # noqa: E402
from core.model import draw_negatives  # noqa: E402

SIZES = [(1_000, 64), (10_000, 128), (50_257, 768)]  # the last is GPT-2 small's token table


def bare_step(model, optimizers, corpus, rng, batch_size: int, device) -> None:
    """A plain training loop's step of the full softmax (bench/gpt2_lesson.py times it too)."""
    centres, targets = corpus.sample(rng, batch_size)
    for optimizer in optimizers:
        optimizer.zero_grad(set_to_none=True)
    logits, _ = model(torch.from_numpy(centres).to(device))
    torch.nn.functional.cross_entropy(logits, torch.from_numpy(targets).to(device)).backward()
    for optimizer in optimizers:
        optimizer.step()


def bare_model_step(trainer: Trainer) -> None:
    """A plain training loop's step of the trainer's own model (its batches and SGNS's negatives), no records."""
    model, cfg, device = trainer.model, trainer.cfg, trainer.device
    if cfg.model == "skipgram":
        return bare_step(model, trainer.optimizers, trainer.corpus, trainer._rng, cfg.batch_size, device)
    centres, targets = trainer._batch(trainer._rng)  # a GPT's (B, T) windows and next tokens
    negatives = None
    if cfg.model == "sgns":
        negatives = draw_negatives(trainer._noise_cdf, trainer._noise_rng, len(centres), cfg.negatives)
    for optimizer in trainer.optimizers:
        optimizer.zero_grad(set_to_none=True)
    batch = (None if a is None else torch.from_numpy(a).to(device) for a in (centres, targets, negatives))
    model.loss(*batch)[0].backward()
    for optimizer in trainer.optimizers:
        optimizer.step()
    return None


def measure(
    vocab_size: int, dim: int, optimizer: str, steps: int, warmup: int, clock=time.perf_counter, model="skipgram"
) -> tuple[float, float, float]:
    """Median ms of a bare step and of Trainer.step() by `clock`, and their ratio."""
    cfg = TrainConfig(vocab_size=vocab_size, dim=dim, optimizer=optimizer, model=model)
    instrumented = Trainer(cfg)
    bare = Trainer(cfg)  # same seed: same init, same batches; only its model and optimizers are used
    bare_times, step_times = [], []
    for i in range(warmup + steps):
        t0 = clock()
        bare_model_step(bare)
        t1 = clock()
        instrumented.step()
        t2 = clock()
        if i >= warmup:
            bare_times.append(t1 - t0)
            step_times.append(t2 - t1)
    bare_ms, step_ms = statistics.median(bare_times) * 1e3, statistics.median(step_times) * 1e3
    return bare_ms, step_ms, step_ms / bare_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=0, help="measured steps per size (default: by size)")
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--model", choices=list(MODELS), action="append", help="default: every model")
    parser.add_argument("--size", action="append", help="V,D (e.g. 50257,768); default: " + str(SIZES))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: as the server runs)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sizes = [tuple(int(n) for n in size.split(",")) for size in args.size] if args.size else SIZES
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, optimizer={args.optimizer}, batch 64")
    head = f"{'model':>8} {'V x D':>14} {'steps':>6} {'clock':>6} {'bare ms':>9} {'Trainer ms':>11} {'ratio':>6}"
    print(head + "  (medians)")
    worst, at_gpt2 = {}, {}
    for model in args.model or list(MODELS):
        for vocab_size, dim in sizes:
            steps = args.steps or (1000 if vocab_size * dim < 1e6 else 200 if vocab_size * dim < 2e6 else 25)
            for name, clock in (("wall", time.perf_counter), ("cpu", time.thread_time)):
                warmup = max(3, steps // 10)
                bare_ms, step_ms, ratio = measure(vocab_size, dim, args.optimizer, steps, warmup, clock, model)
                worst[model, name] = max(worst.get((model, name), 0.0), ratio)
                at_gpt2[model, name] = (bare_ms, step_ms)
                print(f"{model:>8} {vocab_size:>7,} x {dim:<4} {steps:>6} {name:>6} {bare_ms:>9.2f} {step_ms:>11.2f} "
                      f"{ratio:>5.2f}x")  # fmt: skip
    for (model, name), ratio in worst.items():
        verdict = "meets" if ratio <= 1.3 else "MISSES"
        print(f"{model} worst {name} ratio {ratio:.2f}x: {verdict} the 1.3x target (goal 1.1x; the issue's bound 1.5x)")
    v, d = sizes[-1]
    for name in ("wall", "cpu"):
        if ("sgns", name) in at_gpt2 and ("skipgram", name) in at_gpt2:
            (sb, ss), (fb, fs) = at_gpt2["sgns", name], at_gpt2["skipgram", name]
            print(
                f"{v:,} x {d} {name}: SGNS step {ss:.1f} ms vs full softmax {fs:.1f} ms ({ss / fs:.2f}x); "
                f"bare {sb:.1f} vs {fb:.1f} ms ({sb / fb:.2f}x)"
            )


if __name__ == "__main__":
    main()
