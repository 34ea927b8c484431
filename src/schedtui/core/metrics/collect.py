"""From a store to ``StoreMetrics``: the check's own judgements, nothing re-derived.

Every collection judges at one instant (the check runs on a frozen copy of the clock), so
the per-store counts, the check status and each job's state agree with each other and with
what ``schedtui check`` says at that moment. Per-store counts come from the check's
components; a job's state from ``job_lag`` (the function the check judges with); run
history from ``job_stats`` and ``window_stats`` (the check's duration window).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from schedtui.core.checker import NOT_DECODED_IN_TIME, job_grace, job_lag, run_check
from schedtui.core.clock import Clock, FixedClock, system_clock
from schedtui.core.errors import SchedtuiError
from schedtui.core.health import CheckOptions, Component, HealthReport, Provider, Status
from schedtui.core.metrics.labels import UniqueLabels, clean_label, store_label
from schedtui.core.metrics.records import (
    TIMING_STATES,
    JobPoint,
    JobState,
    MetricsOptions,
    PerJob,
    RunPoint,
    StoreMetrics,
)
from schedtui.core.metrics.runs import RunCounters
from schedtui.core.model import JobInfo, Target
from schedtui.core.store.reader import open_reader
from schedtui.core.urls import mask_text

_STATE_OF: dict[Status, JobState] = {Status.OK: "on_time", Status.WARNING: "late", Status.CRITICAL: "overdue"}


def job_point(job: JobInfo, label: str, now: datetime, options: CheckOptions) -> JobPoint:
    """One job as ``check`` judges it at ``now``."""
    status, lag = job_lag(job, now, options)
    nrt = job.next_run_time
    late = job.finding is not None and job.finding.code == NOT_DECODED_IN_TIME
    return JobPoint(
        job=label,
        state="paused" if nrt is None else _STATE_OF[status],
        undecodable=job.finding is not None and not late,
        not_decoded_in_time=late,
        next_run=None if nrt is None else nrt.timestamp(),
        lag=lag,
        grace=job_grace(job, options),
    )


def _data(report: HealthReport, name: str) -> Mapping[str, Any]:
    comp: Component | None = report.component(name)
    return comp.data if comp is not None else {}


def _ids(items: object, key: str | None = None) -> list[str]:
    """Job ids from a component's list (of ids, or of dicts holding one under ``key``)."""
    if not isinstance(items, list | tuple):
        return []
    if key is None:
        return [str(i) for i in items]
    return [str(i[key]) for i in items if isinstance(i, Mapping) and key in i]


def problem_ids(report: HealthReport) -> list[str]:
    """Overdue, late, undecodable and failing jobs, as the check found them (in that order,
    each once)."""
    sched, store, history = _data(report, "scheduler"), _data(report, "jobstore"), _data(report, "history")
    found = _ids(sched.get("overdue")) + _ids(sched.get("late"))
    found += _ids(store.get("undecodable"), "id") + _ids(history.get("failing_jobs"), "job_id")
    return list(dict.fromkeys(found))


def _selected(report: HealthReport, options: MetricsOptions) -> list[JobInfo]:
    snapshot = report.snapshot
    if snapshot is None or options.per_job is PerJob.NONE or options.max_jobs <= 0:
        return []
    wanted = problem_ids(report)
    if options.per_job is PerJob.PROBLEM:
        wanted += _ids(_data(report, "scheduler").get("upcoming"))[: max(options.upcoming, 0)]
        keep = dict.fromkeys(wanted)
        by_id = {j.id: j for j in snapshot.jobs if j.id in keep}
        return [by_id[i] for i in keep if i in by_id][: options.max_jobs]
    first = set(wanted)
    problems = [j for j in snapshot.jobs if j.id in first]
    rest = (j for j in snapshot.jobs if j.id not in first)
    out = problems[: options.max_jobs]
    for job in rest:
        if len(out) >= options.max_jobs:
            break
        out.append(job)
    return out


def _timestamp(value: object) -> float | None:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _runs(
    counters: RunCounters | None, engine: Any, report: HealthReport, jobs: Sequence[tuple[str, str]]
) -> tuple[RunPoint, ...]:
    """Run history of ``jobs`` ((id, label) pairs); () without a run history (the
    companion's, an Aegis app's or django-apscheduler's table)."""
    from schedtui.core.history import detect_history

    if counters is None or engine is None or not jobs or report.component("history") is None:
        return ()
    try:
        source = detect_history(engine, report.target)
        if source is None:
            return ()
        return counters.collect(engine, jobs, source)
    except (SQLAlchemyError, OSError):  # the database went away since the read: no history this time
        return ()


