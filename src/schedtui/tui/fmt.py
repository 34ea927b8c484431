"""Text helpers for the console: safe one-line strings over ``schedtui.core.describe``."""

from __future__ import annotations

from datetime import datetime

from schedtui.core import describe as core
from schedtui.core.model import JobInfo, TriggerSpec
from schedtui.core.text import safe_text


def clean(text: object, limit: int = 200) -> str:
    """One printable line, bounded: the core's sanitizer (``schedtui.core.text.safe_text``)."""
    return safe_text(text, limit)


def format_duration(seconds: float | None) -> str:
    return "—" if seconds is None else core.format_duration(seconds)


def countdown(target: datetime | None, now: datetime) -> str:
    """``in 4m 12s``, ``overdue by 3m``, ``paused``."""
    return core.countdown(target, now)


def ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "never"
    delta = (now - then).total_seconds()
    if delta < 0:
        return f"in {core.compact_duration(int(-delta))}"
    return f"{core.compact_duration(int(delta))} ago"


def format_when(when: datetime | None, tz: object = None) -> str:
    return "—" if when is None else core.format_when(when, tz)  # type: ignore[arg-type]


def describe(spec: TriggerSpec | None) -> str:
    """The trigger in words (never raises: ``describe_trigger`` falls back to the technical form)."""
    return "—" if spec is None else clean(core.describe_trigger(spec))


def job_trigger_text(job: JobInfo) -> str:
    if job.finding is not None:
        return f"undecodable: {clean(job.finding.code, 40)}"
    if job.trigger is None:
        opaque = next((n.message for n in job.notes if n.code == "aps4-trigger"), None)
        if opaque is not None:
            return clean(opaque)
    return describe(job.trigger)


def next_fire_times(spec: TriggerSpec | None, after: datetime, count: int = 10) -> list[datetime]:
    """Upcoming fire times from the core schedule helper (empty when unavailable)."""
    if spec is None:
        return []
    from schedtui.core.schedule import next_fire_times as core_next

    return list(core_next(spec, after, count=count))


def module_of(job: JobInfo) -> str:
    if job.finding is not None or not job.func:
        return "(undecodable)"
    func = job.func
    return clean(func.split(":", 1)[0] if ":" in func else func.rsplit(".", 1)[0], 80)
