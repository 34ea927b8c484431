"""The incremental reader: decode only what changed, keep the order, notice replaced files."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from fixtures.factory import DEFAULT_NOW, sqlite_store
from schedtui.core.clock import FixedClock
from schedtui.core.model import Target
from schedtui.core.store import reader as store_mod
from schedtui.core.store.reader import FULL_SCAN_EVERY, JobStoreReader, sort_key

FROZEN_NOW = datetime.fromisoformat(DEFAULT_NOW)


def _reader(path: Path) -> JobStoreReader:
    return JobStoreReader(Target(url=f"sqlite:///{path}"), clock=FixedClock(FROZEN_NOW))


def _assert_sorted(jobs) -> None:
    keys = [sort_key(j) for j in jobs]
    assert keys == sorted(keys)


def test_unchanged_database_returns_the_same_snapshot_jobs(tmp_path: Path) -> None:
    path, manifest = sqlite_store(tmp_path, "catalog")
    reader = _reader(path)
    first = reader.read()
    assert len(first.jobs) == len(manifest["jobs"])
    _assert_sorted(first.jobs)
    second = reader.read()
    assert second.jobs is first.jobs  # data_version unchanged: nothing was read again
    reader.close()


def test_a_write_to_another_table_decodes_nothing(tmp_path: Path) -> None:
    path, _ = sqlite_store(tmp_path, "catalog")
    reader = _reader(path)
    first = reader.read()
    with sqlite3.connect(path) as conn:  # like the companion's heartbeat: another table
        conn.execute("create table if not exists other (x)")
        conn.execute("insert into other values (1)")
    for full in (False, True):
        reader._scans = store_mod.FULL_SCAN_EVERY - 1 if full else 0
        again = reader.read()
        assert again.jobs is first.jobs, "no row changed: the previous tuple is reused"
        with sqlite3.connect(path) as conn:
            conn.execute("insert into other values (2)")
    reader.close()


def test_changed_rows_are_decoded_again_and_reordered(tmp_path: Path) -> None:
    from schedtui.core import control

    path, manifest = sqlite_store(tmp_path, "seed")
    target = Target(url=f"sqlite:///{path}")
    reader = _reader(path)
    first = {j.id: j for j in reader.read().jobs}
    result = control.submit(target, "cleanup_temp", "pause", clock=FixedClock(FROZEN_NOW))
    assert result.status == "applied", result.message
    second = reader.read()
    by_id = {j.id: j for j in second.jobs}
    assert by_id["cleanup_temp"].paused and not first["cleanup_temp"].paused
    assert by_id["database_backup"] is first["database_backup"], "unchanged rows are not decoded again"
    assert second.jobs[-1].id == "cleanup_temp", "paused jobs sort last"
    _assert_sorted(second.jobs)
    with sqlite3.connect(path) as conn:
        conn.execute("delete from apscheduler_jobs where id = 'report_gen'")
    third = reader.read()
    assert [j.id for j in third.jobs] == ["database_backup", "cleanup_temp"]
    reader.close()


def test_a_replaced_file_is_read_from_scratch(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    seed, _ = sqlite_store(tmp_path / "a", "seed")
    catalog, manifest = sqlite_store(tmp_path / "b", "catalog")
    live = tmp_path / "live.sqlite"
    shutil.copyfile(seed, live)
    reader = _reader(live)
    assert len(reader.read().jobs) == 3
    tmp = tmp_path / "incoming.sqlite"
    shutil.copyfile(catalog, tmp)
    tmp.replace(live)  # what a restore does: a new file under the same name
    assert len(reader.read().jobs) == len(manifest["jobs"])
    live.unlink()
    try:
        reader.read()
    except Exception as exc:
        assert "not found" in str(exc)
    else:
        raise AssertionError("a vanished file must be reported")
    reader.close()


def test_a_same_size_change_at_the_same_time_is_found_by_the_full_scan(tmp_path: Path) -> None:
    """Neither next_run_time nor the size moves (a renamed job, same length): the quick scan
    cannot see it, the periodic full scan's digest does (at a later write: a scan starts
    only when the database changed)."""
    path, _ = sqlite_store(tmp_path, "seed")
    reader = _reader(path)
    first = {j.id: j for j in reader.read().jobs}
    job = next(j for j in first.values() if j.name and len(j.name) >= 4)
    assert job.name is not None
    renamed = job.name[:-1] + ("X" if job.name[-1] != "X" else "Y")
    with sqlite3.connect(path) as conn:
        (state,) = conn.execute("select job_state from apscheduler_jobs where id = ?", (job.id,)).fetchone()
        new = state.replace(job.name.encode(), renamed.encode(), 1)
        assert new != state and len(new) == len(state)
        conn.execute("update apscheduler_jobs set job_state = ? where id = ?", (new, job.id))
    reader._scans = 0
    quick = {j.id: j for j in reader.read().jobs}
    assert quick[job.id].name == job.name  # the quick scan compares times and sizes only
    with sqlite3.connect(path) as conn:  # the next write anywhere (a heartbeat) starts a scan
        conn.execute("create table if not exists other (x)")
    reader._scans = store_mod.FULL_SCAN_EVERY - 1
    full = {j.id: j for j in reader.read().jobs}
    assert full[job.id].name == renamed
    assert all(full[i] is first[i] for i in first if i != job.id)
    reader.close()


def test_a_microsecond_move_of_one_row_is_seen_at_once(tmp_path: Path) -> None:
    """The quick aggregate must not round a small move away (float sums of many large
    timestamps do): moving one row's next_run_time by 1 us is a change at the next read."""
    path, _ = sqlite_store(tmp_path, "catalog")
    with sqlite3.connect(path) as conn:  # many rows with large times: the float sums' step is coarse
        rows = conn.execute("select job_state from apscheduler_jobs limit 1").fetchone()
        conn.executemany(
            "insert into apscheduler_jobs (id, next_run_time, job_state) values (?, ?, ?)",
            [(f"filler-{i:05d}", 4.0e11 + i, rows[0]) for i in range(3000)],
        )
    reader = _reader(path)
    first = reader.read()
    with sqlite3.connect(path) as conn:  # a heartbeat: the aggregate is taken and matches
        conn.execute("create table if not exists other (x)")
    reader._scans = 0
    assert reader.read().jobs is first.jobs
    with sqlite3.connect(path) as conn:
        (jid, nrt) = conn.execute(
            "select id, next_run_time from apscheduler_jobs where next_run_time is not null "
            "and id not like 'filler-%' limit 1"
        ).fetchone()
        conn.execute("update apscheduler_jobs set next_run_time = ? where id = ?", (nrt + 1e-6, jid))
    reader._scans = 0  # the quick scan, not the periodic full one
    again = reader.read()
    assert again.jobs is not first.jobs
    before = next(j for j in first.jobs if j.id == jid)
    after = next(j for j in again.jobs if j.id == jid)
    assert after is not before, "the moved row is read and decoded again"
    reader.close()


