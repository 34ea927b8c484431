"""Stage 1b, in the reading process: a one-shot read's results as a ``core.jobtable.JobTable``.

``decode_rows(..., records=True)`` hands back each decoded row as its ``wire`` record
instead of a rebuilt ``JobInfo``. ``TableBuilder`` reads from each record only what
``check`` judges (id, the next run's UTC instant, the misfire grace, a finding, whether
the trigger holds an ``AndTrigger``), checking the type of each, and spills the record to
the table's temporary file; ``wire.job`` rebuilds (and checks) the whole ``JobInfo`` when
somebody asks for that job. A record whose judged part is not what a worker writes
becomes an ``internal`` finding, as it would in ``wire.job``.
"""

from __future__ import annotations

import marshal
from array import array
from typing import Any

from schedtui.core.decode import wire
from schedtui.core.decode.findings import not_decoded
from schedtui.core.jobtable import (
    HAS_AND,
    PAUSED,
    UNDECODABLE,
    JobTable,
    Marks,
    Spill,
    grace_of,
    instant_us,
    job_mark,
)
from schedtui.core.model import JobInfo


def _build(data: bytes) -> JobInfo:
    """``wire.job``, with a record that does not rebuild turned into a finding."""
    try:
        return wire.job(data)
    except wire.WireError as exc:
        jid = ""
        try:
            v = marshal.loads(data)
            jid = v[0] if type(v[0]) is str else ""
        except Exception:
            pass
        return not_decoded((jid, None, b""), "internal", f"decoder error: {exc}")


def _holds_and(t: Any, depth: int = 0) -> bool:
    """Whether the wire tuple of a trigger is or holds an and-trigger."""
    if type(t) is not tuple or len(t) != 13 or depth > 16:
        raise wire.WireError("trigger is not a trigger record")
    if t[0] == "and":
        return True
    children = t[12]
    if children == ():
        return False
    if type(children) is not tuple:
        raise wire.WireError("trigger children are not a tuple")
    return any(_holds_and(c, depth + 1) for c in children)


#: What ``check`` judges of one record: (id, ``instant_us`` of the next run or ``PAUSED``,
#: ``grace_of`` the misfire grace, ``HAS_AND``/``UNDECODABLE`` bits). Plain values, so the
#: repeated-probe cache keeps it beside the record.
Head = tuple[str, int, float, int]


def head(data: bytes) -> Head:
    """The judged part of a worker's ``wire`` record, each type checked (``WireError``)."""
    try:
        v = marshal.loads(data)
    except (EOFError, ValueError, TypeError) as exc:
        raise wire.WireError(f"unreadable results: {exc}") from None
    if type(v) is not tuple or len(v) != 16:
        raise wire.WireError("not a job record")
    jid, column, finding, trigger, mgt = v[0], v[1], v[3], v[6], v[10]
    if type(jid) is not str or not (mgt is None or type(mgt) is int or type(mgt) is float):
        raise wire.WireError("unexpected field type")
    if finding is not None and (type(finding) is not tuple or len(finding) != 2):
        raise wire.WireError("not a finding")
    try:
        col = wire._to_dt(column)
    except (ValueError, TypeError, OverflowError) as exc:
        raise wire.WireError(f"invalid results: {exc}") from None
    flags = UNDECODABLE if finding is not None else 0
    if trigger is not None and _holds_and(trigger):
        flags |= HAS_AND
    return (jid, PAUSED if col is None else instant_us(col), grace_of(mgt), flags)


def checked_head(value: object) -> Head | None:
    """``value`` if it is a ``Head`` (from the repeated-probe cache), else None."""
    if (
        type(value) is tuple
        and len(value) == 4
        and type(value[0]) is str
        and type(value[1]) is int
        and type(value[2]) is float
        and type(value[3]) is int
    ):
        return value
    return None


class TableBuilder:
    """Collects one read's results (in any order) and sorts them into a ``JobTable``."""

    def __init__(self, *, resident: bool = False) -> None:
        #: Records are kept by reference (they are in memory anyway: the repeated-probe
        #: cache holds them), else written to the table's temporary file.
        self._keep = resident
        self._spill = Spill()
        self._ids: list[str] = []
        self._instants = array("q")
        self._graces = array("d")
        self._flags = bytearray()
        self._offsets = array("q")
        self._lengths = array("q")
        self._ready: dict[int, JobInfo] = {}

    def add(self, result: tuple[Head, bytes] | JobInfo) -> None:
        """One row's result: a worker's ``wire`` record with its ``head``, or a ``JobInfo``
        made here (a finding)."""
        if type(result) is JobInfo:
            self._add_job(result)
            return
        (jid, instant, grace, flags), data = result  # type: ignore[misc]
        at, length = self._spill.keep(data) if self._keep else self._spill.append(data)
        self._ids.append(jid)
        self._instants.append(instant)
        self._graces.append(grace)
        self._flags.append(flags)
        self._offsets.append(at)
        self._lengths.append(length)

    def _add_job(self, job: JobInfo) -> None:
        self._ready[len(self._ids)] = job
        jid, instant, grace, flags = job_mark(job)
        self._ids.append(jid)
        self._instants.append(instant)
        self._graces.append(grace)
        self._flags.append(flags)
        self._offsets.append(-1)
        self._lengths.append(0)

    def finish(self) -> JobTable:
        """The table, in ``store.sort_key`` order: next run's UTC instant (paused jobs
        last), then id."""
        self._spill.flush()
        ids, instants = self._ids, self._instants
        order = sorted(range(len(ids)), key=ids.__getitem__)
        order.sort(key=instants.__getitem__)  # stable: by instant, then id
        ready = {new: self._ready[old] for new, old in enumerate(order) if old in self._ready}
        marks = Marks(
            ids=tuple([ids[i] for i in order]),
            instants=array("q", [instants[i] for i in order]),
            graces=array("d", [self._graces[i] for i in order]),
            flags=bytes([self._flags[i] for i in order]),
        )
        places = (array("q", [self._offsets[i] for i in order]), array("q", [self._lengths[i] for i in order]))
        return JobTable(marks, places, self._spill, _build, ready)
