"""A course on one machine without Docker: N app processes behind Debian's HAProxy, with deploy/haproxy.cfg.

Usage:  .venv/bin/python -m bench.course [--replicas 2] [--sessions 30] [--seconds 30] [--kill] [--files]
        .venv/bin/python -m bench.course --serve --replicas 2 [--seconds 600]   (the topology only: open its URL)

deploy/compose.yaml's topology without containers: ``--replicas`` app processes (bench/load.py's Server, one shared
STREAMLIT_SERVER_COOKIE_SECRET) behind ``haproxy`` with deploy/haproxy.cfg, its ``server-template`` line (Docker's
DNS) replaced by a ``server appN 127.0.0.1:PORT`` line per process; each is stopped by its PID at the end. Sessions
(bench/load.py's client) join like a browser: a page load through the proxy for its cookies, then the WebSocket. It
prints the spread over processes, CPU per click, click-to-idle, RSS, and any session that saw another's run;
``--files``: a download and an upload through the proxy, and the download asked of the other replica (404: why the
proxy must be sticky); ``--kill``: SIGKILL one replica halfway, and measure how many of its sessions reconnect as a
tab does, how fast, and whether the replayed page shows the same step and numbers. Loopback only; bounded."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import statistics
import struct
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.exceptions import ConnectionClosed

from bench.load import REPO_ROOT, Server, Session, free_port, percentile, wait_quiet

PROXY_CONFIG = REPO_ROOT / "deploy" / "haproxy.cfg"
UPSTREAM = re.compile(r"^[ \t]*server-template .*$", re.MULTILINE)  # the one line a local run replaces
REPLICA_HEADER = "X-Replica"  # deploy/haproxy.cfg names the replica that answered
XSRF_COOKIE = "_streamlit_xsrf"
MAX_REPLICAS = 4
MAX_SESSIONS = 150  # bounds: a load test of one's own servers, not a flood
MAX_SECONDS = 300
NPY_MAGIC = b"\x93NUMPY"


def haproxy_path() -> str | None:
    """Debian's haproxy (``apt-get install -y haproxy``), or None."""
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if os.access(p, os.X_OK)), None)


def local_config(ports: list[int]) -> str:
    """deploy/haproxy.cfg with its upstream line replaced by one ``server`` line per loopback port."""
    text = PROXY_CONFIG.read_text()
    servers = "\n".join(f"    server app{i} 127.0.0.1:{port}" for i, port in enumerate(ports, 1))
    local, count = UPSTREAM.subn(servers, text)
    if count != 1:
        raise ValueError(f"{PROXY_CONFIG} must have exactly one server-template line, not {count}")
    return local


class Proxy(Server):
    """``haproxy -db`` in the foreground on a free loopback port, with deploy/haproxy.cfg for these ports."""

    name, seconds, poll, grace = "haproxy", 20, 0.1, 10
    late = "haproxy did not answer within 20 s"

    def __init__(self, ports: list[int], haproxy: str):
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="course-haproxy-"))
        self.config = self.folder / "haproxy.cfg"
        self.config.write_text(local_config(ports))
        self.log = self.folder / "haproxy.log"
        env = {**os.environ, "PROXY_BIND": f"127.0.0.1:{self.port}"}
        self._start([haproxy, "-db", "-f", str(self.config)], None, env)


