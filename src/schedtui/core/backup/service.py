"""``create_backup``, ``list_backups``, ``default_backup_dir``: one action that either
produces a verified, restorable file or says exactly why not."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from schedtui.core.atomicfile import fsync_dir
from schedtui.core.backup import fsutil
from schedtui.core.backup.manifest import MANIFEST_NAME, append_record, compact, read_records, records_by_file
from schedtui.core.backup.names import EXTENSIONS, is_tmp, parse_name, safe_stem, tmp_name, unused_name
from schedtui.core.backup.results import KIND_EXT, BackupEntry, BackupKind, BackupResult, kind_of_ext
from schedtui.core.backup.rotation import DEFAULT_KEEP, Policy, rotate
from schedtui.core.backup.verify import Inspection, verify_backup
from schedtui.core.clock import Clock, system_clock
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target

log = logging.getLogger("schedtui.backup")
log.addHandler(logging.NullHandler())  # a library: the application decides where logs go

Progress = Callable[[float, str], None]
#: Environment variable overriding the default backup folder.
DIR_ENV = "SCHEDTUI_BACKUP_DIR"
#: Test hook: ``<point>:<marker file>`` makes a backup write the marker and wait (to be
#: killed) at ``point`` (``before-rename``). Never set it in production.
HOOK_ENV = "SCHEDTUI_BACKUP_TEST_HOOK"


def backup_kind(target: Target) -> BackupKind:
    scheme = target.url.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    if scheme in ("mysql", "mariadb"):
        return "mysql"
    raise SchedtuiError(
        f"backups support SQLite, PostgreSQL and MySQL/MariaDB job stores, not {scheme} (use your database's own tools)",
        ErrorKind.CONFIG,
    )


def default_backup_dir(target: Target) -> Path:
    """``$SCHEDTUI_BACKUP_DIR``, else ``backups/`` next to the SQLite file, else
    ``$XDG_DATA_HOME/schedtui/backups/<host>_<port>_<database>`` for PostgreSQL and MySQL."""
    env = os.environ.get(DIR_ENV)
    if env:
        return Path(env).expanduser()
    if backup_kind(target) == "sqlite":
        from schedtui.core.backup.sqlite import sqlite_path

        return sqlite_path(target).parent / "backups"
    if backup_kind(target) == "mysql":
        from schedtui.core.backup.mysql import default_dir_name
    else:
        from schedtui.core.backup.postgres import default_dir_name

    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "schedtui" / "backups" / default_dir_name(target)


def _stem(target: Target, kind: BackupKind) -> str:
    if kind == "sqlite":
        from schedtui.core.backup.sqlite import sqlite_path

        return safe_stem(sqlite_path(target).stem)
    from sqlalchemy.engine import make_url

    if kind == "mysql":
        from schedtui.core.backup.mysql import database_name

        return safe_stem(database_name(target))
    return safe_stem(make_url(target.url).database or "postgres")


def database_stem(target: Target) -> str | None:
    """The stem ``target``'s backups are named with (``jobs`` for ``jobs.sqlite``); None when
    it cannot be told (a URL that is no database's)."""
    from schedtui.core.store.place import plain_path

    plain = plain_path(target)  # without SQLAlchemy's URL parser (check's quick path)
    if plain is not None:
        return safe_stem(plain.stem)
    try:
        return _stem(target, backup_kind(target))
    except Exception:
        return None


def attempt_stem(record: dict[str, Any]) -> str | None:
    """The database stem of a manifest record: from its file name, else (a failed attempt)
    from its source URL; None when neither says."""
    parsed = parse_name(str(record.get("file") or ""))
    if parsed is not None:
        return parsed.stem
    source = record.get("source")
    return database_stem(Target(url=source)) if isinstance(source, str) else None


def clean_leftovers(directory: Path) -> list[Path]:
    """Delete temporary files of interrupted runs (call while holding the folder lock)."""
    removed = []
    for name in os.listdir(directory):
        if is_tmp(name):
            try:
                os.unlink(directory / name)
                removed.append(directory / name)
            except OSError:
                pass
    return removed


def _hook(point: str) -> None:
    spec = os.environ.get(HOOK_ENV)
    if not spec or not spec.startswith(point + ":"):
        return
    Path(spec.split(":", 1)[1]).write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait to be killed by the test
        time.sleep(0.01)


def _check_space(directory: Path, needed: int) -> None:
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        return
    if needed and free < needed * 1.1 + (1 << 20):
        raise SchedtuiError(
            f"no space for the backup in {directory}: {free >> 20} MiB free, about {needed >> 20} MiB needed",
            ErrorKind.IO,
        )


def create_backup(
    target: Target,
    directory: str | Path | None = None,
    *,
    keep: int | None = None,
    daily: int = 0,
    weekly: int = 0,
    monthly: int = 0,
    clock: Clock = system_clock,
    progress: Progress | None = None,
    lock_timeout: float = 30.0,
) -> BackupResult:
    """Write a verified backup of ``target`` into ``directory`` and rotate older ones.

    ``keep`` newest backups are kept (default 7, 0 keeps all), plus the optional tiers.
    Raises ``SchedtuiError`` with one clear line when no verified file could be made; the
    failed attempt is recorded in the manifest when the folder is writable.
    """
    started = time.monotonic()
    kind = backup_kind(target)
    report = progress or (lambda _f, _m: None)
    folder = Path(directory).expanduser() if directory else default_backup_dir(target)
    folder = fsutil.ensure_dir(folder.resolve())
    stem = _stem(target, kind)
    ext = KIND_EXT[kind]
    policy = Policy(DEFAULT_KEEP if keep is None else keep, daily, weekly, monthly)
    base: dict[str, Any] = {"event": "backup", "kind": kind, "source": target.safe_url, "table": target.table}
    if target.schema:
        base["schema"] = target.schema
    report(0.0, "starting")
    with fsutil.folder_lock(folder):
        when = clock()
        try:
            clean_leftovers(folder)
            fsutil.check_entries(folder, _our_names(folder))
            name = unused_name(folder, stem, when, ext)
        except OSError as exc:
            raise fsutil.os_error(exc, f"reading the backup folder {folder}") from None
        final, tmp = folder / name, folder / tmp_name(name)
        try:
            _create_empty(tmp)
            rows, extra = _write_copy(target, kind, tmp, folder, lock_timeout, report)
            fsutil.fsync_file(tmp)
            report(0.6, "verifying")
            ins = _inspect(tmp, kind, target, rows, report)
            if not ins.ok:
                problem = ins.problems[0] if ins.problems else f"integrity check: {ins.integrity}"
                raise SchedtuiError(f"the copy failed verification: {problem}", ErrorKind.IO)
            report(0.9, "hashing")
            sha = fsutil.sha256_file(tmp)
            size = tmp.stat().st_size
            _hook("before-rename")
            fsutil.publish(tmp, final)
            fsync_dir(folder)
        except BaseException as exc:
            from schedtui.core.backup.sqlite import remove_with_sidecars

            remove_with_sidecars(tmp)
            err = exc if isinstance(exc, SchedtuiError) else _as_error(exc)
            _record_failure(folder, base, when, started, err)
            if err is exc or not isinstance(exc, Exception):
                raise
            raise err from None
        duration = time.monotonic() - started
        record = {
            **base,
            **extra,
            "status": "ok",
            "file": name,
            "created_at": when.isoformat(),
            "size": size,
            "sha256": sha,
            "rows": rows,
            "undecodable": list(ins.undecodable),
            "verification": {"integrity": ins.integrity, "rows_match": True, "decoded": ins.decoded},
            "verified": True,
            "duration_s": round(duration, 3),
        }
        try:
            append_record(folder, record)
        except OSError as exc:  # a backup without its record cannot be checked later
            final.unlink(missing_ok=True)
            err = fsutil.os_error(exc, f"recording the backup in the manifest of {folder}")
            _record_failure(folder, base, when, started, err)
            raise err from None
        report(0.95, "rotating")
        rotated = rotate(folder, stem, ext, policy, _verified_names(folder), protect=(name,))
        if rotated:
            try:
                compact(folder, set(os.listdir(folder)))
            except OSError:
                log.warning("could not compact the manifest in %s", folder)
    total = sum(rows.values())
    note = f", {len(ins.undecodable)} undecodable job(s) as in the source" if ins.undecodable else ""
    note += "" if ins.decoded else " (job states not decoded: decoder unavailable)"
    message = f"backup {final} verified: {size} bytes, {total} rows{note}, {duration:.2f} s"
    if rotated:
        message += f"; rotated {len(rotated)} old backup(s)"
    log.info("%s", message)
    report(1.0, "done")
    return BackupResult(
        path=final,
        size=size,
        sha256=sha,
        verified=True,
        rows=rows,
        undecodable=ins.undecodable,
        duration_s=duration,
        rotated=rotated,
        source=target.safe_url,
        message=message,
        kind=kind,
        created_at=when,
    )


def _our_names(folder: Path) -> list[str]:
    """The entries of ``folder`` that schedtui reads or writes: the manifest, backups and
    temporary files (each must be a regular file of the running user's own)."""
    names = os.listdir(folder)
    return [n for n in names if n == MANIFEST_NAME or parse_name(n) is not None or is_tmp(n)]


def _create_empty(tmp: Path) -> None:
    """Create the temporary file ourselves (never through a link, never an existing file),
    so the copy and ``pg_dump`` write into a file that is ours."""
    os.close(fsutil.open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL))


