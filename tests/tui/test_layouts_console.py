"""The console on other programs' stores (an Aegis app, a django-apscheduler project):
jobs described, their own run history in the pane and the summary, nothing written."""

from __future__ import annotations

import hashlib
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.layouts import LayoutUnavailable, cached_layout

from schedtui.core.clock import FixedClock
from schedtui.core.model import Target
from schedtui.tui.app import SchedtuiApp
from schedtui.tui.widgets.jobs import JobList
from schedtui.tui.widgets.summary import SummaryStrip
from tui.helpers import settle, wait_for

pytestmark = pytest.mark.timeout(120)


def _copy(kind: str, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    try:
        db, manifest = cached_layout(kind)
    except LayoutUnavailable as exc:
        pytest.skip(str(exc))
    copy = tmp_path / f"{kind}.db"
    shutil.copyfile(db, copy)
    return copy, manifest


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def _open(target: Target, clock: FixedClock, job_id: str) -> tuple[str, Any, int]:
    app = SchedtuiApp(target, clock=clock, read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = app.screen_stack[0]
        jobs = main.query_one(JobList)
        count = sum(1 for r in jobs.rows if r.job is not None)
        jobs.select_job(job_id)
        await wait_for(pilot, lambda: main.history is not None and main.history.job_id == job_id, what="history")
        await pilot.press("v")
        await wait_for(pilot, lambda: bool(main.history.runs), what="runs")
        await pilot.app.workers.wait_for_complete()
        return str(main.query_one(SummaryStrip).render()), main.history, count


async def test_console_on_an_aegis_app(tmp_path: Path) -> None:
    db, manifest = _copy("aegis", tmp_path)
    before = _sha(db)
    clock = FixedClock(datetime.fromisoformat(manifest["stopped_at"]) + timedelta(seconds=2))
    summary, history, count = await _open(Target(f"sqlite:///{db}"), clock, "database_backup")
    assert count == 9
    assert "scheduler running" in summary and "24h:" in summary and "no companion" not in summary
    assert history.source == "Aegis job_execution" and history.total == 10
    assert {r.outcome for r in history.runs} == {"success", "error"}
    assert _sha(db) == before


async def test_console_on_a_django_project(tmp_path: Path) -> None:
    db, manifest = _copy("django", tmp_path)
    before = _sha(db)
    clock = FixedClock(datetime.fromisoformat(manifest["stopped_at"]) + timedelta(seconds=0.5))
    target = Target(f"sqlite:///{db}", table="django_apscheduler_djangojob")
    summary, history, count = await _open(target, clock, "import_feed")
    assert count == 6
    assert "24h:" in summary and "no companion" not in summary
    assert history.source == "django-apscheduler django_apscheduler_djangojobexecution"
    assert history.runs[0].outcome == "error" and "unexpected end of document" in (history.runs[0].error or "")
    assert _sha(db) == before
