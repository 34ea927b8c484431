"""The repeated-probe cache: a second one-shot read decodes only what changed, with the
same answer, from an owner-only file that is ignored when anything about it is off."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from schedtui.core.decode import cache as _decode_cache
from schedtui.core.decode import wire as _wire
from schedtui.core.model import Target
from schedtui.core.store.reader import JobStoreReader
from tests.fixtures.factory import sqlite_store


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCHEDTUI_DECODE_CACHE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "schedtui"


def _read(path: Path) -> tuple:
    reader = JobStoreReader(Target(url=f"sqlite:///{path}"), incremental=False)
    try:
        return reader.read().jobs
    finally:
        reader.close()


def _exact(jobs: tuple) -> list[bytes]:
    """Every job as its wire record minus marshal's reference flags: fold and zone included."""
    from schedtui.core.model import JobInfo

    out = []
    for j in jobs:
        assert type(j) is JobInfo
        out.append(repr(_wire.values(_wire.encode(tuple(getattr(j, f) for f in _FIELDS)))).encode())
    return out


_FIELDS = (
    "id", "next_run_time", "state_size", "finding", "name", "func", "trigger", "executor", "args_repr",
    "kwargs_repr", "misfire_grace_time", "coalesce", "max_instances", "state_next_run_time", "notes", "protocol",
)  # fmt: skip


