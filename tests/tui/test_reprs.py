"""The console reads the store without args/kwargs reprs and renders the selected job's on
demand, in the sandbox, checked against the row the list shows (``tui.reprs``)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from schedtui.core.clock import FixedClock
from schedtui.core.model import NOT_RENDERED, JobInfo, Target
from schedtui.core.store.reader import read_jobs
from schedtui.tui.app import SchedtuiApp
from schedtui.tui.data import Feed
from schedtui.tui.fmt import clean
from schedtui.tui.reprs import ReprMemo, same_row, selected_reprs
from schedtui.tui.screens.main import MainScreen
from schedtui.tui.widgets.detail import render_detail
from schedtui.tui.widgets.jobs import JobList
from tui.helpers import STORE, settle, wait_for

pytestmark = pytest.mark.timeout(120)

TABLE = "apscheduler_jobs"


def _expected(target: Target) -> dict[str, tuple[str, str]]:
    """Every row's reprs as a complete read renders them (in the sandbox)."""
    return {j.id: (j.args_repr, j.kwargs_repr) for j in read_jobs(target).jobs if j.finding is None}


def _raw(store: Path, job_id: str) -> bytes:
    with sqlite3.connect(store) as conn:
        return bytes(conn.execute(f"SELECT job_state FROM {TABLE} WHERE id = ?", (job_id,)).fetchone()[0])


def _write(store: Path, job_id: str, state: bytes | None) -> None:
    conn = sqlite3.connect(store)
    try:
        if state is None:
            conn.execute(f"DELETE FROM {TABLE} WHERE id = ?", (job_id,))
        else:
            conn.execute(f"UPDATE {TABLE} SET job_state = ? WHERE id = ?", (state, job_id))
        conn.commit()
    finally:
        conn.close()


def _listed(feed: Feed) -> dict[str, JobInfo]:
    frame = feed.fetch()
    assert frame.snapshot is not None, frame.error
    return {j.id: j for j in frame.snapshot.jobs}


def _arg_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"^(args|kwargs)\s", line)]


@pytest.fixture
def feed(target: Target, clock: FixedClock) -> Iterator[Feed]:
    """A console feed on the store, closed after the test."""
    made = Feed(target, clock=clock)
    try:
        yield made
    finally:
        made.close()


def main_of(app: SchedtuiApp) -> MainScreen:
    return app.screen_stack[0]  # type: ignore[return-value]


# -- the feed ------------------------------------------------------------------------------
def test_the_list_has_no_reprs_and_the_selected_job_gets_its_own(target: Target, feed: Feed) -> None:
    expected = _expected(target)
    listed = _listed(feed)
    decodable = [j for j in listed.values() if j.finding is None]
    assert decodable and all(j.args_repr == NOT_RENDERED == j.kwargs_repr for j in decodable)
    for job in decodable:
        reprs = feed.reprs(job)
        assert reprs.of is job and not reprs.changed, reprs.note
        assert (reprs.args, reprs.kwargs) == expected[job.id]
    assert feed.memo.decoded == len(decodable)
    # back over the same rows: the memo answers, nothing is decoded again
    for job in decodable:
        assert (feed.reprs(job).args, feed.reprs(job).kwargs) == expected[job.id]
    assert feed.memo.decoded == len(decodable)


def test_changed_bytes_never_show_the_old_reprs(store: Path, feed: Feed) -> None:
    job = _listed(feed)["team-report"]
    assert feed.reprs(job).kwargs == "{'fmt': 'pdf'}"
    before = feed.memo.decoded
    # Same size, same next run time: the list cannot tell, the reprs must (bytes digest).
    raw = _raw(store, "team-report")
    assert raw.count(b"pdf") == 1
    _write(store, "team-report", raw.replace(b"pdf", b"csv"))
    reprs = feed.reprs(job)
    assert reprs.kwargs == "{'fmt': 'csv'}" and not reprs.changed
    assert feed.memo.decoded == before + 1
    # Another job's bytes (a real APScheduler pickle): a different row, no reprs shown.
    _write(store, "team-report", _raw(store, "nightly-backup"))
    reprs = feed.reprs(job)
    assert reprs.changed and reprs.args is None and reprs.kwargs is None
    assert "changed" in (reprs.note or "")
    # the next refresh lists the new row, which gets its own reprs
    fresh = _listed(feed)["team-report"]
    assert fresh is not job and fresh.func != job.func
    reprs = feed.reprs(fresh)
    assert (reprs.args, reprs.kwargs) == ("()", "{}") and not reprs.changed
    # deleted meanwhile
    _write(store, "team-report", None)
    reprs = feed.reprs(fresh)
    assert reprs.changed and reprs.args is None and "no longer" in (reprs.note or "")


