"""The companion's run history (``schedtui_runs``): the richest source, tuned for a million runs.

Read-only: takes an Engine or Connection and never writes. Every query is shaped for an
index of ``core.tables`` so it stays fast on a million runs (see
``benchmarks/bench_companion.py``).

Outcomes: ``success``; ``error`` and ``unfinished`` (the process died mid-run) are
*failures*; ``missed`` and ``max_instances`` are *skipped* runs; ``running`` is in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from schedtui.core import tables as T
from schedtui.core.clock import from_epoch
from schedtui.core.heartbeat import connection
from schedtui.core.history.records import (
    DURATION_WINDOW,
    FailingJob,
    JobStats,
    RunInfo,
    RunSummary,
    RunWindow,
    WindowStats,
    hour_start,
    job_stats_of,
    window_of,
    window_of_counts,
)

_EXECUTED = ("success", "error", "unfinished")


def _run(row: Any) -> RunInfo:
    return RunInfo(
        id=int(row.id),
        job_id=row.job_id,
        job_name=row.job_name,
        func=row.func,
        jobstore=row.jobstore,
        scheduled_at=from_epoch(row.scheduled_at),
        submitted_at=from_epoch(row.submitted_at),
        started_at=from_epoch(row.started_at),
        finished_at=from_epoch(row.finished_at),
        duration_s=row.duration_s,
        outcome=row.outcome,
        error_type=row.error_type,
        error_message=row.error_message,
        traceback=row.traceback,
        host=row.host,
        pid=row.pid,
        scheduler_id=row.scheduler_id,
    )


def companion_installed(bind: Any, schema: str | None = None) -> bool:
    """Whether the companion's tables (runs and heartbeats) exist."""
    return T.installed(bind, schema, T.RUNS, T.HEARTBEATS)


def _runs_table_exists(conn: sa.Connection, schema: str | None) -> bool:
    return sa.inspect(conn).has_table(T.RUNS, schema=schema)


def recent_runs(
    bind: Any,
    job_id: str | None = None,
    limit: int = 50,
    failed_only: bool = False,
    schema: str | None = None,
) -> tuple[RunInfo, ...]:
    """The newest runs (of one job, or of all), newest first; ``()`` without the table."""
    r = T.tables_for(schema).runs
    limit = max(1, int(limit))
    with connection(bind) as conn:
        if not _runs_table_exists(conn, schema):
            return ()
        if not failed_only:
            if job_id is not None:
                q = sa.select(r).where(r.c.job_id == job_id).order_by(r.c.scheduled_at.desc())
            else:
                q = sa.select(r).order_by(r.c.id.desc())
            return tuple(_run(x) for x in conn.execute(q.limit(limit)))
        # One index range per failure outcome, merged here (an IN list would sort).
        found: list[RunInfo] = []
        for outcome in T.FAILURE_OUTCOMES:
            if job_id is not None:
                q = sa.select(r).where(r.c.job_id == job_id, r.c.outcome == outcome).order_by(r.c.scheduled_at.desc())
            else:
                q = sa.select(r).where(r.c.outcome == outcome).order_by(r.c.finished_at.desc())
            found.extend(_run(x) for x in conn.execute(q.limit(limit)))
    epoch = datetime.min.replace(tzinfo=UTC)
    found.sort(key=lambda x: (x.finished_at or x.scheduled_at or epoch, x.id), reverse=True)
    return tuple(found[:limit])


def _window_durations(conn: sa.Connection, r: sa.Table, job_id: str, window: int) -> list[float]:
    q = (
        sa.select(r.c.outcome, r.c.duration_s)
        .where(r.c.job_id == job_id)
        .order_by(r.c.scheduled_at.desc())
        .limit(window)
    )
    return sorted(d for o, d in conn.execute(q) if o == "success" and d is not None)


def _last(conn: sa.Connection, r: sa.Table, job_id: str, outcomes: tuple[str, ...]) -> RunInfo | None:
    best: RunInfo | None = None
    for outcome in outcomes:
        row = conn.execute(
            sa.select(r).where(r.c.job_id == job_id, r.c.outcome == outcome).order_by(r.c.scheduled_at.desc()).limit(1)
        ).first()
        if row is not None:
            run = _run(row)
            if best is None or (run.scheduled_at or datetime.min.replace(tzinfo=UTC)) > (
                best.scheduled_at or datetime.min.replace(tzinfo=UTC)
            ):
                best = run
    return best


