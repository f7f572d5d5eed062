"""What the AppTest files share: the repo on sys.path, no UMAP warm-up, running the app, reading its charts."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # AppTest puts the script's folder on sys.path; pages import `ui` from the root
os.environ["EMBEDDING_EXPLORER_NO_UMAP_WARMUP"] = "1"  # never wait on numba here: PCA shows while UMAP is cold
TIMEOUT = 60


def app(query: dict[str, str] | None = None, script: str = "app.py", timeout: float = TIMEOUT) -> AppTest:
    at = AppTest.from_file(str(ROOT / script), default_timeout=timeout)
    at.query_params.update(query or {})
    return at.run()


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def page(script: str, query: dict[str, str] | None = None, timeout: float = TIMEOUT) -> AppTest:
    """`script` run once with `query`, checked to show no exception."""
    at = app(query, script, timeout)
    no_exception(at)
    return at


def diverged(at: AppTest) -> str | None:
    """Why the run stopped training (ui.session.diverged, read from the AppTest's session state)."""
    frozen = at.session_state.trainer.diverged
    return frozen.message if frozen is not None else at.session_state["failed_step"]


def decode(value):
    """A plotly JSON array: plain list, or the typed-array form {dtype, bdata, shape}."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        return array.reshape([int(n) for n in str(value["shape"]).split(",")]) if "shape" in value else array
    return np.asarray(value)


def charts(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def chart(at: AppTest, words: str) -> dict:
    """The chart whose title holds `words` (its line breaks read as spaces)."""
    return next(c for c in charts(at) if words in c["layout"]["title"]["text"].replace("<br>", " "))


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def stepped(query: dict[str, str], clicks: tuple[str, ...] = ("train_step_1",)) -> AppTest:
    """The app opened with `query`, on Train, after clicking each button of `clicks`."""
    at = app(query)
    at.switch_page("pages/01_train.py").run()
    for key in clicks:
        at.button(key=key).click().run()
    no_exception(at)
    return at
