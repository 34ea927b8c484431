"""The decode worker process (private): what runs in the sandbox ``decode.sandbox`` starts.

A worker is started as ``python -P -c "...; main()"`` (a fresh interpreter: see
``sandbox``). It limits its own address space, then reads requests (batches of rows) on its
stdin, runs stage 5 (``jobstate.safe_fields``: one unpickling per row) on each row, and
writes each row's ``decode.wire`` record into the shared results area as soon as it is
done. Before each row it publishes (row, start time, CPU time, bytes of results so far) in
the progress slot, so the reader can tell which row a stuck or dead worker was on.

This module holds the worker's side and the layout both sides share; it imports only what
a worker needs, and what it needs only once it runs (``wire``, ``jobstate``) inside
``main``, so the reader's side (``sandbox``) can start a worker before it imports them.
"""

from __future__ import annotations

import marshal
import math
import mmap
import os
import resource
import struct
import sys
import time
from typing import Any

#: Address space a worker may add to its size at start (bytes).
MEMORY_MARGIN = 768 * 1024 * 1024
LEN = struct.Struct("<I")
INDEX = struct.Struct("<q")
#: (row of the batch being decoded, monotonic time it started, the worker's CPU seconds then,
#: bytes of this batch's results in the results area); the time is +inf while the worker
#: writes a result to its pipe (waiting on the pipe is not decoding)
SLOT = struct.Struct("<dddd")
#: Set in a request's length word: the request is in the request area, not the pipe.
IN_AREA = 0x80000000
#: The slot's file: a sequence number (odd while the worker rewrites the slot), then the slot.
#: The reader takes a slot only between two equal even sequence numbers (a seqlock), so it
#: never sees a row number beside another row's start time.
SEQ = struct.Struct("<q")
SLOT_SIZE = SEQ.size + SLOT.size
DONE = -1.0


class WireError(ValueError):
    """Results that are not what a decode worker writes (``decode.wire``'s, raised by the
    reader's side too; defined here so the reader can start workers without ``wire``)."""


class _SlotWriter:
    """The worker's side of the progress slot."""

    def __init__(self, slot_map: mmap.mmap) -> None:
        self.map = slot_map
        self.seq = 0

    def publish(self, current: float, since: float, cpu: float, committed: int) -> None:
        self.seq += 1
        SEQ.pack_into(self.map, 0, self.seq)  # odd: being written
        SLOT.pack_into(self.map, SEQ.size, current, since, cpu, committed)
        self.seq += 1
        SEQ.pack_into(self.map, 0, self.seq)


def _limit_self() -> None:
    """In the worker: cap address space and leave CPU to be capped per batch."""
    try:
        with open("/proc/self/statm") as fh:
            size = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        want = size + MEMORY_MARGIN
        if hard == resource.RLIM_INFINITY or want < hard:
            resource.setrlimit(resource.RLIMIT_AS, (want, hard))
    except (OSError, ValueError):
        pass


def _cpu_cap(seconds: float) -> None:
    try:
        used = resource.getrusage(resource.RUSAGE_SELF)
        spent = used.ru_utime + used.ru_stime
        _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        want = int(spent + seconds) + 2
        if hard == resource.RLIM_INFINITY or want < hard:
            resource.setrlimit(resource.RLIMIT_CPU, (want, hard))
    except (OSError, ValueError):
        pass


