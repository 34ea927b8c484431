"""MySQL/MariaDB against the real server: URL spellings, the driver hint, read-only
sessions, the error vocabulary (the same lines and exit codes as on PostgreSQL, passwords
masked), store discovery, incremental reads."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import sqlalchemy as sa

from schedtui.cli.app import main
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target
from schedtui.core.store.db import read_engine, translate_error, write_engine
from schedtui.core.store.discover import find_job_stores
from schedtui.core.store.reader import JobStoreReader
from schedtui.core.urls import normalize_url
from test_backup_helpers import make_store


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return int(exc.value.code or 0), out, err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SCHEDTUI_URL", "DATABASE_URL", "SCHEDTUI_TABLE", "SCHEDTUI_SCHEMA"):
        monkeypatch.delenv(var, raising=False)


def test_spellings_use_pymysql() -> None:
    assert normalize_url("mysql://u:p@h/db") == "mysql+pymysql://u:p@h/db"
    assert normalize_url("mariadb://u@h:3307/db") == "mariadb+pymysql://u@h:3307/db"
    assert normalize_url("mysql+pymysql://u@h/db") == "mysql+pymysql://u@h/db"
    from schedtui.companion.setup import database_url

    assert database_url("mysql://u@h/db") == "mysql+pymysql://u@h/db"


def test_driver_missing_gives_the_extra(tmp_path: pytest.TempPathFactory) -> None:
    """In a process where PyMySQL cannot be imported: one line naming the extra, exit 3."""
    code = (
        "import sys; sys.modules['pymysql'] = None\n"
        "from schedtui.cli.app import main\n"
        "main(['jobs', '--url', 'mysql://bob:hunter22@127.0.0.1:1/app'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 3, out.stderr
    assert "pip install 'schedtui[mysql]'" in out.stderr and "hunter22" not in out.stderr
    assert "Traceback" not in out.stderr


def _url_with(url: str, **parts: object) -> str:
    return sa.engine.make_url(url).set(**parts).render_as_string(hide_password=False)  # type: ignore[arg-type]


@pytest.mark.mysql
def test_error_vocabulary(mysql_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    make_store(mysql_url, 2)
    db = sa.engine.make_url(mysql_url).database
    admin = sa.create_engine(mysql_url)
    with admin.begin() as conn:
        conn.execute(sa.text("CREATE TABLE not_jobs (id varchar(10), x int)"))
        conn.execute(sa.text("CREATE USER IF NOT EXISTS 'st_limited'@'127.0.0.1' IDENTIFIED BY 'lim-Pw-771'"))
        conn.execute(sa.text(f"GRANT SELECT ON `{db}`.not_jobs TO 'st_limited'@'127.0.0.1'"))
    admin.dispose()
    try:
        cases = [
            (_url_with(mysql_url, password="wrong-Pw-551"), [], "authentication failed for ", 3, "wrong-Pw-551"),
            (_url_with(mysql_url, database="no_such_db_x"), [], "cannot reach the database ", 3, None),
            (f"mysql://bob:hunter22@127.0.0.1:{_free_port()}/app", [], "cannot reach the database ", 3, "hunter22"),
            (mysql_url, ["--table", "nope"], "table 'nope' not found in ", 3, None),
            (mysql_url, ["--table", "not_jobs"], "is not an APScheduler jobs table", 3, None),
            (_url_with(mysql_url, username="st_limited", password="lim-Pw-771"), [], "permission denied on ", 1, None),
        ]
        for url, extra, words, jobs_code, secret in cases:
            code, out, err = run(["check", "--url", url, *extra], capsys)
            assert code == 2 and words in out and out.count("\n") == 1, out
            code, out, err = run(["jobs", "--url", url, *extra], capsys)
            assert code == jobs_code and words in err and err.count("\n") == 1, err
            assert "***" in err or "@" not in err
            if secret:
                assert secret not in out + err
            assert str(sa.engine.make_url(mysql_url).password) not in out + err
    finally:
        admin = sa.create_engine(mysql_url)
        with admin.begin() as conn:
            conn.execute(sa.text("DROP USER IF EXISTS 'st_limited'@'127.0.0.1'"))
        admin.dispose()


def _read_only(conn: sa.Connection) -> str:
    """The session's access mode (``tx_read_only`` before MariaDB 11.1 / MySQL 8)."""
    rows = conn.execute(
        sa.text("SHOW SESSION VARIABLES WHERE variable_name IN ('tx_read_only', 'transaction_read_only')")
    ).all()
    assert rows
    return str(rows[0][1])