class Course:
    """The topology: ``replicas`` app processes (started in parallel) and the proxy in front of them."""

    def __init__(self, replicas: int, env: dict[str, str] | None = None, repo: Path = REPO_ROOT):
        haproxy = haproxy_path()
        if haproxy is None:
            raise FileNotFoundError("no haproxy: apt-get install -y haproxy")
        self.secret = secrets.token_hex(32)  # one cookie secret for every replica, as compose passes one
        env = {"PYTHONUNBUFFERED": "1", "STREAMLIT_SERVER_COOKIE_SECRET": self.secret, **(env or {})}
        self.servers: list[Server] = []
        self.proxy: Proxy | None = None
        try:
            with ThreadPoolExecutor(replicas) as pool:
                futures = [pool.submit(Server, repo, [], env) for _ in range(replicas)]
                for future in futures:  # every start is waited for, so none is left running unseen
                    with contextlib.suppress(Exception):
                        self.servers.append(future.result())
            if len(self.servers) != replicas:
                raise RuntimeError(f"only {len(self.servers)} of {replicas} replicas started")
            self.proxy = Proxy([s.port for s in self.servers], haproxy)
        except BaseException:
            self.stop()
            raise

    def replica(self, name: str) -> Server:
        """The process behind HAProxy's server name ``appN``."""
        return self.servers[int(name.removeprefix("app")) - 1]

    def kill(self, name: str) -> None:
        """SIGKILL one replica (its PID), as a crash would: no goodbye to its sessions."""
        server = self.replica(name)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)

    def stop(self) -> None:
        for process in [self.proxy, *self.servers]:
            if process is not None:
                process.stop()

    def __enter__(self) -> Course:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class Lost(Exception):
    """The session's WebSocket closed under it (its replica died)."""


