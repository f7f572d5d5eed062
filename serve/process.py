"""Process set-up, once per server process: torch's threads, the import-time heap frozen out of the garbage
collector's sight, numba's cache folder, glibc's malloc arenas, the janitor thread and UMAP's background compile."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import torch

from serve import janitor
from serve.memory import registry

TORCH_THREADS_ENV = "EMBEDDING_EXPLORER_TORCH_THREADS"
NO_WARM_UP_ENV = "EMBEDDING_EXPLORER_NO_UMAP_WARMUP"  # =1 in tests: never start the compile
M_ARENA_MAX = -8  # glibc mallopt parameter

_setup_lock = threading.Lock()
_setup_done = False


def setup_process(warm_up: Callable[[], object] | None = None) -> None:
    """Once per process: torch on one thread (a 60 x 16 step on a shared 2-core server: 34-100 ms with 2, ~1 ms
    with 1); gc.freeze() (full collections walked import-time objects: ~70% of a Step's CPU); janitor; `warm_up`."""
    global _setup_done
    with _setup_lock:
        if _setup_done:
            return
        _setup_done = True
    _numba_cache_dir()
    _limit_malloc_arenas()
    threads = int(os.environ.get(TORCH_THREADS_ENV, "1"))
    torch.set_num_threads(max(1, threads))
    gc.collect()
    gc.freeze()
    registry()
    threading.Thread(target=janitor.run_forever, name="embedding-explorer-janitor", daemon=True).start()
    if warm_up is not None and not os.environ.get(NO_WARM_UP_ENV):
        threading.Thread(target=warm_up, name=janitor.WARM_UP_THREAD, daemon=True).start()


def _numba_cache_dir() -> None:
    """Point numba's cache at a writable folder before umap's import (it fails where site-packages is read-only)."""
    if "NUMBA_CACHE_DIR" in os.environ or "numba" in sys.modules:
        return
    folder = Path(tempfile.gettempdir()) / "embedding-explorer-numba"
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["NUMBA_CACHE_DIR"] = str(folder)


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Two glibc malloc arenas, not 8 per core: each rerun's new thread would not reuse what another's freed."""
    with contextlib.suppress(OSError, AttributeError):
        janitor.libc().mallopt(M_ARENA_MAX, arenas)
