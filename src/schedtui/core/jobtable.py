"""The decoded jobs of a one-shot read, kept small: ``JobTable`` and the columns ``check`` judges.

``check`` needs, of every job, only its id, the UTC instant of its next run, its misfire
grace, whether it is undecodable and whether its trigger holds an ``AndTrigger``; it prints
a few jobs in full. A ``JobTable`` keeps exactly those columns in memory (arrays: a few
dozen bytes a job) and each job's ``decode.wire`` record in an unlinked temporary file; a
``JobInfo`` is rebuilt from its record when somebody asks for it (``table[i]``, iteration).
So a million-job ``check`` neither rebuilds a million ``JobInfo`` records nor holds them.

``marks(jobs)`` gives the same columns for any sequence of ``JobInfo`` (a table's own, or
computed), so there is one judgement for both kinds of read and the same answer.
"""

from __future__ import annotations

import os
import tempfile
import threading
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, overload

from schedtui.core.model import JobInfo, TriggerSpec

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
#: The instant column's value of a paused job (sorts after every real instant: year 9999
#: is 2.5e17 microseconds).
PAUSED = (1 << 63) - 1
#: ``flags`` bits.
HAS_AND = 1
UNDECODABLE = 2


def instant_us(dt: datetime) -> int:
    """Microseconds since the epoch of ``dt``'s UTC instant (a naive ``dt`` is read as UTC).

    Exact, unlike ``timestamp()`` (a float), and fold-aware: the two 01:30 of a fall-back
    night are an hour apart here, while ``==`` and ``<`` between datetimes of one zone
    compare wall times and call them equal."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // _US


def has_and(spec: TriggerSpec | None) -> bool:
    """Whether ``spec`` is or holds an ``AndTrigger``."""
    if spec is None:
        return False
    return spec.kind == "and" or any(has_and(c) for c in spec.children)


def grace_of(mgt: float | None) -> float:
    """A job's own misfire grace in seconds as ``check`` reads it (None: 0)."""
    if mgt is None:
        return 0.0
    try:
        return float(mgt)
    except OverflowError:  # an int beyond float range: no finite grace is larger
        return float("inf")


@dataclass(frozen=True, slots=True)
class Marks:
    """What ``check`` judges of every job, one column each, in the jobs' order."""

    ids: Sequence[str]
    #: ``instant_us`` of each job's next run, ``PAUSED`` for a paused job.
    instants: Sequence[int]
    #: ``grace_of`` each job's ``misfire_grace_time``.
    graces: Sequence[float]
    #: ``HAS_AND`` | ``UNDECODABLE`` bits per job.
    flags: Sequence[int]


def job_mark(job: JobInfo, specs: dict[int, bool] | None = None) -> tuple[str, int, float, int]:
    """One job's columns: (id, ``instant_us`` of its next run or ``PAUSED``, ``grace_of`` its
    misfire grace, ``HAS_AND``/``UNDECODABLE`` bits). ``specs`` remembers ``has_and`` by
    ``id(spec)`` for a pass over jobs that share their specs."""
    nrt = job.next_run_time
    spec = job.trigger
    f = UNDECODABLE if job.finding is not None else 0
    if spec is not None and (spec.children or spec.kind == "and"):
        h = None if specs is None else specs.get(id(spec))
        if h is None:
            h = has_and(spec)
            if specs is not None:
                specs[id(spec)] = h
        if h:
            f |= HAS_AND
    return (job.id, PAUSED if nrt is None else instant_us(nrt), grace_of(job.misfire_grace_time), f)


def marks(jobs: Sequence[JobInfo]) -> Marks:
    """The columns of ``jobs``: a ``JobTable``'s own, or ``job_mark`` of each ``JobInfo``."""
    if isinstance(jobs, JobTable):
        return jobs.marks
    ids: list[str] = []
    instants = array("q")
    graces = array("d")
    flags = bytearray()
    specs: dict[int, bool] = {}  # the jobs' specs are alive for the whole pass
    for j in jobs:
        jid, instant, grace, f = job_mark(j, specs)
        ids.append(jid)
        instants.append(instant)
        graces.append(grace)
        flags.append(f)
    return Marks(ids, instants, graces, flags)