@dataclass
class Tab(Session):
    """A browser tab behind the proxy: cookies, the address bar, the page's texts, downloads and uploaders."""

    cookies: dict = field(default_factory=dict)
    replica: str = ""  # HAProxy's name of the process that holds this session
    texts: list[str] = field(default_factory=list)  # markdown and captions of the run going on, in order
    shown: list[str] = field(default_factory=list)  # ... of the last run that finished
    metrics: dict = field(default_factory=dict)  # label -> value shown
    downloads: list = field(default_factory=list)  # (label, deferred file id or "", url or "", disabled)
    uploaders: dict = field(default_factory=dict)  # label -> widget id
    lost: bool = False
    opened_at: float = 0.0  # time.monotonic() when the WebSocket opened
    _replies: dict = field(default_factory=dict)  # request id -> Future of the server's answer

    def http(self, path: str, data: bytes | None = None, method: str = "GET", headers: dict | None = None):
        """One HTTP request through the proxy with this tab's cookies: (status, headers, body)."""
        request = urllib.request.Request(self.server.url(path), data=data, method=method, headers=headers or {})
        if self.cookies:
            request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, reply, body = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, reply, body = error.code, error.headers, error.read()
        self._keep_cookies(reply.get_all("Set-Cookie") or [])
        return status, reply, body

    def _keep_cookies(self, set_cookies: list[str]) -> None:
        for header in set_cookies:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value

    async def join(self) -> None:
        """What a browser does: load the page and check the server (cookies), then open the WebSocket with them."""
        for path in (f"/{self.page}", "/_stcore/health"):  # the page, then the check its script makes (XSRF cookie)
            status, _, _ = await asyncio.to_thread(self.http, path)
            if status != 200:
                raise RuntimeError(f"{path} through the proxy: HTTP {status}")
        await self.connect()

    async def connect(self) -> None:
        self.headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        await self.open()
        response = self._ws.response
        self._keep_cookies(response.headers.get_all("Set-Cookie"))  # a redispatched tab gets its new replica's
        self.replica = response.headers.get(REPLICA_HEADER, "")

    async def rejoin(self, within: float = 60.0) -> Tab:
        """A reconnecting tab: a new WebSocket, same cookies and address bar, retried every 0.5 s for `within` s."""
        deadline = time.monotonic() + within
        while True:
            tab = Tab(self.server, self.query, self.page, cookies=dict(self.cookies))
            try:
                await tab.connect()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        tab.mismatches = 0  # open() expects step 0; a link's &step=N replays to N (checked by the caller)
        return tab

    async def gone(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)

    async def _read(self) -> None:
        try:
            await super()._read()
        except ConnectionClosed:
            pass  # its replica died: the tab notices, as a browser does, and reconnects
        finally:  # closed: whatever waits for this session's answers is told
            self.lost = True
            self._finished.set()
            for future in self._replies.values():
                if not future.done():
                    future.set_exception(Lost())

    async def _rerun(self, widget: str | None = None, fragment_id: str = "", auto: bool = False) -> float:
        self.texts = []
        self.opened_at = self.opened_at or time.monotonic()  # the first rerun follows the WebSocket handshake
        seconds = await super()._rerun(widget, fragment_id, auto)
        if self.lost:
            raise Lost()
        self.shown = self.texts
        return seconds

    def on_message(self, kind: str, msg) -> None:
        if kind == "page_info_changed":  # the app wrote the address bar (its settings and &step=N)
            self.query = msg.page_info_changed.query_string
        elif kind == "file_urls_response":
            self._answer(msg.file_urls_response.response_id, msg.file_urls_response)
        elif kind == "backend_operation_response":
            self._answer(msg.backend_operation_response.request_id, msg.backend_operation_response)

    def _answer(self, request_id: str, reply) -> None:
        future = self._replies.pop(request_id, None)
        if future is not None and not future.done():
            future.set_result(reply)

    def _element(self, element, fragment_id: str) -> None:
        super()._element(element, fragment_id)
        kind = element.WhichOneof("type")
        if kind == "markdown":
            self.texts.append(element.markdown.body)
        elif kind == "metric":
            self.metrics[element.metric.label] = element.metric.body
        elif kind == "download_button":
            button = element.download_button
            self.downloads.append((button.label, button.deferred_file_id, button.url, button.disabled))
        elif kind == "file_uploader":
            self.uploaders[element.file_uploader.label] = element.file_uploader.id

    async def _ask(self, msg: BackMsg, request, timeout: float = 60):
        """Send `msg`, whose `request` part gets a new id and this session's, and wait for the answer to that id."""
        request.request_id, request.session_id = uuid.uuid4().hex, self.session_id
        future = asyncio.get_running_loop().create_future()
        self._replies[request.request_id] = future
        await self._ws.send(msg.SerializeToString())
        return await asyncio.wait_for(future, timeout)

    def loss_caption(self) -> str | None:
        """The Train page's "Step N: loss X" caption of the last run."""
        return next((t for t in self.shown if re.match(r"Step \d+: loss ", t)), None)

    async def step(self) -> float:
        """One Step click; Lost when the replica died under it (its latency is not counted)."""
        count, mismatches = len(self.latencies), self.mismatches
        try:
            return await self.click("Step")
        except Exception as error:
            del self.latencies[count:]
            self.mismatches = mismatches
            raise Lost() from error

    async def download(self, label_start: str = "") -> tuple[str, bytes, str]:
        """The page's first enabled download (whose label starts so) through the proxy: (its path, bytes, label)."""
        label, deferred, url, _ = next(d for d in self.downloads if not d[3] and d[0].startswith(label_start))
        if deferred:  # made only when clicked: the browser asks the session for its URL
            msg = BackMsg()
            msg.backend_operation_request.deferred_file.file_id = deferred
            reply = await self._ask(msg, msg.backend_operation_request)
            if reply.error_msg:
                raise RuntimeError(f"deferred download refused: {reply.error_msg}")
            url = reply.deferred_file.url
        status, _, body = await asyncio.to_thread(self.http, url)
        if status != 200:
            raise RuntimeError(f"download {url} through the proxy: HTTP {status}")
        return url, body, label

    async def upload(self, label_start: str, name: str, data: bytes) -> None:
        """What the browser does for a file uploader: ask for URLs, PUT the file through the proxy, rerun."""
        widget = next(i for label, i in self.uploaders.items() if label.startswith(label_start))
        msg = BackMsg()
        msg.file_urls_request.file_names.append(name)
        reply = await self._ask(msg, msg.file_urls_request)
        urls = reply.file_urls[0]
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        headers["X-Xsrftoken"] = self.cookies[XSRF_COOKIE]  # Streamlit's check: the header matches the cookie
        status, _, answer = await asyncio.to_thread(self.http, urls.upload_url, body, "PUT", headers)
        if status not in (200, 204):
            raise RuntimeError(f"upload through the proxy: HTTP {status} {answer[:200]!r}")
        state = WidgetState(id=widget)
        info = state.file_uploader_state_value.uploaded_file_info.add()
        info.file_id, info.name, info.size = urls.file_id, name, len(data)
        info.file_urls.CopyFrom(urls)
        await self._send_widgets([state])

    async def _send_widgets(self, states: list[WidgetState]) -> None:
        self.texts = []
        msg = BackMsg()
        msg.rerun_script.query_string = self.query
        msg.rerun_script.page_script_hash = self.page_hash
        msg.rerun_script.widget_states.widgets.extend(states)
        await self._send(msg)


