"""A lazy one-shot read (``core.jobtable.JobTable``) gives ``check`` the same answer as an eager one.

``check`` (without ``--json``) reads through a ``JobTable``: it judges every job on the
table's columns and rebuilds only the jobs it lists. The reference is the same store read
eagerly (every ``JobInfo`` rebuilt in the reader): every job of the table must be the eager
job in every respect (datetimes by fields, fold and zone, not ``==``), in the same order, and
every report (text and JSON) the same, at moments chosen so jobs are upcoming, late, overdue
and paused, on the varied, oracle, catalog and bench stores, in both orders in one process.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fixtures.factory import DEFAULT_NOW, cached_sqlite_store
from fixtures.jobcanon import canon
from schedtui.cli.render import render_report, report_json
from schedtui.core.checker import judge_jobs, judge_store, run_check
from schedtui.core.clock import FixedClock
from schedtui.core.health import CheckOptions
from schedtui.core.jobtable import PAUSED, JobTable, instant_us, marks
from schedtui.core.model import DecodeFinding, JobInfo, StoreSnapshot, Target
from schedtui.core.store import reader as store_reader
from schedtui.core.store.reader import open_reader, sorted_jobs

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime.fromisoformat(DEFAULT_NOW)


def read(path: Path, *, lazy: bool) -> StoreSnapshot:
    reader = open_reader(Target(f"sqlite:///{path}"), clock=FixedClock(NOW), incremental=False, reprs=False, lazy=lazy)
    try:
        snapshot: StoreSnapshot = reader.read()
        return snapshot
    finally:
        reader.close()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = tmp_path_factory.mktemp("jobtable-oracle")
    oracle = base / "oracle.db"
    cmd = [sys.executable, str(ROOT / "tests/fixtures/oracle_store.py"), "--seed", "1717", "--count", "200"]
    cmd += ["--now", NOW.isoformat(), "--url", f"sqlite:///{oracle}"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT), env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    varied, _ = cached_sqlite_store("varied", count=3000)
    catalog, _ = cached_sqlite_store("catalog")
    bench, _ = cached_sqlite_store("bench", count=3000)
    return [varied, oracle, catalog, bench]


@pytest.fixture(autouse=True)
def no_probe_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDTUI_DECODE_CACHE", "0")


def test_every_job_of_a_table_is_the_eager_job_in_the_same_order(stores: list[Path]) -> None:
    for path in [*stores, *stores[::-1]]:
        eager = read(path, lazy=False)
        lazy = read(path, lazy=True)
        assert type(lazy.jobs) is JobTable and type(eager.jobs) is tuple
        assert len(lazy.jobs) == len(eager.jobs) > 0
        assert [canon(j) for j in lazy.jobs] == [canon(j) for j in eager.jobs], path.name
        assert [canon(lazy.jobs[i]) for i in range(len(eager.jobs))] == [canon(j) for j in eager.jobs]
        assert list(lazy.job_ids) == [j.id for j in eager.jobs]
        assert [canon(j) for j in lazy.undecodable] == [canon(j) for j in eager.undecodable]
        m_lazy, m_eager = marks(lazy.jobs), marks(eager.jobs)
        assert list(m_lazy.instants) == list(m_eager.instants)
        assert list(m_lazy.graces) == list(m_eager.graces)
        assert list(m_lazy.flags) == list(m_eager.flags)


def test_a_read_in_many_chunks_is_the_read_in_one(stores: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows fetched in small batches and decoded in small chunks, the next chunk fetched
    while the workers decode the last: the same jobs in the same order, lazy and eager."""
    varied = stores[0]
    whole = {lazy: [canon(j) for j in read(varied, lazy=lazy).jobs] for lazy in (False, True)}
    monkeypatch.setattr(store_reader, "_BATCH", 97)
    monkeypatch.setattr(store_reader, "_DECODE_AT_ONCE", 700)
    for lazy in (False, True):
        assert [canon(j) for j in read(varied, lazy=lazy).jobs] == whole[lazy]


