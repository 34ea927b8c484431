"""``Aps4History``: an APScheduler 4 store's ``job_results`` as run history (read-only).

A result row has no schedule or task column: APScheduler deletes the ``jobs`` row when it
records the result, so a run is attributed to its schedule only while that job row still
exists; otherwise its ``job_id`` is the job's UUID. Results live until ``expires_at``
(only jobs with a ``result_expiration_time`` leave one). The table is small: it is read
whole (newest first, capped) and judged here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from schedtui.core import tables as T
from schedtui.core.aps4 import layout as L
from schedtui.core.aps4 import payload
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
    percentile,
    window_of,
    window_of_counts,
)

#: At most this many results are read (newest first).
MAX_RESULTS = 20_000
_MIN = datetime.min.replace(tzinfo=UTC)


def _error(data: Any) -> tuple[str | None, str | None]:
    if data is None:
        return None, None
    kind, value = payload.load(bytes(data))
    if isinstance(value, payload._Obj):
        name = value.ref.rpartition(":")[2] or value.ref
        state = value.state if isinstance(value.state, dict) else {}
        args = state.get("args")
        message = " ".join(map(str, args)) if isinstance(args, list) else None
        return name, message
    return None, "<pickled APScheduler 4 exception>" if kind == "pickle" else f"<{kind} APScheduler 4 exception>"


@dataclass(frozen=True, slots=True)
class Aps4History:
    """A ``HistorySource`` over ``job_results`` in ``schema``."""

    schema: str | None = None

    @property
    def kind(self) -> str:
        return "apscheduler4"

    @property
    def label(self) -> str:
        where = f"{self.schema}.job_results" if self.schema else "job_results"
        return f"APScheduler 4 {where}"

    def _runs(self, bind: Any) -> list[RunInfo]:
        r = L.raw_table("job_results", L.RESULT_COLUMNS, self.schema)
        j = L.raw_table("jobs", L.JOB_COLUMNS, self.schema)
        q = (
            sa.select(r, j.c.schedule_id, j.c.task_id, j.c.scheduled_fire_time)
            .select_from(r.outerjoin(j, j.c.id == r.c.job_id))
            .order_by(r.c.finished_at.desc())
            .limit(MAX_RESULTS)
        )
        runs: list[RunInfo] = []
        with connection(bind) as conn:
            for row in conn.execute(q):
                m = row._mapping
                job_uuid = L.uuid_text(m["job_id"])
                started, finished = L.timestamp(m["started_at"]), L.timestamp(m["finished_at"])
                outcome = L.OUTCOMES.get(str(m["outcome"]), "error")
                err_type, err_msg = _error(m["exception"]) if outcome != "success" else (None, None)
                if outcome != "success" and err_type is None and err_msg is None:
                    err_msg = str(m["outcome"])
                duration = (finished - started).total_seconds() if started and finished else None
                runs.append(
                    RunInfo(
                        id=int(job_uuid.replace("-", ""), 16) if len(job_uuid) == 36 else len(runs),
                        job_id=str(m["schedule_id"]) if m["schedule_id"] is not None else job_uuid,
                        job_name=None if m["task_id"] is None else str(m["task_id"]),
                        func=None,
                        jobstore=None,
                        scheduled_at=L.timestamp(m["scheduled_fire_time"]),
                        submitted_at=None,
                        started_at=started,
                        finished_at=finished,
                        duration_s=duration,
                        outcome=outcome,
                        error_type=err_type,
                        error_message=err_msg,
                        traceback=None,
                        host=None,
                        pid=None,
                        scheduler_id=None,
                    )
                )
        runs.sort(key=lambda x: (x.finished_at or _MIN, x.id), reverse=True)
        return runs

    def recent_runs(
        self, bind: Any, job_id: str | None = None, limit: int = 50, failed_only: bool = False
    ) -> tuple[RunInfo, ...]:
        runs = [x for x in self._runs(bind) if (job_id is None or x.job_id == job_id) and (not failed_only or x.failed)]
        return tuple(runs[: max(1, int(limit))])

    def job_stats(self, bind: Any, job_id: str, window: int = DURATION_WINDOW) -> JobStats | None:
        runs = [x for x in self._runs(bind) if x.job_id == job_id]
        if not runs:
            return None
        ok = [x for x in runs if x.outcome == "success"]
        bad = [x for x in runs if x.failed]
        durations = sorted(x.duration_s for x in runs[:window] if x.outcome == "success" and x.duration_s is not None)
        return JobStats(
            job_id=job_id,
            job_name=runs[0].job_name,
            runs=len(runs),
            successes=len(ok),
            failures=len(bad),
            skipped=sum(1 for x in runs if x.outcome in ("missed", "max_instances")),
            running=0,
            success_rate=len(ok) / (len(ok) + len(bad)) if ok or bad else None,
            p50_s=percentile(durations, 0.50),
            p95_s=percentile(durations, 0.95),
            max_s=durations[-1] if durations else None,
            window=len(durations),
            last_run=runs[0],
            last_success=ok[0].finished_at if ok else None,
            last_failure=bad[0] if bad else None,
        )

    def summary(self, bind: Any, now: datetime) -> RunSummary:
        since = now - timedelta(hours=24)
        runs = self._runs(bind)
        outcomes: dict[str, int] = {}
        for x in runs:
            if x.finished_at is not None and x.finished_at >= since:
                outcomes[x.outcome] = outcomes.get(x.outcome, 0) + 1
        failing: list[FailingJob] = []
        seen: set[str] = set()
        for x in runs:
            if x.job_id in seen or x.outcome not in ("success", *T.FAILURE_OUTCOMES):
                continue
            seen.add(x.job_id)
            if x.failed:
                failing.append(FailingJob(x.job_id, x.job_name, x))
        return RunSummary(
            since=since,
            runs_24h=sum(outcomes.values()),
            failures_24h=sum(outcomes.get(o, 0) for o in T.FAILURE_OUTCOMES),
            outcomes_24h=outcomes,
            running=0,
            failing_jobs=tuple(failing),
        )

    def run_window(self, bind: Any, now: datetime, hours: int = 24) -> RunWindow:
        since = now - timedelta(hours=hours)
        start = hour_start(now, hours)
        counts: dict[str, dict[str, int]] = {}
        per_hour: list[tuple[int, str, int]] = []
        for x in self._runs(bind):
            if x.finished_at is None or x.finished_at < since:
                continue
            by = counts.setdefault(x.job_id, {})
            by[x.outcome] = by.get(x.outcome, 0) + 1
            if x.finished_at >= start:
                per_hour.append((int((x.finished_at - start).total_seconds() // 3600), x.outcome, 1))
        return window_of_counts(since, now, start, counts, per_hour, hours)

    def window_stats(self, bind: Any, job_ids: list[str], window: int = 100) -> dict[str, WindowStats]:
        runs = self._runs(bind)
        out: dict[str, WindowStats] = {}
        for job_id in job_ids:
            stats = window_of([(x.outcome, x.duration_s) for x in runs if x.job_id == job_id][:window])
            if stats is not None:
                out[job_id] = stats
        return out

    def job_ids(self, bind: Any) -> list[str]:
        return sorted({x.job_id for x in self._runs(bind)})

    def last_failure(self, bind: Any, job_id: str) -> RunInfo | None:
        return next((x for x in self._runs(bind) if x.job_id == job_id and x.failed), None)
