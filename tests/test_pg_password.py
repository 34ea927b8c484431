"""A PostgreSQL password never has to be on the command line.

A URL without a password takes it from ``PGPASSWORD``, ``PGPASSFILE`` or ``~/.pgpass``
(libpq's own rules), for our connections and for the ``pg_dump`` / ``pg_restore``
children, which get it through their environment, never their argv.

The test server trusts 127.0.0.1; the fixture makes the role ``schedtui_pwtest`` the one
exception (a ``scram-sha-256`` line first in ``pg_hba.conf``, then a reload), so a
missing password really fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from test_backup_helpers import make_store

ROLE = "schedtui_pwtest"
HBA_LINE = f"host all {ROLE} 127.0.0.1/32 scram-sha-256"


def _psycopg(url: str) -> str:
    """The admin URL with the psycopg 3 driver SQLAlchemy needs."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@dataclass(frozen=True)
class PwDb:
    url: str  #: without a password
    password: str
    host: str
    port: int
    database: str


def _ensure_hba_rule(admin: object) -> None:
    import sqlalchemy as sa

    assert isinstance(admin, sa.Engine)
    with admin.connect() as conn:
        hba = Path(str(conn.execute(sa.text("SHOW hba_file")).scalar()))
        rules = conn.execute(sa.text("SELECT user_name FROM pg_hba_file_rules ORDER BY line_number")).fetchall()
        if rules and list(rules[0][0] or []) == [ROLE]:
            return
        if not os.access(hba, os.W_OK):
            pytest.fail(f"cannot add the password rule for {ROLE} to {hba} (not writable)")
        text = hba.read_text()
        with open(hba, "r+") as fh:  # same file, same owner: the server must still read it
            fh.write(f"{HBA_LINE}\n{text}")
        conn.execute(sa.text("SELECT pg_reload_conf()"))


def _auth_refused(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        return "password" in str(exc).lower()
    return False


@pytest.fixture
def pwdb(pg_url: str, pg_admin_url: str) -> Iterator[PwDb]:
    import sqlalchemy as sa

    password = "Pw-" + secrets.token_hex(8)
    admin = sa.create_engine(_psycopg(pg_admin_url), isolation_level="AUTOCOMMIT")
    url = sa.engine.make_url(pg_url)
    try:
        _ensure_hba_rule(admin)
        with admin.connect() as conn:
            conn.execute(
                sa.text(f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
            )
            conn.execute(sa.text(f"ALTER ROLE {ROLE} LOGIN PASSWORD '{password}'"))
            conn.execute(sa.text(f'ALTER DATABASE "{url.database}" OWNER TO {ROLE}'))
        db_admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with db_admin.connect() as conn:
            conn.execute(sa.text(f"ALTER SCHEMA public OWNER TO {ROLE}"))
        db_admin.dispose()
    finally:
        admin.dispose()
    bare = url.set(username=ROLE, password=None).render_as_string(hide_password=False)
    deadline = time.monotonic() + 15
    while not _auth_refused(bare):  # the reload takes effect asynchronously
        assert time.monotonic() < deadline, f"the server still lets {ROLE} in without a password"
        time.sleep(0.05)
    make_store(url.set(username=ROLE, password=password).render_as_string(hide_password=False), 3)
    yield PwDb(bare, password, str(url.host), int(url.port or 5432), str(url.database))


def _tool_shims(tmp_path: Path) -> tuple[Path, Path]:
    """pg_dump / pg_restore wrappers that log their argv, then run the real tool."""
    folder, log = tmp_path / "pgbin", tmp_path / "argv.log"
    folder.mkdir()
    for name in ("pg_dump", "pg_restore"):
        real = shutil.which(name)
        assert real, f"{name} not installed"
        shim = folder / name
        shim.write_text(
            f'#!/bin/sh\nprintf "%s\\n" "{name} $*" >> "{log}"\n'
            f'[ -n "$PGSERVICEFILE" ] && {{ echo "service $PGSERVICE $PGSERVICEFILE:"; cat "$PGSERVICEFILE"; }} >> "{log}.svc"\n'
            f'exec "{real}" "$@"\n'
        )
        shim.chmod(0o755)
    return folder, log


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k not in ("SCHEDTUI_URL", "DATABASE_URL")}
    env["HOME"] = str(tmp_path / "home")  # no stray ~/.pgpass
    (tmp_path / "home").mkdir(exist_ok=True)
    env["PGPASSFILE"] = str(tmp_path / "no-such-passfile")
    env.update(extra)
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schedtui", *args], capture_output=True, text=True, env=env, timeout=180
    )


