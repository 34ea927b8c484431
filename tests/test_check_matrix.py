"""``schedtui check`` exit codes and output, with the clock passed in.

Stores are written by real APScheduler (tests/fixtures); the clock is a FixedClock set
relative to the fixture's deterministic ``now``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import socket
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fixtures.factory import DEFAULT_NOW, sqlite_store
from schedtui.cli import cmd_check
from schedtui.cli.app import main
from schedtui.core.clock import FixedClock

NOW = datetime.fromisoformat(DEFAULT_NOW)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch):
    """Set the CLI's clock: ``at(seconds_after_fixture_now)``."""

    def set_clock(seconds: float = 0.0) -> FixedClock:
        clock = FixedClock(NOW + timedelta(seconds=seconds))
        monkeypatch.setattr(cmd_check, "CLOCK", clock)
        return clock

    return set_clock


@pytest.fixture
def seed(tmp_path: Path) -> tuple[str, dict]:
    path, manifest = sqlite_store(tmp_path, "seed")
    return f"sqlite:///{path}", manifest


def test_and_trigger_hazard_is_confirmed_by_apscheduler_itself() -> None:
    """The hazard check's premise, shown on APScheduler's own AndTrigger in a child process:
    after the first fire time, computing the next one never returns."""
    import subprocess
    import sys

    code = (
        "from datetime import datetime, timezone\n"
        "from apscheduler.triggers.combining import AndTrigger\n"
        "from apscheduler.triggers.cron import CronTrigger\n"
        "t = AndTrigger([CronTrigger(hour='*/2', timezone='UTC'),\n"
        "                CronTrigger(day_of_week='mon-fri', hour='8-18', timezone='UTC')])\n"
        "first = t.get_next_fire_time(None, datetime(2026, 3, 2, 12, tzinfo=timezone.utc))\n"
        "print(first, flush=True)\n"
        "t.get_next_fire_time(first, first)\n"
        "print('returned', flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("2026-03-02 12:00:00")
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=3)
    finally:
        proc.kill()
        proc.wait()


def _cleanup_due(manifest: dict) -> datetime:
    job = next(j for j in manifest["jobs"] if j["id"] == "cleanup_temp")
    return datetime.fromisoformat(job["next_run_time"])


def _sha(url: str) -> str:
    return hashlib.sha256(Path(url.removeprefix("sqlite:///")).read_bytes()).hexdigest()


def test_on_time_prints_the_seed_tree(seed, at, capsys) -> None:
    url, manifest = seed
    at(-60)
    before = _sha(url)
    code, out, _ = run(["check", "--detailed", "--url", url], capsys)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("✓ scheduler 3 tasks, none overdue")
    assert "└─ Tasks: 3 total, 3 active, 0 paused" in lines
    assert "└─ Upcoming Tasks (Next 3):" in lines
    assert any("database_backup: Daily at 2:00 AM UTC → in" in line for line in lines)
    assert any("cleanup_temp: Every 6 hours → in 1m" in line for line in lines)
    assert any("report_gen: Weekly on Monday" in line for line in lines)
    assert _sha(url) == before, "a read command changed the database file"


def test_plain_status_line_and_perfdata(seed, at, capsys) -> None:
    url, _ = seed
    at(-60)
    code, out, _ = run(["check", "--url", url, "--perfdata"], capsys)
    assert code == 0
    line = out.strip()
    assert line.startswith("SCHEDTUI OK - ")
    assert "| " in line and "'jobs'=3" in line and "'overdue'=0;0;0" in line


def test_late_is_warning_and_overdue_is_critical(seed, at, capsys) -> None:
    url, manifest = seed
    due = _cleanup_due(manifest)
    at((due - NOW).total_seconds() + 30)  # within the 60 s floor
    code, out, _ = run(["check", "--detailed", "--url", url], capsys)
    assert code == 1, out
    assert "Late Tasks (1)" in out and "cleanup_temp" in out
    code, _, _ = run(["check", "--url", url, "--critical-only"], capsys)
    assert code == 0, "--critical-only passes on WARNING"

    at((due - NOW).total_seconds() + 600)
    code, out, _ = run(["check", "--detailed", "--url", url], capsys)
    assert code == 2
    assert "Overdue Tasks" in out and "overdue by 10m" in out
    code, _, _ = run(["check", "--url", url, "--critical-only"], capsys)
    assert code == 2
    # a bigger floor turns overdue back into late
    code, _, _ = run(["check", "--url", url, "--grace-floor", "3600"], capsys)
    assert code == 1


