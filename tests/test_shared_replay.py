"""One replay for a whole class: a link's run computed once per server (serve.shared, ui.replays), each session
handed its own copy (Trainer.clone) that equals a solo replay to the bit and never shares a step with another."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from core import TrainConfig, Trainer, TrainingDiverged, replay, run_bytes
from serve import memory, shared
from ui import replays

CONFIGS = [
    TrainConfig(vocab_size=40, dim=8, optimizer="adam", batch_size=32, seed=3),
    TrainConfig(vocab_size=30, dim=4, optimizer="sgd", momentum=0.9, weight_decay=0.01, max_norm=1.0, seed=1),
    TrainConfig(vocab_size=30, dim=6, optimizer="sparse_adam", sparse=True, tie_weights=False, padding_idx=0, seed=2),
    TrainConfig(vocab_size=25, dim=5, optimizer="adagrad", tie_weights=False, seed=5),
]
IDS = ["adam", "sgd-momentum-decay-maxnorm", "sparse-adam-untied", "adagrad-untied"]


def by_hand(cfg: TrainConfig, n: int) -> Trainer:
    """The independent reference: a fresh run stepped n times in this thread."""
    trainer = Trainer(cfg)
    for _ in range(n):
        trainer.step()
    return trainer


def state_of(trainer: Trainer) -> dict:
    """Everything a run holds that a step may change, as owned numpy copies (and the batch stream's state)."""
    out = {"weight": trainer.weight, "head": trainer.head_weight, "step": trainer.step_count}
    for i, optimizer in enumerate(trainer.optimizers):
        for j, param in enumerate(p for group in optimizer.param_groups for p in group["params"]):
            for name, value in optimizer.state.get(param, {}).items():
                out[f"opt{i}.{j}.{name}"] = value.detach().cpu().numpy().copy() if torch.is_tensor(value) else value
    out["rng"] = repr(trainer._rng.bit_generator.state)
    out["history"] = [(r.step, r.loss, *(np.copy(getattr(r, f)) for f in ARRAYS)) for r in trainer.history]
    out["frames"] = [(s, np.copy(w)) for s, w in trainer.snapshots.items()]
    return out


ARRAYS = ("input_ids", "target_ids", "grad_norm", "update_norm", "state_update_norm", "move_grad", "move_state",
          "move_decay", "move_renorm", "output_grad")  # fmt: skip


def assert_same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for key in want:
        if key in ("history", "frames"):
            assert len(got[key]) == len(want[key]), key
            for a, b in zip(got[key], want[key], strict=True):
                for x, y in zip(a, b, strict=True):
                    np.testing.assert_array_equal(x, y, err_msg=key)
        else:
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def fresh_works(**kwargs) -> shared.SharedWork:
    replays._works = shared.SharedWork(kwargs.pop("keep", 1 << 30), charge=memory.admit_shared,
                                       discharge=memory.release_shared, prefix="replay", **kwargs)  # fmt: skip
    return replays._works


@pytest.fixture(autouse=True)
def _own_registry():
    """Each test its own shared-replay registry (the process's would keep another test's replays)."""
    saved = replays._works
    yield
    if replays._works is not None and replays._works is not saved:
        replays._works.clear()  # its kept replays' charges go with it
    replays._works = saved


def take_copies(cfg: TrainConfig, step: int, n: int) -> tuple[list[Trainer], list[str]]:
    """n sessions opening the same link at once (threads), each taking its copy once the replay is done."""
    barrier, copies, found = threading.Barrier(n), [None] * n, [None] * n

    def session(i: int) -> None:
        barrier.wait()
        job, found[i] = replays.join(cfg, step)
        try:
            job.wait(60)
            copies[i] = replays.copy_of(job)
        finally:
            replays.leave(job)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return copies, found


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_sessions_opening_one_link_share_one_replay_and_each_copy_equals_a_solo_replay_to_the_bit(cfg):
    works = fresh_works()
    copies, found = take_copies(cfg, 12, 6)
    assert works.started == 1  # one computation for six sessions
    assert found.count(shared.NEW) == 1 and set(found) <= {shared.NEW, shared.RUNNING, shared.DONE}
    assert len({id(c) for c in copies}) == 6
    solo = by_hand(cfg, 12)
    want = state_of(solo)
    for copy in copies:
        assert_same(state_of(copy), want)
    # and each steps on exactly as the solo run: the optimizer state and the batch stream came along
    after = solo.step()
    for copy in copies[:2]:
        record = copy.step()
        for name in ("loss", *ARRAYS):
            np.testing.assert_array_equal(getattr(record, name), getattr(after, name), err_msg=name)


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_one_sessions_step_never_touches_another_sessions_copy(cfg):
    fresh_works()
    (a, b), _ = take_copies(cfg, 8, 2)
    before = state_of(b)
    for _ in range(3):
        a.step()
    assert a.step_count == 11
    assert_same(state_of(b), before)  # weights, head, optimizer state, history, snapshots, batch stream
    assert a.model.embedding.weight.data_ptr() != b.model.embedding.weight.data_ptr()
    assert a.history[-1] is not b.history[-1] and len(b.history) == 8


def test_a_later_session_gets_a_copy_of_the_kept_replay_without_recomputing():
    works = fresh_works()
    cfg = CONFIGS[0]
    (first,), _ = take_copies(cfg, 5, 1)
    first.step()  # the first session trains on: the kept replay is not its run
    (second,), found = take_copies(cfg, 5, 1)
    assert found == [shared.DONE] and works.started == 1
    assert_same(state_of(second), state_of(by_hand(cfg, 5)))


def test_the_shared_replay_is_charged_to_the_memory_budget_until_it_is_dropped():
    clock = [0.0]
    works = fresh_works(clock=lambda: clock[0], keep_seconds=30)
    cfg = CONFIGS[0]
    held = memory.registry().held
    job, _ = replays.join(cfg, 4)
    key = memory.SHARED + job.name
    assert key in memory.registry()
    assert memory.registry().held == held + run_bytes(cfg).total
    job.wait(60)
    replays.leave(job)
    assert key in memory.registry()  # kept for the sessions that come a little later
    memory.registry().sweep(lambda sid: False, grace=0.0)  # the janitor frees gone sessions, never shared work
    assert key in memory.registry()
    clock[0] = 31.0
    assert works.find((cfg, 4)) is None and key not in memory.registry()


def test_a_diverging_replay_hands_every_session_its_last_finite_step_and_the_error():
    fresh_works()
    cfg = TrainConfig(vocab_size=20, dim=4, optimizer="sgd", lr=100.0, init="normal", seed=0)
    job, _ = replays.join(cfg, 50)
    job.wait(60)
    replays.leave(job)
    assert isinstance(job.error, TrainingDiverged)
    copy = replays.copy_of(job)
    solo = Trainer(cfg)
    with pytest.raises(TrainingDiverged):
        for _ in range(50):
            solo.step()
    assert copy.step_count == solo.step_count < 50
    np.testing.assert_array_equal(copy.weight, solo.weight)


# ------------------------------------------------------------------------------------------ serve.shared itself


def test_join_runs_the_work_once_for_every_caller_and_keeps_the_result():
    charged, started = [], threading.Event()
    works = shared.SharedWork(100, charge=lambda name, n: charged.append((name, n)), discharge=lambda name: None)
    release = threading.Event()
    calls = []

    def work(job):
        calls.append(1)
        job.value = "run"
        started.set()
        release.wait(10)
        job.progress(3)

    results = []
    barrier = threading.Barrier(10)

    def caller():
        barrier.wait()
        results.append(works.join("k", 3, 40, work))

    threads = [threading.Thread(target=caller) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    started.wait(10)
    release.set()
    jobs = {id(job) for job, _ in results}
    assert len(jobs) == 1 and len(calls) == 1 and len(charged) == 1 and charged[0][1] == 40
    assert sorted(found for _, found in results) == [shared.NEW] + [shared.RUNNING] * 9
    job = results[0][0]
    assert job.wait(10) and job.value == "run" and job.waiters == 10
    again, found = works.join("k", 3, 40, work)
    assert again is job and found == shared.DONE and len(calls) == 1


def test_finished_jobs_are_kept_within_their_bytes_least_recently_used_dropped_first():
    dropped = []
    works = shared.SharedWork(25, charge=lambda name, n: None, discharge=dropped.append)

    def work(job):
        job.value = job.key
        job.progress(job.total)

    jobs = []
    for key in ("a", "b", "c"):
        job, _ = works.join(key, 1, 10, work)
        job.wait(10)
        jobs.append(job)
    works.join("a", 1, 10, work)  # "a" used again: "b" is now the least recently used
    for job in jobs:
        works.leave(job)
    works.leave(jobs[0])
    assert works.find("b") is None and works.find("a") is jobs[0] and works.find("c") is jobs[2]
    assert dropped == [jobs[1].name] and works.kept_bytes == 20


def test_a_job_nobody_waits_for_is_abandoned_and_not_kept():
    clock = [0.0]
    works = shared.SharedWork(100, clock=lambda: clock[0])
    steps = []

    def work(job):
        job.value = "partial"
        while not job.abandoned():
            steps.append(1)
            job.progress(len(steps))
            time.sleep(0.001)

    job, _ = works.join("k", 10**9, 1, work)
    works.leave(job)
    clock[0] = shared.ABANDON_SECONDS + 1
    assert job.wait(10)
    assert works.find("k") is None and job.dropped
    assert works.join("k", 10**9, 1, lambda j: None)[1] == shared.NEW  # a later session starts afresh


def test_a_refused_charge_starts_nothing():
    def refuse(name, n):
        raise memory.ServerBusy("full")

    works = shared.SharedWork(100, charge=refuse)
    with pytest.raises(memory.ServerBusy):
        works.join("k", 1, 10, lambda job: pytest.fail("must not run"))
    assert len(works) == 0 and works.started == 0


def test_the_rate_meter_estimates_by_what_recent_work_cost():
    meter = shared.RateMeter(size=3)
    assert meter.seconds_for(100) is None
    for cost, seconds in ((10, 1.0), (30, 1.0), (100, 5.0), (60, 2.0)):  # the first falls out
        meter.record(cost, seconds)
    assert meter.seconds_for(190) == pytest.approx(190 * 8.0 / 190)
    meter.record(50, 10.0, kind="big")  # a kind of its own: estimated by its own pieces only
    assert meter.seconds_for(100, kind="big") == pytest.approx(20.0)
    assert meter.seconds_for(100, kind="unseen") == pytest.approx(100 * 17.0 / 210)  # none of its kind: all
    assert meter.seconds_for(100, kind="unseen", any_kind=False) is None


def test_the_page_estimates_a_replay_by_this_servers_pace_for_that_size():
    cfg = TrainConfig(vocab_size=33, dim=7, seed=11)
    seconds, measured = replays.estimate(cfg, 10)
    assert not measured and seconds == pytest.approx(replay.expected_seconds(cfg, 10))
    replays.RATE.record(replay.step_cost(cfg) * 4, 2.0, replays.kind(cfg.replace(seed=12)))  # the seed: same size
    seconds, measured = replays.estimate(cfg, 10)
    assert measured and seconds == pytest.approx(5.0)  # 4 steps took 2 s: 10 take 5


def test_the_page_says_when_it_waits_for_another_sessions_replay():
    cfg = CONFIGS[0]
    job = shared.Job((cfg, 100), 100, 1, "x", time.monotonic)
    job.waiters = 4
    for done in (10, 20, 30):
        job.progress(done)
    from ui import training

    note = training._replay_note(cfg, 100, job, shared.RUNNING)
    assert "Another session on this server is already re-training it" in note
    assert "at step 30 now" in note and "3 other screens wait for it too" in note


# ------------------------------------------------------------------------------------------ two pages (AppTest)


def test_two_screens_opening_one_link_get_one_replay_and_train_on_apart():
    import apptest_support

    works = fresh_works()
    cfg = TrainConfig(vocab_size=30, dim=6, optimizer="adam", batch_size=16, seed=7)
    query = {"vocab_size": "30", "dim": "6", "optimizer": "adam", "batch_size": "16", "seed": "7", "step": "15"}
    first = apptest_support.app(query, timeout=90)
    second = apptest_support.app(query, timeout=90)
    for at in (first, second):
        apptest_support.no_exception(at)
    a, b = first.session_state.trainer, second.session_state.trainer
    assert works.started == 1 and a is not b
    want = state_of(by_hand(cfg, 15))
    assert_same(state_of(a), want)
    assert_same(state_of(b), want)
    first.switch_page("pages/01_train.py").run()
    first.button(key="train_step_1").click().run()
    apptest_support.no_exception(first)
    assert first.session_state.trainer.step_count == 16
    assert_same(state_of(second.session_state.trainer), want)  # the other screen's run is untouched


def test_screens_opening_one_link_build_no_step_0_run_of_their_own_and_reset_still_builds_one(monkeypatch):
    """A screen that adopts the shared replay never builds its own step-0 Trainer first (at 10,000 x 128 that was
    a table, a head and an optimizer per student, thrown away): the link's config is constructed once, by the job."""
    import apptest_support

    fresh_works()
    cfg = TrainConfig(vocab_size=30, dim=6, optimizer="adam", batch_size=16, seed=8)
    built, init = [], Trainer.__init__

    def counted(self, run_cfg, *args, **kwargs):
        built.append(run_cfg)
        init(self, run_cfg, *args, **kwargs)

    monkeypatch.setattr(Trainer, "__init__", counted)
    query = {"vocab_size": "30", "dim": "6", "optimizer": "adam", "batch_size": "16", "seed": "8", "step": "12"}
    screens = [apptest_support.app(query, timeout=90) for _ in range(3)]
    for at in screens:
        apptest_support.no_exception(at)
        assert at.session_state.trainer.step_count == 12
    assert built.count(cfg) == 1  # the shared replay's own run; each screen holds a clone of it
    assert len({id(at.session_state.trainer) for at in screens}) == 3
    want = state_of(by_hand(cfg, 12))
    for at in screens:
        assert_same(state_of(at.session_state.trainer), want)
    first = screens[0]
    first.switch_page("pages/01_train.py").run()
    first.run()  # the first run in AppTest's pages/ mode reruns (ui.nav.ensure_declared): its ids are not kept
    first.button(key="train_reset").click().run()  # Reset: a fresh step-0 run, this screen's own
    apptest_support.no_exception(first)
    assert first.session_state.trainer.step_count == 0 and built.count(cfg) == 3  # by_hand's, and Reset's
    assert screens[1].session_state.trainer.step_count == 12
