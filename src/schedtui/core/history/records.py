"""The records every run-history source returns (frozen: they cross threads).

Outcomes are schedtui's vocabulary whatever the source writes: ``success``; ``error`` and
``unfinished`` (the process died mid-run) are *failures*; ``missed`` and
``max_instances`` are *skipped* runs; ``running`` is in flight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schedtui.core import tables as T

#: Durations (p50/p95/max) are computed over a job's most recent runs, this many.
DURATION_WINDOW = 1000


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
            "last_failure_error": error_text(self.last_failure) if self.last_failure else None,
        }


def job_stats_of(
    job_id: str,
    counts: dict[str, int],
    durations: list[float],
    last_run: RunInfo | None,
    last_success: datetime | None,
    last_failure: RunInfo | None,
) -> JobStats:
    """``JobStats`` from a job's outcome counts (schedtui's words, every retained run), the
    sorted durations of its recent successful runs, and its last run, success time and failure."""
    successes = counts.get("success", 0)
    failures = sum(counts.get(o, 0) for o in T.FAILURE_OUTCOMES)
    return JobStats(
        job_id=job_id,
        job_name=last_run.job_name if last_run else None,
        runs=sum(counts.values()),
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
        last_success=last_success,
        last_failure=last_failure,
    )


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


@dataclass(frozen=True, slots=True)
class JobWindow:
    """One job's finished runs in a time window (``runs`` counts every outcome but
    ``running``; skipped runs are ``runs - successes - failures``)."""

    job_id: str
    runs: int
    successes: int
    failures: int


@dataclass(frozen=True, slots=True)
class Hourly:
    """Finished runs and failures per hour, oldest hour first, ending with the current one."""

    start: datetime
    runs: tuple[int, ...]
    failures: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RunWindow:
    """The runs of the ``hours`` before ``until``: per job (jobs with runs, by id) and per hour.

    Runs are placed in the window by the source's own clock column (the companion's
    ``finished_at``; Aegis ``started_at``; django-apscheduler ``run_time``), the same one
    ``summary`` (and so ``check``) counts by."""

    since: datetime
    until: datetime
    jobs: tuple[JobWindow, ...]
    hourly: Hourly

    @property
    def runs(self) -> int:
        return sum(j.runs for j in self.jobs)

    @property
    def failures(self) -> int:
        return sum(j.failures for j in self.jobs)


def hour_start(now: datetime, hours: int) -> datetime:
    """The start of the oldest of ``hours`` one-hour buckets ending with the current hour."""
    return (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)


def window_of_counts(
    since: datetime,
    until: datetime,
    start: datetime,
    counts: dict[str, dict[str, int]],
    per_hour: list[tuple[int, str, int]],
    hours: int,
) -> RunWindow:
    """A ``RunWindow`` from ``job_id -> {outcome: n}`` and ``(hour index, outcome, n)`` triples
    (schedtui's outcomes; ``running`` ignored, indexes outside ``0..hours-1`` dropped)."""
    jobs: list[JobWindow] = []
    for job_id in sorted(counts):
        by = counts[job_id]
        runs = sum(n for o, n in by.items() if o != "running")
        if runs:
            fails = sum(by.get(o, 0) for o in T.FAILURE_OUTCOMES)
            jobs.append(JobWindow(job_id, runs, by.get("success", 0), fails))
    run_h = [0] * hours
    fail_h = [0] * hours
    for index, outcome, n in per_hour:
        if outcome == "running" or not 0 <= index < hours:
            continue
        run_h[index] += n
        if outcome in T.FAILURE_OUTCOMES:
            fail_h[index] += n
    return RunWindow(since, until, tuple(jobs), Hourly(start, tuple(run_h), tuple(fail_h)))


def error_text(run: RunInfo) -> str:
    if run.error_type:
        text = f"{run.error_type}: {run.error_message or ''}".rstrip(": ")
    elif run.error_message:
        text = run.error_message
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


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Durations of successful runs and the success rate over a job's last ``runs`` runs."""

    runs: int
    success_rate: float | None
    p50_s: float | None
    p95_s: float | None
    max_s: float | None
    last_outcome: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "success_rate": self.success_rate,
            "p50_s": self.p50_s,
            "p95_s": self.p95_s,
            "max_s": self.max_s,
            "last_outcome": self.last_outcome,
        }


def window_of(rows: list[tuple[str, float | None]]) -> WindowStats | None:
    """``WindowStats`` of ``(outcome, duration_s)`` pairs, newest first (None when empty)."""
    if not rows:
        return None
    durations = sorted(d for o, d in rows if o == "success" and d is not None)
    ok = sum(1 for o, _ in rows if o == "success")
    bad = sum(1 for o, _ in rows if o in T.FAILURE_OUTCOMES)
    return WindowStats(
        runs=len(rows),
        success_rate=(ok / (ok + bad)) if ok + bad else None,
        p50_s=percentile(durations, 0.5),
        p95_s=percentile(durations, 0.95),
        max_s=durations[-1] if durations else None,
        last_outcome=rows[0][0],
    )