def test_a_row_that_became_undecodable(store: Path, clock: FixedClock, feed: Feed) -> None:
    job = _listed(feed)["send-digest"]
    _write(store, "send-digest", _raw(store, "send-digest")[:40])  # torn
    reprs = feed.reprs(job)
    assert reprs.changed and reprs.args is None
    fresh = _listed(feed)["send-digest"]
    assert fresh.finding is not None and fresh.finding.code == "truncated"
    extras = feed.extras(fresh, clock())
    assert extras.reprs is None and extras.opcodes  # the opcode view, not reprs
    text = render_detail(fresh, extras, clock()).plain
    assert "undecodable" in text and not _arg_lines(text)


def test_the_memo_is_keyed_by_the_bytes(target: Target, clock: FixedClock) -> None:
    listed = {j.id: j for j in read_jobs(target, reprs=False).jobs}
    job = listed["team-report"]
    memo = ReprMemo(size=2)
    good = _raw(Path(STORE), "team-report")
    states = {"now": good}

    def raw_state(job_id: str) -> bytes | None:
        return states["now"]

    first = selected_reprs(raw_state, job, memo)
    assert first.kwargs == "{'fmt': 'pdf'}" and memo.decoded == 1
    states["now"] = good.replace(b"pdf", b"txt")
    second = selected_reprs(raw_state, job, memo)
    assert second.kwargs == "{'fmt': 'txt'}" and memo.decoded == 2
    states["now"] = good
    assert selected_reprs(raw_state, job, memo).kwargs == "{'fmt': 'pdf'}" and memo.decoded == 2
    assert len(memo) == 2


def test_same_row_compares_exactly(target: Target) -> None:
    from dataclasses import replace

    job = next(j for j in read_jobs(target, reprs=False).jobs if j.id == "weekly-report")
    assert same_row(job, replace(job, args_repr="(1,)"))
    assert job.next_run_time is not None and job.trigger is not None
    assert not same_row(job, replace(job, state_size=job.state_size + 1))
    assert not same_row(job, replace(job, name="other"))
    # equal under ``==`` (one zone, the same wall time) but not the same value: fold
    assert job.state_next_run_time is not None
    folded = replace(job, state_next_run_time=job.state_next_run_time.replace(fold=1))
    assert folded.state_next_run_time == job.state_next_run_time
    assert not same_row(job, folded)