def test_a_repeated_read_comes_from_the_cache_with_the_same_answer(
    tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = sqlite_store(tmp_path, "catalog")
    first = _read(path)
    files = list(cache_home.glob("*.decoded"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(cache_home.stat().st_mode) == 0o700
    sent: list[int] = []
    real = _decode_cache.DecodeCache.get

    def counting(self: _decode_cache.DecodeCache, key: bytes) -> bytes | None:
        found = real(self, key)
        sent.append(found is None)
        return found

    monkeypatch.setattr(_decode_cache.DecodeCache, "get", counting)
    second = _read(path)
    assert _exact(second) == _exact(first)
    assert sum(sent) == 0, "every row came from the cache"
    # change one row: only it is decoded again
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE apscheduler_jobs SET next_run_time = next_run_time + 1 WHERE rowid = 1")
    sent.clear()
    third = _read(path)
    assert sum(sent) == 1
    assert len(third) == len(first)


def test_a_cache_file_that_is_off_is_ignored(tmp_path: Path, cache_home: Path) -> None:
    path, _ = sqlite_store(tmp_path, "catalog")
    first = _exact(_read(path))
    (f,) = cache_home.glob("*.decoded")
    f.write_bytes(b"\x00not marshal")
    os.chmod(f, 0o600)
    assert _exact(_read(path)) == first
    os.chmod(f, 0o644)  # readable by others: not ours to trust
    assert not _decode_cache.DecodeCache(f).warm
    _read(path)  # a good file again
    assert _decode_cache.DecodeCache(f).warm
    data = f.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = _wire.marshal.loads(data[8 : 8 + size])
    other = _wire.marshal.dumps((header[0] + 1, *header[1:]), 4)
    f.write_bytes(len(other).to_bytes(8, "little") + other + data[8 + size :])
    os.chmod(f, 0o600)
    assert not _decode_cache.DecodeCache(f).warm, "another format: rebuilt"
    f.write_bytes(data[: len(data) - 5])  # a torn last frame: the header alone is left
    assert not _decode_cache.DecodeCache(f).warm


def test_off_switch(tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDTUI_DECODE_CACHE", "0")
    path, _ = sqlite_store(tmp_path, "catalog")
    _read(path)
    assert not cache_home.exists() or not list(cache_home.glob("*.decoded"))


def _read_lite(path: Path, reprs: bool) -> tuple:
    reader = JobStoreReader(Target(url=f"sqlite:///{path}"), incremental=False, reprs=reprs)
    try:
        return reader.read().jobs
    finally:
        reader.close()


def _without_reprs(jobs: tuple) -> list[tuple]:
    """The jobs' fields with args/kwargs left out (the rest must not depend on ``reprs``)."""
    skip = {_FIELDS.index("args_repr"), _FIELDS.index("kwargs_repr")}
    return [
        tuple(
            v for i, v in enumerate(_wire.values(_wire.encode(tuple(getattr(j, f) for f in _FIELDS)))) if i not in skip
        )
        for j in jobs
    ]


def test_reads_without_reprs_never_hand_their_records_to_reads_with_them(tmp_path: Path, cache_home: Path) -> None:
    from schedtui.core.model import NOT_RENDERED

    path, _ = sqlite_store(tmp_path, "catalog")
    lite = _read_lite(path, reprs=False)
    decoded = [j for j in lite if j.finding is None]
    assert decoded and all(j.args_repr == j.kwargs_repr == NOT_RENDERED for j in decoded)
    full = _read_lite(path, reprs=True)  # the cache holds records without reprs: decoded again
    assert all(j.args_repr != NOT_RENDERED and j.kwargs_repr != NOT_RENDERED for j in full)
    assert _without_reprs(lite) == _without_reprs(full), "reprs change nothing else"
    again = _read_lite(path, reprs=False)  # records with reprs answer a read without them
    assert _exact(again) == _exact(full)
    cold_full = _read(path)
    assert _exact(cold_full) == _exact(full)


def _read_lazy(path: Path) -> tuple:
    reader = JobStoreReader(Target(url=f"sqlite:///{path}"), incremental=False, reprs=False, lazy=True)
    try:
        jobs = reader.read().jobs
        return tuple(jobs)
    finally:
        reader.close()


def test_the_file_is_kept_when_nothing_changed_and_grows_by_a_chunk_when_rows_did(
    tmp_path: Path, cache_home: Path
) -> None:
    path, _ = sqlite_store(tmp_path, "catalog")
    cold = _exact(_read_lazy(path))
    (f,) = cache_home.glob("*.decoded")
    before = f.stat()
    assert _exact(_read_lazy(path)) == cold
    after = f.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE apscheduler_jobs SET next_run_time = next_run_time + 1 WHERE rowid = 1")
    changed = _exact(_read_lazy(path))
    grown = f.stat()
    assert grown.st_ino == before.st_ino and grown.st_size > before.st_size, "one chunk appended"
    assert changed != cold and len(changed) == len(cold)
    assert _exact(_read_lazy(path)) == changed == _exact(_read_lite(path, reprs=False))
    # an eager read with reprs sees the lazy reads' records without reprs: decoded again
    assert all(j.args_repr != "" for j in _read_lite(path, reprs=True) if j.finding is None)


def test_lazy_reads_from_the_cache_are_the_cold_answer(
    tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = sqlite_store(tmp_path, "catalog")
    monkeypatch.setenv("SCHEDTUI_DECODE_CACHE", "0")
    reference = _exact(_read(path))
    lite = _exact(_read_lite(path, reprs=False))
    monkeypatch.setenv("SCHEDTUI_DECODE_CACHE", "1")
    assert _exact(_read_lazy(path)) == lite  # cold, written to the cache
    assert _exact(_read_lazy(path)) == lite  # every row from the cache
    assert _exact(_read(path)) == reference
    # the eager read's entries (reprs, no head) serve a lazy read too, as they serve any read without reprs
    assert _exact(_read_lazy(path)) == reference


def _server_probe(url: str, *, lazy: bool, reprs: bool = False) -> tuple:
    reader = JobStoreReader(Target(url=url), incremental=False, reprs=reprs, lazy=lazy)
    try:
        return tuple(reader.read().jobs)
    finally:
        reader.close()


@pytest.mark.parametrize(
    "server", [pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("mysql", marks=pytest.mark.mysql)]
)
def test_a_repeated_probe_on_a_server_fetches_only_the_rows_the_cache_lacks(
    server: str, request: pytest.FixtureRequest, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server sends each row's SHA-256; only new or changed rows' bytes are fetched, and
    the answer is the cold read's, lazily and eagerly."""
    import sqlalchemy as sa

    from fixtures.factory import make_store

    url = request.getfixturevalue("pg_url" if server == "postgres" else "mysql_url")
    make_store(url, "catalog")
    monkeypatch.setenv("SCHEDTUI_DECODE_CACHE", "0")
    cold_lazy = _exact(_server_probe(url, lazy=True))
    cold_eager = _exact(_server_probe(url, lazy=False, reprs=True))
    monkeypatch.setenv("SCHEDTUI_DECODE_CACHE", "1")
    assert _exact(_server_probe(url, lazy=True)) == cold_lazy  # cold: every row read and cached
    fetched: list[int] = []
    real = JobStoreReader._rows_by_id

    def counting(self: JobStoreReader, conn: object, table: str, nrt: str, ids: list[str]) -> object:
        fetched.append(len(ids))
        return real(self, conn, table, nrt, ids)

    monkeypatch.setattr(JobStoreReader, "_rows_by_id", counting)
    assert _exact(_server_probe(url, lazy=True)) == cold_lazy
    assert sum(fetched) == 0, "every row answered from its digest"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        victim = conn.exec_driver_sql("SELECT id FROM apscheduler_jobs WHERE next_run_time IS NOT NULL").first()[0]
        conn.exec_driver_sql(
            "UPDATE apscheduler_jobs SET next_run_time = next_run_time + 1 WHERE id = %(id)s", {"id": victim}
        )
    engine.dispose()
    changed = _exact(_server_probe(url, lazy=True))
    assert sum(fetched) == 1 and changed != cold_lazy and len(changed) == len(cold_lazy)
    monkeypatch.setenv("SCHEDTUI_DECODE_CACHE", "0")
    assert changed == _exact(_server_probe(url, lazy=True)), "the warm read is the cold read of the changed store"
    monkeypatch.setenv("SCHEDTUI_DECODE_CACHE", "1")
    assert _exact(_server_probe(url, lazy=False, reprs=True)) != cold_eager  # decoded again with reprs
    fetched.clear()
    assert len(_server_probe(url, lazy=False, reprs=True)) == len(cold_eager) and sum(fetched) == 0


@pytest.mark.parametrize(
    "server", [pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("mysql", marks=pytest.mark.mysql)]
)
def test_a_server_without_the_digest_function_reads_every_row_with_the_cache_loaded_once(
    server: str, request: pytest.FixtureRequest, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm cache, and the server cannot compute SHA-256 (our SQL names a function it
    lacks): every row is fetched, answered from the cache file, which is read once."""
    from fixtures.factory import make_store
    from schedtui.core.store import place

    url = request.getfixturevalue("pg_url" if server == "postgres" else "mysql_url")
    make_store(url, "catalog")
    monkeypatch.setenv("SCHEDTUI_DECODE_CACHE", "0")
    cold = _exact(_server_probe(url, lazy=True))
    monkeypatch.setenv("SCHEDTUI_DECODE_CACHE", "1")
    assert _exact(_server_probe(url, lazy=True)) == cold  # warms the cache
    family = place.Family.POSTGRESQL if server == "postgres" else place.Family.MYSQL
    monkeypatch.setitem(place._SHA256_SQL, family, "schedtui_no_such_function(job_state)")
    loads: list[Path] = []
    probed: list[object] = []
    misses: list[bool] = []
    real_load, real_get, real_probe = (
        _decode_cache.DecodeCache._load,
        _decode_cache.DecodeCache.get,
        JobStoreReader._probe_generic,
    )

    def load(self: _decode_cache.DecodeCache) -> object:
        loads.append(self.path)
        return real_load(self)

    def get(self: _decode_cache.DecodeCache, key: bytes) -> object:
        found = real_get(self, key)
        misses.append(found is None)
        return found

    def probe(self: JobStoreReader, *args: object) -> object:
        result = real_probe(self, *args)  # type: ignore[arg-type]
        probed.append(result)
        return result

    real_lookup = _decode_cache.DecodeCache.lookup

    def lookup(self: _decode_cache.DecodeCache, keys: list[object]) -> tuple[list[int], list[int]]:
        hits, lacking = real_lookup(self, keys)
        misses.extend([False] * len(hits) + [True] * len(lacking))
        return hits, lacking

    monkeypatch.setattr(_decode_cache.DecodeCache, "_load", load)
    monkeypatch.setattr(_decode_cache.DecodeCache, "get", get)
    monkeypatch.setattr(_decode_cache.DecodeCache, "lookup", lookup)
    monkeypatch.setattr(JobStoreReader, "_probe_generic", probe)
    assert _exact(_server_probe(url, lazy=True)) == cold
    assert [jobs for jobs, _cache in probed] == [None], "the digest query was tried and failed"
    assert len(loads) == 1, f"the cache file was read {len(loads)} times"
    assert misses and not any(misses), "every row answered from the cache the probe loaded"


def test_keys_in_bulk_are_each_rows_key_and_tell_every_column_apart() -> None:
    """``row_keys`` (C-level over the columns) gives ``row_key`` of each row; ids, columns
    (None, 0.0 and -0.0, NaN, 1 and 1.0) and bytes all make keys of their own."""
    nan = float("nan")
    usual = [
        ("a", 1.5, b"x"), ("a", None, b"x"), ("a", 0.0, b"x"), ("a", -0.0, b"x"), ("a", nan, b"x"),
        ("a", 1.0, b"x"), ("b", 1.5, b"x"), ("a", 1.5, b"y"),
    ]  # fmt: skip
    odd = [("a", 1, b"x"), (1, 1.5, b"x"), ("a", 1.5, "x"), ("a", 1.5, bytearray(b"x"))]
    for rows in (usual, usual + odd):
        keys = _decode_cache.row_keys(rows)
        assert keys == [_decode_cache.row_key(r) for r in rows]
        assert len(set(keys)) == len(rows), "no two rows share a key"
    assert _decode_cache.row_keys([("a", nan, b"x")]) == _decode_cache.row_keys([("a", float("nan"), b"x")])
    # what a server sends for a repeated probe: (id, column, SHA-256), in bulk as one by one
    sent = [(r[0], r[1], hashlib.sha256(r[2]).digest()) for r in usual]
    assert _decode_cache.digest_keys(sent) == [_decode_cache.row_key(r) for r in usual]
    odd_sent = [*sent, ("a", 1, sent[0][2]), ("a", 1.5, b"short"), (1, 1.5, sent[0][2]), ("a", 1.5, None)]
    assert _decode_cache.digest_keys(odd_sent) == [_decode_cache.row_key(r) for r in usual] + [b""] * 4


def test_a_chunk_that_is_not_what_the_cache_writes_ends_the_file_there(tmp_path: Path, cache_home: Path) -> None:
    path, _ = sqlite_store(tmp_path, "catalog")
    first = _exact(_read_lazy(path))
    (f,) = cache_home.glob("*.decoded")
    good = _decode_cache.DecodeCache(f)
    n = len(good.ids)
    assert n and good.warm
    key = ("x", 1.0, bytes(32))
    one = bytes(8)
    length = (1).to_bytes(8, "little")
    bad_runs = [  # (columns, the records' bytes)
        (((key,), length, ("x",), one, one, b"\x80"), b"r"),  # flags no head has
        (((key,), length, ("x",), bytes(4), one, b"\x00"), b"r"),  # a column cut short
        (((key,), length, ("x",), one, one, b"\x00"), b"rr"),  # records longer than their lengths
        (((key,), (-1).to_bytes(8, "little", signed=True), ("x",), one, one, b"\x00"), b""),  # a negative length
        (((key,), length, (1,), one, one, b"\x00"), b"r"),  # an id that is not a str
        ((([1],), length, ("x",), one, one, b"\x00"), b"r"),  # a key that cannot be one
    ]
    data = f.read_bytes()
    for columns, records in bad_runs:
        f.write_bytes(data + _decode_cache._frame(columns) + len(records).to_bytes(8, "little") + records)
        os.chmod(f, 0o600)
        loaded = _decode_cache.DecodeCache(f)
        assert len(loaded.ids) in (n, 0), columns
        assert key not in loaded._index
    good_run = (((key,), length, ("x",), one, one, b"\x00"), b"r")
    f.write_bytes(data + _decode_cache._frame(good_run[0]) + (1).to_bytes(8, "little") + good_run[1])
    loaded = _decode_cache.DecodeCache(f)
    assert len(loaded.ids) == n + 1 and loaded.get(key) == b"r", "the same chunk, well formed, is read"
    f.write_bytes(data + _decode_cache._frame(good_run[0]) + (2).to_bytes(8, "little") + good_run[1])
    assert len(_decode_cache.DecodeCache(f).ids) == n, "a torn chunk is left out"
    f.write_bytes(data)
    assert _exact(_read_lazy(path)) == first


def test_a_spill_that_shares_the_cache_file_never_writes_into_it(tmp_path: Path) -> None:
    from schedtui.core.jobtable import Spill

    f = tmp_path / "records"
    f.write_bytes(b"abcdef")
    with open(f, "rb") as fh:
        spill = Spill()
        assert spill.share(fh) and spill.share(fh)
        at, length = spill.append(b"new")
        assert at < 0 and spill.read(at, length) == b"new", "kept by reference"
        assert spill.read(2, 3) == b"cde"
        spill.close()
    assert f.read_bytes() == b"abcdef"
    other = Spill()
    other.append(b"x")  # a spill with a file of its own shares none
    with open(f, "rb") as fh:
        assert not other.share(fh)
    other.close()


def test_a_lazy_tables_records_outlive_the_cache_file_being_replaced(tmp_path: Path, cache_home: Path) -> None:
    path, _ = sqlite_store(tmp_path, "catalog")
    cold = _exact(_read_lazy(path))
    reader = JobStoreReader(Target(url=f"sqlite:///{path}"), incremental=False, reprs=False, lazy=True)
    try:
        table = reader.read().jobs  # from the cache file, its records still in it
    finally:
        reader.close()
    (f,) = cache_home.glob("*.decoded")
    f.unlink()
    with sqlite3.connect(path) as conn:  # every row changed: the next read writes a new file
        conn.execute("UPDATE apscheduler_jobs SET next_run_time = next_run_time + 1")
    _read_lazy(path)
    assert f.exists()
    assert _exact(tuple(table)) == cold


def test_a_warm_lazy_read_with_rows_found_here_is_the_cold_answer(
    tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows the reading process answers itself (``too-large``) among the cache's hits and
    the rows decoded again: the same table, in the same order, as without the cache."""
    from schedtui.core.decode.findings import MAX_ROW_BYTES

    path, _ = sqlite_store(tmp_path, "catalog")
    _read_lazy(path)  # warms the cache
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE apscheduler_jobs SET next_run_time = next_run_time + 1 WHERE rowid % 3 = 0")
        for i, nrt in enumerate((None, 1.0, 2e9, 2e9)):
            conn.execute(
                "INSERT INTO apscheduler_jobs (id, next_run_time, job_state) VALUES (?, ?, ?)",
                (f"big-{i}", nrt, b"\x80" * (MAX_ROW_BYTES + 1)),
            )
    warm = _read_lazy(path)
    assert sum(j.finding is not None and j.finding.code == "too-large" for j in warm) == 4
    monkeypatch.setenv("SCHEDTUI_DECODE_CACHE", "0")
    assert _exact(warm) == _exact(_read_lazy(path))
