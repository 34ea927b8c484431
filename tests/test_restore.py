"""Restoring SQLite backups: verification first, old database kept, heartbeat guard."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from schedtui.core.backup import create_backup, restore_backup
from schedtui.core.backup.manifest import manifest_path
from schedtui.core.clock import FixedClock, system_clock
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target
from test_backup_helpers import make_store


def _ids(path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return sorted(r[0] for r in conn.execute("SELECT id FROM apscheduler_jobs"))
    finally:
        conn.close()


def test_round_trip_keeps_db_wal_and_shm_together(tmp_path: Path, clock: FixedClock) -> None:
    db = tmp_path / "jobs.sqlite"
    url = f"sqlite:///{db}"
    make_store(url, 8, wal=True)
    original = _ids(db)
    backup = create_backup(Target(url), clock=clock)
    # Change the live database; a reader keeps the new rows in -wal (no checkpoint).
    keeper = sqlite3.connect(db)
    keeper.execute("PRAGMA wal_autocheckpoint=0")
    keeper.execute("SELECT * FROM sqlite_master").fetchall()
    try:
        make_store(url, 3, prefix="later", wal=True)
        assert Path(f"{db}-wal").stat().st_size > 0
        changed = _ids(db)
        clock.advance(minutes=5)
        result = restore_backup(Target(url), backup.path, clock=clock)
        kept_db = result.kept[0]
        assert kept_db.name == "jobs.sqlite.pre-restore-20260302T120500Z"
        assert sorted(p.name for p in result.kept) == sorted(kept_db.name + s for s in ("", "-wal", "-shm"))
        # The kept set opens with the rows that were only in its -wal.
        assert _ids(kept_db) == changed and len(changed) == 11
    finally:
        keeper.close()
    assert _ids(db) == original
    assert result.rows == {"apscheduler_jobs": 8}
    assert '"event": "restore"' in manifest_path(backup.path.parent).read_text()


def test_restore_refuses_a_file_without_manifest_record_unless_forced(tmp_path: Path, clock: FixedClock) -> None:
    db = tmp_path / "jobs.sqlite"
    url = f"sqlite:///{db}"
    make_store(url, 4)
    backup = create_backup(Target(url), tmp_path / "bk", clock=clock)
    stray = tmp_path / "elsewhere"
    stray.mkdir()
    moved = stray / backup.path.name
    os.replace(backup.path, moved)
    with pytest.raises(SchedtuiError) as err:
        restore_backup(Target(url), moved, clock=clock)
    assert err.value.kind is ErrorKind.STATE and "--force" in err.value.message
    result = restore_backup(Target(url), moved, force=True, clock=clock)
    assert any("hash not compared" in n for n in result.notes)


def _job_rows(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, next_run_time, job_state FROM apscheduler_jobs ORDER BY id").fetchall()


def test_restore_refuses_while_a_fresh_heartbeat_says_a_scheduler_runs(tmp_path: Path) -> None:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from schedtui.companion import attach
    from schedtui.core.heartbeat import read_heartbeats
    from schedtui.core.store.db import read_engine

    db = tmp_path / "jobs.sqlite"
    url = f"sqlite:///{db}"
    make_store(url, 4)
    target = Target(url)
    backup = create_backup(target, tmp_path / "bk")
    sched = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=url)}, timezone="UTC")
    comp = attach(sched, heartbeat_interval=1.0)
    sched.start(paused=True)  # alive (heartbeat) but not touching the jobs, which are all overdue
    try:
        engine = read_engine(target)
        import time

        deadline = time.monotonic() + 30
        while not any(b.is_fresh(system_clock()) for b in read_heartbeats(engine)):
            assert time.monotonic() < deadline, "no heartbeat written"
            time.sleep(0.05)
        engine.dispose()
        before = _job_rows(db)
        with pytest.raises(SchedtuiError) as err:
            restore_backup(target, backup.path)
        assert err.value.kind is ErrorKind.STATE and "scheduler is running" in err.value.message
        assert _job_rows(db) == before  # the heartbeat keeps writing; the jobs are untouched
    finally:
        sched.shutdown(wait=True)
        comp.close()


def test_cli_restore_needs_yes_without_a_terminal(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"
    url = f"sqlite:///{db}"
    make_store(url, 2)
    backup = create_backup(Target(url))
    out = subprocess.run(
        [sys.executable, "-m", "schedtui", "restore", str(backup.path), "--url", url],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2 and "--yes" in out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "schedtui", "restore", str(backup.path), "--url", url, "--yes"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"restored {backup.path.name}")
