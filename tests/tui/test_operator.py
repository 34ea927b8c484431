"""Pilot tests of issue 12 on the real fixture store: focus always returns to the list (no
key lands in a hidden filter), read-only marking, the history cursor across refreshes,
the backup window, one vocabulary with the CLI, marks and bulk actions, the events feed,
the failures overview, the time zone toggle and copying an id."""

from __future__ import annotations

from pathlib import Path

import pytest

from schedtui.core.clock import FixedClock
from schedtui.core.model import Target
from schedtui.tui.app import SchedtuiApp
from schedtui.tui.screens.backup import BackupScreen
from schedtui.tui.screens.dialogs import ConfirmScreen, HelpScreen, TextScreen
from schedtui.tui.screens.main import MainScreen
from schedtui.tui.widgets.history import HistoryPane
from schedtui.tui.widgets.jobs import JobList, layout
from tui.helpers import settle, wait_for

pytestmark = pytest.mark.timeout(120)


def main_of(app: SchedtuiApp) -> MainScreen:
    return app.screen_stack[0]  # type: ignore[return-value]


def job_ids(app: SchedtuiApp) -> list[str]:
    return [r.job.id for r in main_of(app).query_one(JobList).rows if r.job is not None]


def messages(app: SchedtuiApp) -> list[str]:
    return [n.message for n in app._notifications]


async def _assert_keys_reach_the_list(pilot, app: SchedtuiApp) -> None:
    """`j` moves the cursor and `b b b` opens the backup window: nothing is filtered."""
    main = main_of(app)
    jobs = main.query_one(JobList)
    assert app.focused is jobs, app.focused
    before = jobs.cursor
    await pilot.press("j")
    assert jobs.cursor == before + 1
    await pilot.press("b", "b", "b")
    await wait_for(pilot, lambda: isinstance(app.screen, BackupScreen), what="backup window")
    assert main.params.needle == "" and not main.query_one("#filter").display
    await wait_for(pilot, lambda: app.screen.finished, what="backup done")  # type: ignore[attr-defined]
    await pilot.press("escape")
    await wait_for(pilot, lambda: app.screen is main, what="back")
    assert app.focused is jobs


async def test_focus_returns_to_the_list_after_resize_help_and_palette(target: Target, clock: FixedClock) -> None:
    app = SchedtuiApp(target, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.resize_terminal(70, 20)
        await pilot.pause()
        await pilot.resize_terminal(120, 36)
        await wait_for(pilot, lambda: app.focused is main_of(app).query_one(JobList), what="focus back")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await pilot.press("escape")
        await pilot.pause()
        await _assert_keys_reach_the_list(pilot, app)
        # the command palette stays offered in the footer after a resize
        from textual.widgets import Footer

        assert main_of(app).query_one(Footer).show_command_palette


async def test_palette_then_escape_at_200x50_leaves_keys_to_the_list(target: Target, clock: FixedClock) -> None:
    app = SchedtuiApp(target, clock=clock)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        await _assert_keys_reach_the_list(pilot, app)


async def test_filter_enter_then_command_keys_act(target: Target, clock: FixedClock) -> None:
    app = SchedtuiApp(target, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        await pilot.press("slash", *"report", "enter")
        await wait_for(pilot, lambda: main.params.needle == "report", what="filter")
        assert app.focused is main.query_one(JobList)
        await pilot.press("g")  # a command, not the filter's text
        assert main.params.needle == "report" and main.params.group_by == "module"


async def test_palette_lists_only_the_consoles_commands(target: Target, clock: FixedClock) -> None:
    app = SchedtuiApp(target, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for theirs in ("Keys", "Maximize", "Screenshot", "Theme"):
            assert not any(t.startswith(theirs) for t in titles), titles
        assert "Events feed" in titles and "Quit" in titles


async def test_history_cursor_stays_across_refreshes_and_t_needs_a_pick(
    history: Path, target: Target, clock: FixedClock
) -> None:
    from textual.widgets import DataTable

    app = SchedtuiApp(target, clock=clock)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        main.query_one(JobList).select_job("cleanup-temp")
        await wait_for(pilot, lambda: main.history is not None and main.history.runs, what="runs")
        await pilot.press("t")
        assert isinstance(app.screen, MainScreen)
        assert any("pick a run first" in m for m in messages(app))
        await pilot.press("v")
        table = main.query_one("#history-runs", DataTable)
        await pilot.pause()
        table.focus()
        await pilot.pause()
        await pilot.press("down", "down")  # the third run: a failed one (index 2 = run 9)
        assert table.cursor_row == 2
        for _ in range(2):
            refreshes = main.refreshes
            main._arm(0)
            await wait_for(pilot, lambda: main.refreshes > refreshes, what="refresh")
            await pilot.pause()
        assert table.cursor_row == 2
        pane = main.query_one(HistoryPane)
        run = pane.picked_run()
        assert run is not None and run.outcome == "error"
        assert "No space left on device" in str(pane.query_one("#history-error").render())
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TextScreen), what="traceback")
        assert app.screen.title_text.startswith("error run of cleanup-temp at 2026-03-02 11:")
        assert app.screen.title_text.endswith(" UTC")


async def test_backup_window_and_summary_update_at_once(target: Target, clock: FixedClock) -> None:
    app = SchedtuiApp(target, clock=clock, refresh=60)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BackupScreen) and app.screen.finished, what="done")
        status = str(app.screen.query_one("#backup-status").render())
        assert "verified" in status and "KB" in status  # the CLI's units
        # the summary shows the backup while the window is still open (no 60 s wait)
        await wait_for(pilot, lambda: main.frame is not None and main.frame.last_backup is not None, what="summary")
        assert any("backup verified" in m for m in messages(app))


