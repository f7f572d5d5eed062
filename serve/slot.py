"""The fair work slot: training steps of all sessions take one process-wide slot, first come first served, one
chunk (a step) at a time, so sessions on Run cannot starve another user's Step."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator


class _Ticket(threading.Event):
    """A waiter's place in the queue: set when its thread has been handed the slot."""

    def __init__(self):
        super().__init__()
        self.owner = threading.get_ident()


class FairSlot:
    """A semaphore of `size` slots granted strictly in arrival order; re-entrant within one thread."""

    def __init__(self, size: int = 1):
        self.size = size
        self._lock = threading.Lock()
        self._holders: dict[int, int] = {}  # thread id -> depth
        self._queue: deque[_Ticket] = deque()

    def acquire(self) -> None:
        me = threading.get_ident()
        with self._lock:
            if me in self._holders:
                self._holders[me] += 1
                return
            if len(self._holders) < self.size and not self._queue:
                self._holders[me] = 1
                return
            granted = _Ticket()
            self._queue.append(granted)
        granted.wait()  # release() put this thread in _holders before setting the event

    def release(self) -> None:
        me = threading.get_ident()
        with self._lock:
            self._holders[me] -= 1
            if self._holders[me]:
                return
            del self._holders[me]
            if self._queue:
                granted = self._queue.popleft()
                self._holders[granted.owner] = 1  # handed over directly: nobody can jump the queue
                granted.set()

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._queue)

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()


class Turns:
    """At most `size` callers' threads at a time: a caller waits until one of the threads before it has ended (a
    Streamlit script run ends its thread) or has had its turn for `limit` s, so a burst of arrivals draws its pages
    a few at a time, not all at once.

    Thirty screens handed a link's replay at the same moment each draw a page: drawn together they share the GIL
    with a bystander's Step, which then waits for all thirty (p90 1.2-2.3 s in bench/load.py's link scenario);
    two at a time still keep both cores busy. Nothing is held, so nothing can be left locked: a turn ends with
    its thread, or after `limit` s."""

    POLL = 0.02  # s between looks at the threads in their turn, while callers wait

    def __init__(self, size: int = 2, limit: float = 0.5):
        self.size, self.limit = size, limit
        self._changed = threading.Condition()
        self._turns: list[tuple[threading.Thread, float]] = []  # (thread, when its turn began)

    def wait_turn(self) -> None:
        me = threading.current_thread()
        with self._changed:
            while True:
                now = time.monotonic()
                self._turns = [(t, began) for t, began in self._turns
                               if t is not me and t.is_alive() and now - began < self.limit]  # fmt: skip
                if len(self._turns) < self.size:
                    self._turns.append((me, now))
                    return
                self._changed.wait(self.POLL)


WORK_SLOT = FairSlot(1)  # one training step at a time: the other core stays free for rendering pages


ARRIVALS = Turns()  # sessions taking their copy of a shared replay: their first pages, drawn in turn


def work_slot() -> contextlib.AbstractContextManager[None]:
    """Hold the server's training slot for one chunk of work (a step): `with slot.work_slot(): trainer.step()`."""
    return WORK_SLOT()