def from_report(
    report: HealthReport,
    now: datetime,
    label: str,
    check_options: CheckOptions,
    options: MetricsOptions,
    engine: Any = None,
    counters: RunCounters | None = None,
) -> StoreMetrics:
    """The metrics of one check report (judged at ``now``)."""
    snapshot = report.snapshot
    base = StoreMetrics(store=label, at=now.timestamp(), status=int(report.status), up=snapshot is not None)
    beat = report.component("heartbeat")
    backups = _data(report, "backups")
    base = replace(
        base,
        heartbeat_age=_number(beat.data.get("age_s")) if beat is not None else None,
        scheduler_state=str(beat.data.get("state")) if beat is not None else None,
        backup_last_verified=_timestamp(backups.get("last_at")),
        backup_size=int(backups["last_bytes"]) if isinstance(backups.get("last_bytes"), int) else None,
    )
    if snapshot is None:
        failed = report.component("database") or report.component("jobstore")
        return replace(base, error=mask_text(failed.summary, report.target.url) if failed else None)
    sched = _data(report, "scheduler")
    total = int(sched.get("total", len(snapshot.jobs)))
    late, overdue = len(_ids(sched.get("late"))), len(_ids(sched.get("overdue")))
    paused = int(sched.get("paused", 0))
    counts: dict[JobState, int] = {
        "on_time": total - paused - late - overdue,
        "late": late,
        "overdue": overdue,
        "paused": paused,
    }
    labels = UniqueLabels()
    late_rows = sum(1 for j in snapshot.undecodable if j.finding is not None and j.finding.code == NOT_DECODED_IN_TIME)
    selected = _selected(report, options)
    points = tuple(job_point(j, labels(j.id), now, check_options) for j in selected)
    history_ids = set(problem_ids(report))
    order = {j.id: n for n, j in enumerate(selected)}
    chosen = sorted(
        ((j.id, p.job) for j, p in zip(selected, points, strict=True)),
        key=lambda pair: (pair[0] not in history_ids, order[pair[0]]),
    )[: max(options.history_jobs, 0)]
    return replace(
        base,
        read_seconds=snapshot.latency_ms / 1000.0,
        jobs_by_state=tuple((s, counts[s]) for s in TIMING_STATES),
        total_jobs=total,
        undecodable=len(snapshot.undecodable) - late_rows,
        not_decoded_in_time=late_rows,
        jobs=points,
        runs=_runs(counters, engine, report, chosen),
    )


class StoreCollector:
    """Collects one store again and again on one warm incremental reader (a refresh reads
    only the rows changed since the last one). One thread at a time."""

    def __init__(
        self,
        target: Target,
        *,
        name: str | None = None,
        clock: Clock = system_clock,
        check_options: CheckOptions | None = None,
        options: MetricsOptions | None = None,
        incremental: bool = True,
        providers: Sequence[Provider] | None = None,
    ) -> None:
        self.target = target
        self.label = store_label(target, name)
        self._clock = clock
        self.options = options or MetricsOptions()
        base = check_options or CheckOptions()
        # the check lists as many upcoming jobs as the per-job selection takes
        self.check_options = replace(base, upcoming=max(self.options.upcoming, 0))
        # metrics never show args/kwargs: their reprs are not rendered
        self._reader = open_reader(target, clock=clock, incremental=incremental, reprs=False)
        self._providers = providers
        self._counters = RunCounters(target.schema, self.options.history_window)

    def collect(self) -> StoreMetrics:
        """Judge the store now; never raises for a store that cannot be read."""
        now = self._clock()
        try:
            report = run_check(
                self.target,
                clock=FixedClock(now),
                options=self.check_options,
                reader=self._reader,
                providers=self._providers,
            )
            engine = self._engine()
            return from_report(report, now, self.label, self.check_options, self.options, engine, self._counters)
        except SchedtuiError as exc:
            return StoreMetrics(
                store=self.label,
                at=now.timestamp(),
                status=int(Status.UNKNOWN),
                up=False,
                error=clean_label(mask_text(exc.message, self.target.url), 400),
            )

    def _engine(self) -> Any:
        try:
            return self._reader.engine
        except SchedtuiError:
            return None

    def close(self) -> None:
        self._reader.close()


def collect_store(
    target: Target,
    *,
    name: str | None = None,
    clock: Clock = system_clock,
    check_options: CheckOptions | None = None,
    options: MetricsOptions | None = None,
    providers: Sequence[Provider] | None = None,
) -> StoreMetrics:
    """One collection with a one-shot reader (for ``schedtui metrics`` without --listen)."""
    collector = StoreCollector(
        target,
        name=name,
        clock=clock,
        check_options=check_options,
        options=options,
        incremental=False,
        providers=providers,
    )
    try:
        return collector.collect()
    finally:
        collector.close()