def report(text: str) -> None:
    print(text, flush=True)


def npy_bytes(rows: int, dim: int) -> bytes:
    """A small float32 .npy file, made by hand (the bench imports no numpy)."""
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"  # the data starts at a multiple of 64 bytes
    values = struct.pack(f"<{rows * dim}f", *((i % 7) / 4 for i in range(rows * dim)))
    return NPY_MAGIC + b"\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + values


async def check_files(course: Course) -> None:
    """A download and an upload through the proxy, on the Export page; the download asked of another replica."""
    tab = Tab(course.proxy, page="export")
    await tab.join()
    url, body, label = await tab.download(".npy")
    report(f"download through the proxy: {label!r} {url.split('?')[0]} -> HTTP 200, {len(body):,} bytes "
           f"(.npy header {'ok' if body.startswith(NPY_MAGIC) else 'MISSING'}), from {tab.replica}")  # fmt: skip
    others = [s for s in course.servers if s is not course.replica(tab.replica)]
    if others:
        try:
            with urllib.request.urlopen(others[0].url(url), timeout=10) as response:
                answer = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            answer = f"HTTP {error.code}"
        report(f"  the same URL asked of another replica directly: {answer} (the file lives in one process)")
    await tab.upload("Embedding matrix", "course.npy", npy_bytes(20, 4))
    shown = tab.metrics.get("Imported table", "nothing")
    report(f"upload through the proxy: course.npy (20 x 4) -> the page shows 'Imported table {shown}'"
           f"{'' if shown.replace(' ', '') == '20×4' else '  <-- NOT the uploaded table'}")  # fmt: skip
    await tab.close()


@dataclass
class Comeback:
    """One session's trip from a killed replica back to its step."""

    before_step: str | None
    before_loss: str | None
    before_texts: list[str]
    seconds: float = float("nan")  # from the kill to the page back at its step
    reconnected: float = float("nan")  # from the kill to the WebSocket open again
    same_step: bool = False
    same_loss: bool = False
    same_texts: bool = False
    replica: str = ""


def step_in(query: str) -> str | None:
    found = re.search(r"(?:^|&)step=(\d+)", query)
    return found.group(1) if found else None


async def class_load(course: Course, n: int, interval: float, seconds: float, kill_at: float | None):
    """n tabs click Step every `interval` s for `seconds` s; with `kill_at`, the busiest replica dies then."""
    tabs = []
    for i in range(n):  # joined one after the other, like students arriving: leastconn spreads them
        tab = Tab(course.proxy)
        await tab.join()
        tabs.append(tab)
        await asyncio.sleep(0.05 if i < n - 1 else 0)
    spread = Counter(t.replica for t in tabs)
    cpu0 = {s.port: s.cpu_seconds() for s in course.servers}
    proxy_cpu0 = course.proxy.cpu_seconds()
    t0, client0 = time.monotonic(), time.process_time()
    victim = max(sorted(spread), key=spread.__getitem__) if kill_at is not None else None
    killed_at: list[float] = []
    comebacks: list[Comeback] = []

    async def killer() -> None:
        await asyncio.sleep(kill_at)
        killed_at.append(time.monotonic())
        course.kill(victim)

    async def student(k: int) -> None:
        tab = tabs[k]
        await asyncio.sleep(k / n * interval)
        next_at = time.monotonic()
        while time.monotonic() - t0 < seconds:
            try:
                await tab.step()
            except Lost:
                query_step = step_in(tab.query)
                loss = tab.loss_caption()
                if loss is not None and not loss.startswith(f"Step {query_step}:"):
                    loss = None  # the click in flight had moved the address bar on: its caption never came
                back = Comeback(query_step, loss, tab.shown if loss else [])
                comebacks.append(back)
                try:
                    new = await tab.rejoin()
                except Exception:
                    return  # never came back: counted as such
                back.seconds = time.monotonic() - killed_at[0]
                back.reconnected = new.opened_at - killed_at[0]
                back.replica = new.replica
                back.same_step = str(new.step_shown) == (query_step or "0")
                back.same_loss = loss is None or new.loss_caption() == loss
                back.same_texts = set(back.before_texts) <= set(new.shown)
                new.latencies, new.mismatches = tab.latencies, tab.mismatches
                tabs[k] = tab = new
                next_at = time.monotonic()
                continue
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    tasks = [student(k) for k in range(n)] + ([killer()] if kill_at is not None else [])
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - t0
    client = (time.process_time() - client0) / elapsed
    return tabs, spread, cpu0, proxy_cpu0, elapsed, victim, comebacks, client


