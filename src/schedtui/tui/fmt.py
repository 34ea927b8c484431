"""Text helpers for the console: safe one-line strings over ``schedtui.core.describe``."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Literal

from schedtui.core import describe as core
from schedtui.core import vocab
from schedtui.core.model import JobInfo, TriggerSpec
from schedtui.core.text import safe_text

#: Time zone modes of the console: every absolute time is shown in one of them.
TzMode = Literal["utc", "local", "trigger"]
TZ_MODES: tuple[TzMode, ...] = ("utc", "local", "trigger")
TZ_LABELS = {"utc": "UTC", "local": "local time", "trigger": "each trigger's zone"}


def clean(text: object, limit: int = 200) -> str:
    """One printable line, bounded: the core's sanitizer (``schedtui.core.text.safe_text``)."""
    return safe_text(text, limit)


def clean_block(text: object, limit: int = 20000) -> str:
    """Several printable lines (a traceback): like ``clean`` but newlines stay."""
    return "\n".join(clean(line, limit) for line in str(text)[:limit].splitlines())


def format_duration(seconds: float | None) -> str:
    return "-" if seconds is None else core.format_duration(seconds)


def countdown(target: datetime | None, now: datetime) -> str:
    """``in 4m 12s``, ``overdue by 3m``, ``paused`` (a bare time; for a job use ``job_countdown``)."""
    return core.countdown(target, now)


def job_countdown(job: JobInfo, now: datetime) -> str:
    """``in 4m``, ``due now``, ``late by 30s``, ``overdue by 3m``: the core's words for the job's state."""
    return vocab.job_countdown(job, now)


def job_countdown_short(job: JobInfo, now: datetime) -> str:
    """``in 4m``, ``due now``, ``15m ago`` (next to the state column)."""
    return vocab.job_countdown_short(job, now)


def size(n: int | None) -> str:
    """``102.4 KB``: the CLI's units."""
    return vocab.format_bytes(n)


def zone_for(mode: TzMode, job: JobInfo | None = None) -> tzinfo | None:
    """The zone absolute times are shown in: UTC, the machine's, or the job's trigger's."""
    if mode == "utc":
        return UTC
    if mode == "trigger" and job is not None and job.trigger is not None and job.trigger.tz is not None:
        return job.trigger.tz
    if mode == "trigger":
        return UTC
    return datetime.now().astimezone().tzinfo


def when_in(when: datetime | None, mode: TzMode, job: JobInfo | None = None) -> str:
    """The one absolute format (``2026-03-02 14:00:00 UTC``) in the chosen zone."""
    return vocab.format_time(when, zone_for(mode, job))


def short_when(when: datetime | None, mode: TzMode, job: JobInfo | None = None) -> str:
    """The table form of ``when_in``: ``03-02 14:00:00`` (the zone is in the header),
    plus the zone's abbreviation in the trigger-zone mode."""
    if when is None:
        return "-"
    try:
        local = when.astimezone(zone_for(mode, job))
        text = local.strftime("%m-%d %H:%M:%S")
        if mode == "trigger":
            text += " " + (local.tzname() or "")
        return text
    except Exception:
        return clean(when, 20)


def ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "never"
    delta = (now - then).total_seconds()
    if delta < 0:
        return f"in {core.compact_duration(int(-delta))}"
    return f"{core.compact_duration(int(delta))} ago"


def format_when(when: datetime | None, tz: object = None) -> str:
    return "-" if when is None else core.format_when(when, tz)  # type: ignore[arg-type]


def describe(spec: TriggerSpec | None) -> str:
    """The trigger in words (never raises: ``describe_trigger`` falls back to the technical form)."""
    return "-" if spec is None else clean(core.describe_trigger(spec))


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