def test_a_fetch_that_fails_while_the_workers_decode_fails_the_read(
    stores: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next chunk is fetched while the workers decode (the sandbox ignores errors of
    what it runs meanwhile): a failure there must still fail the read, not shorten it."""
    rows = sqlite3.connect(stores[0]).execute("SELECT id, next_run_time, job_state FROM apscheduler_jobs").fetchall()
    monkeypatch.setattr(store_reader, "_DECODE_AT_ONCE", 500)

    def batches() -> Iterator[list[tuple[Any, ...]]]:
        for i in range(0, 1500, 250):
            yield rows[i : i + 250]
        raise sqlite3.OperationalError("disk I/O error")

    for lazy in (False, True):
        reader = store_reader.JobStoreReader(
            Target(f"sqlite:///{stores[0]}"), clock=FixedClock(NOW), incremental=False, reprs=False, lazy=lazy
        )
        try:
            with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
                reader._full(batches(), store_reader._digest, None)
        finally:
            reader.close()


def _moments(snapshot: StoreSnapshot) -> list[datetime]:
    """Moments that put jobs in every state: before, among and after the next runs."""
    active = [j.next_run_time for j in snapshot.jobs if j.next_run_time is not None]
    picks = [active[0], active[len(active) // 3], active[len(active) // 2], active[-1]] if active else []
    out = [NOW, NOW - timedelta(days=400), NOW + timedelta(days=3650)]
    for t in picks:
        out += [t.astimezone(UTC) + timedelta(seconds=s) for s in (-1, 0, 2, 3, 61, 3600)]
    return out


@pytest.mark.parametrize(
    "options",
    [CheckOptions(), CheckOptions(upcoming=0, grace_floor=0.0), CheckOptions(upcoming=40, grace_floor=3600.0)],
    ids=["default", "no-upcoming-no-floor", "many-upcoming-hour-floor"],
)
def test_a_table_is_judged_as_the_eager_jobs_are(stores: list[Path], options: CheckOptions) -> None:
    for path in [*stores, *stores[::-1]]:
        eager, lazy = read(path, lazy=False), read(path, lazy=True)
        for now in _moments(eager):
            got, want = judge_store(lazy, now, options), judge_store(eager, now, options)
            assert got[1:] == want[1:], f"{path.name} at {now.isoformat()}"


def test_check_prints_the_same_report_lazily(stores: list[Path]) -> None:
    for path in stores:
        reports = []
        for lazy in (False, True):
            target = Target(f"sqlite:///{path}")
            reader = open_reader(target, clock=FixedClock(NOW), incremental=False, reprs=False, lazy=lazy)
            try:
                reports.append(run_check(target, clock=FixedClock(NOW), reader=reader, providers=[]))
            finally:
                reader.close()
        eager, lazy_report = reports
        assert _timeless(render_report(lazy_report, detailed=True)) == _timeless(render_report(eager, detailed=True))
        as_json = [json.dumps(report_json(r), default=str, sort_keys=True) for r in (lazy_report, eager)]
        assert _timeless(as_json[0]) == _timeless(as_json[1]), path.name
        assert "Tasks: " in render_report(eager, detailed=True)


def _timeless(text: str) -> str:
    """``text`` without the read's latency (the one thing two reads may differ in)."""
    text = re.sub(r"\(\d+(\.\d+)? ms to read", "(? ms to read", text)
    return re.sub(r'"(latency_ms|read_ms)": [0-9.]+|read_ms=[0-9.]+ms|"value": [0-9.]+, "unit": "ms"', "?", text)


def test_the_default_check_reads_lazily_and_json_eagerly(stores: list[Path]) -> None:
    target = Target(f"sqlite:///{stores[0]}")
    text = run_check(target, clock=FixedClock(NOW), providers=[], reprs=False)
    full = run_check(target, clock=FixedClock(NOW), providers=[], reprs=True)
    assert text.snapshot is not None and type(text.snapshot.jobs) is JobTable
    assert full.snapshot is not None and type(full.snapshot.jobs) is tuple


def _ny(fold: int, job_id: str) -> JobInfo:
    from zoneinfo import ZoneInfo

    return JobInfo(
        id=job_id,
        next_run_time=datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"), fold=fold),
        state_size=1,
    )


def test_jobs_are_ordered_by_the_instant_so_fold_counts() -> None:
    """01:30 on New York's fall-back night happens twice: fold 1 is an hour after fold 0,
    though ``<`` between the two datetimes (one zone) calls them equal."""
    second, first = _ny(1, "a-second"), _ny(0, "b-first")
    assert second.next_run_time == first.next_run_time  # what == hides
    assert [j.id for j in sorted_jobs([second, first])] == ["b-first", "a-second"]
    assert instant_us(second.next_run_time) - instant_us(first.next_run_time) == 3600 * 10**6  # type: ignore[arg-type]
    m = marks([first, JobInfo(id="p", next_run_time=None, state_size=1)])
    assert list(m.instants)[1] == PAUSED


def test_judging_at_the_fold_tells_the_two_instants_apart() -> None:
    first, second = _ny(0, "first"), _ny(1, "second")
    at = first.next_run_time.astimezone(UTC) + timedelta(minutes=10)  # type: ignore[union-attr]
    comp = judge_jobs(sorted_jobs([second, first]), at, CheckOptions(grace_floor=60.0))
    assert comp.data["overdue"] == ["first"] and comp.data["upcoming"] == ["second"]


@pytest.mark.postgres
def test_a_postgresql_table_is_the_eager_read(pg_url: str) -> None:
    """The same on PostgreSQL (server-side cursor, its own column conversion)."""
    cmd = [sys.executable, str(ROOT / "tests/fixtures/oracle_store.py"), "--seed", "2718", "--count", "150"]
    cmd += ["--now", NOW.isoformat(), "--url", pg_url]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT), env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    snaps = []
    for lazy in (False, True):
        reader = open_reader(Target(pg_url), clock=FixedClock(NOW), incremental=False, reprs=False, lazy=lazy)
        try:
            snaps.append(reader.read())
        finally:
            reader.close()
    eager, lazy_snap = snaps
    assert type(lazy_snap.jobs) is JobTable and len(eager.jobs) > 100
    assert [canon(j) for j in lazy_snap.jobs] == [canon(j) for j in eager.jobs]
    for now in _moments(eager):
        assert judge_store(lazy_snap, now, CheckOptions())[1:] == judge_store(eager, now, CheckOptions())[1:]