def _as_error(exc: BaseException) -> SchedtuiError:
    if isinstance(exc, OSError):
        return fsutil.os_error(exc, "writing the backup")
    if isinstance(exc, KeyboardInterrupt):
        return SchedtuiError("backup interrupted", ErrorKind.IO)
    return SchedtuiError(f"unexpected {type(exc).__name__}: {exc}", ErrorKind.INTERNAL)


def _record_failure(folder: Path, base: dict[str, Any], when: datetime, started: float, err: SchedtuiError) -> None:
    try:
        append_record(
            folder,
            {
                **base,
                "status": "failed",
                "created_at": when.isoformat(),
                "error": err.message,
                "duration_s": round(time.monotonic() - started, 3),
            },
        )
    except OSError:
        pass
    log.error("backup failed: %s", err.message)


def _probe(target: Target) -> None:
    """The file exists and is a database whose jobs table is readable (``probe_jobs_table``)."""
    from schedtui.core.store.db import probe_jobs_table, read_engine

    engine = read_engine(target)
    try:
        probe_jobs_table(engine, target)
    finally:
        engine.dispose()


def _write_copy(
    target: Target, kind: BackupKind, tmp: Path, folder: Path, lock_timeout: float, report: Progress
) -> tuple[dict[str, int], dict[str, Any]]:
    if kind == "sqlite":
        _probe(target)  # a broken file fails with the message every command gives (and is recorded)
        from schedtui.core.backup.sqlite import copy_database, source_size, sqlite_path

        src = sqlite_path(target)
        _check_space(folder, source_size(src))
        report(0.05, f"copying {src.name}")
        return copy_database(src, tmp, lock_timeout=lock_timeout, progress=report), {}
    if kind == "mysql":
        from schedtui.core.backup.mysql import dump_database as dump_mysql

        report(0.05, "checking the dump tool")
        return dump_mysql(target, tmp, progress=report)
    from schedtui.core.backup.postgres import dump_database

    report(0.05, "checking pg_dump")
    return dump_database(target, tmp, progress=report)


