"""The one sandbox for stored bytes: warm decode worker processes (private), the
reader's side (what runs in a worker is ``decode.worker``).

The reading process (console, ``check``, ``jobs``) never unpickles ``job_state`` and never
lowers its own limits. Rows go to worker processes that are

- started WITHOUT forking the reader: each is a fresh interpreter (``subprocess``, i.e.
  fork+exec in C), so no lock, thread or memory of the console is ever inherited (and,
  unlike multiprocessing's spawn/forkserver, the reader's ``__main__`` is not re-run);
- kept warm between reads (the console's refreshes reuse them);
- limited in their own process: address space (``RLIMIT_AS``, current size + 768 MiB, so
  a memory bomb is a ``memory`` finding) and CPU time (``RLIMIT_CPU`` raised per batch to
  what the batch may use; beyond it the kernel kills the worker);
- fed batches of rows; before each row a worker publishes (row, start time, bytes of
  results so far) in shared memory, and it writes each row's result into a shared results
  area (``decode.wire``: marshal of plain tuples, which cannot execute anything) as soon as
  the row is done, so a worker that is killed loses nothing it finished, and results cost
  no system call (a result that does not fit goes through its pipe);
- killed when one row takes longer than ``ROW_LIMIT`` seconds (the row becomes a
  ``too-slow`` finding, exactly that row: the progress slot isolates it) or when the
  read's total ``budget`` runs out (every row not decoded by then becomes a
  ``time-budget`` finding). A killed or dead worker is replaced and the rest of its batch
  continues in the new one. Every row is unpickled once.
"""

from __future__ import annotations

import atexit
import contextlib
import marshal
import math
import mmap
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from schedtui.core.decode.worker import (
    DONE,
    IN_AREA,
    INDEX,
    LEN,
    SEQ,
    SLOT,
    SLOT_SIZE,
    WireError,
)

#: Seconds one row may take in a worker (a real job state takes microseconds).
ROW_LIMIT = 1.0
#: Default total seconds of one read's decoding (``SCHEDTUI_DECODE_BUDGET`` changes it).
DEFAULT_BUDGET = 20.0
#: Wall seconds after which a row is too slow whatever CPU it used (a worker starved of
#: CPU, or stopped, is judged by its CPU time until then: a busy machine is no row's fault).
ROW_WALL_LIMIT = 10 * ROW_LIMIT
#: Seconds a worker may take to start.
START_LIMIT = 30.0
#: Rows per request sent to a worker, and the most bytes of job states in one request.
BATCH = 4000
#: The smallest batch a large read's last rows are sent in.
_MIN_BATCH = 250
BATCH_BYTES = 16 * 1024 * 1024
#: Seconds between looks at the workers' results areas while they decode.
_POLL = 0.01
#: Bytes of a worker's shared results area and of its request area (sparse files: pages
#: exist once written). A request that does not fit goes through the pipe.
RESULTS_SIZE = 64 * 1024 * 1024
REQUEST_SIZE = 32 * 1024 * 1024


def _read_slot(slot_map: mmap.mmap) -> tuple[float, float, float, float] | None:
    """The slot as the worker last wrote it, or None while it is being rewritten."""
    (before,) = SEQ.unpack_from(slot_map, 0)
    values: tuple[float, float, float, float] = SLOT.unpack_from(slot_map, SEQ.size)
    (after,) = SEQ.unpack_from(slot_map, 0)
    if before != after or before % 2:
        return None
    return values


def budget_from_env() -> float:
    """The read budget: ``SCHEDTUI_DECODE_BUDGET`` seconds (positive number) or the default."""
    raw = os.environ.get("SCHEDTUI_DECODE_BUDGET")
    if raw:
        try:
            value = float(raw)
            if value > 0 and math.isfinite(value):
                return value
        except ValueError:
            pass
    return DEFAULT_BUDGET


def worker_count() -> int:
    """Worker processes (``SCHEDTUI_DECODE_WORKERS``, 1..16; default: CPUs, 1..4)."""
    env = os.environ.get("SCHEDTUI_DECODE_WORKERS")
    if env:
        try:
            return max(1, min(int(env), 16))
        except ValueError:
            pass
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


