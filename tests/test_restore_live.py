"""Restore refuses a live scheduler it cannot rule out, even without a companion.

Every scheduler here is a real APScheduler BackgroundScheduler in a child process
(``test_backup_helpers.py idle|writer``), on a SQLite file or a PostgreSQL or MariaDB database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from schedtui.core.backup import create_backup, restore_backup
from schedtui.core.backup.writers import detect_writers, open_holders, sqlite_changes
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target
from test_backup_helpers import make_store

HELPERS = Path(__file__).with_name("test_backup_helpers.py")


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, "the scheduler process died"
        assert time.monotonic() < deadline, "the scheduler did not start"
        time.sleep(0.02)


@contextmanager
def scheduler(mode: str, url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    stop, ready = tmp_path / f"{mode}.stop", tmp_path / f"{mode}.ready"
    proc = subprocess.Popen([sys.executable, str(HELPERS), mode, url, str(stop), str(ready)])
    try:
        _wait_for(ready, proc)
        yield proc
    finally:
        stop.write_text("stop")
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schedtui", *args], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


def _sqlite_store(tmp_path: Path) -> tuple[Path, str, Path]:
    db = tmp_path / "jobs.sqlite"
    url = f"sqlite:///{db}"
    make_store(url, 4)
    return db, url, create_backup(Target(url), tmp_path / "bk").path


def test_cli_refuses_an_idle_scheduler_without_heartbeat_then_forced_says_restart(tmp_path: Path) -> None:
    """The reported failure: no companion, a scheduler whose next job is years away (it
    writes nothing during the watch), `restore --yes` exited 0 and broke it."""
    db, url, backup = _sqlite_store(tmp_path)
    with scheduler("idle", url, tmp_path) as proc:
        before = db.read_bytes()
        out = _cli("restore", str(backup), "--url", url, "--yes", "--watch", "0.5")
        assert out.returncode == 1, out.stdout + out.stderr
        assert out.stderr.count("\n") == 1
        assert f"pid {proc.pid} (" in out.stderr and "jobs.sqlite" in out.stderr and "--force" in out.stderr
        assert "test_backup_helpers.py idle" in out.stderr  # its command line
        assert db.read_bytes() == before
        forced = _cli("restore", str(backup), "--url", url, "--yes", "--force", "--watch", "0.5")
        assert forced.returncode == 0, forced.stderr
        assert "restart that scheduler" in forced.stdout and f"pid {proc.pid}" in forced.stdout


def test_a_writing_scheduler_is_seen_by_its_writes(tmp_path: Path) -> None:
    db, url, backup = _sqlite_store(tmp_path)
    with scheduler("writer", url, tmp_path):
        changes, watched = sqlite_changes(db, 3.0)
        assert changes >= 1 and watched < 3.0  # stops at the first change
        holders, _ = open_holders(db)
        assert holders
        with pytest.raises(SchedtuiError) as err:
            restore_backup(Target(url), backup, watch=1.0)
        assert err.value.kind is ErrorKind.STATE


def test_nothing_running_restores_after_watching(tmp_path: Path) -> None:
    db, url, backup = _sqlite_store(tmp_path)
    report = detect_writers(Target(url), None, 0.3)
    assert not report.found and report.watched_s >= 0.3
    assert restore_backup(Target(url), backup, watch=0.3).rows == {"apscheduler_jobs": 4}


def test_open_holders_without_proc_says_it_could_not_look(tmp_path: Path) -> None:
    holders, note = open_holders(tmp_path / "jobs.sqlite", proc=tmp_path / "no-proc")
    assert holders == () and note is not None and "not checked" in note


def test_server_refuses_a_scheduler_session_then_forced_says_restart(server_url: str, tmp_path: Path) -> None:
    """PostgreSQL (pg_stat_activity) and MariaDB (information_schema.processlist)."""
    make_store(server_url, 3)
    target = Target(server_url)
    backup = create_backup(target, tmp_path / "bk").path
    dbname = server_url.rsplit("/", 1)[1]
    mysql = server_url.startswith("mysql")
    with scheduler("idle", server_url, tmp_path):
        with pytest.raises(SchedtuiError) as err:
            restore_backup(target, backup, watch=0.5)
        assert err.value.kind is ErrorKind.STATE
        assert f"1 other session on database {dbname}: {'id' if mysql else 'pid'} " in err.value.message
        result = restore_backup(target, backup, watch=0.5, force=True)
        assert any("restart that scheduler" in n for n in result.notes)


def test_server_nothing_running_watches_the_rows(server_url: str) -> None:
    make_store(server_url, 3)
    report = detect_writers(Target(server_url), None, 0.3)
    assert not report.found and report.watched_s >= 0.3


def test_server_a_writing_scheduler_is_seen(server_url: str, tmp_path: Path) -> None:
    """A scheduler rewriting its rows: its session is seen (and the backup taken meanwhile,
    one consistent snapshot, verifies)."""
    make_store(server_url, 3)
    target = Target(server_url)
    with scheduler("writer", server_url, tmp_path):
        result = create_backup(target, tmp_path / "bk")
        assert result.verified
        report = detect_writers(target, None, 1.0)
        assert report.found and report.evidence[0].kind == "session"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_our_own_handles_do_not_count(tmp_path: Path) -> None:
    db, url, _ = _sqlite_store(tmp_path)
    fd = os.open(db, os.O_RDONLY)
    try:
        assert open_holders(db)[0] == ()
    finally:
        os.close(fd)


def test_server_restore_into_a_database_whose_table_is_gone(server_url: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    make_store(server_url, 3)
    target = Target(server_url)
    backup = create_backup(target, tmp_path / "bk").path
    engine = sa.create_engine(server_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE apscheduler_jobs"))
    engine.dispose()
    assert restore_backup(target, backup, watch=0.3).rows
