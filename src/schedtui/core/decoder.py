"""Decode ``job_state`` pickles without trusting them and without the application's code.

- ``decode_row(job_id, next_run_time, job_state) -> JobInfo`` never raises: a row that
  cannot be decoded comes back with ``finding`` set.
- ``decode_rows(rows) -> list[JobInfo]`` does the same in bulk (with the memory guard
  armed once per batch).
- ``decode_state(data) -> dict`` returns the validated state dict (its ``trigger`` a
  ``TriggerSpec``) or raises ``DecodeError(code, message)``.

Safety comes from ``_unpickle`` (vetted call shapes, inert placeholders, memory guard);
this module turns the placeholder tree into validated values. Finding codes: ``too-large``,
``empty``, ``bad-type``, ``truncated``, ``malformed``, ``trailing-data``,
``forbidden-global``, ``forbidden-opcode``, ``forbidden-build``, ``memory``, ``too-deep``,
``bad-shape``, ``bad-trigger``, ``bad-value``, ``naive-datetime``, ``future-version``,
``unknown-timezone``, ``too-slow``, ``time-budget``, ``internal``.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from apscheduler.triggers.cron import CronTrigger as _Aps_CronTrigger

from schedtui.core import _sandbox, _segment_cache, _unpickle, tzshim
from schedtui.core._unpickle import ApsPlaceholder, UnpickleError
from schedtui.core.exact import datetime_key
from schedtui.core.model import CRON_FIELD_NAMES, DecodeFinding, JobInfo, TriggerSpec, job_from_fields
from schedtui.core.saferepr import safe_repr

#: Rows larger than this are not decoded (``too-large``).
MAX_ROW_BYTES = 1024 * 1024
#: Nesting limit of and/or triggers.
MAX_TRIGGER_DEPTH = 8
#: Rows decoded between two re-arms of the memory guard in ``decode_rows``.
GUARD_BATCH = 2000
#: Seconds a decode worker may spend on one row (``too-slow`` beyond).
ROW_DEADLINE = _sandbox.ROW_LIMIT
#: The column and the pickled next_run_time may differ by this much before a note.
MISMATCH_TOLERANCE = 1.0

UTC = UTC
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: The attributes of an unpickled APScheduler object: untrusted, checked key by key.
_State = dict[str, object]
#: ``validate_state``'s values in ``_STATE_KEYS`` order.
_Validated = tuple[
    int, str | None, str, TriggerSpec, str | None, tuple[object, ...], dict[object, object], str | None,
    float | None, bool, int, datetime | None,
]  # fmt: skip
#: ``JobInfo``'s sixteen fields in order (``model.job_from_fields``).
_JobFields = tuple[object, ...]


class DecodeError(Exception):
    """A job state that cannot be decoded; ``code`` is stable, ``message`` one sentence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def finding(self) -> DecodeFinding:
        return DecodeFinding(self.code, self.message)


# --------------------------------------------------------------------------- unpickling


def _classify(exc: BaseException) -> DecodeError:
    if isinstance(exc, UnpickleError):
        return DecodeError(exc.code, exc.message)
    if isinstance(exc, MemoryError):
        return DecodeError("memory", "the pickle asks for more memory than a job state can need")
    if isinstance(exc, RecursionError):
        return DecodeError("too-deep", "the pickle is nested too deeply")
    if isinstance(exc, tzshim.ZoneError):
        return DecodeError("bad-shape", str(exc))
    text = str(exc)[:160]
    if isinstance(exc, EOFError) or "truncated" in text or "ran out of input" in text.lower():
        return DecodeError("truncated", "the pickle ends early (truncated or missing STOP)")
    return DecodeError("malformed", f"not a valid pickle: {type(exc).__name__}: {text}")


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
        raise _classify(exc) from None


def _unpickled(data: bytes) -> tuple[object, TriggerSpec | None]:
    """The unpickling itself (through the segment cache unless it is off)."""
    if _segment_cache.ENABLED:
        return _segment_cache.CACHE.load(data, trigger_spec)  # type: ignore[return-value]
    return _unpickle.loads(data), None


def _protocol(data: object) -> int | None:
    if isinstance(data, (bytes, bytearray)) and len(data) > 1 and data[0] == 0x80:
        return data[1]
    return None


