"""Stage 2 of the worker: one ``job_state`` -> the validated fields of a ``JobInfo``.

``safe_fields(id, next_run_time, job_state)`` (what a decode worker runs per row) never
raises: it checks the bytes' type, size and protocol, unpickles them once with the
restricted unpickler (``decode.unpickler``, through the trigger-segment cache
``decode.segments`` when that is on), validates the state dict key by key (``version`` 1,
the required keys, each value's exact type and range), reduces the trigger with
``decode.triggers``, renders args/kwargs with the bounded ``decode.saferepr``, and compares
the column with the pickled ``next_run_time`` (notes such as ``next-run-mismatch``).

``decode_state(data)`` returns the validated state dict (its ``trigger`` a ``TriggerSpec``)
or raises ``DecodeError``; ``decode_serial(rows)`` decodes in THIS process.

Safety argument: this runs only in a sandbox worker (or on trusted bytes); every value that
leaves it is a plain value of a checked type, a ``TriggerSpec`` or a bounded string, and
anything shared between rows is keyed by everything that defines it (``core.exact``: fold
and zone included, never ``==``), so no row's result depends on the rows before it.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from schedtui.core import gcpause
from schedtui.core.decode import segments, unpickler
from schedtui.core.decode.findings import (
    MAX_ROW_BYTES,
    DecodeError,
    JobFields,
    classify,
    column_notes,
    column_time,
    failed_fields,
    protocol_of,
    state_size,
)
from schedtui.core.decode.saferepr import safe_repr
from schedtui.core.decode.triggers import aware, bad_value, trigger_spec
from schedtui.core.model import NOT_RENDERED, DecodeFinding, JobInfo, TriggerSpec, job_from_fields

#: Rows decoded between two re-arms of the memory guard in ``decode_serial``.
GUARD_BATCH = 2000
#: The column and the pickled next_run_time may differ by this much before a note.
MISMATCH_TOLERANCE = 1.0

#: A validated job state's values in ``_STATE_KEYS`` order.
_Validated = tuple[
    int, str | None, str, TriggerSpec, str | None, tuple[object, ...], dict[object, object], str | None,
    float | None, bool, int, datetime | None,
]  # fmt: skip


def _load(data: object) -> tuple[object, TriggerSpec | None]:
    """The unpickled state and, when its trigger segment was cached, its ``TriggerSpec``."""
    if type(data) is not bytes:
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        else:
            raise DecodeError("bad-type", f"job_state is {type(data).__name__}, not bytes")
    if not data:
        raise DecodeError("empty", "job_state is empty")
    if len(data) > MAX_ROW_BYTES:
        raise DecodeError("too-large", f"job_state is {len(data)} bytes (limit {MAX_ROW_BYTES})")
    if data[0] == 0x80 and len(data) > 1 and data[1] > pickle.HIGHEST_PROTOCOL:
        raise DecodeError("future-version", f"pickle protocol {data[1]} is newer than this Python reads")
    try:
        return _unpickled(data)
    except Exception as exc:
        raise classify(exc) from None


def _unpickled(data: bytes) -> tuple[object, TriggerSpec | None]:
    """The unpickling itself (through the segment cache unless it is off)."""
    if segments.ENABLED:
        return segments.CACHE.load(data, trigger_spec)  # type: ignore[return-value]
    return unpickler.loads(data), None


# --------------------------------------------------------------------------- job state

_REQUIRED = (
    "id",
    "func",
    "trigger",
    "executor",
    "args",
    "kwargs",
    "name",
    "misfire_grace_time",
    "coalesce",
    "max_instances",
)
_REQUIRED_SET = frozenset(_REQUIRED)


def _short_str(value: object, what: str, limit: int = 1000, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if type(value) is not str or len(value) > limit:
        raise bad_value(what, "is not a string")
    return value


_STATE_KEYS = (
    "version", "id", "func", "trigger", "executor", "args", "kwargs", "name", "misfire_grace_time", "coalesce",
    "max_instances", "next_run_time",
)  # fmt: skip


def _validated(obj: object, spec: TriggerSpec | None) -> _Validated:
    """The checked job state as a tuple in ``_STATE_KEYS`` order; ``spec`` is its trigger
    when already validated (a segment-cache hit: ``obj["trigger"]`` is then a stand-in)."""
    if type(obj) is not dict:
        raise DecodeError("bad-shape", f"job state is a {type(obj).__name__}, not a dict")
    version = obj.get("version", 1)
    if type(version) is not int or version < 1:
        raise DecodeError("bad-shape", "job state has an invalid version")
    if version > 1:
        raise DecodeError("future-version", f"job state version {version} is newer than APScheduler 3.x writes")
    if not obj.keys() >= _REQUIRED_SET:
        missing = [k for k in _REQUIRED if k not in obj]
        raise DecodeError("bad-shape", f"job state lacks {', '.join(missing)}")
    func = _short_str(obj["func"], "func")
    assert func is not None
    if ":" not in func:
        raise bad_value("func", "is not a 'module:name' reference")
    args = obj["args"]
    if type(args) is list:
        args = tuple(args)
    if type(args) is not tuple:
        raise bad_value("args", "is not a tuple")
    kwargs = obj["kwargs"]
    if type(kwargs) is not dict:
        raise bad_value("kwargs", "is not a dict")
    mgt = obj["misfire_grace_time"]
    if mgt is not None and (type(mgt) not in (int, float) or not mgt >= 0 or mgt == math.inf):
        raise bad_value("misfire_grace_time")
    coalesce = obj["coalesce"]
    if type(coalesce) is not bool:
        raise bad_value("coalesce", "is not a boolean")
    max_instances = obj["max_instances"]
    if type(max_instances) is not int or max_instances < 1:
        raise bad_value("max_instances")
    return (
        version,
        _short_str(obj["id"], "id"),
        func,
        spec if spec is not None else trigger_spec(obj["trigger"]),
        _short_str(obj["executor"], "executor", 200),
        args,
        kwargs,
        _short_str(obj["name"], "name", optional=True),
        mgt,
        coalesce,
        max_instances,
        aware(obj.get("next_run_time"), "next_run_time"),
    )


def decode_state(data: bytes) -> dict[str, Any]:
    """The decoded, validated state dict of one ``job_state`` (raises ``DecodeError``)."""
    with unpickler.memory_guard():
        return _decode_state(data)


def _decode_state(data: object) -> dict[str, Any]:
    return dict(zip(_STATE_KEYS, _decode_tuple(data), strict=True))


def _decode_tuple(data: object) -> _Validated:
    obj, spec = _load(data)
    try:
        return _validated(obj, spec)
    except DecodeError:
        raise
    except Exception as exc:
        raise classify(exc) from None


# --------------------------------------------------------------------------- rows


#: Column floats -> datetimes: on stores where many jobs run at the same instants this
#: pays (~0.15 s per 100,000 rows); where every instant is new it costs ~0.05 s. A float
#: defines its datetime exactly (``findings.column_time``), so the key is the whole value.
_COLUMN_MAX = 65_536
_COLUMN_TIMES: dict[float, datetime | None] = {}


def _column_time(value: object) -> datetime | None:
    if type(value) is float:
        found = _COLUMN_TIMES.get(value)
        if found is None:
            found = column_time(value)
            if len(_COLUMN_TIMES) >= _COLUMN_MAX:
                _COLUMN_TIMES.clear()
            _COLUMN_TIMES[value] = found
        return found
    return column_time(value)


# ``_row_fields`` and ``findings.failed_fields`` build ``JobInfo``'s sixteen fields as a tuple,
# in order (``model.job_from_fields`` checks the order): decode workers send these tuples back.


def _row_fields(job_id: str, next_run_time: float | None, job_state: bytes, reprs: bool) -> JobFields:
    column = _column_time(next_run_time)
    size = state_size(job_state)
    try:
        (_v, st_id, func, trigger, executor, args, kwargs, name, mgt, coalesce, max_instances, pickled) = _decode_tuple(
            job_state
        )
    except DecodeError as exc:
        return failed_fields(
            job_id, column, size, exc.finding(), protocol_of(job_state), column_notes(next_run_time, column)
        )
    notes = list(column_notes(next_run_time, column))
    if (column is None) != (pickled is None):
        if column is None and next_run_time is None:
            notes.append(DecodeFinding("next-run-mismatch", "column says paused but the pickle has a next run time"))
        elif column is not None:
            notes.append(DecodeFinding("next-run-mismatch", "column has a next run time but the pickle says paused"))
    elif column is not None and pickled is not None and column != pickled:
        if abs((column - pickled).total_seconds()) > MISMATCH_TOLERANCE:
            notes.append(
                DecodeFinding(
                    "next-run-mismatch",
                    f"column next_run_time {column.isoformat()} differs from the pickle's {pickled.isoformat()}",
                )
            )
    if st_id != job_id:
        notes.append(DecodeFinding("id-mismatch", f"the pickle's id is {safe_repr(st_id, max_len=60)}"))
    return (
        job_id,
        column,
        size,
        None,
        name,
        func,
        trigger,
        executor,
        (safe_repr(args) if args else "()") if reprs else NOT_RENDERED,
        (safe_repr(kwargs) if kwargs else "{}") if reprs else NOT_RENDERED,
        mgt,
        coalesce,
        max_instances,
        pickled,
        tuple(notes),
        protocol_of(job_state),
    )


def safe_fields(job_id: object, next_run_time: Any, job_state: Any, reprs: bool = True) -> JobFields:
    """The ``JobInfo`` fields of one stored row (what a decode worker runs). Never raises.
    Without ``reprs`` the args/kwargs of a decoded row are ``NOT_RENDERED`` (their safe
    reprs are a quarter of the work on a store with application objects in them)."""
    jid = job_id if type(job_id) is str else safe_repr(job_id, max_len=191)
    try:
        return _row_fields(jid, next_run_time, job_state, reprs)
    except Exception as exc:
        finding = (
            classify(exc).finding()
            if isinstance(exc, (MemoryError, RecursionError))
            else DecodeFinding("internal", f"decoder error: {type(exc).__name__}")
        )
        column = _column_time(next_run_time)
        return failed_fields(jid, column, state_size(job_state), finding, None, column_notes(next_run_time, column))


def _safe_row(job_id: object, next_run_time: Any, job_state: Any, reprs: bool) -> JobInfo:
    return job_from_fields(safe_fields(job_id, next_run_time, job_state, reprs))


def decode_serial(rows: list[Sequence[Any]], *, reprs: bool = True) -> list[JobInfo]:
    """Decode in THIS process (inside a decode worker, or for trusted callers)."""
    out: list[JobInfo] = []
    # The cyclic GC would re-scan everything decoded so far again and again (it tripled
    # the cost per row), and re-enabling it between batches ran a full collection of all
    # rows decoded so far each time: it stays paused for the whole call (a pickle's own
    # cycles are collected once it runs again). Only the memory guard is re-armed per batch.
    with gcpause.paused():
        for start in range(0, len(rows), GUARD_BATCH):
            with unpickler.memory_guard():
                for i in range(start, min(start + GUARD_BATCH, len(rows))):
                    row = rows[i]
                    out.append(_safe_row(row[0], row[1], row[2], reprs))
    return out
