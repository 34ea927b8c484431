"""Restoring a backup: verify first, refuse while a scheduler is alive, keep the old one."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from schedtui.core.backup import fsutil
from schedtui.core.backup.manifest import append_record
from schedtui.core.backup.results import RestoreResult, VerifyResult
from schedtui.core.backup.service import backup_kind, create_backup
from schedtui.core.backup.verify import verify_backup
from schedtui.core.clock import Clock, system_clock
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target

_STAMP = "%Y%m%dT%H%M%SZ"


def running_scheduler(target: Target, clock: Clock) -> str | None:
    """A description of a fresh heartbeat in the target database, or None.

    Needs the companion's tables; without them (or without the companion module) there
    is nothing to go by and the answer is None.
    """
    try:
        from schedtui.core.heartbeat import read_heartbeats
    except ImportError:
        return None
    if backup_kind(target) == "sqlite":
        from schedtui.core.backup.sqlite import sqlite_path

        if not sqlite_path(target).exists():
            return None
    from schedtui.core.db import read_engine

    try:
        engine = read_engine(target)
    except SchedtuiError:
        return None
    try:
        beats = read_heartbeats(engine, schema=target.schema)
    except Exception:
        return None
    finally:
        engine.dispose()
    now = clock()
    for beat in beats:
        try:
            fresh = beat.is_fresh(now)
        except Exception:
            continue
        if fresh:
            who = [str(v) for v in (beat.scheduler_id, beat.host, beat.pid) if v]
            seen = beat.last_seen
            when = f", last heartbeat {seen.isoformat()}" if seen is not None else ""
            return f"scheduler {' '.join(who) or '(unnamed)'}{when}"
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
    target: Target, path: str | Path, *, force: bool = False, clock: Clock = system_clock
) -> RestoreResult:
    """Replace the target database with the backup at ``path``.

    Verifies the backup (hash and integrity) first; refuses while a fresh heartbeat says a
    scheduler is running unless ``force``; keeps the current database (SQLite: moved aside
    with its -wal and -shm; PostgreSQL: a verified dump in the default backup folder).
    Confirmation is the caller's job.
    """
    started = time.monotonic()
    path = Path(path).expanduser().resolve()
    kind = backup_kind(target)
    ext_kind = "postgresql" if path.suffix == ".pgdump" else "sqlite"
    if ext_kind != kind:
        raise SchedtuiError(f"{path.name} is a {ext_kind} backup; the target is a {kind} database", ErrorKind.CONFIG)
    checked = check_restorable(path, force)
    notes: list[str] = []
    if checked.hash_ok is None:
        notes.append("no manifest record: hash not compared (--force)")
    alive = running_scheduler(target, clock)
    if alive and not force:
        raise SchedtuiError(
            f"refusing to restore while a scheduler is running ({alive}): stop it first, or pass --force",
            ErrorKind.STATE,
        )
    if alive:
        notes.append(f"restored while a scheduler was running ({alive}) because of --force")
    if kind == "sqlite":
        kept = _restore_sqlite(target, path, checked, clock)
    else:
        kept = _restore_postgres(target, path, clock)
    duration = time.monotonic() - started
    total = sum(checked.rows.values())
    msg = f"restored {path.name} into {target.safe_url}: {total} rows"
    if kept:
        msg += f"; previous database kept as {kept[0]}"
    try:
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
        shutil.copyfile(path, tmp)
        fsutil.fsync_file(tmp)
        if fsutil.sha256_file(tmp) != checked.sha256:
            raise SchedtuiError(f"the copy of {path.name} next to the database does not match it", ErrorKind.IO)
        kept = _move_aside(db, clock)
        try:
            os.replace(tmp, db)
        except OSError:
            _move_back(db, kept)
            raise
        fsutil.fsync_dir(folder)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise fsutil.os_error(exc, f"restoring into {folder}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return kept


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


def _restore_postgres(target: Target, path: Path, clock: Clock) -> tuple[Path, ...]:
    from schedtui.core.backup.postgres import restore_dump

    # Keep the current database: a verified dump beside the backup (no rotation now).
    before = create_backup(target, path.parent, keep=0, clock=clock)
    restore_dump(target, path)
    return (before.path,)
