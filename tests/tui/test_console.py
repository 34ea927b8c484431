"""Pilot tests of the console on a real APScheduler store: every key, the filter,
grouping, sorting, the database going away and coming back, read-only mode."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from textual.worker import WorkerCancelled

from schedtui.core.clock import FixedClock
from schedtui.core.model import Target
from schedtui.tui.app import SchedtuiApp
from schedtui.tui.screens.dialogs import ConfirmScreen, HelpScreen, TextScreen
from schedtui.tui.screens.main import MainScreen
from schedtui.tui.widgets.jobs import JobList
from tui.helpers import reschedule, settle, wait_for

pytestmark = pytest.mark.timeout(120)


def app_for(target: Target, clock: FixedClock, **kw) -> SchedtuiApp:
    return SchedtuiApp(target, clock=clock, **kw)


def groups(app: SchedtuiApp) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for row in app.screen_stack[0].query_one(JobList).rows:
        if row.job is None:
            current = row.group
            out[current] = []
        else:
            out[row.group].append(row.job.id)
    return out


def main_of(app: SchedtuiApp) -> MainScreen:
    return app.screen_stack[0]  # type: ignore[return-value]


def line_text(app: SchedtuiApp, job_id: str) -> str:
    jobs = main_of(app).query_one(JobList)
    for i, row in enumerate(jobs.rows):
        if row.job is not None and row.job.id == job_id:
            return " ".join(jobs._render_row(i, jobs.size.width, jobs.rich_style).text.split())
    raise AssertionError(job_id)


def summary_text(app: SchedtuiApp) -> str:
    from schedtui.tui.widgets.summary import SummaryStrip

    return str(main_of(app).query_one(SummaryStrip).render())


async def test_first_screen_groups_by_state(target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        g = groups(app)
        assert list(g) == ["overdue", "on time", "paused", "undecodable"]
        assert g["overdue"] == ["tick"]
        assert set(g["paused"]) == {"paused-export", "paused-ping"}
        assert set(g["undecodable"]) == {"full-moon", "torn-row"}
        assert "cleanup-temp" in g["on time"]
        # on time: sorted by next run
        nexts = [
            j.next_run_time for j in (r.job for r in main_of(app).query_one(JobList).rows) if j and j.id in g["on time"]
        ]
        assert nexts == sorted(nexts)
        text = summary_text(app)
        assert "12 jobs" in text and "2 paused" in text and "2 undecodable" in text and "1 overdue" in text
        assert "sqlite:///jobs.sqlite" in text
        # the cursor starts on the first job and the detail pane shows it
        assert main_of(app).selected is not None and main_of(app).selected.id == "tick"


async def test_countdown_ticks_from_memory(target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        assert "in 1m 13s on time" in line_text(app, "cleanup-temp")
        before = line_text(app, "tick")
        assert "15m ago overdue" in before
        refreshes = main_of(app).refreshes
        clock.advance(60)
        main_of(app).tick()
        assert "16m ago overdue" in line_text(app, "tick")
        assert "in 13s on time" in line_text(app, "cleanup-temp")
        assert main_of(app).refreshes <= refreshes + 1  # a tick does not read the database


async def test_filter_as_you_type_and_escape(target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("slash")
        await pilot.press(*"clean")
        await wait_for(
            pilot, lambda: [j for v in groups(app).values() for j in v] == ["cleanup-temp"], what="filtered rows"
        )
        # by function name too
        await pilot.press(*["backspace"] * 5, *"send_report")
        await wait_for(
            pilot,
            lambda: {j for v in groups(app).values() for j in v} == {"send-digest", "paused-export", "invoices"},
            what="func filter",
        )
        # by name
        await pilot.press(*["backspace"] * 11, *"weekly report")
        await wait_for(
            pilot, lambda: [j for v in groups(app).values() for j in v] == ["weekly-report"], what="name filter"
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: sum(len(v) for v in groups(app).values()) == 12, what="filter cleared")
        assert not main_of(app).query_one("#filter").display


async def test_grouping_cycles(target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("g")
        await wait_for(pilot, lambda: "fixture_app.jobs" in groups(app), what="module grouping")
        assert "(undecodable)" in groups(app)
        await pilot.press("g")
        await wait_for(pilot, lambda: "cron" in groups(app), what="trigger grouping")
        assert {"cron", "interval", "date", "calendarinterval", "or"} <= set(groups(app))
        await pilot.press("g")
        await wait_for(pilot, lambda: "overdue" in groups(app), what="back to state")


async def test_sorting_cycles(history: Path, target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("s")
        await wait_for(pilot, lambda: main_of(app).params.sort_by == "id", what="id sort")
        await wait_for(pilot, lambda: groups(app)["on time"] == sorted(groups(app)["on time"]), what="sorted by id")
        await pilot.press("S")
        await wait_for(
            pilot, lambda: groups(app)["on time"] == sorted(groups(app)["on time"], reverse=True), what="id desc"
        )
        await pilot.press("9")  # the duration column
        await wait_for(
            pilot,
            lambda: main_of(app).params.sort_by == "duration" and groups(app)["on time"][0] == "cleanup-temp",
            what="duration sort puts the job with runs first",
        )
        await pilot.press("4")
        await wait_for(pilot, lambda: main_of(app).params.sort_by == "next", what="back to next run")


async def test_collapse_and_expand_groups(target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("home", "enter")
        await wait_for(pilot, lambda: groups(app)["overdue"] == [], what="collapsed")
        assert groups(app)["on time"]
        await pilot.press("right")
        await wait_for(pilot, lambda: groups(app)["overdue"] == ["tick"], what="expanded")
        await pilot.press("down", "left")
        assert main_of(app).query_one(JobList).current.job is None


async def test_navigation_detail_and_fire_times(target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        main.query_one(JobList).select_job("nightly-backup")
        await wait_for(pilot, lambda: main.extras is not None and main.extras.job_id == "nightly-backup", what="extras")
        await pilot.pause()
        from schedtui.tui.widgets.detail import render_detail

        text = render_detail(main.selected, main.extras, clock()).plain
        assert "Next fire times (UTC)" in text and "2026-03-03 02:00:00 UTC" in text
        text = render_detail(main.selected, main.extras, clock(), "trigger").plain
        assert "fixture_app.jobs:backup_database_job" in text
        assert "Europe/Berlin" in text
        assert "Next fire times (Europe/Berlin · UTC)" in text
        assert len(main.extras.fire_times) == 10
        assert "2026-03-03 03:00:00 CET  02:00 UTC" in text  # Berlin wall time, then UTC
        main.query_one(JobList).select_job("send-digest")
        await wait_for(pilot, lambda: main.extras is not None and main.extras.job_id == "send-digest", what="extras")
        text = render_detail(main.selected, main.extras, clock()).plain
        assert "ReportSpec" in text  # an application class shown as a placeholder


async def test_undecodable_row_shows_reason_and_opcodes(target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        main.query_one(JobList).select_job("torn-row")
        await wait_for(pilot, lambda: main.extras is not None and main.extras.job_id == "torn-row", what="opcodes")
        from schedtui.tui.widgets.detail import render_detail

        text = render_detail(main.selected, main.extras, clock()).plain
        assert "undecodable" in text and "PROTO" in text
        assert main.extras.opcode_note  # the cut is reported, not raised


async def test_history_pane_stats_and_traceback(history: Path, target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        main.query_one(JobList).select_job("cleanup-temp")
        await wait_for(
            pilot, lambda: main.history is not None and main.history.job_id == "cleanup-temp", what="history"
        )
        await pilot.press("v")
        assert main.query_one("#side").active == "tab-history"
        h = main.history
        assert h.companion and len(h.runs) == 12 and h.total == 12
        assert h.success_rate == pytest.approx(10 / 12)
        assert "24h: 12 runs" in summary_text(app) and "2 failed" in summary_text(app)
        assert "scheduler running" in summary_text(app)
        table = main.query_one("#history-runs")
        table.focus()
        failed_index = next(i for i, r in enumerate(h.runs) if r.outcome == "error")
        table.move_cursor(row=failed_index)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TextScreen), what="traceback screen")
        assert "No space left on device" in app.screen.text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="back")
        await pilot.press("v")
        assert main.query_one("#side").active == "tab-detail"


async def test_history_without_companion_says_how_to_add_it(target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        assert main.history is not None and not main.history.companion
        assert "no heartbeat" in summary_text(app)
        await pilot.press("v")
        await wait_for(
            pilot, lambda: "attach(scheduler)" in str(main.query_one("#history-note").render()), what="companion hint"
        )


async def test_help_palette_theme_and_quit(target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="help closed")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in (
            "Backup now",
            "Filter jobs",
            "Group jobs",
            "Sort jobs",
            "Full reload",
            "Pause or resume job",
            "Run job now",
            "Remove job",
        ):
            assert wanted in titles
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette", what="palette")
        await pilot.press(*"full reload")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="palette closed")
        dark = app.current_theme.dark
        await pilot.press("T")
        assert app.current_theme.dark != dark
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="quit")


async def test_refresh_interval_pause_and_reload(target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock, refresh=2.0)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        await pilot.press("plus")
        assert main.interval == 1.0
        await pilot.press("minus", "minus")
        assert main.interval == 5.0
        assert "every 5s" in summary_text(app)
        await pilot.press("P")
        assert main.refresh_paused and main._timer is None
        assert "refresh paused" in summary_text(app)
        before = main.refreshes
        await pilot.press("R")  # a forced reload works while paused
        await wait_for(pilot, lambda: main.refreshes > before, what="reload")
        assert main._timer is None  # and does not restart the loop
        await pilot.press("P")
        assert not main.refresh_paused
        await wait_for(pilot, lambda: main.refreshes > before + 1, what="refresh resumed")


async def test_database_goes_away_and_comes_back(store: Path, target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock, refresh=0.5)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        away = store.with_name("jobs.sqlite.away")
        os.rename(store, away)
        await wait_for(pilot, lambda: main.frame is not None and main.frame.stale, what="stale")
        assert "stale" in summary_text(app) and "retrying" in summary_text(app)
        assert sum(len(v) for v in groups(app).values()) == 12  # last data kept
        assert main.query_one(JobList).stale
        os.rename(away, store)
        await wait_for(pilot, lambda: main.frame is not None and not main.frame.stale, timeout=60, what="recovered")
        assert not main.query_one(JobList).stale
        assert "stale" not in summary_text(app)


async def test_locked_database_is_reported_and_recovers(store: Path, target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock, refresh=0.5)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        import sqlite3

        locker = sqlite3.connect(store, timeout=0)
        try:
            locker.execute("BEGIN EXCLUSIVE")
            locker.execute("UPDATE apscheduler_jobs SET next_run_time = next_run_time WHERE id = 'tick'")
            await wait_for(pilot, lambda: main.frame is not None and main.frame.stale, timeout=60, what="locked")
            assert sum(len(v) for v in groups(app).values()) == 12
        finally:
            locker.rollback()
            locker.close()
        await wait_for(pilot, lambda: main.frame is not None and not main.frame.stale, timeout=60, what="unlocked")


async def test_refresh_keeps_selection_and_sees_changes(store: Path, target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock, refresh=0.5)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        jobs = main.query_one(JobList)
        jobs.select_job("weekly-report")
        engine = sa.create_engine(f"sqlite:///{store}")
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM apscheduler_jobs WHERE id = 'cleanup-temp'"))
        engine.dispose()
        await wait_for(pilot, lambda: "cleanup-temp" not in groups(app).get("on time", []), what="row removed")
        assert jobs.current_job is not None and jobs.current_job.id == "weekly-report"


async def workers_done(app: SchedtuiApp) -> None:
    """Wait for the workers running now (one superseded by the next counts as done)."""
    for worker in list(app.workers):
        with contextlib.suppress(WorkerCancelled):
            await worker.wait()


async def test_a_refresh_that_changes_the_selected_job_reads_its_details_at_once(
    store: Path, target: Target, clock: FixedClock
) -> None:
    """The scheduler reschedules the selected job: the refresh that brings its new record
    reads the record's fire times at once (not after the cursor's 0.15 s pause), so the
    detail pane never pairs the new record with the old one's fire times."""
    from schedtui.core.schedule import next_fire_times

    app = app_for(target, clock, refresh=0.5)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        main.query_one(JobList).select_job("weekly-report")
        await wait_for(pilot, lambda: main.extras is not None and main.extras.job_id == "weekly-report", what="extras")
        old = main.selected
        assert old is not None and main.extras.fire_times
        assert (main.extras.fire_times[0].hour, main.extras.fire_times[0].minute) != (5, 30)
        await workers_done(app)
        reschedule(store, "weekly-report", "05:30")

        def rescheduled() -> bool:
            job = main.selected
            return (
                job is not old
                and job is not None
                and job.trigger is not None
                and ("hour", "5") in (job.trigger.cron or ())
            )

        await wait_for(pilot, rescheduled, what="the rescheduled record")
        await workers_done(app)  # what the refresh started, nothing later
        await pilot.pause()
        new = main.selected
        assert new is not None and new.trigger is not None
        assert main.extras is not None and main.extras.job_id == "weekly-report"
        times = list(main.extras.fire_times)

        def instants(ts: list) -> list:  # the instant, its fold and its zone: not == alone
            return [(t.timestamp(), t.fold, str(t.tzinfo)) for t in ts]

        assert instants(times) == instants(next_fire_times(new.trigger, clock(), 10))
        assert (times[0].hour, times[0].minute) == (5, 30)


