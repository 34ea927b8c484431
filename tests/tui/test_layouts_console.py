"""The console on other programs' stores (an Aegis app, a django-apscheduler project):
jobs described, their own run history in the pane and the summary, nothing written."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.layouts import copied_layout

from schedtui.core.clock import FixedClock
from schedtui.core.model import Target
from schedtui.tui.app import SchedtuiApp
from schedtui.tui.glyphs import g
from schedtui.tui.widgets.jobs import JobList
from schedtui.tui.widgets.summary import SummaryStrip
from tui.helpers import settle, wait_for

pytestmark = pytest.mark.timeout(120)


def sqlite_rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in con.execute(sql, params)]
    finally:
        con.close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def _open(target: Target, clock: FixedClock, job_id: str) -> tuple[str, Any, int]:
    app = SchedtuiApp(target, clock=clock, read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = app.screen_stack[0]
        jobs = main.query_one(JobList)
        count = sum(1 for r in jobs.rows if r.job is not None)
        jobs.select_job(job_id)
        await wait_for(pilot, lambda: main.history is not None and main.history.job_id == job_id, what="history")
        await pilot.press("v")
        await wait_for(pilot, lambda: bool(main.history.runs), what="runs")
        await pilot.app.workers.wait_for_complete()
        return str(main.query_one(SummaryStrip).render()), main.history, count


async def test_console_on_an_aegis_app(tmp_path: Path) -> None:
    db, manifest = copied_layout("aegis", tmp_path)
    before = _sha(db)
    clock = FixedClock(datetime.fromisoformat(manifest["stopped_at"]) + timedelta(seconds=2))
    summary, history, count = await _open(Target(f"sqlite:///{db}"), clock, "database_backup")
    assert count == 9
    assert "scheduler running" in summary and "24h:" in summary and "no companion" not in summary
    assert history.source == "Aegis job_execution" and history.total == 10
    assert {r.outcome for r in history.runs} == {"success", "error"}
    assert _sha(db) == before


async def test_console_on_a_django_project(tmp_path: Path) -> None:
    db, manifest = copied_layout("django", tmp_path)
    before = _sha(db)
    clock = FixedClock(datetime.fromisoformat(manifest["stopped_at"]) + timedelta(seconds=0.5))
    target = Target(f"sqlite:///{db}", table="django_apscheduler_djangojob")
    summary, history, count = await _open(target, clock, "import_feed")
    assert count == 6
    assert "24h:" in summary and "no companion" not in summary
    assert history.source == "django-apscheduler django_apscheduler_djangojobexecution"
    assert history.runs[0].outcome == "error" and "unexpected end of document" in (history.runs[0].error or "")
    assert _sha(db) == before


# -------------------------------------------------------------- events feed, failures overview
def _cells(table: Any) -> list[str]:
    return [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


async def _feed_and_failures(target: Target, clock: FixedClock) -> dict[str, Any]:
    """Open the console, read the events feed (all, then failed only) and the failures overview."""
    from textual.widgets import DataTable, Static

    app = SchedtuiApp(target, clock=clock, read_only=True)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot, app)
        main = app.screen_stack[0]
        await pilot.press("e")
        events = main.query_one("#events-table", DataTable)
        await wait_for(pilot, lambda: events.row_count > 1, what="events")
        out: dict[str, Any] = {"events": _cells(events), "log": main.events_log.events(), "runs": main.frame.job_runs}
        out["note"] = str(main.query_one("#events-note", Static).render())
        await pilot.press("f")
        await wait_for(pilot, lambda: events.row_count < len(out["events"]), what="failed only")
        out["failed"] = _cells(events)
        await pilot.press("escape")
        await pilot.press("F")
        failures = main.query_one("#failures-table", DataTable)
        await wait_for(pilot, lambda: failures.row_count > 0 and main.query_one("#failures-head").render(), what="F")
        await pilot.pause()
        out["failures"] = [[str(c) for c in failures.get_row_at(i)] for i in range(failures.row_count)]
        out["failures_head"] = str(main.query_one("#failures-head", Static).render())
        out["spark"] = list(main.query_one("#spark-fails").data or [])
        out["axis"] = str(main.query_one("#failures-axis", Static).render())
        await pilot.app.workers.wait_for_complete()
    return out


async def test_events_feed_and_failures_on_an_aegis_app(tmp_path: Path) -> None:
    db, manifest = copied_layout("aegis", tmp_path)
    before = _sha(db)
    clock = FixedClock(datetime.fromisoformat(manifest["stopped_at"]) + timedelta(seconds=2))
    seen = await _feed_and_failures(Target(f"sqlite:///{db}"), clock)
    log = seen["log"]
    # runs started / finished / failed from job_execution, newest first
    assert [e.at for e in log] == sorted((e.at for e in log), reverse=True)
    whats = {e.what for e in log if e.kind == "run"}
    assert {"started", "finished", "failed", "missed"} <= whats
    assert any(
        "sync_inventory failed (error): ConnectionError: inventory API unreachable" in row for row in seen["events"]
    )
    assert any("rebuild_search_index failed (unfinished): Run did not complete" in row for row in seen["events"])
    assert seen["failed"] and all("failed" in row for row in seen["failed"])
    assert "Aegis job_execution" in seen["note"] and "not recorded there: operator audit log" in seen["note"]
    assert "heartbeat" not in seen["note"]  # Aegis's scheduler_heartbeat job stands in
    # the failures overview: the jobs that failed in the last 24 h, most failures first
    # (expected from plain SQL: which jobs fail, and how often, depends on the live run)
    since = (clock() - timedelta(hours=24)).replace(tzinfo=None).isoformat(sep=" ")
    want = sqlite_rows(
        db,
        "SELECT job_id, count(*) FROM job_execution WHERE status = 'failed' AND started_at >= ? "
        "GROUP BY job_id ORDER BY count(*) DESC, job_id",
        since,
    )
    rows = seen["failures"]
    fail = g("fail")
    assert [(r[0].removeprefix(f"{fail} "), int(r[1])) for r in rows] == [(j, n) for j, n in want]
    by_id = {r[0].removeprefix(f"{fail} "): r for r in rows}
    assert "ConnectionError" in by_id["sync_inventory"][4] and by_id["sync_inventory"][0].startswith(fail)
    assert by_id["rebuild_search_index"][4].startswith("Run did not complete")
    total = sum(n for _, n in want)
    assert f"{len(want)} job(s) failed {total} time(s)" in seen["failures_head"]
    assert "history: Aegis job_execution" in seen["axis"]
    assert seen["spark"][-1] == float(total)  # all of them in the current hour
    assert _sha(db) == before


async def test_events_feed_and_failures_on_a_django_project(tmp_path: Path) -> None:
    db, manifest = copied_layout("django", tmp_path)
    before = _sha(db)
    clock = FixedClock(datetime.fromisoformat(manifest["stopped_at"]) + timedelta(seconds=0.5))
    seen = await _feed_and_failures(Target(f"sqlite:///{db}", table="django_apscheduler_djangojob"), clock)
    whats = {e.what for e in seen["log"] if e.kind == "run"}
    assert {"started", "finished", "failed", "missed", "max_instances"} <= whats
    assert any("import_feed failed (error): feed https://example.org/feed.xml" in row for row in seen["events"])
    assert len(seen["failed"]) == manifest["statuses"]["Error!"]
    assert "django-apscheduler" in seen["note"] and "scheduler heartbeat" in seen["note"]
    rows = seen["failures"]
    assert (
        len(rows) == 1
        and rows[0][0] == f"{g('fail')} import_feed"
        and rows[0][1] == str(manifest["statuses"]["Error!"])
    )
    assert "unexpected end of document" in rows[0][4]
    # the jobs table's success rate is check's: skipped runs count for neither side
    runs = seen["runs"]
    assert runs["import_feed"].rate_24h == 0.0 and runs["send_reminders"].rate_24h == 1.0
    assert runs["rebuild_thumbnails"].rate_24h is None and runs["rebuild_thumbnails"].last_outcome == "max_instances"
    assert runs["nightly_cleanup"].rate_24h is None and runs["nightly_cleanup"].runs_24h == 1
    assert _sha(db) == before


async def _job_changes(target: Target, clock: FixedClock, change: Any, expected: set[str]) -> list[Any]:
    """Watch the console while ``change()`` writes to the store: the feed's job events."""
    app = SchedtuiApp(target, clock=clock, read_only=True, refresh=0.5)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = app.screen_stack[0]
        for step in change:
            step()
            want = step.__doc__ or ""
            await wait_for(
                pilot, lambda w=want: any(e.kind == "job" and e.what == w for e in main.events_log.events()), what=want
            )
        found = [e for e in main.events_log.events() if e.kind == "job"]
        await pilot.app.workers.wait_for_complete()
    assert {e.what for e in found} == expected
    return found


