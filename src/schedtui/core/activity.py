"""What happened across all jobs, for the console's events feed and failures overview.

Read-only, over whichever run history the store has (a ``HistorySource``: the companion's
``schedtui_runs``, Aegis's ``job_execution``, django-apscheduler's executions, APScheduler
4's ``job_results``): the newest runs, runs and failures per job and per hour over 24 h,
and each failing job's last failure. Plus what only the companion records: the operators'
requests (``schedtui_commands``, the audit log of job control through the companion).

Every query is bounded (the newest N rows, an aggregate over a time window, one indexed
look-up per failing job, at most ``MAX_FAILING``); results are typed, frozen records.
``feed_note`` says, in one line, what a layout does not record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from schedtui.core import tables as T
from schedtui.core.heartbeat import connection
from schedtui.core.history import Hourly, RunInfo, RunSummary, RunWindow
from schedtui.core.history.source import HistorySource

__all__ = [
    "MAX_FAILING",
    "Activity",
    "CommandInfo",
    "Hourly",
    "JobFailures",
    "feed_note",
    "read_activity",
    "recent_commands",
]

#: Failing jobs given their last failure (one indexed query each); the rest are counted.
MAX_FAILING = 50
#: Runs read for the feed and the jobs table's run columns (newest first).
RECENT = 2000


@dataclass(frozen=True, slots=True)
class CommandInfo:
    """One job-control request recorded in ``schedtui_commands``."""

    id: int
    job_id: str
    action: str
    status: str
    requested_by: str | None
    requested_at: datetime
    applied_at: datetime | None
    result: str | None


@dataclass(frozen=True, slots=True)
class JobFailures:
    """A job with failures in the window: how many, its last failure, and whether its last
    executed run failed (what ``check`` warns about: ``last run failed``)."""

    job_id: str
    job_name: str | None
    failures: int
    runs: int
    successes: int
    last_failure: RunInfo | None
    failing_now: bool


@dataclass(frozen=True, slots=True)
class Activity:
    """One read of a store's run activity."""

    kind: str  #: the source's kind (``companion``, ``aegis``, ``django``, ``apscheduler4``)
    label: str  #: the source's label (``Aegis job_execution``), as ``schedtui history`` prints it
    recent: tuple[RunInfo, ...]  #: newest first
    window: RunWindow  #: per job and per hour, the 24 h before ``now``
    summary: RunSummary  #: ``check``'s judgement (runs, failures, jobs whose last run failed)
    failures: tuple[JobFailures, ...]  #: most failures first, then by id
    commands: tuple[CommandInfo, ...] = ()  #: the companion's audit log (empty elsewhere)
    audit_log: bool = False  #: whether the store has the companion's audit log

    @property
    def hourly(self) -> Hourly:
        return self.window.hourly


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def _has(conn: sa.Connection, name: str, schema: str | None) -> bool:
    return sa.inspect(conn).has_table(name, schema=schema)


def recent_commands(bind: Any, limit: int = 100, schema: str | None = None) -> tuple[CommandInfo, ...]:
    """The newest job-control requests (pause, resume, run now, remove), newest first."""
    c = T.tables_for(schema).commands
    with connection(bind) as conn:
        if not _has(conn, T.COMMANDS, schema):
            return ()
        rows = conn.execute(sa.select(c).order_by(c.c.id.desc()).limit(max(1, int(limit))))
        return tuple(
            CommandInfo(
                id=int(row.id),
                job_id=str(row.job_id),
                action=str(row.action),
                status=str(row.status),
                requested_by=row.requested_by,
                requested_at=_dt(row.requested_at) or datetime.min.replace(tzinfo=UTC),
                applied_at=_dt(row.applied_at),
                result=row.result,
            )
            for row in rows
        )


def read_activity(
    source: HistorySource,
    bind: Any,
    now: datetime,
    *,
    schema: str | None = None,
    limit: int = RECENT,
    hours: int = 24,
) -> Activity:
    """The newest ``limit`` runs, the ``hours`` window, the failing jobs and (where the
    companion's table is) the audit log, from ``source``."""
    recent = source.recent_runs(bind, limit=limit)
    window = source.run_window(bind, now, hours)
    summary = source.summary(bind, now)
    failing_now = {f.job_id for f in summary.failing_jobs}
    newest_failure: dict[str, RunInfo] = {}
    for run in recent:
        if run.failed and run.job_id not in newest_failure:
            newest_failure[run.job_id] = run
    failed = sorted((j for j in window.jobs if j.failures), key=lambda j: (-j.failures, j.job_id))
    failures: list[JobFailures] = []
    for i, j in enumerate(failed):
        last = newest_failure.get(j.job_id)
        if last is None and i < MAX_FAILING:
            last = source.last_failure(bind, j.job_id)
        failures.append(
            JobFailures(
                job_id=j.job_id,
                job_name=last.job_name if last is not None else None,
                failures=j.failures,
                runs=j.runs,
                successes=j.successes,
                last_failure=last,
                failing_now=j.job_id in failing_now,
            )
        )
    audit = False
    commands: tuple[CommandInfo, ...] = ()
    with connection(bind) as conn:
        audit = _has(conn, T.COMMANDS, schema)
    if audit:
        commands = recent_commands(bind, schema=schema)
    return Activity(
        kind=source.kind,
        label=source.label,
        recent=recent,
        window=window,
        summary=summary,
        failures=tuple(failures),
        commands=commands,
        audit_log=audit,
    )


#: What a history records of a run, where it is less than started / finished / failed.
_LESS = {"apscheduler4": "finished runs only (job_results keeps no start)"}


def feed_note(activity: Activity | None, *, heartbeat: bool) -> str | None:
    """One line for the events feed: where runs come from and what that layout does not
    record (None when everything the feed shows is recorded, as with the companion)."""
    if activity is None:
        return (
            "no run history for this store: runs appear with the companion (schedtui companion --help); "
            "job changes show as they happen"
        )
    missing = []
    if not activity.audit_log:
        missing.append("operator audit log (only this console's actions)")
    if not heartbeat and activity.kind != "companion":  # (the companion records one when it runs)
        missing.append("scheduler heartbeat")
    if activity.kind == "companion" and not missing:
        return None
    note = f"runs from {activity.label}"
    if activity.kind in _LESS:
        note += f": {_LESS[activity.kind]}"
    if missing:
        note += f" · not recorded there: {', '.join(missing)}"
    return note
