"""What happened across all jobs, for the console's events feed and failures overview.

Read-only, over the companion's tables: the newest runs (``schedtui_runs``), runs and
failures per hour, and the operators' requests (``schedtui_commands``, the audit log of
job control through the companion). Each function returns typed, frozen records and
``()`` when the tables are not there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from schedtui.core import tables as T
from schedtui.core.heartbeat import connection
from schedtui.core.history import RunInfo, recent_runs


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
class Hourly:
    """Runs and failures per hour, oldest hour first, ending with the current one."""

    start: datetime
    runs: tuple[int, ...]
    failures: tuple[int, ...]


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def _has(conn: sa.Connection, name: str, schema: str | None) -> bool:
    return sa.inspect(conn).has_table(name, schema=schema)


def newest_runs(bind: Any, limit: int = 500, schema: str | None = None) -> tuple[RunInfo, ...]:
    """The newest runs of every job, newest first."""
    return recent_runs(bind, limit=limit, schema=schema)


def hourly(bind: Any, now: datetime, hours: int = 24, schema: str | None = None) -> Hourly:
    """Finished runs and failures in each of the last ``hours`` hours (one grouped query)."""
    start = (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    runs = [0] * hours
    fails = [0] * hours
    r = T.tables_for(schema).runs
    base = start.timestamp()
    with connection(bind) as conn:
        if not _has(conn, T.RUNS, schema):
            return Hourly(start, tuple(runs), tuple(fails))
        bucket = sa.cast((r.c.finished_at - base) / 3600, sa.Integer)
        q = (
            sa.select(bucket, r.c.outcome, sa.func.count())
            .where(r.c.finished_at >= base, r.c.outcome.in_(T.FINAL_OUTCOMES))
            .group_by(bucket, r.c.outcome)
        )
        for index, outcome, count in conn.execute(q):
            if index is None or not 0 <= int(index) < hours:
                continue
            runs[int(index)] += int(count)
            if outcome in T.FAILURE_OUTCOMES:
                fails[int(index)] += int(count)
    return Hourly(start, tuple(runs), tuple(fails))


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


def per_job_24h(bind: Any, now: datetime, schema: str | None = None) -> dict[str, tuple[int, int]]:
    """``job_id -> (finished runs, failures)`` over the 24 h before ``now``."""
    r = T.tables_for(schema).runs
    cutoff = (now - timedelta(hours=24)).timestamp()
    out: dict[str, tuple[int, int]] = {}
    with connection(bind) as conn:
        if not _has(conn, T.RUNS, schema):
            return out
        q = (
            sa.select(r.c.job_id, r.c.outcome, sa.func.count())
            .where(r.c.finished_at >= cutoff, r.c.outcome.in_(T.FINAL_OUTCOMES))
            .group_by(r.c.job_id, r.c.outcome)
        )
        for job_id, outcome, count in conn.execute(q):
            runs, fails = out.get(str(job_id), (0, 0))
            runs += int(count)
            if outcome in T.FAILURE_OUTCOMES:
                fails += int(count)
            out[str(job_id)] = (runs, fails)
    return out
