"""What the console does while nothing happens: the per-second tick repaints only what the
time changed, a refresh that brings nothing repaints nothing, and a SQLite store nobody
committed to is not asked for its companion tables again. Plus the layout defects found
while measuring: the table's columns fit left of the scrollbar, the store keys are
discoverable, the events feed's note is one line at 80x24.

Time comes from the FixedClock; Pilot drives the real console on the fixture store
(written by real APScheduler).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from schedtui.core.clock import FixedClock
from schedtui.core.model import Target
from schedtui.core.stores import NamedStore
from schedtui.core.vocab import job_state
from schedtui.tui.app import SchedtuiApp
from schedtui.tui.data import Feed
from schedtui.tui.screens.dialogs import HelpScreen
from schedtui.tui.screens.main import MainScreen
from schedtui.tui.widgets.jobs import GAP, MARK_W, JobList
from tui.helpers import STORE, settle, wait_for

pytestmark = pytest.mark.timeout(120)


def main_of(app: SchedtuiApp) -> MainScreen:
    screen = app.main_screen
    assert screen is not None
    return screen


class Spy:
    """Counts ``refresh`` calls of one widget (a whole-widget one apart)."""

    def __init__(self, widget: object) -> None:
        self.calls: list[tuple[object, ...]] = []
        original = widget.refresh  # type: ignore[attr-defined]

        def refresh(*regions: object, **kw: object) -> object:
            self.calls.append(regions)
            return original(*regions, **kw)

        widget.refresh = refresh  # type: ignore[attr-defined]

    @property
    def whole(self) -> int:
        return sum(1 for regions in self.calls if not regions)


async def test_tick_touches_only_what_the_time_changed(target: Target, clock: FixedClock) -> None:
    app = SchedtuiApp(target, clock=clock, refresh=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        jobs = main.query_one(JobList)
        body, head = main.query_one("#detail-body"), main.query_one("#detail-head")
        main.tick()  # (the first tick records what is on screen)
        await pilot.pause()
        spies = {name: Spy(w) for name, w in (("jobs", jobs), ("body", body), ("head", head))}
        summary = Spy(main.query_one("#summary"))
        # the clock did not move: nothing to repaint
        main.tick()
        await pilot.pause()
        assert all(not s.calls for s in spies.values()) and not summary.calls
        # a second later: the countdowns that changed, the summary's times, the detail's
        # "next run" line; never the whole list, nor the detail's body
        clock.advance(1)
        main.tick()
        await pilot.pause()
        assert spies["jobs"].calls and spies["jobs"].whole == 0
        assert len(spies["jobs"].calls) == 1  # one refresh for every changed line
        assert not spies["body"].calls
        assert spies["head"].calls  # the countdown in "next run"


async def test_refresh_with_nothing_new_repaints_nothing(target: Target, clock: FixedClock) -> None:
    app = SchedtuiApp(target, clock=clock, refresh=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        for timer in main._timers:  # (no tick meanwhile: what repaints is the refresh's doing)
            if timer.name == "countdown":
                timer.pause()
        jobs, body, summary = main.query_one(JobList), main.query_one("#detail-body"), main.query_one("#summary")
        spy_jobs, spy_body, spy_summary = Spy(jobs), Spy(body), Spy(summary)
        clock.advance(5)  # ("refreshed 5s ago" -> "0s ago" waits for the tick)
        done = main.refreshes
        main._arm(0)
        await wait_for(pilot, lambda: main.refreshes > done, what="a refresh")
        await pilot.pause()
        # (the border title was set again on every refresh: a whole-list repaint)
        assert spy_jobs.whole == 0 and not spy_body.calls and not spy_summary.calls
        main.tick()
        assert spy_summary.calls


def commit_elsewhere(path: Path) -> None:
    con = sqlite3.connect(path)
    try:
        con.execute("CREATE TABLE IF NOT EXISTS other_app (n INTEGER)")
        con.execute("INSERT INTO other_app VALUES (1)")
        con.commit()
    finally:
        con.close()


def test_quiet_store_reuses_the_companion_reads(
    history: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import schedtui.core.archive as archive

    calls: list[int] = []
    original = archive.read_archived

    def counted(*args: object, **kw: object) -> object:
        calls.append(1)
        return original(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(archive, "read_archived", counted)
    feed = Feed(Target(url=f"sqlite:///{STORE}"), clock=clock)
    try:
        first = feed.fetch()
        second = feed.fetch()  # nobody committed
        assert len(calls) == 1
        commit_elsewhere(history)
        third = feed.fetch()
        assert len(calls) == 2
        clock.advance(3600)  # what depends on the time is computed again all the same
        fourth = feed.fetch()
        assert len(calls) == 2
        # a commit, then a refresh that fails before reading the companion tables: the
        # next one reads them (what was kept from before the commit is not used again)
        commit_elsewhere(history)
        reader = feed._get_reader()
        read = reader.read

        def fails() -> object:
            raise RuntimeError("the database went away for a moment")

        reader.read = fails  # type: ignore[method-assign]
        assert feed.fetch().stale
        reader.read = read  # type: ignore[method-assign]
        feed.fetch()
        assert len(calls) == 3
    finally:
        feed.close()
    for frame in (second, third):
        assert (frame.companion, frame.heartbeat, frame.runs_24h, frame.archived, frame.history_source) == (
            first.companion,
            first.heartbeat,
            first.runs_24h,
            first.archived,
            first.history_source,
        )
    assert first.heartbeat is not None and fourth.heartbeat is not None
    assert first.heartbeat.fresh and not fourth.heartbeat.fresh  # an hour later: stale


@pytest.mark.parametrize("size", [(80, 24), (120, 36), (200, 50)])
async def test_columns_fit_left_of_the_scrollbar(target: Target, clock: FixedClock, size: tuple[int, int]) -> None:
    app = SchedtuiApp(target, clock=clock, refresh=3600)
    async with app.run_test(size=size) as pilot:
        await settle(pilot, app)
        jobs = main_of(app).query_one(JobList)
        jobs.styles.height = 8  # (few lines: the scrollbar shows)
        await pilot.pause()
        await pilot.pause()
        assert jobs.show_vertical_scrollbar
        used = MARK_W + sum(w for _, w in jobs._columns()) + GAP * (len(jobs._columns()) - 1)
        assert used <= jobs.scrollable_content_region.width
        row = next(i for i, r in enumerate(jobs.rows) if r.job is not None)
        text = jobs._render_row(row, jobs.size.width, jobs.rich_style).text
        job = jobs.rows[row].job
        assert job is not None
        visible = text[: jobs.scrollable_content_region.width]
        assert f" {job_state(job, clock())[0].label} " in f"{visible} "  # whole, left of the scrollbar


def two_stores(store: Path) -> tuple[NamedStore, ...]:
    other = store.with_name("staging.sqlite")
    other.write_bytes(store.read_bytes())
    return (
        NamedStore("prod", Target(url=f"sqlite:///{STORE}")),
        NamedStore("staging", Target(url="sqlite:///staging.sqlite")),
    )


def footer_text(app: SchedtuiApp) -> str:
    return "".join(s.text for s in app.screen._compositor.render_strips()[-1:])


@pytest.mark.parametrize(("width", "shown"), [(80, False), (120, True), (200, True)])
async def test_store_keys_in_the_footer_where_room_allows(
    store: Path, clock: FixedClock, width: int, shown: bool
) -> None:
    stores = two_stores(store)
    app = SchedtuiApp(stores[0].target, clock=clock, stores=stores, refresh=3600)
    async with app.run_test(size=(width, 36)) as pilot:
        await wait_for(pilot, lambda: app.main_screen is not None and main_of(app).loaded, what="store on screen")
        await pilot.pause()
        line = footer_text(app)
        assert ("o Next store" in line and "a Fleet" in line and ": Command" in line) is shown, line
        assert "? Help" in line


async def test_store_keys_in_the_help_always(target: Target, clock: FixedClock) -> None:
    app = SchedtuiApp(target, clock=clock, refresh=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        line = footer_text(app)
        assert "Next store" not in line  # (one store: o, a and : only say so)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = str(app.screen.query_one("#help Static").render())
        assert "next store" in text and ":store NAME" in text and "one store is open" in text


async def test_events_note_is_one_line_at_80x24(target: Target, clock: FixedClock) -> None:
    app = SchedtuiApp(target, clock=clock, refresh=3600)  # (no run history: the longest note)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("e")
        note = main_of(app).query_one("#events-note")
        await wait_for(pilot, lambda: note.display and note.size.height > 0, what="the note")
        assert note.size.height == 1
        line = note.render_line(0).text.rstrip()
        assert line.startswith("no run history") and line.endswith("…")
        assert "schedtui companion --help" in str(note.tooltip)


async def test_loaded_jobs_are_out_of_the_collectors_way(target: Target, clock: FixedClock) -> None:
    """A full collection walked every decoded job (~1 s for 100,000, on the UI thread when
    a store switch made new widgets): once loaded they are frozen, and unfrozen on exit."""
    import gc

    gc.unfreeze()
    app = SchedtuiApp(target, clock=clock, refresh=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        snap = main_of(app).frame.snapshot  # type: ignore[union-attr]
        assert snap is not None
        assert gc.get_freeze_count() >= len(snap.jobs)
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize(("ascii_", "border"), [("1", "ascii"), ("0", "round")])
async def test_ascii_terminal_gets_ascii_borders(
    target: Target, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, ascii_: str, border: str
) -> None:
    """A plain LANG=C session: the borders are ASCII too, not only the console's symbols."""
    from schedtui.tui.glyphs import set_unicode

    monkeypatch.setenv("SCHEDTUI_ASCII", ascii_)  # (what LANG=C decides, ``terminal_unicode``)
    app = SchedtuiApp(target, clock=clock, refresh=3600)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot, app)
            jobs = main_of(app).query_one(JobList)
            assert app.has_class("-ascii") is (ascii_ == "1")
            assert jobs.styles.border_top[0] == border
            top = app.screen._compositor.render_strips()[3].text
            assert top.startswith("+-" if ascii_ == "1" else "╭─"), top
    finally:
        set_unicode(True)


async def test_clearing_the_filter_keeps_the_picked_job_in_view(target: Target, clock: FixedClock) -> None:
    """Filter to a job, clear the filter: the cursor stays on it and the list scrolls to it
    (it was kept off screen, at the top of the list, with the detail showing it)."""
    app = SchedtuiApp(target, clock=clock, refresh=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        jobs = main.query_one(JobList)
        jobs.styles.height = 7  # (a few lines: most jobs are off screen)
        await pilot.pause()
        last = max(i for i, r in enumerate(jobs.rows) if r.job is not None)
        wanted = jobs.rows[last].job
        assert wanted is not None
        await pilot.press("slash", *wanted.id)
        await wait_for(pilot, lambda: jobs.current_job is not None and jobs.current_job.id == wanted.id, what="match")
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(jobs.rows) > last and not main.params.needle, what="all rows again")
        await pilot.pause()
        await pilot.pause()
        assert jobs.current_job is not None and jobs.current_job.id == wanted.id
        top, height = jobs.scroll_offset.y, jobs.size.height
        assert top <= jobs.cursor < top + height - 1  # (line 0 is the column header)
