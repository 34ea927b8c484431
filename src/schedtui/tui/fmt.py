"""Text helpers for the console: safe strings and the describe helpers (with fallbacks).

The describe helpers live in ``schedtui.core.describe``; while a core module is missing
(or fails on odd data) the console falls back to a plain rendering instead of crashing.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta

from schedtui.core.model import JobInfo, TriggerSpec

_CONTROL = {c: "?" for c in range(32)} | {127: "?"}


def clean(text: object, limit: int = 200) -> str:
    """One printable line: control characters replaced, bounded length."""
    s = str(text)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    s = s.translate(_CONTROL)
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in s):
        s = "".join("?" if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in s)
    return s


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    try:
        from schedtui.core.describe import format_duration as core_format_duration

        return core_format_duration(seconds)
    except Exception:  # noqa: BLE001 - fallback rendering
        pass
    return _fallback_duration(seconds)


def _fallback_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    total = int(seconds)
    d, rem = divmod(total, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m}m"
    return f"{m}m {s}s"


def _fallback_span(seconds: float) -> str:
    total = int(seconds)
    d, rem = divmod(total, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m}m"
    if m:
        return f"{m}m {s}s"
    return f"{s}s"


def countdown(target: datetime | None, now: datetime) -> str:
    """``in 4m 12s``, ``overdue by 3m``, ``paused``."""
    try:
        from schedtui.core.describe import countdown as core_countdown

        return core_countdown(target, now)
    except Exception:  # noqa: BLE001
        pass
    if target is None:
        return "paused"
    delta = (target - now).total_seconds()
    if delta >= 0:
        return f"in {_fallback_span(delta)}"
    return f"overdue by {_fallback_span(-delta)}"


def ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "never"
    delta = (now - then).total_seconds()
    if delta < 0:
        return f"in {_fallback_span(-delta)}"
    return f"{_fallback_span(delta)} ago"


def format_when(when: datetime | None, tz: object = None) -> str:
    if when is None:
        return "—"
    try:
        from schedtui.core.describe import format_when as core_format_when

        return core_format_when(when, tz)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001
        pass
    try:
        if tz is not None:
            when = when.astimezone(tz)  # type: ignore[arg-type]
        return when.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except Exception:  # noqa: BLE001
        return clean(when)


def describe(spec: TriggerSpec | None) -> str:
    """The trigger in words (``every 5 minutes``, ``at 03:00 on weekdays (Europe/Berlin)``)."""
    if spec is None:
        return "—"
    try:
        from schedtui.core.describe import describe_trigger

        return clean(describe_trigger(spec))
    except Exception:  # noqa: BLE001
        pass
    if spec.kind == "interval" and isinstance(spec.interval, timedelta):
        return f"every {_fallback_span(spec.interval.total_seconds())}"
    if spec.kind == "cron" and spec.cron:
        fields = dict(spec.cron)
        return "cron " + " ".join(fields.get(n, "*") for n in ("minute", "hour", "day", "month", "day_of_week"))
    if spec.kind == "date":
        return f"once at {format_when(spec.run_date)}"
    return spec.kind


def job_trigger_text(job: JobInfo) -> str:
    if job.finding is not None:
        return f"undecodable: {clean(job.finding.code, 40)}"
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
