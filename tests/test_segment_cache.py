"""The trigger-segment cache gives exactly what a full decode gives.

Rows written by real APScheduler (every protocol, older releases, every trigger kind) are
decoded with the cache off and with it warm; the results must be equal and the cache must
actually have been used. Then real rows are altered after their trigger so that a cached
segment meets a hostile suffix (one that changes, keeps, duplicates or drops the trigger or
its parts, uses PERSID, trails data): the cached decode must still equal the full decode,
and the cache must still be right for the unaltered row afterwards.
"""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from schedtui.core.decode import decode_rows
from schedtui.core.decode import segments as sc
from tests.fixtures.factory import cached_sqlite_store, old_stores

Row = tuple[Any, Any, Any]


def _rows(db: Path) -> list[Row]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT id, next_run_time, job_state FROM apscheduler_jobs ORDER BY id").fetchall()
    finally:
        con.close()


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch) -> sc.SegmentCache:
    fresh = sc.SegmentCache()
    monkeypatch.setattr(sc, "CACHE", fresh)
    monkeypatch.setattr(sc, "ENABLED", True)
    return fresh


def _full(rows: list[Row], monkeypatch: pytest.MonkeyPatch) -> list:
    monkeypatch.setattr(sc, "ENABLED", False)
    try:
        return decode_rows(rows, watchdog=False)
    finally:
        monkeypatch.setattr(sc, "ENABLED", True)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_cached_equals_full_on_a_real_store(
    protocol: int, cache: sc.SegmentCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, _ = cached_sqlite_store("bench", count=1500, protocol=protocol)
    rows = _rows(db)
    full = _full(rows, monkeypatch)
    assert decode_rows(rows, watchdog=False) == full  # cold: sightings, studies
    hits = cache.hits
    assert decode_rows(rows, watchdog=False) == full  # warm
    assert cache.hits - hits > 0.95 * len(rows), "the cache was not used"
    assert cache.fallbacks < 0.05 * len(rows)


@pytest.mark.parametrize("protocol", [2, 5])
def test_every_trigger_kind(protocol: int, cache: sc.SegmentCache, monkeypatch: pytest.MonkeyPatch) -> None:
    db, _ = cached_sqlite_store("catalog", protocol=protocol)
    rows = _rows(db)
    full = _full(rows, monkeypatch)
    for _ in range(3):  # seen, studied, hit
        assert decode_rows(rows, watchdog=False) == full
    assert cache.hits > len(rows) // 2


def test_older_apscheduler_stores(cache: sc.SegmentCache, monkeypatch: pytest.MonkeyPatch) -> None:
    stores = old_stores()
    if not stores:
        pytest.skip("no stores from older APScheduler releases (run python -m tests.fixtures.prepare)")
    for label, db, _manifest in stores:
        rows = _rows(db)
        full = _full(rows, monkeypatch)
        for _ in range(3):
            assert decode_rows(rows, watchdog=False) == full, label


# --------------------------------------------------------------------------- hostile suffixes


def _unframed(data: bytes) -> bytes:
    """The same pickle without its FRAME opcode (so bytes can be inserted anywhere)."""
    return data[:2] + data[11:] if data[2] == 0x95 else data


def _cron_row(protocol: int) -> tuple[Row, sc._Entry, int]:
    db, _ = cached_sqlite_store("bench", count=1500, protocol=protocol)
    for job_id, nrt, data in _rows(db):
        if b"CronTrigger" in data and b"\x96" not in data:
            data = _unframed(data)
            row = (job_id, nrt, data)
            for _ in range(3):
                decode_rows([row], watchdog=False)
            pre = sc.parse_prefix(data)
            assert pre is not None
            family, start = pre[0], pre[1]
            end = data.find(sc._P45_END if family == 45 else sc._P23_END, start)
            entry = sc.CACHE._entries.get(data[start:end])
            assert entry is not None, "the segment was not cached"
            return row, entry, end
    raise AssertionError("no cron row")


def _get(slot: int) -> bytes:
    return b"h" + bytes([slot]) if slot < 256 else b"j" + slot.to_bytes(4, "little")


_KEY = b"X\x08\x00\x00\x00executor"  # pushes the 'executor' key again


def _after_key(data: bytes, end: int) -> int:
    """Where the suffix's first opcode (the 'executor' key) and its memo opcode end."""
    i = end + (10 if data[end] == 0x8C else 13)  # SHORT_BINUNICODE / BINUNICODE 'executor'
    return i + {0x94: 1, 0x71: 2, 0x72: 5}[data[i]]  # MEMOIZE / BINPUT / LONG_BINPUT


def _variants(entry: sc._Entry) -> dict[str, bytes]:
    """Opcodes inserted after the suffix's first key: the stack ends ``'trigger', <trigger>,
    'executor'``; harmless ones end as they started."""
    out = {
        "harmless-job-dict": b"h\x000",
        "harmless-build-none": b"0Nb" + _KEY,  # BUILD with None state changes nothing
        "harmless-dup-pop": b"020" + _KEY,
        "dup-trigger-as-key": b"02",
        "build-trigger": b"0}(X\x08\x00\x00\x00timezoneX\x03\x00\x00\x00badub" + _KEY,
        "replace-trigger": b"00X\x03\x00\x00\x00abc" + _KEY,
        "wrap-trigger": b"0\x85" + _KEY,
        "persid": b"NQ0",
        "trigger-as-executor": b"0" + _get(entry.poisoned[0]) + _KEY + _KEY,
    }
    for slot in entry.poisoned[:12]:
        get = _get(slot)
        out[f"harmless-get-{slot}"] = get + b"0"
        out[f"get-{slot}-append"] = get + b"Na0"  # changes a list of the trigger
        out[f"get-{slot}-setitem"] = get + b"X\x04\x00\x00\x00stepK\x05s0"  # changes a dict
        out[f"get-{slot}-build"] = get + b"}(X\x04\x00\x00\x00stepK\x05ub0"  # changes an object
        # the 'executor' key gets it, then 'default' again (the later pair wins): harmless
        out[f"harmless-get-{slot}-overwritten"] = get + _KEY
    return out


def _tail_variants(entry: sc._Entry) -> dict[str, bytes]:
    """Opcodes inserted before the final SETITEMS: a later pair overrides a key."""
    out = {f"get-{slot}-as-executor": _KEY + _get(slot) for slot in entry.poisoned[:12]}
    out["any-job-dict-as-executor"] = _KEY + b"h\x00"  # the same in both: may be served
    out["harmless-executor-again"] = _KEY + b"X\x07\x00\x00\x00default"
    return out


@pytest.mark.parametrize("protocol", [2, 5])
def test_hostile_suffixes_decode_as_in_full(
    protocol: int, cache: sc.SegmentCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    row, entry, end = _cron_row(protocol)
    job_id, nrt, data = row
    at = _after_key(data, end)
    expected_original = _full([row], monkeypatch)[0]
    assert expected_original.finding is None
    harmless_hits = 0
    assert data.endswith(b"u.")
    cases = [(name, at, ops) for name, ops in _variants(entry).items()]
    cases += [(name, len(data) - 2, ops) for name, ops in _tail_variants(entry).items()]
    assert len(cases) > 30
    for name, pos, ops in cases:
        altered = (job_id, nrt, data[:pos] + ops + data[pos:])
        want = _full([altered], monkeypatch)[0]
        before = cache.hits
        got = decode_rows([altered], watchdog=False)[0]
        assert got == want, name
        if name.startswith("harmless"):
            assert want.finding is None, name
            harmless_hits += cache.hits > before
        elif not name.startswith("any"):
            assert cache.hits == before, f"{name} was served by the cache"
        # the cached segment still decodes the unaltered row exactly
        assert decode_rows([row], watchdog=False)[0] == expected_original, name
    assert harmless_hits >= 10, "the harmless variants should have been served by the cache"


def test_trailing_data_and_early_stop(cache: sc.SegmentCache, monkeypatch: pytest.MonkeyPatch) -> None:
    row, _entry, end = _cron_row(5)
    job_id, nrt, data = row
    for altered_data in (data + b"N.", data[:-1], data[: end + 3], data[:end] + b"." + data[end:]):
        altered = (job_id, nrt, altered_data)
        assert decode_rows([altered], watchdog=False) == _full([altered], monkeypatch)


# --------------------------------------------------------------------------- the proof


def _segment(obj: object, protocol: int) -> bytes:
    """The bytes of ``obj`` pickled as a job state's trigger."""
    state = {"version": 1, "id": "x", "func": "m:f", "trigger": obj, "executor": "default"}
    data = _unframed(pickle.dumps(state, protocol))
    pre = sc.parse_prefix(data)
    assert pre is not None
    end = data.find(sc._P45_END if pre[0] == 45 else sc._P23_END, pre[1])
    return data[pre[1] : end]


@pytest.mark.parametrize("protocol", [2, 4])
def test_study_accepts_a_self_contained_value(protocol: int) -> None:
    assert sc._study(_segment({"a": [1, 2, (3, 4)]}, protocol))


@pytest.mark.parametrize(
    ("name", "segment"),
    [
        ("empty", b""),
        ("pops the key below", b"0N"),
        ("two values", b"NN"),
        ("open mark", b"(N"),
        ("closes an outer mark", b"Nu"),
        ("reads the row's id", b"h\x03"),
        ("reads the job dict", b"h\x00"),
        ("writes below its base", b"Nq\x02"),
        ("skips a memo slot", b"Nq\x09"),
        ("persistent id", b"NQ"),
        ("frame", b"\x95\x01\x00\x00\x00\x00\x00\x00\x00N"),
        ("stop", b"N."),
        ("cut argument", b"X\x05\x00\x00\x00ab"),
    ],
)
def test_study_refuses(name: str, segment: bytes) -> None:
    assert not sc._study(segment), name


def test_parse_prefix_shapes() -> None:
    for protocol in (2, 3, 4, 5):
        data = pickle.dumps({"version": 1, "id": "é" * 300, "func": "m:f", "trigger": None}, protocol)
        pre = sc.parse_prefix(data)
        assert pre is not None, protocol
    for protocol in (0, 1):
        assert (
            sc.parse_prefix(pickle.dumps({"version": 1, "id": "a", "func": "m:f", "trigger": None}, protocol)) is None
        )
    assert sc.parse_prefix(pickle.dumps({"id": "a", "version": 1}, 4)) is None
    assert sc.parse_prefix(b"") is None
    assert sc.parse_prefix(b"\x80\x05\x95") is None


# --------------------------------------------------------------------------- property

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _warm_rows() -> list[Row]:
    rows: list[Row] = []
    for protocol in (2, 5):
        db, _ = cached_sqlite_store("bench", count=1500, protocol=protocol)
        rows += [(r[0], r[1], _unframed(r[2])) for r in _rows(db)[:40]]
    return rows


_WARM = sc.SegmentCache()


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_suffixes_decode_as_in_full(data: st.DataObject, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes changed after a cached trigger (flips, insertions, deletions): the cached decode
    equals the full decode, whatever the mutation did."""
    rows = _warm_rows()
    monkeypatch.setattr(sc, "CACHE", _WARM)
    monkeypatch.setattr(sc, "ENABLED", True)
    if not _WARM._entries:
        for _ in range(3):
            decode_rows(rows, watchdog=False)
    job_id, nrt, raw = data.draw(st.sampled_from(rows))
    pre = sc.parse_prefix(raw)
    assert pre is not None
    end = raw.find(sc._P45_END if pre[0] == 45 else sc._P23_END, pre[1])
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(end, len(buf) - 1))
        kind = data.draw(st.sampled_from(["flip", "byte", "insert", "delete"]))
        if kind == "flip":
            buf[i] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "byte":
            buf[i] = data.draw(st.integers(0, 255))
        elif kind == "insert":
            buf[i:i] = data.draw(st.binary(min_size=1, max_size=8))
        elif len(buf) - i > 2:
            del buf[i : i + data.draw(st.integers(1, 4))]
    row = (job_id, nrt, bytes(buf))
    assert decode_rows([row], watchdog=False) == _full([row], monkeypatch)


def test_a_store_that_does_not_repeat_skips_the_cache(cache: sc.SegmentCache, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a window without enough hits the cache steps aside (only speed changes)."""
    db, _ = cached_sqlite_store("bench", count=1500)
    rows = _rows(db)
    full = _full(rows, monkeypatch)
    monkeypatch.setattr(sc, "MIN_HITS", 10**9)  # every window "does not pay"
    assert decode_rows(rows, watchdog=False) == full
    hits = cache.hits
    assert cache._bypass > 0
    assert decode_rows(rows, watchdog=False) == full
    assert cache.hits == hits, "rows were looked up while the cache was stepping aside"
