"""MariaDB backups against the real server: the password never on argv, tool versions,
a missing tool, the dump parser, a pickle cut at the BLOB limit."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from schedtui.core.backup import create_backup, restore_backup, verify_backup
from schedtui.core.backup.manifest import read_records
from schedtui.core.backup.mysql import Version, check_tool_version, option_lines, parse_dump, server_version
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target
from test_backup_helpers import make_store

pytestmark = pytest.mark.mysql

REAL = {
    name: subprocess.run(["sh", "-c", f"command -v {name}"], capture_output=True, text=True).stdout.strip()
    for name in ("mariadb-dump", "mariadb")
}


def _password(url: str) -> str:
    pw = sa.engine.make_url(url).password
    assert pw, "the test server's admin URL has a password"
    return str(pw)


def _fake_tool(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _recording(fakes: Path, record: Path, name: str) -> None:
    """A wrapper around the real tool that notes its argv, its option file's mode and
    content, and MYSQL_PWD, then runs the real tool."""
    _fake_tool(
        fakes,
        name,
        f'printf "ARGV %s\\n" "$*" >> "{record}"\n'
        'f=""; for a in "$@"; do case "$a" in --defaults-file=*) f="${a#--defaults-file=}";; esac; done\n'
        f'if [ -n "$f" ]; then printf "CNF %s %s\\n" "$f" "$(stat -c %a "$f")" >> "{record}"; '
        f'cat "$f" >> "{record}"; fi\n'
        f'printf "MYSQL_PWD=%s\\n" "$MYSQL_PWD" >> "{record}"\n'
        f'exec "{REAL[name]}" "$@"\n',
    )


def test_no_password_in_argv_nor_environment(mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_store(mysql_url, 3)
    secret = _password(mysql_url)
    record = tmp_path / "calls.txt"
    fakes = tmp_path / "bin"
    _recording(fakes, record, "mariadb-dump")
    _recording(fakes, record, "mariadb")
    monkeypatch.setenv("PATH", f"{fakes}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MYSQL_PWD", "not-this-one")  # a stray one never reaches the tools
    target = Target(mysql_url)
    result = create_backup(target, tmp_path / "bk")
    assert result.verified and secret not in result.source
    restore_backup(target, result.path, watch=0.2)
    calls = record.read_text()
    argv_lines = [ln for ln in calls.splitlines() if ln.startswith("ARGV")]
    assert any("--single-transaction" in ln for ln in argv_lines)
    assert len(argv_lines) >= 3  # the dump, the pre-restore dump, the restore
    assert all(secret not in ln for ln in argv_lines)
    cnf_lines = [ln.split() for ln in calls.splitlines() if ln.startswith("CNF ")]
    assert cnf_lines and all(mode == "600" for _, _, mode in cnf_lines)
    assert all(not Path(path).exists() for _, path, _ in cnf_lines), "the option file is removed afterwards"
    assert f'password="{secret}"' in calls  # it went through the option file
    assert "MYSQL_PWD=\n" in calls and "not-this-one" not in calls
    assert secret not in (tmp_path / "bk" / "schedtui-backups.jsonl").read_text()


def test_option_file_quotes_what_it_must() -> None:
    lines = option_lines(Target('mysql+pymysql://app:pa%22ss%5Cw@db.example:3307/app?unix_socket=/run/my"sql.sock'))
    assert "protocol=SOCKET" in lines and "host=" not in "".join(lines)
    assert 'password="pa\\"ss\\\\w"' in lines and 'socket="/run/my\\"sql.sock"' in lines
    tcp = option_lines(Target("mysql+pymysql://app@db.example/app"))
    assert "protocol=TCP" in tcp and 'host="db.example"' in tcp and "port=3306" in tcp
    with pytest.raises(SchedtuiError) as err:
        option_lines(Target("mysql+pymysql://app:a%0Ab@db/app"))
    assert err.value.kind is ErrorKind.CONFIG


def test_versions() -> None:
    assert server_version("10.11.6-MariaDB-0+deb12u1") == Version(True, (10, 11))
    assert server_version("5.5.5-10.6.12-MariaDB-log") == Version(True, (10, 6))
    assert server_version("8.0.36") == Version(False, (8, 0))


@pytest.mark.parametrize(
    ("printed", "words"),
    [
        ("mariadb-dump from 10.3.39-MariaDB, client 10.19 for debian-linux-gnu (x86_64)", ("MariaDB 10.3", "older")),
        ("mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)", ("MySQL 8.0", "mariadb-dump")),
    ],
)
def test_dump_tool_refused_names_both_versions(
    mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, printed: str, words: tuple[str, ...]
) -> None:
    make_store(mysql_url, 2)
    fakes = tmp_path / "bin"
    _fake_tool(fakes, "mariadb-dump", f'echo "{printed}"\nexit 0\n')
    monkeypatch.setenv("PATH", f"{fakes}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(SchedtuiError) as err:
        create_backup(Target(mysql_url), tmp_path / "bk")
    msg = err.value.message
    assert err.value.kind is ErrorKind.DRIVER and "\n" not in msg
    assert all(w in msg for w in words) and "MariaDB 10.11" in msg, msg
    assert read_records(tmp_path / "bk")[-1]["status"] == "failed"
    assert not [n for n in os.listdir(tmp_path / "bk") if n.endswith((".mysqldump", ".tmp"))]


def test_newer_tool_is_fine() -> None:
    fine = Version(True, (10, 11))
    tool = Path(REAL["mariadb-dump"])
    check_tool_version(str(tool), fine)  # the real one, same version as the server


def test_cli_dump_tool_missing_exit_code(mysql_url: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    env = dict(os.environ, PATH=str(empty), SCHEDTUI_URL=mysql_url)
    env.pop("SCHEDTUI_MYSQL_BIN", None)
    out = subprocess.run(
        [sys.executable, "-m", "schedtui", "backup", "--dir", str(tmp_path / "bk")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 3 and out.stderr.startswith("schedtui: mariadb-dump or mysqldump not found"), out.stderr
    assert _password(mysql_url) not in out.stderr + out.stdout


def test_parser_reads_every_value_shape(tmp_path: Path) -> None:
    dump = tmp_path / "x.mysqldump"
    dump.write_text(
        "-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)\n"
        "CREATE TABLE `apscheduler_jobs` (\n  `id` varchar(191) NOT NULL\n);\n"
        "INSERT INTO `apscheduler_jobs` VALUES ('a\\'b\\\\c\\n',1.5,0x8004),('x;y)',NULL,''),\n"
        "('z',-2e3,0x);\n"
        "INSERT INTO `we``ird` VALUES\n(1,'it''s'),\n(2,_binary 'raw');\n"
        "-- Dump completed on 2026-03-02 12:00:00\n"
    )
    rows: list[list[object]] = []
    parsed = parse_dump(dump, "apscheduler_jobs", rows.append)
    assert parsed.problem is None and parsed.rows == {"apscheduler_jobs": 3, "we`ird": 2}
    assert rows == [["a'b\\c\n", "1.5", b"\x80\x04"], ["x;y)", None, ""], ["z", "-2e3", b""]]
    cut = tmp_path / "cut.mysqldump"
    cut.write_text(dump.read_text().rsplit("-- Dump completed", 1)[0])
    assert "cut short" in (parse_dump(cut).problem or "")
    mid = tmp_path / "mid.mysqldump"
    mid.write_text(dump.read_text()[:170])
    assert parse_dump(mid).problem is not None


def test_pickle_cut_at_the_blob_limit_is_a_finding(mysql_url: str, tmp_path: Path) -> None:
    """Without strict mode MySQL cuts a BLOB at 64 KiB: the row is an undecodable finding
    (in check, in jobs and in the backup), never a crash, and the row stays."""
    import pickle

    make_store(mysql_url, 2)
    engine = sa.create_engine(mysql_url)
    state = pickle.dumps({"version": 1, "id": "huge", "args": (b"x" * 70_000,)}, 5)
    with engine.begin() as conn:
        conn.execute(sa.text("SET SESSION sql_mode = ''"))
        conn.execute(
            sa.text("INSERT INTO apscheduler_jobs (id, next_run_time, job_state) VALUES ('huge', 1.0, :s)"),
            {"s": state},
        )
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT length(job_state) FROM apscheduler_jobs WHERE id = 'huge'")).scalar()
    engine.dispose()
    assert stored == 65535
    from schedtui.core.store.reader import read_jobs

    snap = read_jobs(Target(mysql_url))
    huge = next(j for j in snap.jobs if j.id == "huge")
    assert huge.finding is not None and not huge.decodable
    out = subprocess.run(
        [sys.executable, "-m", "schedtui", "check", "--url", mysql_url], capture_output=True, text=True
    )
    assert out.returncode in (1, 2) and "Traceback" not in out.stdout + out.stderr
    result = create_backup(Target(mysql_url), tmp_path / "bk")
    assert result.undecodable == ("huge",)
    assert verify_backup(result.path).undecodable == ("huge",)


def test_a_password_with_quotes_and_backslashes_reaches_the_tools(mysql_url: str, tmp_path: Path) -> None:
    """The option file's quoting, as the real client tools read it: backup and restore as a
    user whose password has every character that needs it."""
    from urllib.parse import quote

    make_store(mysql_url, 4)
    db = sa.engine.make_url(mysql_url).database
    password = "p\"a\\s s#'w;=x"
    admin = sa.create_engine(mysql_url)
    with admin.begin() as conn:
        conn.execute(sa.text("CREATE USER IF NOT EXISTS 'st_quote'@'127.0.0.1' IDENTIFIED BY :pw"), {"pw": password})
        conn.execute(sa.text(f"GRANT ALL PRIVILEGES ON `{db}`.* TO 'st_quote'@'127.0.0.1'"))
    admin.dispose()
    try:
        url = sa.engine.make_url(mysql_url)
        quoted = f"mysql+pymysql://st_quote:{quote(password, safe='')}@{url.host}:{url.port}/{db}"
        target = Target(quoted)
        result = create_backup(target, tmp_path / "bk")
        assert result.verified and result.rows == {"apscheduler_jobs": 4}
        restored = restore_backup(target, result.path, watch=0.2)
        assert restored.rows["apscheduler_jobs"] == 4
        assert any("PROCESS privilege" in n for n in restored.notes)  # it sees only its own sessions
        assert password not in (tmp_path / "bk" / "schedtui-backups.jsonl").read_text()
    finally:
        admin = sa.create_engine(mysql_url)
        with admin.begin() as conn:
            conn.execute(sa.text("DROP USER IF EXISTS 'st_quote'@'127.0.0.1'"))
        admin.dispose()