def _last_executed_per_job(conn: sa.Connection, r: sa.Table) -> list[tuple[str, int | None]]:
    """Every job id with the id of its last executed run (success/error/unfinished).

    A loose index scan (recursive CTE of ``min(job_id) > previous``): one index seek per
    job instead of reading every row, then one seek per job for its last run. Only the
    failing ones are fetched in full by the caller.
    """
    table = conn.dialect.identifier_preparer.format_table(r)
    executed = ", ".join(f"'{o}'" for o in _EXECUTED)
    sql = sa.text(
        f"""
        WITH RECURSIVE jobs(job_id) AS (
            SELECT MIN(job_id) FROM {table}
            UNION ALL
            SELECT (SELECT MIN(x.job_id) FROM {table} x WHERE x.job_id > jobs.job_id)
            FROM jobs WHERE jobs.job_id IS NOT NULL
        )
        SELECT jobs.job_id,
               (SELECT y.id FROM {table} y
                 WHERE y.job_id = jobs.job_id AND y.outcome IN ({executed})
                 ORDER BY y.scheduled_at DESC LIMIT 1) AS last_id
        FROM jobs WHERE jobs.job_id IS NOT NULL
        """
    )
    return [(str(a), None if b is None else int(b)) for a, b in conn.execute(sql)]


def job_stats(bind: Any, job_id: str, schema: str | None = None, window: int = DURATION_WINDOW) -> JobStats | None:
    """Statistics of one job; None when it has no recorded runs (or no table)."""
    r = T.tables_for(schema).runs
    with connection(bind) as conn:
        if not _runs_table_exists(conn, schema):
            return None
        counts: dict[str, int] = {
            str(o): int(n)
            for o, n in conn.execute(
                sa.select(r.c.outcome, sa.func.count()).where(r.c.job_id == job_id).group_by(r.c.outcome)
            )
        }
        total = sum(counts.values())
        if not total:
            return None
        durations = _window_durations(conn, r, job_id, window)
        last_row = conn.execute(
            sa.select(r).where(r.c.job_id == job_id).order_by(r.c.scheduled_at.desc()).limit(1)
        ).first()
        last_success = _last(conn, r, job_id, ("success",))
        last_failure = _last(conn, r, job_id, T.FAILURE_OUTCOMES)
    last_run = _run(last_row) if last_row is not None else None
    return job_stats_of(
        job_id,
        counts,
        durations,
        last_run,
        (last_success.finished_at or last_success.scheduled_at) if last_success else None,
        last_failure,
    )


def summary(bind: Any, now: datetime, schema: str | None = None) -> RunSummary:
    """Runs and failures in the 24 h before ``now``; jobs whose last executed run failed."""
    r = T.tables_for(schema).runs
    since = now - timedelta(hours=24)
    cutoff = since.timestamp()
    with connection(bind) as conn:
        if not _runs_table_exists(conn, schema):
            return RunSummary(since=since, runs_24h=0, failures_24h=0)
        outcomes: dict[str, int] = {
            str(o): int(n)
            for o, n in conn.execute(
                sa.select(r.c.outcome, sa.func.count())
                .where(r.c.outcome.in_(T.FINAL_OUTCOMES), r.c.finished_at >= cutoff)
                .group_by(r.c.outcome)
            )
            if n
        }
        running = int(
            conn.execute(sa.select(sa.func.count()).select_from(r).where(r.c.outcome == "running")).scalar_one()
        )
        failing: list[FailingJob] = []
        for job_id, last_id in _last_executed_per_job(conn, r):
            if last_id is None:
                continue
            row = conn.execute(sa.select(r).where(r.c.id == last_id)).first()
            if row is not None and row.outcome in T.FAILURE_OUTCOMES:
                failing.append(FailingJob(job_id, row.job_name, _run(row)))
    return RunSummary(
        since=since,
        runs_24h=sum(outcomes.values()),
        failures_24h=sum(outcomes.get(o, 0) for o in T.FAILURE_OUTCOMES),
        outcomes_24h=outcomes,
        running=running,
        failing_jobs=tuple(failing),
    )


