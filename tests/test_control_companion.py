"""Job control through the companion, against a live scheduler in another process.

Thousands of pause / resume / run-now commands are submitted while the scheduler runs
its own jobs every second (and so rewrites their rows every second). Afterwards: every
command reached a final status, every job is in the state its last command asked for
(column and pickle, as the real APScheduler loads it), nothing was deleted, the
scheduler thread is alive, and every applied run-now ran exactly once.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from schedtui.core import control
from schedtui.core import tables as T
from schedtui.core.clock import system_clock
from schedtui.core.model import Target
from tests.test_control_support import LiveScheduler, fast_dir, load_with_app, poll_until

N_COMMANDS = 2000


def _fresh_heartbeat(engine: sa.Engine, target: Target) -> bool:
    try:
        return bool(control.fresh_companions(engine, target, system_clock()))
    except sa.exc.SQLAlchemyError:
        return False


def _on_grid(ts: float) -> bool:
    """Scheduled runs of the tick jobs fall on whole seconds; run-now runs do not."""
    return abs(ts - round(ts)) < 1e-6


def _stress(tmp_path: Path, url: str) -> None:
    live = LiveScheduler(tmp_path, url, n_tick=6, n_once=4)
    target = Target(url=url)
    engine = sa.create_engine(url)
    try:
        live.wait_ready()
        poll_until(lambda: _fresh_heartbeat(engine, target), 30, "a fresh heartbeat")
        jobs = live.tick_ids + live.once_ids
        # Four operators at once, each owning some jobs (so "the last command" of a job is
        # well defined): interleaved with each other, the applier and the scheduler's runs.
        groups = [jobs[k::4] for k in range(4)]
        per_thread = N_COMMANDS // len(groups)
        results: list[list[control.ControlResult]] = [[] for _ in groups]

        def operator(k: int) -> None:
            rng = random.Random(1000 + k)
            mine = results[k]
            for n in range(per_thread):
                job = rng.choice(groups[k])
                # once-* jobs stay paused: they only get run-now (exact run accounting).
                action = (
                    "run_now"
                    if job.startswith("once-")
                    else rng.choice(["pause", "resume", "pause", "resume", "run_now"])
                )
                res = control.submit(target, job, action, clock=system_clock, requested_by=f"op{k}", engine=engine)
                assert res.mode == "companion" and res.status == "pending", res
                mine.append(res)
                if n % 100 == 99:  # now and then, wait for the scheduler to catch up
                    last = mine[-1]
                    poll_until(lambda: control.poll(target, last.command_id, engine=engine).final, 60, "the applier")

        with ThreadPoolExecutor(len(groups)) as pool:
            for fut in [pool.submit(operator, k) for k in range(len(groups))]:
                fut.result()
        submitted = [r for rs in results for r in rs]
        assert len({r.command_id for r in submitted}) == N_COMMANDS

        c = T.tables_for(None).commands

        def all_final() -> bool:
            with engine.connect() as conn:
                return conn.execute(sa.select(sa.func.count()).where(c.c.status == "pending")).scalar() == 0

        poll_until(all_final, 60, "every command to be applied")
        with engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(sa.select(c))}
        statuses = Counter(r.status for r in rows.values())
        # Only a run-now that met max_instances may fail: the applier can take many run-nows
        # of one job in one tick, and on a loaded machine ten may still be running (CI saw
        # three). Such a run was refused by APScheduler and did not happen (counted below).
        refused = {
            r.id
            for r in rows.values()
            if r.status == "failed"
            and r.action == "run_now"
            and str(r.result).startswith("already running (max_instances=10)")
        }
        failed = [r for r in rows.values() if r.status != "applied" and r.id not in refused]
        assert not failed, [(r.id, r.action, r.status, r.result) for r in failed[:10]]
        assert statuses["applied"] + len(refused) == N_COMMANDS
        appliers = {r.applied_by for r in rows.values()}
        assert len(appliers) == 1

        expected_paused: dict[str, bool] = dict.fromkeys(live.tick_ids, False) | dict.fromkeys(live.once_ids, True)
        run_now = Counter()
        for res in sorted(submitted, key=lambda r: r.command_id or 0):
            if res.action in ("pause", "resume"):
                expected_paused[res.job_id] = res.action == "pause"
            elif res.action == "run_now" and res.command_id not in refused:
                run_now[res.job_id] += 1

        # Let the last run-nows finish, then stop the scheduler (waits for its executor).
        status = live.stop()
        assert status["thread_alive"] is True
        loaded = load_with_app(tmp_path, live.app, url)
        assert set(loaded) == set(jobs), "a job was deleted or added"
        for job_id in jobs:
            row = loaded[job_id]
            paused = row["column"] is None
            assert paused == expected_paused[job_id], (job_id, row)
            # Column and pickle agree (as the real APScheduler loads it).
            if paused:
                assert row["pickled"] is None
            else:
                assert row["pickled"] == pytest.approx(row["column"], abs=1e-6)
                # Run-now never shifted the schedule: still on the whole-second grid.
                assert _on_grid(row["column"]), (job_id, row)

        events = live.events()
        executed = defaultdict(list)
        for ev in events:
            assert ev["code"] != "error", ev
            if ev["code"] == "executed":
                executed[ev["job"]].append(ev["srt"])
            # A requested run is never "missed": those are submitted with no misfire limit.
            if ev["code"] == "missed":
                assert _on_grid(ev["srt"]), ev
        runs = live.runs()
        for job_id in live.once_ids:
            assert runs[job_id] == run_now[job_id], (job_id, runs[job_id], run_now[job_id])
        for job_id in live.tick_ids:
            off_grid = [t for t in executed[job_id] if not _on_grid(t)]
            assert len(off_grid) == run_now[job_id], (job_id, len(off_grid), run_now[job_id])
            assert runs[job_id] == len(executed[job_id])
        # No traceback but APScheduler's own shutdown race: its scheduler thread may still
        # submit a due job after stop() has shut the executor down ("Error submitting job …
        # RuntimeError: cannot schedule new futures after shutdown"), logged with a traceback.
        log = live.log()
        shutdown_race = log.count("RuntimeError: cannot schedule new futures after shutdown")
        assert log.count("Traceback") == shutdown_race, log[-3000:]
        print(
            f"\n{N_COMMANDS} commands applied; runs: {sum(runs.values())} "
            f"(run-now {sum(run_now.values())}); scheduler events {len(events)}"
        )
    finally:
        live.kill()
        engine.dispose()


@pytest.mark.slow
def test_companion_stress_sqlite(tmp_path: Path) -> None:
    with fast_dir(tmp_path) as folder:
        _stress(tmp_path, f"sqlite:///{folder / 'jobs.sqlite'}")


@pytest.mark.slow
def test_companion_stress_server(tmp_path: Path, server_url: str) -> None:
    """PostgreSQL and MariaDB (``server_url``)."""
    _stress(tmp_path, server_url)


def test_expired_command_is_never_applied(tmp_path: Path) -> None:
    """A command past its deadline is marked expired by poll (atomically) and a companion
    that comes later leaves it alone."""
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    engine = sa.create_engine(url)
    T.create_all(engine)
    target = Target(url=url)
    c = T.tables_for(None).commands
    with engine.begin() as conn:
        cmd_id = conn.execute(
            sa.insert(c)
            .values(job_id="x", action="pause", requested_at=0.0, deadline_at=1.0, status="pending")
            .returning(c.c.id)
        ).scalar_one()
    res = control.poll(target, cmd_id, clock=system_clock, engine=engine)
    assert res.status == "expired"
    from schedtui.companion.commands import CommandApplier

    applier = CommandApplier(None, engine, scheduler_id="late")
    assert applier.tick() == 0
    assert control.poll(target, cmd_id, engine=engine).status == "expired"
    engine.dispose()


def test_run_now_and_remove_refused_without_companion(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    engine = sa.create_engine(url)
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    SQLAlchemyJobStore(engine=engine).jobs_t.create(engine)
    target = Target(url=url)
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    for action in ("run_now", "remove"):
        res = control.submit(target, "job", action, clock=lambda: now, engine=engine)
        assert res.mode == "direct" and res.status == "refused"
        assert "companion" in res.message
    engine.dispose()


def _two_appliers(tmp_path: Path, url: str, n_commands: int = 800) -> None:
    """Two schedulers with companions on one table: every command is applied exactly once,
    and each job's commands in order even when both appliers are busy.

    Each applier takes at most 10 commands per heartbeat, so both have to work. The
    shared jobs are never due during the test (paused ``once-*`` jobs, and ``far-*``
    jobs that fire on January 1st even when resumed), so the two schedulers never both run
    a due job (which APScheduler does not support). Run-nows must each run once.
    """
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = LiveScheduler(tmp_path / "a", url, n_tick=0, n_once=4, n_far=8, max_per_tick=10)
    second: LiveScheduler | None = None
    target = Target(url=url)
    engine = sa.create_engine(url)
    try:
        first.wait_ready()
        second = LiveScheduler(tmp_path / "b", url, n_tick=0, n_once=4, n_far=8, max_per_tick=10)
        second.wait_ready()
        poll_until(lambda: len(control.fresh_companions(engine, target, system_clock())) == 2, 30, "two heartbeats")
        jobs = first.once_ids + first.far_ids
        groups = [jobs[k::4] for k in range(4)]

        def operator(k: int) -> list[control.ControlResult]:
            rng = random.Random(k)
            out = []
            for _ in range(n_commands // 4):
                job = rng.choice(groups[k])
                action = "run_now" if job.startswith("once-") else rng.choice(["pause", "resume", "run_now"])
                out.append(control.submit(target, job, action, clock=system_clock, engine=engine))
            return out

        with ThreadPoolExecutor(4) as pool:
            submitted = [r for f in [pool.submit(operator, k) for k in range(4)] for r in f.result()]
        c = T.tables_for(None).commands

        def all_final() -> bool:
            with engine.connect() as conn:
                return conn.execute(sa.select(sa.func.count()).where(c.c.status == "pending")).scalar() == 0

        poll_until(all_final, 60, "every command to be applied")
        with engine.connect() as conn:
            rows = conn.execute(sa.select(c.c.id, c.c.status, c.c.applied_by, c.c.applied_at, c.c.job_id)).all()
        assert {r.status for r in rows} == {"applied"}
        by = Counter(r.applied_by for r in rows)
        assert len(by) == 2, by  # both took part
        # Per job, commands were applied in id order (applied_at never goes backwards).
        per_job: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for r in rows:
            per_job[r.job_id].append((r.id, r.applied_at))
        for job_id, seq in per_job.items():
            times = [at for _, at in sorted(seq)]
            assert times == sorted(times), job_id
        assert first.stop()["thread_alive"] and second.stop()["thread_alive"]
        runs = first.runs() + second.runs()
        asked = Counter(r.job_id for r in submitted if r.action == "run_now")
        assert runs == asked  # each run-now ran exactly once, in one of the two processes
        expected = dict.fromkeys(jobs, True)
        for r in sorted(submitted, key=lambda r: r.command_id or 0):
            if r.action in ("pause", "resume"):
                expected[r.job_id] = r.action == "pause"
        loaded = load_with_app(tmp_path, first.app, url)
        assert set(loaded) == set(jobs)
        for job_id in jobs:
            assert (loaded[job_id]["column"] is None) == expected[job_id], job_id
        print(f"\n{len(submitted)} commands split {dict(by)}; runs {sum(runs.values())}")
    finally:
        first.kill()
        if second is not None:
            second.kill()
        engine.dispose()


@pytest.mark.slow
def test_two_schedulers_apply_each_command_once_sqlite(tmp_path: Path) -> None:
    with fast_dir(tmp_path) as folder:
        _two_appliers(tmp_path, f"sqlite:///{folder / 'jobs.sqlite'}")


@pytest.mark.slow
def test_two_schedulers_apply_each_command_once_server(tmp_path: Path, server_url: str) -> None:
    _two_appliers(tmp_path, server_url)


@pytest.mark.slow
def test_remove_through_the_companion_while_it_runs(tmp_path: Path) -> None:
    """Removing jobs the scheduler runs every second: applied by the scheduler itself, so
    its thread survives; other jobs untouched."""
    with fast_dir(tmp_path) as folder:
        url = f"sqlite:///{folder / 'jobs.sqlite'}"
        live = LiveScheduler(tmp_path, url, n_tick=6, n_once=2)
        target = Target(url=url)
        engine = sa.create_engine(url)
        try:
            live.wait_ready()
            poll_until(lambda: _fresh_heartbeat(engine, target), 30, "a fresh heartbeat")
            removed = ["tick-0", "tick-3", "once-1"]
            results = [control.submit(target, j, "remove", clock=system_clock, engine=engine) for j in removed]
            final = [control.wait(target, r, 20, engine=engine) for r in results]
            assert [r.status for r in final] == ["applied"] * 3, final
            again = control.wait(
                target, control.submit(target, "tick-0", "remove", clock=system_clock, engine=engine), 20, engine=engine
            )
            assert again.status == "failed" and "no job" in again.message
            poll_until(lambda: live.runs()["tick-1"] >= 2, 20, "the other jobs to keep running")
            status = live.stop()
            assert status["thread_alive"]
            loaded = load_with_app(tmp_path, live.app, url)
            assert set(loaded) == set(live.tick_ids + live.once_ids) - set(removed)
            assert "Traceback" not in live.log()
        finally:
            live.kill()
            engine.dispose()


def test_companion_without_commands_is_not_asked(tmp_path: Path) -> None:
    """A fresh heartbeat from a companion attached with ``commands=False`` says so; job
    control then edits the row directly instead of queuing a command nobody applies."""
    from datetime import datetime

    from schedtui import __version__
    from schedtui.core.heartbeat import COMMANDS_OFF, read_heartbeats
    from tests.fixtures.factory import sqlite_store

    db, _ = sqlite_store(tmp_path, "seed")
    url = f"sqlite:///{db}"
    engine = sa.create_engine(url)
    T.create_all(engine)
    now = datetime.now(UTC)
    h = T.tables_for(None).heartbeats
    beat = dict(
        name="s",
        host="h",
        pid=1,
        started_at=now.timestamp(),
        last_seen=now.timestamp(),
        interval_s=5.0,
        state="running",
        jobs_table="apscheduler_jobs",
    )
    with engine.begin() as conn:
        conn.execute(sa.insert(h).values(scheduler_id="no-commands", version=__version__ + COMMANDS_OFF, **beat))
    assert read_heartbeats(engine)[0].accepts_commands is False
    res = control.submit(Target(url=url), "cleanup_temp", "pause", clock=system_clock, engine=engine)
    assert (res.mode, res.status) == ("direct", "applied"), res
    with engine.begin() as conn:
        conn.execute(sa.update(h).values(version=__version__))
    res = control.submit(Target(url=url), "cleanup_temp", "resume", clock=system_clock, engine=engine)
    assert res.mode == "companion", res
    engine.dispose()


def test_attach_says_whether_it_applies_commands(tmp_path: Path) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from schedtui.companion import attach
    from schedtui.companion.commands import install
    from schedtui.core.heartbeat import read_heartbeats

    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    sched = BackgroundScheduler(jobstores={"default": {"type": "sqlalchemy", "url": url}})
    comp = attach(sched, commands=False)
    T.create_all(comp.engine)
    try:
        comp.write_heartbeat("running")
        assert [b.accepts_commands for b in read_heartbeats(comp.engine)] == [False]
        install(comp)
        comp.write_heartbeat("running")
        assert [b.accepts_commands for b in read_heartbeats(comp.engine)] == [True]
    finally:
        comp.close()
