"""The ``next_run_time`` column in its stored form, read as APScheduler's float epoch.

SQLAlchemyJobStore stores a float (UTC epoch seconds); django-apscheduler's
``DjangoJobStore`` a database datetime (SQLite: text such as ``2026-03-02 11:58:36.007206``
in UTC; PostgreSQL: ``timestamptz``; MySQL/MariaDB: ``datetime(6)`` in UTC). The reader selects an expression that yields the
float in every case, so ordering, judging and the incremental refresh see one form.
"""

from __future__ import annotations

import sqlite3
from typing import Any

COLUMN = "next_run_time"

#: SQLite: whole seconds from strftime, the fraction from the text after the seconds.
_SQLITE_DATETIME = (
    "(CAST(strftime('%s', next_run_time) AS REAL) + COALESCE(CAST(NULLIF(substr(next_run_time, 20), '') AS REAL), 0.0))"
)
_PG_DATETIME = "CAST(EXTRACT(EPOCH FROM next_run_time) AS DOUBLE PRECISION)"
#: MySQL/MariaDB ``DATETIME(6)`` holds naive UTC (Django with ``USE_TZ``): microseconds since
#: the epoch, whatever the session's time zone (UNIX_TIMESTAMP would apply it); ``1e6`` makes
#: the division a DOUBLE, not a DECIMAL.
_MYSQL_DATETIME = "(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', next_run_time) / 1e6)"


def is_datetime_type(declared: str | None) -> bool:
    """Whether a declared column type is a date-time one (``datetime``, ``timestamp ...``)."""
    low = (declared or "").lower()
    return "date" in low or "time" in low


def expression(dialect: str, declared: str | None) -> str:
    """The SQL that reads the column as a float epoch on ``dialect``."""
    if not is_datetime_type(declared):
        return COLUMN
    if dialect == "sqlite":
        return _SQLITE_DATETIME
    if dialect == "postgresql":
        return _PG_DATETIME
    if dialect in ("mysql", "mariadb"):
        return _MYSQL_DATETIME
    return COLUMN


def sqlite_declared(conn: sqlite3.Connection, table: str) -> str | None:
    row = conn.execute("SELECT type FROM pragma_table_info(?) WHERE name = ?", (table, COLUMN)).fetchone()
    return None if row is None else str(row[0])


def generic_declared(conn: Any, dialect: str, table: str, schema: str | None) -> str | None:
    """The declared type through SQLAlchemy's inspector (any dialect)."""
    import sqlalchemy as sa

    try:
        for col in sa.inspect(conn).get_columns(table, schema=schema):
            if str(col["name"]).lower() == COLUMN:
                return str(col["type"])
    except sa.exc.SQLAlchemyError:
        return None
    return None
