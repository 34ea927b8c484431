"""Where a target's jobs table is, resolved once: the dialect family, the SQLite file, the
jobs table's quoted name for raw SQL, and the URL to print.

Every reader and writer takes these from one ``Place`` (``place_of``) instead of deriving
them again. A plain ``sqlite:///path`` URL is resolved without importing SQLAlchemy (which
takes about 0.15 s: a one-shot read of a SQLite file never needs it); every other URL is
parsed by SQLAlchemy, as its engine will be.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target
from schedtui.core.store.mysql import BACKENDS as MYSQL_BACKENDS
from schedtui.core.urls import mask_url

if TYPE_CHECKING:
    import sqlalchemy as sa

# No query string, fragment, percent-escape or memory database: those are SQLAlchemy's.
_PLAIN = re.compile(r"sqlite(?:\+pysqlite)?:///(?P<path>[^?#%]+)")


class Family(enum.Enum):
    """How a target is read: SQLite files with sqlite3, servers through SQLAlchemy."""

    #: a plain ``sqlite:///path`` URL: resolved and read without SQLAlchemy
    SQLITE_FILE = "sqlite-file"
    #: any other SQLite URL (parsed by SQLAlchemy; its file, if any, read with sqlite3)
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"
    #: MySQL and MariaDB
    MYSQL = "mysql"
    #: any other SQLAlchemy dialect (read through SQLAlchemy, digests computed here)
    OTHER = "other"


#: Each row's MD5 hex digest computed by the server (incremental reads).
_MD5_SQL = {Family.POSTGRESQL: "md5(job_state)", Family.MYSQL: "md5(job_state)"}
#: Each row's SHA-256 (32 bytes) computed by the server (a repeated one-shot probe).
_SHA256_SQL = {Family.POSTGRESQL: "sha256(job_state)", Family.MYSQL: "UNHEX(SHA2(job_state, 256))"}
#: Each row's size in bytes, computed by the server (an incremental read's quick scan).
_SIZE_SQL = {Family.POSTGRESQL: "octet_length(job_state)", Family.MYSQL: "LENGTH(job_state)"}
#: A next_run_time (``{nrt}``) as whole microseconds modulo a prime, exactly (no ``%``:
#: the drivers' placeholder sign).
_MICROS_SQL = {
    Family.POSTGRESQL: "mod(round(({nrt}) * 1000000)::bigint, 1000000007)",
    Family.MYSQL: "MOD(CAST(ROUND(({nrt}) * 1000000) AS SIGNED), 1000000007)",
}
_MOD = {Family.POSTGRESQL: "mod({x}, 1000000007)", Family.MYSQL: "MOD({x}, 1000000007)"}


@dataclass(frozen=True, slots=True)
class Place:
    """One target, resolved: what every module needs to name its jobs table."""

    family: Family
    #: SQLAlchemy's backend name (``sqlite``, ``postgresql``, ``mysql``, ``mariadb`` ...)
    dialect: str
    #: the SQLite database file (None: not SQLite, or a URL without a file)
    sqlite_path: Path | None
    #: the jobs table, schema-qualified and quoted for raw SQL on this dialect
    table_sql: str
    #: the URL with every credential masked
    safe_url: str

    @property
    def is_sqlite(self) -> bool:
        return self.family in (Family.SQLITE_FILE, Family.SQLITE)

    @property
    def md5_sql(self) -> str | None:
        """The server-side per-row MD5 hex expression, or None (digests computed here)."""
        return _MD5_SQL.get(self.family)

    @property
    def sha256_sql(self) -> str | None:
        """The server-side per-row SHA-256 expression, or None (no digest probe)."""
        return _SHA256_SQL.get(self.family)

    @property
    def size_sql(self) -> str | None:
        """The server-side per-row size expression, or None."""
        return _SIZE_SQL.get(self.family)

    def aggregate_sql(self, nrt: str) -> str | None:
        """One row the server computes over the whole table that changes when a row is
        added, deleted, moved in time or resized (``nrt``: the next_run_time expression):
        the count, the sum of the sizes, and of the times in whole microseconds modulo a
        prime, alone and times the size. Integer sums only: they are exact in any order
        (a parallel scan adds float sums in a different order each time). None where
        there is no size expression."""
        size, micros = _SIZE_SQL.get(self.family), _MICROS_SQL.get(self.family)
        if size is None or micros is None:
            return None
        us = micros.format(nrt=nrt)
        return (
            f"SELECT count(*), sum({size}), sum({us}), sum({_MOD[self.family].format(x=f'{us} * {size}')}) "
            f"FROM {self.table_sql}"
        )


def plain_path(target: Target) -> Path | None:
    """The file of a plain ``sqlite:///path`` URL (as SQLAlchemy reads it), else None."""
    m = _PLAIN.fullmatch(target.url)
    if m is None or m["path"] == ":memory:" or m["path"].startswith("file:"):
        return None
    return Path(m["path"]).expanduser().resolve()


def sqlite_path(target: Target) -> Path | None:
    """The SQLite file behind ``target`` (None for other databases or ``:memory:``)."""
    return place_of(target).sqlite_path


def parse_url(target: Target) -> sa.URL:
    """``target.url`` parsed by SQLAlchemy; a CONFIG error when it is not a database URL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(target.url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise SchedtuiError(f"not a valid database URL: {mask_url(target.url)}", ErrorKind.CONFIG) from exc


def place_of(target: Target) -> Place:
    """``target`` resolved (a CONFIG error for a URL that is not a database URL)."""
    plain = plain_path(target)
    if plain is not None:
        return Place(Family.SQLITE_FILE, "sqlite", plain, _sqlite_table(target), target.safe_url)
    url = parse_url(target)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return Place(Family.SQLITE, backend, _sqlite_file(url.database), _sqlite_table(target), target.safe_url)
    if backend == "postgresql":
        family = Family.POSTGRESQL
    elif backend in MYSQL_BACKENDS:
        family = Family.MYSQL
    else:
        family = Family.OTHER
    return Place(family, backend, None, _server_table(url, target), target.safe_url)


def _sqlite_file(database: str | None) -> Path | None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().resolve()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_table(target: Target) -> str:
    """``"schema"."table"`` quoted for SQLite."""
    name = _quote(target.table)
    return f"{_quote(target.schema)}.{name}" if target.schema else name


def _server_table(url: sa.URL, target: Target) -> str:
    """``schema.table`` quoted as the dialect's engine quotes it."""
    from sqlalchemy.exc import NoSuchModuleError

    try:
        prep = url.get_dialect()().identifier_preparer
    except (NoSuchModuleError, ImportError):
        # no engine can be made for this URL either: ``db`` says why when one is asked for
        return _sqlite_table(target)
    name = prep.quote(target.table)
    return f"{prep.quote_schema(target.schema)}.{name}" if target.schema else name
