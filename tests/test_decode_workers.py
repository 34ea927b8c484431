"""Decoding in forked worker processes gives exactly the serial result.

The thresholds are lowered so a few hundred real rows use the workers. A worker stuck on
the tuple-hash pickle, a worker that dies, and a results file naming a foreign global all
end in the same result as the in-process decoder; the parent never unpickles stored bytes.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from schedtui.core import _decode_workers as W
from schedtui.core import _segment_cache as sc
from schedtui.core import decoder
from schedtui.core.decoder import decode_rows
from tests.fixtures.factory import cached_sqlite_store

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="decode workers need os.fork")

BOMB = b"\x80\x02)" + b"2\x86" * 40 + b"q\x00}h\x00K\x01s."


def _rows(count: int = 600) -> list[tuple[Any, Any, Any]]:
    db, _ = cached_sqlite_store("bench", count=1500)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(
            "SELECT id, next_run_time, job_state FROM apscheduler_jobs ORDER BY id LIMIT ?", (count,)
        ).fetchall()
    finally:
        con.close()


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(W, "MIN_ROWS", 100)
    monkeypatch.setattr(W, "CHUNK", 64)
    monkeypatch.setenv("SCHEDTUI_DECODE_WORKERS", "2")


def _serial(rows: list, monkeypatch: pytest.MonkeyPatch) -> list:
    with monkeypatch.context() as m:
        m.setenv("SCHEDTUI_DECODE_WORKERS", "0")
        return decode_rows(rows)


def test_workers_equal_serial(workers: None, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows()
    calls = {"n": 0}
    real_load = sc.SegmentCache.load

    def counting(self: sc.SegmentCache, *a: Any, **k: Any) -> Any:
        calls["n"] += 1
        return real_load(self, *a, **k)

    monkeypatch.setattr(sc.SegmentCache, "load", counting)
    got = decode_rows(rows)
    assert calls["n"] == 0, "the parent unpickled stored bytes"
    assert got == _serial(rows, monkeypatch)
    assert calls["n"] > 0  # the serial decode did, in-process
    assert [j.id for j in got] == [r[0] for r in rows]


@pytest.mark.parametrize("count", ["1", "3"])
def test_any_number_of_workers(count: str, workers: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDTUI_DECODE_WORKERS", count)
    rows = _rows(333)
    assert decode_rows(rows) == _serial(rows, monkeypatch)


def test_stuck_worker_is_replaced(workers: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tuple-hash pickle in the second worker's share: that worker is killed after the
    row deadline, the rest of its share is decoded in-process (the canary gives up on the
    bomb), and every other row is decoded as usual."""
    monkeypatch.setattr(decoder, "ROW_DEADLINE", 1.0)
    rows = _rows(400)
    rows.insert(300, ("bomb", 1.0, BOMB))
    t0 = time.monotonic()
    got = decode_rows(rows)
    assert time.monotonic() - t0 < 30
    assert got[300].id == "bomb" and got[300].finding is not None and got[300].finding.code == "too-slow"
    rest = rows[:300] + rows[301:]
    assert got[:300] + got[301:] == _serial(rest, monkeypatch)