def _hour_index(conn: sa.Connection, col: Any, start: datetime, hours: int) -> Any:
    """The hour bucket of an epoch column, -1 before ``start``: the floor of the hours since
    ``start`` (SQLite's integer cast truncates, which is the floor for these non-negative
    values; elsewhere ``FLOOR``, as PostgreSQL's cast rounds)."""
    base = start.timestamp()
    since = (col - base) / 3600.0
    index = sa.cast(since, sa.Integer) if conn.dialect.name == "sqlite" else sa.cast(sa.func.floor(since), sa.Integer)
    return sa.case((col < base, -1), (col >= base + hours * 3600.0, -1), else_=index)


def run_window(bind: Any, now: datetime, hours: int = 24, schema: str | None = None) -> RunWindow:
    """Finished runs per job, outcome and hour over the ``hours`` before ``now``: one grouped
    query over the (outcome, finished_at) index range."""
    r = T.tables_for(schema).runs
    since = now - timedelta(hours=hours)
    start = hour_start(now, hours)
    counts: dict[str, dict[str, int]] = {}
    per_hour: list[tuple[int, str, int]] = []
    with connection(bind) as conn:
        if _runs_table_exists(conn, schema):
            bucket = _hour_index(conn, r.c.finished_at, start, hours).label("bucket")
            q = (
                sa.select(r.c.job_id, r.c.outcome, bucket, sa.func.count())
                .where(r.c.outcome.in_(T.FINAL_OUTCOMES), r.c.finished_at >= since.timestamp())
                .group_by(r.c.job_id, r.c.outcome, sa.literal_column("bucket"))
            )
            for job_id, outcome, index, n in conn.execute(q):
                by = counts.setdefault(str(job_id), {})
                by[str(outcome)] = by.get(str(outcome), 0) + int(n)
                if index is not None:
                    per_hour.append((int(index), str(outcome), int(n)))
    return window_of_counts(since, now, start, counts, per_hour, hours)


def window_stats(bind: Any, job_ids: list[str], schema: str | None = None, window: int = 100) -> dict[str, WindowStats]:
    """p50/p95/max of successful durations and the success rate over each job's last
    ``window`` runs: one index-only query per job (for ``check``)."""
    r = T.tables_for(schema).runs
    out: dict[str, WindowStats] = {}
    with connection(bind) as conn:
        for job_id in job_ids:
            rows = conn.execute(
                sa.select(r.c.outcome, r.c.duration_s)
                .where(r.c.job_id == job_id)
                .order_by(r.c.scheduled_at.desc())
                .limit(window)
            ).all()
            stats = window_of([(str(o), d) for o, d in rows])
            if stats is not None:
                out[job_id] = stats
    return out


def history_job_ids(bind: Any, schema: str | None = None) -> list[str]:
    """Every job id with recorded runs (a loose index scan)."""
    with connection(bind) as conn:
        if not _runs_table_exists(conn, schema):
            return []
        return [j for j, _ in _last_executed_per_job(conn, T.tables_for(schema).runs)]


@dataclass(frozen=True, slots=True)
class CompanionHistory:
    """``HistorySource`` over the companion's ``schedtui_runs``."""

    schema: str | None = None
    kind: str = "companion"

    @property
    def label(self) -> str:
        return f"schedtui companion {self.schema + '.' if self.schema else ''}{T.RUNS}"

    def recent_runs(
        self, bind: Any, job_id: str | None = None, limit: int = 50, failed_only: bool = False
    ) -> tuple[RunInfo, ...]:
        return recent_runs(bind, job_id, limit, failed_only, self.schema)

    def job_stats(self, bind: Any, job_id: str, window: int = DURATION_WINDOW) -> JobStats | None:
        return job_stats(bind, job_id, self.schema, window)

    def summary(self, bind: Any, now: datetime) -> RunSummary:
        return summary(bind, now, self.schema)

    def run_window(self, bind: Any, now: datetime, hours: int = 24) -> RunWindow:
        return run_window(bind, now, hours, self.schema)

    def window_stats(self, bind: Any, job_ids: list[str], window: int = 100) -> dict[str, WindowStats]:
        return window_stats(bind, job_ids, self.schema, window)

    def job_ids(self, bind: Any) -> list[str]:
        return history_job_ids(bind, self.schema)

    def last_failure(self, bind: Any, job_id: str) -> RunInfo | None:
        with connection(bind) as conn:
            if not _runs_table_exists(conn, self.schema):
                return None
            return _last(conn, T.tables_for(self.schema).runs, job_id, T.FAILURE_OUTCOMES)
