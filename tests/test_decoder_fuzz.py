"""Property tests: mutated real rows (bit flips, truncations, splices, insertions) and
random bytes always end as a result or a finding, never as an exception or an import."""

from __future__ import annotations

import functools
import sqlite3
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schedtui.core.decode import decode_row, decode_rows
from schedtui.core.model import JobInfo
from tests.fixtures.factory import cached_sqlite_store

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def real_rows() -> tuple[bytes, ...]:
    out: list[bytes] = []
    for scenario, protocol in (("catalog", None), ("catalog", 2)):
        db, _manifest = cached_sqlite_store(scenario, protocol=protocol)
        con = sqlite3.connect(db)
        out += [r[0] for r in con.execute("SELECT job_state FROM apscheduler_jobs")]
        con.close()
    return tuple(out)


def _check(data: bytes) -> None:
    before = set(sys.modules)
    job = decode_row("fuzz", 1767225600.0, data)
    assert isinstance(job, JobInfo)
    assert job.id == "fuzz" and job.state_size == len(data)
    if job.finding is not None:
        assert job.finding.code and job.finding.message
    else:
        assert job.trigger is not None and len(job.args_repr) <= 401 and len(job.kwargs_repr) <= 401
    assert set(sys.modules) == before
    assert "fixture_app" not in sys.modules


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    rows = real_rows()
    data = bytearray(draw(st.sampled_from(rows)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "byte", "truncate", "splice", "insert", "delete"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte":
            data[i] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[i:]
        elif kind == "splice":
            other = draw(st.sampled_from(rows))
            j = draw(st.integers(0, len(other)))
            data = data[:i] + bytearray(other[j:])
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[i : i + draw(st.integers(1, 16))]
    return bytes(data)


def test_real_rows_decode() -> None:
    for data in real_rows():
        assert decode_row("x", None, data).finding is None


@SETTINGS
@given(mutated())
def test_mutated_rows(data: bytes) -> None:
    _check(data)


@SETTINGS
@given(st.binary(max_size=512))
def test_random_bytes(data: bytes) -> None:
    _check(data)


@SETTINGS
@given(st.binary(max_size=256))
def test_random_bytes_after_protocol_header(data: bytes) -> None:
    _check(b"\x80\x05" + data)


@settings(max_examples=30, deadline=None)
@given(st.lists(mutated(), min_size=1, max_size=20))
def test_bulk_keeps_every_row(blobs: list[bytes]) -> None:
    out = decode_rows([(f"r{i}", None, b) for i, b in enumerate(blobs)])
    assert [j.id for j in out] == [f"r{i}" for i in range(len(blobs))]