async def test_read_only_is_marked_and_write_keys_explain(target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock, read_only=True)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(pilot, app)
        assert "READ-ONLY" in summary_text(app)
        for key in ("p", "r", "d"):
            app._notifications.clear()
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, MainScreen)
            assert any("read-only" in n.message for n in app._notifications), key
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Remove job" not in titles and "Backup now" in titles
        assert "(READ-ONLY)" in app.sub_title


async def test_too_small_terminal_shows_a_message(target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock)
    async with app.run_test(size=(70, 20)) as pilot:
        await settle(pilot, app)
        assert main_of(app).has_class("-too-small")
        assert main_of(app).query_one("#too-small").display
    app = app_for(target, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        assert not main_of(app).has_class("-too-small")


async def test_mouse_click_selects_a_row(target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        jobs = main_of(app).query_one(JobList)
        index = next(i for i, r in enumerate(jobs.rows) if r.job is not None and r.job.id == "paused-ping")
        await pilot.click(JobList, offset=(5, index - jobs.scroll_offset.y + 2))  # border, column titles
        await wait_for(
            pilot, lambda: main_of(app).selected is not None and main_of(app).selected.id == "paused-ping", what="click"
        )


async def test_backup_now_runs_in_a_worker(store: Path, target: Target, clock: FixedClock) -> None:
    from schedtui.tui.screens.backup import BackupScreen

    app = app_for(target, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BackupScreen), what="backup screen")
        screen = app.screen
        await wait_for(pilot, lambda: screen.finished, timeout=60, what="backup done")
        assert screen.ok, str(screen.query_one("#backup-status").render())
        assert "verified" in str(screen.query_one("#backup-status").render())
        assert list((store.parent / "backups").glob("*.sqlite*"))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="closed")
        await wait_for(pilot, lambda: main_of(app).frame.last_backup is not None, what="summary shows the backup")


