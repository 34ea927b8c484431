"""The sandbox: stored bytes are unpickled only in warm worker processes, once per row,
within a per-row limit and a total time budget per read."""

from __future__ import annotations

import pickle
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from schedtui.core.decode import decode_rows, unpickler
from schedtui.core.decode import sandbox as _sandbox
from tests.fixtures.factory import ROOT, sqlite_store
from tests.fixtures.hostile import state_bytes

#: ~90 bytes: a dict key that is a 40-level shared tuple DAG (2**40 hash steps in C).
BOMB = b"\x80\x02)" + b"2\x86" * 40 + b"q\x00}h\x00K\x01s."


def _good(n: int) -> list[tuple]:
    return [(f"r{i}", None, state_bytes(id=f"r{i}", next_run_time=None)) for i in range(n)]


def test_three_hash_bombs_cost_about_the_row_limit_each() -> None:
    rows = [("b1", 1.0, BOMB), *_good(20), ("b2", 2.0, BOMB), ("b3", 3.0, BOMB), *_good(20)]
    t0 = time.monotonic()
    out = decode_rows(rows)
    elapsed = time.monotonic() - t0
    assert elapsed < 3 * _sandbox.ROW_LIMIT + 6, elapsed  # was 15-17 s with a 5 s limit per row
    codes = {j.id: (j.finding.code if j.finding else None) for j in out}
    assert [codes[b] for b in ("b1", "b2", "b3")] == ["too-slow"] * 3
    assert all(codes[j] is None for j in codes if j.startswith("r"))
    assert [j.id for j in out] == [r[0] for r in rows]


def test_rows_not_decoded_within_the_budget_are_findings() -> None:
    rows = [("b1", 1.0, BOMB), *_good(5)]
    t0 = time.monotonic()
    out = decode_rows(rows, budget=0.3)
    assert time.monotonic() - t0 < 0.3 + 3
    finding = out[0].finding
    assert finding is not None and finding.code == "time-budget" and "time budget" in finding.message
    assert out[0].state_size == len(BOMB) and out[0].next_run_time is not None
    assert all(j.finding is None or j.finding.code == "time-budget" for j in out[1:])


