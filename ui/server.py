"""One server process for a whole class: process set-up, a server-wide memory budget, fair sharing, cleanup.

- `setup_process()` (once per process, from ui.setup): one torch thread per step, the heap that imports made moved
  out of the garbage collector's sight (gc.freeze), large buffers handed back to the OS when freed, and a janitor
  thread that frees the runs of browsers that went away.
- `admit(session_id, cfg)` / `release(session_id)`: every run is charged `cfg.memory_bytes()` (core.budget's count
  of everything a run holds) against one budget for the whole server; a run that does not fit is refused with
  `ServerBusy`, never an out-of-memory kill that takes every student's run with it.
- `work_slot()`: training steps of all sessions take one process-wide slot, first come first served, one chunk
  (a step) at a time, so sessions on Run cannot starve another user's Step.

Nothing here is per-user state: the registry holds only sizes and, for cleanup, a handle on each session's state.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import os
import sys
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from streamlit.logger import get_logger

BUDGET_ENV = "EMBEDDING_EXPLORER_MEMORY_BUDGET"  # bytes for all runs together; "1.5GB" and "800MB" also work
TORCH_THREADS_ENV = "EMBEDDING_EXPLORER_TORCH_THREADS"
BUDGET_FRACTION = 0.75  # of (memory limit - the process's own footprint): headroom for pages, plotly, allocator
PROCESS_RESERVE_BYTES = 700 * 1024**2  # the server's footprint once torch, plotly, pandas and UMAP are loaded
HARD_FRACTION = 0.9  # never admit a run that would take the process's RSS past this share of its memory limit
DISCONNECT_GRACE_SECONDS = 60.0  # a browser that went away keeps its run this long (a reload comes back sooner)
JANITOR_SECONDS = 15.0
M_ARENA_MAX = -8  # glibc mallopt parameter
UNLIMITED = 1 << 60  # cgroup "max" (v2) and v1's 9223372036854771712 both mean no limit

_log = get_logger(__name__)  # Streamlit's logger: shown in the server's log at its logger.level (info)


class ServerBusy(Exception):
    """A run the server's memory budget cannot hold right now (the message says why and what to do)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------------------------- memory limit


def _read_limit(path: Path) -> int | None:
    """A cgroup memory limit file's value in bytes; None when absent, unreadable or unlimited."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text.isdigit():
        return None  # "max": no limit
    value = int(text)
    return value if 0 < value < UNLIMITED else None


def _cgroup_paths(proc_cgroup: Path) -> tuple[str | None, str | None]:
    """This process's cgroup v2 path and v1 memory-controller path, from /proc/self/cgroup."""
    v2 = v1 = None
    with contextlib.suppress(OSError):
        for line in proc_cgroup.read_text().splitlines():
            hierarchy, _, rest = line.partition(":")
            controllers, _, path = rest.partition(":")
            if hierarchy == "0" and controllers == "":
                v2 = path
            elif "memory" in controllers.split(","):
                v1 = path
    return v2, v1


def _mem_total(meminfo: Path) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 2 * 1024**3  # unknown machine: assume a small one


def memory_limit(
    cgroup_root: Path = Path("/sys/fs/cgroup"),
    proc_cgroup: Path = Path("/proc/self/cgroup"),
    meminfo: Path = Path("/proc/meminfo"),
) -> int:
    """The memory this process may use: the tightest cgroup limit (v2 memory.max, v1 memory.limit_in_bytes, at the
    cgroup root a container sees and at this process's own cgroup path), else the machine's MemTotal."""
    v2, v1 = _cgroup_paths(proc_cgroup)
    candidates = [cgroup_root / "memory.max", cgroup_root / "memory" / "memory.limit_in_bytes"]
    if v2 and v2 != "/":
        candidates.append(cgroup_root / v2.lstrip("/") / "memory.max")
    if v1 and v1 != "/":
        candidates.append(cgroup_root / "memory" / v1.lstrip("/") / "memory.limit_in_bytes")
    limits = [limit for path in candidates if (limit := _read_limit(path)) is not None]
    total = _mem_total(meminfo)
    return min([total, *limits])


