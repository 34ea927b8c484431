"""Which run history a database has for a job store.

Looked for, in order: the companion's ``schedtui_runs`` (next to the jobs table), Aegis's
``job_execution`` (in the jobs table's schema, then ``scheduler`` on PostgreSQL, then the
default schema) and django-apscheduler's executions table (for its own jobs table). A table
with a known name but other columns is not taken for that layout.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from schedtui.core import tables as T
from schedtui.core.heartbeat import connection
from schedtui.core.history.companion import CompanionHistory
from schedtui.core.history.layouts import AEGIS, DJANGO, DJANGO_JOBS_TABLE
from schedtui.core.history.source import HistorySource
from schedtui.core.history.table import RunLayout, TableHistory
from schedtui.core.model import Target


def _columns(insp: Any, table: str, schema: str | None) -> set[str] | None:
    try:
        if not insp.has_table(table, schema=schema):
            return None
        return {str(c["name"]).lower() for c in insp.get_columns(table, schema=schema)}
    except sa.exc.SQLAlchemyError:
        return None


def _layout_source(insp: Any, dialect: str, layout: RunLayout, schema: str | None) -> TableHistory | None:
    schemas: list[str | None] = [schema]
    if dialect != "sqlite":
        schemas += [*layout.schemas, None]
    for candidate in dict.fromkeys(schemas):
        cols = _columns(insp, layout.table, candidate)
        if cols is not None and set(layout.columns) <= cols:
            return TableHistory(layout, candidate)
    return None


def find_sources(bind: Any, target: Target) -> tuple[HistorySource, ...]:
    """Every run-history source for ``target``'s job store, the preferred one first."""
    found: list[HistorySource] = []
    with connection(bind) as conn:
        insp = sa.inspect(conn)
        dialect = conn.dialect.name
        if target.table == "schedules" and _columns(insp, "job_results", target.schema) is not None:
            from schedtui.core.aps4.history import Aps4History

            found.append(Aps4History(target.schema))
        if _columns(insp, T.RUNS, target.schema) is not None:
            found.append(CompanionHistory(target.schema))
        django_store = target.table == DJANGO_JOBS_TABLE
        for layout in (DJANGO,) if django_store else (AEGIS,):
            source = _layout_source(insp, dialect, layout, target.schema)
            if source is not None:
                found.append(source)
    return tuple(found)


def detect_history(bind: Any, target: Target) -> HistorySource | None:
    """The run history to read for ``target`` (None: no known run table)."""
    found = find_sources(bind, target)
    return found[0] if found else None
