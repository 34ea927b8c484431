"""APScheduler 4.0.0a6 data stores (experimental, read-only), written by the real pre-release.

Every store is written by ``tests/fixtures/aps4_writer.py`` running in its own
APScheduler 4.0.0a6 environment, with explicit times around ``FROZEN_NOW``; expectations
come from the manifest it returns. SQLite (pickle, JSON and CBOR serializers) and
PostgreSQL (pickle and JSON).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from schedtui.cli.app import main
from schedtui.core.aps4 import READ_ONLY
from schedtui.core.aps4.payload import OPAQUE_TRIGGER
from schedtui.core.aps4.reader import Aps4Reader
from schedtui.core.checker import run_check
from schedtui.core.clock import FixedClock
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.health import Status
from schedtui.core.history import detect_history
from schedtui.core.model import Target
from schedtui.core.store.db import write_engine
from schedtui.core.store.discover import discover_target
from schedtui.core.store.reader import read_jobs
from tests.conftest import FROZEN_NOW, _sa_url
from tests.fixtures import aps4

pytestmark = pytest.mark.timeout(180)
NOW = FROZEN_NOW


def _need_env() -> None:
    if not aps4.available():
        if __import__("os").environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but APScheduler 4.0.0a6 is not installed (python -m tests.fixtures.prepare)")
        pytest.skip("APScheduler 4.0.0a6 not installed (python -m tests.fixtures.prepare)")


@pytest.fixture(scope="module")
def sqlite_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    _need_env()
    out: dict[str, tuple[Path, dict[str, Any]]] = {}
    base = tmp_path_factory.mktemp("aps4")
    for serializer in ("pickle", "json", "cbor"):
        db = base / f"{serializer}.db"
        manifest = aps4.write_store(f"sqlite:///{db}", serializer, NOW.isoformat(), base / f"{serializer}.json")
        out[serializer] = (db, manifest)
    return out


@pytest.fixture(scope="module")
def pg_stores(pg_admin_url: str) -> Iterator[dict[str, tuple[str, dict[str, Any]]]]:
    _need_env()
    admin = sa.create_engine(_sa_url(pg_admin_url), isolation_level="AUTOCOMMIT")
    base = sa.engine.make_url(_sa_url(pg_admin_url))
    names: list[str] = []
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    try:
        for serializer in ("pickle", "json"):
            name = f"schedtui_aps4_{uuid.uuid4().hex[:10]}"
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            names.append(name)
            url = base.set(database=name).render_as_string(hide_password=False)
            tmp = Path(__import__("tempfile").mkdtemp()) / "m.json"
            out[serializer] = (url, aps4.write_store(url, serializer, NOW.isoformat(), tmp))
        yield out
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _same_instant(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.utcoffset() is not None and a.timestamp() == b.timestamp() and a.fold == b.fold


def _assert_schedules(target: Target, manifest: dict[str, Any], serializer: str) -> None:
    snap = Aps4Reader(target, clock=FixedClock(NOW)).read()
    got = {j.id: j for j in snap.jobs}
    assert set(got) == {s["id"] for s in manifest["schedules"]}
    for s in manifest["schedules"]:
        job = got[s["id"]]
        assert job.name == s["task_id"]
        assert job.paused is s["paused"]
        want = None if s["paused"] else _dt(s["next_fire_time"])
        assert _same_instant(job.next_run_time, want), (s["id"], job.next_run_time, want)
        if job.next_run_time is not None:
            assert job.next_run_time.tzname() == "UTC"
        if s["misfire_grace_time"] is not None:
            assert job.misfire_grace_time == s["misfire_grace_time"]
        codes = {n.code: n.message for n in job.notes}
        if s["acquired_by"]:
            expired = _dt(s["acquired_until"]) < NOW  # type: ignore[operator]
            note = codes["aps4-lease-expired" if expired else "aps4-lease"]
            assert note.startswith(f"leased by scheduler {s['acquired_by']} until ")
            assert note.endswith(", expired") is expired
        assert codes["aps4-coalesce"] == f"coalesce policy: {s['coalesce']}"
        if serializer == "pickle":
            assert job.trigger is None and codes["aps4-trigger"] == OPAQUE_TRIGGER
            assert job.args_repr == "<pickled APScheduler 4 value>"
        else:
            kind = {"CronTrigger": "cron", "IntervalTrigger": "interval", "DateTrigger": "date"}[s["kind"]]
            assert job.trigger is not None and job.trigger.kind == kind
            assert job.args_repr == repr(tuple(s["args"])) and job.kwargs_repr == repr(s["kwargs"])
    nightly = got["nightly-report"]
    if serializer != "pickle":
        assert nightly.trigger is not None and nightly.trigger.timezone == "Europe/Berlin"
        assert nightly.trigger.cron_field("hour") == "3" and nightly.trigger.cron_field("minute") == "0"
        poll = got["poll-feeds"].trigger
        assert poll is not None and poll.interval == timedelta(minutes=5)
        once = got["one-off-migration"].trigger
        assert once is not None and _same_instant(once.run_date, NOW + timedelta(hours=48))


@pytest.mark.parametrize("serializer", ["pickle", "json", "cbor"])
def test_sqlite_schedules_read_as_written(
    sqlite_stores: dict[str, tuple[Path, dict[str, Any]]], serializer: str
) -> None:
    db, manifest = sqlite_stores[serializer]
    before = _sha(db)
    target = discover_target(Target(f"sqlite:///{db}"))
    assert target.table == "schedules"
    _assert_schedules(target, manifest, serializer)
    assert _sha(db) == before


@pytest.mark.postgres
@pytest.mark.parametrize("serializer", ["pickle", "json"])
def test_postgres_schedules_read_as_written(pg_stores: dict[str, tuple[str, dict[str, Any]]], serializer: str) -> None:
    url, manifest = pg_stores[serializer]
    target = discover_target(Target(url))
    assert target.table == "schedules"
    _assert_schedules(target, manifest, serializer)


def _check(target: Target) -> Any:
    return run_check(target, clock=FixedClock(NOW))


def _assert_check(target: Target, manifest: dict[str, Any]) -> None:
    report = _check(target)
    comps = {c.name: c for c in report.components}
    sched = comps["scheduler"]
    # derived from the manifest: lateness from next_fire_time and the grace
    late, overdue = set(), set()
    for s in manifest["schedules"]:
        if s["paused"]:
            continue
        lag = (NOW - datetime.fromisoformat(s["next_fire_time"])).total_seconds()
        grace = max(s["misfire_grace_time"] or 0.0, 60.0)
        if lag > grace:
            overdue.add(s["id"])
        elif lag > 2.0:
            late.add(s["id"])
    assert set(sched.data["late"]) == late == {"poll-feeds"}
    assert set(sched.data["overdue"]) == overdue == {"stuck-lease"}
    assert sched.data["paused"] == 1
    leases = comps["leases"]
    assert leases.status is Status.WARNING
    expired = [s for s in manifest["schedules"] if s["acquired_until"] and _dt(s["acquired_until"]) < NOW]  # type: ignore[operator]
    assert [e["id"] for e in leases.data["expired"]] == [s["id"] for s in expired] == ["stuck-lease"]
    assert "schedule stuck-lease leased by scheduler scheduler-B until 2026-03-02T11:55:00Z, expired" in leases.summary
    history = comps["history"]
    assert "APScheduler 4 job_results" in history.summary or any(
        "APScheduler 4 job_results" in line.text for line in history.lines
    )
    assert report.status is Status.CRITICAL


def test_sqlite_check(sqlite_stores: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    db, manifest = sqlite_stores["pickle"]
    before = _sha(db)
    _assert_check(discover_target(Target(f"sqlite:///{db}")), manifest)
    assert _sha(db) == before


def _pg_contents(url: str) -> list[Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1")).all()
                for t in ("metadata", "tasks", "schedules", "jobs", "job_results")
            ]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_check(pg_stores: dict[str, tuple[str, dict[str, Any]]]) -> None:
    url, manifest = pg_stores["pickle"]
    before = _pg_contents(url)
    _assert_check(discover_target(Target(url)), manifest)
    with pytest.raises(SchedtuiError) as exc:
        write_engine(discover_target(Target(url)))
    assert exc.value.message == READ_ONLY
    assert _pg_contents(url) == before


def _assert_history(target: Target, manifest: dict[str, Any]) -> None:
    engine = Aps4Reader(target).engine
    source = detect_history(engine, target)
    assert source is not None and source.kind == "apscheduler4"
    runs = source.recent_runs(engine, limit=100)
    want = {r["job_id"]: r for r in manifest["results"]}
    assert {r.job_id for r in runs} == set(want)
    outcome_map = {"success": "success", "error": "error", "missed_start_deadline": "missed", "abandoned": "unfinished"}
    for run in runs:
        w = want[run.job_id]
        assert run.outcome == outcome_map[w["outcome"]]
        assert _same_instant(run.finished_at, _dt(w["finished_at"]))
        assert _same_instant(run.started_at, _dt(w["started_at"]))
    errors = [r for r in runs if r.outcome == "error"]
    assert len(errors) == 1 and errors[0].error_type in ("ValueError", None)
    summary = source.summary(engine, NOW)
    in_day = [r for r in manifest["results"] if _dt(r["finished_at"]) >= NOW - timedelta(hours=24)]  # type: ignore[operator]
    assert summary.runs_24h == len(in_day)
    assert summary.failures_24h == sum(1 for r in in_day if r["outcome"] in ("error", "abandoned"))
    # the console's events feed and failures overview read the same history
    from schedtui.core.activity import read_activity

    act = read_activity(source, engine, NOW)
    assert (act.window.runs, act.window.failures) == (summary.runs_24h, summary.failures_24h)
    assert sum(act.hourly.runs) == sum(1 for r in in_day if _dt(r["finished_at"]) >= act.hourly.start)  # type: ignore[operator]
    assert {f.job_id for f in act.failures} == {
        r.job_id for r in runs if r.failed and r.finished_at >= act.window.since
    }  # type: ignore[operator]
    assert all(f.last_failure is not None and f.last_failure.failed for f in act.failures)
    assert not act.audit_log and act.recent == source.recent_runs(engine, limit=2000)
    engine.dispose()


def test_sqlite_history(sqlite_stores: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    for serializer in ("pickle", "json"):
        db, manifest = sqlite_stores[serializer]
        before = _sha(db)
        _assert_history(discover_target(Target(f"sqlite:///{db}")), manifest)
        assert _sha(db) == before


@pytest.mark.postgres
def test_postgres_history(pg_stores: dict[str, tuple[str, dict[str, Any]]]) -> None:
    url, manifest = pg_stores["json"]
    _assert_history(discover_target(Target(url)), manifest)


def test_cli_on_sqlite(
    sqlite_stores: dict[str, tuple[Path, dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from schedtui.cli import cmd_check

    monkeypatch.setattr(cmd_check, "CLOCK", FixedClock(NOW))
    db, manifest = sqlite_stores["pickle"]
    url = f"sqlite:///{db}"
    before = _sha(db)
    with pytest.raises(SystemExit) as exc:
        main(["jobs", "--url", url, "--json"])
    assert exc.value.code == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)["jobs"]}
    assert rows["stuck-lease"]["state"] == "overdue" and rows["poll-feeds"]["state"] == "late"
    assert rows["paused-sync"]["state"] == "paused"
    assert rows["nightly-report"]["trigger"] == OPAQUE_TRIGGER
    with pytest.raises(SystemExit) as exc:
        main(["check", "--url", url, "--detailed"])
    out = capsys.readouterr().out
    assert exc.value.code == 2
    assert "schedule stuck-lease leased by scheduler scheduler-B until 2026-03-02T11:55:00Z, expired" in out
    with pytest.raises(SystemExit) as exc:
        main(["history", "--url", url])
    out = capsys.readouterr().out
    assert exc.value.code in (0, None) and "APScheduler 4 job_results" in out
    assert manifest["results"][0]["job_id"] in out
    for argv in (["pause", "nightly-report"], ["resume", "paused-sync"]):
        with pytest.raises(SystemExit) as exc:
            main([*argv, "--url", url, "--yes"])
        assert exc.value.code != 0
        assert READ_ONLY in capsys.readouterr().err
    assert _sha(db) == before


def test_writes_refused(sqlite_stores: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    db, _ = sqlite_stores["json"]
    before = _sha(db)
    with pytest.raises(SchedtuiError) as exc:
        write_engine(discover_target(Target(f"sqlite:///{db}")))
    assert exc.value.message == READ_ONLY and exc.value.kind is ErrorKind.STATE
    from schedtui.core.backup.restore import restore_backup

    with pytest.raises(SchedtuiError) as exc:
        restore_backup(discover_target(Target(f"sqlite:///{db}")), db, force=True)
    assert exc.value.message == READ_ONLY
    assert _sha(db) == before


def test_other_schema_version_refused(
    sqlite_stores: dict[str, tuple[Path, dict[str, Any]]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from schedtui.cli import cmd_check

    monkeypatch.setattr(cmd_check, "CLOCK", FixedClock(NOW))
    src, _ = sqlite_stores["pickle"]
    db = tmp_path / "v2.db"
    db.write_bytes(src.read_bytes())
    conn = sqlite3.connect(db)
    conn.execute("UPDATE metadata SET schema_version = 2")
    conn.commit()
    conn.close()
    url = f"sqlite:///{db}"
    for cmd in ("check", "jobs"):
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--url", url])
        captured = capsys.readouterr()
        assert exc.value.code == 3, cmd
        text = captured.out + captured.err
        assert "schema_version 2" in text and "only schema_version 1" in text
        assert "Traceback" not in text
    with pytest.raises(SchedtuiError) as err:
        read_jobs(Target(url, table="schedules"))
    assert err.value.kind is ErrorKind.UNSUPPORTED


def test_console_on_sqlite(sqlite_stores: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    import asyncio

    from schedtui.tui.app import SchedtuiApp
    from schedtui.tui.fmt import job_trigger_text
    from schedtui.tui.widgets.jobs import JobList
    from tui.helpers import settle

    db, manifest = sqlite_stores["pickle"]
    before = _sha(db)

    async def run() -> list[Any]:
        app = SchedtuiApp(discover_target(Target(f"sqlite:///{db}")), clock=FixedClock(NOW), read_only=True)
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot, app)
            main = app.screen_stack[0]
            jobs = main.query_one(JobList)
            found = [r.job for r in jobs.rows if r.job is not None]
            # the events feed: job_results' runs, and what APScheduler 4 does not record
            await pilot.press("e")
            await pilot.pause()
            frame = main.frame
            assert frame.recent and {e.kind for e in main.events_log.events()} >= {"run"}
            assert frame.feed_note and "finished runs only" in frame.feed_note
            await pilot.app.workers.wait_for_complete()
            return found

    jobs = asyncio.run(run())
    assert sorted(j.id for j in jobs) == sorted(s["id"] for s in manifest["schedules"])
    assert {job_trigger_text(j) for j in jobs} == {OPAQUE_TRIGGER}
    assert _sha(db) == before


def test_hostile_rows_are_findings_not_crashes(
    sqlite_stores: dict[str, tuple[Path, dict[str, Any]]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from schedtui.cli import cmd_check

    monkeypatch.setattr(cmd_check, "CLOCK", FixedClock(NOW))
    src, manifest = sqlite_stores["pickle"]
    db = tmp_path / "hostile.db"
    db.write_bytes(src.read_bytes())
    conn = sqlite3.connect(db)
    conn.execute(
        "UPDATE schedules SET trigger = X'8004ffff', args = X'ffff', kwargs = X'9f', next_fire_time = 'abc', "
        "acquired_by = ?, acquired_until = 'nope' WHERE id = 'poll-feeds'",
        ("evil\x1b[31mred\x07",),
    )
    conn.execute("UPDATE tasks SET max_running_jobs = 'x', misfire_grace_time = 'y' WHERE id = 'poll'")
    conn.execute("UPDATE job_results SET outcome = 'weird', finished_at = 'zz' WHERE job_id LIKE '%4001'")
    conn.commit()
    conn.close()
    before = _sha(db)
    url = f"sqlite:///{db}"
    snap = read_jobs(Target(url, table="schedules"))
    assert len(snap.jobs) == len(manifest["schedules"])
    with pytest.raises(SystemExit) as exc:
        main(["check", "--url", url, "--detailed"])
    out = capsys.readouterr().out
    assert exc.value.code == 2 and "Traceback" not in out
    assert "schedule poll-feeds leased by scheduler evil?[31mred? until ?, expired" in out
    with pytest.raises(SystemExit) as exc:
        main(["history", "--url", url])
    assert exc.value.code in (0, None)
    assert _sha(db) == before


def test_an_apscheduler3_table_named_schedules_stays_apscheduler3(tmp_path: Path) -> None:
    from schedtui.core.store.reader import JobStoreReader, open_reader

    db = tmp_path / "v3.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE schedules (id VARCHAR(191) PRIMARY KEY, next_run_time FLOAT, job_state BLOB NOT NULL)")
    conn.commit()
    conn.close()
    target = Target(f"sqlite:///{db}", table="schedules")
    reader = open_reader(target, incremental=False)
    try:
        assert isinstance(reader, JobStoreReader)
        assert reader.read().jobs == ()
    finally:
        reader.close()
    assert discover_target(Target(f"sqlite:///{db}")).table == "schedules"
    report = _check(target)
    assert "leases" not in {c.name for c in report.components}


def test_the_jobs_reader_knows_the_aps4_table_name_without_importing_its_layout() -> None:
    from schedtui.core.aps4 import layout
    from schedtui.core.store import reader as store

    assert store.APS4_TABLE == layout.TABLE
