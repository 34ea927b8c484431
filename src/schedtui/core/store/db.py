"""Engines and error translation.

Reading never writes: SQLite files are opened with ``mode=ro`` (and ``query_only``), so
not a byte of the database changes, even while a scheduler writes it in WAL mode;
PostgreSQL sessions default to read-only transactions, MySQL/MariaDB sessions are made
read-only when they connect (``core.store.mysql``). Every driver error a user can cause becomes a
``SchedtuiError`` with one clear line and a kind.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from schedtui.core.errors import ErrorKind, SchedtuiError, classify_db_error
from schedtui.core.model import Target
from schedtui.core.store.mysql import DRIVER_HINT as MYSQL_DRIVER_HINT
from schedtui.core.store.mysql import connect_args as mysql_connect_args
from schedtui.core.store.mysql import is_mysql, translate_mysql
from schedtui.core.store.place import Family, parse_url, place_of
from schedtui.core.store.sqlite_light import LOCK_TIMEOUT, hot_journal_message, open_readonly, require_file
from schedtui.core.urls import mask_text, mask_url

#: Seconds to wait for a locked SQLite file or an unreachable server.
CONNECT_TIMEOUT = int(float(os.environ.get("SCHEDTUI_CONNECT_TIMEOUT", "5")))


def read_engine(target: Target) -> Engine:
    """An engine whose connections cannot write."""
    place = place_of(target)
    if place.is_sqlite:
        path = require_file(place.sqlite_path, place.safe_url)

        def creator() -> sqlite3.Connection:
            return open_readonly(path, check_same_thread=False)

        return sa.create_engine("sqlite://", creator=creator, poolclass=sa.pool.SingletonThreadPool)
    connect_args: dict[str, Any] = {}
    if place.family is Family.POSTGRESQL:
        connect_args = {
            "options": "-c default_transaction_read_only=on",
            "connect_timeout": CONNECT_TIMEOUT,
            "application_name": "schedtui",
        }
    elif place.family is Family.MYSQL:
        connect_args = mysql_connect_args(CONNECT_TIMEOUT, read_only=True)
    return _create(target, parse_url(target), connect_args=connect_args, pool_pre_ping=True)


def refuse_aps4_write(target: Target) -> None:
    """Raise ``aps4.READ_ONLY`` when ``target`` is an APScheduler 4 data store."""
    from schedtui.core.aps4.layout import READ_ONLY, holds_aps4, is_aps4_target

    if is_aps4_target(target) and holds_aps4(target):
        raise SchedtuiError(READ_ONLY, ErrorKind.STATE)


def write_engine(target: Target) -> Engine:
    """An ordinary engine, for the few paths that write (companion, job control, restore).
    Refused (STATE) for an APScheduler 4 data store: schedtui only reads those."""
    refuse_aps4_write(target)
    url = parse_url(target)
    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        connect_args = {"timeout": LOCK_TIMEOUT}
    elif backend == "postgresql":
        connect_args = {"connect_timeout": CONNECT_TIMEOUT, "application_name": "schedtui"}
    elif is_mysql(backend):
        connect_args = mysql_connect_args(CONNECT_TIMEOUT, read_only=False)
    return _create(target, url, connect_args=connect_args, pool_pre_ping=True)


def _create(target: Target, url: sa.URL, **kwargs: Any) -> Engine:
    try:
        return sa.create_engine(url, **kwargs)
    except NoSuchModuleError as exc:
        raise SchedtuiError(
            f"unsupported database URL scheme {url.drivername!r} in {mask_url(target.url)}",
            ErrorKind.CONFIG,
        ) from exc
    except ImportError as exc:
        raise SchedtuiError(_driver_hint(url, exc), ErrorKind.DRIVER) from exc
    except ArgumentError as exc:
        raise SchedtuiError(f"not a valid database URL: {mask_url(target.url)}", ErrorKind.CONFIG) from exc


def _driver_hint(url: sa.URL, exc: BaseException) -> str:
    if url.get_backend_name() == "postgresql":
        return "the PostgreSQL driver is not installed: pip install 'schedtui[postgres]' (psycopg 3)"
    if is_mysql(url.get_backend_name()):
        return MYSQL_DRIVER_HINT
    return f"the database driver for {url.drivername!r} is not installed ({exc})"


def jobs_table(target: Target) -> sa.Table:
    """The APScheduler jobs table as SQLAlchemy Core sees it (id, next_run_time, job_state)."""
    return sa.Table(
        target.table,
        sa.MetaData(),
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25), index=True),
        sa.Column("job_state", sa.LargeBinary, nullable=False),
        schema=target.schema,
    )


def translate_error(exc: BaseException, target: Target) -> SchedtuiError:
    """One clear line for a driver error (SQLAlchemy's, sqlite3's or psycopg's), worded as
    every command words it (``classify_db_error``); passwords masked."""
    if isinstance(exc, SchedtuiError):
        return exc
    raw = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    text = mask_text(raw[0] if raw else type(exc).__name__, target.url)
    low = text.lower()
    where = mask_url(target.url)
    if isinstance(exc, ImportError):
        return SchedtuiError(_driver_hint(parse_url(target), exc), ErrorKind.DRIVER)
    mysql_error = _translate_mysql(exc, target)
    if mysql_error is not None:
        return mysql_error
    if "database is locked" in low or "database table is locked" in low or "lock timeout" in low:
        return SchedtuiError(f"the database is locked (waited {LOCK_TIMEOUT:g}s): {where}", ErrorKind.LOCKED)
    if "no such table" in low or ("relation" in low and "does not exist" in low) or "undefinedtable" in low:
        return SchedtuiError(_missing_table(target), ErrorKind.TABLE)
    if "schema" in low and "does not exist" in low:
        return SchedtuiError(_missing_table(target), ErrorKind.TABLE)
    known = classify_db_error(text, where, target.table)
    if known is not None:
        return known
    path = place_of(target).sqlite_path if "readonly" in low else None
    if path is not None:
        hot = hot_journal_message(path)
        if hot is not None:
            return SchedtuiError(hot, ErrorKind.STATE)
    if "permission denied" in low or "readonly" in low or "read-only" in low:
        return SchedtuiError(f"permission denied on {where}: {text}", ErrorKind.PERMISSION)
    if "authentication failed" in low or "password" in low:
        return SchedtuiError(f"authentication failed for {where}", ErrorKind.CONNECT)
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.DisconnectionError | OSError):
        return SchedtuiError(f"cannot reach the database {where}: {text}", ErrorKind.CONNECT)
    if isinstance(exc, sa.exc.DBAPIError | sqlite3.Error):
        return SchedtuiError(f"database error on {where}: {text}", ErrorKind.CONNECT)
    return SchedtuiError(f"{type(exc).__name__}: {text}", ErrorKind.INTERNAL)


def probe_jobs_table(engine: Engine, target: Target) -> None:
    """Raise the error every command gives when the jobs table is not there or not an
    APScheduler table (a missing column), or the file is not a readable database (the
    count walks the table's pages, so a damaged one is found too)."""
    t = jobs_table(target)
    try:
        with engine.connect() as conn:
            conn.execute(sa.select(t.c.id, t.c.next_run_time, t.c.job_state).where(sa.false())).all()
            conn.execute(sa.select(sa.func.count(), sa.func.sum(sa.func.length(t.c.job_state)))).all()
    except Exception as exc:
        raise translate_error(exc, target) from None


def _translate_mysql(exc: BaseException, target: Target) -> SchedtuiError | None:
    """MySQL/MariaDB errors, recognised by their error number (``core.store.mysql``)."""
    try:
        backend = parse_url(target).get_backend_name()
    except SchedtuiError:
        return None
    if not is_mysql(backend):
        return None
    return translate_mysql(exc, target, _missing_table(target))


def _missing_table(target: Target) -> str:
    name = f"{target.schema}.{target.table}" if target.schema else target.table
    return (
        f"table {name!r} not found in {mask_url(target.url)} (is this the scheduler's database? see --table / --schema)"
    )