async def run_class(course: Course, n: int, interval: float, seconds: float, kill: bool) -> float:
    """One load phase, printed; returns its click-to-idle p90 in ms."""
    result = await class_load(course, n, interval, seconds, seconds / 2 if kill else None)
    tabs, spread, cpu0, proxy_cpu0, elapsed, victim, comebacks, client = result
    ms = [x * 1000 for t in tabs for x in t.latencies]
    clicks = len(ms)
    report(f"class  {n} sessions through the proxy on {len(course.servers)} process(es), Step every {interval:g} s "
           f"for {seconds:g} s: {clicks} clicks; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    after = f"; after the kill: {_spread(Counter(t.replica for t in tabs))}" if kill else ""
    report(f"  sessions per process: {_spread(spread)}{after}")
    for i, server in enumerate(course.servers, 1):
        if server.process.poll() is not None:
            report(f"  app{i}: killed")
            continue
        own = sum(len(t.latencies) for t in tabs if t.replica == f"app{i}")
        cpu = server.cpu_seconds() - cpu0[server.port]
        per_click = f"server CPU/click {cpu / own * 1000:.1f} ms over {own} clicks, " if own and not kill else ""
        report(f"  app{i}: {per_click}CPU busy {cpu / elapsed:.0%} of a core, RSS {server.rss_mb():.0f} MB")
    proxy_cpu = course.proxy.cpu_seconds() - proxy_cpu0
    report(f"  haproxy: CPU {proxy_cpu / max(clicks, 1) * 1000:.2f} ms/click, RSS "
           f"{course.proxy.rss_mb():.0f} MB; this client: {client:.0%} of a core")  # fmt: skip
    p90 = percentile(ms, 0.9)
    report(f"  click->idle median {statistics.median(ms):.0f} ms, p90 {p90:.0f} ms, max {max(ms):.0f} ms")
    ids = {t.session_id for t in tabs}
    own_steps = sum(t.step_shown == len(t.latencies) for t in tabs)
    report(f"  sessions that saw another's run or lost a step: {sum(t.mismatches > 0 for t in tabs)}; distinct "
           f"session ids {len(ids)}/{n}; sessions whose Step equals their own clicks {own_steps}/{n}; problems "
           f"shown: {sum(len(t.problems) for t in tabs)}")  # fmt: skip
    if kill:
        back = [c for c in comebacks if c.same_step]
        secs = [c.seconds for c in comebacks if c.seconds == c.seconds]
        report(f"  killed {victim} (SIGKILL) at {seconds / 2:g} s with {spread[victim]} sessions on it: "
               f"{len(comebacks)} lost their WebSocket, {len(secs)} reconnected through the proxy, {len(back)} back "
               f"at their step")  # fmt: skip
        if secs:
            opened = [c.reconnected for c in comebacks if c.seconds == c.seconds]
            report(f"  from the kill: WebSocket open again through the proxy after median "
                   f"{statistics.median(opened):.1f} s (max {max(opened):.1f} s); page back at its step (replayed) "
                   f"after median {statistics.median(secs):.1f} s (max {max(secs):.1f} s); a browser adds its own "
                   "reconnect back-off")  # fmt: skip
        same_loss = sum(c.same_loss and c.before_loss is not None for c in comebacks)
        known = sum(c.before_loss is not None for c in comebacks)
        report(f"  same loss at the step: {same_loss}/{known} (\"Step N: loss X\"; the others' click was in flight); "
               f"same texts of the Train page: {sum(c.same_texts for c in comebacks)}/{len(comebacks)}; landed on "
               + ", ".join(f"{k} {v}" for k, v in sorted(Counter(c.replica for c in comebacks).items())))  # fmt: skip
        for c in comebacks[:3]:
            report(
                f"    before: step {c.before_step}, {c.before_loss!r}; after {c.seconds:.1f} s on {c.replica}: "
                f"step {'same' if c.same_step else 'DIFFERENT'}, loss {'same' if c.same_loss else 'DIFFERENT'}"
            )
    await asyncio.gather(*(t.close() for t in tabs), return_exceptions=True)
    return p90


def _spread(spread: Counter) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(spread.items()))


