"""Errors the core raises, each with a kind the CLI maps to an exit code."""

from __future__ import annotations

import re
from enum import Enum


class ErrorKind(str, Enum):
    CONFIG = "config"  #: nothing configured, a malformed URL, a URL without a file, a bad option
    DRIVER = "driver"  #: the database driver is not installed
    CONNECT = "connect"  #: server unreachable, authentication failed, file missing
    TABLE = "table"  #: the jobs table (or schema) does not exist, or lacks a column
    CORRUPT = "corrupt"  #: the database file is damaged ("database disk image is malformed")
    LOCKED = "locked"  #: the SQLite file is locked past the timeout
    PERMISSION = "permission"  #: permission denied
    IO = "io"  #: disk full and the like
    CONFLICT = "conflict"  #: a concurrent change was detected; nothing was written
    STATE = "state"  #: the operation is not allowed in the current state
    UNSUPPORTED = "unsupported"  #: a store layout or schema version schedtui does not read
    INTERNAL = "internal"


class SchedtuiError(Exception):
    """An expected failure with one clear line for the user (no traceback)."""

    def __init__(self, message: str, kind: ErrorKind = ErrorKind.INTERNAL) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind

    def __str__(self) -> str:
        return self.message


#: SQLite's ``no such column: t.c`` and PostgreSQL's ``column "c" does not exist``.
_MISSING_COLUMN = re.compile(r'no such column: ([\w."]+)|column ([\w."]+) does not exist', re.IGNORECASE)


def classify_db_error(text: str, where: str, table: str) -> SchedtuiError | None:
    """The one wording of a database failure every command prints, from the driver's
    message (SQLite's or PostgreSQL's); ``where`` is the masked URL or file, ``table``
    the jobs table's name. None when the text is not one of the known failures.
    """
    low = text.lower()
    found = _MISSING_COLUMN.search(text)
    if found is not None:
        column = (found.group(1) or found.group(2)).strip('"').rsplit(".", 1)[-1]
        return SchedtuiError(
            f"table {table!r} in {where} is not an APScheduler jobs table (id, next_run_time, job_state): "
            f"no such column {column} (see --table)",
            ErrorKind.TABLE,
        )
    if "malformed" in low or "database corrupt" in low:
        return SchedtuiError(
            f"the SQLite database is damaged: {where} (database disk image is malformed); "
            "restore a backup (schedtui backups, schedtui restore)",
            ErrorKind.CORRUPT,
        )
    if "not a database" in low or "file is encrypted" in low:
        return SchedtuiError(f"cannot open the SQLite database {where}: file is not a database", ErrorKind.CONNECT)
    if "disk i/o error" in low or "unable to open database" in low:
        return SchedtuiError(f"cannot open the SQLite database {where}: {text}", ErrorKind.CONNECT)
    return None
