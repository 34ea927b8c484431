"""``check``'s components beyond the jobs table on a plain SQLite store without their tables.

Most SQLite job stores have no companion tables (heartbeats, runs, archive) and no other
run history: every component that reads tables then answers "nothing here". Finding that
out through SQLAlchemy costs its import (about 0.2 s, more than a 1,000-job check). For a
plain ``sqlite:///path`` store, :func:`tables_absent` asks ``sqlite_master`` with sqlite3
(read-only, as the jobs read opens it) whether any table a component reads exists; when
none does, :func:`providers` are the components that still have something to say (the
heartbeat job in the store, the backup folder), and they answer exactly what the default
providers (``checker.default_providers``) answer for that store. Anything else (another
database, a schema, a URL with options, an APScheduler 4 store, a file sqlite3 cannot read,
one of the tables present) is left to the default providers.
"""

from __future__ import annotations

import sqlite3

from schedtui.core.errors import SchedtuiError
from schedtui.core.health import CheckContext, Component, Provider
from schedtui.core.model import Target

#: Every table a default provider may read beyond the jobs table, in SQLite's default
#: schema: the companion's heartbeats, runs and archive (``core.tables``), Aegis's and
#: django-apscheduler's run tables (``core.history.layouts``). tests/test_quickcheck.py
#: checks these against the modules that own the names.
COMPONENT_TABLES = (
    "schedtui_heartbeats",
    "schedtui_runs",
    "schedtui_archived_jobs",
    "job_execution",
    "django_apscheduler_djangojobexecution",
)
#: The jobs table of an APScheduler 4 store (``core.aps4.layout.TABLE``): its leases and
#: results are read through SQLAlchemy.
APS4_TABLE = "schedules"


def table_names(target: Target) -> frozenset[str] | None:
    """The lowercased names in ``sqlite_master`` of a plain SQLite file (no schema), or
    None when ``target`` is anything else or the file cannot be read."""
    from schedtui.core.store import sqlite_light
    from schedtui.core.store.place import plain_path

    if target.schema is not None:
        return None
    path = plain_path(target)
    if path is None:
        return None
    try:
        conn = sqlite_light.open_readonly(path)
        try:
            rows = conn.execute("SELECT name FROM sqlite_master").fetchall()
        finally:
            conn.close()
    except (sqlite3.Error, OSError, SchedtuiError):
        return None
    return frozenset(str(name).lower() for (name,) in rows)


def tables_absent(target: Target) -> bool:
    """True only when ``target`` is a plain SQLite file, not an APScheduler 4 store, that
    has none of :data:`COMPONENT_TABLES` (SQLite names are case-insensitive; views count)."""
    if target.table == APS4_TABLE:
        return False
    names = table_names(target)
    return names is not None and names.isdisjoint(COMPONENT_TABLES)


def heartbeat_job_component(ctx: CheckContext) -> Component | None:
    """``heartbeat`` without the companion's table: the heartbeat job in the store, if any
    (what ``heartbeat.heartbeat_component`` answers when the table is missing)."""
    from schedtui.core.jobbeat import job_beat

    return job_beat(ctx)


def providers() -> list[Provider]:
    """The providers for a store :func:`tables_absent` answered True for, in the default
    providers' order (history, leases and archive answer None there)."""
    from schedtui.core.backup.health import backups_component

    return [heartbeat_job_component, backups_component]
