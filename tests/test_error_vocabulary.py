"""One error vocabulary: every command words the same failure the same way, on one line,
with the exit code of the README's table (``check``: CRITICAL 2 for a database problem,
UNKNOWN 3 for a bad argument; other commands: 3 and 2), and never a traceback."""

from __future__ import annotations

import io
import sqlite3
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from schedtui.cli.app import main
from tests.fixtures.factory import cached_sqlite_store

#: Commands that read or write the jobs table (``x`` is a job id).
COMMANDS: list[list[str]] = [
    ["check"],
    ["check", "--detailed"],
    ["check", "--json"],
    ["jobs"],
    ["jobs", "--json"],
    ["history"],
    ["history", "x"],
    ["backup", "--dir", "{tmp}/bk"],
    ["pause", "x", "--yes"],
    ["resume", "x", "--yes"],
    ["run", "x", "--yes"],
    ["remove", "x", "--yes", "--force"],
]
#: ... and those that also stop at a URL without a database file.
URL_COMMANDS: list[list[str]] = [*COMMANDS, ["backups"], ["restore", "{tmp}/none.sqlite", "--yes"]]


def _damage(path: Path) -> None:
    """Overwrite the cells of the jobs table's root page: SQLite then reports
    ``database disk image is malformed`` on reading it (the schema stays readable)."""
    conn = sqlite3.connect(path)
    (root,) = conn.execute("select rootpage from sqlite_master where name = 'apscheduler_jobs'").fetchone()
    (size,) = conn.execute("pragma page_size").fetchone()
    conn.close()
    data = bytearray(path.read_bytes())
    start = (root - 1) * size
    data[start + 12 : start + size] = b"\xab" * (size - 12)
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    """kind -> (URL, the message every command gives)."""
    d = tmp_path_factory.mktemp("broken")
    (d / "adir").mkdir()
    (d / "junk.sqlite").write_bytes(b"this is not a database file at all\n" * 100)
    nocol = sqlite3.connect(d / "nocol.sqlite")
    nocol.execute("create table apscheduler_jobs (id varchar(191) primary key, job_state blob not null)")
    nocol.commit()
    nocol.close()
    other = sqlite3.connect(d / "other.sqlite")
    other.execute("create table other (x)")
    other.commit()
    other.close()
    src, _ = cached_sqlite_store("seed")  # written by real APScheduler
    damaged = d / "damaged.sqlite"
    damaged.write_bytes(src.read_bytes())
    _damage(damaged)

    def url(name: str) -> str:
        return f"sqlite:///{d / name}"

    return {
        "directory": (url("adir"), f"not a SQLite database file: {d / 'adir'} is a directory"),
        "not-sqlite": (
            url("junk.sqlite"),
            f"cannot open the SQLite database {url('junk.sqlite')}: file is not a database",
        ),
        "damaged": (
            url("damaged.sqlite"),
            f"the SQLite database is damaged: {url('damaged.sqlite')} (database disk image is malformed); "
            "restore a backup (schedtui backups, schedtui restore)",
        ),
        "missing-column": (
            url("nocol.sqlite"),
            f"table 'apscheduler_jobs' in {url('nocol.sqlite')} is not an APScheduler jobs table "
            "(id, next_run_time, job_state): no such column next_run_time (see --table)",
        ),
        "wrong-table": (
            url("other.sqlite"),
            f"table 'apscheduler_jobs' not found in {url('other.sqlite')} "
            "(is this the scheduler's database? see --table / --schema)",
        ),
        "missing-file": (url("missing.sqlite"), f"SQLite database not found: {d / 'missing.sqlite'}"),
    }


#: URLs that name no database file: a configuration error (exit 2, check UNKNOWN 3).
NO_FILE = {
    "sqlite://": "no SQLite database file in 'sqlite://': an in-memory database exists only inside the "
    "scheduler's process; point --url at the scheduler's database file (sqlite:////path/to/jobs.sqlite)",
    "sqlite:///:memory:": "no SQLite database file in 'sqlite:///:memory:'",
    "": "no database configured: pass --url, or set SCHEDTUI_URL or DATABASE_URL",
}


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("SCHEDTUI_URL", "DATABASE_URL", "SCHEDTUI_TABLE", "SCHEDTUI_SCHEMA", "SCHEDTUI_BACKUP_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SCHEDTUI_LOCK_TIMEOUT", "0.3")
    monkeypatch.setenv("NO_COLOR", "1")


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), pytest.raises(SystemExit) as exc:
        main(argv)
    return int(exc.value.code or 0), out.getvalue(), err.getvalue()


def _argv(command: list[str], url: str, tmp: Path) -> list[str]:
    return [a.replace("{tmp}", str(tmp)) for a in command] + ["--url", url]