def _inspect(path: Path, kind: BackupKind, target: Target, rows: dict[str, int], report: Progress) -> Inspection:
    jobs = next((n for k, n in rows.items() if k == target.table or k.endswith(f".{target.table}")), 0)

    def on_rows(done: int) -> None:
        report(round(0.6 + 0.3 * min(1.0, done / max(jobs, 1)), 4), f"decoded {done}/{jobs} jobs")

    if kind == "sqlite":
        from schedtui.core.backup.verify import inspect_sqlite

        return inspect_sqlite(path, target.table, rows, on_rows)
    if kind == "mysql":
        from schedtui.core.backup.mysql import inspect_dump as inspect_mysql

        return inspect_mysql(path, target.table, target.schema, rows, on_rows)
    from schedtui.core.backup.postgres import inspect_dump

    return inspect_dump(path, target.table, target.schema, rows, on_rows)


def _verified_names(folder: Path) -> set[str]:
    return {n for n, r in records_by_file(read_records(folder)).items() if r.get("verified")}


def list_backups(directory: str | Path, *, verify: bool = False) -> tuple[BackupEntry, ...]:
    """The backups in ``directory``, newest first, described by their names and the
    manifest; with ``verify`` each is checked now (hash, integrity, rows, decoding)."""
    folder = Path(directory).expanduser()
    if not folder.is_dir():
        return ()
    records = records_by_file(read_records(folder))
    entries = []
    for name in os.listdir(folder):
        parsed = parse_name(name)
        if parsed is None or parsed.ext not in EXTENSIONS:
            continue
        path = folder / name
        try:
            st = path.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):  # a planted link or a folder: not a backup of ours
            continue
        size = st.st_size
        rec = records.get(name, {})
        entries.append(
            (
                parsed,
                BackupEntry(
                    path=path,
                    name=name,
                    created_at=parsed.created_at,
                    size=size,
                    kind=kind_of_ext(parsed.ext),
                    stem=parsed.stem,
                    sha256=rec.get("sha256"),
                    verified=bool(rec.get("verified")),
                    source=rec.get("source"),
                    rows=dict(rec.get("rows") or {}),
                    undecodable=tuple(rec.get("undecodable") or ()),
                    duration_s=rec.get("duration_s"),
                    check=verify_backup(path) if verify else None,
                ),
            )
        )
    entries.sort(key=lambda pe: pe[0], reverse=True)
    return tuple(e for _, e in entries)


def last_attempt(directory: str | Path, stem: str | None = None) -> dict[str, Any] | None:
    """The manifest's newest backup attempt (successful or failed), if any; with ``stem``,
    of that database (or of one the record does not name)."""
    attempts = [
        r
        for r in read_records(Path(directory))
        if r.get("event", "backup") == "backup" and (stem is None or attempt_stem(r) in (None, stem))
    ]
    return attempts[-1] if attempts else None