# --------------------------------------------------------------------------- values


def _bad(what: str, why: str = "has an invalid value") -> DecodeError:
    return DecodeError("bad-value", f"{what} {why}")


def _aware(value: object, what: str, *, optional: bool = True) -> datetime | None:
    if value is None and optional:
        return None
    if type(value) is not datetime:
        raise _bad(what, "is not a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise DecodeError("naive-datetime", f"{what} has no time zone")
    return value


def _opt_date(value: object, what: str) -> date | None:
    if value is None:
        return None
    if type(value) is not date:
        raise _bad(what, "is not a date")
    return value


def _tz(value: object, what: str = "timezone") -> tzinfo:
    if value is None:
        raise _bad(what, "is missing")
    try:
        tz = tzshim.trigger_zone(value)
    except tzshim.ZoneError as exc:
        raise DecodeError("unknown-timezone" if "unknown" in str(exc) else "bad-value", f"{what}: {exc}") from None
    assert tz is not None
    return tz


def _jitter(value: object) -> int | None:
    if value is None:
        return None
    if not (type(value) is int or type(value) is float) or not 0 <= value <= 10 * 365 * 86400 or value != value:
        raise _bad("jitter")
    return int(value)


def _state_of(obj: object, what: str) -> _State:
    """The attributes of an APScheduler placeholder (filled by BUILD)."""
    try:
        state = obj.__dict__ if isinstance(obj, ApsPlaceholder) else None
    except AttributeError:
        state = None
    if type(state) is not dict:
        raise DecodeError("bad-trigger", f"{what} is not an APScheduler object")
    return state


def _version(state: _State, what: str, newest: int) -> None:
    v = state.get("version", 1)
    if type(v) is not int or v < 1:
        raise DecodeError("bad-trigger", f"{what} state has an invalid version")
    if v > newest:
        raise DecodeError("future-version", f"{what} state version {v} is newer than APScheduler 3.x writes")


# --------------------------------------------------------------------------- cron

_FIELD_CLASS = {
    "year": "BaseField",
    "month": "MonthField",
    "day": "DayOfMonthField",
    "week": "WeekField",
    "day_of_week": "DayOfWeekField",
    "hour": "BaseField",
    "minute": "BaseField",
    "second": "BaseField",
}
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_POSITIONS = ("1st", "2nd", "3rd", "4th", "5th", "last")

#: (field name, expression) -> validated by APScheduler's own field classes.
_VALID_FIELDS: dict[tuple[str, str], bool] = {}
_MAX_VALID_CACHE = 8192


def _int_in(value: object, lo: int, hi: int, what: str) -> int:
    if type(value) is not int or not lo <= value <= hi:
        raise DecodeError("bad-trigger", f"cron {what} is out of range")
    return value


def _opt_step(value: object) -> int | None:
    if value is None:
        return None
    return _int_in(value, 1, 10_000, "step")


def _expr_all(st: _State) -> str:
    step = _opt_step(st.get("step"))
    return f"*/{step}" if step else "*"


def _expr_range(st: _State) -> str:
    first = _int_in(st.get("first"), 0, 9999, "range start")
    last = st.get("last")
    step = _opt_step(st.get("step"))
    if last is not None:
        last = _int_in(last, 0, 9999, "range end")
    text = f"{first}-{last}" if last is not None and last != first else str(first)
    return f"{text}/{step}" if step else text


def _expr_month(st: _State) -> str:
    first = _int_in(st.get("first"), 1, 12, "month")
    last = st.get("last")
    if last is not None and last != first:
        return f"{_MONTHS[first - 1]}-{_MONTHS[_int_in(last, 1, 12, 'month') - 1]}"
    return _MONTHS[first - 1]


def _expr_weekday(st: _State) -> str:
    first = _int_in(st.get("first"), 0, 6, "weekday")
    last = st.get("last")
    if last is not None and last != first:
        return f"{_WEEKDAYS[first]}-{_WEEKDAYS[_int_in(last, 0, 6, 'weekday')]}"
    return _WEEKDAYS[first]


def _expr_position(st: _State) -> str:
    opt = _int_in(st.get("option_num"), 0, 5, "weekday position")
    wd = _int_in(st.get("weekday"), 0, 6, "weekday")
    return f"{_POSITIONS[opt]} {_WEEKDAYS[wd]}"


def _expr_last(st: _State) -> str:
    return "last"


_EXPR_RENDER = {
    _unpickle.placeholder_class("apscheduler.triggers.cron.expressions", name): fn
    for name, fn in (
        ("AllExpression", _expr_all),
        ("RangeExpression", _expr_range),
        ("MonthRangeExpression", _expr_month),
        ("WeekdayRangeExpression", _expr_weekday),
        ("WeekdayPositionExpression", _expr_position),
        ("LastDayOfMonthExpression", _expr_last),
    )
}
_FIELD_CLASSES = {
    name: _unpickle.placeholder_class("apscheduler.triggers.cron.fields", cls) for name, cls in _FIELD_CLASS.items()
}


_ALL_EXPR = _unpickle.placeholder_class("apscheduler.triggers.cron.expressions", "AllExpression")


def _expr_str(expr: object) -> str:
    render = _EXPR_RENDER.get(type(expr))
    if render is None:
        raise DecodeError("bad-trigger", "cron expression has an unexpected class")
    return render(expr.__dict__)


def _validate_field(name: str, text: str) -> None:
    key = (name, text)
    if key in _VALID_FIELDS:
        return
    try:
        field = _Aps_CronTrigger.FIELDS_MAP[name](name, text)
        ok = str(field) == text
    except Exception:
        ok = False
    if not ok:
        raise DecodeError("bad-trigger", f"cron field {name}={text[:40]!r} is not valid")
    if len(_VALID_FIELDS) < _MAX_VALID_CACHE:
        _VALID_FIELDS[key] = True


def _cron(state: _State) -> TriggerSpec:
    _version(state, "CronTrigger", 2)
    tz = _tz(state.get("timezone"))
    fields = state.get("fields")
    if type(fields) is not list or len(fields) != len(CRON_FIELD_NAMES):
        raise DecodeError("bad-trigger", "CronTrigger must have 8 fields")
    out = []
    explicit = []
    valid = _VALID_FIELDS
    for expected, field in zip(CRON_FIELD_NAMES, fields):
        if type(field) is not _FIELD_CLASSES[expected]:
            raise DecodeError("bad-trigger", f"cron field {expected} has an unexpected class")
        fst = field.__dict__
        if fst.get("name") != expected:
            raise DecodeError("bad-trigger", "cron fields are out of order")
        is_default = fst.get("is_default")
        if is_default is not True and is_default is not False:
            raise DecodeError("bad-trigger", "cron field is_default is not a boolean")
        exprs = fst.get("expressions")
        if type(exprs) is not list or not 1 <= len(exprs) <= 64:
            raise DecodeError("bad-trigger", f"cron field {expected} has no expressions")
        if len(exprs) == 1:
            e = exprs[0]
            if type(e) is _ALL_EXPR and e.__dict__.get("step") is None:
                text = "*"
            else:
                text = _expr_str(e)
        else:
            text = ",".join([_expr_str(e) for e in exprs])
        if (expected, text) not in valid:
            _validate_field(expected, text)
        out.append((expected, text))
        if not is_default:
            explicit.append(expected)
    return TriggerSpec(
        kind="cron",
        timezone=tzshim.zone_name(tz),
        tz=tz,
        start_date=_aware(state.get("start_date"), "start_date"),
        end_date=_aware(state.get("end_date"), "end_date"),
        jitter=_jitter(state.get("jitter")),
        cron=tuple(out),
        cron_explicit=frozenset(explicit),
    )


# --------------------------------------------------------------------------- other triggers


def _interval(state: _State) -> TriggerSpec:
    _version(state, "IntervalTrigger", 2)
    interval = state.get("interval")
    if type(interval) is not timedelta or interval <= timedelta(0):
        raise DecodeError("bad-trigger", "interval must be a positive timedelta")
    tz = _tz(state.get("timezone"))
    return TriggerSpec(
        kind="interval",
        timezone=tzshim.zone_name(tz),
        tz=tz,
        start_date=_aware(state.get("start_date"), "start_date"),
        end_date=_aware(state.get("end_date"), "end_date"),
        jitter=_jitter(state.get("jitter")),
        interval=interval,
    )


def _date(state: _State) -> TriggerSpec:
    _version(state, "DateTrigger", 1)
    run_date = _aware(state.get("run_date"), "run_date", optional=False)
    return TriggerSpec(kind="date", run_date=run_date)


def _calendar(state: _State) -> TriggerSpec:
    _version(state, "CalendarIntervalTrigger", 1)
    interval = state.get("interval")
    if not (type(interval) is list or type(interval) is tuple) or len(interval) != 4:
        raise DecodeError("bad-trigger", "calendar interval must be [years, months, weeks, days]")
    parts = tuple(_int_in(v, 0, 10_000, "calendar interval") for v in interval)
    if not any(parts):
        raise DecodeError("bad-trigger", "calendar interval is zero")
    t = state.get("time")
    if not (type(t) is list or type(t) is tuple) or len(t) != 3:
        raise DecodeError("bad-trigger", "calendar time must be (hour, minute, second)")
    hms = (_int_in(t[0], 0, 23, "hour"), _int_in(t[1], 0, 59, "minute"), _int_in(t[2], 0, 59, "second"))
    tz = _tz(state.get("timezone"))
    start = _opt_date(state.get("start_date"), "start_date")
    end = _opt_date(state.get("end_date"), "end_date")
    return TriggerSpec(
        kind="calendarinterval",
        timezone=tzshim.zone_name(tz),
        tz=tz,
        start_date=None if start is None else datetime(start.year, start.month, start.day, tzinfo=tz),
        end_date=None if end is None else datetime(end.year, end.month, end.day, tzinfo=tz),
        jitter=_jitter(state.get("jitter")),
        calendar=parts,  # type: ignore[arg-type]
        calendar_time=hms,
    )


def _combining(kind: str, state: _State, depth: int) -> TriggerSpec:
    _version(state, "AndTrigger" if kind == "and" else "OrTrigger", 1)
    triggers = state.get("triggers")
    if type(triggers) is not list or not 1 <= len(triggers) <= 32:
        raise DecodeError("bad-trigger", f"{kind} trigger needs 1 to 32 children")
    children = []
    for item in triggers:
        if type(item) not in (tuple, list) or len(item) != 2 or type(item[0]) is not str or type(item[1]) is not dict:
            raise DecodeError("bad-trigger", f"{kind} trigger children must be ('module:Class', state) pairs")
        ref = item[0]
        child_kind = _REF_KINDS.get(ref)
        if child_kind is None:
            raise DecodeError("bad-trigger", f"{kind} trigger child class {ref[:80]!r} is not an APScheduler trigger")
        children.append(_from_state(child_kind, item[1], depth + 1))
    return TriggerSpec(kind=kind, jitter=_jitter(state.get("jitter")), children=tuple(children))  # type: ignore[arg-type]


_TRIGGER_KINDS = {
    "apscheduler.triggers.cron.CronTrigger": "cron",
    "apscheduler.triggers.interval.IntervalTrigger": "interval",
    "apscheduler.triggers.date.DateTrigger": "date",
    "apscheduler.triggers.calendarinterval.CalendarIntervalTrigger": "calendarinterval",
    "apscheduler.triggers.combining.AndTrigger": "and",
    "apscheduler.triggers.combining.OrTrigger": "or",
}
_TRIGGER_CLASS_KINDS = {
    _unpickle.placeholder_class(*name.rsplit(".", 1)): kind for name, kind in _TRIGGER_KINDS.items()
}
#: ``"module:Class"`` strings inside and/or states (``obj_to_ref`` of the class).
_REF_KINDS = {name.rpartition(".")[0] + ":" + name.rpartition(".")[2]: kind for name, kind in _TRIGGER_KINDS.items()}


def _from_state(kind: str, state: _State, depth: int) -> TriggerSpec:
    if depth > MAX_TRIGGER_DEPTH:
        raise DecodeError("bad-trigger", "and/or triggers are nested too deeply")
    if kind == "cron":
        return _cron(state)
    if kind == "interval":
        return _interval(state)
    if kind == "date":
        return _date(state)
    if kind == "calendarinterval":
        return _calendar(state)
    return _combining(kind, state, depth)


def trigger_spec(obj: object) -> TriggerSpec:
    """Validate a decoded trigger placeholder and reduce it to a ``TriggerSpec``."""
    if not isinstance(obj, ApsPlaceholder):
        raise DecodeError("bad-trigger", f"trigger is a {type(obj).__name__}, not an APScheduler trigger")
    kind = _TRIGGER_CLASS_KINDS.get(type(obj))
    if kind is None:
        raise DecodeError("bad-trigger", f"trigger class {type(obj).ph_name()[:80]} is not an APScheduler trigger")
    return _from_state(kind, _state_of(obj, "trigger"), 0)


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
        raise _bad(what, "is not a string")
    return value


_STATE_KEYS = (
    "version", "id", "func", "trigger", "executor", "args", "kwargs", "name", "misfire_grace_time", "coalesce",
    "max_instances", "next_run_time",
)  # fmt: skip


def validate_state(obj: object, spec: TriggerSpec | None = None) -> dict[str, Any]:
    """Check a decoded job state; return a new dict with ``trigger`` as a ``TriggerSpec``.

    ``spec`` is the trigger already validated (a segment-cache hit: ``obj["trigger"]`` is
    then only a stand-in).
    """
    return dict(zip(_STATE_KEYS, _validated(obj, spec), strict=True))


def _validated(obj: object, spec: TriggerSpec | None) -> _Validated:
    """``validate_state`` as a tuple in ``_STATE_KEYS`` order."""
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
        raise _bad("func", "is not a 'module:name' reference")
    args = obj["args"]
    if type(args) is list:
        args = tuple(args)
    if type(args) is not tuple:
        raise _bad("args", "is not a tuple")
    kwargs = obj["kwargs"]
    if type(kwargs) is not dict:
        raise _bad("kwargs", "is not a dict")
    mgt = obj["misfire_grace_time"]
    if mgt is not None and (type(mgt) not in (int, float) or not mgt >= 0 or mgt == math.inf):
        raise _bad("misfire_grace_time")
    coalesce = obj["coalesce"]
    if type(coalesce) is not bool:
        raise _bad("coalesce", "is not a boolean")
    max_instances = obj["max_instances"]
    if type(max_instances) is not int or max_instances < 1:
        raise _bad("max_instances")
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
        _aware(obj.get("next_run_time"), "next_run_time"),
    )


