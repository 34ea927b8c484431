"""The jobs table's rows as stored bytes (``id``, ``next_run_time``, ``job_state``).

Read from the live store (a read-only engine) or from a backup file (a SQLite copy, or a
``pg_dump`` custom-format file read through ``pg_restore --data-only``). Nothing here
decodes or writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target


@dataclass(frozen=True, slots=True)
class RawRow:
    """One stored row, exactly as the database holds it."""

    id: str
    next_run_time: float | None
    job_state: bytes


def read_live(target: Target) -> tuple[RawRow, ...]:
    """Every row of the live jobs table (read-only connection)."""
    from schedtui.core.store.db import jobs_table, read_engine, translate_error

    engine = read_engine(target)
    t = jobs_table(target)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.id, t.c.next_run_time, t.c.job_state).order_by(t.c.id)).all()
    except sa.exc.SQLAlchemyError as exc:
        raise translate_error(exc, target) from None
    finally:
        engine.dispose()
    return tuple(RawRow(str(r[0]), r[1], bytes(r[2]) if r[2] is not None else b"") for r in rows)


def is_pgdump(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(5) == b"PGDMP"
    except OSError:
        return False


def read_backup(path: Path, table: str = "apscheduler_jobs", schema: str | None = None) -> tuple[RawRow, ...]:
    """Every row of the jobs table inside a backup file."""
    if not path.is_file():
        raise SchedtuiError(f"backup not found: {path}", ErrorKind.CONFIG)
    if is_pgdump(path):
        return _read_pgdump(path, table, schema)
    import sqlite3

    from schedtui.core.backup.sqlite import iter_jobs, open_ro, sqlite_error, table_names

    try:
        conn = open_ro(path)
    except sqlite3.Error as exc:
        raise sqlite_error(exc, f"cannot open the backup {path.name}") from None
    try:
        if table not in table_names(conn):
            raise SchedtuiError(f"the backup {path.name} has no table {table}", ErrorKind.TABLE)
        rows = [RawRow(i, n, s) for i, n, s in iter_jobs(conn, table)]
    except sqlite3.Error as exc:
        raise sqlite_error(exc, f"cannot read the backup {path.name}") from None
    finally:
        conn.close()
    rows.sort(key=lambda r: r.id)
    return tuple(rows)


def _read_pgdump(path: Path, table: str, schema: str | None) -> tuple[RawRow, ...]:
    from schedtui.core.backup import postgres as P

    pg_restore = P.find_tool("pg_restore")
    proc = P.data_process(pg_restore, path)
    assert proc.stdout is not None
    out: list[RawRow] = []
    try:
        for name, rows in P._copy_blocks(iter(proc.stdout)):
            if not P.is_jobs_block(name, table, schema):
                for _ in rows:
                    pass
                continue
            out.extend(RawRow(*P.job_row(fields)) for fields in rows)
    finally:
        stderr = proc.stderr.read() if proc.stderr else ""
        rc = proc.wait()
    if rc != 0:
        raise SchedtuiError(f"pg_restore cannot read {path.name}: {P.first_error(stderr)}", ErrorKind.IO)
    out.sort(key=lambda r: r.id)
    return tuple(out)


__all__ = ["RawRow", "is_pgdump", "read_backup", "read_live"]
