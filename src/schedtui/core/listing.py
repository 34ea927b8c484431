"""The job list as typed rows: what ``schedtui jobs`` (table and JSON) and ``check --json`` show.

``JobRow`` is built from a decoded ``JobInfo`` and a moment; renderers read its fields
(mypy checks every access), never a dict by a guessed key. Text fields hold the store's
text as it is: renderers sanitize it (``schedtui.core.text``) when they print.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from schedtui.core.checker import describe, job_lag
from schedtui.core.health import CheckOptions, Status
from schedtui.core.model import DecodeFinding, JobInfo
from schedtui.core.vocab import job_countdown

JobState = Literal["on_time", "late", "overdue", "paused", "undecodable"]

_BY_STATUS: dict[Status, JobState] = {Status.OK: "on_time", Status.WARNING: "late", Status.CRITICAL: "overdue"}


def job_state(job: JobInfo, now: datetime, options: CheckOptions) -> tuple[JobState, float | None]:
    """``on_time | late | overdue | paused | undecodable`` and the lag in seconds."""
    if job.finding is not None:
        _, lag = job_lag(job, now, options)
        return "undecodable", lag
    if job.next_run_time is None:
        return "paused", None
    status, lag = job_lag(job, now, options)
    return _BY_STATUS.get(status, "overdue"), lag


def finding_json(finding: DecodeFinding) -> dict[str, str]:
    return {"code": finding.code, "message": finding.message}


@dataclass(frozen=True, slots=True)
class JobRow:
    """One job as listed: the decoded fields plus its judgement at ``now``.

    For an undecodable row (``finding`` set) only ``id``, ``next_run_time``, ``countdown``,
    ``state`` and ``lag_seconds`` are meaningful; ``trigger_text`` then says why
    (``undecodable: <finding message>``).
    """

    id: str
    name: str | None
    func: str | None
    state: JobState
    trigger_text: str
    trigger_kind: str | None
    timezone: str | None
    next_run_time: datetime | None
    countdown: str
    lag_seconds: float | None
    executor: str | None
    misfire_grace_time: float | None
    coalesce: bool | None
    max_instances: int | None
    args_repr: str | None
    kwargs_repr: str | None
    finding: DecodeFinding | None
    notes: tuple[DecodeFinding, ...]

    @property
    def decodable(self) -> bool:
        return self.finding is None

    def as_json(self) -> dict[str, Any]:
        """The stable JSON object of one job (``schedtui.jobs/1``, ``schedtui.check/1``)."""
        return {
            "id": self.id,
            "name": self.name,
            "func": self.func,
            "state": self.state,
            "trigger": self.trigger_text if self.finding is None else None,
            "trigger_kind": self.trigger_kind,
            "timezone": self.timezone,
            "next_run_time": self.next_run_time.isoformat() if self.next_run_time else None,
            "countdown": self.countdown,
            "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 3),
            "executor": self.executor,
            "misfire_grace_time": self.misfire_grace_time,
            "coalesce": self.coalesce,
            "max_instances": self.max_instances,
            "args": self.args_repr,
            "kwargs": self.kwargs_repr,
            "finding": None if self.finding is None else finding_json(self.finding),
            "notes": [finding_json(n) for n in self.notes],
        }


def job_row(job: JobInfo, now: datetime, options: CheckOptions) -> JobRow:
    """The listed form of ``job`` at ``now``."""
    state, lag = job_state(job, now, options)
    trig = job.trigger
    decoded = job.finding is None
    return JobRow(
        id=job.id,
        name=job.name,
        func=job.func,
        state=state,
        trigger_text=describe(job),
        trigger_kind=trig.kind if trig else None,
        timezone=trig.timezone if trig else None,
        next_run_time=job.next_run_time,
        countdown=job_countdown(job, now, options),  # the words agree with the state
        lag_seconds=lag,
        executor=job.executor,
        misfire_grace_time=job.misfire_grace_time,
        coalesce=job.coalesce,
        max_instances=job.max_instances,
        args_repr=job.args_repr if decoded else None,
        kwargs_repr=job.kwargs_repr if decoded else None,
        finding=job.finding,
        notes=job.notes,
    )
