"""A large store's first screen: its first rows at once (a preview, marked partial), then
the complete read in their place; a small store is read whole, without a preview.

The store is the varied one (every job its own trigger), written by real APScheduler, of
3,000 jobs: above ``store.reader.PREVIEW_ABOVE``. The feed's complete read waits for the test
(an event, not a sleep), so the preview is seen for certain before it is replaced.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from fixtures.factory import DEFAULT_NOW, cached_sqlite_store
from fixtures.jobcanon import canon
from schedtui.core.clock import FixedClock
from schedtui.core.model import Target
from schedtui.core.store.reader import PREVIEW_ABOVE, PREVIEW_ROWS
from schedtui.tui.app import SchedtuiApp
from schedtui.tui.data import Feed, Frame
from schedtui.tui.screens.main import MainScreen
from schedtui.tui.widgets.jobs import JobList
from schedtui.tui.widgets.summary import SummaryStrip
from tui.helpers import SNAPSHOT_SIZES, reprs_ready, wait_for

pytestmark = pytest.mark.timeout(180)

COUNT = 3000
NOW = datetime.fromisoformat(DEFAULT_NOW)


class GatedFeed(Feed):
    """A feed whose reads of the whole table wait until the test opens the gate, and that
    keeps every frame it handed out (previews included)."""

    def __init__(self, target: Target, clock: FixedClock) -> None:
        super().__init__(target, clock=clock)
        self.gate = threading.Event()
        self.frames: list[Frame] = []

    def preview(self) -> Frame | None:
        frame = super().preview()
        if frame is not None:
            self.frames.append(frame)
        return frame

    def fetch(self) -> Frame:
        assert self.gate.wait(60), "the test never opened the gate"
        frame = super().fetch()
        self.frames.append(frame)
        return frame

    def close(self) -> None:
        self.gate.set()  # (the console is leaving: the read it waits for may go on)
        super().close()


@pytest.fixture
def large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Target:
    src, manifest = cached_sqlite_store("varied", count=COUNT)
    assert manifest["count"] == COUNT > PREVIEW_ABOVE
    shutil.copyfile(src, tmp_path / "varied.sqlite")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCHEDTUI_BACKUP_DIR", raising=False)
    monkeypatch.setenv("SCHEDTUI_DECODE_CACHE", "0")
    return Target(url="sqlite:///varied.sqlite")


def summary_text(main: MainScreen) -> str:
    return str(main.query_one(SummaryStrip).render())


def header_lines(jobs: JobList) -> list[str]:
    return [jobs.render_line(i + 1).text for i, row in enumerate(jobs.rows) if row.job is None]


@contextlib.asynccontextmanager
async def held_back(large: Target) -> AsyncIterator[tuple[SchedtuiApp, Any, MainScreen, GatedFeed]]:
    """The console on the large store with its complete read held back (``feed.gate``)."""
    clock = FixedClock(NOW)
    feed = GatedFeed(large, clock)
    app = SchedtuiApp(large, clock=clock, feed=feed, refresh=3600)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            main = app.screen_stack[0]
            assert isinstance(main, MainScreen)
            yield app, pilot, main, feed
    finally:
        feed.gate.set()


async def test_the_first_rows_come_first_then_the_whole_store_replaces_them(large: Target) -> None:
    async with held_back(large) as (app, pilot, main, feed):
        jobs = main.query_one(JobList)
        await wait_for(pilot, lambda: main.loaded, what="the preview on screen")
        # -- the preview: the first rows, labelled partial everywhere it counts
        assert main.partial and not main.complete and main.refreshes == 0
        assert main.frame is not None and main.frame.snapshot is not None
        preview = main.frame.snapshot.jobs
        assert main.frame.preview_of == COUNT and len(preview) == PREVIEW_ROWS
        assert sorted(j.id for j in jobs.rows.jobs()) == sorted(j.id for j in preview)
        assert str(jobs.border_title).startswith(f"PARTIAL: first {PREVIEW_ROWS} of {COUNT:,} jobs")
        text = summary_text(main)
        assert f"reading all {COUNT:,} jobs…" in text and f"partial: {PREVIEW_ROWS} of {COUNT:,}" in text
        assert "overdue" not in text.split("\n")[0]  # (no verdict from the first rows)
        assert "backup: none yet" not in text and "next:" not in text
        heads = header_lines(jobs)
        assert heads and all("+ so far)" in h for h in heads), heads
        # job control waits for the complete list
        app._notifications.clear()
        await pilot.press("p")
        assert any("still reading every job" in n.message for n in app._notifications)
        # the cursor moves on the preview; it stays on that job when the rest arrives
        await pilot.press("j", "j", "j")
        picked = jobs.current_job
        assert picked is not None
        feed.gate.set()
        await wait_for(pilot, lambda: main.complete, what="the complete list")
        # -- the complete read, in the preview's place
        assert not main.partial and main.refreshes == 1
        full = main.frame.snapshot.jobs
        assert len(full) == COUNT and len(list(jobs.rows.jobs())) == COUNT
        assert jobs.current_job is not None and jobs.current_job.id == picked.id
        assert not str(jobs.border_title).startswith("PARTIAL")
        text = summary_text(main)
        assert f"{COUNT} jobs" in text and "reading all" not in text and "partial:" not in text
        assert not any("so far" in h for h in header_lines(jobs))
        # the rows the preview did not have were not "added": they had not been read
        assert not any(e.what == "appeared" for e in main.events_log._events)
        # every previewed job is the complete read's job in every respect, in its order
        by_id = {j.id: j for j in full}
        assert [canon(j) for j in preview] == [canon(by_id[j.id]) for j in preview]
        assert [j.id for j in preview] == [j.id for j in full[:PREVIEW_ROWS]]
        assert [f.partial for f in feed.frames] == [True, False]


async def test_when_the_full_read_fails_the_first_rows_stay_marked_partial_and_stale(large: Target) -> None:
    async with held_back(large) as (app, pilot, main, feed):
        await wait_for(pilot, lambda: main.loaded, what="the preview on screen")
        Path("varied.sqlite").rename("moved.sqlite")  # (the store goes away before the full read)
        feed.gate.set()
        await wait_for(pilot, lambda: main.refreshes == 1, what="the failed read")
        assert main.frame is not None and main.frame.stale and main.partial and not main.complete
        assert main.frame.snapshot is not None and len(main.frame.snapshot.jobs) == PREVIEW_ROWS
        text = summary_text(main)
        assert f"read of all {COUNT:,} jobs failed" in text and "not found" in text
        assert "reading all" not in text
        assert str(jobs_title(main)).startswith(f"PARTIAL: first {PREVIEW_ROWS} of {COUNT:,} jobs · STALE")


def jobs_title(main: MainScreen) -> object:
    return main.query_one(JobList).border_title


async def test_a_small_store_is_read_whole_without_a_preview(target: Target, clock: FixedClock) -> None:
    feed = GatedFeed(target, clock)
    feed.gate.set()
    app = SchedtuiApp(target, clock=clock, feed=feed, refresh=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        main = app.screen_stack[0]
        assert isinstance(main, MainScreen)
        await wait_for(pilot, lambda: main.loaded, what="the jobs on screen")
        assert main.complete and not main.partial
        assert [f.partial for f in feed.frames] == [False]  # (no preview frame was made)
        snap = feed.frames[0].snapshot
        assert snap is not None and 0 < len(snap.jobs) <= PREVIEW_ABOVE
        assert "reading all" not in summary_text(main)


def test_a_feed_previews_only_before_its_first_read(large: Target) -> None:
    feed = Feed(large, clock=FixedClock(NOW))
    try:
        first = feed.preview()
        assert first is not None and first.partial and first.preview_of == COUNT
        again = feed.preview()  # (nothing kept: a second preview reads the same rows)
        assert again is not None and again.snapshot is not None and first.snapshot is not None
        assert [canon(j) for j in again.snapshot.jobs] == [canon(j) for j in first.snapshot.jobs]
        frame = feed.fetch()
        assert not frame.partial and frame.snapshot is not None and len(frame.snapshot.jobs) == COUNT
        assert feed.preview() is None  # refreshes after the first read stay incremental
    finally:
        feed.close()


@pytest.mark.usefixtures("reads_take_no_time")
@pytest.mark.parametrize("size", SNAPSHOT_SIZES[:2])
def test_the_preview_on_screen(snap_compare, large: Target, size: tuple[int, int]) -> None:
    """What a user sees of a large store before every job is read (the first job selected)."""
    clock = FixedClock(NOW)
    feed = GatedFeed(large, clock)

    async def run_before(pilot: Any) -> None:
        main = pilot.app.screen_stack[0]
        await wait_for(pilot, lambda: main.loaded, what="the preview on screen")
        job = main.query_one(JobList).current_job
        ready = lambda: main.selected is job and reprs_ready(main) and main.history is not None  # noqa: E731
        await wait_for(pilot, ready, what="the selected job's detail")
        await wait_for(pilot, lambda: main._panes_timer is None, what="panes drawn")
        last = None
        for _ in range(50):  # (two screenshots alike; the complete read is held back meanwhile)
            await pilot.pause()
            shot = pilot.app.export_screenshot()
            shot = shot[shot.find("<g") :]
            if shot == last:
                break
            last = shot
        assert main.partial

    app = SchedtuiApp(large, clock=clock, feed=feed, refresh=3600, theme="dark")
    try:
        assert snap_compare(app, terminal_size=size, run_before=run_before)
    finally:
        feed.gate.set()
