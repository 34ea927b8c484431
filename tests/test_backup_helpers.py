"""Helpers for the backup and restore tests: job stores written by real APScheduler.

The job functions are module-level so APScheduler can store them by reference. Also
runnable as a script: ``python test_backup_helpers.py writer URL STOPFILE`` runs a real
scheduler that rewrites jobs every few milliseconds until STOPFILE appears.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BASE = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
# First fire times are computed from here, so a store from ``make_store`` has nothing due
# on any date a test runs (a check on it is OK whatever the real clock says).
FUTURE = datetime(2099, 1, 5, 12, 0, tzinfo=UTC)


def tick(*args: object, **kwargs: object) -> None:
    """A job that does nothing (stored by reference)."""


def stop_without_running(sched: Any) -> None:
    """Shut a paused scheduler down without it running anything on the way out.

    ``shutdown()`` sets the state to stopped before the scheduler thread looks
    at it, so a thread still awake from the last ``add_job`` processes every due
    job once (advancing ``next_run_time`` from the real clock). Detaching the
    stores first makes the written rows exactly the ones the fixture chose.
    """
    for alias in list(sched._jobstores):
        sched.remove_jobstore(alias, shutdown=True)
    sched.shutdown(wait=False)


def make_store(url: str, n_jobs: int = 5, *, prefix: str = "job", wal: bool = False) -> list[str]:
    """Write ``n_jobs`` cron/interval/date jobs with a real SQLAlchemyJobStore."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if wal and url.startswith("sqlite"):
        import sqlite3

        from sqlalchemy.engine import make_url

        conn = sqlite3.connect(make_url(url).database)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.close()
    store = SQLAlchemyJobStore(url=url)
    sched = BackgroundScheduler(jobstores={"default": store}, timezone="UTC")
    sched.start(paused=True)
    ids = []
    try:
        for i in range(n_jobs):
            jid = f"{prefix}-{i}"
            kind = i % 3
            # Explicit start and next run times (APScheduler's defaults are the real now).
            if kind == 0:
                cron = CronTrigger(hour=i % 24, minute=5, timezone=UTC)
                first = cron.get_next_fire_time(None, FUTURE)
                sched.add_job(tick, cron, id=jid, args=(i,), kwargs={"n": i}, next_run_time=first)
            elif kind == 1:
                every = IntervalTrigger(minutes=10 + i, start_date=BASE, timezone=UTC)
                first = every.get_next_fire_time(None, FUTURE)
                sched.add_job(tick, every, id=jid, name=f"Interval {i}", next_run_time=first)
            else:
                sched.add_job(tick, "date", run_date=FUTURE + timedelta(days=365 + i), id=jid)
            ids.append(jid)
    finally:
        stop_without_running(sched)
        store.engine.dispose()
    return ids


def run_writer(url: str, stop_file: str, ready_file: str) -> None:
    """A real scheduler whose jobs fire every few ms and are rewritten each time, plus
    add/remove churn, until ``stop_file`` exists."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    sched = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=url)},
        timezone="UTC",
        job_defaults={"misfire_grace_time": 60, "coalesce": True},
    )
    sched.start()
    for i in range(20):
        sched.add_job(tick, "interval", seconds=0.005 * (i + 1), id=f"fast-{i}", replace_existing=True)
    Path(ready_file).write_text("ready")
    n = 0
    deadline = time.monotonic() + 120
    while not Path(stop_file).exists() and time.monotonic() < deadline:
        sched.add_job(tick, "date", run_date=BASE + timedelta(days=400), id=f"churn-{n % 50}", replace_existing=True)
        n += 1
        time.sleep(0.002)
    sched.shutdown(wait=True)


def run_idle(url: str, stop_file: str, ready_file: str) -> None:
    """A real scheduler whose only job is years away (it writes nothing while it waits),
    running until ``stop_file`` exists."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    sched = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=url)}, timezone="UTC")
    sched.start()
    sched.add_job(tick, "date", run_date=BASE + timedelta(days=3650), id="far-away", replace_existing=True)
    sched.get_jobs()  # the store's pooled connection is open from here on
    Path(ready_file).write_text("ready")
    deadline = time.monotonic() + 120
    while not Path(stop_file).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    sched.shutdown(wait=False)


if __name__ == "__main__":
    if sys.argv[1] == "writer":
        run_writer(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "idle":
        run_idle(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "store":
        make_store(sys.argv[2], int(sys.argv[3]))