async def warm_up(course: Course) -> None:
    """One session per process clicks a few Steps (imports, first-run caches) before anything is measured."""
    tabs = [Tab(course.proxy) for _ in course.servers]
    for tab in tabs:
        await tab.join()
    for tab in tabs:
        for _ in range(3):
            await tab.step()
    with ThreadPoolExecutor(len(course.servers)) as pool:  # UMAP's background compile done: CPU is the clicks'
        waits = list(pool.map(wait_quiet, course.servers))
    report("warm: " + ", ".join(f"{t.replica} RSS {course.replica(t.replica).rss_mb():.0f} MB" for t in tabs)
           + f" (quiet after {max(w for w, _ in waits):.0f} s)")  # fmt: skip
    await asyncio.gather(*(t.close() for t in tabs))


async def main_async(args: argparse.Namespace, course: Course) -> None:
    await warm_up(course)
    if args.files:
        await check_files(course)
    for n in args.sessions:
        p90 = await run_class(course, n, args.interval, args.seconds, kill=False)
        if p90 > 1000:
            report(f"  p90 over 1 s at {n} sessions: the sweep stops here")
            break
    if args.kill:
        if len(course.servers) < 2:
            report("kill: needs --replicas 2 or more")
        else:
            await run_class(course, args.kill_sessions, args.interval, max(args.seconds, 20), kill=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--sessions", default="30", help="sessions of each load phase, e.g. 20,40,60 (a sweep that "
                        "stops after the first p90 over 1 s)")  # fmt: skip
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between one session's Step clicks")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each load phase")
    parser.add_argument("--files", action="store_true", help="a download and an upload through the proxy")
    parser.add_argument("--kill", action="store_true", help="a last phase that kills a replica halfway")
    parser.add_argument("--kill-sessions", type=int, default=20, help="sessions of the kill phase")
    parser.add_argument("--serve", action="store_true", help="start the topology, print its URL, wait --seconds")
    args = parser.parse_args()
    args.sessions = [int(x) for x in str(args.sessions).split(",")]
    if not (1 <= args.replicas <= MAX_REPLICAS):
        parser.error(f"replicas: 1 to {MAX_REPLICAS}")
    if not all(1 <= n <= MAX_SESSIONS for n in [*args.sessions, args.kill_sessions]):
        parser.error(f"sessions: 1 to {MAX_SESSIONS}")
    if not (0 < args.seconds <= MAX_SECONDS) and not args.serve:
        parser.error(f"seconds: up to {MAX_SECONDS}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped bench still stops what it started
    started = time.monotonic()
    with Course(args.replicas) as course:
        where = ", ".join(f"app{i} :{s.port} (PID {s.process.pid})" for i, s in enumerate(course.servers, 1))
        report(f"{args.replicas} replica(s) and haproxy started in {time.monotonic() - started:.1f} s: "
               f"{course.proxy.url('/')} (PID {course.proxy.process.pid}) -> {where}")  # fmt: skip
        if args.serve:
            report(f"serving for {args.seconds:g} s (Ctrl-C stops every process)")
            with contextlib.suppress(KeyboardInterrupt):
                time.sleep(args.seconds)
            return
        asyncio.run(main_async(args, course))
        for i, server in enumerate(course.servers, 1):
            if server.process.poll() is None:
                problems = server.log_problems()
                report(f"app{i} log: {len(problems)} error/traceback lines ({server.log})")
                for line in problems[:3]:
                    report(f"  {line[:200]}")


if __name__ == "__main__":
    sys.exit(main())
