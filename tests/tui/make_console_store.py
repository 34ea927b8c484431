"""Write the console's fixture store with REAL APScheduler (run in a subprocess).

    python tests/tui/make_console_store.py --url sqlite:///path --now 2026-03-02T12:00:00+00:00

Jobs are built with APScheduler's own ``Job`` and triggers and written the way
``SQLAlchemyJobStore.add_job`` writes them. ``fixture_app`` (the stand-in for a user's
application) is importable only here. Two rows cannot be decoded by the console:
one uses a trigger class of this script (an application-defined trigger), one is a real
row whose bytes were cut short (a torn write).
"""

from __future__ import annotations

import argparse
import pickle
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "fixtures" / "app"))

from apscheduler.job import Job  # noqa: E402
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # noqa: E402
from apscheduler.schedulers.background import BackgroundScheduler  # noqa: E402
from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger  # noqa: E402
from apscheduler.triggers.combining import OrTrigger  # noqa: E402
from apscheduler.triggers.cron import CronTrigger  # noqa: E402
from apscheduler.triggers.date import DateTrigger  # noqa: E402
from apscheduler.triggers.interval import IntervalTrigger  # noqa: E402
from fixture_app import jobs as J  # noqa: E402
from fixture_app.models import Priority, ReportSpec, Window  # noqa: E402

UTC = UTC


class FullMoonTrigger(IntervalTrigger):
    """An application-defined trigger: the console must not import it."""


def _first_after(trigger, now: datetime) -> datetime | None:
    """The next run time a running scheduler holds: its first fire time after ``now``
    (a calendar trigger's first fire time is its start, however long ago)."""
    fire = trigger.get_next_fire_time(None, now)
    while fire is not None and fire <= now:
        fire = trigger.get_next_fire_time(fire, now)
    return fire


def build(now: datetime) -> list[tuple[Job, bool]]:
    sched = BackgroundScheduler(timezone=UTC)

    def job(id_: str, func, trigger, *, name=None, args=(), kwargs=None, paused=False, nrt=None, grace=1):
        if nrt is None and not paused:
            nrt = trigger.get_next_fire_time(None, now)
        j = Job(
            sched,
            id=id_,
            func=func,
            trigger=trigger,
            executor="default",
            args=tuple(args),
            kwargs=kwargs or {},
            name=name or id_,
            misfire_grace_time=grace,
            coalesce=True,
            max_instances=1,
            next_run_time=None if paused else nrt,
        )
        return j

    start = now - timedelta(days=30) + timedelta(seconds=73)
    # An explicit start date: APScheduler's default is the real today, which made the
    # snapshots depend on the day they were taken.
    invoices = CalendarIntervalTrigger(
        months=1, hour=6, minute=0, start_date=(now - timedelta(days=33)).date(), timezone="Europe/London"
    )
    jobs = [
        job(
            "nightly-backup",
            J.backup_database_job,
            CronTrigger(hour=3, minute=0, timezone="Europe/Berlin"),
            name="Nightly backup",
        ),
        job("cleanup-temp", J.cleanup_temp_files, IntervalTrigger(minutes=5, start_date=start, timezone=UTC)),
        job(
            "weekly-report",
            J.generate_weekly_report,
            CronTrigger(day_of_week="mon", hour=14, minute=30, timezone="America/New_York"),
            name="Weekly report",
        ),
        job(
            "tick", J.tick, IntervalTrigger(seconds=10, start_date=start, timezone=UTC), nrt=now - timedelta(minutes=15)
        ),
        job(
            "send-digest",
            J.send_report,
            DateTrigger(run_date=now + timedelta(hours=2, minutes=5), timezone=UTC),
            kwargs={"spec": ReportSpec("digest", Priority.HIGH, tags=["ops"]), "window": Window(7)},
        ),
        job(
            "team-report",
            J.Reporter("ops", ["ops@example.com"]).run,
            CronTrigger(hour="*/6", minute=15, timezone=UTC),
            args=(),
            kwargs={"fmt": "pdf"},
        ),
        job(
            "paused-export", J.send_report, CronTrigger(day=1, hour=2, timezone=UTC), paused=True, name="Monthly export"
        ),
        job("paused-ping", J.Reporter.ping, IntervalTrigger(minutes=1, start_date=start, timezone=UTC), paused=True),
        job(
            "invoices",
            J.send_report,
            invoices,
            name="Monthly invoices",
            nrt=_first_after(invoices, now),
        ),
        job(
            "either-or",
            J.tick,
            OrTrigger(
                [CronTrigger(hour=8, minute=0, timezone=UTC), IntervalTrigger(hours=3, start_date=start, timezone=UTC)]
            ),
        ),
        job("full-moon", J.tick, FullMoonTrigger(days=29, hours=12, start_date=start, timezone=UTC), name="Full moon"),
    ]
    out = [(j, False) for j in jobs]
    torn = job("torn-row", J.cleanup_temp_files, IntervalTrigger(hours=1, start_date=start, timezone=UTC))
    out.append((torn, True))
    return out


def build_many(now: datetime, count: int) -> list[tuple[Job, bool]]:
    """``count`` jobs for benchmarks: a few trigger shapes shared, ids unique, 2% paused."""
    sched = BackgroundScheduler(timezone=UTC)
    start = now - timedelta(days=3)
    shapes = []
    for k in range(24):
        shapes.append(IntervalTrigger(minutes=1 + k, start_date=start + timedelta(seconds=7 * k), timezone=UTC))
        shapes.append(CronTrigger(hour=k % 24, minute=(k * 7) % 60, timezone="Europe/Berlin"))
    firsts = [t.get_next_fire_time(None, now) for t in shapes]
    funcs = [J.tick, J.cleanup_temp_files, J.send_report, J.generate_weekly_report]
    out = []
    for i in range(count):
        k = i % len(shapes)
        out.append(
            (
                Job(
                    sched,
                    id=f"job-{i:06d}",
                    func=funcs[i % len(funcs)],
                    trigger=shapes[k],
                    executor="default",
                    args=(),
                    kwargs={"n": i} if funcs[i % len(funcs)] is J.send_report else {},
                    name=f"bench job {i}",
                    misfire_grace_time=30,
                    coalesce=True,
                    max_instances=1,
                    next_run_time=None if i % 50 == 49 else firsts[k],
                ),
                False,
            )
        )
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--now", required=True)
    p.add_argument("--count", type=int, default=0, help="write this many benchmark jobs instead")
    a = p.parse_args()
    now = datetime.fromisoformat(a.now)
    store = SQLAlchemyJobStore(url=a.url)
    store.start(BackgroundScheduler(), "default")
    rows = []
    for j, torn in build_many(now, a.count) if a.count else build(now):
        state = pickle.dumps(j.__getstate__(), pickle.HIGHEST_PROTOCOL)
        if torn:
            state = state[: len(state) // 2]
        nrt = j.next_run_time.timestamp() if j.next_run_time else None
        rows.append({"id": j.id, "next_run_time": nrt, "job_state": state})
    with store.engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(store.jobs_t.insert(), rows[i : i + 5000])
    store.shutdown()
    print(len(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
