"""The hostile corpus (hazards.md) against the safe decoder.

Each case must end as a per-row finding (or, for the "laughs"/"deep" cases, a bounded
repr): no code ran (no MARKER file), no module imported, bounded time, and in a real
SQLite table written by APScheduler the row is still there after a read through the
public API while the real rows still decode.
"""

from __future__ import annotations

import copyreg
import gc
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from schedtui.core.decode import decode_row, decode_rows
from schedtui.core.model import Target
from tests.fixtures.factory import sqlite_store
from tests.fixtures.hostile import CASES, EXT, MEMO_BOMB, state_bytes

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """Decode one real row and one oversized one first: lazy imports of the decoder itself
    (a finding's safe repr of an odd id, made in this process) are not the payload's."""
    decode_row("warm", None, state_bytes())
    decode_row("warm-large", None, b"\x80" * (2 * 1024 * 1024))


def _check(job, name: str, codes: frozenset[str], marker: Path) -> None:
    if codes:
        assert job.finding is not None, f"{name}: decoded but should not have"
        assert job.finding.code in codes, f"{name}: {job.finding}"
        assert job.finding.message
    else:
        assert job.finding is None, f"{name}: {job.finding}"
        assert len(job.args_repr) <= 401 and len(job.kwargs_repr) <= 401
    assert not marker.exists(), f"{name}: code ran"


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_row_is_a_finding(name: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    factory, codes = CASES[name]
    marker = tmp_path / "MARKER"
    data = factory(str(marker))
    before = set(sys.modules)
    t0 = time.monotonic()
    job = decode_row(f"hostile-{name}", 1767225600.0, data)
    elapsed = time.monotonic() - t0
    assert set(sys.modules) == before, f"{name} imported {set(sys.modules) - before}"
    assert "fixture_app" not in sys.modules
    assert elapsed < 10, f"{name} took {elapsed:.1f}s"
    assert job.id == f"hostile-{name}"
    assert job.state_size == len(data)
    _check(job, name, codes, marker)
    del job
    gc.collect()
    assert capfd.readouterr().err == "", f"{name} wrote to stderr"


def test_build_on_class_changes_nothing(tmp_path: Path) -> None:
    import datetime as dt

    from schedtui.core.decode.placeholders import placeholder_class

    for name in (
        "build-on-aps-class",
        "build-on-aps-class-dict",
        "build-on-datetime-class",
        "build-on-placeholder-class",
    ):
        decode_row("x", None, CASES[name][0](str(tmp_path / "m")))
    cls = placeholder_class("apscheduler.triggers.cron", "CronTrigger")
    assert "FIELD_NAMES" not in vars(cls)
    assert "x" not in vars(placeholder_class("fixture_app.models", "Thing"))
    assert dt.datetime.max.year == 9999


def test_ext_opcode_with_registered_extension(tmp_path: Path) -> None:
    """EXT reaches the copyreg cache without find_class: refused while anything is registered."""
    import pickle

    marker = tmp_path / "MARKER"
    code = 240
    copyreg.add_extension("os", "system", code)
    try:
        # A normal unpickler fills the extension cache with the real os.system.
        assert pickle.loads(b"\x80\x02\x82\xf0.") is os.system
        # in THIS process (where the extension is registered), then in the sandbox
        job = decode_row("ext", None, EXT(code), watchdog=False)
        assert job.finding is not None and job.finding.code == "forbidden-opcode"
        job = decode_row("ext", None, EXT(code))
        assert job.finding is not None and job.finding.code in ("forbidden-opcode", "malformed")
    finally:
        copyreg.remove_extension("os", "system", code)
        copyreg._extension_cache.clear()  # type: ignore[attr-defined]
    assert not marker.exists()
    # Without registrations, EXT is simply an unknown code.
    job = decode_row("ext", None, EXT(code))
    assert job.finding is not None and job.finding.code == "malformed"


def test_hostile_rows_beside_real_ones(tmp_path: Path) -> None:
    """All hostile rows in one real table: the read keeps every row and decodes the real ones."""
    from schedtui.core.store.reader import read_jobs

    db, manifest = sqlite_store(tmp_path, "catalog")
    read_jobs(Target(f"sqlite:///{db}"))  # the reader's own lazy imports happen here
    marker = tmp_path / "MARKER"
    hostile = {f"hostile-{name}": (factory(str(marker)), codes) for name, (factory, codes) in CASES.items()}
    con = sqlite3.connect(db)
    with con:
        con.executemany(
            "INSERT INTO apscheduler_jobs (id, next_run_time, job_state) VALUES (?, ?, ?)",
            [(jid, 1767225600.0, data) for jid, (data, _codes) in hostile.items()],
        )
    before = set(sys.modules)
    snap = read_jobs(Target(f"sqlite:///{db}"))
    assert set(sys.modules) == before
    by_id = {j.id: j for j in snap.jobs}
    for jid, (_data, codes) in hostile.items():
        _check(by_id[jid], jid, codes, marker)
    for jid in manifest["ids"]:
        assert by_id[jid].finding is None, (jid, by_id[jid].finding)
    count = con.execute("SELECT count(*) FROM apscheduler_jobs").fetchone()[0]
    assert count == len(manifest["ids"]) + len(hostile)
    stored = dict(con.execute("SELECT id, job_state FROM apscheduler_jobs WHERE id LIKE 'hostile-%'").fetchall())
    assert stored == {jid: data for jid, (data, _c) in hostile.items()}
    con.close()


def test_decode_rows_mixed_order(tmp_path: Path) -> None:
    rows = []
    for i, (name, (factory, _codes)) in enumerate(sorted(CASES.items())):
        rows.append((f"good-{i}", None, state_bytes(id=f"good-{i}", next_run_time=None)))
        rows.append((f"bad-{name}", 1.0, factory(str(tmp_path / "m"))))
    out = decode_rows(rows)
    assert [j.id for j in out] == [r[0] for r in rows]
    assert all(j.finding is None for j in out if j.id.startswith("good-"))


MEMO_CHILD = textwrap.dedent(
    """
    import resource, sys
    sys.path.insert(0, sys.argv[1])
    from schedtui.core.decode import decode_rows
    from tests.fixtures.hostile import MEMO_BOMB, state_bytes
    rows = [("a", None, state_bytes()), ("bomb", None, MEMO_BOMB(int(sys.argv[2]))), ("b", None, state_bytes())]
    out = decode_rows(rows)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(out[1].finding.code if out[1].finding else "decoded", out[0].finding, out[2].finding, int(peak_mib))
    """
)


@pytest.mark.slow
def test_memo_bomb_is_contained_in_a_subprocess() -> None:
    """LONG_BINPUT 1e8 would make the C unpickler zero 1.6 GB; the guard turns it into a finding.

    Runs in a child under ``ulimit -v`` (4 GiB) so a regression cannot take the machine down.
    """
    if sys.platform != "linux":
        pytest.skip("RLIMIT_AS guard is Linux-only")
    cmd = f'ulimit -v {4 * 1024 * 1024}; exec "{sys.executable}" -c "$0" "$1" "$2"'
    proc = subprocess.run(
        ["bash", "-c", cmd, MEMO_CHILD, str(ROOT), str(100_000_000)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    code, first, third, peak = proc.stdout.split()
    assert code == "memory"
    assert first == "None" and third == "None"
    assert int(peak) < 1000, f"peak RSS {peak} MiB"


def test_memo_bomb_small_index_still_decodes_rows() -> None:
    """A big-but-affordable memo index is no reason to refuse other rows."""
    out = decode_rows([("bomb", None, MEMO_BOMB(1000)), ("ok", None, state_bytes(id="ok"))])
    assert out[0].finding is not None and out[0].finding.code == "bad-shape"
    assert out[1].finding is None


HASH_BOMB_CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from schedtui.core.decode import decode_row
    n = int(sys.argv[2])
    # ((t, t), (t, t)) ... via DUP + TUPLE2, used as a dict key: hashing walks 2**n nodes in C.
    data = b"\\x80\\x02)" + b"2\\x86" * n + b"q\\x00}h\\x00K\\x01s."
    print(decode_row("bomb", None, data, watchdog=True).finding.code)
    """
)


@pytest.mark.slow
def test_tuple_hash_bomb_is_bounded() -> None:
    """An ~90-byte row whose dict key is a 40-level shared tuple DAG (2**40 hash steps in C,
    which nothing in-process can interrupt): the forked canary gives up on it after
    ROW_DEADLINE and the row becomes a ``too-slow`` finding. Run in a child with a timeout so
    a regression cannot hang the suite."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", HASH_BOMB_CHILD, str(ROOT), "40"], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail("decode_row did not return within 60 s")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "too-slow"


def test_tuple_hash_bomb_beside_real_rows() -> None:
    bomb = b"\x80\x02)" + b"2\x86" * 40 + b"q\x00}h\x00K\x01s."
    rows = [("a", None, state_bytes(id="a", next_run_time=None)), ("bomb", 1.0, bomb)]
    rows += [(f"r{i}", None, state_bytes(id=f"r{i}", next_run_time=None)) for i in range(50)]
    t0 = time.monotonic()
    out = decode_rows(rows)
    assert time.monotonic() - t0 < 30
    assert out[1].finding is not None and out[1].finding.code == "too-slow"
    assert out[1].state_size == len(bomb)
    assert all(j.finding is None for j in out if j.id != "bomb")


def test_without_reprs_only_args_and_kwargs_differ(tmp_path: Path) -> None:
    """``reprs=False`` (commands that never print args/kwargs): the hostile corpus and real
    rows give the same findings, notes and fields; only decoded rows' reprs are left out."""
    import dataclasses

    from schedtui.core.model import NOT_RENDERED

    db, _manifest = sqlite_store(tmp_path, "catalog")
    con = sqlite3.connect(db)
    rows = con.execute("SELECT id, next_run_time, job_state FROM apscheduler_jobs").fetchall()
    con.close()
    marker = tmp_path / "MARKER"
    rows += [(f"hostile-{name}", 1767225600.0, factory(str(marker))) for name, (factory, _c) in CASES.items()]
    full = decode_rows(rows)
    lite = decode_rows(rows, reprs=False)
    assert not marker.exists()
    for a, b in zip(full, lite, strict=True):
        if a.finding is None:
            assert b.args_repr == b.kwargs_repr == NOT_RENDERED
            assert a.args_repr != NOT_RENDERED and a.kwargs_repr != NOT_RENDERED
            b = dataclasses.replace(b, args_repr=a.args_repr, kwargs_repr=a.kwargs_repr)
        assert a == b and a.next_run_time == b.next_run_time
        if a.state_next_run_time is not None:
            assert (a.state_next_run_time.fold, a.state_next_run_time.tzinfo) == (
                b.state_next_run_time.fold,  # type: ignore[union-attr]
                b.state_next_run_time.tzinfo,  # type: ignore[union-attr]
            )


def test_text_that_is_not_utf8_is_one_rows_finding_not_a_failed_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ``job_state`` cast to TEXT (a pickle is not UTF-8) and an id stored as TEXT bytes
    that are not UTF-8: sqlite3 would fail the whole read ("Could not decode to UTF-8");
    each is that row's business. ``check`` and ``jobs --json`` still answer, the other rows
    decode, and nothing raw reaches the output."""
    import json

    from schedtui.cli.app import main
    from schedtui.core.store.reader import read_jobs

    db, manifest = sqlite_store(tmp_path, "catalog")
    cast_id, other = manifest["ids"][0], manifest["ids"][1]
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE apscheduler_jobs SET job_state = CAST(job_state AS TEXT) WHERE id = ?", (cast_id,))
        con.execute("UPDATE apscheduler_jobs SET id = CAST(x'6a6f62ff1b5b3331' AS TEXT) WHERE id = ?", (other,))
    con.close()
    jobs = read_jobs(Target(f"sqlite:///{db}")).jobs
    assert len(jobs) == len(manifest["ids"])
    by_id = {j.id: j for j in jobs}
    assert by_id[cast_id].finding is not None and by_id[cast_id].finding.code == "bad-type"
    odd = by_id["job\udcff\x1b[31"]  # the bytes kept as they are (lone surrogate), never guessed
    assert odd.finding is None and any(n.code == "id-mismatch" for n in odd.notes)
    assert sum(j.finding is None for j in jobs) == len(jobs) - 1
    for argv in (["check", "--detailed"], ["jobs", "--json"], ["jobs"]):
        with pytest.raises(SystemExit) as info:
            main([*argv, "--url", f"sqlite:///{db}"])
        out, err = capsys.readouterr()
        assert info.value.code in (0, 1, 2), (argv, info.value.code, err)
        assert "\x1b" not in out + err and "\udcff" not in out + err, argv
        assert "Traceback" not in err and "database error" not in err, argv
        if argv == ["jobs", "--json"]:
            listed = {j["id"]: j for j in json.loads(out)["jobs"]}
            assert listed[cast_id]["state"] == "undecodable" and "job\udcff\x1b[31" in listed  # escaped in the text


def test_the_fast_first_read_knows_sqlite3s_own_utf8_error(tmp_path: Path) -> None:
    """The first read of a SQLite file lets sqlite3 decode TEXT (in C) and starts again with
    the tolerant factory only on sqlite3's own "not UTF-8" error: that error must be
    recognised as such (a Python whose sqlite3 words it differently would fail every read of
    such a store), and no other error may be taken for it."""
    from schedtui.core.store import sqlite_light

    db = tmp_path / "t.sqlite"
    con = sqlite3.connect(db)
    with con:
        con.execute("CREATE TABLE t (id TEXT)")
        con.execute("INSERT INTO t VALUES (CAST(x'6a6f62ff' AS TEXT))")
    with pytest.raises(sqlite3.OperationalError) as info:
        con.execute("SELECT id FROM t").fetchall()
    assert sqlite_light.is_text_error(info.value)
    with pytest.raises(sqlite3.OperationalError) as other:
        con.execute("SELECT nothing FROM t")
    assert not sqlite_light.is_text_error(other.value)
    assert not sqlite_light.is_text_error(ValueError("Could not decode to UTF-8"))
    tolerant = sqlite_light.open_readonly(db)
    assert tolerant.execute("SELECT id FROM t").fetchall() == [("job\udcff",)]
    con.close()
    tolerant.close()
