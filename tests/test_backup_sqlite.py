"""SQLite backups against real files written by real APScheduler."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from schedtui.core.backup import create_backup, list_backups, verify_backup
from schedtui.core.backup.manifest import read_records
from schedtui.core.clock import FixedClock
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target
from test_backup_helpers import make_store

HELPERS = Path(__file__).with_name("test_backup_helpers.py")
ROOT = Path(__file__).resolve().parent.parent


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def _count(path: Path, table: str = "apscheduler_jobs") -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def _wait_for(pred, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    db = tmp_path / "jobs.sqlite"
    make_store(_url(db), 12)
    return db


def test_wal_rows_are_in_the_backup_but_not_in_a_file_copy(tmp_path: Path, clock: FixedClock) -> None:
    db = tmp_path / "wal.sqlite"
    keeper = sqlite3.connect(db)  # holds the database open: no checkpoint on close
    keeper.execute("PRAGMA journal_mode=WAL")
    keeper.execute("PRAGMA wal_autocheckpoint=0")
    keeper.execute("SELECT * FROM sqlite_master").fetchall()  # opens the WAL index
    try:
        make_store(_url(db), 30, wal=True)
        assert Path(f"{db}-wal").stat().st_size > 0, "the committed rows must still be in the WAL"
        # The naive way: copy the database file alone.
        naive = tmp_path / "naive-copy.sqlite"
        shutil.copyfile(db, naive)
        conn = sqlite3.connect(naive)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        conn.close()
        assert "apscheduler_jobs" not in tables  # the copy has no jobs table at all

        result = create_backup(Target(_url(db)), tmp_path / "bk", clock=clock)
    finally:
        keeper.close()
    assert result.verified and result.rows == {"apscheduler_jobs": 30}
    assert _count(result.path) == 30
    assert not Path(f"{result.path}-wal").exists()
    conn = sqlite3.connect(f"file:{result.path}?mode=ro", uri=True)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
    conn.close()


def test_backup_result_manifest_and_names(store: Path, tmp_path: Path, clock: FixedClock) -> None:
    folder = tmp_path / "bk"
    target = Target(f"sqlite:///{store}")
    seen = []
    a = create_backup(target, folder, clock=clock, progress=lambda f, m: seen.append(f))
    b = create_backup(target, folder, clock=clock)  # same second: must not collide
    assert a.path.name == "jobs-20260302T120000Z.sqlite"
    assert b.path.name == "jobs-20260302T120000Z-2.sqlite"
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    assert a.rows == {"apscheduler_jobs": 12} and a.size == a.path.stat().st_size
    recs = [r for r in read_records(folder) if r.get("status") == "ok"]
    assert [r["file"] for r in recs] == [a.path.name, b.path.name]
    rec = recs[0]
    assert rec["sha256"] == a.sha256 and rec["size"] == a.size and rec["rows"] == {"apscheduler_jobs": 12}
    assert rec["created_at"] == "2026-03-02T12:00:00+00:00" and rec["verified"] is True
    assert rec["source"] == target.safe_url and "duration_s" in rec
    entries = list_backups(folder, verify=True)
    assert [e.name for e in entries] == [b.path.name, a.path.name]
    assert all(e.ok and e.check and e.check.hash_ok for e in entries)
    assert not [n for n in os.listdir(folder) if n.endswith(".tmp")]


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
def test_backup_while_a_real_scheduler_writes(tmp_path: Path, wal: bool) -> None:
    db = tmp_path / "busy.sqlite"
    make_store(_url(db), 50, wal=wal)
    stop, ready = tmp_path / "stop", tmp_path / "ready"
    writer = subprocess.Popen([sys.executable, str(HELPERS), "writer", _url(db), str(stop), str(ready)])
    try:
        _wait_for(ready.exists, what="the scheduler to start")
        before = db.stat().st_mtime_ns
        steps: list[float] = []
        results = [
            create_backup(Target(_url(db)), tmp_path / "bk", keep=0, progress=lambda f, m: steps.append(f))
            for _ in range(5)
        ]
        _wait_for(lambda: db.stat().st_mtime_ns != before, what="the scheduler to write")
    finally:
        stop.write_text("stop")
        writer.wait(timeout=60)
    assert writer.returncode == 0
    for r in results:
        assert r.verified
        assert r.rows["apscheduler_jobs"] >= 50
        assert verify_backup(r.path).ok


def _kill_mid_backup(db: Path, folder: Path, marker: Path) -> None:
    code = (
        "import sys; from schedtui.core.backup import create_backup; from schedtui.core.model import Target; "
        f"create_backup(Target({_url(db)!r}), {str(folder)!r})"
    )
    env = dict(os.environ, SCHEDTUI_BACKUP_TEST_HOOK=f"before-rename:{marker}")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        _wait_for(marker.exists, what="the backup to reach the rename")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_killed_backup_leaves_no_partial_file_and_next_run_cleans_up(store: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bk"
    target = Target(_url(store))
    old = create_backup(target, folder, keep=0)
    old_bytes = old.path.read_bytes()
    _kill_mid_backup(store, folder, tmp_path / "marker")
    names = os.listdir(folder)
    published = [n for n in names if n.endswith(".sqlite") and not n.startswith(".")]
    assert published == [old.path.name]  # nothing new in place
    assert [n for n in names if n.endswith(".tmp")], "the killed run's tmp file is left behind"
    assert old.path.read_bytes() == old_bytes and verify_backup(old.path).ok
    new = create_backup(target, folder, keep=0)
    names = os.listdir(folder)
    assert not [n for n in names if n.endswith(".tmp") or n.endswith("-journal")]
    assert sorted(n for n in names if n.endswith(".sqlite")) == sorted([old.path.name, new.path.name])
    assert all(e.ok for e in list_backups(folder, verify=True))


def _flip_bit_inside_a_row(path: Path, needle: bytes) -> None:
    data = bytearray(path.read_bytes())
    at = data.find(needle)
    assert at > 0, "row content not found in the file"
    data[at] ^= 0x20  # 'I' -> 'i': still a valid record, integrity_check cannot tell
    path.write_bytes(bytes(data))


def test_flipped_bit_is_caught_though_integrity_check_passes(store: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bk"
    result = create_backup(Target(_url(store)), folder)
    _flip_bit_inside_a_row(result.path, b"Interval 1")
    conn = sqlite3.connect(f"file:{result.path}?mode=ro", uri=True)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    check = verify_backup(result.path)
    assert not check.ok and check.hash_ok is False and check.integrity == "ok"
    assert "SHA-256" in check.message

    env = dict(os.environ, NO_COLOR="1")
    cli = [sys.executable, "-m", "schedtui"]
    out = subprocess.run([*cli, "backups", "--dir", str(folder), "--verify"], capture_output=True, text=True, env=env)
    assert out.returncode == 1 and "FAILED" in out.stdout, out.stdout + out.stderr
    before = store.read_bytes()
    out = subprocess.run(
        [*cli, "restore", str(result.path), "--url", _url(store), "--yes"], capture_output=True, text=True, env=env
    )
    assert out.returncode != 0 and "SHA-256" in out.stderr and "Traceback" not in out.stderr
    assert store.read_bytes() == before


def test_locked_database_fails_with_one_clear_line_and_is_recorded(tmp_path: Path, clock: FixedClock) -> None:
    db = tmp_path / "locked.sqlite"
    make_store(_url(db), 3)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(SchedtuiError) as err:
            create_backup(Target(_url(db)), tmp_path / "bk", clock=clock, lock_timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert err.value.kind is ErrorKind.LOCKED
    assert "locked" in err.value.message and "\n" not in err.value.message
    last = read_records(tmp_path / "bk")[-1]
    assert last["status"] == "failed" and "locked" in last["error"]
    assert not [n for n in os.listdir(tmp_path / "bk") if n.endswith((".sqlite", ".tmp"))]


def test_missing_database_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "nope.sqlite"
    with pytest.raises(SchedtuiError) as err:
        create_backup(Target(_url(db)), tmp_path / "bk")
    assert err.value.kind is ErrorKind.CONNECT and not db.exists()


def test_cli_backup_json_and_listing(store: Path, tmp_path: Path) -> None:
    env = dict(os.environ, NO_COLOR="1", SCHEDTUI_URL=_url(store))
    cli = [sys.executable, "-m", "schedtui"]
    out = subprocess.run([*cli, "backup", "--json", "--keep", "3"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["verified"] is True and data["rows"] == {"apscheduler_jobs": 12}
    assert Path(data["path"]).parent == store.parent / "backups"  # the documented default folder
    out = subprocess.run([*cli, "backups", "--json"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert [b["name"] for b in listed["backups"]] == [Path(data["path"]).name]
    out = subprocess.run([*cli, "backup", "--dir", str(store)], capture_output=True, text=True, env=env)
    assert out.returncode != 0 and out.stderr.startswith("schedtui: ") and len(out.stderr.strip().splitlines()) == 1


def test_undecodable_rows_are_reported_as_in_the_source(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"
    make_store(_url(db), 6)
    conn = sqlite3.connect(db)
    # A real row cut short (what a torn write or a bad migration leaves behind).
    conn.execute("UPDATE apscheduler_jobs SET job_state = substr(job_state, 1, 40) WHERE id = 'job-2'")
    conn.commit()
    source_state = conn.execute("SELECT job_state FROM apscheduler_jobs WHERE id = 'job-2'").fetchone()[0]
    conn.close()
    result = create_backup(Target(_url(db)), tmp_path / "bk")
    assert result.verified and result.undecodable == ("job-2",)
    assert read_records(tmp_path / "bk")[-1]["undecodable"] == ["job-2"]
    conn = sqlite3.connect(result.path)
    assert conn.execute("SELECT job_state FROM apscheduler_jobs WHERE id = 'job-2'").fetchone()[0] == source_state
    conn.close()


def test_no_space_is_one_clear_line(tmp_path: Path) -> None:
    """A real small file system (tmpfs in a private mount namespace)."""
    if not shutil.which("unshare"):
        pytest.skip("unshare not available")
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot create a mount namespace here")
    db = tmp_path / "big.sqlite"
    make_store(_url(db), 3)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE app_payload (body BLOB)")
    conn.executemany("INSERT INTO app_payload VALUES (randomblob(4000))", [()] * 1500)  # ~6 MB
    conn.commit()
    conn.close()
    small = tmp_path / "small"
    small.mkdir()
    script = (
        f'mount -t tmpfs -o size=4m tmpfs "{small}" && '
        f'exec "{sys.executable}" -m schedtui backup --url "{_url(db)}" --dir "{small}"'
    )
    out = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    if "mount:" in out.stderr:
        pytest.skip(f"tmpfs not mountable: {out.stderr.strip()}")
    assert out.returncode == 1, out.stderr
    assert out.stderr.startswith("schedtui: no space for the backup in ") and "MiB needed" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_hot_journal_is_named_not_rolled_back(tmp_path: Path) -> None:
    """A writer killed mid-transaction leaves a hot journal; the read-only backup does not
    recover it behind the user's back and says what to do."""
    db = tmp_path / "hot.sqlite"
    make_store(_url(db), 3)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE app_payload (body BLOB)")
    conn.executemany("INSERT INTO app_payload VALUES (randomblob(1000))", [()] * 2000)
    conn.commit()
    conn.close()
    code = (
        "import os, sqlite3; c = sqlite3.connect(os.environ['DB']); c.execute('PRAGMA cache_size=10');"
        "c.execute('BEGIN'); c.execute('UPDATE app_payload SET body = randomblob(1000)'); os._exit(9)"
    )
    subprocess.run([sys.executable, "-c", code], env=dict(os.environ, DB=str(db)), check=False)
    assert Path(f"{db}-journal").stat().st_size > 0
    with pytest.raises(SchedtuiError) as err:
        create_backup(Target(_url(db)), tmp_path / "bk")
    assert err.value.kind is ErrorKind.STATE and "hot journal" in err.value.message
    assert Path(f"{db}-journal").exists()