async def test_backup_failure_is_shown_not_raised(
    store: Path, target: Target, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from schedtui.tui.screens.backup import BackupScreen

    blocker = store.parent / "not-a-dir"
    blocker.write_text("a file where the backup folder should be")
    monkeypatch.setenv("SCHEDTUI_BACKUP_DIR", str(blocker))
    app = app_for(target, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BackupScreen), what="backup screen")
        screen = app.screen
        await wait_for(pilot, lambda: screen.finished, timeout=60, what="backup done")
        assert not screen.ok
        assert "failed" in str(screen.query_one("#backup-status").render())


async def test_run_now_without_companion_is_refused_with_the_reason(target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(pilot, app)
        main_of(app).query_one(JobList).select_job("cleanup-temp")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert any("companion" in n.message for n in app._notifications)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_pause_and_resume_directly_with_confirmation(store: Path, target: Target, clock: FixedClock) -> None:
    app = app_for(target, clock, refresh=0.5)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        main.query_one(JobList).select_job("weekly-report")
        await pilot.pause()
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        assert "weekly-report" in app.screen.body or "Weekly report" in app.screen.title_text
        await pilot.press("n")  # cancel: nothing happens
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="cancelled")
        assert "weekly-report" not in main.pending
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm again")
        await pilot.press("y")
        await wait_for(pilot, lambda: "weekly-report" in groups(app).get("paused", []), timeout=30, what="paused")
        assert "weekly-report" not in main.pending
        assert any("weekly-report" in n.message and "applied" in n.message for n in app._notifications)
        main.query_one(JobList).select_job("weekly-report")
        await pilot.pause()
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm resume")
        await pilot.press("y")
        await wait_for(pilot, lambda: "weekly-report" in groups(app).get("on time", []), timeout=30, what="resumed")


