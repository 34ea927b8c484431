"""The console's archive screen (``u``): an archived job is listed with its error and is
put back, byte for byte, after a confirmation."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from schedtui.core.clock import FixedClock
from schedtui.core.model import Target
from schedtui.tui.app import SchedtuiApp
from schedtui.tui.screens.archived import ArchivedScreen
from schedtui.tui.screens.dialogs import ConfirmScreen
from tui.helpers import settle, wait_for

pytestmark = pytest.mark.timeout(120)


def _archive_one(store: Path, job_id: str) -> bytes:
    """Archive one row exactly as the companion's guard does."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    from schedtui.companion.guard import DeletionGuard, _failure

    with sqlite3.connect(store) as conn:
        (state,) = conn.execute("SELECT job_state FROM apscheduler_jobs WHERE id = ?", (job_id,)).fetchone()
    js = SQLAlchemyJobStore(url=f"sqlite:///{store}")
    guard = DeletionGuard(js, clock=lambda: 1_772_400_000.0)
    done = guard._archive_rows([_failure(bytes(state), LookupError("module fixture_app.jobs has gone"))])
    assert [a.job_id for a, _ in done] == [job_id]
    js.engine.dispose()
    return bytes(state)


async def test_restore_an_archived_job(store: Path, target: Target, clock: FixedClock) -> None:
    state = _archive_one(store, "cleanup-temp")
    app = SchedtuiApp(target, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ArchivedScreen), what="the archive screen")
        detail = str(app.screen.query_one("#archived-detail").render())
        assert "cleanup-temp" in detail and "has gone" in detail
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert "byte for byte" in app.screen.body
        await pilot.press("y")

        def restored() -> bool:
            with sqlite3.connect(store) as conn:
                row = conn.execute("SELECT job_state FROM apscheduler_jobs WHERE id = 'cleanup-temp'").fetchone()
            return row is not None and bytes(row[0]) == state

        await wait_for(pilot, restored, what="the job back in the table")


async def test_read_only_console_does_not_restore(store: Path, target: Target, clock: FixedClock) -> None:
    _archive_one(store, "cleanup-temp")
    app = SchedtuiApp(target, clock=clock, read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ArchivedScreen), what="the archive screen")
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, ArchivedScreen)