def decode_state(data: bytes) -> dict[str, Any]:
    """The decoded, validated state dict of one ``job_state`` (raises ``DecodeError``)."""
    with _unpickle.memory_guard():
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
        raise _classify(exc) from None


# --------------------------------------------------------------------------- rows


#: Equal values decoded once and shared: many jobs run at the same instants and share
#: function names; one object each saves memory (and pickle work for the decode workers,
#: whose pickler then writes a memo reference instead of another copy).
_SHARED_MAX = 65_536
_COLUMN_TIMES: dict[object, datetime | None] = {}
_SHARED: dict[object, object] = {}


#: (id(column datetime), id(pickled datetime)) -> whether they are the same instant, for
#: objects held by the two caches above (cleared with them, so the ids stay theirs).
_SAME_INSTANT: dict[tuple[int, int], bool] = {}


def _shared(value: Any, key: object) -> Any:
    found = _SHARED.get(key)
    if found is not None:
        return found
    if len(_SHARED) >= _SHARED_MAX:
        _SHARED.clear()
        _SAME_INSTANT.clear()
    _SHARED[key] = value
    return value


def _column_time(value: object) -> datetime | None:
    if type(value) is float:
        found = _COLUMN_TIMES.get(value)
        if found is None:
            found = _column_time_of(value)
            if len(_COLUMN_TIMES) >= _SHARED_MAX:
                _COLUMN_TIMES.clear()
                _SAME_INSTANT.clear()
            _COLUMN_TIMES[value] = found
        return found
    return _column_time_of(value)