def _steps(url: str, target: Target, clock: FixedClock, pause: str, resume: str | None, gone: str) -> list[Any]:
    import sqlalchemy as sa

    from schedtui.core.control import DirectWriter
    from schedtui.core.store.db import write_engine

    table = target.table
    saved: dict[str, Any] = {}

    def apply(job_id: str, action: str) -> None:
        engine = write_engine(target)
        try:
            result = DirectWriter(engine, target, clock=clock).apply(job_id, action)
            assert result.status == "applied", result
        finally:
            engine.dispose()

    def paused() -> None:
        """paused"""
        apply(pause, "pause")

    def resumed() -> None:
        """resumed"""
        apply(resume or pause, "resume")

    def disappeared() -> None:
        """disappeared"""
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            saved["row"] = conn.execute(sa.text(f"SELECT * FROM {table} WHERE id = :i"), {"i": gone}).mappings().one()
            conn.execute(sa.text(f"DELETE FROM {table} WHERE id = :i"), {"i": gone})
        engine.dispose()

    def appeared() -> None:
        """appeared"""
        engine = sa.create_engine(url)
        row = dict(saved["row"])
        with engine.begin() as conn:
            conn.execute(
                sa.text(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})"), row
            )
        engine.dispose()

    return [paused, resumed, disappeared, appeared]