# --------------------------------------------------------------------------- reader side


_WORKER_CODE = "from schedtui.core.decode.worker import main; main()"
#: ``-P``: the worker's ``sys.path`` does not start with the current directory (``-c``
#: would put it first), so no file where the command runs can stand in for a module the
#: worker imports (``pickle``, ``zoneinfo``, ``apscheduler``...).
_WORKER_FLAGS = ("-P",)


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, IndexError, ValueError):
        return None


class _Worker:
    """One warm worker process (``subprocess``: fork+exec, never a bare fork of this one):
    a request pipe (its stdin), a result pipe (its stdout), a progress slot (shared file)."""

    def __init__(self) -> None:
        self.slot_file = tempfile.TemporaryFile()
        self.slot_file.write(SEQ.pack(0) + SLOT.pack(DONE, 0.0, 0.0, 0.0))
        self.slot_file.flush()
        self.slot = mmap.mmap(self.slot_file.fileno(), SLOT_SIZE)
        fd = self.slot_file.fileno()
        self.results_size, self.request_size = RESULTS_SIZE, REQUEST_SIZE
        self.results_file = tempfile.TemporaryFile()
        self.results_file.truncate(self.results_size)
        self.area = mmap.mmap(self.results_file.fileno(), self.results_size)
        rfd = self.results_file.fileno()
        #: Bytes of the batch's results in the area already taken.
        self.taken = 0
        self.request_file = tempfile.TemporaryFile()
        self.request_file.truncate(self.request_size)
        self.request_area = mmap.mmap(self.request_file.fileno(), self.request_size)
        qfd = self.request_file.fileno()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                *_WORKER_FLAGS,
                "-c",
                _WORKER_CODE,
                *map(str, (fd, rfd, qfd, self.results_size, self.request_size)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            pass_fds=(fd, rfd, qfd),
            close_fds=True,
            start_new_session=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.requests = self.proc.stdin
        self.results = self.proc.stdout
        self.buf = bytearray()
        #: The batch in flight: indices (into the read's rows) of the rows sent.
        self.pending: list[int] = []
        self.batch_sent = 0.0
        #: Whether it ever started a row (a worker that dies before is not a row's fault).
        self.progressed = False

    def send(self, rows: list[tuple[Any, ...]], indices: list[int], cpu: float, reprs: bool = True) -> None:
        self.pending = list(indices)
        self.taken = 0
        self.batch_sent = time.monotonic()
        msg = marshal.dumps((cpu, reprs, rows), 4)
        if len(msg) <= self.request_size:  # the worker has read the last one (it finished it)
            self.request_area[: len(msg)] = msg
            self.requests.write(LEN.pack(len(msg) | IN_AREA))
        else:
            self.requests.write(LEN.pack(len(msg)) + msg)
        self.requests.flush()

    def read(self) -> tuple[list[tuple[int, bytes]], bool]:
        """Complete records received so far (the pipe's, then the area's: the end of a
        batch says how far its results go); ``(records, batch finished)``. EOF raises."""
        data = os.read(self.results.fileno(), 1 << 20)
        if not data:
            raise EOFError
        self.buf += data
        out: list[tuple[int, bytes]] = []
        finished = False
        pos = 0
        buf = self.buf
        while len(buf) - pos >= 4:
            (n,) = LEN.unpack_from(buf, pos)
            if n < 8 or n > 64 * 1024 * 1024:
                raise WireError("bad record length")
            if len(buf) - pos - 4 < n:
                break
            (index,) = INDEX.unpack_from(buf, pos + 4)
            if index == -1:
                if n != 16:
                    raise WireError("bad end of batch")
                (committed,) = INDEX.unpack_from(buf, pos + 12)
                out.extend(self._area_records(committed))
                finished = True
            else:
                out.append((index, bytes(buf[pos + 12 : pos + 4 + n])))
            pos += 4 + n
        del buf[:pos]
        if out:
            self.progressed = True
        return out, finished

    def take(self) -> list[tuple[int, bytes]]:
        """The results the worker has put in the area since the last take (mid-batch)."""
        values = _read_slot(self.slot)
        if values is None or values[0] == DONE:  # being rewritten, or between batches
            return []
        out = self._area_records(int(values[3]))
        if out:
            self.progressed = True
        return out

    def _area_records(self, committed: int) -> list[tuple[int, bytes]]:
        """Records in the area from what was taken up to ``committed`` bytes."""
        if not self.taken <= committed <= self.results_size:
            raise WireError("bad results area length")
        area = self.area
        out: list[tuple[int, bytes]] = []
        pos = self.taken
        while pos < committed:
            if committed - pos < 12:
                raise WireError("bad results area record")
            (n,) = LEN.unpack_from(area, pos)
            if n < 8 or pos + 4 + n > committed:
                raise WireError("bad results area record")
            (index,) = INDEX.unpack_from(area, pos + 4)
            out.append((index, area[pos + 12 : pos + 4 + n]))
            pos += 4 + n
        self.taken = pos
        return out

    def _slot(self) -> tuple[float, float, float, float]:
        """A consistent slot (a few tries while the worker rewrites it; a worker that died
        mid-write leaves what it wrote)."""
        for _ in range(1000):
            values = _read_slot(self.slot)
            if values is not None:
                return values
        values = SLOT.unpack_from(self.slot, SEQ.size)
        return values[0], values[1], values[2], values[3]

    def current(self) -> int | None:
        current, _since, _cpu, _committed = self._slot()
        if current == DONE:
            return None
        self.progressed = True
        return int(current)

    def stuck(self, now: float) -> bool:
        """Whether this worker has been on one row longer than ``ROW_LIMIT`` (or has not
        started its batch within ``START_LIMIT``)."""
        values = _read_slot(self.slot)
        if values is None:  # being rewritten: the worker is moving on
            return False
        current, since, cpu_then, _committed = values
        if current == DONE:
            return bool(self.pending) and now - self.batch_sent > START_LIMIT
        wall = now - since
        if wall <= ROW_LIMIT:  # also while it writes a result (since = +inf)
            return False
        if wall > ROW_WALL_LIMIT:
            return True
        cpu_now = _process_cpu(self.proc.pid)
        return cpu_now is None or cpu_now - cpu_then > ROW_LIMIT

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.wait(5)
        for fh in (self.requests, self.results):
            with contextlib.suppress(Exception):
                fh.close()
        for closing in (self.slot, self.slot_file, self.area, self.results_file, self.request_area, self.request_file):
            with contextlib.suppress(Exception):
                closing.close()

    def alive(self) -> bool:
        return self.proc.poll() is None


class Failed(NamedTuple):
    """A row the sandbox could not decode: ``code`` is ``too-slow``, ``time-budget`` or
    ``internal``. (A named tuple, not a dataclass: ``check`` starts its worker before it
    imports ``dataclasses``.)"""

    #: the row's index in the read
    row: int
    code: str
    message: str


class Sandbox:
    """The pool of warm workers of this process (``pool()``); one read at a time."""

    def __init__(self) -> None:
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        #: Workers that died before decoding anything, in a row (2: give up for this read).
        self._start_failures = 0
        self._raw: list[bytes | None] | None = None
        #: Whether this read renders args/kwargs (``decode(reprs=...)``).
        self._reprs = True
        #: What a result's wire bytes become (``decode(records=...)``).
        self._convert: Callable[[bytes], Any] | None = None

    def prestart(self, count: int = 1) -> None:
        """Start ``count`` workers now (before the first read needs them; a large read
        starts the others it uses)."""
        with self._lock:
            self._ensure(count)

    def _ensure(self, count: int) -> None:
        self._workers = [w for w in self._workers if w.alive()]
        while len(self._workers) < count:
            self._workers.append(_Worker())

    def close(self) -> None:
        with self._lock:
            for w in self._workers:
                w.kill()
            self._workers = []

    def decode(
        self,
        rows: Sequence[Sequence[Any]],
        *,
        budget: float | None = None,
        meanwhile: Callable[[], object] | None = None,
        raw: list[bytes | None] | None = None,
        reprs: bool = True,
        records: Callable[[bytes], Any] | None = None,
    ) -> list[Any]:
        """``JobInfo`` (or ``Failed``) for every row, in order, within ``budget`` seconds;
        ``raw`` (as long as ``rows``) receives each decoded row's wire bytes; without
        ``reprs`` args/kwargs are not rendered (``model.NOT_RENDERED``); ``records`` turns a
        decoded row's wire bytes into its result instead of ``wire.job`` (``decode.table``:
        its head and bytes), as results arrive, while the workers go on; a ``WireError``
        from it is the worker's fault, as from ``wire.job``."""
        from schedtui.core.decode import wire  # not before: a worker starts without it

        budget = budget_from_env() if budget is None else budget
        with self._lock:
            self._raw = raw
            self._reprs = reprs
            self._convert = records or wire.job
            try:
                return self._decode(rows, budget, meanwhile)
            finally:
                self._raw = None
                self._reprs = True
                self._convert = None

    def _take(self, out: list[Any], index: int, data: bytes) -> None:
        out[index] = self._convert(data)  # type: ignore[misc]
        if self._raw is not None:
            self._raw[index] = data

    def _decode(
        self, rows: Sequence[Sequence[Any]], budget: float, meanwhile: Callable[[], object] | None
    ) -> list[Any]:
        n = len(rows)
        out: list[Any] = [None] * n
        if not n:
            return out
        self._start_failures = 0
        deadline = time.monotonic() + budget
        count = max(1, min(worker_count(), (n + 999) // 1000))
        self._ensure(count)
        todo = list(range(n))  # rows not sent yet, in order
        todo.reverse()
        busy: dict[int, _Worker] = {}
        workers = self._workers[:count]
        per_worker = max(1, min(BATCH, -(-n // count)))

        def feed(w: _Worker) -> None:
            if not todo:
                return
            take: list[int] = []
            size = 0
            # guided: batches shrink as the rows left do, so the workers finish together
            # (a last full batch would leave the others idle for its whole length)
            limit = max(min(_MIN_BATCH, per_worker), min(per_worker, len(todo) // (2 * count)))
            while todo and len(take) < limit and size < BATCH_BYTES:
                i = todo.pop()
                take.append(i)
                state = rows[i][2]
                size += len(state) if isinstance(state, (bytes, bytearray, memoryview, str)) else 0
            try:
                w.send([_as_sent(rows[i]) for i in take], take, max(1.0, deadline - time.monotonic()), self._reprs)
            except OSError:
                w.pending = []
                todo.extend(reversed(take))
                raise
            busy[id(w)] = w

        for w in workers:
            try:
                feed(w)
            except OSError:
                self._replace(w, busy, out, rows, "the decode worker could not be reached", todo, feed)
        if meanwhile is not None:
            with contextlib.suppress(Exception):
                meanwhile()
        while busy:
            now = time.monotonic()
            if now >= deadline:
                break
            by_fd = {w.results.fileno(): w for w in busy.values()}
            ready, _, _ = select.select(list(by_fd), [], [], _POLL)
            for w in busy.values():
                if w.results.fileno() not in ready:  # mid-batch: take what it has done so far
                    try:
                        for k, data in w.take():
                            self._take(out, w.pending[k], data)
                    except (WireError, IndexError):
                        ready.append(w.results.fileno())  # handled (and replaced) below
            for fd in ready:
                w = by_fd[fd]
                if id(w) not in busy:
                    continue
                try:
                    records, finished = w.read()
                    pending = w.pending
                    if finished:  # the next batch first: it decodes while these are rebuilt
                        w.pending = []
                        del busy[id(w)]
                        try:
                            feed(w)
                        finally:
                            for k, data in records:
                                self._take(out, pending[k], data)
                    else:
                        for k, data in records:
                            self._take(out, pending[k], data)
                except (EOFError, OSError, WireError, IndexError):
                    self._replace(w, busy, out, rows, "the decode worker died on this row", todo, feed)
            now = time.monotonic()
            for w in list(busy.values()):
                if w.stuck(now):
                    self._replace(w, busy, out, rows, None, todo, feed)
        # whatever is left ran out of time (what it finished is kept)
        for w in list(busy.values()):
            with contextlib.suppress(Exception):
                for k, data in w.take():
                    self._take(out, w.pending[k], data)
            self._retire(w)
        busy.clear()
        broken = self._start_failures >= 2
        for i in range(n):
            if out[i] is None:
                out[i] = (
                    Failed(i, "internal", "not decoded: the decode worker processes could not start")
                    if broken
                    else Failed(i, "time-budget", "not decoded: the read's time budget ran out")
                )
        return out

    def _retire(self, w: _Worker) -> None:
        w.kill()
        with contextlib.suppress(ValueError):
            self._workers.remove(w)

    def _replace(
        self,
        w: _Worker,
        busy: dict[int, _Worker],
        out: list[Any],
        rows: Sequence[Sequence[Any]],
        died: str | None,
        todo: list[int],
        feed: Callable[[_Worker], None],
    ) -> None:
        """Kill ``w``; its current row becomes a finding, the rest of its batch goes back."""
        # take in whatever it finished before the row it is stuck on (area, then pipe)
        with contextlib.suppress(Exception):
            for k, data in w.take():
                self._take(out, w.pending[k], data)
        with contextlib.suppress(Exception):
            while select.select([w.results.fileno()], [], [], 0)[0]:
                records, _ = w.read()
                for k, data in records:
                    self._take(out, w.pending[k], data)
        position = w.current()
        w.kill()
        busy.pop(id(w), None)
        with contextlib.suppress(ValueError):
            self._workers.remove(w)
        pending = [i for i in w.pending if out[i] is None]
        if died and not w.progressed:  # it never started a row: no row to blame
            self._start_failures += 1
            todo.extend(reversed(pending))
            if self._start_failures >= 2:
                return
        else:
            self._start_failures = 0
            self._blame(w, out, pending, position, died, todo)
        try:
            fresh = _Worker()
        except OSError:
            return
        self._workers.append(fresh)
        with contextlib.suppress(OSError):
            feed(fresh)

    def _blame(
        self, w: _Worker, out: list[Any], pending: list[int], position: int | None, died: str | None, todo: list[int]
    ) -> None:
        """The row ``w`` was on becomes a ``too-slow`` finding; the rest goes back."""
        bad: int | None = None
        if position is not None and 0 <= position < len(w.pending):
            bad = w.pending[position]
        elif pending:
            bad = pending[0]
        if bad is not None and out[bad] is None:
            why = died or f"unpickling took over {ROW_LIMIT:g} s"
            out[bad] = Failed(bad, "too-slow", f"{why} (the row was not decoded)")
        rest = [i for i in pending if i != bad]
        todo.extend(reversed(rest))


def _as_sent(row: Sequence[Any]) -> Any:
    """``row`` itself when it already is what a worker reads (a tuple of ``str``, ``float``
    or None, ``bytes``: what sqlite3 returns), else ``_plain(row)``."""
    if (
        type(row) is tuple
        and len(row) == 3
        and type(row[0]) is str
        and type(row[2]) is bytes
        and (row[1] is None or type(row[1]) is float)
    ):
        return row
    return _plain(row)


def _plain(row: Sequence[Any]) -> tuple[Any, ...]:
    """A row as marshal can carry it (values it cannot: their text, for the finding)."""
    jid, nrt, state = row[0], row[1], row[2]
    if type(jid) is not str:
        jid = repr(jid)[:191]
    if nrt is not None and type(nrt) not in (float, int):
        try:
            nrt = float(nrt)
        except (TypeError, ValueError, OverflowError):
            nrt = str(nrt)[:100]
    if type(state) is not bytes:
        if isinstance(state, (bytearray, memoryview)):
            state = bytes(state)
        elif state is not None and type(state) not in (str, int, float):
            state = repr(type(state))
    return (jid, nrt, state)


_POOL: Sandbox | None = None
_POOL_LOCK = threading.Lock()


def pool() -> Sandbox:
    """This process's sandbox (created on first use, closed at exit)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = Sandbox()
            atexit.register(_POOL.close)
        return _POOL


def prestart() -> None:
    """Start the sandbox's workers now (the console and ``check`` call this first thing)."""
    try:
        pool().prestart()
    except OSError:
        pass
