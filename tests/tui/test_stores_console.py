"""Several stores in one console: switching by key, by ``:store NAME`` and from the fleet view,
and the fleet view itself (one row per store, an unreachable one included), with Pilot.

The stores are copies of the console's fixture store (written by real APScheduler); the
second loses some rows the way a scheduler removes jobs. Time comes from the FixedClock.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from schedtui.core.clock import FixedClock
from schedtui.core.health import Status
from schedtui.core.model import Target
from schedtui.core.stores import NamedStore
from schedtui.tui.app import SchedtuiApp
from schedtui.tui.screens.fleet import FleetScreen
from schedtui.tui.screens.main import MainScreen
from schedtui.tui.widgets.jobs import JobList
from schedtui.tui.widgets.summary import SummaryStrip
from tui.helpers import STORE, wait_for

pytestmark = pytest.mark.timeout(120)

#: nothing listens on port 1: refused at once
UNREACHABLE = "postgresql+psycopg://scheduler@127.0.0.1:1/app"


def second_store(store: Path, name: str = "staging.sqlite", keep: int = 5) -> Path:
    """A copy of the fixture store with only its first ``keep`` jobs (by id)."""
    path = store.with_name(name)
    shutil.copyfile(store, path)
    con = sqlite3.connect(path)
    try:
        ids = [r[0] for r in con.execute("SELECT id FROM apscheduler_jobs ORDER BY id")]
        con.executemany("DELETE FROM apscheduler_jobs WHERE id = ?", [(i,) for i in ids[keep:]])
        con.commit()
    finally:
        con.close()
    return path


def stores_of(store: Path, *, unreachable: bool = False) -> tuple[NamedStore, ...]:
    second_store(store)
    out = [
        NamedStore("prod", Target(url=f"sqlite:///{STORE}")),
        NamedStore("staging", Target(url="sqlite:///staging.sqlite")),
    ]
    if unreachable:
        out.append(NamedStore("gone", Target(url=UNREACHABLE)))
    return tuple(out)


def make_app(stores: tuple[NamedStore, ...], clock: FixedClock, **kw) -> SchedtuiApp:
    return SchedtuiApp(stores[0].target, clock=clock, theme="dark", stores=stores, **kw)


def main_of(app: SchedtuiApp) -> MainScreen:
    screen = app.main_screen
    assert screen is not None
    return screen


async def loaded(pilot, app: SchedtuiApp, name: str) -> MainScreen:
    await wait_for(
        pilot,
        lambda: (
            app.main_screen is not None
            and main_of(app).store_name == name
            and main_of(app).loaded
            and main_of(app).refreshes >= 1
        ),
        timeout=60,
        what=f"store {name} on screen",
    )
    return main_of(app)


def total(main: MainScreen) -> int:
    snap = main.frame.snapshot if main.frame else None
    return len(snap.jobs) if snap else -1


def summary_text(main: MainScreen) -> str:
    return str(main.query_one(SummaryStrip).render())


async def test_switch_by_key_resets_marks_and_filters(store: Path, clock: FixedClock) -> None:
    stores = stores_of(store)
    app = make_app(stores, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        main = await loaded(pilot, app, "prod")
        assert "store prod" in summary_text(main)
        assert app.sub_title.startswith("prod · sqlite:///jobs.sqlite")
        prod_jobs = total(main)
        await pilot.press("space", "f")  # a mark and a state filter
        assert main.query_one(JobList).marked and main.params.state
        await pilot.press("o")
        staging = await loaded(pilot, app, "staging")
        assert staging is not main and total(staging) == 5 < prod_jobs
        assert not staging.query_one(JobList).marked and not staging.params.state and not staging.params.needle
        assert "store staging" in summary_text(staging)
        assert app.focused is staging.query_one(JobList)
        await pilot.press("o")  # round the list
        back = await loaded(pilot, app, "prod")
        assert total(back) == prod_jobs
        await pilot.press("j")  # a command key acts on the list
        assert app.focused is back.query_one(JobList)


async def test_switch_by_command_line(store: Path, clock: FixedClock) -> None:
    app = make_app(stores_of(store), clock)
    async with app.run_test(size=(120, 36)) as pilot:
        main = await loaded(pilot, app, "prod")
        await pilot.press("colon")
        box = main.query_one("#command")
        assert box.has_focus and box.display
        for key in "store staging":
            await pilot.press("space" if key == " " else key)
        await pilot.press("enter")
        staging = await loaded(pilot, app, "staging")
        assert total(staging) == 5
        titles = [c.title for c in app.get_system_commands(staging)]
        assert "Store prod" in titles and "Store staging" not in titles and "All stores (fleet)" in titles
        # an unknown name says so and changes nothing; esc closes the line, focus back on the list
        await pilot.press("colon", *"store", "space", *"nope", "enter")
        await pilot.pause()
        assert main_of(app) is staging
        await pilot.press("colon", "x", "escape")
        assert not staging.query_one("#command").display
        assert app.focused is staging.query_one(JobList)
        await pilot.press("b", "escape")  # a command key after the command line acts (backup screen)
        await pilot.pause()


async def test_fleet_view_rows_and_pick(store: Path, clock: FixedClock) -> None:
    stores = stores_of(store, unreachable=True)
    app = make_app(stores, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        main = await loaded(pilot, app, "prod")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen), what="fleet view")
        fleet = app.screen
        assert isinstance(fleet, FleetScreen)
        await wait_for(pilot, lambda: len(fleet.rows) == 3, timeout=60, what="three rows")
        table = fleet.query_one("#fleet-table")
        assert table.row_count == 3
        prod, staging, gone = (fleet.rows[n] for n in ("prod", "staging", "gone"))
        assert (prod.jobs, staging.jobs, gone.jobs) == (total(main), 5, None)
        assert gone.status is Status.CRITICAL and gone.error and "cannot reach the database" in gone.error
        assert prod.undecodable == 2 and prod.heartbeat == "none"
        # esc closes: focus back on the job list, same store
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="main again")
        assert app.focused is main.query_one(JobList)
        # enter on a row switches to that store
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen), what="fleet view")
        await pilot.press("down", "enter")
        staging_main = await loaded(pilot, app, "staging")
        assert app.screen is staging_main and app.focused is staging_main.query_one(JobList)


async def test_fleet_row_agrees_with_check(store: Path, clock: FixedClock) -> None:
    """The fleet row is `schedtui check`'s report of that store: status, summary, counts."""
    from schedtui.core.checker import run_check

    stores = stores_of(store)
    app = make_app(stores, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot, app, "prod")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen), what="fleet view")
        fleet = app.screen
        await wait_for(pilot, lambda: len(fleet.rows) == 2, timeout=60, what="rows")
        for named in stores:
            report = run_check(named.target, clock=clock)
            row = fleet.rows[named.name]
            sched = report.component("scheduler")
            assert sched is not None
            assert row.status is report.status
            assert row.summary == report.summary
            assert row.overdue == len(sched.data["overdue"]) and row.late == len(sched.data["late"])


