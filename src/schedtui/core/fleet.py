"""The fleet: one row per configured store, judged exactly as ``schedtui check`` judges it.

``fleet_row`` runs ``checker.run_check`` on one store and keeps what the console's fleet
view shows: the status (``OK`` / ``WARNING`` / ``CRITICAL`` / ``UNKNOWN``, check's exit
status), check's one-line summary, the job, overdue, late and undecodable counts, and the
heartbeat state. A store that cannot be read is a row with its error (credentials masked,
sanitized), never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schedtui.core.clock import Clock, system_clock
from schedtui.core.health import CheckOptions, HealthReport, Status
from schedtui.core.stores import NamedStore
from schedtui.core.text import safe_text
from schedtui.core.urls import mask_text

#: The heartbeat states of ``heartbeat_component`` (``none``: no companion heartbeat).
HEARTBEAT_STATES = ("running", "several", "paused", "stale", "shutdown", "none")


@dataclass(frozen=True, slots=True)
class FleetRow:
    """One store, as the fleet view shows it. Counts are None when the store could not be read."""

    name: str
    safe_url: str
    status: Status
    #: check's status line (``Scheduler running with 9 tasks``; ``database: SQLite database not found …``)
    summary: str
    checked_at: datetime
    jobs: int | None = None
    overdue: int | None = None
    late: int | None = None
    undecodable: int | None = None
    #: one of ``HEARTBEAT_STATES``, or None when the store could not be read
    heartbeat: str | None = None
    #: why the store could not be read (sanitized, credentials masked)
    error: str | None = None

    @property
    def status_word(self) -> str:
        return self.status.name


def _clean(text: object, url: str, limit: int = 300) -> str:
    return safe_text(mask_text(str(text), url))[:limit]


def row_from_report(store: NamedStore, report: HealthReport) -> FleetRow:
    """The fleet row of a ``run_check`` report (the same counts ``check --json`` prints)."""
    url = store.target.url
    sched = report.component("scheduler")
    jobstore = report.component("jobstore")
    beat = report.component("heartbeat")
    error = None
    if sched is None:  # the table could not be read: the failing component says why
        failing = next((c for c in report.components if c.name in ("database", "jobstore")), None)
        error = _clean(failing.summary if failing else report.summary, url)
    undecodable = jobstore.data.get("undecodable") if jobstore is not None and sched is not None else None
    state = beat.data.get("state") if beat is not None else ("none" if sched is not None else None)
    return FleetRow(
        name=store.name,
        safe_url=store.safe_url,
        status=report.status,
        summary=_clean(report.summary, url),
        checked_at=report.checked_at,
        jobs=sched.data.get("total") if sched is not None else None,
        overdue=len(sched.data.get("overdue", ())) if sched is not None else None,
        late=len(sched.data.get("late", ())) if sched is not None else None,
        undecodable=len(undecodable) if isinstance(undecodable, list) else None,
        heartbeat=str(state) if state is not None else None,
        error=error,
    )


def error_row(store: NamedStore, exc: BaseException, now: datetime) -> FleetRow:
    """A store that could not even be checked (a bad URL, a missing driver): UNKNOWN, as check."""
    from schedtui.core.errors import SchedtuiError

    text = exc.message if isinstance(exc, SchedtuiError) else f"{type(exc).__name__}: {exc}"
    clean = _clean(text, store.target.url)
    return FleetRow(store.name, store.safe_url, Status.UNKNOWN, clean, now, error=clean)


def fleet_row(
    store: NamedStore,
    *,
    clock: Clock = system_clock,
    options: CheckOptions | None = None,
    reader: object | None = None,
) -> FleetRow:
    """Check one store (``run_check``, the probe's own judgement). Never raises."""
    from schedtui.core.checker import run_check

    try:
        report = run_check(store.target, clock=clock, options=options, reader=reader)
    except Exception as exc:
        return error_row(store, exc, clock())
    return row_from_report(store, report)
