"""A class on one server: many sessions clicking Step, measured on the server's side.

Usage:  .venv/bin/python bench/load.py [--scenario single|class|run|all] [--sessions 30] [--seconds 60]

Starts ``streamlit run app.py`` headless on a loopback port with the production .streamlit/config.toml, then drives
sessions through Streamlit's own websocket protocol (its protobufs) from one process, at a few hundred microseconds
of client CPU a click. A click is a ``rerun_script`` BackMsg with the button's trigger and fragment id; click-to-idle
runs to the server's ``script_finished`` with the Step metric showing the next step. Scenarios (loopback, bounded):
- single: the default config and 10,000 x 128, ``--clicks`` Steps each: server CPU per click (/proc/PID/stat).
- class: ``--sessions`` click Step every ``--interval`` s for ``--seconds`` s; then ``--heavy`` 10,000 x 128 runs,
  all disconnect, and RSS is sampled until back within 100 MB of idle or ``--linger`` s passed.
- run: ``--runners`` press Run while a bystander clicks Step every 2 s.
- link: a link's ``&step=N`` alone (another seed: the same work, no kept replay), then ``--link-sessions`` open it
  within ``--link-spread`` s beside a bystander: when each reached step N, the pages' estimates, peak RSS.
- space: 40 Steps, then ``--opens`` openings of Embedding space and moves of its step slider: CPU per open and move.
- hundred: 100 sessions clicking Step: whether p90 click-to-idle <= 1 s with no error.
Every session checks that its Step metric advances by exactly its own clicks, and every error a page shows counts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect

REPO_ROOT = Path(__file__).resolve().parents[1]
MAX_SESSIONS = 60  # bounds: this is a load test of one's own server, not a flood
MAX_SECONDS = 600
CLK_TCK = os.sysconf("SC_CLK_TCK")
FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}
DEFAULT_QUERY = ""
LARGE_QUERY = "vocab_size=10000&dim=128"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``streamlit run app.py`` on 127.0.0.1, with the app's config.toml and any ``--server.*`` flags given."""

    name, seconds, poll, grace = "streamlit", 90, 0.2, 15  # its name, start bound and polling (s), stop's wait (s)
    late = "streamlit did not start within 90 s"

    def __init__(self, repo: Path, flags: list[str], env: dict[str, str]):
        self.port = free_port()
        self.log = Path(tempfile.mkstemp(prefix="load-streamlit-", suffix=".log")[1])
        command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
        command += ["--server.address", "127.0.0.1", "--server.port", str(self.port), *flags]
        self._start(command, repo, {**os.environ, **env})

    def _start(self, command: list[str], cwd: Path | None, env: dict[str, str]) -> None:
        """Start ``command`` (its output to self.log) and wait until its /_stcore/health answers ok."""
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError), urllib.request.urlopen(self.url("/_stcore/health"), timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
            time.sleep(self.poll)
        self.stop()
        raise TimeoutError(self.late)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime (fields 14 and 15 of the file)

    def rss_mb(self, field: str = "VmRSS") -> float:
        """Resident memory in MB: VmRSS (all), RssAnon (the process's own) or RssFile (shared library pages)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def log_problems(self) -> list[str]:
        text = self.log.read_text(errors="replace")
        return [line for line in text.splitlines() if "Traceback" in line or "Error" in line or "Exception" in line]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass
class Session:
    """One browser tab, speaking Streamlit's websocket protocol."""

    server: Server
    query: str = DEFAULT_QUERY
    page: str = "train"
    session_id: str = ""
    page_hash: str = ""
    buttons: dict = field(default_factory=dict)  # label -> (widget id, fragment id, disabled)
    step_shown: int | None = None
    problems: list[str] = field(default_factory=list)  # exceptions and error alerts the page showed
    mismatches: int = 0  # Step metric not what this session's own clicks make it
    latencies: list[float] = field(default_factory=list)  # click -> script_finished, seconds
    auto_rerun: tuple[float, str] | None = None
    run_label: str = "Run"  # the Run/Pause button's label now
    runs_finished: int = 0
    rerun_timeout = 120.0  # seconds one script run may take (not a field: a link's replay waits longer)
    headers: dict = field(default_factory=dict)  # of the WebSocket upgrade: a sticky proxy's cookie (bench/course.py)

    async def open(self) -> None:
        self._finished = asyncio.Event()
        self._ws = await connect(
            f"ws://127.0.0.1:{self.server.port}/_stcore/stream", subprotocols=["streamlit"],
            origin=f"http://127.0.0.1:{self.server.port}", max_size=None, proxy=None, open_timeout=60,
            additional_headers=self.headers,
            ping_interval=None,  # a browser sends no websocket pings: a busy server is measured, not dropped
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())
        await self._rerun()
        if self.step_shown != 0:
            self.mismatches += 1  # a fresh session starts at step 0, never on someone else's run

    async def close(self) -> None:
        await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader

    async def _read(self) -> None:
        async for data in self._ws:
            msg = ForwardMsg()
            msg.ParseFromString(data)
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                if msg.new_session.initialize.session_id:
                    self.session_id = msg.new_session.initialize.session_id
                self.page_hash = self.page_hash or msg.new_session.page_script_hash
            elif kind == "navigation":  # only a full run sends it: the browser drops its fragment timers then
                self.auto_rerun = None
                self.page_hash = msg.navigation.page_script_hash or self.page_hash  # the page this session is on
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self._element(msg.delta.new_element, msg.delta.fragment_id)
            elif kind == "auto_rerun":
                self.auto_rerun = (msg.auto_rerun.interval, msg.auto_rerun.fragment_id)
            elif kind == "stop_auto_rerun":
                self.auto_rerun = None
            elif kind == "script_finished" and msg.script_finished in FINISHED:
                self.runs_finished += 1
                self._finished.set()
            else:
                self.on_message(kind, msg)

    def on_message(self, kind: str, msg: ForwardMsg) -> None:
        """Any other message: nothing here (bench/course.py reads the address bar and the file URLs)."""

    def _element(self, element, fragment_id: str) -> None:
        kind = element.WhichOneof("type")
        if kind == "button":
            self.buttons[element.button.label] = (element.button.id, fragment_id, element.button.disabled)
            if element.button.id.endswith(("train_run", "train_pause")):
                self.run_label = element.button.label
        elif kind == "metric" and element.metric.label == "Step":
            self.step_shown = int(element.metric.body.replace(",", ""))
        elif kind == "exception":
            self.problems.append(f"exception: {element.exception.type}: {element.exception.message[:200]}")
        elif kind == "alert" and element.alert.format == element.alert.ERROR:
            self.problems.append(f"error shown: {element.alert.body[:200]}")

    async def _rerun(self, widget: str | None = None, fragment_id: str = "", auto: bool = False) -> float:
        """Rerun the page (a button's trigger, a fragment, a timer): seconds to its end."""
        state = BackMsg()
        client = state.rerun_script
        client.query_string = self.query
        client.page_script_hash = self.page_hash
        if not self.page_hash:
            client.page_name = self.page
        client.fragment_id = fragment_id
        client.is_auto_rerun = auto
        if widget is not None:
            client.widget_states.widgets.append(WidgetState(id=widget, trigger_value=True))
        return await self._send(state)

    async def _send(self, state: BackMsg) -> float:
        """Send a rerun request and wait for its end: seconds from sending to the server's script_finished."""
        self._finished.clear()
        start = time.perf_counter()
        await self._ws.send(state.SerializeToString())
        await asyncio.wait_for(self._finished.wait(), timeout=self.rerun_timeout)
        return time.perf_counter() - start

    async def click(self, label: str) -> float:
        widget, fragment_id, _ = self.buttons[label]
        before = self.step_shown
        seconds = await self._rerun(widget, fragment_id)
        if label in ("Run", "Pause"):  # its callback asks for a full rerun, which starts (or stops) the timer
            deadline = time.monotonic() + 60
            while self.run_label == label or (label == "Run") != (self.auto_rerun is not None):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{label} did not take effect")
                await asyncio.sleep(0.02)
        if label == "Step":
            self.latencies.append(seconds)
            if self.step_shown != (before or 0) + 1:
                self.mismatches += 1
        return seconds

    async def tick(self) -> None:
        """What the browser does on a fragment's run_every timer."""
        interval, fragment_id = self.auto_rerun
        await asyncio.sleep(interval)
        await self._rerun(fragment_id=fragment_id, auto=True)


async def open_sessions(server: Server, n: int, query: str = DEFAULT_QUERY, spread: float = 0.0) -> list[Session]:
    sessions = [Session(server, query) for _ in range(n)]

    async def start(s: Session, delay: float) -> None:
        await asyncio.sleep(delay)
        await s.open()

    await asyncio.gather(*(start(s, i * spread) for i, s in enumerate(sessions)))
    return sessions


async def close_all(sessions: list[Session]) -> None:
    await asyncio.gather(*(s.close() for s in sessions))


def wait_quiet(server: Server, limit: float = 120.0) -> tuple[float, float]:
    """Until the server's CPU over 3 s is under 3% (UMAP's warm-up done): (seconds waited, last CPU share)."""
    start, share = time.monotonic(), 1.0
    while time.monotonic() - start < limit:
        cpu0 = server.cpu_seconds()
        time.sleep(3)
        share = (server.cpu_seconds() - cpu0) / 3
        if share < 0.03:
            break
    return time.monotonic() - start, share


def report(lines: list[str], text: str) -> None:
    lines.append(text)
    print(text, flush=True)


def report_problems(lines: list[str], sessions: list[Session]) -> None:
    for problem in sorted({p for s in sessions for p in s.problems})[:5]:
        report(lines, f"    {problem}")


async def click_steps(sessions: list[Session], interval: float, seconds: float, t0: float, catch=()) -> int:
    """Each session clicks Step every `interval` s (from a random offset) until `seconds` after t0: timeouts caught."""
    timeouts = 0

    async def clicker(s: Session) -> None:
        nonlocal timeouts
        await asyncio.sleep(random.uniform(0, interval))
        next_at = time.monotonic()
        while time.monotonic() - t0 < seconds:
            try:
                await s.click("Step")
            except catch:
                timeouts += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    await asyncio.gather(*(clicker(s) for s in sessions))
    return timeouts


async def scenario_single(server: Server, clicks: int, lines: list[str]) -> None:
    for name, query in (("default", DEFAULT_QUERY), ("10,000 x 128", LARGE_QUERY)):
        (s,) = await open_sessions(server, 1, query)
        for _ in range(3):
            await s.click("Step")
        s.latencies.clear()
        cpu0 = server.cpu_seconds()
        for _ in range(clicks):
            await s.click("Step")
        cpu = (server.cpu_seconds() - cpu0) / clicks * 1000
        ms = [x * 1000 for x in s.latencies]
        report(
            lines,
            f"single {name:<13} CPU/click {cpu:6.1f} ms   click->idle median {statistics.median(ms):6.0f} ms "
            f"p90 {percentile(ms, 0.9):6.0f} ms   ({clicks} clicks, mismatches {s.mismatches}, problems "
            f"{len(s.problems)})",
        )
        await s.close()


async def scenario_class(server: Server, n: int, interval: float, seconds: float, linger: float, idle_mb: float,
                         heavy: int, lines: list[str]) -> None:  # fmt: skip
    idle_anon, idle_files = server.rss_mb("RssAnon"), server.rss_mb("RssFile")
    cpu_open = server.cpu_seconds()
    sessions = await open_sessions(server, n, spread=0.1)
    open_cpu = (server.cpu_seconds() - cpu_open) / n * 1000
    rss_open = server.rss_mb()
    cpu0, t0 = server.cpu_seconds(), time.monotonic()
    await click_steps(sessions, interval, seconds, t0)
    elapsed, cpu = time.monotonic() - t0, server.cpu_seconds() - cpu0
    clicks = sum(len(s.latencies) for s in sessions)
    ms = [x * 1000 for s in sessions for x in s.latencies]
    rss_busy = server.rss_mb()
    report(lines, f"class  {n} sessions, Step every {interval:g} s for {seconds:g} s: {clicks} clicks")
    report(lines, f"  page load CPU {open_cpu:.0f} ms/session; RSS after loads {rss_open:.0f} MB, after clicks "
                  f"{rss_busy:.0f} MB (idle {idle_mb:.0f} MB)")  # fmt: skip
    report(lines, f"  server CPU/click {cpu / max(clicks, 1) * 1000:.1f} ms; CPU busy {cpu / elapsed:.0%} of a core")
    report(lines, f"  click->idle median {statistics.median(ms):.0f} ms, p90 {percentile(ms, 0.9):.0f} ms, "
                  f"max {max(ms):.0f} ms")  # fmt: skip
    ids = {s.session_id for s in sessions}
    report(
        lines,
        f"  sessions that saw another's run or lost a step: {sum(s.mismatches > 0 for s in sessions)}; "
        f"distinct session ids {len(ids)}/{n}; problems shown: {sum(len(s.problems) for s in sessions)}",
    )
    report_problems(lines, sessions)
    cpu_idle0 = server.cpu_seconds()
    await asyncio.sleep(10)
    report(lines, f"  idle CPU with {n} sessions connected: {(server.cpu_seconds() - cpu_idle0) / 10:.1%} of a core")
    if heavy:  # memory that must come back: a few 10,000 x 128 runs beside the class
        big = await open_sessions(server, heavy, LARGE_QUERY)
        for s in big:
            for _ in range(20):
                await s.click("Step")
        report(lines, f"  + {heavy} sessions at 10,000 x 128, 20 Steps each: RSS {server.rss_mb():.0f} MB")
        sessions += big
    await close_all(sessions)
    start, samples = time.monotonic(), []
    while True:
        await asyncio.sleep(10)
        waited, rss = time.monotonic() - start, server.rss_mb()
        samples.append(f"{waited:.0f}s:{rss:.0f}")
        anon, files = server.rss_mb("RssAnon"), server.rss_mb("RssFile")
        if rss <= idle_mb + 100 or waited >= linger:
            break
    verdict = "back within 100 MB of idle" if rss <= idle_mb + 100 else "NOT back within 100 MB of idle"
    report(lines, f"  after disconnect: RSS {rss:.0f} MB at {waited:.0f} s, {verdict} (samples {' '.join(samples)})")
    report(lines, f"  of which anonymous {anon:.0f} MB (idle {idle_anon:.0f}), library file pages {files:.0f} MB "
                  f"(idle {idle_files:.0f})")  # fmt: skip


async def scenario_run(server: Server, runners: int, seconds: float, lines: list[str]) -> None:
    sessions = await open_sessions(server, runners, spread=0.1)
    (bystander,) = await open_sessions(server, 1)
    for s in sessions:
        await s.click("Run")
    t0 = time.monotonic()
    starts = {id(s): s.step_shown or 0 for s in sessions}

    async def runner(s: Session) -> None:
        while time.monotonic() - t0 < seconds and s.auto_rerun is not None:
            await s.tick()

    async def watcher() -> None:
        while time.monotonic() - t0 < seconds:
            await asyncio.sleep(2)
            await bystander.click("Step")

    await asyncio.gather(watcher(), *(runner(s) for s in sessions))
    steps = sorted((s.step_shown or 0) - starts[id(s)] for s in sessions)
    ms = [x * 1000 for x in bystander.latencies]
    report(lines, f"run    {runners} sessions on Run for {seconds:g} s + a bystander clicking Step every 2 s")
    report(lines, f"  steps per runner: min {steps[0]}, median {statistics.median(steps):.0f}, max {steps[-1]} "
                  f"(runners with no progress: {sum(x == 0 for x in steps)})")  # fmt: skip
    report(lines, f"  bystander click->idle median {statistics.median(ms):.0f} ms, p90 {percentile(ms, 0.9):.0f} ms "
                  f"({len(ms)} clicks, mismatches {bystander.mismatches})")  # fmt: skip
    await close_all([*sessions, bystander])


LINK_QUERIES = ("vocab_size=10000&dim=128&step=100", "seed=0&step=300")  # a class opening a teacher's link


@dataclass
class LinkSession(Session):
    """A session opening a link with &step=N: when its page first showed the step, and what its page estimated."""

    notes: list[str] = field(default_factory=list)  # the info alerts its page showed (the replay's estimate)

    def _element(self, element, fragment_id: str) -> None:
        if element.WhichOneof("type") == "alert" and element.alert.format == element.alert.INFO:
            self.notes.append(element.alert.body)
        super()._element(element, fragment_id)


def link_step(query: str) -> int:
    return int(dict(part.split("=", 1) for part in query.split("&"))["step"])


def other_seed(query: str) -> str:
    """The same link with another seed: the same work, a different run (no kept replay can serve it)."""
    params = dict(part.split("=", 1) for part in query.split("&"))
    params["seed"] = str(int(params.get("seed", "0")) + 1)
    return "&".join(f"{k}={v}" for k, v in params.items())


def server_budget_mb(server: Server) -> float | None:
    """The memory budget the server logged at its first run (serve.memory), in MB; None if it did not say."""
    match = re.search(r"memory budget for runs: ([0-9.]+) (GB|MB)", server.log.read_text(errors="replace"))
    if match is None:
        return None
    return float(match.group(1)) * (1024 if match.group(2) == "GB" else 1)


def estimates(notes: list[str]) -> str:
    """The seconds the pages' replay notes estimated ("about 13 s"), as a range, and whether any said it waits."""
    seconds = [int(x.replace(",", "")) for note in notes for x in re.findall(r"about ([0-9,]+) s", note)]
    waits = sum("another session" in note.lower() for note in notes)
    shown = f"{min(seconds)}-{max(seconds)} s" if seconds else "none shown"
    return f"{shown} ({waits} notes said they wait for another session's replay)"


async def open_link(server: Server, query: str, timeout: float, t0: float, delay: float = 0.0) -> LinkSession:
    """Open the link after `delay` s; its `latencies` holds [seconds from t0 to its page at the step] once there."""
    await asyncio.sleep(delay)
    s = LinkSession(server, query)
    s.rerun_timeout = timeout
    try:
        await s.open()  # the first run replays before the Train page draws its Step metric
        s.latencies = [time.perf_counter() - t0]
    except (TimeoutError, OSError) as error:
        s.problems.append(f"no page within {timeout:g} s: {type(error).__name__}")
        s.latencies = []
    return s


async def scenario_link(server: Server, n: int, query: str, spread: float, timeout: float, lines: list[str]) -> None:
    step = link_step(query)
    solo_query = other_seed(query)
    t_solo = time.perf_counter()
    solo = await open_link(server, solo_query, timeout, t_solo)
    solo_s = solo.latencies[0] if solo.latencies else float("nan")
    report(lines, f"link   {query}: one session alone ({solo_query}) at step {solo.step_shown} after {solo_s:.1f} s "
                  f"(its page estimated {estimates(solo.notes)})")  # fmt: skip
    await solo.close()
    (bystander,) = await open_sessions(server, 1)
    for _ in range(3):
        await bystander.click("Step")  # warm
    bystander.latencies.clear()
    rss = [server.rss_mb()]
    finished = asyncio.Event()

    async def sampler() -> None:
        while not finished.is_set():
            rss.append(server.rss_mb())
            await asyncio.sleep(0.25)

    async def clicker() -> None:
        next_at = time.monotonic()
        while not finished.is_set():
            await bystander.click("Step")
            next_at += 2.0
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    cpu0, t0 = server.cpu_seconds(), time.perf_counter()
    helpers = [asyncio.create_task(sampler()), asyncio.create_task(clicker())]
    students = await asyncio.gather(*(open_link(server, query, timeout, t0, i * spread / n) for i in range(n)))
    elapsed = time.perf_counter() - t0
    finished.set()
    await asyncio.gather(*helpers)
    cpu = server.cpu_seconds() - cpu0
    reached = sorted(s.latencies[0] for s in students if s.latencies and s.step_shown == step)
    wrong = sum(1 for s in students if s.latencies and s.step_shown != step)
    last = reached[-1] if reached else float("nan")
    verdict = "within" if len(reached) == n and last <= 2 * solo_s else "NOT within"
    report(lines, f"  {n} sessions opened it within {spread:g} s: {len(reached)}/{n} at step {step} (wrong step: "
                  f"{wrong}); first {reached[0] if reached else float('nan'):.1f} s, median "
                  f"{statistics.median(reached) if reached else float('nan'):.1f} s, last {last:.1f} s = "
                  f"{last / solo_s:.2f}x one replay: {verdict} 2x")  # fmt: skip
    report(lines, "  each reached it at (s): " + " ".join(f"{x:.1f}" for x in reached))
    report(lines, f"  the pages estimated {estimates([note for s in students for note in s.notes])}")
    ms = [x * 1000 for x in bystander.latencies]
    report(lines, f"  bystander's Step click->idle median {statistics.median(ms) if ms else float('nan'):.0f} ms, "
                  f"p90 {percentile(ms, 0.9):.0f} ms, max {max(ms, default=float('nan')):.0f} ms ({len(ms)} clicks, "
                  f"mismatches {bystander.mismatches})")  # fmt: skip
    budget = server_budget_mb(server)
    report(lines, f"  server CPU busy {cpu / elapsed:.0%} of a core over {elapsed:.0f} s; peak RSS {max(rss):.0f} MB "
                  f"(budget for runs {'unknown' if budget is None else f'{budget:.0f} MB'})")  # fmt: skip
    report_problems(lines, [*students, bystander])
    await close_all([s for s in students if s.latencies] + [bystander])
    await asyncio.sleep(2)


SPACE_STEPS = 40  # Step clicks before the Embedding space scenario: kept frames for its step slider to scrub
OTHER_PAGES = ("gradient_masks", "row_updates")  # opened too in the space scenario, after the same Steps
HUNDRED = 100  # sessions of the hundred scenario (its own bound: one class of a hundred, Step every 2 s)


@dataclass
class SpaceSession(Session):
    """A session that trains on Train, then opens Embedding space and moves its "Step for neighbours" slider."""

    slider: tuple | None = None  # (widget id, fragment id, option labels) of the step slider, once shown

    def _element(self, element, fragment_id: str) -> None:
        if element.WhichOneof("type") == "slider" and element.slider.label == "Step for neighbours":
            self.slider = (element.slider.id, fragment_id, list(element.slider.options))
        super()._element(element, fragment_id)

    async def goto(self, page: str) -> float:
        """Open another page of the app in this session (what the sidebar's link does): seconds to its end."""
        self.page, self.page_hash = page, ""
        return await self._rerun()

    async def scrub(self, option: str) -> float:
        """Move the step slider to `option` (a browser sends the slider's formatted value): seconds to its end."""
        widget, fragment_id, _ = self.slider
        state = BackMsg()
        client = state.rerun_script
        client.query_string, client.page_script_hash, client.fragment_id = self.query, self.page_hash, fragment_id
        value = WidgetState(id=widget)
        value.string_array_value.data.append(option)
        client.widget_states.widgets.append(value)
        return await self._send(state)


async def scenario_space(server: Server, opens: int, lines: list[str]) -> None:
    """Server CPU per opening of Embedding space and per move of its step slider, at the default size."""
    s = SpaceSession(server)
    await s.open()
    for _ in range(SPACE_STEPS):
        await s.click("Step")
    open_ms, scrub_ms, wall = [], [], []
    others = {page: [] for page in OTHER_PAGES}

    async def cpu_ms(rerun, ms: list[float]) -> None:  # the server CPU one rerun took, in ms
        cpu0 = server.cpu_seconds()
        wall.append(await rerun)
        ms.append((server.cpu_seconds() - cpu0) * 1000)

    for _ in range(opens):
        for page, ms in others.items():  # the other pages a Step's figures are on: CPU per open
            await cpu_ms(s.goto(page), ms)
        await cpu_ms(s.goto("embedding_space"), open_ms)
        if s.slider is None:
            s.problems.append("no step slider on Embedding space")
            break
        options = s.slider[2]
        for option in (options[0], options[len(options) // 2], options[-1]):
            await cpu_ms(s.scrub(option), scrub_ms)
        await s.goto("train")
    frames = len(s.slider[2]) if s.slider else 0
    first, rest = (open_ms[0], open_ms[1:]) if open_ms else (float("nan"), [])
    report(lines, f"space  default size after {SPACE_STEPS} Steps ({frames} kept frames): server CPU per open "
                  f"median {statistics.median(rest or open_ms):.0f} ms (first {first:.0f} ms, max "
                  f"{max(open_ms):.0f} ms), per step-slider move median {statistics.median(scrub_ms):.0f} ms "
                  f"(max {max(scrub_ms):.0f} ms); {opens} opens, {len(scrub_ms)} moves, problems "
                  f"{len(s.problems)}")  # fmt: skip
    report(lines, "  and per open of " + ", ".join(f"{page} median {statistics.median(ms):.0f} ms (max {max(ms):.0f})"
                                                for page, ms in others.items() if ms))  # fmt: skip
    for problem in s.problems[:5]:
        report(lines, f"    {problem}")
    await s.close()


async def scenario_hundred(server: Server, interval: float, seconds: float, lines: list[str]) -> None:
    """A hundred sessions, each clicking Step every `interval` s for `seconds` s: p90 click-to-idle <= 1 s, no error."""
    cpu_open = server.cpu_seconds()
    sessions = await open_sessions(server, HUNDRED, spread=0.05)
    open_cpu = (server.cpu_seconds() - cpu_open) / HUNDRED * 1000
    cpu0, t0 = server.cpu_seconds(), time.monotonic()
    timeouts = await click_steps(sessions, interval, seconds, t0, catch=TimeoutError)
    elapsed, cpu = time.monotonic() - t0, server.cpu_seconds() - cpu0
    clicks = sum(len(s.latencies) for s in sessions)
    ms = [x * 1000 for s in sessions for x in s.latencies]
    errors = sum(len(s.problems) for s in sessions) + sum(s.mismatches for s in sessions) + timeouts
    p90 = percentile(ms, 0.9)
    report(lines, f"hundred {HUNDRED} sessions, Step every {interval:g} s for {seconds:g} s: {clicks} clicks "
                  f"({clicks / elapsed:.1f}/s; {HUNDRED / interval:.0f}/s asked); page load CPU "
                  f"{open_cpu:.0f} ms/session")  # fmt: skip
    per_click = cpu / max(clicks, 1)
    report(lines, f"  server CPU/click {per_click * 1000:.1f} ms; CPU busy {cpu / elapsed:.0%} of a core; RSS "
                  f"{server.rss_mb():.0f} MB; a whole core (the GIL's one) holds {1 / per_click:.0f} clicks/s at this "
                  f"cost, {1 / per_click * interval:.0f} sessions clicking every {interval:g} s")  # fmt: skip
    report(lines, f"  click->idle median {statistics.median(ms):.0f} ms, p90 {p90:.0f} ms, max {max(ms):.0f} ms; "
                  f"errors {errors} (mismatches, problems shown, timeouts {timeouts}): "
                  f"{'MEETS' if p90 <= 1000 and not errors else 'MISSES'} p90 <= 1 s with no error")  # fmt: skip
    report_problems(lines, sessions)
    await close_all(sessions)


async def main_async(args: argparse.Namespace, server: Server, lines: list[str]) -> None:
    (warm,) = await open_sessions(server, 1)
    for _ in range(3):
        await warm.click("Step")
    waited, share = wait_quiet(server)
    idle_mb = server.rss_mb()
    report(lines, f"server warm (1 session, UMAP warm-up done after {waited:.0f} s): RSS {idle_mb:.0f} MB; "
                  f"idle CPU {share:.1%} of a core")  # fmt: skip
    cpu0 = server.cpu_seconds()
    await asyncio.sleep(5)
    report(lines, f"idle CPU with 1 session connected: {(server.cpu_seconds() - cpu0) / 5:.1%} of a core")
    await warm.close()
    if args.scenario in ("single", "all"):
        await scenario_single(server, args.clicks, lines)
    if args.scenario in ("class", "all"):
        await scenario_class(
            server, args.sessions, args.interval, args.seconds, args.linger, idle_mb, args.heavy, lines
        )
    if args.scenario in ("run", "all"):
        await scenario_run(server, args.runners, min(args.seconds, 40.0), lines)
    if args.scenario in ("space", "all"):
        await scenario_space(server, args.opens, lines)
    if args.scenario in ("hundred", "all"):
        await scenario_hundred(server, args.interval, args.seconds, lines)
    if args.scenario in ("link", "all"):
        for query in args.link_query or LINK_QUERIES:
            await scenario_link(server, args.link_sessions, query, args.link_spread, args.link_timeout, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario", choices=("single", "class", "run", "link", "space", "hundred", "all"), default="all"
    )
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--runners", type=int, default=10)
    parser.add_argument("--heavy", type=int, default=3, help="10,000 x 128 sessions added before all disconnect")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between one session's Step clicks")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the class and run phases")
    parser.add_argument("--clicks", type=int, default=30, help="Step clicks per config in the single scenario")
    parser.add_argument("--linger", type=float, default=180.0, help="seconds to watch RSS after disconnecting")
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="folder holding app.py (e.g. an older copy)")
    parser.add_argument("--flag", action="append", default=[], help="extra `streamlit run` flag, e.g. "
                        "--flag=--runner.postScriptGC=true (repeatable)")  # fmt: skip
    parser.add_argument("--opens", type=int, default=8, help="openings of Embedding space (space scenario)")
    parser.add_argument("--link-sessions", type=int, default=30, help="sessions opening one link (link scenario)")
    parser.add_argument("--link-spread", type=float, default=4.0, help="seconds over which they open it")
    parser.add_argument("--link-timeout", type=float, default=600.0, help="seconds a session may wait for its step")
    parser.add_argument("--link-query", action="append", default=[], help="a link with &step=N (repeatable; "
                        f"default: {' and '.join(LINK_QUERIES)})")  # fmt: skip
    parser.add_argument("--no-umap-warmup", action="store_true", help="skip the app's background UMAP compile")
    args = parser.parse_args()
    if not 1 <= args.opens <= 50:
        parser.error("opens: 1 to 50")
    if not (1 <= args.sessions <= MAX_SESSIONS and 1 <= args.runners <= MAX_SESSIONS and 0 <= args.heavy <= 10):
        parser.error(f"sessions and runners: 1 to {MAX_SESSIONS}; heavy: 0 to 10")
    if not (1 <= args.link_sessions <= MAX_SESSIONS and 0 <= args.link_spread <= 60):
        parser.error(f"link sessions: 1 to {MAX_SESSIONS}; link spread: up to 60 s")
    if not 0 < args.link_timeout <= MAX_SECONDS:
        parser.error(f"link timeout: up to {MAX_SECONDS} s")
    if not (0 < args.seconds <= MAX_SECONDS and 0 <= args.linger <= MAX_SECONDS):
        parser.error(f"seconds and linger: up to {MAX_SECONDS}")
    env = {"PYTHONUNBUFFERED": "1", **({"EMBEDDING_EXPLORER_NO_UMAP_WARMUP": "1"} if args.no_umap_warmup else {})}
    started = time.monotonic()
    server = Server(args.repo, args.flag, env)
    lines: list[str] = []
    try:
        report(lines, f"streamlit started in {time.monotonic() - started:.1f} s: RSS {server.rss_mb():.0f} MB "
                      f"(repo {args.repo}, flags {' '.join(args.flag) or 'none'})")  # fmt: skip
        asyncio.run(main_async(args, server, lines))
        problems = server.log_problems()
        report(lines, f"server log: {len(problems)} error/traceback lines ({server.log})")
        for line in problems[:5]:
            report(lines, f"  {line[:200]}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
