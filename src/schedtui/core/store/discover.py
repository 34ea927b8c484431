"""Finding the job stores in a database when ``--table`` is not given.

A job store is any table with APScheduler's three columns (``id``, ``next_run_time``,
``job_state``), in any schema the user can read: our default ``apscheduler_jobs``,
django-apscheduler's ``django_apscheduler_djangojob``, or a custom name. The companion's
own tables (``schedtui_*``) are not job stores. Read-only, like every read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target

_SQLITE = """
SELECT m.name FROM sqlite_master m
WHERE m.type = 'table' AND m.name NOT LIKE 'schedtui\\_%' ESCAPE '\\'
  AND (SELECT count(*) FROM pragma_table_info(m.name) p
       WHERE lower(p.name) IN ('id', 'next_run_time', 'job_state')) = 3
ORDER BY m.name
"""
_INFO_SCHEMA = """
SELECT table_schema, table_name FROM information_schema.columns
WHERE lower(column_name) IN ('id', 'next_run_time', 'job_state')
  AND table_schema NOT IN ('pg_catalog', 'information_schema', 'mysql', 'performance_schema', 'sys')
  AND table_name NOT LIKE 'schedtui\\_%'
GROUP BY table_schema, table_name HAVING count(*) = 3
ORDER BY table_schema, table_name
"""

_MYSQL = """
SELECT table_schema, table_name FROM information_schema.columns
WHERE lower(column_name) IN ('id', 'next_run_time', 'job_state') AND table_schema = :db
  AND table_name NOT LIKE 'schedtui\\_%'
GROUP BY table_schema, table_name HAVING count(*) = 3
ORDER BY table_schema, table_name
"""


@dataclass(frozen=True, slots=True)
class StoreRef:
    """One job store found: its table and schema (None: the default one)."""

    table: str
    schema: str | None = None

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table


def find_job_stores(target: Target) -> tuple[StoreRef, ...]:
    """Every job-store table in ``target``'s database."""
    from schedtui.core.store import sqlite_light
    from schedtui.core.store.place import plain_path

    path = plain_path(target)
    if path is not None:
        raw = sqlite_light.open_readonly(path)
        try:
            return tuple(StoreRef(str(name)) for (name,) in raw.execute(_SQLITE))
        finally:
            raw.close()
    import sqlalchemy as sa

    from schedtui.core.store.db import read_engine

    engine = read_engine(target)
    try:
        with engine.connect() as conn:
            default = conn.dialect.default_schema_name
            if conn.dialect.name == "sqlite":
                rows = [(None, name) for (name,) in conn.exec_driver_sql(_SQLITE)]
            elif conn.dialect.name in ("mysql", "mariadb"):
                # information_schema spans the whole server there: only the URL's database
                # (or --schema's), as on PostgreSQL, where it spans one database
                rows = list(conn.execute(sa.text(_MYSQL), {"db": target.schema or default}))
            else:
                rows = list(conn.execute(sa.text(_INFO_SCHEMA)))
            conn.rollback()
    finally:
        engine.dispose()
    return tuple(StoreRef(str(t), None if s is None or s == default else str(s)) for s, t in rows)


def discover_target(target: Target) -> Target:
    """``target`` pointed at the only job store in its database.

    Several: a TABLE error listing them (the user picks one with ``--table``/``--schema``).
    None, but an APScheduler 4 data store: ``--table schedules`` (``core.aps4``).
    None found, or the database unreachable: ``target`` unchanged (the read then says why).
    """
    try:
        found = find_job_stores(target)
    except SchedtuiError as exc:
        if exc.kind is ErrorKind.CONFIG:
            raise
        return target
    except Exception:
        return target
    if len(found) == 1:
        return replace(target, table=found[0].table, schema=found[0].schema)
    if not found:
        from schedtui.core.aps4.layout import TABLE, holds_aps4

        if holds_aps4(target):  # an APScheduler 4 data store (read-only)
            return replace(target, table=TABLE)
    if len(found) > 1:
        names = ", ".join(s.name for s in found)
        raise SchedtuiError(
            f"{len(found)} job stores in {target.safe_url}: {names}; choose one with --table (and --schema)",
            ErrorKind.TABLE,
        )
    return target
