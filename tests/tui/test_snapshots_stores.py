"""Snapshots of the fleet view (one row per store, an unreachable one included) at 80×24,
120×36 and 200×50, and of the main screen naming its store. Real APScheduler stores (copies
of the console's fixture store), a FixedClock."""

from __future__ import annotations

from pathlib import Path

import pytest

from schedtui.core.clock import FixedClock
from schedtui.tui.app import SchedtuiApp
from schedtui.tui.screens.fleet import FleetScreen
from tui.helpers import SNAPSHOT_SIZES, add_history, stable, wait_for
from tui.test_stores_console import stores_of

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("reads_take_no_time")]

SIZES = SNAPSHOT_SIZES


def _app(store: Path, clock: FixedClock) -> SchedtuiApp:
    add_history(store, clock)  # prod: a companion with a fresh heartbeat and failed runs
    stores = stores_of(store, unreachable=True)
    # (a long refresh: the fleet's next round, 2 intervals later, never starts mid-snapshot)
    return SchedtuiApp(stores[0].target, clock=clock, theme="dark", stores=stores, refresh=60)


async def _loaded(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.main_screen is not None and app.main_screen.loaded, timeout=90, what="loaded")
    await wait_for(pilot, lambda: app.main_screen.refreshes >= 1, timeout=90, what="first refresh")


@pytest.mark.parametrize("size", SIZES)
def test_fleet_view(snap_compare, store: Path, clock: FixedClock, size) -> None:
    async def run_before(pilot) -> None:
        await _loaded(pilot)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FleetScreen), what="fleet view")
        fleet = pilot.app.screen
        await wait_for(pilot, lambda: len(fleet.rows) == 3 and fleet.pending == 0, timeout=90, what="rows")
        await stable(pilot)

    assert snap_compare(_app(store, clock), terminal_size=size, run_before=run_before)


def test_main_screen_names_its_store(snap_compare, store: Path, clock: FixedClock) -> None:
    async def run_before(pilot) -> None:
        await _loaded(pilot)
        await pilot.press("o")
        app = pilot.app
        await wait_for(
            pilot,
            lambda: (
                app.main_screen is not None
                and app.main_screen.store_name == "staging"
                and app.main_screen.loaded
                and app.main_screen.refreshes >= 1
            ),
            timeout=90,
            what="staging",
        )
        app.clear_notifications()  # ("store staging: …" would time out mid-snapshot on a slow machine)
        await stable(pilot)

    assert snap_compare(_app(store, clock), terminal_size=(120, 36), run_before=run_before)
