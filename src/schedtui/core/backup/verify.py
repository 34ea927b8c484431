"""Checking a backup: hash against the manifest, integrity, row counts, every job decodes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schedtui.core.backup.fsutil import sha256_file
from schedtui.core.backup.manifest import read_records, records_by_file
from schedtui.core.backup.names import parse_name
from schedtui.core.backup.results import VerifyResult
from schedtui.core.backup.sqlite import count_rows, integrity, iter_jobs, journal_mode, open_ro, table_names

DEFAULT_TABLE = "apscheduler_jobs"

DecodeRow = Callable[[str, Any, bytes], Any]


def load_decoder() -> DecodeRow | None:
    """The safe decoder, or None while it is not installed (verification says so)."""
    try:
        from schedtui.core.decode import decode_row
    except ImportError:
        return None
    return decode_row


def undecodable_ids(rows: Iterable[tuple[str, Any, bytes]], decode: DecodeRow | None) -> tuple[str, ...]:
    """Ids whose ``job_state`` the safe decoder cannot read (the decoder never raises,
    but a failure of it must not fail the backup either). Rows are decoded in batches
    (``decode_rows``) when the decoder offers it: one memory guard per batch."""
    if decode is None:
        return ()
    batch_decode = _batch_decoder()
    bad: list[str] = []
    if batch_decode is not None:
        chunk: list[tuple[str, Any, bytes]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= BATCH:
                _decode_chunk(chunk, batch_decode, decode, bad)
                chunk = []
        if chunk:
            _decode_chunk(chunk, batch_decode, decode, bad)
        return tuple(bad)
    for job_id, nrt, state in rows:
        _decode_one(job_id, nrt, state, decode, bad)
    return tuple(bad)


BATCH = 2000


def _batch_decoder() -> Callable[[list[tuple[str, Any, bytes]]], list[Any]] | None:
    try:
        from schedtui.core.decode import decode_rows
    except ImportError:
        return None
    return decode_rows


def _decode_one(job_id: str, nrt: Any, state: bytes, decode: DecodeRow, bad: list[str]) -> None:
    try:
        if getattr(decode(job_id, nrt, state), "finding", None) is not None:
            bad.append(job_id)
    except Exception:
        bad.append(job_id)


def _decode_chunk(chunk: list[tuple[str, Any, bytes]], batch_decode: Any, decode: DecodeRow, bad: list[str]) -> None:
    try:
        infos = batch_decode(chunk)
    except Exception:
        for job_id, nrt, state in chunk:
            _decode_one(job_id, nrt, state, decode, bad)
        return
    for (job_id, _, _), info in zip(chunk, infos, strict=False):
        if getattr(info, "finding", None) is not None:
            bad.append(job_id)


@dataclass
class Inspection:
    """What reading a copy back found (before hashing)."""

    integrity: str = "ok"
    rows: dict[str, int] = field(default_factory=dict)
    undecodable: tuple[str, ...] = ()
    decoded: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.integrity == "ok" and not self.problems


def compare_rows(found: Mapping[str, int], expected: Mapping[str, int] | None, problems: list[str]) -> None:
    if expected is None:
        return
    for name, count in expected.items():
        got = found.get(name)
        if got is None:
            problems.append(f"table {name} is missing from the copy")
        elif got != count:
            problems.append(f"table {name}: {got} rows in the copy, {count} in the source at copy time")


def with_progress(
    rows: Iterable[tuple[str, Any, bytes]], on_rows: Callable[[int], None] | None, every: int = 2000
) -> Iterator[tuple[str, Any, bytes]]:
    """``rows`` unchanged, calling ``on_rows(n)`` every ``every`` rows (for progress)."""
    n = 0
    for row in rows:
        yield row
        n += 1
        if on_rows is not None and n % every == 0:
            on_rows(n)


def inspect_sqlite(
    path: Path,
    table: str = DEFAULT_TABLE,
    expected: Mapping[str, int] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> Inspection:
    """Open the copy read-only, run the full integrity check, count rows, decode jobs."""
    out = Inspection()
    try:
        conn = open_ro(path, timeout=5.0)
    except Exception as exc:
        out.integrity = f"does not open: {exc}"
        return out
    try:
        out.integrity = integrity(conn)
        if out.integrity != "ok":
            return out
        if journal_mode(conn) != "delete":
            out.problems.append("the copy is not a self-contained file (journal_mode is not DELETE)")
        out.rows = count_rows(conn)
        compare_rows(out.rows, expected, out.problems)
        if table in table_names(conn):
            decode = load_decoder()
            out.decoded = decode is not None
            out.undecodable = undecodable_ids(with_progress(iter_jobs(conn, table), on_rows), decode)
    except sqlite3.Error as exc:
        out.integrity = f"unreadable: {exc}"
    finally:
        conn.close()
    return out


def manifest_record(path: Path) -> dict[str, Any] | None:
    return records_by_file(read_records(path.parent)).get(path.name)


def verify_backup(path: str | Path) -> VerifyResult:
    """Check a backup file now: its SHA-256 against the manifest, then a full read
    (SQLite integrity check / pg_restore / a full parse of a MySQL dump), row counts against the manifest, decoding."""
    path = Path(path)
    if not path.is_file():
        return VerifyResult(
            path, False, None, None, None, "missing", problems=("file not found",), message=f"{path}: not found"
        )
    record = manifest_record(path)
    expected_sha = record.get("sha256") if record else None
    try:
        sha = sha256_file(path)
    except OSError as exc:
        return VerifyResult(
            path, False, None, expected_sha, None, f"unreadable: {exc.strerror}", message=f"{path.name}: unreadable"
        )
    hash_ok = None if expected_sha is None else sha == expected_sha
    table = (record or {}).get("table") or DEFAULT_TABLE
    expected_rows = (record or {}).get("rows")
    parsed = parse_name(path.name)
    kind = (record or {}).get("kind")
    if (parsed and parsed.ext == "mysqldump") or kind == "mysql":
        from schedtui.core.backup.mysql import inspect_dump as inspect_mysql

        ins = inspect_mysql(path, table, (record or {}).get("schema"), expected_rows)
    elif (parsed and parsed.ext == "pgdump") or kind == "postgresql":
        from schedtui.core.backup.postgres import inspect_dump

        ins = inspect_dump(path, table, (record or {}).get("schema"), expected_rows)
    else:
        ins = inspect_sqlite(path, table, expected_rows)
    problems = list(ins.problems)
    problems_note = "no manifest record: hash not compared"
    if hash_ok is False:
        problems.insert(0, "SHA-256 differs from the manifest: the file changed after it was written")
    ok = ins.ok and hash_ok is not False
    if not ok:
        first = problems[0] if problems else f"integrity: {ins.integrity}"
        message = f"{path.name}: FAILED: {first}"
    else:
        message = f"{path.name}: ok" + ("" if hash_ok else f" ({problems_note})")
    return VerifyResult(
        path=path,
        ok=ok,
        sha256=sha,
        expected_sha256=expected_sha,
        hash_ok=hash_ok,
        integrity=ins.integrity,
        rows=dict(ins.rows),
        undecodable=ins.undecodable,
        decoded=ins.decoded,
        problems=tuple(problems),
        message=message,
    )