async def test_console_and_cli_judge_alike(target: Target, clock: FixedClock) -> None:
    from schedtui.core.health import CheckOptions
    from schedtui.core.listing import job_state as cli_state
    from schedtui.core.vocab import STATE_LABELS, JobState, format_bytes
    from schedtui.tui.view import state_label

    app = SchedtuiApp(target, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        now = clock()
        for job in main_of(app).frame.snapshot.jobs:
            code, _ = cli_state(job, now, CheckOptions())
            assert state_label(job, now) == STATE_LABELS[JobState(code)], job.id
    assert format_bytes(102400) == "102.4 KB"


def test_terminal_unicode_follows_the_declared_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    from schedtui.core.vocab import terminal_unicode

    monkeypatch.delenv("SCHEDTUI_ASCII", raising=False)
    assert terminal_unicode({"LANG": "C"}) is False
    assert terminal_unicode({"LANG": "POSIX"}) is False
    assert terminal_unicode({"LANG": "en_US.UTF-8"}) is True
    assert terminal_unicode({"LANG": "de_DE.utf8"}) is True
    assert terminal_unicode({"LANG": "en_US.UTF-8", "LC_ALL": "C"}) is False
    assert terminal_unicode({"LANG": "C", "LC_CTYPE": "C.UTF-8"}) is True
    assert terminal_unicode({}) is True
    assert terminal_unicode({"LANG": "en_US.UTF-8", "SCHEDTUI_ASCII": "1"}) is False


def test_lang_c_gets_ascii_from_the_cli_and_the_console(tmp_path: Path) -> None:
    """A real process started with LANG=C (Python coerces its own locale to UTF-8)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "SCHEDTUI_ASCII"))}
    code = (
        "from schedtui.cli.common import use_unicode; from schedtui.tui import glyphs; "
        "print(use_unicode(), glyphs.unicode(), glyphs.g('open'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={**env, "LANG": "C"}, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False", "v"]
    out = subprocess.run(
        [sys.executable, "-c", code], env={**env, "LANG": "C.UTF-8"}, capture_output=True, text=True, check=True
    )
    assert out.stdout.split()[:2] == ["True", "True"]


def test_columns_fit_the_width() -> None:
    for width in (44, 60):
        keys = [c.key for c, _ in layout(width, name_w=24)]
        assert {"name", "countdown", "state"} <= set(keys)
        widths = {c.key: w for c, w in layout(width, name_w=20)}
        assert widths["countdown"] >= 12 and widths["state"] >= 7
    wide = layout(138, name_w=24, id_w=16)
    assert [c.key for c, _ in wide] == [
        "id",
        "name",
        "trigger",
        "next",
        "countdown",
        "state",
        "last_run",
        "outcome",
        "duration",
        "rate",
    ]
    assert sum(w for _, w in wide) + len(wide) - 1 + 2 <= 138
    # the name is never cut while a less important column is still shown
    widths = {c.key: w for c, w in layout(70, name_w=24)}
    assert widths["name"] >= 24


async def test_confirmation_names_the_job_plainly(history: Path, target: Target, clock: FixedClock) -> None:
    app = SchedtuiApp(target, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main_of(app).query_one(JobList).select_job("weekly-report")
        await wait_for(pilot, lambda: main_of(app).selected.id == "weekly-report", what="selected")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        assert app.screen.title_text == "Run “Weekly report” now?"
        assert "How:" not in app.screen.body
        await pilot.press("n")


async def test_marks_and_one_confirmation_for_all(target: Target, clock: FixedClock) -> None:
    app = SchedtuiApp(target, clock=clock)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        jobs = main.query_one(JobList)
        jobs.select_job("weekly-report")
        await pilot.press("space")  # marks and moves down
        jobs.select_job("nightly-backup")
        await pilot.press("space")
        assert jobs.marked == {"weekly-report", "nightly-backup"}
        assert "2 marked" in jobs.border_subtitle
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        assert app.screen.title_text == "Pause 2 marked jobs?"
        assert "Weekly report" in app.screen.body and "Nightly backup" in app.screen.body
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: sum("Pause" in m and "applied" in m for m in messages(app)) == 2,
            what="both results reported",
        )
        await wait_for(
            pilot, lambda: {"weekly-report", "nightly-backup"} <= set(_group(app, "paused")), what="both paused"
        )
        await pilot.press("U")
        assert not jobs.marked


def _group(app: SchedtuiApp, name: str) -> list[str]:
    return [r.job.id for r in main_of(app).query_one(JobList).rows if r.job is not None and r.group == name]


async def test_events_feed_and_failures_overview(history: Path, target: Target, clock: FixedClock) -> None:
    from textual.widgets import DataTable

    app = SchedtuiApp(target, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        await pilot.press("e")
        table = main.query_one("#events-table", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 12, what="events")
        assert app.focused is table
        first = " ".join(str(c) for c in table.get_row_at(0))
        assert "cleanup-temp" in first  # newest first: the last run, 5 min ago
        await pilot.press("f")  # failed only
        await wait_for(pilot, lambda: table.row_count == 2, what="failed only")
        assert all("failed" in " ".join(str(c) for c in table.get_row_at(i)) for i in range(2))
        await pilot.press("escape")
        assert main.query_one("#views").current == "body" and app.focused is main.query_one(JobList)
        await pilot.press("F")
        failures = main.query_one("#failures-table", DataTable)
        await wait_for(pilot, lambda: failures.row_count == 1, what="failing jobs")
        row = [str(c) for c in failures.get_row_at(0)]
        assert row[0] == "cleanup-temp" and row[1] == "2" and "No space left" in row[4]
        await pilot.press("F")
        assert app.focused is main.query_one(JobList)


async def test_job_changes_reach_the_events_feed(store: Path, target: Target, clock: FixedClock) -> None:
    import sqlalchemy as sa

    app = SchedtuiApp(target, clock=clock, refresh=0.5)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        engine = sa.create_engine(f"sqlite:///{store}")
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM apscheduler_jobs WHERE id = 'cleanup-temp'"))
        engine.dispose()
        await wait_for(
            pilot, lambda: any(e.what == "disappeared" for e in main.events_log.events()), what="disappeared event"
        )
        event = next(e for e in main.events_log.events() if e.what == "disappeared")
        assert event.job_id == "cleanup-temp" and event.failed


async def test_time_zone_toggle_and_copy_id(target: Target, clock: FixedClock) -> None:
    from schedtui.tui.widgets.detail import DetailPane

    app = SchedtuiApp(target, clock=clock)
    async with app.run_test(size=(200, 50), notifications=True) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        jobs = main.query_one(JobList)
        jobs.select_job("nightly-backup")
        await wait_for(pilot, lambda: main.extras is not None and main.extras.job_id == "nightly-backup", what="x")
        detail = lambda: str(main.query_one(DetailPane).query_one("#detail-body").render())  # noqa: E731
        assert "2026-03-03 02:00:00 UTC" in detail()
        await pilot.press("z", "z")  # UTC → local → the trigger's zone
        assert main.tz_mode == "trigger" and jobs.tz_mode == "trigger"
        await pilot.pause()
        assert "2026-03-03 03:00:00 CET" in detail()
        index = jobs.rows.index_of_job("nightly-backup")
        assert "03-03 03:00:00 CET" in jobs._render_row(index, jobs.size.width, jobs.rich_style).text
        await pilot.press("z")
        assert main.tz_mode == "utc"
        await pilot.press("c")
        assert app.clipboard == "nightly-backup"
        assert any("copied the id nightly-backup" in m for m in messages(app))


async def test_help_scrolls_at_80x24(target: Target, clock: FixedClock) -> None:
    app = SchedtuiApp(target, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await pilot.pause()
        scroll = app.screen.query_one("#help")
        assert scroll.max_scroll_y > 0  # more than fits: it scrolls
        assert "scroll" in str(app.screen.query_one("#help-hint").render())
        await pilot.press("pagedown")
        await pilot.pause()
        assert scroll.scroll_y > 0