def parse_bytes(text: str) -> int:
    """'800MB', '1.5GB', '2GiB' or a plain number of bytes."""
    units = {"": 1, "B": 1, "K": 1024, "KB": 1024, "KIB": 1024, "M": 1024**2, "MB": 1024**2, "MIB": 1024**2,
             "G": 1024**3, "GB": 1024**3, "GIB": 1024**3}  # fmt: skip
    cleaned = text.strip().upper().replace(" ", "").replace("_", "")
    number = cleaned.rstrip("KMGIB")
    unit = cleaned[len(number) :]
    try:
        return int(float(number) * units[unit])
    except (KeyError, ValueError):
        raise ValueError(f"{BUDGET_ENV}={text!r}: expected a size such as 1500MB or 1.5GB") from None


def default_budget(limit: int, footprint: int, fraction: float = BUDGET_FRACTION) -> int:
    """What all runs together may hold: a fraction of the memory the process has beyond its own footprint."""
    return max(0, int((limit - footprint) * fraction))


def budget_from_environment(footprint: int | None = None) -> int:
    """The budget: the environment variable if set, else the default from the memory limit."""
    text = os.environ.get(BUDGET_ENV, "").strip()
    if text:
        return parse_bytes(text)
    if footprint is None:
        footprint = max(PROCESS_RESERVE_BYTES, rss_bytes())
    return default_budget(memory_limit(), footprint)


