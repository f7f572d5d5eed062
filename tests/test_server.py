"""serve: the memory limit read from (fake) cgroup files, the budget, admission and release, cleanup of gone
sessions, and the fairness of the work slot."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from serve import janitor, memory
from serve.memory import Registry, ServerBusy
from serve.slot import FairSlot, Turns

GB = 1024**3
MB = 1024**2


def fake_proc(tmp_path: Path, cgroup_lines: str, mem_total_kb: int = 8 * 1024**2) -> tuple[Path, Path, Path]:
    root = tmp_path / "cgroup"
    root.mkdir()
    proc_cgroup = tmp_path / "proc_self_cgroup"
    proc_cgroup.write_text(cgroup_lines)
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(f"MemTotal:       {mem_total_kb} kB\nMemFree:        1000 kB\n")
    return root, proc_cgroup, meminfo


def test_memory_limit_cgroup_v2_root(tmp_path):
    root, proc, meminfo = fake_proc(tmp_path, "0::/\n")
    (root / "memory.max").write_text(f"{2_700_000_000}\n")
    assert memory.memory_limit(root, proc, meminfo) == 2_700_000_000


def test_memory_limit_cgroup_v2_own_path_and_max(tmp_path):
    root, proc, meminfo = fake_proc(tmp_path, "0::/user.slice/app.scope\n")
    (root / "memory.max").write_text("max\n")  # no limit at the root
    (root / "user.slice" / "app.scope").mkdir(parents=True)
    (root / "user.slice" / "app.scope" / "memory.max").write_text(f"{1 * GB}\n")
    assert memory.memory_limit(root, proc, meminfo) == 1 * GB


def test_memory_limit_cgroup_v1(tmp_path):
    root, proc, meminfo = fake_proc(tmp_path, "4:memory:/docker/abc\n3:cpuset:/\n")
    (root / "memory" / "docker" / "abc").mkdir(parents=True)
    (root / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "unlimited"
    (root / "memory" / "docker" / "abc" / "memory.limit_in_bytes").write_text(f"{700 * MB}\n")
    assert memory.memory_limit(root, proc, meminfo) == 700 * MB


def test_memory_limit_falls_back_to_memtotal(tmp_path):
    root, proc, meminfo = fake_proc(tmp_path, "0::/\n", mem_total_kb=4 * 1024**2)
    assert memory.memory_limit(root, proc, meminfo) == 4 * GB
    (root / "memory.max").write_text(f"{64 * GB}\n")  # a limit above the machine's memory does not count
    assert memory.memory_limit(root, proc, meminfo) == 4 * GB


def test_default_budget_arithmetic():
    # 2.7 GB container, 700 MB process footprint, 75% of the rest
    assert memory.default_budget(2700 * MB, 700 * MB, 0.75) == int(2000 * MB * 0.75)
    assert memory.default_budget(500 * MB, 700 * MB) == 0  # a container smaller than the process: no runs fit


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1500MB", 1500 * MB), ("1.5GB", int(1.5 * GB)), ("2GiB", 2 * GB), ("123456", 123456), ("800 mb", 800 * MB)],
)
def test_parse_bytes(text, expected):
    assert memory.parse_bytes(text) == expected


def test_parse_bytes_refuses_nonsense():
    with pytest.raises(ValueError, match="EMBEDDING_EXPLORER_MEMORY_BUDGET"):
        memory.parse_bytes("lots")


def test_budget_from_environment_variable(monkeypatch):
    monkeypatch.setenv(memory.BUDGET_ENV, "900MB")
    assert memory.budget_from_environment() == 900 * MB


def test_admit_refuses_over_budget_and_names_the_numbers():
    reg = Registry(budget=1000 * MB)
    reg.admit("a", 400 * MB)
    reg.admit("b", 400 * MB)
    with pytest.raises(ServerBusy) as busy:
        reg.admit("c", 300 * MB)
    message = busy.value.message
    assert "at its memory budget" in message
    assert "2 other runs hold 800 MB" in message
    assert "1000 MB" in message and "300 MB" in message
    assert "smaller" in message
    assert reg.held == 800 * MB and "c" not in reg  # the refused run holds nothing


def test_a_run_larger_than_the_whole_budget_says_so():
    reg = Registry(budget=1 * GB)
    with pytest.raises(ServerBusy, match="more than this server's whole memory budget"):
        reg.admit("a", 2 * GB)


def test_a_new_run_replaces_the_sessions_old_one():
    reg = Registry(budget=1000 * MB)
    reg.admit("a", 900 * MB)
    reg.admit("a", 950 * MB)  # 900 + 950 would not fit, but the old run goes
    assert reg.held == 950 * MB and len(reg) == 1


def test_release_frees_room():
    reg = Registry(budget=1000 * MB)
    reg.admit("a", 600 * MB)
    with pytest.raises(ServerBusy):
        reg.admit("b", 600 * MB)
    reg.release("a")
    reg.release("a")  # twice is harmless
    reg.admit("b", 600 * MB)
    assert reg.held == 600 * MB


def test_admit_charges_cfg_memory_bytes(monkeypatch):
    from core import TrainConfig
    from core.budget import run_bytes

    reg = Registry(budget=10 * GB)
    monkeypatch.setattr(memory, "_registry", reg)
    cfg = TrainConfig(vocab_size=1000, dim=32)
    memory.admit("s1", run_bytes(cfg).total)  # what the session charges for a run of cfg
    assert reg.held == cfg.memory_bytes()
    memory.release("s1")
    assert reg.held == 0


def test_sweep_frees_only_sessions_gone_longer_than_the_grace():
    now = [0.0]
    reg = Registry(budget=10 * GB, clock=lambda: now[0])
    reg.admit("here", 1 * MB)
    gone_state = StateLike(trainer=object(), cache={}, cfg="keep")
    reg.admit("gone", 2 * MB, state=gone_state)
    active = {"here"}
    assert reg.sweep(active.__contains__, grace=60) == []  # gone only 0 s
    now[0] = 59.0
    assert reg.sweep(active.__contains__, grace=60) == []
    now[0] = 61.0
    freed = reg.sweep(active.__contains__, grace=60)
    assert [sid for sid, _ in freed] == ["gone"]
    assert reg.held == 1 * MB and "here" in reg


def test_sweep_counts_the_grace_from_when_the_session_was_last_seen():
    now = [0.0]
    reg = Registry(budget=10 * GB, clock=lambda: now[0])
    reg.admit("a", 1 * MB)
    now[0] = 100.0
    assert reg.sweep(lambda sid: True) == []  # connected at t=100
    now[0] = 150.0
    assert reg.sweep(lambda sid: False, grace=60) == []  # gone since 100: 50 s
    now[0] = 161.0
    assert [sid for sid, _ in reg.sweep(lambda sid: False, grace=60)] == ["a"]


class StateLike(dict):
    """Stands in for Streamlit's SessionState: a mapping that can be weakly referenced."""


