"""The safe decoder against stores written by real APScheduler (current and older releases).

Every job must decode to what APScheduler itself reported in the fixture subprocess (the
manifest: ``str(trigger)``, fields, timezone, next_run_time ...) without importing the
fixture application.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schedtui.core.decode import DecodeError, decode_row, decode_rows
from schedtui.core.decode.jobstate import decode_state
from schedtui.core.decode.zones import PytzZone
from schedtui.core.model import JobInfo, TriggerSpec
from tests.fixtures.factory import make_store, require_old_stores, sqlite_store
from tests.fixtures.hostile import state_bytes

SQL = "SELECT id, next_run_time, job_state FROM apscheduler_jobs"


def _read(db: Path) -> list[JobInfo]:
    con = sqlite3.connect(db)
    try:
        return decode_rows(con.execute(SQL).fetchall())
    finally:
        con.close()


def _dt_repr(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S %Z")


def trigger_str(spec: TriggerSpec) -> str | None:
    """``str(trigger)`` as APScheduler prints it, rebuilt from the decoded spec."""
    if spec.kind == "cron":
        assert spec.cron is not None and spec.cron_explicit is not None
        return "cron[{}]".format(", ".join(f"{n}='{e}'" for n, e in spec.cron if n in spec.cron_explicit))
    if spec.kind == "interval":
        return f"interval[{spec.interval}]"
    if spec.kind == "date":
        assert spec.run_date is not None
        return f"date[{_dt_repr(spec.run_date)}]"
    if spec.kind in ("and", "or"):
        children = [trigger_str(c) for c in spec.children]
        if None in children:
            return None
        return "{}[{}]".format(spec.kind, ", ".join(children))  # type: ignore[arg-type]
    return None  # calendarinterval: compared field by field


def _iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def check_trigger(spec: TriggerSpec, want: dict[str, Any], where: str) -> None:
    assert spec.kind == want["kind"], where
    text = trigger_str(spec)
    if text is not None:
        assert text == want["str"], where
    if spec.kind == "cron":
        assert [list(f) for f in spec.cron or ()] == want["fields"], where
        assert sorted(spec.cron_explicit or ()) == want["explicit"], where
    if spec.kind == "interval":
        assert spec.interval is not None
        assert spec.interval.total_seconds() == want["interval_seconds"], where
    if spec.kind == "date":
        assert spec.run_date == _iso(want["run_date"]), where
        assert spec.run_date is not None and spec.run_date.utcoffset() == _iso(want["run_date"]).utcoffset()  # type: ignore[union-attr]
    if spec.kind == "calendarinterval":
        assert list(spec.calendar or ()) == want["calendar"], where
        assert list(spec.calendar_time or ()) == want["calendar_time"], where
        assert spec.start_date is not None
        assert spec.start_date.date().isoformat() == want["start_date"], where
        end = want["end_date"]
        assert (spec.end_date.date().isoformat() if spec.end_date else None) == end, where
    if spec.kind in ("cron", "interval", "calendarinterval"):
        assert spec.timezone == want["timezone"], where
        assert spec.tz is not None
        assert spec.jitter == want["jitter"], where
    if spec.kind in ("cron", "interval"):
        assert spec.start_date == _iso(want["start_date"]), where
        assert spec.end_date == _iso(want["end_date"]), where
    if spec.kind in ("and", "or"):
        assert spec.jitter == want["jitter"], where
        assert len(spec.children) == len(want["children"]), where
        for child, wchild in zip(spec.children, want["children"]):
            check_trigger(child, wchild, where)


def check_against_manifest(jobs: list[JobInfo], manifest: dict[str, Any]) -> None:
    assert "fixture_app" not in sys.modules
    by_id = {j.id: j for j in jobs}
    assert sorted(by_id) == sorted(manifest["ids"])
    for want in manifest["jobs"]:
        job = by_id[want["id"]]
        where = f"{manifest['apscheduler']} p{manifest['protocol']} {want['id']}"
        assert job.finding is None, (where, job.finding)
        assert job.notes == (), (where, job.notes)
        assert job.name == want["name"], where
        assert job.func == want["func"], where
        assert job.executor == want["executor"], where
        assert job.misfire_grace_time == want["misfire_grace_time"], where
        assert job.coalesce == want["coalesce"], where
        assert job.max_instances == want["max_instances"], where
        assert job.paused == want["paused"], where
        assert job.protocol == manifest["protocol"], where
        if want["next_run_timestamp"] is None:
            assert job.next_run_time is None and job.state_next_run_time is None, where
        else:
            assert job.next_run_time is not None and job.next_run_time.tzinfo is not None
            assert abs(job.next_run_time.timestamp() - want["next_run_timestamp"]) < 1e-5, where
            assert job.state_next_run_time == _iso(want["next_run_time"]), where
        assert job.trigger is not None
        check_trigger(job.trigger, want["trigger"], where)
        if want["n_args"] == 0:
            assert job.args_repr == "()", where
        if not want["kwargs_keys"]:
            assert job.kwargs_repr == "{}", where
        for key in want["kwargs_keys"]:
            assert repr(key) in job.kwargs_repr or job.kwargs_repr.endswith("…"), where
        assert len(job.args_repr) <= 401 and len(job.kwargs_repr) <= 401


# --------------------------------------------------------------------------- current release


def test_catalog_matches_apscheduler(tmp_path: Path) -> None:
    db, manifest = sqlite_store(tmp_path, "catalog")
    assert manifest["skipped"] == []
    jobs = _read(db)
    check_against_manifest(jobs, manifest)
    kinds = {j.trigger.kind for j in jobs if j.trigger}
    assert kinds == {"cron", "interval", "date", "calendarinterval", "and", "or"}


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_catalog_every_protocol(tmp_path: Path, protocol: int) -> None:
    db, manifest = sqlite_store(tmp_path, "catalog", protocol=protocol)
    check_against_manifest(_read(db), manifest)


def test_seed_jobs(tmp_path: Path) -> None:
    db, manifest = sqlite_store(tmp_path, "seed")
    jobs = {j.id: j for j in _read(db)}
    check_against_manifest(list(jobs.values()), manifest)
    backup = jobs["database_backup"]
    assert backup.name == "Daily Database Backup"
    assert backup.trigger is not None and backup.trigger.cron_field("hour") == "2"
    assert backup.trigger.cron_field("minute") == "0" and backup.trigger.timezone == "UTC"
    assert backup.next_run_time == datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    assert jobs["cleanup_temp"].trigger.interval == timedelta(hours=6)  # type: ignore[union-attr]
    assert jobs["report_gen"].trigger.cron_field("day_of_week") == "mon"  # type: ignore[union-attr]


def test_catalog_details(tmp_path: Path) -> None:
    db, _manifest = sqlite_store(tmp_path, "catalog")
    jobs = {j.id: j for j in _read(db)}
    # pytz datetimes keep their exact offsets; a pytz trigger zone becomes ZoneInfo.
    run_date = jobs["date_pytz"].trigger.run_date  # type: ignore[union-attr]
    assert isinstance(run_date.tzinfo, PytzZone) and run_date.utcoffset() == timedelta(hours=9)  # type: ignore[union-attr]
    start = jobs["interval_pytz_start"].trigger.start_date  # type: ignore[union-attr]
    assert start.utcoffset() == timedelta(hours=-5)  # type: ignore[union-attr]
    ny = jobs["cron_pytz_zone"].trigger
    assert ny.tz == ZoneInfo("America/New_York") and ny.timezone == "America/New_York"  # type: ignore[union-attr]
    assert jobs["cron_fixed_offset"].trigger.timezone == "UTC+05:30"  # type: ignore[union-attr]
    # application objects: inert placeholders with their state
    rich = jobs["rich_args"]
    for text in (
        "<fixture_app.models.ReportSpec not imported",
        "Decimal('12.50')",
        "UUID('12345678-1234-5678-1234-567812345678')",
        "<fixture_app.models.Priority(2) not imported>",
        "Decimal('3.14')",
    ):
        assert text in rich.args_repr, rich.args_repr
    for text in (
        "<fixture_app.models.Channel('slack') not imported>",
        "b'\\x00\\x01binary'",
        "{1, 2, 3}",
        "frozenset({'a'})",
    ):
        assert text in rich.kwargs_repr, rich.kwargs_repr
    assert rich.executor == "processpool" and rich.misfire_grace_time is None and rich.max_instances == 3
    assert jobs["bound_method"].args_repr.startswith("(<fixture_app.jobs.Reporter not imported {team='sales'")
    assert jobs["bound_method"].func == "fixture_app.jobs:Reporter.run"
    assert jobs["nested_class_func"].func == "fixture_app.jobs:Nested.Inner.work"
    assert "日次バックアップ" in jobs and "emoji-🚀" in jobs
    assert jobs["ünïcödé-job-ü"].name == "Ünïcödé ✓ 日本語"
    assert jobs["cron_paused"].paused and jobs["cron_paused"].trigger is not None
    assert "fixture_app" not in sys.modules


# --------------------------------------------------------------------------- older releases


def test_older_release_stores_decode(tmp_path: Path) -> None:
    stores = require_old_stores()
    versions = set()
    for label, src, manifest in stores:
        db = tmp_path / f"{label}.db"
        shutil.copyfile(src, db)
        check_against_manifest(_read(db), manifest)
        versions.add(manifest["apscheduler"])
    assert len(versions) >= 2
    protocols = {m["protocol"] for _l, _p, m in stores}
    assert protocols >= {2, 3, 4, 5}


# --------------------------------------------------------------------------- API details


def test_decode_state_returns_validated_dict() -> None:
    state = decode_state(state_bytes())
    assert state["id"] == "hostile" and state["func"] == "fixture_app.jobs:tick"
    assert isinstance(state["trigger"], TriggerSpec) and state["trigger"].kind == "cron"
    assert state["next_run_time"] == datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    with pytest.raises(DecodeError) as err:
        decode_state(state_bytes(version=2))
    assert err.value.code == "future-version"
    with pytest.raises(DecodeError) as err:
        decode_state(b"\x80\x02cos\nsystem\n.")
    assert err.value.code == "forbidden-global"


def test_column_and_pickle_disagree() -> None:
    nrt = datetime(2026, 3, 3, 2, 0, tzinfo=UTC).timestamp()
    data = state_bytes()
    assert decode_row("hostile", nrt, data).notes == ()
    assert decode_row("hostile", nrt + 0.5, data).notes == ()
    late = decode_row("hostile", nrt + 3600, data)
    assert late.finding is None and [n.code for n in late.notes] == ["next-run-mismatch"]
    paused_col = decode_row("hostile", None, data)
    assert [n.code for n in paused_col.notes] == ["next-run-mismatch"]
    paused_both = decode_row("hostile", None, state_bytes(next_run_time=None))
    assert paused_both.notes == () and paused_both.paused
    other_id = decode_row("other", nrt, data)
    assert [n.code for n in other_id.notes] == ["id-mismatch"]


def test_decode_row_never_raises_on_odd_inputs() -> None:
    for job_id, nrt, blob in [
        ("a", float("nan"), state_bytes()),
        ("b", "soon", state_bytes()),
        ("c", None, None),
        ("d", None, "text"),
        ("e", None, bytearray(state_bytes())),
        ("f", None, memoryview(state_bytes())),
        (42, None, state_bytes()),
    ]:
        job = decode_row(job_id, nrt, blob)  # type: ignore[arg-type]
        assert isinstance(job, JobInfo)
    assert decode_row("e", None, bytearray(state_bytes())).finding is None
    assert decode_row("c", None, None).finding.code == "bad-type"  # type: ignore[arg-type,union-attr]


def test_a_column_that_is_not_a_time_is_noted_whether_or_not_the_pickle_decodes() -> None:
    """A ``next_run_time`` column holding text gets a ``bad-column`` note on every kind of
    row: a decodable one, one whose pickle is refused (decoded in the worker) and one never
    unpickled (too large: the reading process's own record)."""
    good = decode_row("a", "soon", state_bytes())  # type: ignore[arg-type]
    assert good.finding is None
    assert [n.code for n in good.notes][:1] == ["bad-column"] and "'soon'" in good.notes[0].message
    refused = decode_row("b", "soon", b"\x80\x02cos\nsystem\n.")  # type: ignore[arg-type]
    assert refused.finding is not None and refused.finding.code == "forbidden-global"
    assert [(n.code, n.message) for n in refused.notes] == [("bad-column", "next_run_time column holds 'soon'")]
    big = decode_row("c", "soon", state_bytes(args=("x" * (1024 * 1024),)))  # type: ignore[arg-type]
    assert big.finding is not None and big.finding.code == "too-large"
    assert [n.code for n in big.notes] == ["bad-column"]
    for fine in (None, 1_700_000_000.0):
        assert decode_row("d", fine, b"\x80\x02cos\nsystem\n.").notes == ()


def test_row_size_limit() -> None:
    big = state_bytes(args=("x" * (1024 * 1024),))
    job = decode_row("big", None, big)
    assert job.finding is not None and job.finding.code == "too-large" and job.state_size == len(big)


# --------------------------------------------------------------------------- PostgreSQL and MariaDB


def test_server_store_decodes(server_url: str) -> None:
    """A store written by real APScheduler on PostgreSQL and on MariaDB."""
    import sqlalchemy as sa

    manifest = make_store(server_url, "catalog", table="custom_jobs")
    engine = sa.create_engine(server_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, next_run_time, job_state FROM custom_jobs")).all()
    finally:
        engine.dispose()
    check_against_manifest(decode_rows([tuple(r) for r in rows]), manifest)


def test_guard_restores_limit_and_gc_across_threads() -> None:
    import gc
    import resource
    import threading

    before = resource.getrlimit(resource.RLIMIT_AS)
    assert gc.isenabled()
    rows = [(f"j{i}", None, state_bytes(id=f"j{i}", next_run_time=None)) for i in range(3000)]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                assert all(j.finding is None for j in decode_rows(rows))
                decode_row("j0", None, rows[0][2])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    assert gc.isenabled()
