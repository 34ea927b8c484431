"""The run tables other programs keep, as ``RunLayout`` values.

- **Aegis Stack** apps: ``job_execution`` (PostgreSQL: schema ``scheduler``; SQLite:
  unqualified). Statuses ``running``/``success``/``failed``/``missed``; naive UTC datetimes;
  a ``running`` row whose scheduler restarted is later closed as ``failed`` with "Run did
  not complete (scheduler restarted)" (shown as ``unfinished``); missed runs are
  zero-duration rows; manual runs have no ``scheduled_run_time``.
- **django-apscheduler** 0.7: ``django_apscheduler_djangojobexecution``. ``run_time`` is
  the *scheduled* run time (aware UTC with ``USE_TZ``), ``finished`` an epoch (Decimal),
  ``duration`` = finished - run_time in seconds (so it includes any start delay), statuses
  ``Started execution``, ``Executed``, ``Error!``, ``Missed!``, ``Max instances!``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from schedtui.core.history.records import RunInfo
from schedtui.core.history.table import RunLayout, number, text, utc

AEGIS_TABLE = "job_execution"
AEGIS_SCHEMA = "scheduler"
AEGIS_RESTARTED = "Run did not complete"
DJANGO_JOBS_TABLE = "django_apscheduler_djangojob"
DJANGO_RUNS_TABLE = "django_apscheduler_djangojobexecution"


def _aegis_duration(row: Any) -> float | None:
    ms = number(row["duration_ms"])
    return None if ms is None else ms / 1000.0


def _aegis_run(row: Any, outcome: str) -> RunInfo:
    message = text(row["error_message"])
    if outcome == "error" and message is not None and message.startswith(AEGIS_RESTARTED):
        outcome = "unfinished"
    return RunInfo(
        id=int(row["id"]),
        job_id=str(row["job_id"]),
        job_name=text(row["job_name"]),
        func=None,
        jobstore=None,
        scheduled_at=utc(row["scheduled_run_time"]),
        submitted_at=None,
        started_at=utc(row["started_at"]),
        finished_at=utc(row["finished_at"]),
        duration_s=_aegis_duration(row),
        outcome=outcome,
        error_type=None,
        error_message=message,
        traceback=text(row["traceback"]),
        host=None,
        pid=None,
        scheduler_id=None,
    )


AEGIS = RunLayout(
    kind="aegis",
    title="Aegis",
    table=AEGIS_TABLE,
    columns=(
        "id",
        "job_id",
        "job_name",
        "scheduled_run_time",
        "started_at",
        "finished_at",
        "duration_ms",
        "status",
        "error_message",
        "traceback",
    ),
    statuses=(("running", "running"), ("success", "success"), ("failed", "error"), ("missed", "missed")),
    order_column="started_at",
    aware=False,
    to_run=_aegis_run,
    duration_of=_aegis_duration,
    schemas=(AEGIS_SCHEMA,),
)


def _django_duration(row: Any) -> float | None:
    return number(row["duration"])


def _django_run(row: Any, outcome: str) -> RunInfo:
    finished = utc(number(row["finished"]))
    duration = _django_duration(row)
    scheduled = utc(row["run_time"])
    return RunInfo(
        id=int(row["id"]),
        job_id=str(row["job_id"]),
        job_name=None,
        func=None,
        jobstore=None,
        scheduled_at=scheduled,
        submitted_at=None,
        # django-apscheduler records no start: the scheduled time is the best we know
        started_at=scheduled if finished is None or duration is None else finished - timedelta(seconds=duration),
        finished_at=finished,
        duration_s=duration,
        outcome=outcome,
        error_type=None,
        error_message=text(row["exception"]),
        traceback=text(row["traceback"]),
        host=None,
        pid=None,
        scheduler_id=None,
    )


DJANGO = RunLayout(
    kind="django",
    title="django-apscheduler",
    table=DJANGO_RUNS_TABLE,
    columns=("id", "job_id", "status", "run_time", "duration", "finished", "exception", "traceback"),
    statuses=(
        ("Started execution", "running"),
        ("Executed", "success"),
        ("Error!", "error"),
        ("Missed!", "missed"),
        ("Max instances!", "max_instances"),
    ),
    order_column="run_time",
    aware=True,
    to_run=_django_run,
    duration_of=_django_duration,
)

#: Every known layout, in the order they are looked for.
LAYOUTS: tuple[RunLayout, ...] = (AEGIS, DJANGO)
