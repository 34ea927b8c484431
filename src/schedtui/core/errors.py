"""Errors the core raises, each with a kind the CLI maps to an exit code."""

from __future__ import annotations

from enum import Enum


class ErrorKind(str, Enum):
    CONFIG = "config"  #: nothing configured, a malformed URL, a bad option
    DRIVER = "driver"  #: the database driver is not installed
    CONNECT = "connect"  #: server unreachable, authentication failed, file missing
    TABLE = "table"  #: the jobs table (or schema) does not exist
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