async def test_job_changes_in_the_feed_on_an_aegis_app(tmp_path: Path) -> None:
    db, manifest = copied_layout("aegis", tmp_path)
    clock = FixedClock(datetime.fromisoformat(manifest["stopped_at"]) + timedelta(seconds=2))
    target = Target(f"sqlite:///{db}")
    steps = _steps(f"sqlite:///{db}", target, clock, "purge_job_history", None, "send_weekly_digest")
    found = await _job_changes(target, clock, steps, {"paused", "resumed", "disappeared", "appeared"})
    assert {e.job_id for e in found} == {"purge_job_history", "send_weekly_digest"}


async def test_job_changes_in_the_feed_on_a_django_project(tmp_path: Path) -> None:
    db, manifest = copied_layout("django", tmp_path)
    clock = FixedClock(datetime.fromisoformat(manifest["stopped_at"]) + timedelta(seconds=0.5))
    target = Target(f"sqlite:///{db}", table="django_apscheduler_djangojob")
    steps = _steps(f"sqlite:///{db}", target, clock, "monthly_invoices", "weekly_newsletter", "nightly_cleanup")
    found = await _job_changes(target, clock, steps, {"paused", "resumed", "disappeared", "appeared"})
    assert {e.job_id for e in found} == {"monthly_invoices", "weekly_newsletter", "nightly_cleanup"}