def test_rows_the_read_ran_out_of_time_for_are_not_called_broken(stores: list[Path]) -> None:
    """A read whose budget is spent leaves rows undecoded: the jobstore line says so and how
    to give it more time; it does not say APScheduler would delete them, nor list them all."""
    from schedtui.core.store.reader import JobStoreReader

    target = Target(f"sqlite:///{stores[0]}")
    reader = JobStoreReader(target, clock=FixedClock(NOW), incremental=False, reprs=False, lazy=True, decode_budget=0.0)
    try:
        report = run_check(target, clock=FixedClock(NOW), reader=reader, providers=[])
    finally:
        reader.close()
    store = next(c for c in report.components if c.name == "jobstore")
    rows, unread = store.data["rows"], len(store.data["undecodable"])
    assert all(u["code"] == "time-budget" for u in store.data["undecodable"]) and rows == 3000 and unread > 20
    assert store.summary == f"{rows} rows, {unread} not decoded in time"
    assert len(store.lines) == 1 and "--decode-budget" in store.lines[0].text and str(unread) in store.lines[0].text
    assert store.status.name == "WARNING"


def test_the_jobstore_lists_twenty_broken_rows_and_counts_the_rest() -> None:
    jobs = tuple(
        JobInfo(id=f"bad-{i:02d}", next_run_time=None, state_size=9, finding=DecodeFinding("bad-shape", "no"))
        for i in range(25)
    )
    snap = StoreSnapshot(target=Target("sqlite:///x.db"), dialect="sqlite", read_at=NOW, latency_ms=1.0, jobs=jobs)
    store = judge_store(snap, NOW, CheckOptions())[1]
    assert store.summary == "25 rows, 25 undecodable (APScheduler deletes such rows when they come due)"
    assert [ln.text for ln in store.lines][-2:] == ["bad-19: no [bad-shape]", "… and 5 more"]
    assert len(store.lines) == 21 and len(store.data["undecodable"]) == 25


def test_a_spill_reads_back_what_it_kept_with_a_file_or_without(monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from schedtui.core.jobtable import Spill

    spill = Spill()
    places = [spill.append(b"abc"), spill.keep(b"xyz"), spill.append(b"de")]
    assert [spill.read(*p) for p in places] == [b"abc", b"xyz", b"de"]  # before and after a flush
    spill.flush()
    assert [spill.read(*p) for p in places] == [b"abc", b"xyz", b"de"]

    def no_file(**_: object) -> None:
        raise OSError("no room")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_file)
    bare = Spill()
    places = [bare.append(b"q"), bare.append(b"rs")]
    assert [bare.read(*p) for p in places] == [b"q", b"rs"] and all(at < 0 for at, _ in places)