def test_a_run_is_released_when_its_sessions_state_is_gone():
    """Streamlit closed the session (or an AppTest ended): its SessionState is collected, and the charge goes."""
    import gc

    reg = Registry(budget=10 * GB)
    state = StateLike(trainer=object())
    reg.admit("s", 100 * MB, state=state)
    reg.admit("s", 200 * MB, state=state)  # the same session's next run: one finalizer, the new charge
    assert reg.held == 200 * MB
    del state
    gc.collect()
    assert reg.held == 0 and "s" not in reg


class FakeRuntime:
    def __init__(self, active):
        self.active = set(active)
        self.closed = []

    def is_active_session(self, session_id):
        return session_id in self.active

    def clear_user_info_for_session(self, session_id):
        self.closed.append(session_id)


def test_janitor_pass_drops_heavy_state_releases_and_closes(monkeypatch):
    now = [0.0]
    reg = Registry(budget=10 * GB, clock=lambda: now[0])
    monkeypatch.setattr(memory, "_registry", reg)
    gone_state = StateLike(trainer=object(), cache={"x": 1}, cfg="settings", store={})
    here_state = StateLike(trainer=object(), cache={})
    reg.admit("gone", 5 * MB, state=gone_state)
    reg.admit("here", 5 * MB, state=here_state)
    rt = FakeRuntime(active={"here"})
    now[0] = 61.0
    assert janitor.janitor_pass(rt, grace=60) == ["gone"]
    assert gone_state == {}  # everything the session held goes (its settings are in its URL)
    assert "trainer" in here_state
    assert rt.closed == ["gone"]
    assert reg.held == 5 * MB


def test_fair_slot_serves_in_arrival_order():
    slot = FairSlot(1)
    order: list[int] = []
    slot.acquire()  # the main thread holds it while the others queue up in a known order
    threads = []
    for i in range(6):
        t = threading.Thread(target=lambda i=i: (slot.acquire(), order.append(i), slot.release()))
        t.start()
        deadline = time.monotonic() + 5
        while slot.waiting < i + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        threads.append(t)
    slot.release()
    for t in threads:
        t.join(5)
    assert order == list(range(6))