def _same_instant(column: datetime, pickled: datetime, cached: bool) -> bool:
    """``column == pickled`` (an aware comparison across zones costs ~0.5 µs), remembered
    when both come from the caches."""
    if not cached:
        return column == pickled
    key = (id(column), id(pickled))
    same = _SAME_INSTANT.get(key)
    if same is None:
        if len(_SAME_INSTANT) >= _SHARED_MAX:
            _SAME_INSTANT.clear()
        same = _SAME_INSTANT[key] = column == pickled
    return same


def _column_time_of(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        ts = float(value)  # type: ignore[arg-type]
        if not math.isfinite(ts):
            return None
        return _EPOCH + timedelta(seconds=ts)
    except (TypeError, ValueError, OverflowError):
        return None


def _size(data: object) -> int:
    try:
        return len(data)  # type: ignore[arg-type]
    except TypeError:
        return 0


# ``_row_fields`` and ``_failed`` build ``JobInfo``'s sixteen fields as a tuple, in order
# (``model.job_from_fields`` checks the order): decode workers send these tuples back.


def _failed(
    job_id: str, column: datetime | None, size: int, finding: DecodeFinding, protocol: int | None
) -> _JobFields:
    """The fields of a row that could not be decoded."""
    return (job_id, column, size, finding, None, None, None, None, "()", "{}", None, None, None, None, (), protocol)


def _row_fields(job_id: str, next_run_time: float | None, job_state: bytes) -> _JobFields:
    column = _column_time(next_run_time)
    size = _size(job_state)
    try:
        (_v, st_id, func, trigger, executor, args, kwargs, name, mgt, coalesce, max_instances, pickled) = _decode_tuple(
            job_state
        )
    except DecodeError as exc:
        return _failed(job_id, column, size, exc.finding(), _protocol(job_state))
    notes: list[DecodeFinding] = []
    if next_run_time is not None and column is None:
        notes.append(DecodeFinding("bad-column", f"next_run_time column holds {str(next_run_time)[:40]!r}"))
    if pickled is not None:  # one object per exact value (fields, fold and zone: not ``==``)
        pickled = _shared(pickled, datetime_key(pickled))
    if (column is None) != (pickled is None):
        if column is None and next_run_time is None:
            notes.append(DecodeFinding("next-run-mismatch", "column says paused but the pickle has a next run time"))
        elif column is not None:
            notes.append(DecodeFinding("next-run-mismatch", "column has a next run time but the pickle says paused"))
    elif (
        column is not None and pickled is not None and not _same_instant(column, pickled, type(next_run_time) is float)
    ):
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
        _shared(func, func),
        trigger,
        _shared(executor, executor),
        safe_repr(args) if args else "()",
        safe_repr(kwargs) if kwargs else "{}",
        mgt,
        coalesce,
        max_instances,
        pickled,
        tuple(notes),
        _protocol(job_state),
    )


