"""The companion inside real schedulers: recorded runs, heartbeat, outages, crashes.

Real BackgroundScheduler / AsyncIOScheduler runs with real jobs on SQLite and PostgreSQL;
polling with deadlines, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler

from schedtui.companion import HEARTBEAT_JOBSTORE, attach, create_scheduler
from schedtui.core import tables as T

JOBS = "schedtui.demo.jobs"
ROOT = Path(__file__).resolve().parent.parent


def wait_for(pred: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


async def await_for(pred: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def rows(engine: sa.Engine, where: str = "1=1") -> list[Any]:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(T.RUNS):
            return []
        return conn.execute(sa.text(f"select * from schedtui_runs where {where} order by id")).all()


def outcomes(engine: sa.Engine) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in rows(engine):
        out.setdefault(r.job_id, set()).add(r.outcome)
    return out


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    else:
        yield request.getfixturevalue("pg_url" if request.param == "postgres" else "mysql_url")


def add_sample_jobs(scheduler: Any) -> None:
    scheduler.add_job(f"{JOBS}:succeed", "interval", seconds=0.3, id="ok", name="Quick OK")
    scheduler.add_job(f"{JOBS}:always_fail", "interval", seconds=0.3, id="bad", args=["kaputt"])
    scheduler.add_job(f"{JOBS}:sleep", "interval", seconds=0.3, id="slow", args=[1.0], max_instances=1)
    scheduler.add_job(
        f"{JOBS}:succeed",
        "date",
        run_date=datetime.now(UTC) - timedelta(seconds=30),
        id="late",
        misfire_grace_time=1,
    )


def recorded_everything(engine: sa.Engine) -> bool:
    o = outcomes(engine)
    return (
        "success" in o.get("ok", set())
        and "error" in o.get("bad", set())
        and {"success", "max_instances"} <= o.get("slow", set())
        and "missed" in o.get("late", set())
    )


def check_rows(engine: sa.Engine) -> None:
    all_rows = rows(engine)
    assert all_rows
    assert not [r for r in all_rows if r.outcome == "running"], "runs left running after shutdown"
    assert {r.jobstore for r in all_rows} == {"default"}  # the heartbeat is never recorded
    ok = [r for r in all_rows if r.job_id == "ok" and r.outcome == "success"]
    assert ok[0].job_name == "Quick OK" and ok[0].func == f"{JOBS}:succeed"
    assert all(r.duration_s is not None and r.duration_s >= 0 for r in ok)
    assert all(r.finished_at >= r.scheduled_at for r in ok)
    bad = [r for r in all_rows if r.job_id == "bad" and r.outcome == "error"][0]
    assert bad.error_type == "RuntimeError" and bad.error_message == "kaputt"
    assert "always_fail" in bad.traceback and bad.traceback.rstrip().endswith("RuntimeError: kaputt")
    slow = [r for r in all_rows if r.job_id == "slow" and r.outcome == "success"][0]
    assert slow.duration_s > 0.5
    missed = [r for r in all_rows if r.job_id == "late"][0]
    assert missed.outcome == "missed" and missed.duration_s is None
    assert {r.host for r in all_rows} and {r.pid for r in all_rows} == {os.getpid()}
    with engine.connect() as conn:
        hb = conn.execute(sa.text("select * from schedtui_heartbeats")).all()
        ids = [r[0] for r in conn.execute(sa.text("select id from apscheduler_jobs"))]
    assert len(hb) == 1 and hb[0].state == "shutdown" and hb[0].jobs_table == "apscheduler_jobs"
    assert "schedtui-heartbeat" not in ids  # the heartbeat lives in its own memory store


def test_background_scheduler_records_runs(db_url: str) -> None:
    scheduler = create_scheduler(db_url)
    comp = attach(scheduler, heartbeat_interval=0.5, name="bg-test")
    add_sample_jobs(scheduler)
    scheduler.start()
    try:
        wait_for(lambda: recorded_everything(comp.engine), what="all outcomes recorded")
    finally:
        scheduler.shutdown()
    check_rows(comp.engine)
    assert comp.dropped == 0


def test_asyncio_scheduler_records_runs(db_url: str) -> None:
    async def main() -> Any:
        scheduler = create_scheduler(db_url, kind="asyncio")
        comp = attach(scheduler, heartbeat_interval=0.5)
        add_sample_jobs(scheduler)
        scheduler.start()
        try:
            await await_for(lambda: recorded_everything(comp.engine), what="all outcomes recorded")
        finally:
            scheduler.shutdown()
        return comp

    comp = asyncio.run(main())
    check_rows(comp.engine)


def test_memory_mode_is_inert(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "schedtui.companion")
    scheduler = create_scheduler(None)
    comp = attach(scheduler)
    assert not comp.enabled
    assert "🕒 Scheduler running in memory mode" in caplog.text
    assert "companion disabled" in caplog.text
    assert HEARTBEAT_JOBSTORE not in scheduler._jobstores


def test_create_scheduler_logs_and_defaults(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "schedtui.companion")
    scheduler = create_scheduler(str(tmp_path / "x.sqlite"), tablename="my_jobs")
    assert "📊 Scheduler using database for job persistence" in caplog.text
    store = scheduler._jobstores["default"]
    assert store.jobs_t.name == "my_jobs"
    assert scheduler._job_defaults["coalesce"] is True
    assert scheduler._job_defaults["misfire_grace_time"] == 300


# -------------------------------------------------------------------- database outages
def _lock_sqlite(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=5)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


def test_database_locked_while_jobs_run_then_catch_up(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    recorder_engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 10})  # the test's reads
    runs: list[float] = []
    scheduler = BackgroundScheduler()  # jobs in memory: only the recorder's database is locked
    comp = attach(scheduler, recorder_engine, heartbeat_interval=0.3)
    scheduler.add_job(lambda: runs.append(time.time()), "interval", seconds=0.1, id="counter")
    scheduler.start()
    try:
        wait_for(lambda: rows(engine, "outcome='success'"), what="first rows")
        lock = _lock_sqlite(path)
        try:
            before = len(runs)
            wait_for(lambda: len(runs) >= before + 10 and comp.recorder.failures > 0, what="runs during the outage")
            assert scheduler.running and scheduler._thread.is_alive()
        finally:
            lock.rollback()
            lock.close()
        target = len(runs)
        wait_for(lambda: len(rows(engine, "outcome='success'")) >= target, what="catch-up")
    finally:
        scheduler.shutdown()
    assert comp.dropped == 0


def test_buffer_overflow_drops_are_counted_and_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "schedtui.companion")
    path = tmp_path / "history.sqlite"
    recorder_engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 10})
    runs: list[float] = []
    scheduler = BackgroundScheduler()
    comp = attach(scheduler, recorder_engine, heartbeat_interval=0.3, max_buffer=3)
    scheduler.add_job(lambda: runs.append(time.time()), "interval", seconds=0.05, id="counter")
    scheduler.start()
    try:
        wait_for(lambda: comp.recorder.ready.is_set(), what="tables")
        lock = _lock_sqlite(path)
        try:
            wait_for(lambda: comp.dropped >= 10, what="drops")
            assert scheduler.running
        finally:
            lock.rollback()
            lock.close()
        n = len(runs)
        wait_for(lambda: len(runs) > n + 5 and comp.flush() and len(rows(engine)) > 3, what="writes resumed")
    finally:
        scheduler.shutdown()
    assert caplog.text.count("dropping run records") == 1
    assert "writes resumed" in caplog.text


# -------------------------------------------------------------------- crash recovery
CHILD = textwrap.dedent(
    """
    import sys, time
    from apscheduler.schedulers.background import BackgroundScheduler
    from schedtui.companion import attach
    s = BackgroundScheduler()
    attach(s, sys.argv[1], heartbeat_interval=0.5)
    s.add_job("schedtui.demo.jobs:sleep", "date", args=[120], id="long")
    s.start()
    time.sleep(600)
    """
)


def test_killed_process_leaves_unfinished_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.sqlite'}"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, url], stderr=subprocess.DEVNULL)
    engine = sa.create_engine(url)
    try:
        wait_for(lambda: rows(engine, "outcome='running'"), what="a running row")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert rows(engine, "outcome='running'")[0].pid == proc.pid
    scheduler = BackgroundScheduler()
    comp = attach(scheduler, url)  # never started: recovery happens as soon as tables are ready
    try:
        wait_for(lambda: rows(engine, "outcome='unfinished'"), what="unfinished row")
    finally:
        comp.close()
    (row,) = rows(engine)
    assert (
        row.outcome == "unfinished" and row.job_id == "long" and "ended while the job was running" in row.error_message
    )
    from schedtui.core.history import job_stats

    stats = job_stats(engine, "long")
    assert stats is not None and stats.failures == 1 and stats.last_failure is not None


def test_live_scheduler_running_rows_are_not_closed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.sqlite'}"
    engine = sa.create_engine(url)
    a = BackgroundScheduler()
    comp_a = attach(a, url, heartbeat_interval=0.3)
    a.add_job(f"{JOBS}:sleep", "date", args=[3], id="long")
    a.start()
    try:
        wait_for(lambda: rows(engine, "outcome='running'"), what="running row")
        b = BackgroundScheduler()
        comp_b = attach(b, url)
        wait_for(lambda: comp_b.recorder.ready.is_set(), what="b ready")
        comp_b.flush()
        assert rows(engine, "outcome='running'")  # a is alive: its run stays open
        comp_b.close()
        wait_for(lambda: rows(engine, "outcome='success'"), what="long run done")
    finally:
        a.shutdown()
    assert comp_a.dropped == 0


# -------------------------------------------------------------------- heartbeat + hooks
def test_heartbeat_states_and_tick_hook(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    scheduler = create_scheduler(url)
    comp = attach(scheduler, heartbeat_interval=0.2, name="hb")
    ticks: list[str] = []
    comp.add_tick_hook(lambda c: ticks.append(c.scheduler_id))
    comp.add_tick_hook(lambda c: 1 / 0)  # a broken hook must not stop the heartbeat
    engine = comp.engine

    def hb() -> Any:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(T.HEARTBEATS):
                return None
            return conn.execute(sa.text("select * from schedtui_heartbeats")).first()

    scheduler.start()
    try:
        first = wait_for(lambda: hb() and hb().state == "running" and hb(), what="heartbeat")
        wait_for(lambda: hb().last_seen > first.last_seen, what="heartbeat moves")
        wait_for(lambda: len(ticks) >= 3, what="tick hooks")
        assert set(ticks) == {comp.scheduler_id}
        scheduler.pause()
        wait_for(lambda: hb().state == "paused", what="paused heartbeat")
        seen = hb().last_seen
        wait_for(lambda: hb().last_seen > seen, what="paused heartbeat keeps proving the process")
        scheduler.resume()
        wait_for(lambda: hb().state == "running", what="resumed")
    finally:
        scheduler.shutdown()
    row = hb()
    assert row.state == "shutdown" and row.name == "hb" and row.scheduler_id == comp.scheduler_id
    assert row.version and row.interval_s == pytest.approx(0.2)


def test_retention_prunes_in_batches(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    engine = sa.create_engine(url)
    t = T.create_all(engine)
    now = time.time()
    with engine.begin() as conn:
        conn.execute(
            sa.insert(t.runs),
            [
                {"job_id": job, "scheduled_at": now - i * 60, "finished_at": now - i * 60 + 1, "outcome": "success"}
                for job in ("a", "b")
                for i in range(1200)
            ]
            + [
                {"job_id": "old", "scheduled_at": now - 40 * 86400, "finished_at": now - 40 * 86400, "outcome": "error"}
            ],
        )
    scheduler = BackgroundScheduler()
    comp = attach(scheduler, engine, retention_runs=1000, retention_days=30)
    try:
        wait_for(lambda: comp.recorder.ready.is_set(), what="ready")
        deleted = comp.prune(max_batches=100)
    finally:
        comp.close()
    assert deleted == 1 + 2 * 200
    with engine.connect() as conn:
        counts = dict(conn.execute(sa.text("select job_id, count(*) from schedtui_runs group by job_id")).all())
    assert counts == {"a": 1000, "b": 1000}


@pytest.mark.postgres
def test_postgres_connections_killed_while_jobs_run(pg_url: str) -> None:
    """The server drops the recorder's connections mid-run: the scheduler keeps going and
    the recorder reconnects and catches up."""
    runs: list[float] = []
    scheduler = BackgroundScheduler()
    comp = attach(scheduler, pg_url, heartbeat_interval=0.3)
    scheduler.add_job(lambda: runs.append(time.time()), "interval", seconds=0.1, id="counter")
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    dbname = sa.engine.make_url(pg_url).database
    scheduler.start()
    try:
        wait_for(lambda: rows(admin, "outcome='success'"), what="first rows")
        for _ in range(3):
            with admin.connect() as conn:
                killed = conn.execute(
                    sa.text(
                        "select count(pg_terminate_backend(pid)) from pg_stat_activity "
                        "where datname = :d and pid <> pg_backend_pid()"
                    ),
                    {"d": dbname},
                ).scalar()
            n = len(runs)
            wait_for(lambda: len(runs) >= n + 3, what="runs after the kill")
        assert killed is not None and scheduler.running
        target = len(runs)
        wait_for(lambda: len(rows(admin, "outcome='success'")) >= target, what="catch-up")
    finally:
        scheduler.shutdown()
        admin.dispose()
    assert comp.dropped == 0


def test_heartbeat_survives_remove_all_jobs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    scheduler = create_scheduler(url)
    comp = attach(scheduler, heartbeat_interval=0.2)
    scheduler.add_job(f"{JOBS}:succeed", "interval", hours=1, id="x")
    scheduler.start()
    engine = sa.create_engine(url)

    def last_seen() -> float:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(T.HEARTBEATS):
                return 0.0
            return conn.execute(sa.text("select max(last_seen) from schedtui_heartbeats")).scalar() or 0.0

    try:
        wait_for(last_seen, what="heartbeat")
        scheduler.remove_all_jobs()
        assert scheduler.get_job("schedtui-heartbeat") is not None
        seen = last_seen()
        wait_for(lambda: last_seen() > seen + 0.3, what="heartbeat after remove_all_jobs")
    finally:
        scheduler.shutdown()
    assert comp.dropped == 0


@pytest.mark.postgres
def test_overlong_job_id_is_clipped_not_blocking(pg_url: str) -> None:
    long_id = "j" * 300
    scheduler = BackgroundScheduler()  # memory store: ids of any length
    comp = attach(scheduler, pg_url, heartbeat_interval=0.3)
    scheduler.add_job(f"{JOBS}:succeed", "interval", seconds=0.2, id=long_id)
    scheduler.add_job(f"{JOBS}:succeed", "interval", seconds=0.2, id="short")
    scheduler.start()
    engine = sa.create_engine(pg_url)
    try:
        wait_for(
            lambda: {r.job_id[:5] for r in rows(engine, "outcome='success'")} >= {"jjjjj", "short"},
            what="both jobs recorded",
        )
    finally:
        scheduler.shutdown()
    clipped = {r.job_id for r in rows(engine) if r.job_id.startswith("j")}
    assert {len(j) for j in clipped} == {191}
    assert not rows(engine, "outcome='running'")
    assert comp.dropped == 0
    engine.dispose()
