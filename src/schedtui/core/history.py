"""Reading the companion's run history (``schedtui_runs``), and judging it for ``check``.

Read-only: takes an Engine or Connection and never writes. Every query is shaped for an
index of ``core.tables`` so it stays fast on a million runs (see
``benchmarks/bench_companion.py``).

Outcomes: ``success``; ``error`` and ``unfinished`` (the process died mid-run) are
*failures*; ``missed`` and ``max_instances`` are *skipped* runs; ``running`` is in flight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from schedtui.core import tables as T
from schedtui.core.health import CheckContext, Component, Line, Perf, Status
from schedtui.core.heartbeat import ago, connection

#: Durations (p50/p95/max) are computed over a job's most recent runs, this many.
DURATION_WINDOW = 1000
#: Jobs given per-job duration statistics in ``check`` (lines show fewer).
MAX_JOBS_IN_CHECK = 100
MAX_JOB_LINES = 20

_EXECUTED = ("success", "error", "unfinished")


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One recorded run; times are aware UTC datetimes."""

    id: int
    job_id: str
    job_name: str | None
    func: str | None
    jobstore: str | None
    scheduled_at: datetime | None
    submitted_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    outcome: str
    error_type: str | None
    error_message: str | None
    traceback: str | None
    host: str | None
    pid: int | None
    scheduler_id: str | None

    @property
    def failed(self) -> bool:
        return self.outcome in T.FAILURE_OUTCOMES

    def as_dict(self, with_traceback: bool = False) -> dict[str, Any]:
        out = {
            "id": self.id,
            "job_id": self.job_id,
            "job_name": self.job_name,
            "func": self.func,
            "jobstore": self.jobstore,
            "scheduled_at": self.scheduled_at,
            "submitted_at": self.submitted_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": self.duration_s,
            "outcome": self.outcome,
            "error_type": self.error_type,
            "error_message": self.error_message,
            "host": self.host,
            "pid": self.pid,
            "scheduler_id": self.scheduler_id,
        }
        if with_traceback:
            out["traceback"] = self.traceback
        return out


def _run(row: Any) -> RunInfo:
    return RunInfo(
        id=int(row.id),
        job_id=row.job_id,
        job_name=row.job_name,
        func=row.func,
        jobstore=row.jobstore,
        scheduled_at=_dt(row.scheduled_at),
        submitted_at=_dt(row.submitted_at),
        started_at=_dt(row.started_at),
        finished_at=_dt(row.finished_at),
        duration_s=row.duration_s,
        outcome=row.outcome,
        error_type=row.error_type,
        error_message=row.error_message,
        traceback=row.traceback,
        host=row.host,
        pid=row.pid,
        scheduler_id=row.scheduler_id,
    )


@dataclass(frozen=True, slots=True)
class JobStats:
    """A job's statistics. Counts cover every retained run; durations (of successful runs)
    cover the most recent ``window`` runs."""

    job_id: str
    job_name: str | None
    runs: int
    successes: int
    failures: int
    skipped: int
    running: int
    success_rate: float | None  #: successes / (successes + failures); None without any
    p50_s: float | None
    p95_s: float | None
    max_s: float | None
    window: int  #: how many successful durations the percentiles use
    last_run: RunInfo | None
    last_success: datetime | None
    last_failure: RunInfo | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "job_name": self.job_name,
            "runs": self.runs,
            "successes": self.successes,
            "failures": self.failures,
            "skipped": self.skipped,
            "running": self.running,
            "success_rate": self.success_rate,
            "p50_s": self.p50_s,
            "p95_s": self.p95_s,
            "max_s": self.max_s,
            "window": self.window,
            "last_outcome": self.last_run.outcome if self.last_run else None,
            "last_run_at": self.last_run.scheduled_at if self.last_run else None,
            "last_success": self.last_success,
            "last_failure": self.last_failure.finished_at or self.last_failure.scheduled_at
            if self.last_failure
            else None,
            "last_failure_error": _error_text(self.last_failure) if self.last_failure else None,
        }


