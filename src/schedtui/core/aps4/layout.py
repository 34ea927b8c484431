"""The APScheduler 4.0.0a6 SQLAlchemy data store's tables, as its source defines them.

Verified against ``apscheduler/datastores/sqlalchemy.py`` of the 4.0.0a6 wheel
(``SQLAlchemyDataStore.get_table_definitions``):

- ``metadata(schema_version INTEGER)``: 1 (the store refuses anything above 1).
- ``tasks(id, func, job_executor, max_running_jobs, misfire_grace_time, metadata JSON,
  running_jobs)``.
- ``schedules(id, task_id, trigger BLOB, args BLOB, kwargs BLOB, paused BOOLEAN, coalesce
  (enum name), misfire_grace_time, max_jitter, job_executor, job_result_expiration_time,
  metadata, last_fire_time, next_fire_time, acquired_by, acquired_until)``.
- ``jobs(id UUID, task_id, args, kwargs, schedule_id, scheduled_fire_time, executor, jitter,
  start_deadline, result_expiration_time, metadata, created_at, acquired_by, acquired_until)``.
- ``job_results(job_id UUID, outcome (enum name), started_at, finished_at, expires_at,
  exception BLOB, return_value BLOB)``.

PostgreSQL (and Oracle) keep native ``timestamptz``, ``interval`` and ``uuid``. Elsewhere
timestamps are ISO 8601 strings (``EmulatedTimestampTZ``), intervals BIGINT *microseconds*
(``EmulatedInterval``), UUIDs 32 hex characters, and ``last_fire_time``/``next_fire_time``
BIGINT microseconds since the epoch with a ``*_utcoffset`` SMALLINT of minutes.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target

#: The only ``metadata.schema_version`` schedtui has been tested with (4.0.0a6 writes 1).
SCHEMA_VERSION = 1
#: The ``Target.table`` of an APScheduler 4 store (its schedules are its "jobs").
TABLE = "schedules"
TABLES = ("metadata", "tasks", "schedules", "jobs", "job_results")
READ_ONLY = "APScheduler 4 stores are read-only in schedtui"
#: ``JobOutcome`` names -> schedtui outcomes (``history.records``).
OUTCOMES: dict[str, str] = {
    "success": "success",
    "error": "error",
    "missed_start_deadline": "missed",
    "deserialization_failed": "error",
    "cancelled": "error",
    "abandoned": "unfinished",
}
SCHEDULE_COLUMNS = (
    "id", "task_id", "trigger", "args", "kwargs", "paused", "coalesce", "misfire_grace_time", "max_jitter",
    "job_executor", "last_fire_time", "next_fire_time", "acquired_by", "acquired_until",
)  # fmt: skip
TASK_COLUMNS = ("id", "func", "job_executor", "max_running_jobs", "misfire_grace_time")
RESULT_COLUMNS = ("job_id", "outcome", "started_at", "finished_at", "expires_at", "exception")
JOB_COLUMNS = ("id", "task_id", "schedule_id", "scheduled_fire_time", "created_at", "acquired_by", "acquired_until")


def raw_table(name: str, columns: tuple[str, ...], schema: str | None) -> sa.Table:
    """``name`` with ``columns`` read raw (no type processing: one odd value fails nothing)."""
    return sa.Table(name, sa.MetaData(), *(sa.Column(c, sa.types.NullType()) for c in columns), schema=schema)


def is_aps4(conn: sa.Connection, schema: str | None) -> bool:
    """Whether the database holds an APScheduler 4 data store (its tables and columns)."""
    insp = sa.inspect(conn)
    try:
        for name in ("metadata", "tasks", "schedules"):
            if not insp.has_table(name, schema=schema):
                return False
        meta = {str(c["name"]).lower() for c in insp.get_columns("metadata", schema=schema)}
        sched = {str(c["name"]).lower() for c in insp.get_columns("schedules", schema=schema)}
    except sa.exc.SQLAlchemyError:
        return False
    return "schema_version" in meta and {"next_fire_time", "acquired_until", "trigger", "paused"} <= sched


def holds_aps4(target: Target) -> bool | None:
    """Whether ``target``'s database holds an APScheduler 4 store (None: it cannot be read)."""
    from schedtui.core.store.db import read_engine

    try:
        engine = read_engine(target)
    except SchedtuiError:
        return None
    try:
        with engine.connect() as conn:
            found = is_aps4(conn, target.schema)
            conn.rollback()
            return found
    except Exception:
        return None
    finally:
        engine.dispose()


def is_aps4_target(target: Target) -> bool:
    """Whether ``target`` names an APScheduler 4 store (``--table schedules``)."""
    return target.table == TABLE


def check_version(conn: sa.Connection, schema: str | None) -> int:
    """The store's schema version; an UNSUPPORTED error (exit 3) unless it is the tested one."""
    t = raw_table("metadata", ("schema_version",), schema)
    versions: list[int] = [r[0] for r in conn.execute(sa.select(t.c.schema_version))]
    version = versions[0] if len(versions) == 1 else None
    if version != SCHEMA_VERSION:
        found = "no schema_version row" if not versions else f"schema_version {', '.join(map(str, versions))}"
        raise SchedtuiError(
            f"APScheduler 4 store with {found}: schedtui reads only schema_version {SCHEMA_VERSION} "
            "(APScheduler 4.0.0a6); refusing to guess at another layout",
            ErrorKind.UNSUPPORTED,
        )
    return version


# -- column values ------------------------------------------------------------------------
def timestamp(value: Any) -> datetime | None:
    """An ``EmulatedTimestampTZ`` string or a native timestamptz, as aware UTC."""
    if value is None:
        return None
    try:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return None


def fire_time(value: Any) -> datetime | None:
    """``next_fire_time``/``last_fire_time``: microseconds since the epoch (BIGINT) or a
    native timestamptz, as aware UTC."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)
        except OverflowError:
            return None
    return timestamp(value)


def interval(value: Any) -> timedelta | None:
    """An ``EmulatedInterval`` (BIGINT microseconds) or a native interval."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return timedelta(microseconds=value)
        except OverflowError:
            return None
    return None


def uuid_text(value: Any) -> str:
    """A UUID column (native or 32 hex characters) in its canonical form."""
    if isinstance(value, UUID):
        return str(value)
    try:
        return str(UUID(str(value)))
    except ValueError:
        return str(value)


def printable(value: object, limit: int = 200) -> str:
    """Store text for a sentence: control and format characters become ``?``, bounded."""
    s = str(value)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return "".join("?" if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") else ch for ch in s)


def boolean(value: Any) -> bool:
    return bool(value) if not isinstance(value, str) else value.strip().lower() in ("1", "t", "true")
