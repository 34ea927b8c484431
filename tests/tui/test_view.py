"""The console's non-UI parts: rows, the opcode view, and the feed's failure handling."""

from __future__ import annotations

import pickletools
from pathlib import Path

import pytest

from schedtui.core.clock import FixedClock
from schedtui.core.model import Target
from schedtui.tui.data import Feed, opcode_view
from schedtui.tui.fmt import clean
from schedtui.tui.view import JobRuns, build_rows, matches


@pytest.fixture
def jobs(target: Target, clock: FixedClock):
    feed = Feed(target, clock=clock)
    try:
        frame = feed.fetch()
    finally:
        feed.close()
    assert frame.error is None, frame.error
    return frame.snapshot.jobs


def test_rows_group_sort_filter_collapse(jobs, clock: FixedClock) -> None:
    rows = build_rows(jobs, now=clock())
    headers = [(r.group, r.count) for r in rows if r.job is None]
    assert headers == [("overdue", 1), ("on time", 7), ("paused", 2), ("undecodable", 2)]
    rows = build_rows(jobs, now=clock(), collapsed={"on time"})
    assert not [r for r in rows if r.job is not None and r.group == "on time"]
    assert [r.count for r in rows if r.group == "on time"] == [7]
    rows = build_rows(jobs, now=clock(), needle="REPORT")
    assert {r.job.id for r in rows if r.job} == {
        "weekly-report",
        "send-digest",
        "team-report",
        "paused-export",
        "invoices",
        "paused-ping",
    }
    rows = build_rows(jobs, now=clock(), group_by="trigger", sort_by="id")
    ids = [r.job.id for r in rows if r.job is not None and r.group == "interval"]
    assert ids == sorted(ids)
    runs = {"weekly-report": JobRuns(last_duration=3.0), "cleanup-temp": JobRuns(last_duration=9.0)}
    rows = build_rows(jobs, now=clock(), sort_by="duration", descending=True, runs=runs)
    upcoming = [r.job.id for r in rows if r.job is not None and r.group == "on time"]
    assert upcoming[:2] == ["cleanup-temp", "weekly-report"]


def test_time_moves_jobs_into_overdue(jobs, clock: FixedClock) -> None:
    clock.advance(hours=3)
    rows = build_rows(jobs, now=clock())
    overdue = {r.job.id for r in rows if r.job is not None and r.group == "overdue"}
    assert {"tick", "cleanup-temp", "send-digest"} <= overdue


def test_match_is_case_insensitive_on_id_name_and_function(jobs) -> None:
    job = next(j for j in jobs if j.id == "nightly-backup")
    assert matches(job, "NIGHTLY") and matches(job, "nightly backup") and matches(job, "database_job")
    assert not matches(job, "weekly")


def test_opcode_view_is_bounded_and_never_executes(store: Path) -> None:
    import sqlite3

    raw = sqlite3.connect(store).execute("SELECT job_state FROM apscheduler_jobs WHERE id = 'full-moon'").fetchone()[0]
    lines, note = opcode_view(raw)
    assert any("__main__" in line or "FullMoonTrigger" in line for line in lines)
    assert note is None
    assert len(lines) == sum(1 for _ in pickletools.genops(raw))
    lines, note = opcode_view(raw, limit=5)
    assert len(lines) == 5 and note == "first 5 opcodes shown"
    lines, note = opcode_view(raw[: len(raw) // 3])
    assert note and note.startswith("stopped")


def test_feed_turns_failures_into_frames(tmp_path: Path, clock: FixedClock) -> None:
    feed = Feed(Target(url=f"sqlite:///{tmp_path / 'missing.sqlite'}"), clock=clock)
    frame = feed.fetch()
    assert frame.stale and frame.snapshot is None and "not found" in frame.error
    history = feed.history("x")
    assert history.error or not history.companion
    feed.close()
    feed = Feed(Target(url="postgresql+psycopg://u:s3cret-pw@127.0.0.1:1/db"), clock=clock)
    frame = feed.fetch()
    assert frame.stale and "s3cret-pw" not in frame.error
    feed.close()


def test_clean_escapes_control_characters() -> None:
    """The console uses the core's sanitizer: control characters shown visibly escaped."""
    assert clean("a\x1b[31mb\nc\u202ed") == "a\\x1b[31mb\\nc\\u202ed"
    assert clean("x" * 500, 10) == "x" * 9 + "…"


def test_detail_flags_the_and_trigger_hazard(tmp_path: Path) -> None:
    """The catalog's and-trigger is one APScheduler 3.x's AndTrigger spins forever on; the
    detail pane says so (the same judgement as `schedtui check`), other jobs do not."""
    from datetime import datetime

    from tests.fixtures.factory import DEFAULT_NOW, sqlite_store

    from schedtui.tui.widgets.detail import render_detail

    db, _ = sqlite_store(tmp_path, "catalog")
    now = datetime.fromisoformat(DEFAULT_NOW)
    feed = Feed(Target(url=f"sqlite:///{db}"), clock=FixedClock(now))
    try:
        jobs = {j.id: j for j in feed.fetch().snapshot.jobs}
        hazard = feed.extras(jobs["and_cron_interval"], now)
        plain = feed.extras(next(j for j in jobs.values() if j.finding is None and j.trigger.kind == "cron"), now)
    finally:
        feed.close()
    assert hazard.hang_after is not None and plain.hang_after is None
    text = render_detail(jobs["and_cron_interval"], hazard, now).plain
    assert f"loops forever on this trigger after {hazard.hang_after} more run(s)" in text


def test_detail_of_an_undecodable_row_shows_its_column_note() -> None:
    """A row whose pickle is refused and whose next_run_time column holds text: the pane
    says both (the note, escaped, under the finding), not just "undecodable"."""
    from datetime import UTC, datetime

    from schedtui.core.decode import decode_row
    from schedtui.tui.widgets.detail import render_detail

    job = decode_row("odd", "soon\x1b[2J", b"\x80\x02cos\nsystem\n.")  # type: ignore[arg-type]
    text = render_detail(job, None, datetime(2026, 3, 3, tzinfo=UTC)).plain
    assert "undecodable: forbidden-global" in text
    assert "note: next_run_time column holds 'soon\\x1b[2J'" in text
    assert "\x1b" not in text
