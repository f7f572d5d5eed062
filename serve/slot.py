"""The fair work slot: training steps of all sessions take one process-wide slot, first come first served, one
chunk (a step) at a time, so sessions on Run cannot starve another user's Step."""

from __future__ import annotations

import contextlib
import threading
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


WORK_SLOT = FairSlot(1)  # one training step at a time: the other core stays free for rendering pages


def work_slot() -> contextlib.AbstractContextManager[None]:
    """Hold the server's training slot for one chunk of work (a step): `with slot.work_slot(): trainer.step()`."""
    return WORK_SLOT()
