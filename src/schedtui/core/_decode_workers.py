"""Decode a large set of rows in forked worker processes (private).

``decode(rows, decode_chunk, decode_serial)`` splits ``rows`` between ``WORKERS`` forked
children. Each child decodes its share with the restricted decoder (its own memory guard,
no canary: the child *is* the canary) and appends its results, pickled in chunks, to a
temporary file, publishing the row it is working on in shared memory. The parent only
reads those files back, with an unpickler that knows nothing but schedtui's own model
classes, datetimes and zones: stored bytes are never unpickled in the parent.

A child that stays on one row longer than the deadline (the exponential tuple-hash pickle
of ``hazards.md``), dies, or cannot start is killed; the rows it did not finish are
decoded by ``decode_serial`` (the in-process decoder with its forked canary), which gives
them their proper findings. So the result is always the same as a serial decode.
"""

from __future__ import annotations

import gc
import io
import mmap
import os
import pickle
import struct
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

from schedtui.core import _unpickle, _unpickle_watchdog, model, tzshim

#: One ``(id, next_run_time, job_state)`` row as the database driver returns it.
Row = Sequence[Any]
#: ``decoder._decode_chunk``: rows ``first..last-1`` as ``JobInfo`` field tuples.
DecodeChunk = Callable[[Sequence[Row], int, int, Callable[[int], None]], list[tuple[object, ...]]]
#: ``decoder._decode_serial``: the same rows decoded in this process.
DecodeSerial = Callable[[list[Row]], list[model.JobInfo]]

#: Fewer rows than this are decoded in-process (forking costs more than it saves).
MIN_ROWS = 20_000
#: Rows per pickled chunk a child writes.
CHUNK = 2_000
#: Seconds a freshly forked child may take to start working.
STARTUP_DEADLINE = _unpickle_watchdog.STARTUP_DEADLINE

_SLOT = _unpickle_watchdog._SLOT  # (row being decoded, monotonic time it started)
_DONE = _unpickle_watchdog.DONE
_LEN = struct.Struct("<Q")


def workers() -> int:
    """How many worker processes to use (0: decode in-process).

    ``SCHEDTUI_DECODE_WORKERS`` overrides (``0`` turns them off); by default one per CPU
    this process may run on, at most 4, and none on a single CPU.
    """
    if not hasattr(os, "fork"):
        return 0
    env = os.environ.get("SCHEDTUI_DECODE_WORKERS")
    if env is not None:
        try:
            return max(0, min(int(env), 16))
        except ValueError:
            return 0
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return 0 if cpus < 2 else min(cpus, 4)


# --------------------------------------------------------------------------- results

#: The only globals a results file may name: our model, datetimes and zones.
_RESULT_GLOBALS: dict[tuple[str, str], object] = {
    ("schedtui.core.model", "_trigger_spec"): model._trigger_spec,
    ("schedtui.core.model", "DecodeFinding"): model.DecodeFinding,
    ("schedtui.core.tzshim", "PytzZone"): tzshim.PytzZone,
    ("datetime", "datetime"): datetime,
    ("datetime", "date"): date,
    ("datetime", "timedelta"): timedelta,
    ("datetime", "timezone"): timezone,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "getattr"): _unpickle.find_global("builtins", "getattr"),
    ("zoneinfo", "ZoneInfo"): _unpickle.ZONEINFO,
}


class _ResultUnpickler(pickle.Unpickler):
    """Reads what a worker wrote: schedtui's model objects and nothing else."""

    def find_class(self, module: str, name: str) -> object:
        found = _RESULT_GLOBALS.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"unexpected global in decode results: {module[:60]}.{name[:60]}")
        return found

    def persistent_load(self, pid: object) -> object:
        raise pickle.UnpicklingError("persistent ids are not used")


def _load_chunk(data: bytes) -> list[model.JobInfo]:
    """A chunk of ``JobInfo`` field tuples, as jobs."""
    rows = _ResultUnpickler(io.BytesIO(data)).load()
    if type(rows) is not list:
        raise pickle.UnpicklingError("decode results are not a list")
    make = model.job_from_fields
    return [make(fields) for fields in rows]


# --------------------------------------------------------------------------- one worker


class ListShare:
    """``rows[start:stop]`` of rows this process already holds."""

    def __init__(self, rows: Sequence[Sequence[Any]], start: int, stop: int) -> None:
        self._rows, self.start, self.stop = rows, start, stop

    def rows(self) -> list[Row]:
        part = self._rows[self.start : self.stop]
        return part if type(part) is list else list(part)