def _seen(jobs) -> list[tuple[object, ...]]:
    """What a read shows of each job, instants as UTC microseconds with fold (not ``==``)."""
    from schedtui.core.jobtable import instant_us

    return [
        (
            j.id,
            None if j.next_run_time is None else (instant_us(j.next_run_time), j.next_run_time.fold),
            j.state_size,
            j.name,
        )
        for j in jobs
    ]


def test_quick_reads_through_moves_deletes_and_inserts_equal_a_fresh_read(tmp_path: Path) -> None:
    """The quick scan's position-by-position comparison with the last scan, its set
    difference and its count of vanished rows: after each random batch of writes (times
    moved, rows deleted, rows added, a delete and an insert in one commit) the incremental
    reader shows exactly what a new reader shows."""
    import random

    path, _ = sqlite_store(tmp_path, "catalog")
    with sqlite3.connect(path) as conn:
        states = [r[0] for r in conn.execute("select job_state from apscheduler_jobs")]
    reader = _reader(path)
    reader.read()
    rng = random.Random(20261203)
    serial = 0
    for step in range(12):
        with sqlite3.connect(path) as conn:
            ids = [r[0] for r in conn.execute("select id from apscheduler_jobs where next_run_time is not null")]
            for jid in rng.sample(ids, min(len(ids), rng.randint(1, 4))):
                conn.execute(
                    "update apscheduler_jobs set next_run_time = next_run_time + ? where id = ?",
                    (rng.choice([1, 1e-6, -30]), jid),
                )
            if step % 3 == 1:  # one row out, one in: the same count
                conn.execute("delete from apscheduler_jobs where id = ?", (rng.choice(ids),))
            if step % 2 == 0 or step % 3 == 1:
                serial += 1
                conn.execute(
                    "insert into apscheduler_jobs (id, next_run_time, job_state) values (?, ?, ?)",
                    (f"added-{serial}", 1.9e9 + serial, rng.choice(states)),
                )
            if step % 4 == 3:
                conn.execute("delete from apscheduler_jobs where id = ?", (rng.choice(ids),))
        reader._scans = 0  # the quick scan every time
        got = reader.read().jobs
        fresh = _reader(path)
        assert _seen(got) == _seen(fresh.read().jobs), step
        fresh.close()
    reader.close()