def test_the_sandbox_renders_them(monkeypatch: pytest.MonkeyPatch, store: Path, feed: Feed) -> None:
    """No unpickling in the console process: every in-process decoder is made to fail, and
    the row still arrives, through one sandbox call with reprs."""
    import pickle

    from schedtui.core.decode import jobstate, sandbox, unpickler

    job = _listed(feed)["send-digest"]
    calls: list[tuple[int, bool]] = []
    real = sandbox.Sandbox.decode

    def spy(self, rows, **kw):  # type: ignore[no-untyped-def]
        calls.append((len(rows), kw.get("reprs", True)))
        return real(self, rows, **kw)

    def boom(*a: object, **kw: object) -> object:
        raise AssertionError("stored bytes unpickled in the console process")

    monkeypatch.setattr(sandbox.Sandbox, "decode", spy)
    for name in ("decode_serial", "safe_fields", "_row_fields", "decode_state"):
        monkeypatch.setattr(jobstate, name, boom)
    monkeypatch.setattr(unpickler.SafeUnpickler, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    reprs = feed.reprs(job)
    assert reprs.kwargs is not None and "ReportSpec" in reprs.kwargs
    assert calls == [(1, True)]


# -- the console -----------------------------------------------------------------------------
async def test_moving_the_cursor_shows_each_jobs_own_reprs(target: Target, clock: FixedClock) -> None:
    expected = _expected(target)
    app = SchedtuiApp(target, clock=clock, refresh=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        jobs = main.query_one(JobList)
        seen: list[str] = []
        for key in ["j"] * 8 + ["k"] * 8:
            await pilot.press(key)
            job = jobs.current_job
            if job is None or job.finding is not None:
                continue
            await wait_for(
                pilot,
                lambda job=job: (
                    main.extras is not None and main.extras.reprs is not None and main.extras.reprs.of is job
                ),
                what=f"reprs of {job.id}",
            )
            lines = _arg_lines(render_detail(main.selected, main.extras, clock()).plain)
            args, kwargs = expected[job.id]
            assert lines == [f"{'args':<14}{clean(args, 400)}", f"{'kwargs':<14}{clean(kwargs, 400)}"], job.id
            seen.append(job.id)
        assert len(set(seen)) >= 4
        # back over the same rows (k): the memo answered, each row was decoded once
        # (the first selected one included)
        assert main.feed.memo.decoded <= len(set(seen)) + 1


async def test_detail_says_loading_then_the_reprs_and_a_changed_row_refreshes(
    store: Path, target: Target, clock: FixedClock
) -> None:
    app = SchedtuiApp(target, clock=clock, refresh=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        main = main_of(app)
        jobs = main.query_one(JobList)
        jobs.select_job("team-report")
        job = jobs.current_job
        assert job is not None and job.id == "team-report"
        # before the worker answers: "…", never the empty NOT_RENDERED
        text = render_detail(job, None, clock()).plain
        assert _arg_lines(text) == [f"{'args':<14}…", f"{'kwargs':<14}…"]
        await wait_for(
            pilot,
            lambda: (
                main.selected is job
                and main.extras is not None
                and main.extras.reprs is not None
                and main.extras.reprs.of is job
            ),
            what="reprs",
        )
        assert "{'fmt': 'pdf'}" in render_detail(main.selected, main.extras, clock()).plain
        refreshes = main.refreshes
        _write(store, "team-report", _raw(store, "nightly-backup"))
        main._fetch_selection(job)  # (what a cursor move back to it does)
        await wait_for(pilot, lambda: main.refreshes > refreshes, what="refresh asked by the changed row")
        await wait_for(
            pilot,
            lambda: (
                main.selected is not None
                and main.selected is not job
                and main.extras is not None
                and main.extras.reprs is not None
                and main.extras.reprs.of is main.selected
            ),
            what="the new row's reprs",
        )
        text = render_detail(main.selected, main.extras, clock()).plain
        assert "{'fmt': 'pdf'}" not in text
        assert _arg_lines(text) == [f"{'args':<14}()", f"{'kwargs':<14}{{}}"]
        assert "backup_database_job" in text


def test_no_screen_prints_not_rendered(target: Target, clock: FixedClock, feed: Feed) -> None:
    """A detail rendered from a listed row and no extras (or another job's) says "…"."""
    listed = [j for j in read_jobs(target, reprs=False).jobs if j.finding is None]
    other = feed.extras(listed[1], clock())
    for job in listed:
        for extras in (None, other if job is not listed[1] else None):
            lines = _arg_lines(render_detail(job, extras, clock()).plain)
            assert lines == [f"{'args':<14}…", f"{'kwargs':<14}…"], (job.id, lines)


def test_a_changed_row_is_said_not_shown(target: Target, clock: FixedClock) -> None:
    from schedtui.tui.data import Extras
    from schedtui.tui.reprs import Reprs

    job = next(j for j in read_jobs(target, reprs=False).jobs if j.id == "team-report")
    extras = Extras(job_id=job.id, reprs=Reprs(of=job, note="this job changed since the list was read", changed=True))
    lines = _arg_lines(render_detail(job, extras, clock()).plain)
    assert lines[0].startswith("args") and "changed since the list was read: the next refresh shows it" in lines[0]
    assert lines[1] == f"{'kwargs':<14}-"
    # reprs checked against another JobInfo of the same id are not shown next to this one
    from dataclasses import replace

    other = Extras(job_id=job.id, reprs=Reprs(of=replace(job), args="(1,)", kwargs="{}"))
    assert _arg_lines(render_detail(job, other, clock()).plain) == [f"{'args':<14}…", f"{'kwargs':<14}…"]
