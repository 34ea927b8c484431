"""``core.activity`` and ``HistorySource.run_window`` on every history layout: the events
feed's runs and the failures overview's counts, last errors and hourly chart.

Aegis and django-apscheduler stores are written by their real code
(``tests/fixtures/layouts.py``); expectations are computed here from the raw rows, read
with plain SQL, independently of the code under test. Times come from the manifests and
explicit dates only.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from schedtui.core import tables as T
from schedtui.core.activity import feed_note, read_activity
from schedtui.core.history import AEGIS, DJANGO, CompanionHistory, TableHistory, detect_history
from schedtui.core.model import Target
from schedtui.core.store.db import read_engine
from tests.fixtures.layouts import LayoutUnavailable, build_layout, copied_layout

NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)  # FROZEN_NOW
DJANGO_JOBS = "django_apscheduler_djangojob"


def _cached(kind: str, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    copy, manifest = copied_layout(kind, tmp_path)
    return f"sqlite:///{copy}", manifest


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _raw(url: str, sql: str) -> list[Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql)))
    finally:
        engine.dispose()


def _expected(rows: list[tuple[str, str, datetime]], now: datetime, failed: set[str], running: set[str]) -> Any:
    """Per job (runs, failures) over 24 h and runs/failures per hour, from (job, status, time)."""
    since = now - timedelta(hours=24)
    start = (now - timedelta(hours=23)).replace(minute=0, second=0, microsecond=0)
    per_job: dict[str, list[int]] = {}
    runs_h, fails_h = [0] * 24, [0] * 24
    for job_id, status, at in rows:
        if status in running or at < since:
            continue
        c = per_job.setdefault(job_id, [0, 0])
        c[0] += 1
        c[1] += status in failed
        if at >= start:
            i = int((at - start).total_seconds() // 3600)
            if i < 24:
                runs_h[i] += 1
                fails_h[i] += status in failed
    return {j: tuple(c) for j, c in per_job.items()}, tuple(runs_h), tuple(fails_h), start


def _assert_window(
    source: Any, engine: Any, rows: list[Any], now: datetime, failed: set[str], running: set[str], order: str
) -> Any:
    act = read_activity(source, engine, now)
    per_job, runs_h, fails_h, start = _expected(rows, now, failed, running)
    assert {j.job_id: (j.runs, j.failures) for j in act.window.jobs} == per_job
    assert act.hourly.start == start and act.hourly.runs == runs_h and act.hourly.failures == fails_h
    # the same 24 h totals as check's summary (one judgement)
    assert (act.window.runs, act.window.failures) == (act.summary.runs_24h, act.summary.failures_24h)
    # the failures overview: every job with failures in 24 h, most first, with its newest failure
    assert [f.job_id for f in act.failures] == sorted(
        (j for j, c in per_job.items() if c[1]), key=lambda j: (-per_job[j][1], j)
    )
    for f in act.failures:
        assert f.last_failure is not None and f.last_failure.failed and f.last_failure.job_id == f.job_id
        newest = source.last_failure(engine, f.job_id)
        assert newest is not None and newest.id == f.last_failure.id
    assert {f.job_id for f in act.failures if f.failing_now} <= {f.job_id for f in act.summary.failing_jobs}
    # newest first (by the layout's own clock column)
    times = [getattr(r, order) for r in act.recent]
    assert all(a is not None and b is not None and a >= b for a, b in zip(times, times[1:], strict=False))
    return act


# ------------------------------------------------------------------------------ Aegis
def _aegis(url: str, manifest: dict[str, Any], table: str) -> None:
    now = datetime.fromisoformat(manifest["stopped_at"]) + timedelta(seconds=2)
    rows = [(str(j), str(s), _utc(a)) for j, s, a in _raw(url, f"SELECT job_id, status, started_at FROM {table}")]
    engine = read_engine(Target(url))
    try:
        source = detect_history(engine, Target(url))
        assert isinstance(source, TableHistory) and source.layout is AEGIS
        act = _assert_window(source, engine, rows, now, {"failed"}, {"running"}, "started_at")
        assert len(act.recent) == len(rows)
        assert sum(1 for r in act.recent if r.outcome == "running") == manifest["statuses"]["running"]
        by_id = {f.job_id: f for f in act.failures}
        # (which jobs fail depends on the live run; these two always do)
        assert {"sync_inventory", "rebuild_search_index"} <= set(by_id)
        # its newest failure is the newest failed row (a ConnectionError, or under load a run the
        # restart cut short: the live run decides which)
        newest = _raw(
            url,
            f"SELECT error_message FROM {table} WHERE job_id = 'sync_inventory' AND status = 'failed' "
            "ORDER BY started_at DESC, id DESC LIMIT 1",
        )[0][0]
        sync_failure = by_id["sync_inventory"].last_failure
        assert by_id["sync_inventory"].failing_now and sync_failure is not None
        assert sync_failure.error_message == newest
        assert "ConnectionError" in newest or newest == "Run did not complete (scheduler restarted)"
        assert by_id["rebuild_search_index"].last_failure.outcome == "unfinished"  # type: ignore[union-attr]
        # the nightly backup failed 2 days ago: outside the window, not in the overview
        assert "database_backup" not in by_id
        assert not act.audit_log and act.commands == ()
        note = feed_note(act, heartbeat=True)
        assert note is not None and "Aegis" in note and "operator audit log" in note and "heartbeat" not in note
    finally:
        engine.dispose()


def test_aegis_sqlite(tmp_path: Path) -> None:
    url, manifest = _cached("aegis", tmp_path)
    _aegis(url, manifest, "job_execution")


@pytest.mark.postgres
def test_aegis_postgres(pg_url: str, tmp_path: Path) -> None:
    try:
        manifest = build_layout("aegis", pg_url, tmp_path / "aegis.json")
    except LayoutUnavailable as exc:
        pytest.skip(str(exc))
    _aegis(pg_url, manifest, "scheduler.job_execution")


# ------------------------------------------------------------------------- django-apscheduler
def _django(url: str, manifest: dict[str, Any]) -> None:
    now = datetime.fromisoformat(manifest["stopped_at"]) + timedelta(seconds=0.5)
    rows = [
        (str(j), str(s), _utc(a))
        for j, s, a in _raw(url, "SELECT job_id, status, run_time FROM django_apscheduler_djangojobexecution")
    ]
    target = Target(url, table=DJANGO_JOBS)
    engine = read_engine(target)
    try:
        source = detect_history(engine, target)
        assert isinstance(source, TableHistory) and source.layout is DJANGO
        act = _assert_window(source, engine, rows, now, {"Error!"}, {"Started execution"}, "scheduled_at")
        st = manifest["statuses"]
        assert [(f.job_id, f.failures) for f in act.failures] == [("import_feed", st["Error!"])]
        assert act.failures[0].failing_now
        assert "unexpected end of document" in (act.failures[0].last_failure.error_message or "")  # type: ignore[union-attr]
        # skipped runs count as runs, never as failures
        thumbs = next(j for j in act.window.jobs if j.job_id == "rebuild_thumbnails")
        assert thumbs.failures == 0 and thumbs.runs - thumbs.successes == st["Max instances!"]
        outcomes = Counter(r.outcome for r in act.recent)
        assert outcomes["running"] == st["Started execution"] and outcomes["max_instances"] == st["Max instances!"]
        note = feed_note(act, heartbeat=False)
        assert note is not None and "django-apscheduler" in note and "scheduler heartbeat" in note
    finally:
        engine.dispose()


def test_django_sqlite(tmp_path: Path) -> None:
    url, manifest = _cached("django", tmp_path)
    _django(url, manifest)


def test_django_servers(server_url: str, tmp_path: Path) -> None:
    try:
        manifest = build_layout("django", server_url, tmp_path / "django.json")
    except LayoutUnavailable as exc:
        pytest.skip(str(exc))
    _django(server_url, manifest)


# ------------------------------------------------------------------------------ companion
#: (job, outcome, finished_at) around the window's edges: NOW - 24 h = 12:00 yesterday,
#: the first hour bucket starts at 13:00 yesterday.
EDGES = [
    ("a", "success", NOW - timedelta(hours=24, seconds=1)),  # before the window
    ("a", "error", NOW - timedelta(hours=23, minutes=30)),  # in the 24 h, before the first bar
    ("a", "success", NOW - timedelta(hours=23)),  # the first bar's first instant
    ("a", "error", NOW - timedelta(hours=22, seconds=0.1)),  # the first bar's last moment
    ("b", "unfinished", NOW - timedelta(minutes=59)),  # the last full hour (11:01)
    ("b", "missed", NOW - timedelta(minutes=1)),  # skipped: a run, not a failure
    ("b", "success", NOW),  # the current hour
    ("b", "running", NOW - timedelta(seconds=5)),  # in flight: not counted
]


def _companion_store(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        t = T.create_all(engine)
        rows = []
        for job_id, outcome, at in EDGES:
            ts = at.timestamp()
            rows.append(
                {
                    "job_id": job_id,
                    "job_name": job_id,
                    "func": "app:job",
                    "jobstore": "default",
                    "scheduled_at": ts - 1,
                    "submitted_at": ts - 1,
                    "started_at": ts - 0.5,
                    "finished_at": None if outcome == "running" else ts,
                    "duration_s": None if outcome == "running" else 0.5,
                    "outcome": outcome,
                    "error_type": "OSError" if outcome == "error" else None,
                    "error_message": "disk full" if outcome == "error" else None,
                    "traceback": None,
                    "host": "h",
                    "pid": 1,
                    "scheduler_id": "h:1",
                }
            )
        with engine.begin() as conn:
            conn.execute(t.runs.insert(), rows)
    finally:
        engine.dispose()


def _companion(url: str) -> None:
    _companion_store(url)
    engine = read_engine(Target(url))
    try:
        source = CompanionHistory()
        act = read_activity(source, engine, NOW)
        assert {(j.job_id, j.runs, j.successes, j.failures) for j in act.window.jobs} == {
            ("a", 3, 1, 2),
            ("b", 3, 1, 1),
        }
        runs_h = [0] * 24
        runs_h[0], runs_h[22], runs_h[23] = 2, 2, 1
        fails_h = [0] * 24
        fails_h[0], fails_h[22] = 1, 1
        assert act.hourly.start == NOW - timedelta(hours=23)
        assert (list(act.hourly.runs), list(act.hourly.failures)) == (runs_h, fails_h)
        assert (act.window.runs, act.window.failures) == (act.summary.runs_24h, act.summary.failures_24h)
        assert [(f.job_id, f.failures) for f in act.failures] == [("a", 2), ("b", 1)]
        assert act.failures[0].last_failure is not None and act.failures[0].last_failure.error_message == "disk full"
        assert not act.failures[1].failing_now  # b's last executed run succeeded
        assert act.audit_log and feed_note(act, heartbeat=True) is None
        assert feed_note(act, heartbeat=False) is None  # the companion records heartbeats while it runs
        assert act.recent[0].outcome == "running"
    finally:
        engine.dispose()


def test_companion_window_edges_sqlite(tmp_path: Path) -> None:
    _companion(f"sqlite:///{tmp_path / 'c.db'}")


def test_companion_window_edges_servers(server_url: str) -> None:
    """PostgreSQL rounds a float cast to integer: the hour buckets never depend on it
    (MariaDB too)."""
    _companion(server_url)


def test_aegis_window_edges(tmp_path: Path) -> None:
    """The same edges in an Aegis-shaped table (naive UTC datetimes, bound in that form)."""
    from tui.helpers import aegis_schema

    mod = aegis_schema()
    url = f"sqlite:///{tmp_path / 'a.db'}"
    engine = sa.create_engine(url)
    md = sa.MetaData()
    t = mod.job_execution_table(md, None)
    md.create_all(engine)
    status = {"success": "success", "error": "failed", "unfinished": "failed", "missed": "missed", "running": "running"}
    with engine.begin() as conn:
        conn.execute(
            sa.insert(t),
            [
                {
                    "job_id": j,
                    "job_name": j,
                    "scheduled_run_time": mod.naive(at),
                    "started_at": mod.naive(at),
                    "finished_at": None if o == "running" else mod.naive(at),
                    "duration_ms": Decimal("0") if o != "running" else None,
                    "status": status[o],
                    "error_message": mod.RESTARTED if o == "unfinished" else ("disk full" if o == "error" else None),
                    "traceback": None,
                }
                for j, o, at in EDGES
            ],
        )
    engine.dispose()
    engine = read_engine(Target(url))
    try:
        act = read_activity(TableHistory(AEGIS), engine, NOW)
        assert {(j.job_id, j.runs, j.failures) for j in act.window.jobs} == {("a", 3, 2), ("b", 3, 1)}
        assert act.hourly.runs[0] == 2 and act.hourly.runs[22] == 2 and act.hourly.runs[23] == 1
        assert act.hourly.failures[0] == 1 and act.hourly.failures[22] == 1 and sum(act.hourly.runs) == 5
        assert act.failures[1].last_failure is not None and act.failures[1].last_failure.outcome == "unfinished"
    finally:
        engine.dispose()
