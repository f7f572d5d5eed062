"""A link's replay, computed once for the whole server and handed to every session that opens it as its own copy. A
link's run is deterministic (core.replay), so a class opening it gets one shared job (serve.shared, charged with
admit_shared) and each session a `Trainer.clone()` of it, in place of the fresh run it was already charged for; a
pasted text's run is replayed in its author's session. RATE: recent replay steps' time here, for the estimates."""

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


def shareable(cfg: TrainConfig) -> bool:
    """Whether a link's replay of this config is computed once for the server (a pasted text's run: its author's)."""
    return cfg.corpus_text is None


def join(cfg: TrainConfig, target: int) -> tuple[shared.Job, str] | None:
    """The shared replay of (cfg, target), NEW/RUNNING/DONE (the caller `leave`s it); None: replay your own."""
    if not shareable(cfg):
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
    """This session's copy of the job's run or None: a running job's is taken in the work slot, between its steps."""
    with contextlib.nullcontext() if job.finished.is_set() else slot.work_slot():
        return job.value.clone() if isinstance(job.value, Trainer) else None


def kind(cfg: TrainConfig) -> tuple:
    """What a step's time depends on most: the table, the batch, the optimizer, the model (RATE's samples by kind)."""
    model = (cfg.model, cfg.negatives) if cfg.model == "sgns" else (cfg.model, cfg.context, cfg.layers, cfg.heads)
    return cfg.vocab_size, cfg.dim, cfg.batch_size, cfg.optimizer, cfg.tie_weights, cfg.sparse, *model


def estimate(cfg: TrainConfig, n_steps: int) -> tuple[float, bool]:
    """(seconds `n_steps` should take here, measured?): recent replays of this size, else core's nominal count."""
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