@dataclass(frozen=True, slots=True)
class FailingJob:
    job_id: str
    job_name: str | None
    run: RunInfo


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The last 24 hours, and the jobs whose last executed run failed."""

    since: datetime
    runs_24h: int
    failures_24h: int
    outcomes_24h: dict[str, int] = field(default_factory=dict)
    running: int = 0
    failing_jobs: tuple[FailingJob, ...] = ()


def _error_text(run: RunInfo) -> str:
    if run.error_type or run.error_message:
        text = f"{run.error_type or 'error'}: {run.error_message or ''}".rstrip(": ")
    else:
        text = run.outcome
    text = text.splitlines()[0] if text else text
    return text if len(text) <= 160 else text[:159] + "…"


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    k = max(0, math.ceil(p * len(sorted_values)) - 1)
    return sorted_values[min(k, len(sorted_values) - 1)]


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
        counts: dict[str, int] = dict(
            conn.execute(
                sa.select(r.c.outcome, sa.func.count()).where(r.c.job_id == job_id).group_by(r.c.outcome)
            ).all()
        )
        total = sum(counts.values())
        if not total:
            return None
        durations = _window_durations(conn, r, job_id, window)
        last_row = conn.execute(
            sa.select(r).where(r.c.job_id == job_id).order_by(r.c.scheduled_at.desc()).limit(1)
        ).first()
        last_success = _last(conn, r, job_id, ("success",))
        last_failure = _last(conn, r, job_id, T.FAILURE_OUTCOMES)
    successes = counts.get("success", 0)
    failures = sum(counts.get(o, 0) for o in T.FAILURE_OUTCOMES)
    last_run = _run(last_row) if last_row is not None else None
    return JobStats(
        job_id=job_id,
        job_name=last_run.job_name if last_run else None,
        runs=total,
        successes=successes,
        failures=failures,
        skipped=counts.get("missed", 0) + counts.get("max_instances", 0),
        running=counts.get("running", 0),
        success_rate=(successes / (successes + failures)) if successes + failures else None,
        p50_s=percentile(durations, 0.50),
        p95_s=percentile(durations, 0.95),
        max_s=durations[-1] if durations else None,
        window=len(durations),
        last_run=last_run,
        last_success=(last_success.finished_at or last_success.scheduled_at) if last_success else None,
        last_failure=last_failure,
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


def window_stats(
    bind: Any, job_ids: list[str], schema: str | None = None, window: int = 100
) -> dict[str, dict[str, Any]]:
    """p50/p95/max of successful durations and the success rate over each job's last
    ``window`` runs: one index-only query per job (for ``check``)."""
    r = T.tables_for(schema).runs
    out: dict[str, dict[str, Any]] = {}
    with connection(bind) as conn:
        for job_id in job_ids:
            rows = conn.execute(
                sa.select(r.c.outcome, r.c.duration_s)
                .where(r.c.job_id == job_id)
                .order_by(r.c.scheduled_at.desc())
                .limit(window)
            ).all()
            if not rows:
                continue
            durations = sorted(d for o, d in rows if o == "success" and d is not None)
            ok = sum(1 for o, _ in rows if o == "success")
            bad = sum(1 for o, _ in rows if o in T.FAILURE_OUTCOMES)
            out[job_id] = {
                "runs": len(rows),
                "success_rate": (ok / (ok + bad)) if ok + bad else None,
                "p50_s": percentile(durations, 0.5),
                "p95_s": percentile(durations, 0.95),
                "max_s": durations[-1] if durations else None,
                "last_outcome": rows[0][0],
            }
    return out


def _fmt_s(value: float | None) -> str:
    from schedtui.core.describe import format_duration

    return format_duration(value)


def history_component(ctx: CheckContext) -> Component | None:
    """The ``history`` component: runs and failures in the last 24 h, jobs whose last run
    failed (WARNING), per-job p50/p95 in ``data["jobs"]`` and the detail lines.

    None when there is no engine or no companion tables.
    """
    if ctx.engine is None:
        return None
    schema = ctx.target.schema
    if not T.installed(ctx.engine, schema, T.RUNS):
        return None
    s = summary(ctx.engine, ctx.now, schema)
    known: set[str] | None = {j.id for j in ctx.snapshot.jobs} if ctx.snapshot is not None else None
    failing = [f for f in s.failing_jobs if known is None or f.job_id in known]
    gone = [f.job_id for f in s.failing_jobs if known is not None and f.job_id not in known]
    if ctx.snapshot is not None:
        job_ids = [j.id for j in ctx.snapshot.jobs][:MAX_JOBS_IN_CHECK]
    else:
        with connection(ctx.engine) as conn:
            job_ids = [j for j, _ in _last_executed_per_job(conn, T.tables_for(schema).runs)][:MAX_JOBS_IN_CHECK]
    stats = window_stats(ctx.engine, job_ids, schema)
    o = s.outcomes_24h
    lines: list[Line] = [
        Line(
            f"Last 24 h: {s.runs_24h} runs, {s.failures_24h} failed, "
            f"{o.get('missed', 0)} missed, {o.get('max_instances', 0)} skipped (max instances)"
            + (f"; {s.running} running now" if s.running else "")
        )
    ]
    for f in failing:
        when = f.run.finished_at or f.run.scheduled_at
        age = f" {ago((ctx.now - when).total_seconds())} ago" if when else ""
        lines.append(Line(f"{f.job_id}: last run failed{age}: {_error_text(f.run)}", Status.WARNING))
    dur_lines = tuple(
        Line(
            f"{job_id}: p50 {_fmt_s(st['p50_s'])}, p95 {_fmt_s(st['p95_s'])}, max {_fmt_s(st['max_s'])}"
            + (f", {st['success_rate']:.0%} ok" if st["success_rate"] is not None else "")
            + (f" (last {st['runs']} runs)" if st["runs"] != 1 else " (1 run)")
        )
        for job_id, st in list(stats.items())[:MAX_JOB_LINES]
    )
    if dur_lines:
        lines.append(Line("Durations", children=dur_lines))
    if failing:
        names = ", ".join(f.job_id for f in failing[:5]) + (" …" if len(failing) > 5 else "")
        status = Status.WARNING
        summ = (
            f"{len(failing)} job(s) whose last run failed: {names} ({s.runs_24h} runs, {s.failures_24h} failed in 24 h)"
        )
    else:
        status = Status.OK
        summ = f"{s.runs_24h} runs in 24 h, {s.failures_24h} failed"
    return Component(
        name="history",
        status=status,
        summary=summ,
        lines=tuple(lines),
        perfdata=(
            Perf("runs_24h", s.runs_24h, min=0),
            Perf("failures_24h", s.failures_24h, min=0),
            Perf("failing_jobs", len(failing), warn=0, min=0),
        ),
        data={
            "runs_24h": s.runs_24h,
            "failures_24h": s.failures_24h,
            "outcomes_24h": dict(o),
            "running": s.running,
            "failing_jobs": [
                {"job_id": f.job_id, "at": f.run.finished_at or f.run.scheduled_at, "error": _error_text(f.run)}
                for f in failing
            ],
            "failing_removed_jobs": gone,
            "jobs": stats,
        },
    )