def _safe_fields(job_id: object, next_run_time: Any, job_state: Any) -> _JobFields:
    jid = job_id if type(job_id) is str else safe_repr(job_id, max_len=191)
    try:
        return _row_fields(jid, next_run_time, job_state)
    except Exception as exc:
        finding = (
            _classify(exc).finding()
            if isinstance(exc, (MemoryError, RecursionError))
            else DecodeFinding("internal", f"decoder error: {type(exc).__name__}")
        )
        return _failed(jid, _column_time(next_run_time), _size(job_state), finding, None)


def _safe_row(job_id: object, next_run_time: Any, job_state: Any) -> JobInfo:
    return job_from_fields(_safe_fields(job_id, next_run_time, job_state))


def decode_row(job_id: str, next_run_time: float | None, job_state: bytes, *, watchdog: bool = True) -> JobInfo:
    """Decode one row of the jobs table. Never raises.

    With ``watchdog`` (the default) the row is decoded in the sandbox (a warm worker
    process: see ``decode_rows``); without it, in THIS process (only for bytes that are
    not from the store, or inside a decode worker).
    """
    try:
        return decode_rows([(job_id, next_run_time, job_state)], watchdog=watchdog)[0]
    except Exception as exc:
        return JobInfo(
            id=str(job_id)[:191],
            next_run_time=None,
            state_size=_size(job_state),
            finding=DecodeFinding("internal", f"decoder error: {type(exc).__name__}"),
        )


