"""Reading the jobs table: one query, every row decoded safely, nothing written.

``JobStoreReader.read()`` is incremental: after the first read it asks the database for
a digest of each row (SQLite: first ``PRAGMA data_version``, which says whether anything
was committed at all, then the aggregates of its rowid ranges, ``store.buckets``, which say
where), fetches and decodes only the rows that changed, and reuses the
decoded ``JobInfo`` of the others. One reader is used by one worker at a time (a lock
makes sure); the snapshots it returns are frozen and can go to any thread.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from schedtui.core.clock import Clock, system_clock
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.jobtable import instant_us
from schedtui.core.model import JobInfo, StorePreview, StoreSnapshot, Target
from schedtui.core.store import sqlite_light
from schedtui.core.store.buckets import Buckets
from schedtui.core.store.place import Family, Place, place_of

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

# ``schedtui.core.store.db`` (SQLAlchemy) is imported where it is needed: a plain SQLite URL is
# opened and read without it, and a large first read loads it while the decode workers run.
# One read path per family (``place.Family``): every SQLite file through sqlite3
# (``_read_sqlite``), every server through SQLAlchemy (``_read_generic``).

Row = tuple[str, float | None, bytes]
_CHUNK = 500
#: Every Nth incremental read hashes every row's content; the others compare
#: next_run_time and size only (pure C), which is what a scheduler's own writes change.
FULL_SCAN_EVERY = 10
#: Above this many changed rows the order is sorted again instead of patched.
_RESORT_ABOVE = 2000
#: Rows fetched at a time on a first read.
_BATCH = 5000
#: Rows decoded at once on a first read (bounds the raw bytes held).
_DECODE_AT_ONCE = 20_000
#: ``aps4.layout.TABLE``: the table of an APScheduler 4 data store (``--table schedules``).
APS4_TABLE = "schedules"
#: ``JobStoreReader.preview``: how many of the first rows it reads, and from how many rows
#: in the table on (a smaller table is read whole at once, without a preview).
PREVIEW_ROWS = 200
PREVIEW_ABOVE = 2000


def _digest(data: bytes | None) -> int | None:
    """What tells one SQLite row's bytes from their next version (this process only): the
    interpreter's keyed SipHash of them (a random key per process, so nobody who writes
    rows can aim for a collision; 64 bits). Ten times cheaper than BLAKE2b per row, and
    the same function runs inside SQLite (``schedtui_digest``) for the periodic full scan."""
    if data is None:
        return None
    return hash(bytes(data))


def _md5(data: bytes | None) -> str | None:
    return None if data is None else hashlib.md5(data, usedforsecurity=False).hexdigest()


class _Entry(NamedTuple):
    next_run_time: float | None
    digest: Any
    job: JobInfo


def sort_key(job: JobInfo) -> tuple[int, int, str]:
    """Due first (by the UTC instant of the next run, as the table's float column orders
    them: ``<`` between two datetimes of one zone would ignore ``fold``), paused last, then
    by id."""
    nrt = job.next_run_time
    return (1, 0, job.id) if nrt is None else (0, instant_us(nrt), job.id)


def _instant(job: JobInfo) -> int:
    return instant_us(job.next_run_time)  # type: ignore[arg-type]  # active jobs only


def sorted_jobs(jobs: list[JobInfo]) -> tuple[JobInfo, ...]:
    """``jobs`` in ``sort_key`` order (two stable sorts: fast on 100,000 jobs)."""
    jobs.sort(key=_BY_ID)
    active = [j for j in jobs if j.next_run_time is not None]
    active.sort(key=_instant)
    if len(active) == len(jobs):
        return tuple(active)
    return (*active, *(j for j in jobs if j.next_run_time is None))


_BY_ID = attrgetter("id")


def _rowids(conn: sqlite3.Connection, table: str) -> list[int] | None:
    """The table's rowids in order, or None when it has none to cut ranges by (a view's
    are NULL; a ``WITHOUT ROWID`` table has none): then each refresh scans the whole table."""
    try:
        rowids = [r[0] for r in conn.execute(f"SELECT rowid FROM {table} ORDER BY rowid").fetchall()]
    except sqlite3.Error:
        return None
    if not all(type(r) is int for r in rowids) or any(a >= b for a, b in zip(rowids, rowids[1:])):
        return None
    return rowids


def _driver_rows(conn: Any, sql: str, *, binary: bool = False) -> list[Any]:
    """Every row of ``sql`` (no parameters) as the driver's tuples, in ``conn``'s transaction:
    100,000 rows without a SQLAlchemy ``Row`` each. ``binary``: ask psycopg for results in
    PostgreSQL's binary format (a ``bytea`` then arrives as its bytes, not as hex text to
    decode: ~40 ms less for 100,000 SHA-256 digests); another driver answers as usual."""
    cur = None
    if binary:
        with contextlib.suppress(TypeError):
            cur = conn.connection.driver_connection.cursor(binary=True)
    if cur is None:
        cur = conn.connection.cursor()
    try:
        cur.execute(sql)
        return list(map(tuple, cur.fetchall()))
    finally:
        cur.close()


def _translate(exc: BaseException, target: Target) -> SchedtuiError:
    from schedtui.core.store.db import translate_error

    return translate_error(exc, target)


def _load_sqlalchemy() -> None:
    """Run while the decode workers are busy: the engine that comes next needs SQLAlchemy."""
    import schedtui.core.store.db  # noqa: F401


def _load_describe() -> None:
    """Run while a one-shot read's decode workers are busy: what its command does next is
    describe the jobs it lists (``describe.preload``)."""
    from schedtui.core.describe import preload

    preload()


class JobStoreReader:
    """Reads and decodes the jobs table of one target, incrementally."""

    def __init__(
        self,
        target: Target,
        *,
        clock: Clock = system_clock,
        incremental: bool = True,
        decode_budget: float | None = None,
        reprs: bool = True,
        lazy: bool = False,
    ) -> None:
        self.target = target
        #: A one-shot read without reprs returns a ``core.jobtable.JobTable`` (``JobInfo``
        #: rebuilt on access) instead of a tuple of them (``check``: see ``open_reader``).
        self._lazy = lazy and not incremental and not reprs
        #: Whether decoded rows carry their args/kwargs reprs (False: ``model.NOT_RENDERED``,
        #: for commands that never print them).
        self.reprs = reprs
        #: Seconds each read may spend decoding in all (None: ``SCHEDTUI_DECODE_BUDGET``
        #: or the default); rows not decoded in time are ``time-budget`` findings.
        self.decode_budget = decode_budget
        self._deadline = 0.0
        from schedtui.core.decode import prestart

        prestart()  # the decode workers boot while the first query runs
        self._clock = clock
        #: the target resolved once: family, SQLite file, quoted table name, masked URL
        self.place: Place = place_of(target)
        #: False for one-shot reads (check, jobs): no per-row digests are kept.
        self._incremental = incremental
        self._engine: Engine | None = None
        self._raw: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._cache: dict[str, _Entry] = {}
        self._order: list[tuple[tuple[int, int, str], str]] = []
        #: the jobs in ``_order``'s order, patched with it (the snapshot is a copy of it)
        self._jobs: list[JobInfo] = []
        #: ``(id, next_run_time, size)`` of every cached row, as the quick scan selects
        #: them (built on the first quick scan, patched by ``_rebuild``; None: rebuild it)
        self._known: set[tuple[str, Any, int]] | None = None
        #: SQLite: the rowid ranges' aggregates and ids as of the last read (``buckets``),
        #: which say where a refresh scans again; None: scan the whole table next time
        self._buckets: Buckets | None = None
        self._scans = 0
        self._ident: tuple[int, int] | None = None
        #: servers: the last read's whole-table aggregate (``Place.aggregate_sql``)
        self._aggregate: tuple[Any, ...] | None = None
        self._snapshot: StoreSnapshot | None = None
        self._data_version: int | None = None
        #: how next_run_time is selected (a float column, or a datetime one converted)
        self._nrt: str | None = None

    # -- connections -------------------------------------------------------------
    @property
    def dialect(self) -> str:
        return self.place.dialect

    @property
    def engine(self) -> Engine:
        """A read-only engine on the same database (for history, heartbeat ...)."""
        if self._engine is None:
            from schedtui.core.store.db import read_engine

            self._engine = read_engine(self.target)
        return self._engine

    def _sqlite(self) -> sqlite3.Connection:
        if self._raw is None:
            path = sqlite_light.require_file(self.place.sqlite_path, self.place.safe_url)
            conn = sqlite_light.open_readonly(path, check_same_thread=False)
            conn.create_function("schedtui_digest", 1, _digest, deterministic=True)
            self._raw = conn
        return self._raw

    def close(self) -> None:
        with self._lock:
            if self._raw is not None:
                self._raw.close()
                self._raw = None
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def reset(self) -> None:
        """Forget every cached row: the next read decodes everything again."""
        with self._lock:
            self._cache = {}
            self._order, self._jobs, self._known, self._buckets = [], [], None, None
            self._snapshot = None
            self._data_version = None

    # -- reading -------------------------------------------------------------------
    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Any error of a read as a ``SchedtuiError``, the connection dropped (the next
        read opens a fresh one)."""
        try:
            yield
        except SchedtuiError:
            self._drop_connection()
            raise
        except Exception as exc:
            self._drop_connection()
            raise _translate(exc, self.target) from exc

    def read(self) -> StoreSnapshot:
        """Read the table (incrementally after the first call)."""
        with self._lock:
            started = time.perf_counter()
            from schedtui.core.decode import budget_from_env

            budget = self.decode_budget if self.decode_budget is not None else budget_from_env()
            self._deadline = time.monotonic() + budget
            with self._reading():
                if self.place.is_sqlite:
                    jobs = self._read_sqlite()
                else:
                    jobs = self._read_generic()
            latency = (time.perf_counter() - started) * 1000.0
            snapshot = StoreSnapshot(
                target=self.target,
                dialect=self.place.dialect,
                read_at=self._clock(),
                latency_ms=latency,
                jobs=jobs,
            )
            self._snapshot = snapshot
            return snapshot

    def _budget_left(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    def raw_state(self, job_id: str) -> bytes | None:
        """The stored bytes of one row (for the console's opcode view), or None."""
        with self._lock:
            try:
                table = self.place.table_sql
                if self.place.is_sqlite:
                    cur = self._sqlite().execute(f"SELECT job_state FROM {table} WHERE id = ?", (job_id,))
                    row = cur.fetchone()
                else:
                    with self.engine.connect() as conn:
                        row = conn.exec_driver_sql(
                            f"SELECT job_state FROM {table} WHERE id = %(id)s", {"id": job_id}
                        ).fetchone()
            except Exception as exc:
                raise _translate(exc, self.target) from exc
            return None if row is None else bytes(row[0])

    def preview(self, limit: int = PREVIEW_ROWS, *, above: int = PREVIEW_ABOVE) -> StorePreview | None:
        """Before the first read of a table of more than ``above`` rows: its first ``limit``
        rows in ``sort_key`` order (due first by the indexed ``next_run_time``, paused ones
        after them by id), decoded in the sandbox as ``read`` decodes them. None for a
        smaller table or once this reader has read. Nothing is kept: ``read`` reads and
        decodes every row as without it."""
        with self._lock:
            if self._cache or self._snapshot is not None:
                return None
            started = time.perf_counter()
            table = self.place.table_sql
            with self._reading():
                if self.place.is_sqlite:
                    conn = self._sqlite()
                    total, rows = self._first_rows(conn.execute, table, self._nrt_sqlite(conn), limit, above)
                else:
                    with self.engine.connect() as sa_conn:
                        nrt = self._nrt_generic(sa_conn)
                        total, rows = self._first_rows(sa_conn.exec_driver_sql, table, nrt, limit, above)
                        sa_conn.rollback()
            if not rows:
                return None
            from schedtui.core.decode import budget_from_env, decode_rows

            budget = self.decode_budget if self.decode_budget is not None else budget_from_env()
            jobs = sorted_jobs(decode_rows(rows, budget=budget, reprs=self.reprs))
            snapshot = StoreSnapshot(
                target=self.target,
                dialect=self.place.dialect,
                read_at=self._clock(),
                latency_ms=(time.perf_counter() - started) * 1000.0,
                jobs=jobs,
            )
            return StorePreview(snapshot=snapshot, total=total)

    @staticmethod
    def _first_rows(execute: Any, table: str, nrt: str, limit: int, above: int) -> tuple[int, list[Row]]:
        """The row count and, when it is above ``above``, the first ``limit`` rows (the
        ``next_run_time`` index orders the due ones; ties and paused rows by id)."""
        from schedtui.core import columns

        total = int(execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        if total <= above:
            return total, []
        col, n = columns.COLUMN, int(limit)
        select = f"SELECT id, {nrt}, job_state FROM {table}"
        found = execute(f"{select} WHERE {col} IS NOT NULL ORDER BY {col}, id LIMIT {n}").fetchall()
        if len(found) < n:
            found += execute(f"{select} WHERE {col} IS NULL ORDER BY id LIMIT {n - len(found)}").fetchall()
        return total, [(r[0], r[1], bytes(r[2])) for r in found]

    def _nrt_sqlite(self, conn: sqlite3.Connection) -> str:
        if self._nrt is None:
            from schedtui.core import columns

            self._nrt = columns.expression("sqlite", columns.sqlite_declared(conn, self.target.table))
        return self._nrt

    def _nrt_generic(self, conn: Any) -> str:
        if self._nrt is None:
            from schedtui.core import columns

            dialect = self.place.dialect
            declared = columns.generic_declared(conn, dialect, self.target.table, self.target.schema)
            self._nrt = columns.expression(dialect, declared)
        return self._nrt

    def _drop_connection(self) -> None:
        if self._raw is not None:
            try:
                self._raw.close()
            finally:
                self._raw = None
        self._data_version = None
        self._nrt = None  # the file may have been replaced: look at the column again

    def _file_identity(self) -> tuple[int, int]:
        try:
            path = sqlite_light.require_file(self.place.sqlite_path, self.place.safe_url)
            st = os.stat(path)
        except SchedtuiError:
            self._drop_connection()
            raise
        except OSError:
            self._drop_connection()
            raise SchedtuiError(
                sqlite_light.not_found_message(self.place.sqlite_path or ""), ErrorKind.CONNECT
            ) from None
        return (st.st_dev, st.st_ino)

    def _read_sqlite(self) -> Sequence[JobInfo]:
        ident = self._file_identity()
        if ident != self._ident:
            # first read, or the file was replaced (restore, move): start from scratch
            self._drop_connection()
            self._cache, self._order, self._jobs, self._snapshot = {}, [], [], None
            self._known = self._buckets = None
            self._ident = ident
        conn = self._sqlite()
        table = self.place.table_sql
        nrt = self._nrt_sqlite(conn)
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if self._snapshot is not None and version == self._data_version:
            return self._snapshot.jobs
        if not self._cache:
            jobs = self._first_sqlite(conn, f"SELECT id, {nrt}, job_state FROM {table}")
        else:
            self._scans += 1
            full = self._scans % FULL_SCAN_EVERY == 0
            # Aggregate, scan and fetch see one snapshot (a commit between them would leave
            # the aggregate describing other rows than those decoded); the transaction ends
            # before the workers decode, so a writer waits at most for the queries.
            conn.execute("BEGIN")
            try:
                buckets, self._buckets = self._buckets, None  # kept once the rows are decoded
                gone: list[str] | None = None
                if full:
                    # every row's content, hashed in the database connection
                    scan = conn.execute(f"SELECT id, {nrt}, schedtui_digest(job_state) FROM {table}").fetchall()
                    changed = [d[0] for d in scan if self._is_changed(d[0], d[1], digest=d[2])]
                    buckets = None  # the next refresh scans the whole table and cuts it again
                elif buckets is None:
                    # the whole table's (id, next_run_time, size), compared with what is
                    # cached, then cut into rowid ranges for the next refreshes
                    rowids = _rowids(conn, table)
                    order = " ORDER BY rowid" if rowids is not None else ""
                    scan = conn.execute(f"SELECT id, {nrt}, length(job_state) FROM {table}{order}").fetchall()
                    changed, gone = self._quick_diff(scan)
                    if rowids is not None and len(rowids) == len(scan):
                        buckets = Buckets.build(conn, table, nrt, rowids, scan)
                else:
                    # One aggregate per rowid range (C only, ~45 ms for 100k rows) says where
                    # the jobs changed, if at all, when the database changed elsewhere too
                    # (the companion's heartbeat, run history); those ranges are scanned again.
                    which, aggs = buckets.changed(conn)
                    if not which and self._snapshot is not None:
                        self._buckets = buckets
                        self._data_version = version
                        return self._snapshot.jobs
                    rows, left = buckets.rescan(conn, which, aggs)
                    known = self._known_rows()
                    changed = [d[0] for d in rows if d not in known]
                    gone = [job_id for job_id in left if job_id in self._cache]
                    scan = rows
                    if buckets.too_many(sum(a[0] for a in aggs)):
                        buckets = None
                fetched = self._fetch_sqlite(conn, table, changed)
            finally:
                conn.rollback()
            jobs = self._rebuild(scan, fetched, _digest, gone)
            self._buckets = buckets
        self._data_version = version
        return jobs

    def _first_sqlite(self, conn: sqlite3.Connection, sql: str) -> Sequence[JobInfo]:
        """The first read of every row. sqlite3 decodes TEXT itself (in C) for it; when a
        value is not UTF-8 (an id written as bytes) that fails the statement, and the read
        starts again with the connection's own ``sqlite_light.tolerant_text``, which keeps
        such a value as one row's finding."""
        tolerant = conn.text_factory
        conn.text_factory = str
        try:
            cur = conn.execute(sql)
            return self._full(iter(lambda: cur.fetchmany(_BATCH), []), _digest, self._one_shot_cache())
        except sqlite3.OperationalError as exc:
            if not sqlite_light.is_text_error(exc):
                raise
        finally:
            conn.text_factory = tolerant
        cur = conn.execute(sql)
        return self._full(iter(lambda: cur.fetchmany(_BATCH), []), _digest, self._one_shot_cache())

    def _fetch_sqlite(self, conn: sqlite3.Connection, table: str, ids: Sequence[str]) -> dict[str, Row]:
        out: dict[str, Row] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for r in conn.execute(
                f"SELECT id, {self._nrt_sqlite(conn)}, job_state FROM {table} WHERE id IN ({marks})", chunk
            ):
                out[r[0]] = r
        return out

    def _read_generic(self) -> Sequence[JobInfo]:
        table = self.place.table_sql
        with self.engine.connect() as conn:
            nrt = self._nrt_generic(conn)
            if not self._cache:
                if self.place.sha256_sql is not None and self._probe_file_exists():
                    probed, probe = self._probe_generic(conn, table, nrt)
                    if probed is not None:
                        return probed
                else:
                    probe = self._one_shot_cache()
                # a server-side cursor: rows arrive batch by batch instead of all at once
                # into this process (memory stays flat however large the table)
                result = conn.execution_options(stream_results=True, max_row_buffer=_BATCH).exec_driver_sql(
                    f"SELECT id, {nrt}, job_state FROM {table}"
                )
                batches = iter(lambda: [(r[0], r[1], bytes(r[2])) for r in result.fetchmany(_BATCH)], [])
                jobs = self._full(batches, _md5, probe)  # the cache loaded once, warm or not
                conn.rollback()
                return jobs
            self._scans += 1
            full = self._scans % FULL_SCAN_EVERY == 0
            agg_sql = self.place.aggregate_sql(nrt)  # PostgreSQL and MySQL/MariaDB
            agg: tuple[Any, ...] | None = None
            if agg_sql is not None:
                # the aggregate, the scan and the fetch see one snapshot (as on SQLite)
                conn.rollback()
                conn.execution_options(isolation_level="REPEATABLE READ")
                # one row the server computes (~20 ms for 100,000 rows on PostgreSQL, against
                # ~270 ms for every row's md5) answers "did the jobs change?"
                agg = tuple(conn.exec_driver_sql(agg_sql).one())
                if not full and agg == self._aggregate and self._snapshot is not None:
                    conn.rollback()
                    return self._snapshot.jobs
            self._aggregate = None  # kept only once the rows it describes are decoded
            md5_sql, size_sql = self.place.md5_sql, self.place.size_sql
            gone: list[str] | None = None
            fetched: dict[str, Row] = {}
            if md5_sql is not None:
                if full or size_sql is None:
                    # the server hashes each row: only the changed rows' bytes are fetched
                    scan: Sequence[Any] = conn.exec_driver_sql(f"SELECT id, {nrt}, {md5_sql} FROM {table}").fetchall()
                    changed = [d[0] for d in scan if self._is_changed(d[0], d[1], digest=d[2])]
                else:
                    # a change of next_run_time or size (what a scheduler's writes do); every
                    # FULL_SCAN_EVERY-th read compares the md5 of every row instead
                    scan = _driver_rows(conn, f"SELECT id, {nrt}, {size_sql} FROM {table}")
                    changed, gone = self._quick_diff(scan)
                for i in range(0, len(changed), _CHUNK):
                    chunk = list(changed[i : i + _CHUNK])
                    for r in self._rows_by_id(conn, table, nrt, chunk):
                        fetched[r[0]] = (r[0], r[1], bytes(r[2]))
            else:  # a dialect without md5(): every row fetched, hashed here
                rows = [
                    (r[0], r[1], bytes(r[2])) for r in conn.exec_driver_sql(f"SELECT id, {nrt}, job_state FROM {table}")
                ]
                scan = [(r[0], r[1], None) for r in rows]
                fetched = {r[0]: r for r in rows if self._is_changed(r[0], r[1], digest=_md5(r[2]))}
            conn.rollback()
        jobs = self._rebuild(scan, fetched, _md5, gone)
        self._aggregate = agg
        return jobs

    def _cache_key(self) -> str:
        return repr((self.target.url, self.target.table, self.target.schema))

    def _one_shot_cache(self) -> Any:
        """The repeated-probe cache of this target (``decode.cache``) for a one-shot read
        (check, jobs), loaded from its file; None for incremental reads or when it is off.
        Called once per read: the read hands it on."""
        if self._incremental:
            return None
        from schedtui.core.decode import DecodeCache

        return DecodeCache.for_url(self._cache_key())

    def _probe_file_exists(self) -> bool:
        """Whether a one-shot read may find this target's cache warm (its file exists)."""
        if self._incremental:
            return False
        from schedtui.core.decode import DecodeCache

        path = DecodeCache.path_for(self._cache_key())
        return path is not None and path.is_file()

    def _probe_generic(self, conn: Any, table: str, nrt: str) -> tuple[Sequence[JobInfo] | None, Any]:
        """A one-shot read on PostgreSQL or MySQL whose probe cache has a file: the server
        sends each row's SHA-256 (not its bytes) while the cache loads here (in a thread:
        waiting on the server does not hold the GIL), and when the cache is warm only the
        rows it cannot answer are fetched and decoded, in the same REPEATABLE READ snapshot.
        ``(jobs, cache)``; jobs None when the cache is not warm or the server cannot compute
        the digest (then every row is read, with the cache loaded here)."""
        from concurrent.futures import ThreadPoolExecutor

        expr = self.place.sha256_sql
        from schedtui.core.decode import decode_rows
        from schedtui.core.decode.cache import digest_keys
        from schedtui.core.decode.reader import cached

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="schedtui-cache") as pool:
            loading = pool.submit(self._one_shot_cache)
            conn.rollback()
            conn.execution_options(isolation_level="REPEATABLE READ")
            conn.begin()  # the digests' statement runs in this (REPEATABLE READ) transaction
            try:
                digests = _driver_rows(
                    conn, f"SELECT id, {nrt}, {expr} FROM {table}", binary=self.place.family is Family.POSTGRESQL
                )
            except Exception:  # a server without the function: every row is read instead
                conn.rollback()
                return None, loading.result()
            probe = loading.result()
        if probe is None or not probe.warm:
            conn.rollback()
            return None, probe
        keys = digest_keys(digests)  # b"" (never a key) for a row of another kind: fetched and decoded
        builder = None
        if self._lazy and len({d[0] for d in digests}) == len(digests):
            # check's read: the hits go into the table as whole columns (as decode_into
            # adds them); ids are unique, so the order they are added in changes nothing
            from schedtui.core.decode.table import TableBuilder

            builder = TableBuilder(resident=True)
            hits, misses = probe.lookup(keys)
            builder.add_cached(probe, hits)
            results: list[Any] = [None] * len(keys)
        else:
            results, misses = cached(keys, probe, reprs=self.reprs, records=self._lazy)
        fetched: dict[str, Row] = {}
        wanted = [digests[i][0] for i in misses]
        for i in range(0, len(wanted), _CHUNK):
            for r in self._rows_by_id(conn, table, nrt, list(wanted[i : i + _CHUNK])):
                fetched[r[0]] = (r[0], r[1], bytes(r[2]))
        conn.rollback()
        todo = [i for i in misses if digests[i][0] in fetched]
        decoded = decode_rows(
            [fetched[digests[i][0]] for i in todo],
            budget=self._budget_left(),
            cache=probe,
            reprs=self.reprs,
            records=self._lazy,
        )
        for i, result in zip(todo, decoded, strict=True):
            results[i] = result
        probe.save()
        self._cache, self._order, self._jobs = {}, [], []
        self._known = self._buckets = None
        done = [r for r in results if r is not None]
        if self._lazy:
            from schedtui.core.decode.table import TableBuilder

            if builder is None:
                builder = TableBuilder(resident=True)
            for r in done:
                builder.add(r)
            return builder.finish(), probe
        return sorted_jobs(done), probe

    def _rows_by_id(self, conn: Any, table: str, nrt: str, ids: list[str]) -> Any:
        if self.place.family is Family.POSTGRESQL:
            return conn.exec_driver_sql(
                f"SELECT id, {nrt}, job_state FROM {table} WHERE id = ANY(%(ids)s)", {"ids": ids}
            )
        import sqlalchemy as sa

        stmt = sa.text(f"SELECT id, {nrt}, job_state FROM {table} WHERE id IN :ids")
        return conn.execute(stmt.bindparams(sa.bindparam("ids", expanding=True)), {"ids": ids})

    def _known_rows(self) -> set[tuple[str, Any, int]]:
        """``(id, next_run_time, size)`` of every cached row, as a quick scan selects them."""
        if self._known is None:
            self._known = {(job_id, e.next_run_time, e.job.state_size) for job_id, e in self._cache.items()}
        return self._known

    def _quick_diff(self, scan: list[Any]) -> tuple[list[str], list[str]]:
        """The ids of the rows of the whole table's ``scan`` (``(id, next_run_time, size)``)
        that are new or differ from the cached row in time or size (a set difference in C),
        and the cached ids no longer there."""
        cache = self._cache
        diff = set(scan)
        diff -= self._known_rows()
        changed = [d[0] for d in scan if d in diff] if diff else []
        new = sum(1 for job_id in changed if job_id not in cache)
        if len(cache) + new == len(scan):  # ids are unique: every cached row is still there
            return changed, []
        present = {d[0] for d in scan}
        return changed, [job_id for job_id in cache if job_id not in present]

    def _is_changed(self, job_id: str, next_run_time: float | None, *, digest: Any) -> bool:
        """Whether a row (its id, time and content digest) is not what is cached."""
        cached = self._cache.get(job_id)
        return cached is None or cached.next_run_time != next_run_time or bool(cached.digest != digest)

    def _full(self, batches: Iterable[list[Row]], digest: Any, probe_cache: Any) -> Sequence[JobInfo]:
        """First read: decode ``_DECODE_AT_ONCE`` rows at a time (bounding the raw bytes
        held). A one-shot reader keeps nothing for later reads; a lazy one keeps each
        decoded row as a record in a ``JobTable`` (``decode.table``). ``probe_cache``: the
        one-shot read's repeated-probe cache (``_one_shot_cache``), or None."""
        from schedtui.core.decode import decode_rows

        jobs: list[JobInfo] = []
        cache: dict[str, _Entry] = {}
        pending: list[Row] = []
        builder = None
        if self._lazy:
            from schedtui.core.decode.table import TableBuilder

            builder = TableBuilder(resident=probe_cache is not None)

        source = iter(batches)
        #: Rows fetched while the workers decoded the last chunk, and what that raised.
        ahead: list[Row] = []
        failed: list[Exception] = []
        #: Whether ``_load_describe`` ran (once per read).
        warmed: list[bool] = []
        # a one-shot read of a plain SQLite file may never need SQLAlchemy (check's
        # quickcheck); the console's reads soon do (the companion's tables)
        load = not (self.place.family is Family.SQLITE_FILE and not self._incremental)

        def meanwhile() -> None:
            """While the workers decode: the next chunk's rows (the workers would wait
            for them between chunks otherwise), then SQLAlchemy if the read needs it."""
            try:
                while len(ahead) < _DECODE_AT_ONCE:
                    batch = next(source, None)
                    if batch is None:
                        break
                    ahead.extend(batch)
            except Exception as exc:  # raised again after the chunk, not swallowed
                failed.append(exc)
            if load:
                _load_sqlalchemy()
            if not self._incremental and not warmed:
                warmed.append(True)
                _load_describe()

        def flush() -> None:
            if builder is not None and probe_cache is not None:  # lazy: no reprs
                from schedtui.core.decode.reader import decode_into

                decode_into(builder, pending, cache=probe_cache, budget=self._budget_left(), meanwhile=meanwhile)
                return
            decoded = decode_rows(
                pending,
                meanwhile=meanwhile,
                budget=self._budget_left(),
                cache=probe_cache,
                reprs=self.reprs,
                records=builder is not None,
            )
            if builder is not None:
                for result in decoded:
                    builder.add(result)
                return
            if self._incremental:
                new = tuple.__new__
                for row, job in zip(pending, decoded, strict=True):
                    cache[row[0]] = new(_Entry, (row[1], digest(row[2]), job))
            jobs.extend(decoded)

        while True:
            if failed:
                raise failed[0]
            if ahead:
                batch, ahead[:] = list(ahead), []
            else:
                got = next(source, None)
                if got is None:
                    break
                batch = got
            pending.extend(batch)
            if len(pending) >= _DECODE_AT_ONCE:
                flush()
                pending = []
        flush()
        if probe_cache is not None:
            probe_cache.save()
        self._cache = cache
        self._known = self._buckets = None
        if builder is not None:
            return builder.finish()
        ordered = sorted_jobs(jobs)
        self._order = [(sort_key(j), j.id) for j in ordered] if self._incremental else []
        self._jobs = list(ordered) if self._incremental else []
        return ordered

    def _rebuild(
        self, scan: Sequence[tuple[str, Any, Any]], fetched: dict[str, Row], digest: Any, gone: list[str] | None = None
    ) -> Sequence[JobInfo]:
        """Apply one incremental read: decode what changed, keep the rest, keep the order.
        ``gone``: the cached ids not in ``scan``, when the caller knows them."""
        from schedtui.core.decode import decode_rows

        old = self._cache
        fresh = list(fetched.values())
        decoded = (
            {
                row[0]: (row, job)
                for row, job in zip(
                    fresh, decode_rows(fresh, budget=self._budget_left(), reprs=self.reprs), strict=True
                )
            }
            if fresh
            else {}
        )
        if gone is None:
            present = {d[0] for d in scan}
            gone = [job_id for job_id in old if job_id not in present]
        if not decoded and not gone and self._snapshot is not None:
            return self._snapshot.jobs  # the same rows, the same order: nothing to rebuild
        cache = dict(old)
        for job_id in gone:
            del cache[job_id]
        for job_id, (row, job) in decoded.items():
            cache[job_id] = _Entry(row[1], digest(row[2]), job)
        touched = set(gone) | set(decoded)
        known = self._known
        if known is not None:
            for job_id in touched:
                if job_id in old:
                    e = old[job_id]
                    known.discard((job_id, e.next_run_time, e.job.state_size))
            for job_id in decoded:
                e = cache[job_id]
                known.add((job_id, e.next_run_time, e.job.state_size))
        if len(touched) > _RESORT_ABOVE:
            self._order = sorted((sort_key(e.job), job_id) for job_id, e in cache.items())
            self._jobs = [cache[job_id].job for _, job_id in self._order]
        else:
            # patched in place: ``_jobs`` moves with ``_order`` (a copy of it is the snapshot)
            order, jobs = self._order, self._jobs
            for job_id in touched:
                if job_id in old:
                    i = bisect.bisect_left(order, (sort_key(old[job_id].job), job_id))
                    if i < len(order) and order[i][1] == job_id:
                        del order[i]
                        del jobs[i]
            for job_id in decoded:
                key = (sort_key(cache[job_id].job), job_id)
                i = bisect.bisect_right(order, key)
                order.insert(i, key)
                jobs.insert(i, cache[job_id].job)
        self._cache = cache
        return tuple(self._jobs)

    def pick(self, jobs: Sequence[JobInfo], ids: Iterable[str]) -> tuple[JobInfo, ...] | None:
        """The jobs of ``jobs`` whose id is in ``ids``, in ``jobs``' order, looked up by id
        when ``jobs`` is what this reader's last read returned (the console's heartbeat
        candidates without a pass over 100,000 jobs); None when it is not (then scan)."""
        with self._lock:
            snap = self._snapshot
            if not self._cache or snap is None or snap.jobs is not jobs:
                return None
            found = [self._cache[i].job for i in set(ids) if i in self._cache]
        return tuple(sorted(found, key=sort_key))


def open_reader(
    target: Target, *, clock: Clock = system_clock, incremental: bool = True, reprs: bool = True, lazy: bool = False
) -> Any:
    """The reader for ``target``'s layout: ``JobStoreReader`` (APScheduler 3 job stores) or,
    for ``--table schedules`` in an APScheduler 4 data store, ``aps4.reader.Aps4Reader``
    (same interface: ``read``, ``close``, ``reset``, ``engine``, ``dialect``). An APScheduler 3
    table that happens to be called ``schedules`` stays with ``JobStoreReader``. Without
    ``reprs`` decoded rows' args/kwargs are ``model.NOT_RENDERED`` (APScheduler 4 rows keep
    theirs: they cost nothing to render there). ``lazy`` (a one-shot read without reprs):
    the snapshot's jobs are a ``core.jobtable.JobTable``, each ``JobInfo`` rebuilt when it
    is looked at (``check`` looks at a few)."""
    if target.table == APS4_TABLE:  # tested first: importing ``aps4.layout`` loads SQLAlchemy
        from schedtui.core.aps4.layout import holds_aps4, is_aps4_target

        if is_aps4_target(target) and holds_aps4(target) is not False:
            from schedtui.core.aps4.reader import Aps4Reader

            return Aps4Reader(target, clock=clock, incremental=incremental)
    return JobStoreReader(target, clock=clock, incremental=incremental, reprs=reprs, lazy=lazy)


def read_jobs(target: Target, *, clock: Clock = system_clock, reprs: bool = True) -> StoreSnapshot:
    """One complete read (for scripts); ``reprs`` as for ``open_reader``."""
    reader = open_reader(target, clock=clock, incremental=False, reprs=reprs)
    try:
        snapshot: StoreSnapshot = reader.read()
        return snapshot
    finally:
        reader.close()
