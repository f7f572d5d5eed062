"""UMAP's numba JIT compiles once per server process, in a background thread, so no user waits for it."""

from __future__ import annotations

import os
import threading

import streamlit as st

from core.projection import warm_up_umap

DISABLE_ENV = "EMBEDDING_EXPLORER_NO_UMAP_WARMUP"  # =1 in tests: never start the compile


@st.cache_resource(show_spinner=False)
def start_umap_warmup() -> threading.Thread | None:
    """Start the warm-up once per process (cache_resource is shared by all users, and holds only the thread)."""
    if os.environ.get(DISABLE_ENV):
        return None
    thread = threading.Thread(target=warm_up_umap, name="umap-warm-up", daemon=True)
    thread.start()
    return thread