def test_a_row_changed_between_the_scan_and_the_fetch_and_back_is_read_again(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A row moves (A -> B), the quick scan sees B, the scheduler moves it again (C) while
    the read is under way, then back to B: neither the aggregate nor the last scan may
    describe another version of the row than the one decoded (the read's queries share
    one snapshot), so the last read shows B."""
    import threading

    path, _ = sqlite_store(tmp_path, "catalog")
    reader = _reader(path)
    reader.read()
    with sqlite3.connect(path) as conn:
        (jid, nrt) = conn.execute(
            "select id, next_run_time from apscheduler_jobs where next_run_time is not null limit 1"
        ).fetchone()
        conn.execute("update apscheduler_jobs set next_run_time = ? where id = ?", (nrt + 60, jid))
    fetch = reader._fetch_sqlite

    writers: list[threading.Thread] = []

    def write_c() -> None:
        with sqlite3.connect(path, timeout=30) as other:
            other.execute("update apscheduler_jobs set next_run_time = ? where id = ?", (nrt + 120, jid))

    def moved_meanwhile(conn, table, ids):  # type: ignore[no-untyped-def]
        # the scheduler commits C now (a rollback journal makes it wait for the read's
        # snapshot to end; WAL does not)
        writers.append(threading.Thread(target=write_c))
        writers[0].start()
        writers[0].join(0.2)
        return fetch(conn, table, ids)

    monkeypatch.setattr(reader, "_fetch_sqlite", moved_meanwhile)
    reader._scans = 0
    reader.read()
    writers[0].join(30)
    assert not writers[0].is_alive()
    monkeypatch.setattr(reader, "_fetch_sqlite", fetch)
    with sqlite3.connect(path) as conn:
        conn.execute("update apscheduler_jobs set next_run_time = ? where id = ?", (nrt + 60, jid))
    reader._scans = 0
    got = reader.read().jobs
    fresh = _reader(path)
    assert _seen(got) == _seen(fresh.read().jobs)
    fresh.close()
    reader.close()


def test_rowid_ranges_through_growth_renumbering_and_deletes_equal_a_fresh_read(tmp_path: Path) -> None:
    """The refresh scans again only the rowid ranges whose aggregate changed
    (``store.buckets``). Over a table of many ranges with sparse rowids, after each random
    batch (times moved, rows added at the end until the last range is cut, a row's rowid
    changed, an id deleted and inserted again, many rows deleted, ``VACUUM`` renumbering
    the rowids) the incremental reader shows exactly what a new reader shows."""
    import random

    from schedtui.core.store import buckets

    path, _ = sqlite_store(tmp_path, "catalog")
    with sqlite3.connect(path) as conn:
        states = [r[0] for r in conn.execute("select job_state from apscheduler_jobs")]
        conn.executemany(  # sparse rowids: ranges are cut by rows, not by rowid values
            "insert into apscheduler_jobs (rowid, id, next_run_time, job_state) values (?, ?, ?, ?)",
            [(10_000 + i * 7_919, f"filler-{i:05d}", 1.8e9 + i, states[i % len(states)]) for i in range(3000)],
        )
    reader = _reader(path)
    reader.read()
    rng = random.Random(20261203)
    serial = 0
    ranges: list[int | None] = []
    for step in range(17):
        with sqlite3.connect(path) as conn:
            ids = [r[0] for r in conn.execute("select id from apscheduler_jobs where next_run_time is not null")]
            for jid in rng.sample(ids, 5):
                conn.execute(
                    "update apscheduler_jobs set next_run_time = next_run_time + ? where id = ?",
                    (rng.choice([1, 1e-6, -30]), jid),
                )
            if step % 4 == 1:  # appended rows: the last range grows past its split size
                rows = []
                for _ in range(buckets.SPLIT + 10):
                    serial += 1
                    rows.append((f"added-{serial}", 1.9e9 + serial, rng.choice(states)))
                conn.executemany("insert into apscheduler_jobs (id, next_run_time, job_state) values (?, ?, ?)", rows)
            if step % 4 == 2:  # a row moves to the first range (a negative rowid); an id deleted and inserted again
                jid = rng.choice(ids)
                conn.execute("update apscheduler_jobs set rowid = -rowid - 1 where id = ? and rowid > 0", (jid,))
                jid = rng.choice(ids)
                row = conn.execute("select * from apscheduler_jobs where id = ?", (jid,)).fetchone()
                conn.execute("delete from apscheduler_jobs where id = ?", (jid,))
                conn.execute("insert into apscheduler_jobs (id, next_run_time, job_state) values (?, ?, ?)", row)
            if step % 4 == 3:  # many rows gone
                conn.execute("delete from apscheduler_jobs where rowid % 5 = ?", (step % 5,))
        if step == 11:
            with sqlite3.connect(path) as conn:
                conn.execute("vacuum")
        reader._scans = 1  # never the periodic full scan
        got = reader.read().jobs
        fresh = _reader(path)
        assert _seen(got) == _seen(fresh.read().jobs), step
        ranges.append(None if reader._buckets is None else len(reader._buckets.lows))
        fresh.close()
    # the refreshes went by ranges; the grown last range was cut; after the deletes left
    # too many ranges for the rows, the whole table was scanned and cut again
    assert ranges[0] is not None and ranges[1] is not None and ranges[1] > ranges[0]
    assert ranges[15] is None and ranges[16] is not None and ranges[16] < ranges[0]
    reader.close()


@pytest.mark.parametrize("kind", ["view", "without-rowid"])
def test_a_table_without_usable_rowids_is_refreshed_by_whole_scans(tmp_path: Path, kind: str) -> None:
    """A view (its rowids are NULL) or a ``WITHOUT ROWID`` table cannot be cut into rowid
    ranges: every refresh compares the whole table instead, and still sees each change."""
    path, _ = sqlite_store(tmp_path, "catalog")
    with sqlite3.connect(path) as conn:
        if kind == "view":
            conn.execute("create view jobs as select * from apscheduler_jobs")
            base = "apscheduler_jobs"
        else:
            conn.execute(
                "create table jobs (id varchar(191) primary key, next_run_time float, job_state blob not null) "
                "without rowid"
            )
            conn.execute("insert into jobs select id, next_run_time, job_state from apscheduler_jobs")
            base = "jobs"
    target = Target(url=f"sqlite:///{path}", table="jobs")
    reader = JobStoreReader(target, clock=FixedClock(FROZEN_NOW))
    reader.read()
    for step in range(3):
        with sqlite3.connect(path) as conn:
            jid = conn.execute(f"select id from {base} where next_run_time is not null order by id").fetchall()[step][0]
            conn.execute(f"update {base} set next_run_time = next_run_time + 60 where id = ?", (jid,))
        reader._scans = 1  # never the periodic full scan
        got = reader.read().jobs
        fresh = JobStoreReader(target, clock=FixedClock(FROZEN_NOW))
        assert _seen(got) == _seen(fresh.read().jobs), step
        fresh.close()
        assert reader._buckets is None
    reader.close()


def test_server_refreshes_through_moves_deletes_and_inserts_equal_a_fresh_read(server_url: str) -> None:
    """PostgreSQL and MariaDB: a refresh asks the server for one aggregate first, then for
    every row's time and size, and every 10th for every row's md5. After each random batch
    (times moved by 1 s or 1 us, a pause, rows deleted and added, a same-size rewrite that
    only the md5 read sees) the incremental reader shows exactly what a new reader shows,
    and a refresh with nothing changed decodes nothing."""
    import random

    import sqlalchemy as sa

    from fixtures.factory import make_store

    make_store(server_url, "catalog")
    engine = sa.create_engine(server_url)
    with engine.connect() as conn:
        states = [bytes(r[0]) for r in conn.execute(sa.text("select job_state from apscheduler_jobs"))]
    target = Target(url=server_url)
    reader = JobStoreReader(target, clock=FixedClock(FROZEN_NOW))
    first = reader.read().jobs
    assert reader.read().jobs is first  # nothing changed: the aggregate answers
    rng = random.Random(20261203)
    serial = 0
    try:
        for step in range(12):
            with engine.begin() as conn:
                ids = [r[0] for r in conn.execute(sa.text("select id from apscheduler_jobs order by id"))]
                live = [
                    r[0]
                    for r in conn.execute(
                        sa.text("select id from apscheduler_jobs where next_run_time is not null order by id")
                    )
                ]
                for jid in rng.sample(live, min(len(live), 3)):
                    conn.execute(
                        sa.text("update apscheduler_jobs set next_run_time = next_run_time + :d where id = :id"),
                        {"d": rng.choice([1, 1e-6, -30]), "id": jid},
                    )
                if step % 4 == 1:
                    conn.execute(
                        sa.text("update apscheduler_jobs set next_run_time = null where id = :id"), {"id": live[0]}
                    )
                if step % 3 == 1:
                    conn.execute(sa.text("delete from apscheduler_jobs where id = :id"), {"id": rng.choice(ids)})
                if step % 2 == 0:
                    serial += 1
                    conn.execute(
                        sa.text("insert into apscheduler_jobs (id, next_run_time, job_state) values (:i, :n, :s)"),
                        {"i": f"added-{serial}", "n": 1.9e9 + serial, "s": rng.choice(states)},
                    )
            reader._scans = FULL_SCAN_EVERY - 1 if step == 9 else 1
            if step == 9:  # same size, same time, other bytes: only the md5 read sees it
                with engine.begin() as conn:
                    row = conn.execute(sa.text("select id, job_state from apscheduler_jobs order by id")).first()
                    assert row is not None
                    data = bytes(row[1])
                    other = data[:-1] + bytes([data[-1] ^ 1])  # the STOP opcode changed
                    conn.execute(
                        sa.text("update apscheduler_jobs set job_state = :s where id = :id"), {"s": other, "id": row[0]}
                    )
            got = reader.read().jobs
            fresh = JobStoreReader(target, clock=FixedClock(FROZEN_NOW))
            assert _seen(got) == _seen(fresh.read().jobs), step
            assert [(j.id, j.finding) for j in got] == [(j.id, j.finding) for j in fresh.read().jobs], step
            fresh.close()
    finally:
        reader.close()
        engine.dispose()