async def test_single_store_keys_explain(target: Target, clock: FixedClock) -> None:
    app = SchedtuiApp(target, clock=clock, theme="dark")
    async with app.run_test(size=(120, 36)) as pilot:
        main = main_of(app)
        await wait_for(pilot, lambda: main.loaded, timeout=60, what="loaded")
        assert "store " not in summary_text(main)
        assert app.sub_title == "sqlite:///jobs.sqlite"
        await pilot.press("o", "a")
        await pilot.pause()
        assert app.screen is main and app.focused is main.query_one(JobList)
        assert any("one store is open" in str(n.message) for n in app._notifications)


@pytest.mark.postgres
async def test_sqlite_and_postgresql_in_one_console(store: Path, pg_url: str, clock: FixedClock) -> None:
    """A real PostgreSQL store (written by real APScheduler) next to a SQLite one: the fleet
    judges both, and `:store pg` shows the server's jobs."""
    import subprocess
    import sys

    from tui.helpers import FROZEN_NOW_ISO, HERE

    subprocess.run(
        [sys.executable, str(HERE / "make_console_store.py"), "--url", pg_url, "--now", FROZEN_NOW_ISO],
        check=True,
        capture_output=True,
        timeout=120,
    )
    stores = (
        NamedStore("lite", Target(url=f"sqlite:///{STORE}")),
        NamedStore("pg", Target(url=pg_url)),
    )
    app = make_app(stores, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        lite = await loaded(pilot, app, "lite")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen), what="fleet view")
        fleet = app.screen
        await wait_for(pilot, lambda: len(fleet.rows) == 2, timeout=60, what="rows")
        assert fleet.rows["pg"].jobs == fleet.rows["lite"].jobs == total(lite)
        assert fleet.rows["pg"].error is None and fleet.rows["pg"].status is fleet.rows["lite"].status
        await pilot.press("escape", "colon", *"store", "space", "p", "g", "enter")
        pg = await loaded(pilot, app, "pg")
        assert pg.frame is not None and pg.frame.snapshot is not None
        assert pg.frame.snapshot.dialect == "postgresql"
        assert {j.id for j in pg.frame.snapshot.jobs} == {j.id for j in lite.frame.snapshot.jobs}