def main() -> None:
    """A worker process: ``python -c "...; main()" FD RFD QFD RSIZE QSIZE`` with the request
    pipe on stdin, the result pipe on stdout, the progress slot's file as ``FD``, the results
    area's as ``RFD`` and the request area's as ``QFD`` (of ``RSIZE`` and ``QSIZE`` bytes)."""
    import mmap
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from schedtui.core.decode import wire
    from schedtui.core.decode.jobstate import safe_fields
    from schedtui.core.decode.unpickler import memory_guard

    slot_fd = int(sys.argv[1])
    slot = _SlotWriter(mmap.mmap(slot_fd, SLOT_SIZE))
    os.close(slot_fd)
    results_fd, request_fd, results_size, request_size = (int(a) for a in sys.argv[2:6])
    area = mmap.mmap(results_fd, results_size)
    os.close(results_fd)
    request_area = mmap.mmap(request_fd, request_size)
    os.close(request_fd)
    requests = os.fdopen(0, "rb", buffering=0)
    out = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # nothing else may write into the result pipe
    _preload()
    _limit_self()
    slot.publish(DONE, 0.0, 0.0, 0)
    head_size = LEN.size + INDEX.size
    while True:
        head = _read_exact(requests, 4)
        if head is None:
            return
        (n,) = LEN.unpack(head)
        if n & IN_AREA:
            n &= ~IN_AREA
            if n > request_size:
                return
            msg: bytes | None = request_area[:n]
        else:
            msg = _read_exact(requests, n)
        if msg is None:
            return
        cpu, reprs, rows = marshal.loads(msg)
        del msg
        reprs = reprs is True
        _cpu_cap(cpu)
        pos = 0  # results of this batch in the area (the reader took the last batch's)
        with memory_guard(pause_gc=True):
            for k, (jid, nrt, state) in enumerate(rows):
                slot.publish(float(k), time.monotonic(), time.process_time(), pos)
                data = wire.encode(safe_fields(jid, nrt, state, reprs))
                end = pos + head_size + len(data)
                if end <= results_size:
                    LEN.pack_into(area, pos, len(data) + 8)
                    INDEX.pack_into(area, pos + LEN.size, k)
                    area[pos + head_size : end] = data
                    pos = end
                else:  # the area is full: this one goes through the pipe
                    slot.publish(float(k), math.inf, 0.0, pos)
                    _write_all(out, LEN.pack(len(data) + 8) + INDEX.pack(k) + data)
        slot.publish(DONE, 0.0, 0.0, pos)
        _write_all(out, LEN.pack(16) + INDEX.pack(-1) + INDEX.pack(pos))


def _preload() -> None:
    """APScheduler's cron field classes (which check every cron field a row holds), imported
    now, while the reader is still starting (~25 ms), not when the first cron row arrives;
    an import that fails here fails again on that row, as that row's business.

    The ``apscheduler`` package itself is registered without running its ``__init__``
    (``_bare_package``): all that does is read APScheduler's version from its installed
    metadata (``importlib.metadata``, ~12 ms), which nothing a worker imports uses. And
    ``apscheduler.util`` takes one function from ``asyncio`` (``iscoroutinefunction``, for
    ``add_job``'s checks), whose package ``__init__`` imports all of asyncio (event loops,
    sockets, ssl, subprocesses: ~15 ms): while the cron fields import, ``asyncio`` is that
    package registered bare with the function from its own module, ``asyncio.coroutines``
    (``_bare_asyncio``), and both leave the registry after: a later ``import asyncio``
    imports the whole package afresh."""
    from schedtui.core.decode.triggers import preload

    bare = None
    try:
        _bare_package("apscheduler")
        bare = _bare_asyncio()
        preload()
    except Exception:
        pass
    finally:
        if bare is not None and sys.modules.get("asyncio") is bare:
            # gone from the registry (asyncio's __init__ would not find ``coroutines``
            # bound on itself): the function APScheduler took stays its own
            del sys.modules["asyncio"]
            sys.modules.pop("asyncio.coroutines", None)


def _bare_package(name: str) -> None:
    """Register package ``name`` (found where an import would find it) without running its
    ``__init__``, so its submodules import as usual (only in a worker)."""
    import importlib.util

    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return
    sys.modules[name] = importlib.util.module_from_spec(spec)


def _bare_asyncio() -> Any:
    """``asyncio`` registered bare (``_bare_package``) with ``iscoroutinefunction`` from
    ``asyncio.coroutines`` (which imports only the standard modules ``inspect`` needs), or
    None when asyncio is imported already or cannot be found."""
    if "asyncio" in sys.modules:
        return None
    _bare_package("asyncio")
    bare = sys.modules.get("asyncio")
    if bare is None:
        return None
    try:
        import asyncio.coroutines
    except Exception:
        del sys.modules["asyncio"]
        raise
    bare.iscoroutinefunction = asyncio.coroutines.iscoroutinefunction  # type: ignore[attr-defined]
    return bare


def _read_exact(fh: Any, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = fh.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
