"""A heartbeat *job* as the scheduler's liveness signal (Aegis Stack apps).

Newer Aegis apps schedule ``scheduler_heartbeat`` every 15 s in the same job store. A
running scheduler moves its ``next_run_time`` forward every 15 s; when the column falls
behind by more than the interval plus a margin, the scheduler is not running. The last
beat is ``next_run_time - interval``. Used only when the companion's heartbeat is absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schedtui.core.health import CheckContext, Component, Line, Perf, Status
from schedtui.core.jobtable import jobs_with_ids
from schedtui.core.model import JobInfo

#: The job ids taken for a heartbeat job, and how the output names them.
HEARTBEAT_JOBS: tuple[tuple[str, str], ...] = (("scheduler_heartbeat", "Aegis scheduler_heartbeat job"),)
#: Seconds past one interval before a heartbeat job counts as stale.
MARGIN = 10.0


@dataclass(frozen=True, slots=True)
class JobHeartbeat:
    """What the heartbeat job says at ``now``."""

    job_id: str
    label: str  #: ``"Aegis scheduler_heartbeat job"``
    interval_s: float
    last_beat: datetime | None  #: ``next_run_time - interval`` (None when paused)
    age_s: float | None
    max_age_s: float
    state: str  #: ``running`` | ``stale`` | ``paused``

    @property
    def fresh(self) -> bool:
        return self.state == "running"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.label,
            "job_id": self.job_id,
            "interval_s": self.interval_s,
            "last_beat": self.last_beat,
            "age_s": None if self.age_s is None else round(self.age_s, 3),
            "max_age_s": self.max_age_s,
            "state": self.state,
        }


#: The ids of HEARTBEAT_JOBS (a job with another id is never a heartbeat job).
HEARTBEAT_IDS = frozenset(job_id for job_id, _ in HEARTBEAT_JOBS)


def job_heartbeat(jobs: Sequence[JobInfo], now: datetime, max_age: float | None = None) -> JobHeartbeat | None:
    """The heartbeat job among ``jobs`` (an interval job with a known id), judged at ``now``.

    ``max_age`` bounds the age of the last beat (default: two intervals plus ``MARGIN``,
    i.e. the next run is late by more than one interval plus the margin)."""
    by_id = jobs_with_ids(jobs, HEARTBEAT_IDS)
    for job_id, label in HEARTBEAT_JOBS:
        job = by_id.get(job_id)
        spec = job.trigger if job is not None else None
        if job is None or spec is None or spec.kind != "interval" or spec.interval is None:
            continue
        interval = spec.interval.total_seconds()
        if interval <= 0:
            continue
        limit = max_age if max_age is not None else 2 * interval + MARGIN
        if job.next_run_time is None:
            return JobHeartbeat(job_id, label, interval, None, None, limit, "paused")
        last = job.next_run_time - spec.interval
        age = max(0.0, (now - last).total_seconds())
        return JobHeartbeat(job_id, label, interval, last, age, limit, "running" if age <= limit else "stale")
    return None


def ago(seconds: float) -> str:
    """``45s``, ``4m 12s``, ``5h 3m``, ``3d 4h`` (negative ages count as 0)."""
    from schedtui.core.describe import compact_duration

    return compact_duration(max(0, int(seconds)))


def job_beat(ctx: CheckContext) -> Component | None:
    """The ``heartbeat`` component from the heartbeat job of the store ``ctx`` read (None
    without a read or such a job)."""
    return job_heartbeat_component(ctx.snapshot.jobs, ctx.now, ctx.options.heartbeat_max_age) if ctx.snapshot else None


def job_heartbeat_component(jobs: Sequence[JobInfo], now: datetime, max_age: float | None = None) -> Component | None:
    """The ``heartbeat`` component from a heartbeat job (None when there is none)."""
    beat = job_heartbeat(jobs, now, max_age)
    if beat is None:
        return None
    data: dict[str, Any] = {"state": beat.state, "job": beat.as_dict(), "schedulers": []}
    if beat.state == "paused":
        return Component(
            name="heartbeat",
            status=Status.WARNING,
            summary=f"heartbeat: {beat.label} is paused (scheduler liveness unknown)",
            data=data,
        )
    age = beat.age_s or 0.0
    data["age_s"] = round(age, 3)
    when = f"{beat.last_beat:%Y-%m-%d %H:%M:%S} UTC" if beat.last_beat else "never"
    perf = (Perf("heartbeat_age", round(age, 1), "s", crit=round(beat.max_age_s, 1), min=0),)
    if beat.state == "running":
        status = Status.OK
        summary = f"Scheduler running (heartbeat: {beat.label}, {ago(age)} ago, every {beat.interval_s:g}s)"
    else:
        status = Status.CRITICAL
        summary = (
            f"Scheduler not running: last beat of the {beat.label} {ago(age)} ago "
            f"(every {beat.interval_s:g}s; stale after {ago(beat.max_age_s)})"
        )
    lines = (Line(f"{beat.label}: last beat {when}, every {beat.interval_s:g}s", status),)
    return Component(name="heartbeat", status=status, summary=summary, lines=lines, perfdata=perf, data=data)