def test_the_reading_process_never_unpickles_and_keeps_its_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("stored bytes were unpickled in the reading process")

    monkeypatch.setattr(unpickler, "loads", refuse)
    monkeypatch.setattr(unpickler.SafeUnpickler, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    before = resource.getrlimit(resource.RLIMIT_AS)
    seen: list[tuple[int, int]] = []
    out = decode_rows(_good(30), meanwhile=lambda: seen.append(resource.getrlimit(resource.RLIMIT_AS)))
    assert all(j.finding is None for j in out)
    assert seen == [before] and resource.getrlimit(resource.RLIMIT_AS) == before


def test_workers_stay_warm_between_reads() -> None:
    decode_rows(_good(3))
    pids = {w.proc.pid for w in _sandbox.pool()._workers}
    decode_rows(_good(3))
    assert pids and pids <= {w.proc.pid for w in _sandbox.pool()._workers}


def test_a_worker_killed_on_a_bomb_is_replaced_and_the_rest_decodes() -> None:
    rows = [*_good(10), ("bomb", None, BOMB), *_good(10)]
    out = decode_rows(rows)
    assert out[10].finding is not None and out[10].finding.code == "too-slow"
    again = decode_rows(_good(5))
    assert all(j.finding is None for j in again)


def test_check_answers_in_bounded_time_with_hash_bombs(tmp_path: Path) -> None:
    path, _ = sqlite_store(tmp_path, "catalog")
    with sqlite3.connect(path) as conn:
        for i in range(3):
            conn.execute("INSERT INTO apscheduler_jobs VALUES (?, ?, ?)", (f"bomb{i}", 1.0e9, BOMB))
    exe = shutil.which("schedtui", path=str(Path(sys.executable).parent)) or "schedtui"
    t0 = time.monotonic()
    proc = subprocess.run(
        [exe, "check", "--url", f"sqlite:///{path}"], capture_output=True, text=True, timeout=120, cwd=str(ROOT)
    )
    elapsed = time.monotonic() - t0
    assert elapsed < 3 * _sandbox.ROW_LIMIT + 10, elapsed
    assert proc.returncode in (1, 2), proc.stdout + proc.stderr  # WARNING/CRITICAL, not UNKNOWN
    assert "undecodable" in proc.stdout.lower() or "3" in proc.stdout


def test_results_that_are_not_what_a_worker_writes_are_refused() -> None:
    import marshal

    from schedtui.core.decode import wire as _wire

    good = _wire.encode(_fields())
    assert _wire.job(good).id == "r0"
    assert _wire.head(good)[0] == "r0"
    body = good[_wire.HEAD.size + 2 :]

    def headed(jid: bytes, tail: bytes, flags: int = 0) -> bytes:
        return _wire.HEAD.pack(0, 0.0, flags, len(jid)) + jid + tail

    for bad in (
        b"",
        b"\x00garbage",
        marshal.dumps([1, 2]),
        marshal.dumps(("x",) * 16),
        marshal.dumps(compile("1", "", "eval")),
        headed(b"r0", marshal.dumps([1, 2])),
        headed(b"r0", marshal.dumps(("x",) * 16)),
        headed(b"r0", marshal.dumps(compile("1", "", "eval"))),
        headed(b"r1", body),  # the head's id is not the record's
        headed(b"r0", body, flags=4),  # a bit no worker writes
        headed(b"\xff", body),  # not UTF-8
        _wire.HEAD.pack(0, 0.0, 0, 1 << 20) + b"r0" + body,  # an id longer than the record
    ):
        with pytest.raises(_wire.WireError):
            _wire.job(bad)
    assert _wire.job(headed(b"r0", body)).id == "r0"


def _fields() -> tuple:
    from schedtui.core.decode import jobstate

    row = _good(1)[0]
    return jobstate.safe_fields(row[0], row[1], row[2])


def test_oversized_rows_are_findings_without_reaching_a_worker() -> None:
    rows = [("big", None, b"\x80\x05" + b"N" * (2 * 1024 * 1024)), *_good(2)]
    out = decode_rows(rows)
    assert out[0].finding is not None and out[0].finding.code == "too-large"
    assert out[0].state_size == len(rows[0][2])
    assert [j.finding for j in out[1:]] == [None, None]


def test_workers_that_cannot_start_make_findings_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = _sandbox.Sandbox()
    monkeypatch.setattr(_sandbox, "_WORKER_CODE", "raise SystemExit(1)")
    try:
        t0 = time.monotonic()
        out = pool.decode(_good(50))
        assert time.monotonic() - t0 < 20
        assert all(type(r) is _sandbox.Failed and "could not start" in r.message for r in out)
    finally:
        pool.close()


def test_a_killed_worker_keeps_what_it_finished_and_no_row_is_sent_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Results sit in a shared area as each row finishes: killing a worker stuck on a bomb
    loses none of the rows before it, so none of them is decoded (unpickled) again."""
    monkeypatch.setenv("SCHEDTUI_DECODE_WORKERS", "1")
    sent: list[int] = []
    real_send = _sandbox._Worker.send

    def send(self: _sandbox._Worker, rows: list, indices: list[int], cpu: float, reprs: bool = True) -> None:
        sent.extend(indices)
        real_send(self, rows, indices, cpu, reprs)

    monkeypatch.setattr(_sandbox._Worker, "send", send)
    rows = [*_good(30), ("bomb", None, BOMB), *_good(30)]
    out = decode_rows(rows)
    # the worker decoded rows 0-29, was killed on row 30; only the rows it never reached
    # (31-60) go to its replacement
    assert sent == [*range(61), *range(31, 61)]
    assert out[30].finding is not None and out[30].finding.code == "too-slow"
    assert all(j.finding is None for i, j in enumerate(out) if i != 30)


def test_requests_and_results_that_do_not_fit_the_areas_go_through_the_pipes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = _good(40)
    expected = decode_rows(rows, watchdog=False)
    _sandbox.pool().close()
    monkeypatch.setattr(_sandbox, "RESULTS_SIZE", 3000)  # a few results fit, the rest do not
    monkeypatch.setattr(_sandbox, "REQUEST_SIZE", 600)  # no request of these rows fits
    try:
        out = decode_rows(rows)
        small = {(w.results_size, w.request_size) for w in _sandbox.pool()._workers}
    finally:
        _sandbox.pool().close()  # the next test's workers get the real sizes
    assert small == {(3000, 600)}
    assert out == expected
    assert [j.trigger for j in out] == [j.trigger for j in expected]


def test_the_trigger_memo_keeps_fold_and_zone_apart_in_any_order() -> None:
    """Triggers equal under ``==`` but an hour apart (fold) or in another zone stay apart
    when the reader rebuilds them, whichever comes first, and a repeated one is shared."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from schedtui.core.decode import wire as _wire
    from schedtui.core.model import TriggerSpec

    ny, chicago = ZoneInfo("America/New_York"), ZoneInfo("America/Chicago")

    def spec(fold: int, tz: ZoneInfo) -> TriggerSpec:
        start = datetime(2026, 11, 1, 1, 30, tzinfo=tz, fold=fold)
        return TriggerSpec("interval", tz.key, tz, start_date=start, interval=timedelta(hours=1))

    specs = [spec(0, ny), spec(1, ny), spec(0, chicago)]
    assert specs[0] == specs[1]  # what a memo keyed by == would confuse
    base = list(_fields())
    for order in (specs, specs[::-1], [specs[1], specs[0], specs[1], specs[0]]):
        _wire._SPECS.values.clear()
        _wire._SPECS.off = 0
        for _ in range(2):  # the second pass comes from the memo
            for s in order:
                base[6] = s
                got = _wire.job(_wire.encode(tuple(base))).trigger
                assert got is not None and got.start_date is not None and s.start_date is not None
                assert (got.start_date.timestamp(), got.start_date.fold, str(got.start_date.tzinfo)) == (
                    s.start_date.timestamp(),
                    s.start_date.fold,
                    str(s.start_date.tzinfo),
                )
                assert got.timezone == s.timezone and got.interval == s.interval
    assert len(_wire._SPECS.values) == 2  # the last order's two: fold 0 and fold 1 kept apart
