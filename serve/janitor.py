"""The janitor: a thread that frees the runs of browsers that went away (their charge, their heavy state, their
session), collects what they left and hands the freed heap back to the OS."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import sys
import threading
import time

from streamlit import runtime
from streamlit.logger import get_logger

from serve.memory import DISCONNECT_GRACE_SECONDS, gib, registry

JANITOR_SECONDS = 15.0
WARM_UP_THREAD = "umap-warm-up"  # the thread serve.process starts for UMAP's compile: refrozen after it ends

_log = get_logger(__name__)
_refrozen = False
_collect_next = False


def run_forever() -> None:
    """The janitor thread's loop: a pass every JANITOR_SECONDS, for the life of the process."""
    while True:
        time.sleep(JANITOR_SECONDS)
        try:
            janitor_pass()
        except Exception:  # never let the janitor die: it is what frees memory
            _log.exception("janitor pass failed")


def janitor_pass(rt=None, grace: float = DISCONNECT_GRACE_SECONDS) -> list[str]:
    """Free runs of sessions gone `grace` s, collect, trim; the ids freed (Streamlit alone waits for a next visitor)."""
    global _collect_next
    if rt is None and runtime.exists():
        rt = runtime.get_instance()
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
        with contextlib.suppress(OSError, AttributeError):
            libc().malloc_trim(0)  # freed heap pages back to the OS (glibc keeps them: RSS stayed at its peak)
    _collect_next = bool(gone)  # the sessions close on the event loop: collect once more on the next pass
    return [session_id for session_id, _ in gone]


def drop_heavy(state) -> None:
    """Empty a gone session's state (freed even if the session lingers); its settings are in its URL."""
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
    if any(t.name == WARM_UP_THREAD and t.is_alive() for t in threading.enumerate()):
        return
    _refrozen = True
    gc.collect()
    gc.freeze()


def libc() -> ctypes.CDLL:
    """The C library (glibc's mallopt and malloc_trim); OSError where there is none to load."""
    name = ctypes.util.find_library("c")
    if not name:
        raise OSError("no C library found")
    return ctypes.CDLL(name)
