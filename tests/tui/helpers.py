"""Shared helpers of the console tests and scripts/screenshots.py: the fixture store
(written by real APScheduler in a subprocess), companion history at fixed times, and
polling helpers for Pilot (no sleeps)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from schedtui.core.clock import FixedClock

HERE = Path(__file__).resolve().parent
FROZEN_NOW_ISO = "2026-03-02T12:00:00+00:00"
STORE = "jobs.sqlite"


# The three terminal sizes every snapshot is taken at.
SNAPSHOT_SIZES = [
    pytest.param((80, 24), id="80x24"),
    pytest.param((120, 36), id="120x36"),
    pytest.param((200, 50), id="200x50"),
]


def make_store(path: Path, now_iso: str = FROZEN_NOW_ISO) -> Path:
    """Write the console fixture store at ``path`` with real APScheduler (subprocess)."""
    subprocess.run(
        [sys.executable, str(HERE / "make_console_store.py"), "--url", f"sqlite:///{path}", "--now", now_iso],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return path


_RESCHEDULE = """
import sys
sys.path.insert(0, sys.argv[3])
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
sched = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=sys.argv[1])}, timezone="UTC")
sched.start(paused=True)
hour, minute = (int(x) for x in sys.argv[4].split(":"))
sched.reschedule_job(sys.argv[2], trigger="cron", hour=hour, minute=minute, timezone="UTC")
sched.shutdown(wait=False)
"""


def reschedule(path: Path, job_id: str, at: str) -> None:
    """Give ``job_id`` a daily cron trigger at ``at`` (``HH:MM`` UTC), as the app's own
    scheduler does it (``reschedule_job``, with the app's code importable: subprocess)."""
    app = HERE.parent / "fixtures" / "app"
    subprocess.run(
        [sys.executable, "-c", _RESCHEDULE, f"sqlite:///{path}", job_id, str(app), at],
        check=True,
        capture_output=True,
        timeout=120,
    )


def add_history(path: Path, clock: FixedClock, *, heartbeat: bool = True) -> None:
    """Companion tables with runs and a heartbeat at fixed times (relative to ``clock``)."""
    from schedtui.core import tables as T

    now = clock().timestamp()
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        t = T.create_all(engine)
        runs = []
        for i in range(12):
            at = now - 300 * (12 - i)
            failed = i in (4, 9)
            runs.append(
                {
                    "job_id": "cleanup-temp",
                    "job_name": "cleanup-temp",
                    "func": "fixture_app.jobs:cleanup_temp_files",
                    "jobstore": "default",
                    "scheduled_at": at,
                    "submitted_at": at,
                    "started_at": at + 0.01,
                    "finished_at": at + 0.01 + 0.2 + 0.05 * i,
                    "duration_s": 0.2 + 0.05 * i,
                    "outcome": "error" if failed else "success",
                    "error_type": "OSError" if failed else None,
                    "error_message": "[Errno 28] No space left on device" if failed else None,
                    "traceback": (
                        'Traceback (most recent call last):\n  File "fixture_app/jobs.py", line 12, in cleanup_temp_files\n'
                        "OSError: [Errno 28] No space left on device\n"
                    )
                    if failed
                    else None,
                    "host": "sched-1",
                    "pid": 4242,
                    "scheduler_id": "sched-1:4242",
                }
            )
        with engine.begin() as conn:
            conn.execute(t.runs.insert(), runs)
            if heartbeat:
                conn.execute(
                    t.heartbeats.insert(),
                    {
                        "scheduler_id": "sched-1:4242",
                        "name": "fixture",
                        "host": "sched-1",
                        "pid": 4242,
                        "started_at": now - 86400,
                        "last_seen": now - 5,
                        "interval_s": 10.0,
                        "state": "running",
                        "jobs_table": "apscheduler_jobs",
                        "version": "0.1.0",
                    },
                )
    finally:
        engine.dispose()


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``condition`` while the app runs (no sleeps), failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def stable(pilot, timeout: float = 10.0) -> None:
    """Wait until two screenshots in a row are the same (late layouts, timers, scrollbars)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        shot = pilot.app.export_screenshot()
        shot = shot[shot.find("<g") :]  # (the header holds a per-export id)
        if shot == last:
            return
        last = shot
        await pilot.pause(0.05)


def reprs_ready(main) -> bool:  # type: ignore[no-untyped-def]
    """The selected job's extras arrived, with its args/kwargs rendered on demand for this
    very ``JobInfo`` (``tui.reprs``; an undecodable row has none)."""
    job, extras = main.selected, main.extras
    if job is None or extras is None or extras.job_id != job.id:
        return False
    return job.finding is not None or (extras.reprs is not None and extras.reprs.of is job)


async def settle(pilot, app) -> None:
    """Wait for the first data, the selection's extras/history and idle workers."""
    from schedtui.tui.widgets.jobs import JobList

    main = app.screen_stack[0]
    # (a bound, not a wait: a loaded 2-CPU CI machine took over 30 s now and then)
    await wait_for(pilot, lambda: main.loaded and main.refreshes >= 1, timeout=90, what="first refresh")

    def selection_ready() -> bool:
        job = main.query_one(JobList).current_job
        if job is None:
            return main.selected is None
        return main.selected is job and reprs_ready(main) and main.history is not None and main.history.job_id == job.id

    await wait_for(pilot, selection_ready, what="selection details")
    # the panes follow a cursor move after a short timer: let it have run
    await wait_for(pilot, lambda: getattr(main, "_panes_timer", None) is None, what="panes drawn")
    await stable(pilot)


def aegis_schema():  # type: ignore[no-untyped-def]
    """``tests/fixtures/make_aegis.py`` as a module (Aegis's exact ``job_execution`` table,
    ``naive``, ``RESTARTED``), loaded without keeping its ``sys.path`` entries."""
    import importlib.util

    path = HERE.parent / "fixtures" / "make_aegis.py"
    spec = importlib.util.spec_from_file_location("schedtui_test_make_aegis", path)
    assert spec is not None and spec.loader is not None
    saved = list(sys.path)
    try:
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path[:] = saved
    return mod


def add_aegis_history(path: Path, clock: FixedClock) -> None:
    """An Aegis app's ``job_execution`` (its exact schema) next to the console store's jobs,
    with rows as Aegis's listeners write them, at explicit times relative to ``clock``:
    closed runs, one still ``running``, a run closed at a restart, a missed run (job_name =
    job id, zero duration) and a manual run (no scheduled_run_time)."""
    from datetime import timedelta

    A = aegis_schema()
    now = clock()
    md = sa.MetaData()
    t = A.job_execution_table(md, None)
    rows = []

    def run(job_id, name, sched, start, seconds, status, error=None):  # type: ignore[no-untyped-def]
        done = status != "running"
        rows.append(
            {
                "job_id": job_id,
                "job_name": name,
                "scheduled_run_time": A.naive(sched),
                "started_at": A.naive(start),
                "finished_at": A.naive(start + timedelta(seconds=seconds)) if done else None,
                "duration_ms": seconds * 1000.0 if done and error != A.RESTARTED else None,
                "status": status,
                "error_message": error,
                "traceback": f"Traceback (most recent call last):\n  ...\n{error}\n" if error else None,
            }
        )

    for i in range(12):
        at = now - timedelta(minutes=5 * (12 - i))
        failed = i in (4, 9)
        err = "OSError: [Errno 28] No space left on device" if failed else None
        run("cleanup-temp", "cleanup-temp", at, at + timedelta(milliseconds=10), 0.2 + 0.05 * i,
            "failed" if failed else "success", err)  # fmt: skip
    run("cleanup-temp", "cleanup-temp", now, now + timedelta(milliseconds=10), 0, "running")
    for hours, ok in ((6, True), (12, True), (18, False)):
        at = (now - timedelta(hours=hours)).replace(minute=15, second=0, microsecond=0)
        err = None if ok else "ConnectionError: smtp.example.com:587 refused the connection"
        run("team-report", "team-report", at, at + timedelta(milliseconds=30), 4.5 if ok else 30.0,
            "success" if ok else "failed", err)  # fmt: skip
    stalled = now - timedelta(minutes=15)
    for k in range(3, 0, -1):
        at = stalled - timedelta(seconds=10 * k)
        run("tick", "tick", at, at + timedelta(milliseconds=5), 0.01, "success")
    run("tick", "tick", stalled, stalled + timedelta(milliseconds=5), 2.0, "failed", A.RESTARTED)
    backup = (now - timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0) + timedelta(days=1)
    run("nightly-backup", "Nightly backup", backup, backup + timedelta(milliseconds=12), 41.0, "success")
    missed = now.replace(hour=8, minute=0, second=0, microsecond=0)
    run("either-or", "either-or", missed, now - timedelta(hours=3, minutes=58), 0, "missed")
    manual = now - timedelta(hours=1, minutes=30)
    run("invoices", "Monthly invoices", None, manual, 12.5, "success")
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        md.create_all(engine)
        with engine.begin() as conn:
            conn.execute(sa.insert(t), rows)
    finally:
        engine.dispose()