def test_paused_jobs_are_fine(tmp_path: Path, at, capsys) -> None:
    path, manifest = sqlite_store(tmp_path, "catalog")
    paused = [j["id"] for j in manifest["jobs"] if j["paused"]]
    assert paused
    at(-10 * 365 * 86400)  # long before anything is due
    code, out, _ = run(["check", "--json", "--url", f"sqlite:///{path}"], capsys)
    data = json.loads(out)
    states = {j["id"]: j["state"] for j in data["jobs"]}
    assert all(states[i] == "paused" for i in paused)
    assert {j["state"] for j in data["jobs"]} <= {"paused", "on_time"}
    # The catalog's one and-trigger is a real APScheduler 3.x hazard (its AndTrigger spins
    # forever once the children disagree); it is the only WARNING.
    sched = next(c for c in data["components"] if c["name"] == "scheduler")
    assert sched["data"]["hazards"] == ["and_cron_interval"]
    assert code == 1 and data["status"] == "WARNING"
    assert [c["name"] for c in data["components"] if c["status"] != "OK"] == ["scheduler"]


def test_empty_table_is_warning(tmp_path: Path, at, capsys) -> None:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    url = f"sqlite:///{tmp_path}/empty.sqlite"
    store = SQLAlchemyJobStore(url=url)
    store.start(None, "default")  # APScheduler creates its table
    store.shutdown()
    at(0)
    code, out, _ = run(["check", "--url", url], capsys)
    assert code == 1 and "no jobs" in out


def test_no_table_and_unreachable_are_critical(tmp_path: Path, at, capsys) -> None:
    db = tmp_path / "other.sqlite"
    sqlite3.connect(db).execute("create table t (x)").connection.commit()
    at(0)
    code, out, _ = run(["check", "--url", f"sqlite:///{db}"], capsys)
    assert code == 2 and "not found" in out
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, _ = run(["check", "--json", "--url", f"postgresql://u:topsecret@127.0.0.1:{port}/x"], capsys)
    data = json.loads(out)
    assert code == 2 and data["status"] == "CRITICAL" and "topsecret" not in out


class _Hostile:
    def __reduce__(self):  # a pickle that would run a shell command if loaded naively
        return (os.system, (f"touch {_Hostile.marker}",))

    marker = ""


def test_undecodable_row_is_warning_and_nothing_runs(seed, at, capsys, tmp_path: Path) -> None:
    url, _ = seed
    marker = tmp_path / "pwned"
    _Hostile.marker = str(marker)
    evil = pickle.dumps(_Hostile(), protocol=5)
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO apscheduler_jobs (id, next_run_time, job_state) VALUES (?, ?, ?)",
            ("evil", NOW.timestamp() + 3600, evil),
        )
    at(-60)
    code, out, _ = run(["check", "--json", "--url", url], capsys)
    data = json.loads(out)
    assert code == 1 and data["status"] == "WARNING"
    jobstore = next(c for c in data["components"] if c["name"] == "jobstore")
    assert jobstore["status"] == "WARNING"
    assert [u["id"] for u in jobstore["data"]["undecodable"]] == ["evil"]
    evil_job = next(j for j in data["jobs"] if j["id"] == "evil")
    assert evil_job["state"] == "undecodable" and evil_job["finding"]["code"]
    assert len([j for j in data["jobs"] if j["finding"] is None]) == 3, "the other rows still decode"
    assert not marker.exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("select count(*) from apscheduler_jobs").fetchone()[0] == 4


def test_bad_arguments_are_unknown(seed, capsys) -> None:
    url, _ = seed
    assert run(["check", "--url", url, "--upcoming", "-1"], capsys)[0] == 3
    assert run(["check", "--url", url, "--what"], capsys)[0] == 3