def _taking_turns(turns: Turns, n: int) -> tuple[list[threading.Thread], list[threading.Event], list[int]]:
    """n threads that each take a turn, note it, then wait for their event before ending."""
    ends, entered = [threading.Event() for _ in range(n)], []

    def arrive(i: int) -> None:
        turns.wait_turn()
        entered.append(i)
        ends[i].wait(10)

    threads = [threading.Thread(target=arrive, args=(i,)) for i in range(n)]
    return threads, ends, entered


def test_turns_let_a_burst_in_two_at_a_time_each_when_one_before_it_has_ended():
    turns = Turns(size=2, limit=30.0)
    threads, ends, entered = _taking_turns(turns, 4)
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while len(entered) < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    threads[2].join(0.2)
    threads[3].join(0.2)
    assert len(entered) == 2  # two in their turn, both alive: the others wait
    first = entered[0]
    ends[first].set()
    threads[first].join(5)
    deadline = time.monotonic() + 5
    while len(entered) < 3 and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(0.1)
    assert len(entered) == 3  # one ended: one more in, not both
    for e in ends:
        e.set()
    for t in threads:
        t.join(5)
    assert sorted(entered) == [0, 1, 2, 3]


def test_a_turn_that_outlasts_its_limit_lets_the_next_one_in_so_nothing_stays_locked():
    turns = Turns(size=1, limit=0.05)
    threads, ends, entered = _taking_turns(turns, 2)
    threads[0].start()
    deadline = time.monotonic() + 5
    while not entered and time.monotonic() < deadline:
        time.sleep(0.001)
    ends[1].set()  # the second ends as soon as it is in
    threads[1].start()
    threads[1].join(5)
    assert threads[0].is_alive() and entered == [0, 1]  # the first still holds its thread: its turn ran out
    for e in ends:
        e.set()
    threads[0].join(5)


