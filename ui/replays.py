"""A link's replay, computed once for the whole server and handed to every session that opens it as its own copy.

A link's run is deterministic (core.replay): the same settings and step give the same run to the bit, so when a
class opens a teacher's link at once the server trains it once (serve.shared: one job per (config, step), the
others wait for it) and each session gets `Trainer.clone()` of the result, which it then trains on alone. The job
is charged to the server's memory budget while it runs and while it is kept (serve.memory.admit_shared); each
session's copy takes the place of the fresh run its session was already charged for (the same config, the same
bytes). A pasted text's run is its author's alone: it is replayed in its own session, as before.

RATE keeps what recent replay steps took on this server (wall clock, the load of the other sessions in it), so
the page's estimate is this server's, not a constant's.
"""

from __future__ import annotations

import contextlib
import threading
import time

from core import TrainConfig, Trainer, replay, run_bytes
from serve import memory, shared, slot

KEEP_FRACTION = 0.25  # finished replays kept, together, at most this share of the server's memory budget ...
KEEP_MAX_BYTES = 2 * 1024**3  # ... and at most this

RATE = shared.RateMeter()
_works: shared.SharedWork | None = None
_works_lock = threading.Lock()


def works() -> shared.SharedWork:
    """The process's shared replays (made at first use, sized from the memory budget)."""
    global _works
    with _works_lock:
        if _works is None:
            keep = min(KEEP_MAX_BYTES, int(memory.registry().budget * KEEP_FRACTION))
            _works = shared.SharedWork(keep, charge=memory.admit_shared, discharge=memory.release_shared,
                                       prefix="replay")  # fmt: skip
        return _works


def _work(cfg: TrainConfig, target: int):
    """The job's work: a fresh Trainer(cfg) trained to `target`, one step per turn of the work slot."""

    def work(job: shared.Job) -> None:
        trainer = Trainer(cfg)
        job.value = trainer
        job.progress(0)
        cost, last = replay.step_cost(cfg), time.perf_counter()
        for done in replay.steps_to(trainer, target, guard=slot.work_slot):  # a divergence ends it: job.error
            now = time.perf_counter()
            RATE.record(cost, now - last, kind(cfg))  # the step and its wait for the slot: this server's pace
            last = now
            job.progress(done)
            if job.abandoned():
                return  # every screen waiting for it went away: not kept (done < total)

    return work


def join(cfg: TrainConfig, target: int) -> tuple[shared.Job, str] | None:
    """The shared replay of (cfg, target), started if nobody runs or keeps one, and what was found (shared.NEW,
    RUNNING, DONE); the caller waits on it and must `leave` it. None when it cannot be shared: a pasted text's run,
    or the server's memory budget cannot hold one more run (the session then replays its own)."""
    if cfg.corpus_text is not None:  # a pasted text's run: its author's alone
        return None
    try:
        return works().join((cfg, target), target, run_bytes(cfg).total, _work(cfg, target))
    except memory.ServerBusy:
        return None


def leave(job: shared.Job) -> None:
    works().leave(job)


def find(cfg: TrainConfig, target: int) -> shared.Job | None:
    return works().find((cfg, target))


def copy_of(job: shared.Job) -> Trainer | None:
    """This session's own copy of the job's run: its end once finished (nothing changes it then: copies are made
    side by side, not queued in the work slot before a bystander's Step), else the step it has reached (taken in
    the work slot, between two of its steps). None when the job has no run (it failed to start)."""
    with contextlib.nullcontext() if job.finished.is_set() else slot.work_slot():
        return job.value.clone() if isinstance(job.value, Trainer) else None


def kind(cfg: TrainConfig) -> tuple:
    """What a step's time depends on most: the table, the batch, the optimizer (RATE's samples by kind)."""
    return cfg.vocab_size, cfg.dim, cfg.batch_size, cfg.optimizer, cfg.tie_weights, cfg.sparse


def estimate(cfg: TrainConfig, n_steps: int) -> tuple[float, bool]:
    """(seconds `n_steps` steps of this config should take here, whether that was measured on this server): by
    the pace of recent replays of this size when there were any, else core's count of cells at a nominal speed."""
    # only this size's own steps: core's count of cells misjudges a small table's fixed cost per step 5-10x here
    measured = RATE.seconds_for(n_steps * replay.step_cost(cfg), kind(cfg), any_kind=False)
    if measured is not None:
        return measured, True
    return replay.expected_seconds(cfg, n_steps), False


def seconds_left(job: shared.Job, cfg: TrainConfig) -> float:
    """What the job still needs, by its own recent steps (or this server's pace before it has any)."""
    per_step = job.seconds_per_unit()
    left = max(0, job.total - job.done)
    return per_step * left if per_step is not None else estimate(cfg, left)[0]
