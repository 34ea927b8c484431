"""Snapshot tests of the console's main views at 80×24, 120×36 and 200×50, on the real fixture
store with a FixedClock (SVGs under tests/tui/__snapshots__; update with
``pytest tests/tui --snapshot-update`` after checking the new pictures)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from schedtui.core.clock import FixedClock
from schedtui.core.model import Target
from schedtui.tui.app import SchedtuiApp
from schedtui.tui.widgets.jobs import JobList
from tui.helpers import SNAPSHOT_SIZES, add_aegis_history, add_history, reprs_ready, settle, stable, wait_for

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("reads_take_no_time")]

SIZES = SNAPSHOT_SIZES


def _app(target: Target, clock: FixedClock, **kw) -> SchedtuiApp:
    return SchedtuiApp(target, clock=clock, theme="dark", **kw)


def _select(job_id: str, pane: str | None = None):
    async def run_before(pilot) -> None:
        app = pilot.app
        await settle(pilot, app)
        main = app.screen_stack[0]
        main.query_one(JobList).select_job(job_id)
        await wait_for(
            pilot,
            lambda: (
                main.selected is not None
                and main.selected.id == job_id
                and reprs_ready(main)
                and main.history is not None
            ),
            what="selection",
        )
        await wait_for(pilot, lambda: main._panes_timer is None, what="panes drawn")
        if pane == "history":
            await pilot.press("v")
        await stable(pilot)

    return run_before


async def _settled(pilot) -> None:
    await settle(pilot, pilot.app)


@pytest.mark.parametrize("size", SIZES)
def test_main_screen(snap_compare, store: Path, target: Target, clock: FixedClock, size) -> None:
    add_history(store, clock)
    assert snap_compare(_app(target, clock), terminal_size=size, run_before=_settled)


@pytest.mark.parametrize("size", SIZES)
def test_main_screen_without_companion(snap_compare, target: Target, clock: FixedClock, size) -> None:
    assert snap_compare(_app(target, clock), terminal_size=size, run_before=_settled)


@pytest.mark.parametrize("size", SIZES)
def test_detail_pane(snap_compare, target: Target, clock: FixedClock, size) -> None:
    assert snap_compare(_app(target, clock), terminal_size=size, run_before=_select("nightly-backup"))


@pytest.mark.parametrize("size", SIZES)
def test_history_pane(snap_compare, store: Path, target: Target, clock: FixedClock, size) -> None:
    add_history(store, clock)
    assert snap_compare(_app(target, clock), terminal_size=size, run_before=_select("cleanup-temp", "history"))


@pytest.mark.parametrize("size", SIZES)
def test_undecodable_row(snap_compare, target: Target, clock: FixedClock, size) -> None:
    assert snap_compare(_app(target, clock), terminal_size=size, run_before=_select("torn-row"))


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, target: Target, clock: FixedClock, size) -> None:
    async def run_before(pilot) -> None:
        await settle(pilot, pilot.app)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(_app(target, clock), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_read_only(snap_compare, target: Target, clock: FixedClock, size) -> None:
    assert snap_compare(_app(target, clock, read_only=True), terminal_size=size, run_before=_select("weekly-report"))


@pytest.mark.parametrize("size", SIZES)
def test_disconnected(snap_compare, store: Path, target: Target, clock: FixedClock, size) -> None:
    async def run_before(pilot) -> None:
        app = pilot.app
        await settle(pilot, app)
        main = app.screen_stack[0]
        os.rename(store, store.with_name("gone.sqlite"))
        main._arm(0)
        await wait_for(pilot, lambda: main.frame is not None and main.frame.stale, what="stale")
        await pilot.pause()

    assert snap_compare(_app(target, clock), terminal_size=size, run_before=run_before)


def test_too_small(snap_compare, target: Target, clock: FixedClock) -> None:
    assert snap_compare(_app(target, clock), terminal_size=(60, 18), run_before=_settled)


def test_light_theme(snap_compare, store: Path, target: Target, clock: FixedClock) -> None:
    add_history(store, clock)
    assert snap_compare(SchedtuiApp(target, clock=clock, theme="light"), terminal_size=(120, 36), run_before=_settled)


@pytest.mark.parametrize("size", SIZES)
def test_confirmation_dialog(snap_compare, target: Target, clock: FixedClock, size) -> None:
    async def run_before(pilot) -> None:
        await _select("weekly-report")(pilot)
        await pilot.press("p")
        await pilot.pause()

    assert snap_compare(_app(target, clock), terminal_size=size, run_before=run_before)


def _keys(*keys: str, job_id: str | None = None):
    async def run_before(pilot) -> None:
        app = pilot.app
        await settle(pilot, app)
        main = app.screen_stack[0]
        if job_id is not None:
            main.query_one(JobList).select_job(job_id)
            await wait_for(pilot, lambda: main.extras is not None and main.extras.job_id == job_id, what="selection")
            await wait_for(pilot, lambda: main._panes_timer is None, what="panes drawn")
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await stable(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_flat_table(snap_compare, store: Path, target: Target, clock: FixedClock, size) -> None:
    add_history(store, clock)
    assert snap_compare(_app(target, clock), terminal_size=size, run_before=_keys("l", "6"))


@pytest.mark.parametrize("size", SIZES)
def test_tree_by_trigger_kind(snap_compare, store: Path, target: Target, clock: FixedClock, size) -> None:
    add_history(store, clock)
    assert snap_compare(_app(target, clock), terminal_size=size, run_before=_keys("g", "g"))


@pytest.mark.parametrize("size", SIZES)
def test_events_feed(snap_compare, store: Path, target: Target, clock: FixedClock, size) -> None:
    add_history(store, clock)
    assert snap_compare(_app(target, clock), terminal_size=size, run_before=_keys("e"))


@pytest.mark.parametrize("size", SIZES)
def test_failures_overview(snap_compare, store: Path, target: Target, clock: FixedClock, size) -> None:
    add_history(store, clock)
    assert snap_compare(_app(target, clock), terminal_size=size, run_before=_keys("F"))


@pytest.mark.parametrize("size", SIZES)
def test_marked_rows(snap_compare, store: Path, target: Target, clock: FixedClock, size) -> None:
    add_history(store, clock)
    keys = _keys("space", "space", "space", job_id="cleanup-temp")
    assert snap_compare(_app(target, clock), terminal_size=size, run_before=keys)


@pytest.mark.parametrize("size", SIZES)
def test_state_filter_and_text_match(snap_compare, store: Path, target: Target, clock: FixedClock, size) -> None:
    add_history(store, clock)
    keys = _keys("slash", *"re", "enter", "l")
    assert snap_compare(_app(target, clock), terminal_size=size, run_before=keys)


@pytest.mark.parametrize("size", SIZES)
def test_events_feed_aegis(snap_compare, store: Path, target: Target, clock: FixedClock, size) -> None:
    """The feed on an Aegis app's store: runs from job_execution, and the one line on what
    Aegis does not record."""
    add_aegis_history(store, clock)
    assert snap_compare(_app(target, clock), terminal_size=size, run_before=_keys("e"))


@pytest.mark.parametrize("size", SIZES)
def test_failures_overview_aegis(snap_compare, store: Path, target: Target, clock: FixedClock, size) -> None:
    add_aegis_history(store, clock)
    assert snap_compare(_app(target, clock), terminal_size=size, run_before=_keys("F"))
