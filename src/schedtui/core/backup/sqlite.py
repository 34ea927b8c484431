"""SQLite: a consistent online copy with the backup API, and reading a copy back.

The copy is taken by ``Connection.backup(pages=-1)`` inside the same read transaction
that counted the rows, so the counts describe exactly the snapshot that was copied, and
committed rows still in ``-wal`` are included. Writers keep going in WAL mode; in
rollback-journal mode they wait for the (short) copy.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target

#: Seconds to wait for a writer's lock before giving up with a LOCKED error.
DEFAULT_LOCK_TIMEOUT = 30.0


def sqlite_path(target: Target) -> Path:
    """The database file of a ``sqlite://`` target (CONFIG error for in-memory ones)."""
    from sqlalchemy.engine import make_url

    try:
        database = make_url(target.url).database
    except Exception as exc:
        raise SchedtuiError(f"not a database URL: {target.safe_url} ({exc})", ErrorKind.CONFIG) from None
    if database and database.startswith("file:"):
        database = database[5:].split("?", 1)[0]
    if not database or database == ":memory:":
        from schedtui.core.store.sqlite_light import no_file_message

        raise SchedtuiError(no_file_message(target.safe_url), ErrorKind.CONFIG)
    return Path(database).expanduser().resolve()


def _ro_uri(path: Path) -> str:
    return f"file:{quote(str(path))}?mode=ro"


def open_ro(path: Path, timeout: float = DEFAULT_LOCK_TIMEOUT) -> sqlite3.Connection:
    """Open an existing database read-only (never creates a file)."""
    if not path.exists():
        raise SchedtuiError(f"database file not found: {path}", ErrorKind.CONNECT)
    try:
        return sqlite3.connect(_ro_uri(path), uri=True, timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise sqlite_error(exc, f"opening {path}") from None


def sqlite_error(exc: sqlite3.Error, what: str, timeout: float | None = None) -> SchedtuiError:
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        waited = f" for more than {timeout:.0f} s" if timeout else ""
        return SchedtuiError(f"database locked{waited} while {what}; try again later", ErrorKind.LOCKED)
    if "disk is full" in low or "database or disk is full" in low:
        return SchedtuiError(f"no space left on the device while {what}", ErrorKind.IO)
    if "readonly" in low or "permission" in low or "access" in low:
        return SchedtuiError(f"permission denied while {what}: {text}", ErrorKind.PERMISSION)
    if "malformed" in low:
        return SchedtuiError(f"the SQLite database is damaged while {what}: {text}", ErrorKind.CORRUPT)
    if "not a database" in low:
        return SchedtuiError(f"not a valid SQLite database while {what}: {text}", ErrorKind.CONNECT)
    if "unable to open" in low:
        return SchedtuiError(f"cannot open the database while {what}: {text}", ErrorKind.CONNECT)
    return SchedtuiError(f"{what} failed: {text}", ErrorKind.IO)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_names(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    return [r[0] for r in rows]


def count_rows(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {quote_ident(t)}").fetchone()[0] for t in table_names(conn)}


def source_size(path: Path) -> int:
    """Bytes the database occupies with its WAL (what a copy may need at most)."""
    total = 0
    for p in (path, Path(f"{path}-wal")):
        try:
            total += p.stat().st_size
        except OSError:
            pass
    return total


def copy_database(
    src_path: Path,
    dst_path: Path,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    progress: Callable[[float, str], None] | None = None,
) -> dict[str, int]:
    """Copy ``src_path`` to the new file ``dst_path``; returns the row counts of the copied
    snapshot. The copy is a single self-contained file (journal_mode=DELETE)."""
    src = open_ro(src_path, lock_timeout)
    dst: sqlite3.Connection | None = None
    try:
        step = "reading the source database"
        try:
            src.execute("BEGIN")
            counts = count_rows(src)  # starts the read transaction: this snapshot is copied
            if progress:
                progress(0.2, f"copying {sum(counts.values())} rows")
            step = "copying the database"
            dst = sqlite3.connect(str(dst_path), isolation_level=None)
            total = src.execute("PRAGMA page_count").fetchone()[0] or 1
            if progress is None:
                src.backup(dst, pages=-1)
            else:
                # Steps, for progress. The source's read transaction stays open across them,
                # so the snapshot cannot change and the copy never restarts.
                def copied(_status: int, remaining: int, pages: int) -> None:
                    progress(
                        round(min(0.6, 0.2 + 0.4 * (1 - remaining / max(pages, 1))), 4),
                        f"copied {pages - remaining}/{pages} pages",
                    )

                src.backup(dst, pages=max(256, total // 50), progress=copied)
            step = "finishing the copy"
            dst.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.Error as exc:
            from schedtui.core.store.sqlite_light import hot_journal_message

            hot = hot_journal_message(src_path) if "readonly" in str(exc).lower() else None
            if hot is not None:
                raise SchedtuiError(hot, ErrorKind.STATE) from None
            raise sqlite_error(exc, step, lock_timeout) from None
        finally:
            try:
                src.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        return counts
    finally:
        if dst is not None:
            dst.close()
        src.close()


def integrity(conn: sqlite3.Connection) -> str:
    rows = conn.execute("PRAGMA integrity_check").fetchall()
    msgs = [str(r[0]) for r in rows]
    return "ok" if msgs == ["ok"] else "; ".join(msgs[:3])


def iter_jobs(conn: sqlite3.Connection, table: str) -> Iterator[tuple[str, float | None, bytes]]:
    cur = conn.execute(f"SELECT id, next_run_time, job_state FROM {quote_ident(table)}")
    for job_id, nrt, state in cur:
        yield str(job_id), nrt, bytes(state) if state is not None else b""


def journal_mode(conn: sqlite3.Connection) -> str:
    return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


def remove_with_sidecars(path: Path) -> None:
    for p in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
