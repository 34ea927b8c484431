"""Restoring a backup: verify first, refuse while a scheduler is alive, keep the old one."""

from __future__ import annotations

import os
import shutil
import stat
import time
from pathlib import Path

from schedtui.core.atomicfile import fsync_dir
from schedtui.core.backup import fsutil
from schedtui.core.backup.manifest import append_record
from schedtui.core.backup.results import RestoreResult, VerifyResult, kind_of_ext
from schedtui.core.backup.service import backup_kind, create_backup
from schedtui.core.backup.verify import verify_backup
from schedtui.core.backup.writers import DEFAULT_WATCH_S, detect_writers
from schedtui.core.clock import Clock, system_clock
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target

_STAMP = "%Y%m%dT%H%M%SZ"


def running_scheduler(target: Target, clock: Clock) -> str | None:
    """A description of a fresh heartbeat in the target database, or None.

    Needs the companion's tables; without them there is nothing to go by and the answer
    is None (``detect_writers`` then looks for other signs of a live scheduler).
    """
    from schedtui.core.heartbeat import read_heartbeats
    from schedtui.core.store.db import read_engine

    if backup_kind(target) == "sqlite":
        from schedtui.core.backup.sqlite import sqlite_path

        if not sqlite_path(target).exists():
            return None
    try:
        engine = read_engine(target)
    except SchedtuiError:
        return None
    try:
        beats = read_heartbeats(engine, schema=target.schema)
    except Exception:  # no companion tables (or unreadable ones): no heartbeat to go by
        return None
    finally:
        engine.dispose()
    now = clock()
    for beat in beats:
        if beat.is_fresh(now):
            who = " ".join(str(v) for v in (beat.name or beat.scheduler_id, beat.host, beat.pid) if v)
            when = f", last heartbeat {beat.last_seen.isoformat()}" if beat.last_seen else ""
            return f"scheduler {who or '(unnamed)'}{when}"
    return None


def check_restorable(path: Path, force: bool) -> VerifyResult:
    result = verify_backup(path)
    if result.integrity == "missing":
        raise SchedtuiError(f"backup not found: {path}", ErrorKind.CONFIG)
    if not result.ok:
        raise SchedtuiError(f"not restoring {path.name}: {result.message.split(': ', 1)[-1]}", ErrorKind.STATE)
    if result.hash_ok is None and not force:
        raise SchedtuiError(
            f"not restoring {path.name}: the manifest beside it has no record of it, so its SHA-256 "
            "cannot be checked (pass --force to restore it anyway)",
            ErrorKind.STATE,
        )
    return result


def restore_backup(
    target: Target,
    path: str | Path,
    *,
    force: bool = False,
    clock: Clock = system_clock,
    watch: float = DEFAULT_WATCH_S,
) -> RestoreResult:
    """Replace the target database with the backup at ``path``.

    Verifies the backup (hash and integrity) first; refuses unless ``force`` while a
    scheduler may be running: a fresh heartbeat, other processes with the SQLite file
    open, other PostgreSQL or MySQL sessions on the database, or changes to the store during
    ``watch`` seconds (see ``writers.detect_writers``); keeps the current database (SQLite: moved aside
    with its -wal and -shm; PostgreSQL, MySQL: a verified dump in the default backup folder).
    Confirmation is the caller's job. Refused for an APScheduler 4 store (read-only).
    """
    from schedtui.core.store.db import refuse_aps4_write

    refuse_aps4_write(target)
    started = time.monotonic()
    path = Path(path).expanduser().resolve()
    kind = backup_kind(target)
    ext_kind = kind_of_ext(path.suffix.lstrip("."))
    if ext_kind != kind:
        raise SchedtuiError(f"{path.name} is a {ext_kind} backup; the target is a {kind} database", ErrorKind.CONFIG)
    checked = check_restorable(path, force)
    notes: list[str] = []
    if checked.hash_ok is None:
        notes.append("no manifest record: hash not compared (--force)")
    report = detect_writers(target, running_scheduler(target, clock), watch)
    if report.found and not force:
        raise SchedtuiError(
            f"refusing to restore while a scheduler is running or may be: {report.summary()}. Stop it first, "
            "or pass --force (and restart it right after the restore)",
            ErrorKind.STATE,
        )
    if report.found:
        notes.append(
            f"restored while a scheduler may be running ({report.summary()}) because of --force: restart that "
            "scheduler now, it still uses the database it had open"
        )
    elif force:
        notes.append("restored with --force: a scheduler running on this database must be restarted now")
    notes += [f"not checked: {u}" for u in report.unchecked]
    if kind == "sqlite":
        kept = _restore_sqlite(target, path, checked, clock)
    else:
        kept = _restore_server(target, path, clock, kind)
    duration = time.monotonic() - started
    total = sum(checked.rows.values())
    msg = f"restored {path.name} into {target.safe_url}: {total} rows"
    if kept:
        msg += f"; previous database kept as {kept[0]}"
    try:
        with fsutil.folder_lock(path.parent):
            append_record(
                path.parent,
                {
                    "event": "restore",
                    "status": "restored",
                    "file": path.name,
                    "target": target.safe_url,
                    "at": clock().isoformat(),
                    "forced": force,
                    "kept": [str(k) for k in kept],
                },
            )
    except OSError:
        notes.append("could not note the restore in the manifest")
    except SchedtuiError as exc:
        notes.append(f"could not note the restore in the manifest: {exc.message}")
    return RestoreResult(
        backup=path,
        target=target.safe_url,
        kept=kept,
        rows=dict(checked.rows),
        undecodable=checked.undecodable,
        duration_s=duration,
        forced=force,
        message=msg,
        notes=tuple(notes),
    )


