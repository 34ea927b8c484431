"""Write SVG screenshots of the console's main views to screenshots/ (``make screenshots``).

Uses the same deterministic fixtures as the snapshot tests: the store written by real
APScheduler (tests/tui/make_console_store.py), companion history at fixed times, and a
FixedClock at 2026-03-02 12:00 UTC.
"""

from __future__ import annotations

import asyncio
import os
import shutil
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
from schedtui.tui.app import SchedtuiApp  # noqa: E402
from schedtui.tui.widgets.jobs import JobList  # noqa: E402
from tui.helpers import add_history, make_store, settle, wait_for  # noqa: E402

NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
OUT = ROOT / "screenshots"


async def shoot(
    name: str, steps: Callable[[object, SchedtuiApp], Awaitable[None]] | None = None, *, size=(120, 36), **kw
) -> None:
    clock = FixedClock(NOW)
    app = SchedtuiApp(Target("sqlite:///jobs.sqlite"), clock=clock, theme=kw.pop("theme", "dark"), **kw)
    async with app.run_test(size=size) as pilot:
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

    await shoot("disconnected", disconnect)
    os.rename(store.with_name("gone.sqlite"), store)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
