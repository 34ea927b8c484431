"""One judgement and one vocabulary for the console and the CLI.

A job's state (``on_time``, ``late``, ``overdue``, ``paused``, ``undecodable``) comes from
the checker's ``job_lag`` and reads the same everywhere (``STATE_LABELS``); so do its
countdown, byte sizes, absolute times and the choice between Unicode and ASCII glyphs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, tzinfo
from enum import StrEnum

from schedtui.core.checker import job_lag
from schedtui.core.describe import compact_duration, countdown
from schedtui.core.health import CheckOptions, Status
from schedtui.core.model import JobInfo


class JobState(StrEnum):
    """A job's state, as ``schedtui check``/``jobs --json`` name it."""

    ON_TIME = "on_time"
    LATE = "late"
    OVERDUE = "overdue"
    PAUSED = "paused"
    UNDECODABLE = "undecodable"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS: Mapping[JobState, str] = {
    JobState.ON_TIME: "on time",
    JobState.LATE: "late",
    JobState.OVERDUE: "overdue",
    JobState.PAUSED: "paused",
    JobState.UNDECODABLE: "undecodable",
}
#: The order states are listed in (worst first, then the calm ones).
STATE_ORDER: tuple[JobState, ...] = (
    JobState.OVERDUE,
    JobState.LATE,
    JobState.ON_TIME,
    JobState.PAUSED,
    JobState.UNDECODABLE,
)
DEFAULT_OPTIONS = CheckOptions()
_BY_STATUS = {Status.OK: JobState.ON_TIME, Status.WARNING: JobState.LATE, Status.CRITICAL: JobState.OVERDUE}


def job_state(job: JobInfo, now: datetime, options: CheckOptions = DEFAULT_OPTIONS) -> tuple[JobState, float | None]:
    """The job's state and its lag in seconds (None when paused or undecodable)."""
    if job.finding is not None:
        return JobState.UNDECODABLE, None
    if job.next_run_time is None:
        return JobState.PAUSED, None
    status, lag = job_lag(job, now, options)
    return _BY_STATUS[status], lag


def job_countdown(job: JobInfo, now: datetime, options: CheckOptions = DEFAULT_OPTIONS) -> str:
    """``in 4m 12s``, ``due now`` (within the on-time tolerance), ``late by 30s``,
    ``overdue by 3m``, ``paused``, ``undecodable``: the words agree with ``job_state``."""
    state, lag = job_state(job, now, options)
    if lag is None or lag < 1:
        return countdown(job.next_run_time, now)
    if state is JobState.ON_TIME:
        return "due now"
    return f"{'late' if state is JobState.LATE else 'overdue'} by {compact_duration(int(lag))}"


def job_countdown_short(job: JobInfo, now: datetime, options: CheckOptions = DEFAULT_OPTIONS) -> str:
    """The table's form of ``job_countdown`` next to a state column: ``in 4m 12s``,
    ``due now``, ``15m ago`` (late or overdue: the state says which), ``paused``."""
    state, lag = job_state(job, now, options)
    return countdown_short(state, lag, job, now)


def countdown_short(state: JobState, lag: float | None, job: JobInfo, now: datetime) -> str:
    """``job_countdown_short`` from a state already judged (one judgement per line)."""
    if state in (JobState.LATE, JobState.OVERDUE) and lag is not None:
        return f"{compact_duration(int(lag))} ago"
    if state is JobState.ON_TIME and lag is not None and lag >= 1:
        return "due now"
    return countdown(job.next_run_time, now)


def overdue_summary(overdue: int, total: int) -> str:
    """The sentence ``check`` and the console both use for overdue jobs."""
    return f"{overdue} of {total} tasks overdue: the scheduler is not running them"


def format_bytes(n: float | None) -> str:
    """``512 B``, ``102.4 KB``, ``3.1 MB`` (decimal units, as ``ls -h --si``); ``-`` for None."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def format_time(when: datetime | None, tz: tzinfo | None = None) -> str:
    """The one absolute time format: ``2026-03-02 14:00:00 UTC`` (``-`` for None)."""
    from schedtui.core.describe import format_when

    return format_when(when, tz)


# --------------------------------------------------------------------------- glyphs


def _initial_environ() -> Mapping[str, str] | None:
    """The environment the process was started with (Linux: ``/proc/self/environ``).

    Python's C-locale coercion (PEP 538) sets ``LC_CTYPE=C.UTF-8`` in ``os.environ`` at
    start-up; the original values say what the terminal declared.
    """
    try:
        with open("/proc/self/environ", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    out: dict[str, str] = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            out[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return out


def declared_locale(environ: Mapping[str, str]) -> str:
    """The effective ``LC_CTYPE`` locale name: ``LC_ALL``, else ``LC_CTYPE``, else ``LANG``."""
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = environ.get(name)
        if value:
            return value
    return ""


def terminal_unicode(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the terminal declared a UTF-8 locale (so ``✓ └─ ●`` draw), else ASCII.

    ``SCHEDTUI_ASCII=1`` forces ASCII, ``SCHEDTUI_ASCII=0`` Unicode. With no locale
    variable at all (a bare container), Unicode. ``environ`` defaults to the environment
    the process started with, not the one Python's locale coercion rewrote.
    """
    env = environ if environ is not None else (_initial_environ() or os.environ)
    forced = os.environ.get("SCHEDTUI_ASCII", env.get("SCHEDTUI_ASCII", ""))
    if forced.strip():
        return forced.strip().lower() in ("0", "no", "false", "off")
    name = declared_locale(env)
    if not name:
        return True
    codeset = name.partition(".")[2].partition("@")[0].lower().replace("-", "")
    return codeset == "utf8"