def decode_rows(
    rows: Iterable[Sequence[Any]],
    *,
    watchdog: bool = True,
    meanwhile: Callable[[], object] | None = None,
    budget: float | None = None,
    cache: Any = None,
) -> list[JobInfo]:
    """Decode many ``(id, next_run_time, job_state)`` rows. Never raises for a row.

    With ``watchdog`` (the default) the rows are decoded in the sandbox's worker processes
    (``_sandbox``): this process never unpickles them. A row that takes longer than
    ``_sandbox.ROW_LIMIT`` seconds becomes a ``too-slow`` finding; rows not decoded
    within ``budget`` seconds in all (default ``SCHEDTUI_DECODE_BUDGET`` or
    ``_sandbox.DEFAULT_BUDGET``) become ``time-budget`` findings. ``meanwhile`` is called
    here while the workers run (its errors are ignored). Without ``watchdog`` the rows are
    decoded in this process (what a worker does). ``cache`` (a ``_decode_cache.DecodeCache``)
    answers the rows whose id, column and bytes it saw decoded before.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    if not watchdog:
        return _decode_serial(rows)
    # Oversized rows are findings without being parsed (nor sent to a worker).
    big = [
        i for i, r in enumerate(rows) if isinstance(r[2], (bytes, bytearray, memoryview)) and len(r[2]) > MAX_ROW_BYTES
    ]
    if big:
        skip = set(big)
        rest = [r for i, r in enumerate(rows) if i not in skip]
        decoded = iter(decode_rows(rest, meanwhile=meanwhile, budget=budget))
        return [
            _not_decoded(r, "too-large", f"job_state is {len(r[2])} bytes (limit {MAX_ROW_BYTES})")
            if i in skip
            else next(decoded)
            for i, r in enumerate(rows)
        ]
    if cache is not None:
        return _decode_cached(rows, cache, budget, meanwhile)
    results = _sandbox.pool().decode(rows, budget=budget, meanwhile=meanwhile)
    return [r if type(r) is JobInfo else _not_decoded(rows[i], r.code, r.message) for i, r in enumerate(results)]


def _decode_cached(
    rows: list[Sequence[Any]], cache: Any, budget: float | None, meanwhile: Callable[[], object] | None
) -> list[JobInfo]:
    """``decode_rows`` through the repeated-probe cache: only unseen rows go to the sandbox."""
    from schedtui.core import _decode_cache, _wire

    out: list[JobInfo | None] = [None] * len(rows)
    keys = [_decode_cache.row_key(r) for r in rows]
    misses: list[int] = []
    for i, key in enumerate(keys):
        data = cache.get(key)
        if data is not None:
            try:
                out[i] = _wire.job(data)
                continue
            except _wire.WireError:
                cache.forget(key)
        misses.append(i)
    if misses:
        todo = [rows[i] for i in misses]
        raw: list[bytes | None] = [None] * len(todo)
        results = _sandbox.pool().decode(todo, budget=budget, meanwhile=meanwhile, raw=raw)
        for j, (i, r) in enumerate(zip(misses, results, strict=True)):
            if type(r) is JobInfo:
                out[i] = r
                data = raw[j]
                if data is not None and (r.finding is None or r.finding.code not in _decode_cache.TRANSIENT):
                    cache.put(keys[i], data)
            else:
                out[i] = _not_decoded(rows[i], r.code, r.message)
    return out  # type: ignore[return-value]


def prestart() -> None:
    """Start the sandbox's workers now (the console and ``check`` call this first thing)."""
    try:
        _sandbox.pool().prestart()
    except OSError:
        pass


def _decode_serial(rows: list[Sequence[Any]]) -> list[JobInfo]:
    """Decode in THIS process (inside a decode worker, or for trusted callers)."""
    out: list[JobInfo] = []
    for start in range(0, len(rows), GUARD_BATCH):
        # The cyclic GC would re-scan everything decoded so far again and again (it
        # tripled the cost per row); a pickle's own cycles are collected once it runs again.
        with _unpickle.memory_guard(pause_gc=True):
            for i in range(start, min(start + GUARD_BATCH, len(rows))):
                row = rows[i]
                out.append(_safe_row(row[0], row[1], row[2]))
    return out


def _not_decoded(row: Sequence[Any], code: str, message: str) -> JobInfo:
    jid = row[0] if type(row[0]) is str else safe_repr(row[0], max_len=191)
    return JobInfo(
        id=jid,
        next_run_time=_column_time(row[1]),
        state_size=_size(row[2]),
        finding=DecodeFinding(code, message),
        protocol=_protocol(row[2]),
    )
