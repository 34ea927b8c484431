"""Write SVG screenshots of the console's main views to screenshots/ (``make screenshots``).

``python scripts/screenshots.py fleet events`` writes only the ones named.

Uses the same deterministic fixtures as the snapshot tests: the store written by real
APScheduler (tests/tui/make_console_store.py), companion history at fixed times, and a
FixedClock at 2026-03-02 12:00 UTC.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from schedtui.core.clock import FixedClock  # noqa: E402
from schedtui.core.model import Target  # noqa: E402
from schedtui.core.stores import NamedStore  # noqa: E402
from schedtui.tui.app import SchedtuiApp  # noqa: E402
from schedtui.tui.widgets.jobs import JobList  # noqa: E402
from tui.helpers import add_history, make_store, settle, wait_for  # noqa: E402

NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
OUT = ROOT / "screenshots"
#: the screenshots to write (all when none is named on the command line)
ONLY = frozenset(sys.argv[1:])


async def shoot(
    name: str, steps: Callable[[object, SchedtuiApp], Awaitable[None]] | None = None, *, size=(120, 36), **kw
) -> None:
    if ONLY and name not in ONLY:
        return
    clock = FixedClock(NOW)
    several = bool(kw.get("stores"))
    app = SchedtuiApp(Target("sqlite:///jobs.sqlite"), clock=clock, theme=kw.pop("theme", "dark"), **kw)
    async with app.run_test(size=size) as pilot:
        if not several:  # (several stores: the steps wait for the store's screen)
            await settle(pilot, app)
        if steps is not None:
            await steps(pilot, app)
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.save_screenshot(str(OUT / f"{name}.svg"))
    print(f"screenshots/{name}.svg")


def select(job_id: str, *keys: str):
    async def steps(pilot, app) -> None:
        main = app.screen_stack[0]
        main.query_one(JobList).select_job(job_id)
        await wait_for(
            pilot, lambda: main.extras is not None and main.extras.job_id == job_id and main.history is not None
        )
        for key in keys:
            await pilot.press(key)
        await pilot.pause()

    return steps


async def press(*keys: str):
    async def steps(pilot, app) -> None:
        await pilot.press(*keys)
        await pilot.pause()

    return steps


def fleet_stores(store: Path) -> tuple[NamedStore, ...]:
    """Three stores for the fleet view: the fixture store, a copy of it with its first five
    jobs only (``staging``), and a server that refuses connections (``gone``)."""
    staging = store.with_name("staging.sqlite")
    shutil.copyfile(store, staging)
    con = sqlite3.connect(staging)
    try:
        ids = [r[0] for r in con.execute("SELECT id FROM apscheduler_jobs ORDER BY id")]
        con.executemany("DELETE FROM apscheduler_jobs WHERE id = ?", [(i,) for i in ids[5:]])
        con.commit()
    finally:
        con.close()
    return (
        NamedStore("prod", Target("sqlite:///jobs.sqlite")),
        NamedStore("staging", Target("sqlite:///staging.sqlite")),
        NamedStore("gone", Target("postgresql+psycopg://scheduler@127.0.0.1:1/app")),  # (nothing on port 1)
    )


async def fleet(pilot, app) -> None:
    from schedtui.tui.screens.fleet import FleetScreen

    await wait_for(pilot, lambda: app.main_screen is not None and app.main_screen.loaded, timeout=60)
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen) and len(app.screen.rows) == 3, timeout=60)
    await pilot.pause()


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="schedtui-shots-"))
    os.chdir(work)
    store = make_store(work / "jobs.sqlite")
    add_history(store, FixedClock(NOW))

    await shoot("console", select("cleanup-temp"))
    await shoot("console-80x24", size=(80, 24))
    await shoot("detail", select("nightly-backup"))
    await shoot("history", select("cleanup-temp", "v"))
    await shoot("undecodable", select("torn-row"))
    await shoot("help", await press("question_mark"))
    await shoot("filter", await press("slash", *"report"))
    await shoot("read-only", select("weekly-report"), read_only=True)
    await shoot("confirm", select("weekly-report", "p"))
    await shoot("light", select("cleanup-temp"), theme="light")
    await shoot("table", await press("l"), size=(200, 50))
    await shoot("table-80x24", await press("l"), size=(80, 24))
    await shoot("events", await press("e"))
    await shoot("failures", await press("F"))
    await shoot("marked", select("cleanup-temp", "space", "space", "space"))

    async def disconnect(pilot, app) -> None:
        main = app.screen_stack[0]
        os.rename(store, store.with_name("gone.sqlite"))
        main._arm(0)
        await wait_for(pilot, lambda: main.frame is not None and main.frame.stale)

    await shoot("fleet", fleet, stores=fleet_stores(store), refresh=60)
    await shoot("disconnected", disconnect)
    if store.with_name("gone.sqlite").exists():
        os.rename(store.with_name("gone.sqlite"), store)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
