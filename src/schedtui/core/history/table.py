"""``TableHistory``: a ``HistorySource`` over another program's run table, described by a
``RunLayout`` (which columns, which status words, how times and durations are stored).

The queries are plain SQL that SQLite, PostgreSQL and MySQL/MariaDB all run. Columns are
read raw (no type processing, so an odd value in one row cannot fail the read) and
converted here; the 24 h cut-off is bound in the column's own form (naive or aware UTC).
These tables are small (Aegis keeps 100 rows per job), so per-job queries are fine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from schedtui.core import tables as T
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

_EPOCH_MIN = datetime.min.replace(tzinfo=UTC)


def utc(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime: naive datetimes and strings are UTC, numbers
    are epoch seconds; None for anything unreadable."""
    if value is None:
        return None
    try:
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str):
            return utc(datetime.fromisoformat(value.strip()))
    except (ValueError, OverflowError, OSError):
        return None
    return None


def number(value: Any) -> float | None:
    """A stored number as a float (Decimal, int, float, numeric string); None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out and abs(out) != float("inf") else None


def hour_bucket(col: Any, edges: list[Any]) -> Any:
    """``i`` where ``edges[i] <= col < edges[i + 1]``, else -1 (a CASE: portable SQL, no
    float-to-integer cast, which PostgreSQL rounds and SQLite truncates)."""
    return sa.case(*((sa.and_(col >= edges[i], col < edges[i + 1]), i) for i in range(len(edges) - 1)), else_=-1)


def text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class RunLayout:
    """How one program stores its runs."""

    kind: str  #: ``"aegis"``, ``"django"``
    title: str  #: ``"Aegis"``, ``"django-apscheduler"``
    table: str
    #: Every column the layout has (read raw).
    columns: tuple[str, ...]
    #: native status word -> schedtui outcome
    statuses: tuple[tuple[str, str], ...]
    #: the time runs are ordered by, and that the 24 h window applies to
    order_column: str
    #: whether the database holds aware datetimes in ``order_column`` (bind the cut-off so)
    aware: bool
    #: one raw row (a mapping of ``columns``) -> RunInfo
    to_run: Callable[[Any, str], RunInfo]
    #: one raw row -> its duration in seconds
    duration_of: Callable[[Any], float | None]
    #: schemas to look in besides the job store's (PostgreSQL Aegis apps: ``scheduler``)
    schemas: tuple[str, ...] = ()

    def outcome(self, native: Any) -> str:
        for word, ours in self.statuses:
            if native == word:
                return ours
        return "error" if native is not None else "running"

    def natives(self, outcomes: tuple[str, ...]) -> list[str]:
        return [word for word, ours in self.statuses if ours in outcomes]

    def table_for(self, schema: str | None) -> sa.Table:
        return sa.Table(
            self.table, sa.MetaData(), *(sa.Column(c, sa.types.NullType()) for c in self.columns), schema=schema
        )


@dataclass(frozen=True, slots=True)
class TableHistory:
    """A ``HistorySource`` over ``layout.table`` in ``schema``."""

    layout: RunLayout
    schema: str | None = None

    @property
    def kind(self) -> str:
        return self.layout.kind

    @property
    def label(self) -> str:
        where = f"{self.schema}.{self.layout.table}" if self.schema else self.layout.table
        return f"{self.layout.title} {where}"

    # -- helpers ------------------------------------------------------------------------
    def _t(self) -> sa.Table:
        return self.layout.table_for(self.schema)

    def _newest(self, t: sa.Table) -> tuple[Any, ...]:
        return (t.c[self.layout.order_column].desc(), t.c.id.desc())

    def _run(self, row: Any) -> RunInfo:
        return self.layout.to_run(row._mapping, self.layout.outcome(row._mapping["status"]))

    def _cutoff(self, when: datetime, name: str = "cutoff") -> Any:
        """``when`` bound in the order column's own form (naive or aware UTC)."""
        value = when.astimezone(UTC)
        if not self.layout.aware:
            value = value.replace(tzinfo=None)
        return sa.bindparam(name, value, type_=sa.DateTime(timezone=self.layout.aware))

    def _pairs(self, rows: Any) -> list[tuple[str, float | None]]:
        return [(self.layout.outcome(r._mapping["status"]), self.layout.duration_of(r._mapping)) for r in rows]

    # -- the interface --------------------------------------------------------------------
    def recent_runs(
        self, bind: Any, job_id: str | None = None, limit: int = 50, failed_only: bool = False
    ) -> tuple[RunInfo, ...]:
        t = self._t()
        q = sa.select(t)
        if job_id is not None:
            q = q.where(t.c.job_id == job_id)
        if failed_only:
            q = q.where(t.c.status.in_(self.layout.natives(T.FAILURE_OUTCOMES)))
        q = q.order_by(*self._newest(t)).limit(max(1, int(limit)))
        with connection(bind) as conn:
            return tuple(self._run(r) for r in conn.execute(q))

    def _last(self, conn: sa.Connection, t: sa.Table, job_id: str, outcomes: tuple[str, ...]) -> RunInfo | None:
        q = (
            sa.select(t)
            .where(t.c.job_id == job_id, t.c.status.in_(self.layout.natives(outcomes)))
            .order_by(*self._newest(t))
            .limit(1)
        )
        row = conn.execute(q).first()
        return None if row is None else self._run(row)

    def job_stats(self, bind: Any, job_id: str, window: int = DURATION_WINDOW) -> JobStats | None:
        t = self._t()
        with connection(bind) as conn:
            counts: dict[str, int] = {}
            for native, n in conn.execute(
                sa.select(t.c.status, sa.func.count()).where(t.c.job_id == job_id).group_by(t.c.status)
            ):
                key = self.layout.outcome(native)
                counts[key] = counts.get(key, 0) + int(n)
            total = sum(counts.values())
            if not total:
                return None
            recent = conn.execute(
                sa.select(t).where(t.c.job_id == job_id).order_by(*self._newest(t)).limit(window)
            ).all()
            last_success = self._last(conn, t, job_id, ("success",))
            last_failure = self._last(conn, t, job_id, T.FAILURE_OUTCOMES)
        pairs = self._pairs(recent)
        durations = sorted(d for o, d in pairs if o == "success" and d is not None)
        last_run = self._run(recent[0]) if recent else None
        return job_stats_of(
            job_id,
            counts,
            durations,
            last_run,
            (last_success.finished_at or last_success.started_at or last_success.scheduled_at)
            if last_success
            else None,
            last_failure,
        )

    def summary(self, bind: Any, now: datetime) -> RunSummary:
        t = self._t()
        since = now - timedelta(hours=24)
        col = t.c[self.layout.order_column]
        executed = ("success", *T.FAILURE_OUTCOMES)
        outcomes: dict[str, int] = {}
        running = 0
        failing: list[FailingJob] = []
        with connection(bind) as conn:
            for native, n in conn.execute(
                sa.select(t.c.status, sa.func.count()).where(col >= self._cutoff(since)).group_by(t.c.status)
            ):
                key = self.layout.outcome(native)
                if key != "running" and n:
                    outcomes[key] = outcomes.get(key, 0) + int(n)
            # in flight: started within the window (an index range; django-apscheduler never
            # closes the row of a run whose process died, so older ones are not "running now")
            running = int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t)
                    .where(t.c.status.in_(self.layout.natives(("running",))), col >= self._cutoff(since))
                ).scalar_one()
            )
            for job_id in self._job_ids(conn, t):
                last = self._last(conn, t, job_id, executed)
                if last is not None and last.failed:
                    failing.append(FailingJob(job_id, last.job_name, last))
        return RunSummary(
            since=since,
            runs_24h=sum(outcomes.values()),
            failures_24h=sum(outcomes.get(o, 0) for o in T.FAILURE_OUTCOMES),
            outcomes_24h=outcomes,
            running=running,
            failing_jobs=tuple(failing),
        )

    def run_window(self, bind: Any, now: datetime, hours: int = 24) -> RunWindow:
        """One grouped query over the window (an index range on the order column): counts
        per job, status and hour bucket (a CASE over the hour edges, portable SQL)."""
        t = self._t()
        col = t.c[self.layout.order_column]
        since = now - timedelta(hours=hours)
        start = hour_start(now, hours)
        edges = [self._cutoff(start + timedelta(hours=i), f"h{i}") for i in range(hours + 1)]
        bucket = hour_bucket(col, edges).label("bucket")
        q = (
            sa.select(t.c.job_id, t.c.status, bucket, sa.func.count())
            .where(col >= self._cutoff(since))
            .group_by(t.c.job_id, t.c.status, sa.literal_column("bucket"))
        )
        counts: dict[str, dict[str, int]] = {}
        per_hour: list[tuple[int, str, int]] = []
        with connection(bind) as conn:
            for job_id, native, index, n in conn.execute(q):
                outcome = self.layout.outcome(native)
                by = counts.setdefault(str(job_id), {})
                by[outcome] = by.get(outcome, 0) + int(n)
                if index is not None:
                    per_hour.append((int(index), outcome, int(n)))
        return window_of_counts(since, now, start, counts, per_hour, hours)

    def window_stats(self, bind: Any, job_ids: list[str], window: int = 100) -> dict[str, WindowStats]:
        t = self._t()
        out: dict[str, WindowStats] = {}
        with connection(bind) as conn:
            for job_id in job_ids:
                rows = conn.execute(
                    sa.select(t).where(t.c.job_id == job_id).order_by(*self._newest(t)).limit(window)
                ).all()
                stats = window_of(self._pairs(rows))
                if stats is not None:
                    out[job_id] = stats
        return out

    @staticmethod
    def _job_ids(conn: sa.Connection, t: sa.Table) -> list[str]:
        """Every job id: a loose index scan (one seek per job on the job_id index)."""
        table = conn.dialect.identifier_preparer.format_table(t)
        sql = sa.text(
            f"""
            WITH RECURSIVE ids(job_id) AS (
                SELECT MIN(job_id) FROM {table}
                UNION ALL
                SELECT (SELECT MIN(x.job_id) FROM {table} x WHERE x.job_id > ids.job_id)
                FROM ids WHERE ids.job_id IS NOT NULL
            )
            SELECT job_id FROM ids WHERE job_id IS NOT NULL
            """
        )
        return [str(j) for (j,) in conn.execute(sql)]

    def job_ids(self, bind: Any) -> list[str]:
        with connection(bind) as conn:
            return self._job_ids(conn, self._t())

    def last_failure(self, bind: Any, job_id: str) -> RunInfo | None:
        t = self._t()
        with connection(bind) as conn:
            return self._last(conn, t, job_id, T.FAILURE_OUTCOMES)


def newest_first(runs: list[RunInfo]) -> list[RunInfo]:
    """Runs sorted newest first by their best-known time."""
    return sorted(runs, key=lambda r: (r.started_at or r.scheduled_at or _EPOCH_MIN, r.id), reverse=True)