async def test_pending_marker_until_the_result_then_a_notification(target: Target, clock: FixedClock) -> None:
    from schedtui.core.control import ControlResult
    from schedtui.tui.screens.control import ControlDone

    app = app_for(target, clock)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        main.query_one(JobList).select_job("weekly-report")
        await pilot.pause()
        main.pending["weekly-report"] = "pause"
        main._mark_pending()
        assert "pause…" in line_text(app, "weekly-report")
        assert "pause pending" in main.control_note().plain
        await pilot.press("p")  # a second request while one is pending is refused
        assert isinstance(app.screen, MainScreen)
        result = ControlResult("weekly-report", "pause", "companion", "applied", "paused by sched-1", 7)
        main.post_message(ControlDone("weekly-report", "pause", result, None))
        await wait_for(pilot, lambda: "weekly-report" not in main.pending, what="result")
        assert "pause…" not in line_text(app, "weekly-report")
        assert any("applied by the scheduler" in n.message for n in app._notifications)


async def test_hostile_rows_do_not_break_the_console(store: Path, target: Target, clock: FixedClock) -> None:
    """Ids with escape sequences and garbage bytes (a corrupted row) are shown, not obeyed."""
    import sqlite3

    weird = "\x1b[2J\x1b]0;pwned\x07" + "x" * 400 + "\n\u202e"
    with sqlite3.connect(store) as conn:
        conn.execute("INSERT INTO apscheduler_jobs VALUES (?, ?, ?)", (weird, 1e18, b"\x00garbage\xff" * 50))
        conn.execute("INSERT INTO apscheduler_jobs VALUES (?, ?, ?)", ("nan-time", float("nan"), b""))
    app = app_for(target, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        ids = [j for v in groups(app).values() for j in v]
        assert weird in ids and "nan-time" in ids
        for job_id in (weird, "nan-time"):
            main.query_one(JobList).select_job(job_id)
            await wait_for(pilot, lambda: main.extras is not None and main.extras.job_id == job_id, what="detail")
            await pilot.pause()
            text = line_text(app, job_id)
            assert "\x1b" not in text and "\n" not in text
        await pilot.press("g", "g", "s", "s")
        await pilot.pause()
        assert app.is_running


async def test_starting_without_the_database_then_it_appears(store: Path, clock: FixedClock) -> None:
    import shutil

    target = Target(url="sqlite:///later.sqlite")
    app = app_for(target, clock, refresh=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        main = main_of(app)
        await wait_for(pilot, lambda: main.frame is not None and main.frame.stale and main.loaded, what="error shown")
        assert "not found" in summary_text(app)
        assert "could not be read" in main.query_one(JobList).empty_text
        shutil.copyfile(store, store.with_name("later.sqlite"))
        await wait_for(
            pilot, lambda: main.frame is not None and not main.frame.stale, timeout=60, what="database appeared"
        )
        await wait_for(pilot, lambda: sum(len(v) for v in groups(app).values()) == 12, what="jobs shown")


async def test_the_scheduler_verdict_is_never_cut_off_at_80_columns(target: Target, clock: FixedClock) -> None:
    """The summary's first line is cut on the right at 80 columns: the verdict comes first."""
    from schedtui.tui.widgets.summary import SummaryStrip

    app = app_for(target, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        strip = main_of(app).query_one(SummaryStrip)
        first = "".join(seg.text for seg in strip.render_line(0))
        # was "12 jobs · 8 active · 2 paused · 2 undecodable · 1 overdue  │ ✖ 1 of 12 tas…"
        assert first.startswith("✖ 1 of 12") and "the scheduler is not running them" in first, first
