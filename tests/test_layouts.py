"""Other programs' stores as they are: an Aegis Stack app, a django-apscheduler project.

Every database here was written by the real packages (``tests/fixtures/layouts.py``);
expectations come from the manifests and from plain SQL on the tables, and every check
leaves the database unchanged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from schedtui.cli.app import main
from schedtui.core.checker import run_check
from schedtui.core.clock import FixedClock
from schedtui.core.control import DirectWriter
from schedtui.core.errors import SchedtuiError
from schedtui.core.health import Status
from schedtui.core.history import AEGIS, DJANGO, TableHistory, detect_history
from schedtui.core.model import Target
from schedtui.core.store.db import read_engine, write_engine
from schedtui.core.store.discover import discover_target, find_job_stores
from schedtui.core.store.reader import read_jobs
from tests.fixtures.layouts import LayoutUnavailable, build_layout, cached_layout, django_load

DJANGO_JOBS = "django_apscheduler_djangojob"


def _layout(kind: str) -> tuple[Path, dict[str, Any]]:
    try:
        return cached_layout(kind)
    except LayoutUnavailable as exc:
        pytest.skip(str(exc))


def _server_layout(kind: str, url: str, tmp_path: Path) -> dict[str, Any]:
    """The layout written into a database server by the real app (skip when it cannot be)."""
    try:
        return build_layout(kind, url, tmp_path / f"{kind}.json")
    except LayoutUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def aegis(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    db, manifest = _layout("aegis")
    copy = tmp_path / "aegis.db"
    shutil.copyfile(db, copy)
    return copy, manifest


@pytest.fixture
def django_db(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    db, manifest = _layout("django")
    copy = tmp_path / "django.db"
    shutil.copyfile(db, copy)
    return copy, manifest


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _at(manifest: dict[str, Any], seconds: float) -> FixedClock:
    return FixedClock(datetime.fromisoformat(manifest["stopped_at"]) + timedelta(seconds=seconds))


def _count(url: str, sql: str, **params: Any) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql), params).scalar_one())
    finally:
        engine.dispose()


def _table_sums(url: str) -> dict[str, str]:
    """A checksum of every row of every table (PostgreSQL, MariaDB: nothing written)."""
    engine = sa.create_engine(url)
    out: dict[str, str] = {}
    if url.startswith("mysql"):
        try:
            with engine.connect() as conn:
                names = conn.execute(
                    sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
                ).scalars()
                for name in list(names):
                    out[str(name)] = str(conn.execute(sa.text(f"CHECKSUM TABLE `{name}` EXTENDED")).one()[1])
        finally:
            engine.dispose()
        return out
    try:
        with engine.connect() as conn:
            for schema, table in conn.execute(
                sa.text(
                    "SELECT table_schema, table_name FROM information_schema.tables "
                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                )
            ):
                q = f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{schema}\".\"{table}\" t"
                out[f"{schema}.{table}"] = conn.execute(sa.text(q)).scalar_one()
    finally:
        engine.dispose()
    return out


# ------------------------------------------------------------------------------ Aegis
def _aegis_expectations(url: str, table: str, now: datetime) -> tuple[int, int]:
    since = (now - timedelta(hours=24)).replace(tzinfo=None)
    runs = _count(url, f"SELECT count(*) FROM {table} WHERE status != 'running' AND started_at >= :s", s=since)
    failed = _count(url, f"SELECT count(*) FROM {table} WHERE status = 'failed' AND started_at >= :s", s=since)
    return runs, failed


def _check_aegis(url: str, manifest: dict[str, Any], table: str) -> None:
    clock = _at(manifest, 2)
    report = run_check(Target(url), clock=clock)
    assert report.snapshot is not None
    assert sorted(j.id for j in report.snapshot.jobs) == manifest["jobs"] and len(manifest["jobs"]) == 9
    assert not report.snapshot.undecodable
    assert manifest["app_tables"] == 58 and manifest["apscheduler"] == "3.10.4"
    assert set(manifest["statuses"]) == {"running", "success", "failed", "missed"}
    beat = report.component("heartbeat")
    assert beat is not None and beat.status is Status.OK
    assert "heartbeat: Aegis scheduler_heartbeat job" in beat.summary
    hist = report.component("history")
    assert hist is not None
    assert hist.data["source"]["kind"] == "aegis"
    runs, failed = _aegis_expectations(url, table, clock())
    assert (hist.data["runs_24h"], hist.data["failures_24h"]) == (runs, failed)
    assert "history: Aegis" in hist.summary
    # the last failure of sync_inventory is its ConnectionError (or a restart closing it)
    assert any(f["job_id"] == "sync_inventory" for f in hist.data["failing_jobs"])
    # the explicit older rows: 30 hourly cleanups (24 within the window) + the manual run
    assert hist.data["jobs"]["cleanup_expired_sessions"]["runs"] == 31
    assert report.summary.startswith("history:") or "Scheduler running" in report.summary

    # gone quiet: 5 minutes later the heartbeat job is stale
    late = run_check(Target(url), clock=_at(manifest, 300))
    beat = late.component("heartbeat")
    assert beat is not None and beat.status is Status.CRITICAL
    assert "Scheduler not running" in beat.summary
    sched = late.component("scheduler")
    assert sched is not None and sched.summary.startswith("Scheduler not running")


def test_aegis_sqlite_check_reads_its_own_history_and_writes_nothing(aegis: tuple[Path, dict[str, Any]]) -> None:
    db, manifest = aegis
    before = _sha(db)
    _check_aegis(f"sqlite:///{db}", manifest, "job_execution")
    assert _sha(db) == before


def test_aegis_statuses_mapped(aegis: tuple[Path, dict[str, Any]]) -> None:
    db, manifest = aegis
    engine = read_engine(Target(f"sqlite:///{db}"))
    try:
        source = detect_history(engine, Target(f"sqlite:///{db}"))
        assert source == TableHistory(AEGIS, None) and source.label == "Aegis job_execution"
        runs = source.recent_runs(engine, limit=1000)
        assert len(runs) == sum(manifest["statuses"].values())
        outcomes = {r.outcome for r in runs}
        assert outcomes == {"running", "success", "error", "unfinished", "missed"}
        missed = [r for r in runs if r.outcome == "missed"]
        assert all(r.duration_s == 0 and r.job_name == r.job_id for r in missed)
        manual = [r for r in runs if r.scheduled_at is None]
        assert [r.job_id for r in manual] == ["cleanup_expired_sessions"]
        assert all(r.started_at is not None and r.started_at.utcoffset() == timedelta(0) for r in runs)
        restarted = [r for r in runs if r.outcome == "unfinished"]
        assert restarted and all((r.error_message or "").startswith("Run did not complete") for r in restarted)
        stats = source.job_stats(engine, "database_backup")
        assert stats is not None and stats.runs == 10 and stats.failures == 1
        assert stats.last_failure is not None and "No space left" in (stats.last_failure.error_message or "")
        assert stats.p50_s == pytest.approx(40.988)
    finally:
        engine.dispose()


def test_aegis_history_command(aegis: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    db, _ = aegis
    with pytest.raises(SystemExit) as exc:
        main(["history", "--url", f"sqlite:///{db}", "-n", "5"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "history: Aegis job_execution"
    with pytest.raises(SystemExit):
        main(["history", "database_backup", "--url", f"sqlite:///{db}", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == {"kind": "aegis", "label": "Aegis job_execution"}
    assert data["stats"]["database_backup"]["runs"] == 10


def test_aegis_console_data(aegis: tuple[Path, dict[str, Any]]) -> None:
    from schedtui.tui.data import Feed

    db, manifest = aegis
    before = _sha(db)
    feed = Feed(Target(f"sqlite:///{db}"), clock=_at(manifest, 2))
    try:
        frame = feed.fetch()
        assert frame.error is None and frame.companion is True
        assert frame.history_source == "Aegis job_execution"
        assert frame.heartbeat is not None and frame.heartbeat.fresh
        assert frame.heartbeat.source == "Aegis scheduler_heartbeat job" and not frame.heartbeat.commands
        assert frame.runs_24h is not None and frame.runs_24h > 0
        hist = feed.history("database_backup")
        assert hist.error is None and hist.source == "Aegis job_execution" and hist.total == 10
        assert hist.last_failure is not None
    finally:
        feed.close()
    assert _sha(db) == before


@pytest.mark.postgres
def test_aegis_postgres(pg_url: str, tmp_path: Path) -> None:
    manifest = _server_layout("aegis", pg_url, tmp_path)
    assert manifest["schema"] == "scheduler"
    before = _table_sums(pg_url)
    _check_aegis(pg_url, manifest, "scheduler.job_execution")
    engine = read_engine(Target(pg_url))
    try:
        source = detect_history(engine, Target(pg_url))
        assert source is not None and source.label == "Aegis scheduler.job_execution"
    finally:
        engine.dispose()
    assert _table_sums(pg_url) == before


# ------------------------------------------------------------------------- django-apscheduler
def _check_django(url: str, manifest: dict[str, Any]) -> None:
    target = Target(url, table=DJANGO_JOBS)
    clock = _at(manifest, 0.5)
    report = run_check(target, clock=clock)
    snap = report.snapshot
    assert snap is not None and sorted(j.id for j in snap.jobs) == manifest["jobs"]
    assert not snap.undecodable
    for job in snap.jobs:  # the datetime column read as the same instant as the pickle
        assert job.next_run_time == job.state_next_run_time and not job.notes, job
    assert [j.id for j in snap.jobs if j.next_run_time is None] == manifest["paused"]
    hist = report.component("history")
    assert hist is not None and hist.data["source"]["kind"] == "django"
    st = manifest["statuses"]
    assert hist.data["outcomes_24h"].get("max_instances", 0) == st["Max instances!"]
    assert hist.data["outcomes_24h"].get("missed", 0) == st["Missed!"]
    assert hist.data["failures_24h"] == st["Error!"]
    assert hist.data["running"] == st["Started execution"]
    assert [f["job_id"] for f in hist.data["failing_jobs"]] == ["import_feed"]
    sched = report.component("scheduler")
    assert sched is not None and sched.status is Status.OK


def test_django_sqlite_check_and_history(django_db: tuple[Path, dict[str, Any]]) -> None:
    db, manifest = django_db
    assert manifest["django_apscheduler"] and manifest["vendor"] == "sqlite"
    before = _sha(db)
    _check_django(f"sqlite:///{db}", manifest)
    engine = read_engine(Target(f"sqlite:///{db}", table=DJANGO_JOBS))
    try:
        source = detect_history(engine, Target(f"sqlite:///{db}", table=DJANGO_JOBS))
        assert source == TableHistory(DJANGO, None)
        runs = source.recent_runs(engine, "send_reminders")
        assert runs and all(r.outcome == "success" and r.duration_s is not None for r in runs)
        failed = source.recent_runs(engine, failed_only=True)
        assert {r.job_id for r in failed} == {"import_feed"}
        assert "unexpected end of document" in (failed[0].error_message or "")
    finally:
        engine.dispose()
    assert _sha(db) == before


def _control_django(url: str, manifest: dict[str, Any], tmp_path: Path) -> None:
    """Resume and pause through a compare-and-swap on the datetime column; what Django
    and django-apscheduler then load is what was meant."""
    target = Target(url, table=DJANGO_JOBS)
    clock = _at(manifest, 0.5)
    engine = write_engine(target)
    try:
        writer = DirectWriter(engine, target, clock=clock)
        assert writer.datetime
        resumed = writer.apply("weekly_newsletter", "resume")
        assert resumed.status == "applied", resumed
        assert resumed.next_run_time is not None and resumed.next_run_time > clock()
        paused = writer.apply("monthly_invoices", "pause")
        assert paused.status == "applied", paused
        # a stale row (the scheduler wrote meanwhile) changes nothing
        stale = writer.read("send_reminders")
        assert stale is not None
        fresh_state = stale.job_state + b""
        with engine.begin() as conn:
            conn.execute(
                sa.text(f"UPDATE {DJANGO_JOBS} SET job_state = :s WHERE id = 'send_reminders'"),
                {"s": fresh_state + b"\x00"},
            )
        assert writer._cas(stale, None, stale.job_state) == 0
        with engine.begin() as conn:
            conn.execute(
                sa.text(f"UPDATE {DJANGO_JOBS} SET job_state = :s WHERE id = 'send_reminders'"), {"s": fresh_state}
            )
    finally:
        engine.dispose()
    loaded = django_load(url, tmp_path / "loaded.json")["jobs"]
    nl = loaded["weekly_newsletter"]
    assert nl["column"] is not None and datetime.fromisoformat(nl["column"]) == datetime.fromisoformat(nl["pickled"])
    assert datetime.fromisoformat(nl["column"]) == resumed.next_run_time
    assert loaded["monthly_invoices"] == {"column": None, "pickled": None}
    snap = read_jobs(target, clock=clock)
    by_id = {j.id: j for j in snap.jobs}
    for job_id, row in loaded.items():  # our reader: the same instants as Django's ORM
        want = None if row["column"] is None else datetime.fromisoformat(row["column"])
        assert by_id[job_id].next_run_time == want, job_id
        assert not by_id[job_id].notes


def test_django_job_control_sqlite(django_db: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    db, manifest = django_db
    _control_django(f"sqlite:///{db}", manifest, tmp_path)


def test_django_local_time_column_is_refused(django_db: tuple[Path, dict[str, Any]]) -> None:
    """A USE_TZ = False project stores local times: the column then disagrees with the
    pickle, and nothing is edited."""
    db, manifest = django_db
    conn = __import__("sqlite3").connect(db)
    conn.execute(f"UPDATE {DJANGO_JOBS} SET next_run_time = '2026-04-01 08:00:00' WHERE id = 'monthly_invoices'")
    conn.commit()
    conn.close()
    before = _sha(db)
    target = Target(f"sqlite:///{db}", table=DJANGO_JOBS)
    engine = write_engine(target)
    try:
        result = DirectWriter(engine, target, clock=_at(manifest, 0.5)).apply("monthly_invoices", "pause")
    finally:
        engine.dispose()
    assert result.status == "refused" and "USE_TZ" in result.message
    assert _sha(db) == before


def test_django_console_data(django_db: tuple[Path, dict[str, Any]]) -> None:
    from schedtui.tui.data import Feed

    db, manifest = django_db
    feed = Feed(Target(f"sqlite:///{db}", table=DJANGO_JOBS), clock=_at(manifest, 0.5))
    try:
        frame = feed.fetch()
        assert frame.error is None and frame.snapshot is not None and len(frame.snapshot.jobs) == 6
        assert frame.history_source == "django-apscheduler django_apscheduler_djangojobexecution"
        second = feed.fetch()  # the incremental refresh of a datetime column
        assert second.snapshot is not None and not second.changed
        hist = feed.history("import_feed")
        assert hist.runs and hist.runs[0].outcome == "error"
    finally:
        feed.close()


def test_django_server(server_url: str, tmp_path: Path) -> None:
    """PostgreSQL (timestamptz) and MariaDB (datetime(6), Django's MySQL backend on PyMySQL)."""
    url = server_url
    manifest = _server_layout("django", url, tmp_path)
    assert manifest["vendor"] == ("mysql" if url.startswith("mysql") else "postgresql")
    before = _table_sums(url)
    _check_django(url, manifest)
    target = Target(url, table=DJANGO_JOBS)
    reader_snap = read_jobs(target, clock=_at(manifest, 0.5))
    assert len(reader_snap.jobs) == len(manifest["jobs"])
    assert _table_sums(url) == before
    _control_django(url, manifest, tmp_path)


# ------------------------------------------------------------------------------ discovery
def test_discovery_opens_the_only_store(
    django_db: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCHEDTUI_TABLE", raising=False)
    db, _ = django_db
    target = discover_target(Target(f"sqlite:///{db}"))
    assert target.table == DJANGO_JOBS
    with pytest.raises(SystemExit):
        main(["check", "--detailed", "--url", f"sqlite:///{db}"])
    out = capsys.readouterr().out
    assert f"Table: {DJANGO_JOBS} (found in the database: no --table given)" in out
    assert "history: django-apscheduler" in out


def test_discovery_lists_several_stores(
    aegis: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCHEDTUI_TABLE", raising=False)
    db, _ = aegis
    conn = __import__("sqlite3").connect(db)
    conn.execute("CREATE TABLE reports_jobs AS SELECT * FROM apscheduler_jobs")
    conn.commit()
    conn.close()
    assert [s.name for s in find_job_stores(Target(f"sqlite:///{db}"))] == ["apscheduler_jobs", "reports_jobs"]
    with pytest.raises(SchedtuiError) as err:
        discover_target(Target(f"sqlite:///{db}"))
    assert "apscheduler_jobs, reports_jobs" in err.value.message
    with pytest.raises(SystemExit) as exc:
        main(["jobs", "--url", f"sqlite:///{db}"])
    assert exc.value.code == 3
    assert "2 job stores" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["check", "--url", f"sqlite:///{db}"])
    assert exc.value.code == 3
    assert "choose one with --table" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["jobs", "--url", f"sqlite:///{db}", "--table", "reports_jobs"])
    assert exc.value.code == 0


@pytest.mark.postgres
def test_discovery_postgres_schemas(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA billing"))
        conn.execute(
            sa.text("CREATE TABLE billing.jobs (id varchar(191) primary key, next_run_time float, job_state bytea)")
        )
        conn.execute(sa.text("CREATE TABLE public.unrelated (id int, next_run_time float)"))
    engine.dispose()
    assert [s.name for s in find_job_stores(Target(pg_url))] == ["billing.jobs"]
    target = discover_target(Target(pg_url))
    assert (target.schema, target.table) == ("billing", "jobs")


def test_several_stores_shown_together(
    aegis: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from schedtui.cli import cmd_check

    db, manifest = aegis
    conn = __import__("sqlite3").connect(db)
    conn.execute("CREATE TABLE reports_jobs AS SELECT * FROM apscheduler_jobs WHERE id LIKE 's%'")
    conn.commit()
    conn.close()
    monkeypatch.setattr(cmd_check, "CLOCK", _at(manifest, 2))
    url = f"sqlite:///{db}"
    before = _sha(db)
    with pytest.raises(SystemExit) as exc:
        main(["jobs", "--url", url, "--table", "apscheduler_jobs", "--table", "reports_jobs", "--json"])
    assert exc.value.code == 0
    rows = json.loads(capsys.readouterr().out)["jobs"]
    stores = [(r["store"], r["id"]) for r in rows]
    assert len(stores) == 9 + 3 and ("reports_jobs", "scheduler_heartbeat") in stores
    assert ("apscheduler_jobs", "scheduler_heartbeat") in stores
    with pytest.raises(SystemExit) as exc:
        main(["check", "--url", url, "--table", "apscheduler_jobs", "--table", "reports_jobs", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert [s["store"] for s in data["stores"]] == ["apscheduler_jobs", "reports_jobs"]
    assert exc.value.code == data["exit_code"] == max(s["exit_code"] for s in data["stores"])
    assert all(j["store"] == "reports_jobs" for j in data["stores"][1]["jobs"])
    with pytest.raises(SystemExit):
        main(["check", "--url", url, "--table", "apscheduler_jobs", "--table", "reports_jobs", "--perfdata"])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "[apscheduler_jobs]" in line and "[reports_jobs]" in line and "'reports_jobs:jobs'=3" in line
    assert _sha(db) == before


def test_metrics_from_aegis_history(aegis: tuple[Path, dict[str, Any]]) -> None:
    from schedtui.core.metrics import StoreCollector

    db, manifest = aegis
    before = _sha(db)
    collector = StoreCollector(Target(f"sqlite:///{db}"), name="aegis", clock=_at(manifest, 2))
    try:
        got = collector.collect()
    finally:
        collector.close()
    runs = {r.job: r for r in got.runs}
    if "database_backup" in runs:  # the per-job selection takes the upcoming and problem jobs
        assert (runs["database_backup"].successes, runs["database_backup"].failures) == (9, 1)
    assert "sync_inventory" in runs and runs["sync_inventory"].failures >= 2
    assert got.scheduler_state == "running"
    assert _sha(db) == before
