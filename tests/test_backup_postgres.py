"""PostgreSQL backups against the real server: tool version, no password in argv (the round
trip and damaged dumps are in test_backup_servers.py, for MariaDB too)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from schedtui.core.backup import create_backup
from schedtui.core.backup.manifest import read_records
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target
from test_backup_helpers import make_store

pytestmark = pytest.mark.postgres

REAL_PG_DUMP = subprocess.run(["sh", "-c", "command -v pg_dump"], capture_output=True, text=True).stdout.strip()


def _with_password(url: str, password: str = "pw-Zq81xK") -> str:
    # The test server trusts local connections, so any password is accepted.
    return sa.engine.make_url(url).set(password=password).render_as_string(hide_password=False)


def _fake_tool(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def test_no_password_in_argv(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_store(pg_url, 3)
    url = _with_password(pg_url)
    record = tmp_path / "calls.txt"
    fakes = tmp_path / "bin"
    _fake_tool(
        fakes,
        "pg_dump",
        f'printf "ARGV %s\\n" "$*" >> "{record}"\nprintf "PGPASSWORD=%s\\n" "$PGPASSWORD" >> "{record}"\n'
        f'exec "{REAL_PG_DUMP}" "$@"\n',
    )
    monkeypatch.setenv("PATH", f"{fakes}{os.pathsep}{os.environ['PATH']}")
    result = create_backup(Target(url), tmp_path / "bk")
    assert result.verified and "pw-Zq81xK" not in result.source
    calls = record.read_text()
    argv_lines = [ln for ln in calls.splitlines() if ln.startswith("ARGV")]
    assert any("--format=custom" in ln for ln in argv_lines)
    assert all("pw-Zq81xK" not in ln for ln in argv_lines)
    assert "PGPASSWORD=pw-Zq81xK" in calls  # it went through the environment
    assert "pw-Zq81xK" not in (tmp_path / "bk" / "schedtui-backups.jsonl").read_text()


def test_pg_dump_too_old_names_both_versions(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_store(pg_url, 2)
    fakes = tmp_path / "bin"
    _fake_tool(fakes, "pg_dump", 'echo "pg_dump (PostgreSQL) 12.17"\nexit 0\n')
    monkeypatch.setenv("PATH", f"{fakes}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("SCHEDTUI_PG_BIN", raising=False)
    with pytest.raises(SchedtuiError) as err:
        create_backup(Target(pg_url), tmp_path / "bk")
    msg = err.value.message
    assert err.value.kind is ErrorKind.DRIVER
    assert "pg_dump 12" in msg and "PostgreSQL 15" in msg and "\n" not in msg
    assert read_records(tmp_path / "bk")[-1]["status"] == "failed"
    assert not [n for n in os.listdir(tmp_path / "bk") if n.endswith((".pgdump", ".tmp"))]


def test_pg_dump_missing(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("SCHEDTUI_PG_BIN", raising=False)
    with pytest.raises(SchedtuiError) as err:
        create_backup(Target(pg_url), tmp_path / "bk")
    assert err.value.kind is ErrorKind.DRIVER
    assert err.value.message.startswith("pg_dump not found on PATH")


def test_cli_pg_dump_missing_exit_code(pg_url: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    env = dict(os.environ, PATH=str(empty), SCHEDTUI_URL=_with_password(pg_url))
    env.pop("SCHEDTUI_PG_BIN", None)
    out = subprocess.run(
        [sys.executable, "-m", "schedtui", "backup", "--dir", str(tmp_path / "bk")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 3 and out.stderr.startswith("schedtui: pg_dump not found"), out.stderr
    assert "pw-Zq81xK" not in out.stderr + out.stdout