def rss_bytes() -> int:
    """This process's anonymous resident memory now (RssAnon: what a container's memory limit cannot reclaim; the
    libraries' file-backed pages in VmRSS are shared and dropped under pressure)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


def gib(n: float) -> str:
    return f"{n / 1024**3:.2f} GB" if n >= 1024**3 else f"{n / 1024**2:.0f} MB"


# --------------------------------------------------------------------------------------------- the registry


@dataclass
class _Run:
    nbytes: int
    state: weakref.ref | None = None  # the session's run token (its .state: to empty a gone session's state)
    last_seen: float = 0.0


class RunToken:
    """Kept in a session's state (TOKEN_KEY) and weakly by the registry: it dies with the session's state, which
    releases the session's charge, and it holds the state so the janitor can empty a gone session's.
    (Streamlit's SessionState itself cannot be weakly referenced.)"""

    __slots__ = ("state", "__weakref__")

    def __init__(self, state):
        self.state = state


TOKEN_KEY = "_server_run_token"


class Registry:
    """The bytes every live run is charged, against one budget for the server. Thread-safe."""

    def __init__(self, budget: int, clock: Callable[[], float] = time.monotonic, limit: int | None = None):
        self.budget = budget
        self.limit = limit  # the process's memory limit: a run that would not fit beside the real RSS is refused
        self._clock = clock
        self._lock = threading.RLock()  # re-entrant: a finalizer may release a run during a collection in admit
        self._runs: dict[str, _Run] = {}

    def admit(self, session_id: str, nbytes: int, state: object = None, rss: int | None = None) -> None:
        """Charge a session's new run (it replaces the session's previous one), or raise ServerBusy.

        `state` is the session's RunToken (any weakly referable object that lives as long as the session): when
        it is collected, the charge goes.

        Besides the budget, when the memory limit and the process's resident memory `rss` are known, a run that
        would take the process past HARD_FRACTION of its limit is refused too (a safety net for what no count
        foresaw: pages, plotly, the allocator's slack), so the container is never killed for memory.
        """
        with self._lock:
            others = {sid: run.nbytes for sid, run in self._runs.items() if sid != session_id}
            held = sum(others.values())
            if nbytes > self.budget:
                raise ServerBusy(
                    f"This run needs {gib(nbytes)}, more than this server's whole memory budget for runs "
                    f"({gib(self.budget)}): choose a smaller vocabulary, dimension or batch."
                )
            if held + nbytes > self.budget:
                raise ServerBusy(
                    f"The server is at its memory budget: {len(others)} other runs hold {gib(held)} of "
                    f"{gib(self.budget)}, and this run needs {gib(nbytes)}. Try a smaller table, or again later; "
                    "your current run is kept."
                )
            mine = self._runs[session_id].nbytes if session_id in self._runs else 0
            if self.limit and rss is not None and rss - mine + nbytes > self.limit * HARD_FRACTION:
                raise ServerBusy(
                    f"The server's memory is nearly full ({gib(rss)} of {gib(self.limit)} in use), and this run "
                    f"needs {gib(nbytes)}. Try a smaller table, or again later; your current run is kept."
                )
            old = self._runs.get(session_id)
            ref = old.state if old is not None and old.state is not None and old.state() is state else None
            if ref is None and state is not None:
                with contextlib.suppress(TypeError):
                    ref = weakref.ref(state)
                    # the session's state is gone (Streamlit closed the session): its run goes with it
                    weakref.finalize(state, self._forget, session_id, ref)
            self._runs[session_id] = _Run(nbytes, ref, self._clock())

    def release(self, session_id: str) -> None:
        with self._lock:
            self._runs.pop(session_id, None)

    def _forget(self, session_id: str, ref: weakref.ref) -> None:
        with self._lock:
            run = self._runs.get(session_id)
            if run is not None and run.state is ref:
                del self._runs[session_id]

    @property
    def held(self) -> int:
        with self._lock:
            return sum(run.nbytes for run in self._runs.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)

    def __contains__(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._runs

    def sweep(self, is_active: Callable[[str], bool], grace: float = DISCONNECT_GRACE_SECONDS) -> list[tuple]:
        """Release the runs of sessions not active for `grace` seconds: [(session_id, state)] of those released."""
        now = self._clock()
        gone = []
        with self._lock:
            for sid, run in list(self._runs.items()):
                if is_active(sid.partition(EXTRA)[0]):  # a session's extra holdings live as long as it does
                    run.last_seen = now
                elif now - run.last_seen >= grace:
                    owner = run.state() if run.state is not None else None
                    gone.append((sid, getattr(owner, "state", owner)))
                    del self._runs[sid]
        return gone


_registry: Registry | None = None
_registry_lock = threading.Lock()


def registry() -> Registry:
    """The process's registry (its budget fixed at first use, from the environment or the memory limit)."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = Registry(budget_from_environment(), limit=memory_limit())
            _log.info("memory budget for runs: %s", gib(_registry.budget))
        return _registry


def current_session_id() -> str:
    """The Streamlit session running this script ("" outside Streamlit, e.g. in plain Python)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else ""


def _current_token() -> RunToken | None:
    """This session's RunToken, made on its first run: it lives in the session's state, as long as the session."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:
        return None
    safe = ctx.session_state
    try:
        token = safe[TOKEN_KEY]  # SafeSessionState has no .get
    except KeyError:
        token = None
    if not isinstance(token, RunToken):
        # SessionState: one object for the session's life (the SafeSessionState around it is made per runner)
        token = RunToken(getattr(safe, "_state", safe))
        safe[TOKEN_KEY] = token
    return token


def admit(session_id: str, cfg) -> None:
    """Charge `cfg`'s run to `session_id` (replacing its previous run), or raise ServerBusy with the reason."""
    registry().admit(session_id, int(cfg.memory_bytes()), _current_token(), rss=rss_bytes())


def release(session_id: str) -> None:
    registry().release(session_id)


EXTRA = "#"  # registry keys of a session's further holdings: "<session id>#<name>"


def admit_extra(name: str, nbytes: int) -> None:
    """Charge a second holding of this session (e.g. the optimizer comparison's runs) under its own key, or raise
    ServerBusy; it is freed with the session, like the session's run."""
    key = f"{current_session_id()}{EXTRA}{name}"
    registry().admit(key, int(nbytes), _current_token(), rss=rss_bytes())


# --------------------------------------------------------------------------------------------- fair work slot


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
    """Hold the server's training slot for one chunk of work (a step): `with server.work_slot(): trainer.step()`."""
    return WORK_SLOT()


def others_waiting() -> bool:
    """Whether another session waits for the slot (a long loop should end its chunk and queue again)."""
    return WORK_SLOT.waiting > 0


# --------------------------------------------------------------------------------------------- process set-up

_setup_lock = threading.Lock()
_setup_done = False
_refrozen = False
_collect_next = False


def setup_process() -> None:
    """Once per server process (every later call returns at once).

    - torch uses one thread per op: on a shared 2-core server a 60 x 16 step took 34-100 ms with 2 threads
      against ~1 ms with one, and other users' steps run on the other core anyway.
    - gc.freeze(): the millions of objects torch, plotly, pandas and Streamlit made at import are never garbage,
      yet every full collection walked them all (~70% of a Step click's server CPU with Streamlit's post-run
      collection). Frozen, they are skipped; .streamlit/config.toml turns the post-run collection off, and the
      collector's own generations still free the cyclic garbage of each rerun, so memory stays bounded.
    - a janitor thread frees the runs of sessions whose browser went away (see `janitor_pass`).
    """
    global _setup_done
    with _setup_lock:
        if _setup_done:
            return
        _setup_done = True
    _numba_cache_dir()
    _limit_malloc_arenas()
    import torch

    threads = int(os.environ.get(TORCH_THREADS_ENV, "1"))
    torch.set_num_threads(max(1, threads))
    gc.collect()
    gc.freeze()
    registry()
    threading.Thread(target=_janitor, name="embedding-explorer-janitor", daemon=True).start()


def _numba_cache_dir() -> None:
    """UMAP's numba caches compiled code beside its sources, or fails to import where site-packages is read-only
    (containers): point the cache at a writable temporary folder before umap is first imported."""
    if "NUMBA_CACHE_DIR" in os.environ or "numba" in sys.modules:
        return
    folder = Path(tempfile.gettempdir()) / "embedding-explorer-numba"
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["NUMBA_CACHE_DIR"] = str(folder)


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives threads their own malloc arenas (up to 8 per core), and Streamlit runs every rerun in a new
    thread: memory freed in one arena is not reused by the next run's. Two arenas keep RSS near what is live."""
    name = ctypes.util.find_library("c")
    if not name:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name).mallopt(M_ARENA_MAX, arenas)


def _janitor() -> None:
    while True:
        time.sleep(JANITOR_SECONDS)
        try:
            janitor_pass()
        except Exception:  # never let the janitor die: it is what frees memory
            _log.exception("janitor pass failed")


def _runtime():
    from streamlit import runtime

    return runtime.get_instance() if runtime.exists() else None


def janitor_pass(runtime=None, grace: float = DISCONNECT_GRACE_SECONDS) -> list[str]:
    """Free the runs of sessions gone for `grace` seconds: their charge, their heavy state, their session.

    Streamlit keeps a disconnected session (for a reconnect) and drops it only when another session touches its
    storage, so a class that closed its laptops kept its memory until someone new came. Here a session that has
    not been connected for `grace` seconds loses its run (the settings stay in its URL) and is closed; the freed
    memory is collected and handed back to the OS. Returns the session ids freed.
    """
    global _collect_next
    rt = runtime if runtime is not None else _runtime()
    if rt is None:
        return []
    gone = registry().sweep(rt.is_active_session, grace)
    for session_id, state in gone:
        drop_heavy(state)
        _close_session(rt, session_id)
    if gone:
        _log.info("freed the runs of %d sessions gone for %.0f s; %d runs hold %s", len(gone), grace,
                  len(registry()), gib(registry().held))  # fmt: skip
    _refreeze_after_warmup()
    if gone or _collect_next:
        gc.collect()  # what the closed sessions left in reference cycles (their AppSession, page objects)
        malloc_trim()
    _collect_next = bool(gone)  # the sessions close on the event loop: collect once more on the next pass
    return [session_id for session_id, _ in gone]


def drop_heavy(state) -> None:
    """Empty a gone session's state (its Trainer, projectors, caches, compared runs): freed even if the session
    object lingers. Its settings are in its URL, which a returning browser brings back."""
    if state is None:
        return
    with contextlib.suppress(Exception):
        state.clear()
        return
    for key in list(getattr(state, "keys", list)()):  # a plain mapping
        with contextlib.suppress(Exception):
            del state[key]


def _close_session(rt, session_id: str) -> None:
    """Close a session that is no longer connected (Streamlit's thread-safe path: it runs on the event loop)."""
    if rt.is_active_session(session_id):
        return
    close = getattr(rt, "clear_user_info_for_session", None)  # for an inactive session: close it on the loop
    if close is not None:
        with contextlib.suppress(Exception):
            close(session_id)


def _refreeze_after_warmup() -> None:
    """Once UMAP's background compile is over, freeze what numba and UMAP built too (a one-off, like imports)."""
    global _refrozen
    if _refrozen or "umap" not in sys.modules:
        return
    if any(t.name == "umap-warm-up" and t.is_alive() for t in threading.enumerate()):
        return
    _refrozen = True
    gc.collect()
    gc.freeze()


def malloc_trim() -> None:
    """Give freed heap pages back to the OS (glibc keeps them otherwise: RSS stayed at its peak for good)."""
    name = ctypes.util.find_library("c")
    if not name:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name).malloc_trim(0)
