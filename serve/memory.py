"""The server-wide memory budget (from the cgroup v2/v1 or machine limit) and the registry that charges each run:
`admit` refuses a run that does not fit with `ServerBusy`, never an out-of-memory kill of every student's run."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from streamlit.logger import get_logger
from streamlit.runtime.scriptrunner import get_script_run_ctx

BUDGET_ENV = "EMBEDDING_EXPLORER_MEMORY_BUDGET"  # bytes for all runs together; "1.5GB" and "800MB" also work
BUDGET_FRACTION = 0.75  # of (memory limit - the process's own footprint): headroom for pages, plotly, allocator
PROCESS_RESERVE_BYTES = 700 * 1024**2  # the server's footprint once torch, plotly, pandas and UMAP are loaded
HARD_FRACTION = 0.9  # never admit a run that would take the process's RSS past this share of its memory limit
DISCONNECT_GRACE_SECONDS = 60.0  # a browser that went away keeps its run this long (a reload comes back sooner)
UNLIMITED = 1 << 60  # cgroup "max" (v2) and v1's 9223372036854771712 both mean no limit
TOKEN_KEY = "_server_run_token"
EXTRA = "#"  # registry keys of a session's further holdings: "<session id>#<name>"
SHARED = "~shared#"  # registry keys of work the server shares (serve.shared): no session's, never swept

_log = get_logger(__name__)  # Streamlit's logger: shown in the server's log at its logger.level (info)


class ServerBusy(Exception):
    """A run the server's memory budget cannot hold right now (the message says why and what to do)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


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


def _proc_kib(path: Path, field: str, default: int) -> int:
    """A `field: N kB` line of a /proc file, in bytes; `default` when it cannot be read."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in path.read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return default


def memory_limit(
    cgroup_root: Path = Path("/sys/fs/cgroup"),
    proc_cgroup: Path = Path("/proc/self/cgroup"),
    meminfo: Path = Path("/proc/meminfo"),
) -> int:
    """The tightest cgroup v2/v1 limit (at the root and this process's own path), else the machine's MemTotal."""
    v2, v1 = _cgroup_paths(proc_cgroup)
    candidates = [cgroup_root / "memory.max", cgroup_root / "memory" / "memory.limit_in_bytes"]
    if v2 and v2 != "/":
        candidates.append(cgroup_root / v2.lstrip("/") / "memory.max")
    if v1 and v1 != "/":
        candidates.append(cgroup_root / "memory" / v1.lstrip("/") / "memory.limit_in_bytes")
    limits = [limit for path in candidates if (limit := _read_limit(path)) is not None]
    total = _proc_kib(meminfo, "MemTotal:", 2 * 1024**3)  # unknown machine: assume a small one
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
    """RssAnon now: what a memory limit cannot reclaim (VmRSS's library pages are shared, dropped under pressure)."""
    return _proc_kib(Path("/proc/self/status"), "RssAnon:", 0)


def gib(n: float) -> str:
    """A byte count for a message: '1.46 GB' or '800 MB'."""
    return f"{n / 1024**3:.2f} GB" if n >= 1024**3 else f"{n / 1024**2:.0f} MB"


@dataclass
class _Run:
    nbytes: int
    state: weakref.ref | None = None  # the session's run token (its .state: to empty a gone session's state)
    last_seen: float = 0.0


class RunToken:
    """In a session's state, weakly in the registry: its death frees the charge (SessionState has no weakref)."""

    __slots__ = ("state", "__weakref__")

    def __init__(self, state):
        self.state = state


class Registry:
    """The bytes every live run is charged, against one budget for the server. Thread-safe."""

    def __init__(self, budget: int, clock: Callable[[], float] = time.monotonic, limit: int | None = None):
        self.budget = budget
        self.limit = limit  # the process's memory limit: a run that would not fit beside the real RSS is refused
        self._clock = clock
        self._lock = threading.RLock()  # re-entrant: a finalizer may release a run during a collection in admit
        self._runs: dict[str, _Run] = {}

    def admit(self, session_id: str, nbytes: int, state: object = None, rss: int | None = None) -> None:
        """Charge a session's run (replacing its last) till `state` dies, or ServerBusy (also past HARD_FRACTION)."""
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
        """Drop a session's charge (harmless when it has none)."""
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
                if sid.startswith(SHARED):
                    continue  # freed by its owner (serve.shared), not with a session
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
    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else ""


def _current_token() -> RunToken | None:
    """This session's RunToken, made on its first run: it lives in the session's state, as long as the session."""
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


def admit(session_id: str, nbytes: int) -> None:
    """Charge a run of `nbytes` to `session_id` (replacing its previous run), or raise ServerBusy with the reason."""
    registry().admit(session_id, int(nbytes), _current_token(), rss=rss_bytes())


def release(session_id: str) -> None:
    registry().release(session_id)


def admit_extra(name: str, nbytes: int) -> None:
    """Charge a further holding of this session (Compare's runs) under its own key, freed with it; or ServerBusy."""
    registry().admit(f"{current_session_id()}{EXTRA}{name}", int(nbytes), _current_token(), rss=rss_bytes())


def admit_shared(name: str, nbytes: int) -> None:
    """Charge work no session owns (a link's replay, serve.shared), or ServerBusy; `release_shared(name)` frees it."""
    registry().admit(SHARED + name, int(nbytes), None, rss=rss_bytes())


def release_shared(name: str) -> None:
    registry().release(SHARED + name)