def test_fair_slot_bystander_is_not_starved_by_busy_loops():
    """Four threads loop on the slot in short chunks as fast as they can; a bystander that queues gets the slot
    after at most one chunk of each, not after they are done."""
    slot = FairSlot(1)
    stop = threading.Event()
    chunks = [0] * 4

    def runner(k: int) -> None:
        while not stop.is_set():
            with slot():
                chunks[k] += 1
                time.sleep(0.002)  # a training step

    runners = [threading.Thread(target=runner, args=(k,)) for k in range(4)]
    for t in runners:
        t.start()
    time.sleep(0.05)
    waits = []
    for _ in range(10):
        start = time.perf_counter()
        with slot():
            waits.append(time.perf_counter() - start)
        time.sleep(0.01)
    stop.set()
    for t in runners:
        t.join(5)
    assert all(c > 0 for c in chunks)  # every runner progressed
    # one chunk per runner ahead at most: 4 x 2 ms, with room for a busy machine's scheduling
    assert sorted(waits)[len(waits) // 2] < 0.1


def test_fair_slot_is_reentrant_and_counts_size():
    slot = FairSlot(2)
    with slot(), slot():  # the same thread again: no deadlock
        got = []
        t = threading.Thread(target=lambda: (slot.acquire(), got.append(1), slot.release()))
        t.start()
        t.join(5)
        assert got == [1]  # the second of two slots was free


# --------------------------------------------------------------------------------------------- requirements files

ROOT = Path(__file__).resolve().parents[1]
PYTORCH_INDEX = "https://download.pytorch.org/whl/cpu"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_cloud_requirements_take_torch_from_the_cpu_index():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert f"--extra-index-url {PYTORCH_INDEX}" in lines
    assert _pins(ROOT / "requirements.txt")["torch"] == "2.13.0"  # matches 2.13.0+cpu there, the plain wheel here


def test_dev_requirements_never_reach_for_the_pytorch_index():
    """CI here cannot reach download.pytorch.org: pip retried it for 80 s per package before giving up."""
    text = (ROOT / "requirements-dev.txt").read_text()
    active = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert not any("download.pytorch.org" in line or line.lstrip().startswith("-r") for line in active)
    runtime = _pins(ROOT / "requirements.txt")
    dev = _pins(ROOT / "requirements-dev.txt")
    assert {name: dev.get(name) for name in runtime} == runtime  # the same runtime pins
    assert {"pytest", "ruff", "import-linter", "playwright"} <= dev.keys()


def test_readme_and_ci_run_the_same_test_command_with_the_import_contracts():
    """.ci/run runs the README's test command word for word; lint-imports checks pyproject.toml's contracts."""
    readme = (ROOT / "README.md").read_text().split("## Run the tests", 1)[1].split("```bash\n", 1)[1]
    command = readme.split("\n", 1)[0]
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()
    assert "&& .venv/bin/lint-imports &&" in command


def test_admit_refuses_a_run_the_real_memory_cannot_hold():
    """Even inside the budget: a run that would take the process's RSS past 90% of its limit is refused."""
    reg = Registry(budget=2 * GB, limit=1 * GB)
    reg.admit("a", 100 * MB, rss=500 * MB)  # 600 MB of 1 GB: fine
    with pytest.raises(ServerBusy, match="nearly full"):
        reg.admit("b", 450 * MB, rss=600 * MB)  # 1,050 MB > 921 MB
    reg.admit("a", 400 * MB, rss=600 * MB)  # replacing a's 100 MB run: 900 MB, fits
    assert reg.held == 400 * MB


# --------------------------------------------------------------------------------------------- wired into the app
# These need the session (ui.session) to call memory.admit and every page to call process.setup_process.


def _app_test(query: dict[str, str]):
    import os
    import sys

    from streamlit.testing.v1 import AppTest

    sys.path.insert(0, str(ROOT))
    os.environ["EMBEDDING_EXPLORER_NO_UMAP_WARMUP"] = "1"
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update(query)
    return at.run()


def test_each_session_run_is_charged_to_the_server(monkeypatch):
    from core import TrainConfig

    reg = Registry(budget=10 * GB)
    monkeypatch.setattr(memory, "_registry", reg)
    at = _app_test({})
    assert not at.exception, [e.message for e in at.exception]
    assert len(reg) == 1 and reg.held == TrainConfig().memory_bytes()


def test_a_run_over_the_servers_budget_is_refused_with_the_reason(monkeypatch):
    from core import TrainConfig

    big = TrainConfig(vocab_size=50_257, dim=768)
    reg = Registry(budget=big.memory_bytes() // 2)
    monkeypatch.setattr(memory, "_registry", reg)
    at = _app_test({"vocab_size": "50257", "dim": "768"})
    assert not at.exception, [e.message for e in at.exception]
    shown = " ".join(e.value for e in at.error)
    assert "memory budget" in shown and "smaller" in shown
    assert reg.held == 0  # nothing was built or charged


def test_a_sessions_charge_goes_with_its_session(monkeypatch):
    """Streamlit's SessionState cannot be weakly referenced: a token in it is, and its end releases the charge."""
    import gc

    _app_test({})  # the process's first session is frozen with the imports (gc.freeze): measure a later one
    reg = Registry(budget=10 * GB)
    monkeypatch.setattr(memory, "_registry", reg)
    at = _app_test({})
    assert len(reg) == 1
    del at
    gc.collect()
    assert len(reg) == 0


def test_a_sessions_extra_holding_lives_as_long_as_the_session():
    now = [0.0]
    reg = Registry(budget=10 * GB, clock=lambda: now[0])
    reg.admit("here", 1 * MB)
    reg.admit("here" + memory.EXTRA + "compare", 3 * MB)
    reg.admit("gone" + memory.EXTRA + "compare", 2 * MB)
    now[0] = 61.0
    freed = reg.sweep({"here"}.__contains__, grace=60)
    assert [sid for sid, _ in freed] == ["gone#compare"]  # kept while its session "here" is connected
    assert reg.held == 4 * MB


def test_the_optimizer_comparison_is_charged_and_refused_when_it_does_not_fit(monkeypatch):
    from core import TrainConfig

    reg = Registry(budget=10 * GB)
    monkeypatch.setattr(memory, "_registry", reg)
    at = _app_test({})
    at.switch_page("pages/08_compare.py").run()
    assert not at.exception, [e.message for e in at.exception]
    members = at.session_state.compare_run.configs
    assert len(members) >= 2
    assert reg.held == TrainConfig().memory_bytes() + sum(c.memory_bytes() for c in members)

    small = Registry(budget=TrainConfig().memory_bytes() + 1)  # room for the sidebar's run only
    monkeypatch.setattr(memory, "_registry", small)
    at = _app_test({})
    at.switch_page("pages/08_compare.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert "memory budget" in " ".join(e.value for e in at.error)
    assert at.session_state.get("compare_run") is None
