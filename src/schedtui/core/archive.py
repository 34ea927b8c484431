"""Rows the companion's deletion guard archived (``schedtui_archived_jobs``): read them,
judge them for ``check``, and turn them into events for the console's feed.

Reading never writes; ``restore --archived`` (``core.undelete``) puts rows back and
marks them ``restored_at`` (they are never deleted from the archive).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from schedtui.core import tables as T
from schedtui.core.clock import from_epoch
from schedtui.core.health import CheckContext, Component, Line, Perf, Status
from schedtui.core.heartbeat import connection
from schedtui.core.text import safe_text

NAME = "archive"


@dataclass(frozen=True, slots=True)
class ArchivedJob:
    """One archived row (the bytes are fetched separately: ``archived_state``)."""

    archive_id: int
    job_id: str
    jobs_table: str | None
    next_run_time: datetime | None
    archived_at: datetime
    error_type: str | None
    error: str | None
    archived_by: str | None
    restored_at: datetime | None
    restored_by: str | None
    state_size: int

    @property
    def restored(self) -> bool:
        return self.restored_at is not None


@dataclass(frozen=True, slots=True)
class ArchiveEvent:
    """For the console's events feed: "job X archived at T: error"."""

    at: datetime
    job_id: str
    kind: str  # "archived" | "restored"
    text: str


def _printable(text: str, limit: int = 160) -> str:
    """The first line of stored text, through the one sanitizer (it reaches terminals)."""
    lines = text.splitlines()
    return safe_text(lines[0] if lines else "", limit)


def _table_matches(value: str | None, table: str, schema: str | None) -> bool:
    return value is None or value in (table, f"{schema}.{table}" if schema else table)


def read_archived(
    bind: Any, schema: str | None = None, *, table: str | None = None, include_restored: bool = True
) -> tuple[ArchivedJob, ...]:
    """Archived rows, newest first; ``()`` when there is no archive table. ``table``
    keeps only rows archived from that jobs table."""
    a = T.tables_for(schema).archived_jobs
    cols = [c for c in a.c if c.name != "job_state"]
    with connection(bind) as conn:
        if not sa.inspect(conn).has_table(T.ARCHIVED_JOBS, schema=schema):
            return ()
        stmt = sa.select(*cols, sa.func.length(a.c.job_state).label("size")).order_by(
            a.c.archived_at.desc(), a.c.id.desc()
        )
        if not include_restored:
            stmt = stmt.where(a.c.restored_at.is_(None))
        rows = conn.execute(stmt).all()
    out = []
    for r in rows:
        if table is not None and not _table_matches(r.jobs_table, table, schema):
            continue
        out.append(
            ArchivedJob(
                archive_id=int(r.id),
                job_id=str(r.job_id),
                jobs_table=r.jobs_table,
                next_run_time=from_epoch(r.next_run_time),
                archived_at=from_epoch(r.archived_at) or datetime.fromtimestamp(0, UTC),
                error_type=r.error_type,
                error=r.error,
                archived_by=r.archived_by,
                restored_at=from_epoch(r.restored_at),
                restored_by=r.restored_by,
                state_size=int(r.size or 0),
            )
        )
    return tuple(out)


def archived_state(bind: Any, archive_id: int, schema: str | None = None) -> tuple[float | None, bytes] | None:
    """``(next_run_time, job_state)`` of one archived row, exactly as stored."""
    a = T.tables_for(schema).archived_jobs
    with connection(bind) as conn:
        row = conn.execute(sa.select(a.c.next_run_time, a.c.job_state).where(a.c.id == archive_id)).first()
    return None if row is None else (row[0], bytes(row[1]))


def archive_events(items: tuple[ArchivedJob, ...]) -> tuple[ArchiveEvent, ...]:
    """Events for the console's feed, newest first: each archiving and each restore."""
    events = []
    for item in items:
        why = _printable(item.error or item.error_type or "could not be restored", 200)
        events.append(ArchiveEvent(item.archived_at, item.job_id, "archived", f"archived by the guard: {why}"))
        if item.restored_at is not None:
            events.append(
                ArchiveEvent(
                    item.restored_at, item.job_id, "restored", f"restored from the archive by {item.restored_by}"
                )
            )
    events.sort(key=lambda e: e.at, reverse=True)
    return tuple(events)


def archive_component(ctx: CheckContext) -> Component | None:
    """WARNING while archived rows wait (not restored): how many, the newest and its error."""
    if ctx.engine is None:
        return None
    try:
        items = read_archived(ctx.engine, ctx.target.schema, table=ctx.target.table, include_restored=False)
    except sa.exc.SQLAlchemyError:
        return None
    if not items:
        return None
    newest = items[0]
    why = _printable(newest.error or newest.error_type or "?")
    when = newest.archived_at.isoformat(timespec="seconds").replace("+00:00", "Z")
    summary = (
        f"{len(items)} job(s) APScheduler could not restore are archived (newest {newest.job_id!r} at {when}: {why}); "
        "`schedtui restore --archived ID` puts one back"
    )
    lines = tuple(
        Line(f"{i.job_id!r}: archived {i.archived_at.isoformat(timespec='seconds')}: {_printable(i.error or '?', 120)}")
        for i in items[:20]
    )
    data = {
        "count": len(items),
        "newest_at": newest.archived_at.isoformat(),
        "newest_job": newest.job_id,
        "newest_error": why,
        "jobs": [i.job_id for i in items],
    }
    return Component(NAME, Status.WARNING, summary, lines, (Perf("archived", len(items), min=0),), data)