class _Worker:
    """A forked child decoding one share of the rows into a temporary file.

    The child first writes how many rows its share has, then the results in chunks of
    ``CHUNK`` field tuples. ``share.rows()`` runs in the child (a share may fetch its rows
    itself) and again here if the child does not finish.
    """

    def __init__(self, share: Any, decode_chunk: DecodeChunk) -> None:
        self.share = share
        self.expected: int | None = None
        self.file = tempfile.TemporaryFile()
        self.fd = self.file.fileno()
        self.shm = mmap.mmap(-1, _SLOT.size)
        _SLOT.pack_into(self.shm, 0, 0, 0.0)
        self.read_pos = 0
        self.jobs: list[model.JobInfo] = []
        self.forked_at = time.monotonic()
        pid = os.fork()
        if pid == 0:  # child
            try:
                self._child(decode_chunk)
            finally:
                os._exit(0)
        self.pid: int | None = pid

    def _write(self, obj: object) -> None:
        data = pickle.dumps(obj, 5)
        buf = memoryview(_LEN.pack(len(data)) + data)
        while buf:
            buf = buf[os.write(self.fd, buf) :]

    def _child(self, decode_chunk: DecodeChunk) -> None:
        gc.disable()
        _unpickle_watchdog.quiet_child()
        rows = self.share.rows()  # (a fetch may wait for a lock: the startup deadline applies)
        _SLOT.pack_into(self.shm, 0, 0, time.monotonic())
        self._write(len(rows))
        for first in range(0, len(rows), CHUNK):
            self._write(decode_chunk(rows, first, min(first + CHUNK, len(rows)), self._progress))
        _SLOT.pack_into(self.shm, 0, _DONE, 0.0)

    def _progress(self, i: int) -> None:
        if not i & 7:  # every 8th row: a stuck row is still found within the deadline + 7 rows
            _SLOT.pack_into(self.shm, 0, i, time.monotonic())

    def read(self) -> None:
        """Take in every complete record written so far (the row count, then chunks)."""
        size = os.fstat(self.fd).st_size
        while size - self.read_pos >= _LEN.size:
            (n,) = _LEN.unpack(os.pread(self.fd, _LEN.size, self.read_pos))
            if size - self.read_pos - _LEN.size < n:
                return
            data = os.pread(self.fd, n, self.read_pos + _LEN.size)
            if self.expected is None:
                count = _ResultUnpickler(io.BytesIO(data)).load()
                if type(count) is not int or count < 0:
                    raise pickle.UnpicklingError("a decode worker's row count is not a count")
                self.expected = count
            else:
                self.jobs.extend(_load_chunk(data))
            self.read_pos += _LEN.size + n

    def poll(self, deadline: float) -> bool:
        """True once the child has finished (or was stopped)."""
        if self.pid is None:
            return True
        try:
            pid, _status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid = self.pid
        if pid:
            self.pid = None
            return True
        current, started = _SLOT.unpack_from(self.shm, 0)
        now = time.monotonic()
        stuck = now - self.forked_at > STARTUP_DEADLINE if started == 0.0 else now - started > deadline
        if current != _DONE and stuck:
            self.kill()
            return True
        return False

    def kill(self) -> None:
        if self.pid is not None:
            _unpickle_watchdog.kill(self.pid)
        self.pid = None

    def close(self) -> None:
        self.kill()
        self.shm.close()
        self.file.close()


# --------------------------------------------------------------------------- the pool


def decode(
    rows: Sequence[Sequence[Any]],
    count: int,
    decode_chunk: DecodeChunk,
    decode_serial: DecodeSerial,
    deadline: float,
    meanwhile: Callable[[], object] | None = None,
) -> list[model.JobInfo]:
    """Decode ``rows`` in ``count`` forked workers; same result as ``decode_serial(rows)``."""
    n = len(rows)
    bounds = [n * k // count for k in range(count + 1)]
    shares = [ListShare(rows, bounds[k], bounds[k + 1]) for k in range(count)]
    return decode_shares(shares, decode_chunk, decode_serial, deadline, meanwhile)


def decode_shares(
    shares: Sequence[Any],
    decode_chunk: DecodeChunk,
    decode_serial: DecodeSerial,
    deadline: float,
    meanwhile: Callable[[], object] | None = None,
) -> list[model.JobInfo]:
    """Decode each share (``share.rows()``) in its own forked worker, in order.

    ``decode_chunk(rows, first, last, progress)`` runs in a child and must call
    ``progress(i)`` before row ``i``; ``decode_serial`` takes over whatever a child did
    not finish (a stuck or dead child, a results file that cannot be read), on the share's
    rows taken again here. ``meanwhile`` runs in this process once the workers have started.
    """
    pool: list[_Worker] = []
    try:
        for share in shares:
            pool.append(_Worker(share, decode_chunk))
        if meanwhile is not None:
            try:
                meanwhile()
            except Exception:
                pass
        out: list[model.JobInfo] = []
        for w in pool:  # in order: the first worker's results are read while the others run
            while True:
                finished = w.poll(deadline)
                try:
                    w.read()
                except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, MemoryError):
                    w.kill()
                    finished = True
                if finished:
                    break
                time.sleep(0.002)
            if w.expected is not None and len(w.jobs) >= w.expected:
                out.extend(w.jobs[: w.expected])
                continue
            # stuck, died or unreadable: the rest of its share in-process (with the canary)
            rows = w.share.rows()
            done = min(len(w.jobs), len(rows)) if w.expected is not None else 0
            out.extend(w.jobs[:done])
            out.extend(decode_serial(rows[done:]))
        return out
    finally:
        for w in pool:
            w.close()