def test_dead_worker_is_replaced(workers: None, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows(400)
    real = decoder._decode_chunk

    def dies_late(rows: Any, first: int, last: int, progress: Any) -> list:
        if first >= 250:
            os._exit(3)
        return real(rows, first, last, progress)

    monkeypatch.setattr(decoder, "_decode_chunk", dies_late)
    assert decode_rows(rows) == _serial(rows, monkeypatch)


def test_unreadable_results_are_decoded_again(workers: None, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows(300)
    real = decoder._decode_chunk

    def foreign(rows: Any, first: int, last: int, progress: Any) -> list:
        out = real(rows, first, last, progress)
        return [(os.system, "echo hi")] if first >= 200 else out  # a foreign global

    monkeypatch.setattr(decoder, "_decode_chunk", foreign)
    assert decode_rows(rows) == _serial(rows, monkeypatch)


def test_results_name_only_the_model() -> None:
    with pytest.raises(pickle.UnpicklingError):
        W._load_chunk(pickle.dumps([(os.system, "echo hi")]))
    with pytest.raises(pickle.UnpicklingError):
        W._load_chunk(pickle.dumps({"not": "a list"}))
    with pytest.raises(TypeError):
        W._load_chunk(pickle.dumps([(1, 2)]))


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("2", 2), ("x", 0), ("-3", 0), ("99", 16)])
def test_worker_count_from_environment(value: str, expected: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDTUI_DECODE_WORKERS", value)
    assert W.workers() == expected


def test_store_read_uses_workers(workers: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from schedtui.core.store import read_jobs
    from schedtui.core.urls import resolve_target

    db, _ = cached_sqlite_store("bench", count=1500)
    target = resolve_target(f"sqlite:///{db}")
    with_workers = read_jobs(target).jobs
    monkeypatch.setenv("SCHEDTUI_DECODE_WORKERS", "0")
    assert read_jobs(target).jobs == with_workers
    assert len(with_workers) == 1500


def test_every_kind_of_job_crosses_back(workers: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every trigger kind and zone kind (zoneinfo, fixed offsets, pytz stand-ins from older
    APScheduler releases) and undecodable rows come back from a worker unchanged."""
    from tests.fixtures.factory import old_stores
    from tests.fixtures.hostile import CASES

    monkeypatch.setattr(W, "MIN_ROWS", 10)
    sources = [cached_sqlite_store("catalog", protocol=p)[0] for p in (2, 5)]
    sources += [db for _label, db, _m in old_stores()]
    rows: list[tuple[Any, Any, Any]] = []
    for db in sources:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows += con.execute("SELECT id, next_run_time, job_state FROM apscheduler_jobs").fetchall()
        con.close()
    for name, (factory, _codes) in sorted(CASES.items()):
        if "bomb" not in name:
            rows.append((f"hostile-{name}", 1.0, factory(str(tmp_path / "MARKER"))))
    got = decode_rows(rows)
    assert not (tmp_path / "MARKER").exists()
    assert got == _serial(rows, monkeypatch)
    assert any(j.finding is not None for j in got) and any(j.finding is None for j in got)
    zones = {type(j.trigger.tz).__name__ for j in got if j.trigger is not None and j.trigger.tz is not None}
    zones |= {type(j.state_next_run_time.tzinfo).__name__ for j in got if j.state_next_run_time is not None}
    assert "ZoneInfo" in zones
    if old_stores():  # APScheduler 3.6-3.10 pickled pytz zones
        assert "PytzZone" in zones


def _store_copy(tmp_path: Path, without_rowid: bool = False) -> Path:
    src, _ = cached_sqlite_store("bench", count=1500)
    dst = tmp_path / "jobs.sqlite"
    con = sqlite3.connect(dst)
    suffix = " WITHOUT ROWID" if without_rowid else ""
    con.execute(
        f"CREATE TABLE apscheduler_jobs (id VARCHAR(191) PRIMARY KEY, next_run_time FLOAT, job_state BLOB NOT NULL){suffix}"
    )
    con.execute(f"ATTACH DATABASE '{src}' AS src")
    con.execute("INSERT INTO apscheduler_jobs SELECT id, next_run_time, job_state FROM src.apscheduler_jobs")
    con.commit()
    con.execute("DETACH DATABASE src")
    con.close()
    return dst


@pytest.mark.parametrize("without_rowid", [False, True])
def test_one_shot_read_fetches_in_the_workers(
    workers: None, tmp_path: Path, without_rowid: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A one-shot read (check, jobs) of a large SQLite store: each worker reads its own rowid
    range; a WITHOUT ROWID table is read the usual way. Same jobs as without workers."""
    from schedtui.core import store
    from schedtui.core.store import read_jobs
    from schedtui.core.urls import resolve_target

    db = _store_copy(tmp_path, without_rowid)
    target = resolve_target(f"sqlite:///{db}")
    used = []
    real = store.JobStoreReader._one_shot_by_workers

    def spy(self: Any, conn: Any, table: str) -> Any:
        out = real(self, conn, table)
        used.append(out is not None)
        return out

    monkeypatch.setattr(store.JobStoreReader, "_one_shot_by_workers", spy)
    import hashlib

    before = hashlib.sha256(db.read_bytes()).hexdigest()
    got = read_jobs(target).jobs
    assert used == [not without_rowid]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before, "reading changed the database file"
    monkeypatch.setenv("SCHEDTUI_DECODE_WORKERS", "0")
    assert read_jobs(target).jobs == got
    assert len(got) == 1500


def test_one_shot_read_survives_a_stuck_worker(workers: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tuple-hash row in a worker's rowid range: the worker is killed, this process
    reads the range again and decodes the rest with the canary."""
    from schedtui.core.store import read_jobs
    from schedtui.core.urls import resolve_target

    monkeypatch.setattr(decoder, "ROW_DEADLINE", 1.0)
    db = _store_copy(tmp_path)
    con = sqlite3.connect(db)
    con.execute("INSERT INTO apscheduler_jobs VALUES ('bomb', 1.0, ?)", (BOMB,))
    con.commit()
    con.close()
    jobs = {j.id: j for j in read_jobs(resolve_target(f"sqlite:///{db}")).jobs}
    assert len(jobs) == 1501
    assert jobs["bomb"].finding is not None and jobs["bomb"].finding.code == "too-slow"
    assert sum(j.finding is None for j in jobs.values()) == 1500