def test_json_schema(seed, at, capsys) -> None:
    url, _ = seed
    at(-60)
    code, out, _ = run(["check", "--json", "--url", url], capsys)
    data = json.loads(out)
    assert data["schema"] == "schedtui.check/1"
    assert set(data) >= {"status", "exit_code", "summary", "checked_at", "target", "components", "jobs"}
    assert {c["name"] for c in data["components"]} >= {"scheduler", "jobstore", "database"}
    job = next(j for j in data["jobs"] if j["id"] == "database_backup")
    assert job["name"] == "Daily Database Backup"
    assert job["trigger"] == "Daily at 2:00 AM UTC"
    assert job["trigger_kind"] == "cron" and job["timezone"] == "UTC"
    assert job["state"] == "on_time" and job["coalesce"] is True and job["max_instances"] == 1


def test_jobs_command(seed, at, capsys) -> None:
    url, _ = seed
    at(-60)
    code, out, _ = run(["jobs", "--url", url], capsys)
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["ID", "NAME", "TRIGGER"]
    assert "Daily Database Backup" in out and "Every 6 hours" in out
    code, out, _ = run(["jobs", "--json", "--url", url], capsys)
    data = json.loads(out)
    assert data["schema"] == "schedtui.jobs/1" and len(data["jobs"]) == 3


def test_ascii_fallback(seed, at, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = seed
    at(-60)
    monkeypatch.setenv("SCHEDTUI_ASCII", "1")
    code, out, _ = run(["check", "--detailed", "--url", url], capsys)
    assert code == 0
    out.encode("ascii")
    assert out.startswith("[OK] scheduler") and "`- Tasks:" in out and "->" in out


def _table_digest(url: str, schema: str | None = None) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    q = engine.dialect.identifier_preparer.quote
    table = f"{q(schema)}.apscheduler_jobs" if schema else "apscheduler_jobs"
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"select id, next_run_time, job_state from {table} order by id")).all()
    engine.dispose()
    h = hashlib.sha256()
    for r in rows:
        h.update(repr((r[0], r[1], bytes(r[2]))).encode())
    return h.hexdigest()