def _restore_sqlite(target: Target, path: Path, checked: VerifyResult, clock: Clock) -> tuple[Path, ...]:
    from schedtui.core.backup.sqlite import sqlite_path

    db = sqlite_path(target)
    folder = db.parent
    tmp = folder / f".schedtui-restore-{db.name}.tmp"
    try:
        _copy_into_new(path, tmp, like=db)
        if fsutil.sha256_file(tmp) != checked.sha256:
            raise SchedtuiError(f"the copy of {path.name} next to the database does not match it", ErrorKind.IO)
        kept = _move_aside(db, clock)
        try:
            os.replace(tmp, db)
        except OSError:
            _move_back(db, kept)
            raise
        fsync_dir(folder)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise fsutil.os_error(exc, f"restoring into {folder}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return kept


def _copy_into_new(src: Path, tmp: Path, like: Path) -> None:
    """Copy ``src`` into the new file ``tmp``, fsynced: created exclusively (never through
    a planted link, never into an existing file), with the mode and owner of ``like`` (the
    database it replaces), so the scheduler can still write it after a restore run as root."""
    tmp.unlink(missing_ok=True)  # a leftover of an interrupted restore; a link is removed, not followed
    try:
        st: os.stat_result | None = os.stat(like)
    except FileNotFoundError:
        st = None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        with open(src, "rb") as fin, os.fdopen(fd, "wb", closefd=False) as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
        if st is not None:
            if hasattr(os, "geteuid") and os.geteuid() == 0 and st.st_uid != 0:
                os.fchown(fd, st.st_uid, st.st_gid)
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
        else:
            os.fchmod(fd, 0o644)
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_aside(db: Path, clock: Clock) -> tuple[Path, ...]:
    """Move the database and its -wal / -shm aside together (names stay paired, so the
    set opens as it was); returns the moved paths, the database first."""
    if not db.exists():
        return ()
    stamp = clock().strftime(_STAMP)
    base = db.with_name(f"{db.name}.pre-restore-{stamp}")
    n = 2
    while base.exists():
        base = db.with_name(f"{db.name}.pre-restore-{stamp}-{n}")
        n += 1
    moved = []
    for suffix in ("", "-wal", "-shm", "-journal"):
        src = Path(f"{db}{suffix}")
        if src.exists():
            dst = Path(f"{base}{suffix}")
            os.replace(src, dst)
            moved.append(dst)
    return tuple(moved)


def _move_back(db: Path, kept: tuple[Path, ...]) -> None:
    """Undo ``_move_aside`` after a failed replace (best effort)."""
    if not kept:
        return
    base = str(kept[0])
    for moved in kept:
        suffix = str(moved)[len(base) :]
        try:
            os.replace(moved, Path(f"{db}{suffix}"))
        except OSError:
            pass


def _restore_server(target: Target, path: Path, clock: Clock, kind: str) -> tuple[Path, ...]:
    """PostgreSQL (``pg_restore``) or MySQL/MariaDB (the ``mariadb`` client)."""
    if kind == "mysql":
        from schedtui.core.backup.mysql import restore_dump
    else:
        from schedtui.core.backup.postgres import restore_dump

    # Keep the current database: a verified dump beside the backup (no rotation now).
    before = create_backup(target, path.parent, keep=0, clock=clock)
    restore_dump(target, path)
    return (before.path,)
