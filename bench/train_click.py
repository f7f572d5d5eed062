"""Where a Step click's server CPU goes, at the default size and at 10,000 x 128.

Usage:  .venv/bin/python bench/train_click.py [--clicks 40] [--repo PATH]

Prints, for each size: the Trainer's own step (CPU in this process, one torch thread as the server runs it), the
server's CPU per Step click on Train (bench/load.py's server and websocket sessions, loopback), the messages and bytes
one click sends to the browser, and the server's CPU per opening of Gradient masks and of Row updates right after a
Step (what a student does next). The click less the step is what the page and Streamlit cost."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import load  # noqa: E402  (bench/load.py: the server and the websocket session)
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

SIZES = (("default", load.DEFAULT_QUERY, {}), ("10,000 x 128", load.LARGE_QUERY, {"vocab_size": 10000, "dim": 128}))
OTHER_PAGES = ("gradient_masks", "row_updates")


def step_cpu_ms(fields: dict, steps: int) -> float:
    """CPU per Trainer.step in this process (after 3 warm steps), one torch thread as serve.process sets it."""
    import torch

    from core import TrainConfig, Trainer

    torch.set_num_threads(1)
    trainer = Trainer(TrainConfig(**fields))
    for _ in range(3):
        trainer.step()
    start = time.process_time()
    for _ in range(steps):
        trainer.step()
    return (time.process_time() - start) / steps * 1000


class Counted(load.SpaceSession):
    """A session that counts the messages (by kind) and bytes the server sends while `counting`."""

    counting = False

    async def _read(self) -> None:
        self.kinds, self.nbytes = Counter(), 0
        async for data in self._ws:
            msg = ForwardMsg()
            msg.ParseFromString(data)
            if self.counting:
                self.kinds[msg.WhichOneof("type")] += 1
                self.nbytes += len(data)
            self._dispatch(msg)

    def _dispatch(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.page_hash = self.page_hash or msg.new_session.page_script_hash
        elif kind == "navigation":
            self.page_hash = msg.navigation.page_script_hash or self.page_hash
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._element(msg.delta.new_element, msg.delta.fragment_id)
        elif kind == "script_finished" and msg.script_finished in load.FINISHED:
            self._finished.set()


async def measure(server: load.Server, query: str, clicks: int) -> tuple[float, float, int, dict[str, float]]:
    """(CPU per Step click ms, messages per click, bytes per click, {page: CPU per open ms})."""
    s = Counted(server, query)
    await s.open()
    for _ in range(3):
        await s.click("Step")
    cpu0 = server.cpu_seconds()
    s.counting = True
    for _ in range(clicks):
        await s.click("Step")
    s.counting = False
    per_click = (server.cpu_seconds() - cpu0) / clicks * 1000
    messages, nbytes = sum(s.kinds.values()) / clicks, s.nbytes // clicks
    opens = {page: [] for page in OTHER_PAGES}
    for _ in range(max(1, clicks // 4)):
        for page, ms in opens.items():
            await s.goto("train")
            await s.click("Step")
            cpu0 = server.cpu_seconds()
            await s.goto(page)
            ms.append((server.cpu_seconds() - cpu0) * 1000)
    await s.close()
    return per_click, messages, nbytes, {page: statistics.fmean(ms) for page, ms in opens.items()}


async def run(server: load.Server, clicks: int) -> None:
    (warm,) = await load.open_sessions(server, 1)  # a fresh server's first run reruns once (ui.nav)
    await warm.click("Step")
    await warm.close()
    for name, query, fields in SIZES:
        step = step_cpu_ms(fields, max(10, clicks // 2))
        per_click, messages, nbytes, opens = await measure(server, query, clicks)
        pages = ", ".join(f"{page} {ms:.1f} ms" for page, ms in opens.items())
        print(f"{name:<13} Trainer.step {step:5.1f} ms; Step click on Train {per_click:5.1f} ms of server CPU "
              f"(page and Streamlit {per_click - step:5.1f} ms), {messages:.0f} messages, {nbytes / 1024:.0f} KiB; "
              f"per open after a Step: {pages}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=40)
    parser.add_argument("--repo", type=Path, default=load.REPO_ROOT, help="folder holding app.py (e.g. an older copy)")
    args = parser.parse_args()
    if not 4 <= args.clicks <= 200:
        parser.error("clicks: 4 to 200")
    server = load.Server(args.repo, [], {"PYTHONUNBUFFERED": "1", "EMBEDDING_EXPLORER_NO_UMAP_WARMUP": "1"})
    try:
        asyncio.run(run(server, args.clicks))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