class Spill:
    """Append-only records: written to an unlinked, owner-only temporary file (read back
    with ``pread``, safe from any thread), or kept by reference when they are in memory
    anyway (``keep``: the repeated-probe cache holds them) or no file can be written.
    An address is ``(offset, length)``; a negative offset is ``-1 - index`` of a reference."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._size = 0
        self._lock = threading.Lock()
        self._refs: list[bytes] = []
        self._file: Any = None
        self._tried = False  # whether the temporary file was made (or could not be)
        self._whole = b""  # the file's contents, after a write to it failed
        self._shared: Any = None  # the file ``share`` reads from

    def append(self, data: bytes) -> tuple[int, int]:
        """Write ``data`` out; its address."""
        if self._shared is not None:  # never into a file this spill only reads
            return self.keep(data)
        if not self._tried:
            self._tried = True
            try:
                self._file = tempfile.TemporaryFile(prefix="schedtui-")
            except OSError:
                pass  # no file: references from now on
        if self._file is None:  # none could be made, or a write to it failed
            return self.keep(data)
        at = self._size
        self._buf += data
        self._size += len(data)
        if len(self._buf) >= 1 << 20:
            self.flush()
        return at, len(data)

    def keep(self, data: bytes) -> tuple[int, int]:
        """Keep a reference to ``data``; its address."""
        self._refs.append(data)
        return -len(self._refs), len(data)

    def share(self, fh: Any) -> bool:
        """Read non-negative addresses from ``fh`` (a file of records, the repeated-probe
        cache's: read, never written), when this spill has written no file of its own
        (its records are all ``keep`` references) or already shares ``fh``."""
        if self._shared is fh:
            return True
        if self._tried or self._shared is not None:
            return False
        try:
            self._file = os.fdopen(os.dup(fh.fileno()), "rb")
        except OSError:
            return False
        self._tried = True
        self._shared = fh
        return True

    def flush(self) -> None:
        if self._buf and self._file is not None:
            try:
                self._file.write(self._buf)
                self._file.flush()
            except OSError:  # disk full: the file's contents into memory
                self._file.seek(0)
                self._whole = self._file.read() + bytes(self._buf)
                self._file.close()
                self._file = None
            self._buf = bytearray()

    def read(self, at: int, length: int) -> bytes:
        if at < 0:
            return self._refs[-1 - at]
        if self._file is None:
            return self._whole[at : at + length]
        if self._buf:
            with self._lock:
                self.flush()
        return os.pread(self._file.fileno(), length, at)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class JobTable(Sequence[JobInfo]):
    """Jobs in order, as columns plus one record each; ``table[i]`` rebuilds job ``i``.

    Built by ``decode.table.TableBuilder``. Immutable once built; any thread may read it.
    Indexing remembers the last ``_MEMO`` jobs asked for; iterating does not (a pass over
    a million jobs must not keep them)."""

    _MEMO = 256

    def __init__(
        self,
        marks: Marks,
        places: tuple[array[int], array[int], array[int]],
        spill: Spill,
        build: Callable[[bytes], JobInfo],
        ready: dict[int, JobInfo],
    ) -> None:
        self.marks = marks
        #: Where job ``i``'s record is: entry ``order[i]`` of ``offsets`` and ``lengths``.
        self._order, self._offsets, self._lengths = places
        self._spill = spill
        self._build = build
        #: Jobs that have no record (findings made in the reading process), by position.
        self._ready = ready
        self._memo: dict[int, JobInfo] = {}

    def __len__(self) -> int:
        return len(self.marks.ids)

    @property
    def ids(self) -> Sequence[str]:
        return self.marks.ids

    def _job(self, i: int) -> JobInfo:
        job = self._ready.get(i)
        if job is not None:
            return job
        at = self._order[i]
        return self._build(self._spill.read(self._offsets[at], self._lengths[at]))

    @overload
    def __getitem__(self, i: int) -> JobInfo: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[JobInfo, ...]: ...
    def __getitem__(self, i: int | slice) -> JobInfo | tuple[JobInfo, ...]:
        if isinstance(i, slice):
            return tuple(self._job(k) for k in range(*i.indices(len(self))))
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("job index out of range")
        job = self._memo.get(i)
        if job is None:
            job = self._job(i)
            if len(self._memo) >= self._MEMO:
                self._memo.clear()
            self._memo[i] = job
        return job

    def __iter__(self) -> Iterator[JobInfo]:
        for i in range(len(self)):
            yield self._job(i)

    def undecodable(self) -> tuple[JobInfo, ...]:
        flags = self.marks.flags
        return tuple(self._job(i) for i in range(len(self)) if flags[i] & UNDECODABLE)

    def __del__(self) -> None:
        self._spill.close()


def jobs_with_ids(jobs: Sequence[JobInfo], wanted: frozenset[str] | set[str]) -> dict[str, JobInfo]:
    """The jobs among ``jobs`` whose id is in ``wanted``, by id (the last one of an id)."""
    if isinstance(jobs, JobTable):
        ids = jobs.ids
        if not any(map(wanted.__contains__, ids)):  # the usual answer, without Python per job
            return {}
        return {jid: jobs[k] for k, jid in enumerate(ids) if jid in wanted}
    return {j.id: j for j in jobs if j.id in wanted}


def job_ids(jobs: Sequence[JobInfo]) -> Sequence[str]:
    """The ids of ``jobs``, in order (a table's own column)."""
    if isinstance(jobs, JobTable):
        return jobs.ids
    return [j.id for j in jobs]
