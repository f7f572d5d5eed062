"""Work the whole server shares: one computation per key (a class opening one link asks for one replay 30 times).
`SharedWork.join` hands every session the same `Job`: the first call starts it in a thread, later ones wait, and a
finished job is kept (`keep_seconds`, `keep_bytes`, LRU first) for late comers; nobody waiting: `Job.abandoned`. Jobs
are charged (`charge`) before they start and discharged when dropped. What a job computes is the caller's.
`RateMeter` keeps what recent work cost per unit on this server, for honest estimates of the next."""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable

KEEP_SECONDS = 120.0  # a finished job is kept this long after its last use
ABANDON_SECONDS = 10.0  # a job nobody has waited for this long stops (a rerun's page re-joins within ms)
LINGER_CHECK_SECONDS = 5.0  # how often a kept job's thread looks whether it expired

NEW, RUNNING, DONE = "new", "running", "done"  # what join found: it started the job, or joined it running, or done


class Job:
    """One shared computation: `value` (once `finished`, or under the work's lock), `done` of `total`, `error`."""

    def __init__(self, key: Hashable, total: int, nbytes: int, name: str, clock: Callable[[], float]):
        self.key, self.total, self.nbytes, self.name = key, total, nbytes, name
        self._clock = clock
        self.value: object = None
        self.done = 0
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self.started = clock()
        self.ended: float | None = None
        self.waiters = 0
        self.last_used = self.started
        self.dropped = False  # evicted or abandoned: no longer handed out
        self._progress: deque[tuple[float, int]] = deque(maxlen=20)  # (time, done) of the last steps

    def progress(self, done: int) -> None:
        """The work reached `done` units (called by the work between its units)."""
        self.done = done
        self._progress.append((self._clock(), done))

    def abandoned(self, grace: float = ABANDON_SECONDS) -> bool:
        """Nobody has waited for this job for `grace` seconds: the work may stop (it is then not kept)."""
        return self.waiters <= 0 and self._clock() - self.last_used >= grace

    def wait(self, timeout: float | None = None) -> bool:
        return self.finished.wait(timeout)

    def seconds_per_unit(self, least: int = 5) -> float | None:
        """A unit's recent wall time (the load in it); None before `least` units were timed (the first warms up)."""
        if len(self._progress) <= least:
            return None
        (t0, d0), (t1, d1) = self._progress[0], self._progress[-1]
        return (t1 - t0) / (d1 - d0) if d1 > d0 else None


class SharedWork:
    """The process's shared jobs by key. Thread-safe."""

    def __init__(
        self,
        keep_bytes: int,
        keep_seconds: float = KEEP_SECONDS,
        charge: Callable[[str, int], None] | None = None,
        discharge: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        prefix: str = "shared",
    ):
        self.keep_bytes, self.keep_seconds = keep_bytes, keep_seconds
        self._charge, self._discharge = charge, discharge
        self._clock, self._prefix = clock, prefix
        self._lock = threading.Lock()
        self._jobs: OrderedDict[Hashable, Job] = OrderedDict()  # least recently used first
        self._names = itertools.count(1)
        self.started = 0  # how many jobs this registry has started (a test, a bench can count computations)

    def join(self, key: Hashable, total: int, nbytes: int, work: Callable[[Job], None]) -> tuple[Job, str]:
        """The job for `key`, one more waiter (`leave` it), NEW/RUNNING/DONE; NEW: charged, `work(job)` in a thread."""
        with self._lock:
            self._expire()
            job = self._jobs.get(key)
            if job is not None and not job.dropped:
                found = DONE if job.finished.is_set() else RUNNING
            else:
                name = f"{self._prefix}-{next(self._names)}"
                if self._charge is not None:
                    self._charge(name, nbytes)
                job = Job(key, total, nbytes, name, self._clock)
                self._jobs[key] = job
                self.started += 1
                found = NEW
                threading.Thread(target=self._run, args=(job, work), name=f"shared-work-{name}", daemon=True).start()
            job.waiters += 1
            job.last_used = self._clock()
            self._jobs.move_to_end(key)
        return job, found

    def leave(self, job: Job) -> None:
        """A waiter is done with `job` (it took its copy, or went away)."""
        with self._lock:
            job.waiters -= 1
            job.last_used = self._clock()
        self._trim()

    def find(self, key: Hashable) -> Job | None:
        """The job for `key` if one is running or kept (not counted as a waiter)."""
        with self._lock:
            self._expire()
            job = self._jobs.get(key)
            return job if job is not None and not job.dropped else None

    def clear(self) -> None:
        """Drop every finished job nobody waits for (and release its charge) now."""
        with self._lock:
            for job in [job for job in self._jobs.values() if job.finished.is_set() and job.waiters <= 0]:
                self._drop(job)

    @property
    def kept_bytes(self) -> int:
        """The bytes of the jobs held now, running or finished."""
        with self._lock:
            return sum(job.nbytes for job in self._jobs.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def _run(self, job: Job, work: Callable[[Job], None]) -> None:
        try:
            work(job)
        except BaseException as error:  # kept for the waiters: the work's thread has nobody else to tell
            job.error = error
        finally:
            job.ended = self._clock()
            with self._lock:
                if job.value is None or (job.error is None and job.done < job.total):
                    self._drop(job)  # nothing to hand out, or the work stopped early (abandoned): not kept
            job.finished.set()
        self._trim()
        while not job.dropped:  # kept: this thread drops it once it expired (or the LRU bound dropped it)
            time.sleep(min(LINGER_CHECK_SECONDS, self.keep_seconds))
            with self._lock:
                self._expire()

    def _trim(self) -> None:
        """Drop finished jobs nobody waits for, least recently used first, while they hold more than keep_bytes."""
        with self._lock:
            self._expire()
            idle = [job for job in self._jobs.values() if job.finished.is_set() and job.waiters <= 0]
            held = sum(job.nbytes for job in idle)
            for job in idle:  # in LRU order
                if held <= self.keep_bytes:
                    break
                held -= job.nbytes
                self._drop(job)

    def _expire(self) -> None:
        """(Under the lock) drop finished jobs unused for keep_seconds."""
        now = self._clock()
        for job in list(self._jobs.values()):
            if job.finished.is_set() and job.waiters <= 0 and now - job.last_used >= self.keep_seconds:
                self._drop(job)

    def _drop(self, job: Job) -> None:
        """(Under the lock) forget `job` and release its charge; a waiter still holding it keeps its value."""
        if job.dropped:
            return
        job.dropped = True
        if self._jobs.get(job.key) is job:
            del self._jobs[job.key]
        if self._discharge is not None:
            self._discharge(job.name)


class RateMeter:
    """Seconds per unit of cost of the last `size` pieces of work, by `kind`: an estimate prefers its kind's pieces."""

    def __init__(self, size: int = 200):
        self._samples: deque[tuple[Hashable, float, float]] = deque(maxlen=size)  # (kind, cost, seconds)
        self._lock = threading.Lock()

    def record(self, cost: float, seconds: float, kind: Hashable = None) -> None:
        if cost > 0 and seconds >= 0:
            with self._lock:
                self._samples.append((kind, cost, seconds))

    def seconds_for(self, cost: float, kind: Hashable = None, any_kind: bool = True) -> float | None:
        """What `cost` units take here by the recent pieces (see the class); None when nothing was measured."""
        with self._lock:
            samples = [(c, s) for k, c, s in self._samples if k == kind]
            if not samples and any_kind:
                samples = [(c, s) for _, c, s in self._samples]
        total_cost = sum(c for c, _ in samples)
        return cost * sum(s for _, s in samples) / total_cost if total_cost else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._samples)