@pytest.mark.mysql
def test_reading_sessions_cannot_write(mysql_url: str) -> None:
    make_store(mysql_url, 3)
    target = Target(mysql_url)
    engine = read_engine(target)
    try:
        with engine.connect() as conn:
            assert _read_only(conn) == "ON"
        with pytest.raises(sa.exc.DBAPIError) as exc, engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM apscheduler_jobs"))
        err = translate_error(exc.value, target)
        assert err.kind is ErrorKind.PERMISSION and "READ ONLY" in err.message
    finally:
        engine.dispose()
    writer = write_engine(target)
    try:
        with writer.connect() as conn:
            assert _read_only(conn) == "OFF"
            assert conn.execute(sa.text("SELECT count(*) FROM apscheduler_jobs")).scalar() == 3
    finally:
        writer.dispose()


@pytest.mark.mysql
def test_incremental_reads_follow_changes(mysql_url: str) -> None:
    make_store(mysql_url, 6)
    reader = JobStoreReader(Target(mysql_url))
    try:
        first = reader.read()
        assert first.dialect == "mysql" and len(first.jobs) == 6
        assert reader.read().jobs == first.jobs  # nothing changed: the same decoded jobs
        engine = sa.create_engine(mysql_url)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE apscheduler_jobs SET next_run_time = NULL WHERE id = 'job-1'"))
            conn.execute(sa.text("DELETE FROM apscheduler_jobs WHERE id = 'job-2'"))
        engine.dispose()
        after = {j.id: j for j in reader.read().jobs}
        assert set(after) == {"job-0", "job-1", "job-3", "job-4", "job-5"}
        assert after["job-1"].next_run_time is None
        # paused last, as on every database (MySQL sorts NULLs first: the order is ours)
        assert [j.id for j in reader.read().jobs][-1] == "job-1"
    finally:
        reader.close()


@pytest.mark.mysql
def test_discovery_stays_in_the_database(mysql_url: str, mysql_admin_url: str) -> None:
    """information_schema spans the server on MySQL: only the URL's database is searched."""
    make_store(mysql_url, 1)
    other = f"{sa.engine.make_url(mysql_url).database}_other"
    admin = sa.create_engine(mysql_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{other}`"))
        conn.execute(
            sa.text(f"CREATE TABLE `{other}`.jobs (id varchar(191) primary key, next_run_time double, job_state blob)")
        )
        conn.execute(sa.text("CREATE TABLE unrelated (id int, next_run_time double)"))
    try:
        assert [s.name for s in find_job_stores(Target(mysql_url))] == ["apscheduler_jobs"]
        assert [s.name for s in find_job_stores(Target(mysql_url, schema=other))] == [f"{other}.jobs"]
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE `{other}`"))
        admin.dispose()


def test_unreachable_server_is_a_connect_error() -> None:
    target = Target(f"mysql+pymysql://bob:hunter22@127.0.0.1:{_free_port()}/app")
    with pytest.raises(SchedtuiError) as err:
        JobStoreReader(target).read()
    assert err.value.kind is ErrorKind.CONNECT and "hunter22" not in err.value.message


@pytest.mark.mysql
@pytest.mark.parametrize("where", ["unreachable", "wrong-password"])
def test_no_command_prints_the_password(
    mysql_url: str, tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """Every command, against an unreachable server and against the real one with a wrong
    password (the server's message quotes the user): the secret never appears."""
    secret = "Zq7my'Se@cret"
    from urllib.parse import quote

    base = sa.engine.make_url(mysql_url)
    host = f"127.0.0.1:{_free_port()}" if where == "unreachable" else f"{base.host}:{base.port}"
    url = f"mysql://schedtui_admin:{quote(secret, safe='')}@{host}/{base.database}?ssl_key=/k/{quote(secret)}.pem"
    commands = [
        ["check"],
        ["check", "--json"],
        ["check", "--detailed"],
        ["jobs"],
        ["jobs", "--json"],
        ["history"],
        ["backup", "--dir", str(tmp_path)],
        ["backups", "--dir", str(tmp_path)],
        ["pause", "job-0"],
    ]
    for argv in commands:
        with pytest.raises(SystemExit):
            main([*argv, "--url", url])
        out, err = capsys.readouterr()
        for form in (secret, quote(secret, safe=""), quote(secret)):
            assert form not in out + err, (argv, out, err)
        assert "Traceback" not in out + err
