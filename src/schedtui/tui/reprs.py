"""The selected job's args/kwargs reprs, rendered on demand in the sandbox.

The console reads the store with ``reprs=False`` (rendering the reprs of 100,000 varied
rows costs ~1.7 s of worker CPU on the first screen, and only the selected job's are ever
shown). When a job is selected, a thread worker (``Feed.extras``) calls ``selected_reprs``:

1. fetch that row's bytes (``JobStoreReader.raw_state``: one query by primary key);
2. look them up in ``ReprMemo`` by the row's identity (id, column, BLAKE2b of the bytes),
   else decode that one row in the sandbox with reprs (``decode_rows(..., reprs=True)``:
   a warm worker process unpickles it; the console process never does);
3. check that the fresh decode is the row the list shows (every decoded field but the
   reprs, datetimes and zones compared exactly: ``core.exact``). The reprs come back as
   ``Reprs`` tied to that very ``JobInfo`` (``Reprs.of``), so the detail pane shows them
   only next to the fields they were checked against.

A row that changed since the list was read is not mixed with the old fields: the reprs
say so (``Reprs.changed``) and the screen asks for a refresh, which brings the new row
and its own reprs. Nothing here imports Textual.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from schedtui.core.exact import exact_key
from schedtui.core.model import NOT_RENDERED, JobInfo

#: Decoded rows kept by ``ReprMemo`` (the cursor moving back and forth over a screenful).
MEMO_SIZE = 512
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
#: JobInfo fields compared between the listed row and the fresh decode (all but the reprs).
_COMPARED = tuple(f.name for f in fields(JobInfo) if f.name not in ("args_repr", "kwargs_repr"))
#: What the detail pane shows while the reprs are being rendered.
LOADING = "…"


@dataclass(frozen=True, slots=True)
class Reprs:
    """The args/kwargs of ``of`` (the listed ``JobInfo`` they were checked against), or
    why there are none (``note``)."""

    of: JobInfo
    args: str | None = None
    kwargs: str | None = None
    #: set when ``args``/``kwargs`` are None: why (sanitized by the pane)
    note: str | None = None
    #: the stored row is no longer the listed one (changed or deleted): a refresh shows it
    changed: bool = False


def rendered(job: JobInfo) -> bool:
    """Whether the reader rendered this row's reprs itself (APScheduler 4 rows, a reader
    opened with ``reprs=True``): then they are shown as they are."""
    return job.args_repr != NOT_RENDERED or job.kwargs_repr != NOT_RENDERED


def column_of(job: JobInfo) -> float | None:
    """The ``next_run_time`` column as the reader passed it to the decoder: the listed
    datetime back to epoch seconds (exact: ``column_time`` rounds to the microsecond and
    a float holds every microsecond of these years)."""
    if job.next_run_time is None:
        return None
    return (job.next_run_time - _EPOCH) / _SECOND


def _row_key(job: JobInfo, *, column: bool = True) -> tuple[Any, ...]:
    """Every decoded field but the reprs, exactly (fold, zone, trigger); without
    ``column`` the column's own fields (next_run_time, notes) are left out."""
    out: list[Any] = []
    for name in _COMPARED:
        value = getattr(job, name)
        if name == "finding":
            out.append(None if value is None else (value.code, value.message))
        elif name == "notes":
            out.append(tuple((n.code, n.message) for n in value) if column else None)
        elif name == "next_run_time" and not column:
            out.append(None)
        else:
            out.append(exact_key(value))
    return tuple(out)


def same_row(listed: JobInfo, fresh: JobInfo) -> bool:
    """Whether ``fresh`` (decoded now from the stored bytes) is the row ``listed`` shows.

    A listed row whose column could not be read (``bad-column`` note) was decoded with a
    column value the list no longer has: its column fields are left out of the comparison
    (the reprs depend on the bytes only)."""
    column = not any(n.code == "bad-column" for n in listed.notes)
    return _row_key(listed, column=column) == _row_key(fresh, column=column)


class ReprMemo:
    """Decoded rows by identity: (id, column, BLAKE2b-128 of the bytes). A hit needs the
    very bytes that were decoded, so it can never give another version's reprs. Bounded
    (least recently used out); thread-safe."""

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, float | None, bytes], JobInfo] = OrderedDict()
        self._lock = threading.Lock()
        #: rows decoded in the sandbox (tests and the benchmark look)
        self.decoded = 0

    @staticmethod
    def key(job_id: str, column: float | None, raw: bytes) -> tuple[str, float | None, bytes]:
        return (job_id, column, hashlib.blake2b(raw, digest_size=16).digest())

    def get(self, key: tuple[str, float | None, bytes]) -> JobInfo | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, float | None, bytes], job: JobInfo) -> None:
        with self._lock:
            self._items[key] = job
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def decode_one(job_id: str, column: float | None, raw: bytes) -> JobInfo:
    """One row decoded in the sandbox, reprs included (never in this process)."""
    from schedtui.core.decode import decode_rows

    job: JobInfo = decode_rows([(job_id, column, raw)], reprs=True)[0]
    return job


def selected_reprs(raw_state: Callable[[str], bytes | None], job: JobInfo, memo: ReprMemo) -> Reprs:
    """The reprs of the listed ``job`` as stored now (see the module's docstring);
    ``raw_state`` is ``JobStoreReader.raw_state``. Raises what it raises (the caller
    words it)."""
    if rendered(job):
        return Reprs(of=job, args=job.args_repr, kwargs=job.kwargs_repr)
    raw = raw_state(job.id)
    if raw is None:
        return Reprs(of=job, note="this job is no longer in the store", changed=True)
    column = column_of(job)
    key = ReprMemo.key(job.id, column, raw)
    fresh = memo.get(key)
    if fresh is None:
        fresh = decode_one(job.id, column, raw)
        memo.decoded += 1
        if fresh.finding is None or fresh.finding.code not in _TRANSIENT:
            memo.put(key, fresh)
    if fresh.finding is not None and job.finding is None and fresh.finding.code in _TRANSIENT:
        # the sandbox did not get to the row (overloaded machine, a worker that died)
        return Reprs(of=job, note=f"not rendered ({fresh.finding.code}: {fresh.finding.message})")
    if not same_row(job, fresh):
        return Reprs(of=job, note="this job changed since the list was read", changed=True)
    if fresh.finding is not None:
        return Reprs(of=job, note=f"undecodable: {fresh.finding.code}")
    return Reprs(of=job, args=fresh.args_repr, kwargs=fresh.kwargs_repr)


#: Findings that say the sandbox did not get to the row (not what the row is): not memoized.
_TRANSIENT = frozenset({"too-slow", "time-budget", "internal"})
