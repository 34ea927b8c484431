"""SQLite files through sqlite3, without importing SQLAlchemy: read-only connections and
the one message for each way a SQLite URL or file can be wrong.

Importing SQLAlchemy takes about 0.15 s; on a large store the reader starts its decode
workers first and lets SQLAlchemy load while they run. Which file a URL names is
``place``'s business.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path
from urllib.parse import quote

from schedtui.core.errors import ErrorKind, SchedtuiError

#: Seconds to wait for a locked SQLite file.
LOCK_TIMEOUT = float(os.environ.get("SCHEDTUI_LOCK_TIMEOUT", "5"))


def _refuse_pipe(path: Path, mode: int) -> None:
    """A CONNECT error for a named pipe or socket in place of the file: opening a FIFO
    waits for a writer forever."""
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        kind = "a named pipe" if stat.S_ISFIFO(mode) else "a socket"
        raise SchedtuiError(f"not a SQLite database file: {path} is {kind}", ErrorKind.CONNECT)


def open_readonly(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection that cannot write: the file opened ``mode=ro`` (never created), and
    ``query_only``; waits ``LOCK_TIMEOUT`` for a locked file. Never opens a named pipe."""
    try:
        _refuse_pipe(path, os.stat(path).st_mode)
    except OSError:
        pass  # missing or unreadable: sqlite3 (or ``require_file``) says so
    conn = sqlite3.connect(
        f"file:{quote(str(path))}?mode=ro", uri=True, timeout=LOCK_TIMEOUT, check_same_thread=check_same_thread
    )
    conn.execute("PRAGMA query_only = 1")
    conn.text_factory = tolerant_text
    return conn


def tolerant_text(data: bytes) -> str:
    """A TEXT value as ``str``: UTF-8, and bytes that are not UTF-8 kept as lone surrogates
    (``surrogateescape``), so one such value (a ``job_state`` cast to TEXT, an id written
    as bytes) is that row's finding instead of failing the whole read; every printer
    escapes surrogates (``core.text``)."""
    return data.decode("utf-8", "surrogateescape")


def is_text_error(exc: BaseException) -> bool:
    """Whether ``exc`` is sqlite3's own UTF-8 decoding failing on a TEXT value (raised
    with the default ``text_factory``, which is C: ~12 ms less per 100,000 rows than
    ``tolerant_text``)."""
    return isinstance(exc, sqlite3.OperationalError) and str(exc).startswith("Could not decode to UTF-8")


def no_file_message(safe_url: str) -> str:
    """The one message for a SQLite URL without a file (``sqlite://``, ``:memory:``)."""
    return (
        f"no SQLite database file in {safe_url!r}: an in-memory database exists only inside the "
        "scheduler's process; point --url at the scheduler's database file (sqlite:////path/to/jobs.sqlite)"
    )


def not_found_message(path: Path | str) -> str:
    """The one message for a SQLite file that does not exist."""
    return f"SQLite database not found: {path}"


def require_file(path: Path | None, safe_url: str) -> Path:
    """``path`` when it is an existing file; else the error every command gives for it:
    CONFIG for a URL without a file, CONNECT for a missing file or a directory."""
    if path is None:
        raise SchedtuiError(no_file_message(safe_url), ErrorKind.CONFIG)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SchedtuiError(not_found_message(path), ErrorKind.CONNECT) from None
    except PermissionError:
        raise SchedtuiError(f"permission denied on {safe_url}: cannot reach {path}", ErrorKind.PERMISSION) from None
    except OSError as exc:
        raise SchedtuiError(f"cannot open the SQLite database {safe_url}: {exc.strerror}", ErrorKind.CONNECT) from None
    if stat.S_ISDIR(st.st_mode):
        raise SchedtuiError(f"not a SQLite database file: {path} is a directory", ErrorKind.CONNECT)
    _refuse_pipe(path, st.st_mode)
    return path


def hot_journal_message(path: Path) -> str | None:
    """The one message for a file whose ``-journal`` holds an interrupted write (a read-only
    reader cannot roll it back: SQLite says "attempt to write a readonly database"), or None."""
    journal = Path(f"{path}-journal")
    try:
        if journal.stat().st_size == 0:
            return None
    except OSError:
        return None
    return (
        f"{path.name} has a hot journal from an interrupted write: open it once with the "
        "scheduler or sqlite3 to recover it, then back it up"
    )