@pytest.mark.parametrize(
    "kind", ["directory", "not-sqlite", "damaged", "missing-column", "wrong-table", "missing-file"]
)
def test_database_failures_read_the_same_everywhere(
    kind: str, stores: dict[str, tuple[str, str]], tmp_path: Path
) -> None:
    url, message = stores[kind]
    for command in COMMANDS:
        argv = _argv(command, url, tmp_path)
        code, out, err = run(argv)
        assert "Traceback" not in out + err, argv
        if command[0] != "check":
            assert (code, err) == (3, f"schedtui: {message}\n"), argv
            assert out == "", argv
        elif "--json" in command:
            assert code == 2 and message in out, argv
        elif "--detailed" in command:
            assert code == 2 and message in out, (argv, out)
        else:
            assert code == 2 and out.startswith("SCHEDTUI CRITICAL - ") and message in out, (argv, out)
            assert out.count("\n") == 1, out


@pytest.mark.parametrize("url", sorted(NO_FILE))
def test_urls_without_a_file_are_configuration_errors(url: str, tmp_path: Path) -> None:
    for command in URL_COMMANDS:
        message = NO_FILE[url]
        argv = _argv(command, url, tmp_path)
        code, out, err = run(argv)
        assert "Traceback" not in out + err, argv
        if command[0] == "backups" and not url:  # a folder is all it needs
            message = "no backup folder: pass --dir, or --url (or set SCHEDTUI_URL)"
        assert err.count("\n") == 1 and err.startswith(f"schedtui: {message}"), (argv, err)
        if command[0] == "check":
            assert code == 3, argv  # UNKNOWN, never CRITICAL, for a bad argument
            assert "--json" in command or out.startswith("SCHEDTUI UNKNOWN - "), (argv, out)
        else:
            assert code == 2, (argv, code, err)


def test_jobs_lists_a_store_with_undecodable_rows(tmp_path: Path) -> None:
    """The case the tool exists for: ``jobs`` used to fail with ``KeyError: 'reason'``."""
    src, manifest = cached_sqlite_store("seed")
    db = tmp_path / "jobs.sqlite"
    db.write_bytes(src.read_bytes())
    conn = sqlite3.connect(db)
    conn.execute("insert into apscheduler_jobs values ('torn', 1767225600.0, x'80059501')")
    conn.commit()
    conn.close()
    code, out, err = run(["jobs", "--url", f"sqlite:///{db}"])
    assert (code, err) == (0, "")
    torn = [line for line in out.splitlines() if line.startswith("torn ")]
    assert len(torn) == 1 and "undecodable: " in torn[0] and torn[0].rstrip().endswith("undecodable")
    assert len(out.splitlines()) == 1 + len(manifest["ids"]) + 1


@pytest.mark.postgres
def test_postgres_undecodable_row_and_missing_column(pg_url: str) -> None:
    """The same on PostgreSQL: ``jobs`` lists an undecodable row; a table without
    ``next_run_time`` reads as in SQLite, in every command."""
    import sqlalchemy as sa
    from apscheduler.job import Job
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    from tests.conftest import FROZEN_NOW

    sched = BackgroundScheduler()
    store = SQLAlchemyJobStore(url=pg_url)
    store.start(sched, "default")
    trigger = IntervalTrigger(minutes=5, start_date=FROZEN_NOW)
    job = Job(sched, id="ok", func=print, trigger=trigger, executor="default", args=(), kwargs={}, name="ok",
              misfire_grace_time=1, coalesce=True, max_instances=1, next_run_time=FROZEN_NOW)  # fmt: skip
    store.add_job(job)
    with store.engine.begin() as conn:
        conn.execute(store.jobs_t.insert(), [{"id": "torn", "next_run_time": 1.0, "job_state": b"\x80\x05\x95"}])
    store.shutdown()
    code, out, err = run(["jobs", "--url", pg_url])
    assert (code, err) == (0, "") and "undecodable" in out and len(out.splitlines()) == 3

    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE apscheduler_jobs"))
        conn.execute(sa.text("CREATE TABLE apscheduler_jobs (id varchar(191) PRIMARY KEY, job_state bytea)"))
    engine.dispose()
    errors = set()
    for command in (["jobs"], ["history"], ["pause", "x", "--yes"]):
        code, out, err = run([*command, "--url", pg_url])
        assert code == 3 and "no such column next_run_time (see --table)" in err and "\n" not in err[:-1], err
        errors.add(err)
    assert len(errors) == 1
    code, out, err = run(["check", "--url", pg_url])
    assert code == 2 and "no such column next_run_time (see --table)" in out
