"""Bad input gets one clear line and the right exit code, never a traceback."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from schedtui.cli.app import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SCHEDTUI_URL", "DATABASE_URL", "SCHEDTUI_TABLE", "SCHEDTUI_SCHEMA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SCHEDTUI_LOCK_TIMEOUT", "0.3")


def test_nothing_configured(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["check"], capsys)
    assert code == 3
    assert "SCHEDTUI_URL" in err and "schedtui demo" in err
    code, out, err = run(["jobs"], capsys)
    assert code == 2 and "--url" in err


def test_usage_errors_are_unknown_for_check(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["check", "--no-such-option"], capsys)
    assert code == 3
    code, _, err = run(["check", "--upcoming", "many"], capsys)
    assert code == 3
    code, _, err = run(["jobs", "--no-such-option"], capsys)
    assert code == 2


def test_missing_sqlite_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/nope.sqlite"
    code, out, err = run(["check", "--url", url], capsys)
    assert code == 2
    assert out.startswith("SCHEDTUI CRITICAL") and "not found" in out
    assert not (tmp_path / "nope.sqlite").exists(), "reading must never create the file"
    code, out, err = run(["jobs", "--url", url], capsys)
    assert code == 3 and "not found" in err
    _no_traceback(out, err)


def test_missing_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "empty.sqlite"
    sqlite3.connect(db).execute("create table other (x)").connection.commit()
    code, out, err = run(["check", "--url", f"sqlite:///{db}"], capsys)
    assert code == 2 and "table 'apscheduler_jobs' not found" in out
    code, out, err = run(["check", "--url", f"sqlite:///{db}", "--table", "other_jobs"], capsys)
    assert "other_jobs" in out
    _no_traceback(out, err)


def test_not_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "garbage.sqlite"
    db.write_bytes(b"this is not a database file at all" * 100)
    code, out, err = run(["check", "--url", f"sqlite:///{db}"], capsys)
    assert code == 2 and "cannot open" in out
    _no_traceback(out, err)


def test_locked_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "locked.sqlite"
    setup = sqlite3.connect(db)
    setup.execute(
        "create table apscheduler_jobs (id varchar(191) primary key, next_run_time float, job_state blob not null)"
    )
    setup.commit()
    setup.close()
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code, out, err = run(["check", "--url", f"sqlite:///{db}"], capsys)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 2 and "locked" in out
    _no_traceback(out, err)


def test_unreachable_postgres_masks_password(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql://bob:hunter22@127.0.0.1:{_free_port()}/app"
    code, out, err = run(["check", "--url", url], capsys)
    assert code == 2 and "cannot reach" in out
    assert "hunter22" not in out + err and "***" in out
    code, out, err = run(["jobs", "--url", url], capsys)
    assert code == 3 and "hunter22" not in out + err
    _no_traceback(out, err)


@pytest.mark.parametrize("userinfo", ["bob@azure-db:hunter 22", "bob:hun\tter22", "b ob:hunter22"])
def test_unreachable_postgres_masks_password_with_odd_characters(
    userinfo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unencoded spaces, tabs and "@" in the userinfo: the password SQLAlchemy sends stays hidden."""
    secret = userinfo.split(":", 1)[1]
    url = f"postgresql://{userinfo}@127.0.0.1:{_free_port()}/app"
    for argv in (["check", "--url", url], ["check", "--json", "--url", url], ["jobs", "--url", url]):
        code, out, err = run(argv, capsys)
        assert code in (2, 3) and "cannot reach" in out + err
        assert secret not in out + err and "***" in out + err
        _no_traceback(out, err)


def test_bad_url(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["check", "--url", "nosuchdb://x:pw123@h/db"], capsys)
    assert code == 3 and "pw123" not in out + err
    code, out, err = run(["check", "--url", "not a url"], capsys)
    assert code == 3
    _no_traceback(out, err)


def test_check_never_imports_textual(tmp_path: Path) -> None:
    db = tmp_path / "empty.sqlite"
    sqlite3.connect(db).execute("create table other (x)").connection.commit()
    code = (
        "import sys\n"
        "from schedtui.cli.app import main\n"
        "for cmd in (['check', '--detailed'], ['jobs'], ['history']):\n"
        "    try:\n"
        f"        main([*cmd, '--url', 'sqlite:///{db}'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "assert not bad, bad\n"
        "print('clean')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "clean" in proc.stdout


def test_core_never_imports_textual() -> None:
    """Every core module and the companion, imported: no UI library comes with them
    (import-linter checks the import statements; this checks what really loads)."""
    code = (
        "import sys, pkgutil, importlib\n"
        "import schedtui.core as core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'schedtui.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "import schedtui.companion\n"
        "ui = ('textual', 'typer', 'click', 'rich', 'schedtui.cli', 'schedtui.tui')\n"
        "bad = sorted(m for m in sys.modules if m in ui or m.startswith(tuple(u + '.' for u in ui)))\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_threads_do_not_matter() -> None:
    # The reader's lock makes one reader safe to share: a trivial smoke test of the lock.
    from schedtui.core.model import Target
    from schedtui.core.store.reader import JobStoreReader

    reader = JobStoreReader(Target(url="sqlite:////nonexistent/x.db"))
    errors: list[BaseException] = []

    def go() -> None:
        try:
            reader.read()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 4 and all("not found" in str(e) for e in errors)


@pytest.mark.parametrize("args", [["check"], ["check", "--json"], ["check", "-d"], ["jobs"], ["jobs", "--json"]])
def test_closed_pipe_keeps_the_exit_code(tmp_path: Path, args: list[str]) -> None:
    """``schedtui check --json | head -1``: the reader going away changes neither the exit
    code (Click's EPIPE handling would exit 1, WARNING) nor adds a traceback."""
    from tests.fixtures.factory import sqlite_store

    db, _ = sqlite_store(tmp_path, "catalog")
    cmd = [sys.executable, "-m", "schedtui", *args, "--url", f"sqlite:///{db}"]
    env = {**os.environ, "SCHEDTUI_DECODE_CACHE": "0"}
    expected = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120).returncode
    read_end, write_end = os.pipe()
    os.close(read_end)  # closed before the first write: EPIPE, deterministically
    try:
        proc = subprocess.run(cmd, stdout=write_end, stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == expected
    _no_traceback(proc.stderr)
    assert "Exception ignored" not in proc.stderr


@pytest.mark.parametrize("args", [["check"], ["jobs"], ["backup"]])
def test_named_pipe_is_refused_not_waited_on(tmp_path: Path, args: list[str]) -> None:
    """A FIFO in place of the database file: opening it would wait for a writer forever."""
    fifo = tmp_path / "jobs.sqlite"
    os.mkfifo(fifo)
    cmd = [sys.executable, "-m", "schedtui", *args, "--url", f"sqlite:///{fifo}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == (2 if args == ["check"] else 3), proc.stdout + proc.stderr
    assert "is a named pipe" in proc.stdout + proc.stderr
    _no_traceback(proc.stdout, proc.stderr)