async def test_feed_says_when_a_store_records_no_runs(target: Target, clock: FixedClock) -> None:
    """A bare APScheduler store: the feed says there is no run history (and how to get one),
    the failures overview says the same; job changes still show."""
    from textual.widgets import Static

    app = SchedtuiApp(target, clock=clock, read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = app.screen_stack[0]
        await pilot.press("e")
        note = main.query_one("#events-note", Static)
        await wait_for(pilot, lambda: "no run history" in str(note.render()), what="note")
        assert "schedtui companion --help" in str(note.render()) and main.frame.recent == ()
        await pilot.press("escape", "F")
        head = main.query_one("#failures-head", Static)
        await wait_for(pilot, lambda: "no run history" in str(head.render()), what="failures head")
        await pilot.app.workers.wait_for_complete()


async def test_failures_cursor_stays_on_the_picked_job(tmp_path: Path) -> None:
    """Refreshes (unchanged, then a new failure recorded) keep the cursor on the job picked."""
    import sqlalchemy as sa
    from textual.widgets import DataTable, Static

    db, manifest = copied_layout("aegis", tmp_path)
    clock = FixedClock(datetime.fromisoformat(manifest["stopped_at"]) + timedelta(seconds=2))
    app = SchedtuiApp(Target(f"sqlite:///{db}"), clock=clock, read_only=True, refresh=0.5)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = app.screen_stack[0]
        await pilot.press("F")
        table = main.query_one("#failures-table", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 2, what="failing jobs")
        await pilot.press("down")
        picked = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        assert table.cursor_row == 1
        seen = main.refreshes
        await wait_for(pilot, lambda: main.refreshes >= seen + 2, what="two refreshes")
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == picked
        # a new failure of another job (as Aegis's listener records one) reorders nothing above it
        at = (clock() - timedelta(seconds=1)).replace(tzinfo=None)
        engine = sa.create_engine(f"sqlite:///{db}")
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO job_execution (job_id, job_name, scheduled_run_time, started_at, finished_at, "
                    "duration_ms, status, error_message) VALUES ('generate_daily_report', 'Generate Daily Report', "
                    ":at, :at, :at, 5.0, 'failed', 'ValueError: no data for the report')"
                ),
                {"at": at},
            )
        engine.dispose()
        head = main.query_one("#failures-head", Static)
        await wait_for(pilot, lambda: "generate_daily_report" in " ".join(_cells(table)), what="the new failure")
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == picked
        assert "job(s) failed" in str(head.render())
        await pilot.app.workers.wait_for_complete()


async def test_events_cursor_stays_on_the_picked_event(tmp_path: Path) -> None:
    """A new event on top (a job disappeared) leaves the cursor on the event picked."""
    import sqlalchemy as sa
    from textual.widgets import DataTable

    db, manifest = copied_layout("aegis", tmp_path)
    clock = FixedClock(datetime.fromisoformat(manifest["stopped_at"]) + timedelta(seconds=2))
    app = SchedtuiApp(Target(f"sqlite:///{db}"), clock=clock, read_only=True, refresh=0.5)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = app.screen_stack[0]
        await pilot.press("e")
        table = main.query_one("#events-table", DataTable)
        await wait_for(pilot, lambda: table.row_count > 5, what="events")
        await pilot.press("down", "down", "down")
        picked = " ".join(str(c) for c in table.get_row_at(table.cursor_row))
        engine = sa.create_engine(f"sqlite:///{db}")
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM apscheduler_jobs WHERE id = 'send_weekly_digest'"))
        engine.dispose()
        await wait_for(pilot, lambda: any(e.what == "disappeared" for e in main.events_log.events()), what="event")
        await wait_for(pilot, lambda: "disappeared" in " ".join(str(c) for c in table.get_row_at(0)), what="shown")
        assert table.cursor_row == 4 and " ".join(str(c) for c in table.get_row_at(table.cursor_row)) == picked
        await pilot.app.workers.wait_for_complete()