def _round_trip(db: PwDb, tmp_path: Path, env: dict[str, str]) -> None:
    """check, jobs, backup (pg_dump) and restore (pg_restore), none with a password in argv."""
    pgbin, log = _tool_shims(tmp_path)
    env = {**env, "SCHEDTUI_PG_BIN": str(pgbin), "SCHEDTUI_URL": db.url}
    check = _cli(env, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    jobs = _cli(env, "jobs")
    assert jobs.returncode == 0 and "job-0" in jobs.stdout, jobs.stderr
    backup = _cli(env, "backup", "--json", "--dir", str(tmp_path / "bk"))
    assert backup.returncode == 0, backup.stderr
    path = next((tmp_path / "bk").glob("*.pgdump"))
    restore = _cli(env, "restore", str(path), "--yes", "--watch", "0.3")
    assert restore.returncode == 0, restore.stderr
    argv = log.read_text()
    assert "pg_dump " in argv and "pg_restore " in argv
    assert db.password not in argv


def test_without_a_password_the_server_refuses(pwdb: PwDb, tmp_path: Path) -> None:
    out = _cli(_env(tmp_path), "check", "--url", pwdb.url)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "authentication failed" in out.stdout


def test_password_from_pgpassword(pwdb: PwDb, tmp_path: Path) -> None:
    _round_trip(pwdb, tmp_path, _env(tmp_path, PGPASSWORD=pwdb.password))


def test_password_from_pgpassfile(pwdb: PwDb, tmp_path: Path) -> None:
    passfile = tmp_path / "passfile"
    passfile.write_text(f"{pwdb.host}:{pwdb.port}:{pwdb.database}:{ROLE}:{pwdb.password}\n")
    passfile.chmod(stat.S_IRUSR | stat.S_IWUSR)  # libpq ignores a passfile others can read
    _round_trip(pwdb, tmp_path, _env(tmp_path, PGPASSFILE=str(passfile)))


def test_password_from_home_pgpass(pwdb: PwDb, tmp_path: Path) -> None:
    env = _env(tmp_path)
    del env["PGPASSFILE"]
    pgpass = Path(env["HOME"]) / ".pgpass"
    pgpass.write_text(f"*:*:*:{ROLE}:{pwdb.password}\n")
    pgpass.chmod(0o600)
    _round_trip(pwdb, tmp_path, env)


def test_parameters_without_an_environment_variable_reach_the_tools_by_service_file(pwdb: PwDb, tmp_path: Path) -> None:
    """``sslpassword`` (and the like) has no PG* variable: the children get it from a
    private service file that exists only while they run, never from argv."""
    secret = "Zq7sslpassXw9"
    db = PwDb(f"{pwdb.url}?sslpassword={secret}&keepalives_idle=30", pwdb.password, pwdb.host, pwdb.port, pwdb.database)
    env = _env(tmp_path, PGPASSWORD=pwdb.password)
    _round_trip(db, tmp_path, env)
    log = (tmp_path / "argv.log").read_text()
    services = (tmp_path / "argv.log.svc").read_text()
    assert secret not in log
    assert services.count(f"sslpassword={secret}") == 3  # pg_dump (backup and pre-restore copy), pg_restore
    assert "keepalives_idle=30" in services
    files = [line.split(" ", 2)[2].rstrip(":") for line in services.splitlines() if line.startswith("service ")]
    assert files and not any(Path(f).exists() for f in files)