def _mysql_writes(url: str, schema: str | None) -> tuple[object, ...]:
    """What the server says was written: its statement counters (every session) and the
    table's checksum and status."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    db = schema or sa.engine.make_url(url).database
    with engine.connect() as conn:
        counters = tuple(
            conn.execute(
                sa.text(
                    "SHOW GLOBAL STATUS WHERE variable_name IN "
                    "('Com_insert', 'Com_update', 'Com_delete', 'Com_replace', 'Com_alter_table', 'Com_create_table')"
                )
            ).all()
        )
        checksum = conn.execute(sa.text(f"CHECKSUM TABLE `{db}`.apscheduler_jobs EXTENDED")).all()
        status = conn.execute(sa.text(f"SHOW TABLE STATUS FROM `{db}` LIKE 'apscheduler_jobs'")).mappings().one()
    engine.dispose()
    return counters, tuple(checksum), status["Update_time"], status["Rows"]


@pytest.mark.parametrize("schema", [None, "ops"])
def test_server_reads(server_url: str, at, capsys, schema: str | None) -> None:
    """PostgreSQL and MariaDB: check, jobs and check --detailed read every job, and
    nothing is written (the table's content; on MariaDB also the server's own counters)."""
    import sqlalchemy as sa

    from fixtures.factory import make_store

    mysql = server_url.startswith("mysql")
    url = server_url
    if schema and mysql:
        # a MySQL schema is a database: one of its own beside the test's, dropped afterwards
        schema = f"{sa.engine.make_url(url).database}_ops"
    if schema:
        eng = sa.create_engine(url)
        with eng.begin() as conn:
            conn.execute(sa.text(f"create {'database' if mysql else 'schema'} {schema}"))
        eng.dispose()
    try:
        manifest = make_store(url, "catalog", schema=schema)
        before = _table_digest(url, schema)
        writes = _mysql_writes(url, schema) if mysql else None
        at(-10 * 365 * 86400)
        argv = ["--url", url] + (["--schema", schema] if schema else [])
        code, out, _ = run(["check", "--json", *argv], capsys)
        data = json.loads(out)
        assert code == 1 and "and-trigger" in data["summary"], data["summary"]
        assert len(data["jobs"]) == len(manifest["jobs"])
        assert all(j["finding"] is None for j in data["jobs"])
        db = next(c for c in data["components"] if c["name"] == "database")
        assert db["data"]["dialect"] == ("mysql" if mysql else "postgresql")
        code, out, _ = run(["jobs", *argv], capsys)
        assert code == 0 and "cron_last_day" in out
        code, out, _ = run(["check", "--detailed", *argv], capsys)
        assert code == 1 and "Trigger hazards (1)" in out
        if mysql:
            assert _mysql_writes(url, schema) == writes, "reading wrote to the server"
        assert _table_digest(url, schema) == before, "reading changed the table"
    finally:
        if schema and mysql:
            eng = sa.create_engine(url)
            with eng.begin() as conn:
                conn.execute(sa.text(f"drop database if exists {schema}"))
            eng.dispose()


#: ~90 bytes whose dict key is a 40-level shared tuple DAG: hours of hashing in the C unpickler.
HASH_BOMB = b"\x80\x02)" + b"2\x86" * 40 + b"q\x00}h\x00K\x01s."


def _with_hash_bombs(url: str, n: int = 3) -> None:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        for i in range(n):
            conn.execute(
                "INSERT INTO apscheduler_jobs (id, next_run_time, job_state) VALUES (?, ?, ?)",
                (f"bomb{i}", NOW.timestamp() + 3600, HASH_BOMB),
            )


def test_decode_budget_bounds_check_on_hash_bombs(seed, at, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    url, _ = seed
    _with_hash_bombs(url)
    monkeypatch.setenv("SCHEDTUI_DECODE_BUDGET", "600")  # the option overrides it
    at(-60)
    t0 = time.monotonic()
    code, out, err = run(["check", "--json", "--decode-budget", "2", "--url", url], capsys)
    elapsed = time.monotonic() - t0
    assert elapsed < 2 + 5, elapsed  # the budget, plus starting the decode workers
    data = json.loads(out)
    assert code == 1 and data["status"] == "WARNING", err  # undecodable rows: WARNING, never UNKNOWN
    jobstore = next(c for c in data["components"] if c["name"] == "jobstore")
    undecodable = {u["id"]: u["code"] for u in jobstore["data"]["undecodable"]}
    assert set(undecodable) == {"bomb0", "bomb1", "bomb2"}
    assert set(undecodable.values()) <= {"too-slow", "time-budget"}
    assert len([j for j in data["jobs"] if j["finding"] is None]) == 3, "the other rows still decode"
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        assert conn.execute("select count(*) from apscheduler_jobs").fetchone()[0] == 6


def test_a_small_decode_budget_reports_the_rest_as_time_budget(seed, at, capsys, monkeypatch) -> None:
    url, _ = seed
    _with_hash_bombs(url)
    monkeypatch.setenv("SCHEDTUI_DECODE_BUDGET", "600")
    at(-60)
    code, out, _ = run(["check", "--json", "--decode-budget", "0.3", "--url", url], capsys)
    data = json.loads(out)
    codes = {j["id"]: (j["finding"] or {}).get("code") for j in data["jobs"]}
    # No bomb gets its 1 s per row: the whole read had 0.3 s.
    assert [codes[f"bomb{i}"] for i in range(3)] == ["time-budget"] * 3
    assert code == 1


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf"])
def test_bad_decode_budget_is_a_usage_error(seed, capsys, monkeypatch, value: str) -> None:
    url, _ = seed
    monkeypatch.delenv("SCHEDTUI_DECODE_BUDGET", raising=False)
    code, _, err = run(["check", "--url", url, "--decode-budget", value], capsys)
    assert code == 3 and "--decode-budget" in err  # check: UNKNOWN
    code, _, err = run(["jobs", "--url", url, f"--decode-budget={value}"], capsys)
    assert code == 2 and "--decode-budget" in err
    assert "SCHEDTUI_DECODE_BUDGET" not in os.environ


def test_decode_budget_default_in_the_help_is_the_decoder_s() -> None:
    from schedtui.cli.common import DECODE_BUDGET_DEFAULT
    from schedtui.core.decode import DEFAULT_BUDGET

    assert DECODE_BUDGET_DEFAULT == DEFAULT_BUDGET
