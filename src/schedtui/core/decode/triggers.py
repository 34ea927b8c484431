"""Stage 3 of the worker: an APScheduler trigger placeholder -> a validated ``TriggerSpec``.

The unpickler hands back triggers as ``ApsPlaceholder`` instances whose ``__dict__`` is
what the pickle's ``BUILD`` put there: untrusted. ``trigger_spec`` reads that state key by
key, checks every type, range and version (cron fields are re-checked by APScheduler's
own field classes, which only parse strings), resolves zones through ``decode.zones``, and
builds a ``TriggerSpec`` of plain values. ``and``/``or`` triggers name their children as
``"module:Class"`` strings: only the six APScheduler trigger classes are accepted, never
resolved by import, nested at most ``MAX_TRIGGER_DEPTH`` deep.

One per-process memo, keyed by everything that defines its value: the cron fields
APScheduler's parsers accepted, by (name, text). (A memo of expression texts was removed:
rendering one costs less than building its exact key.) ``tests/test_decoder_caches.py``
shows it changes no result.

Safety argument: nothing in a placeholder is called; what is not exactly what APScheduler
writes is a ``bad-trigger``/``bad-value`` finding; what comes out holds no placeholder.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from schedtui.core.decode import zones
from schedtui.core.decode.findings import DecodeError
from schedtui.core.decode.placeholders import ApsPlaceholder, placeholder_class
from schedtui.core.model import CRON_FIELD_NAMES, TriggerSpec
from schedtui.core.model import trigger_spec as _spec

#: Nesting limit of and/or triggers.
MAX_TRIGGER_DEPTH = 8

#: The attributes of an unpickled APScheduler object: untrusted, checked key by key.
_State = dict[str, object]

# --------------------------------------------------------------------------- values


def bad_value(what: str, why: str = "has an invalid value") -> DecodeError:
    """A ``bad-value`` finding about ``what``."""
    return DecodeError("bad-value", f"{what} {why}")


def aware(value: object, what: str, *, optional: bool = True) -> datetime | None:
    """``value`` checked to be an aware datetime (or None when ``optional``)."""
    if value is None and optional:
        return None
    if type(value) is not datetime:
        raise bad_value(what, "is not a datetime")
    tz = value.tzinfo
    # The zone kinds the unpickler builds always give an offset (``ZoneInfo`` and
    # ``timezone`` in C, ``PytzZone`` its fixed one); asking costs ~1 µs a datetime.
    if tz is None or (type(tz) not in _ALWAYS_AWARE and value.utcoffset() is None):
        raise DecodeError("naive-datetime", f"{what} has no time zone")
    return value


#: tzinfo types whose ``utcoffset(dt)`` is never None.
_ALWAYS_AWARE = frozenset({ZoneInfo, timezone, zones.PytzZone})


def _opt_date(value: object, what: str) -> date | None:
    if value is None:
        return None
    if type(value) is not date:
        raise bad_value(what, "is not a date")
    return value


def _tz(value: object, what: str = "timezone") -> tzinfo:
    if value is None:
        raise bad_value(what, "is missing")
    try:
        tz = zones.trigger_zone(value)
    except zones.ZoneError as exc:
        raise DecodeError("unknown-timezone" if "unknown" in str(exc) else "bad-value", f"{what}: {exc}") from None
    assert tz is not None
    return tz


def _jitter(value: object) -> int | None:
    if value is None:
        return None
    if not (type(value) is int or type(value) is float) or not 0 <= value <= 10 * 365 * 86400 or value != value:
        raise bad_value("jitter")
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


# --------------------------------------------------------------------------- specs


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
    step = st.get("step")
    if step is None:  # the usual ``*``
        return "*"
    step = _opt_step(step)
    return f"*/{step}" if step else "*"


def _expr_range(st: _State) -> str:
    first = st.get("first")
    last = st.get("last")
    step = st.get("step")
    # the usual single value (``5``), checked as ``_int_in`` checks it, without the calls
    if (
        step is None
        and type(first) is int
        and 0 <= first <= 9999
        and (last is None or (type(last) is int and last == first))
    ):
        return str(first)
    first = _int_in(first, 0, 9999, "range start")
    step = _opt_step(step)
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
    placeholder_class("apscheduler.triggers.cron.expressions", name): fn
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
    name: placeholder_class("apscheduler.triggers.cron.fields", cls) for name, cls in _FIELD_CLASS.items()
}


def _expr_str(expr: object) -> str:
    render = _EXPR_RENDER.get(type(expr))
    if render is None:
        raise DecodeError("bad-trigger", "cron expression has an unexpected class")
    return render(expr.__dict__)


_APS_FIELDS: dict[str, Any] = {}


def _aps_fields() -> dict[str, Any]:
    """APScheduler's own cron field classes by name (``CronTrigger.FIELDS_MAP``), imported
    on the first cron field to check, unless ``preload`` ran (a decode worker calls it as
    it starts, before its first rows arrive)."""
    if not _APS_FIELDS:
        from apscheduler.triggers.cron import CronTrigger

        _APS_FIELDS.update(CronTrigger.FIELDS_MAP)
    return _APS_FIELDS


def preload() -> None:
    """Import APScheduler's cron field classes now (about 40 ms), not on the first cron row."""
    _aps_fields()


def _validate_field(name: str, text: str) -> None:
    key = (name, text)
    if key in _VALID_FIELDS:
        return
    fields = _aps_fields()  # outside the try: a failed import is no finding of this row
    try:
        field = fields[name](name, text)
        ok = str(field) == text
    except Exception:
        ok = False
    if not ok:
        raise DecodeError("bad-trigger", f"cron field {name}={text[:40]!r} is not valid")
    if len(_VALID_FIELDS) < _MAX_VALID_CACHE:
        _VALID_FIELDS[key] = True


#: (field name, its placeholder class) in ``CRON_FIELD_NAMES`` order.
_CRON_SLOTS = tuple((name, _FIELD_CLASSES[name]) for name in CRON_FIELD_NAMES)


def _cron(state: _State) -> TriggerSpec:
    _version(state, "CronTrigger", 2)
    tz = _tz(state.get("timezone"))
    fields = state.get("fields")
    if type(fields) is not list or len(fields) != len(CRON_FIELD_NAMES):
        raise DecodeError("bad-trigger", "CronTrigger must have 8 fields")
    out = []
    explicit = []
    valid = _VALID_FIELDS
    for (expected, cls), field in zip(_CRON_SLOTS, fields):
        if type(field) is not cls:
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
            text = _expr_str(exprs[0])
        else:
            text = ",".join([_expr_str(e) for e in exprs])
        item = (expected, text)
        if item not in valid:
            _validate_field(expected, text)
        out.append(item)
        if not is_default:
            explicit.append(expected)
    return _spec(
        "cron",
        zones.zone_name(tz),
        tz,
        aware(state.get("start_date"), "start_date"),
        aware(state.get("end_date"), "end_date"),
        _jitter(state.get("jitter")),
        tuple(out),
        frozenset(explicit),
    )


# --------------------------------------------------------------------------- other triggers


def _interval(state: _State) -> TriggerSpec:
    _version(state, "IntervalTrigger", 2)
    interval = state.get("interval")
    if type(interval) is not timedelta or interval <= timedelta(0):
        raise DecodeError("bad-trigger", "interval must be a positive timedelta")
    tz = _tz(state.get("timezone"))
    return _spec(
        kind="interval",
        timezone=zones.zone_name(tz),
        tz=tz,
        start_date=aware(state.get("start_date"), "start_date"),
        end_date=aware(state.get("end_date"), "end_date"),
        jitter=_jitter(state.get("jitter")),
        interval=interval,
    )


def _date(state: _State) -> TriggerSpec:
    _version(state, "DateTrigger", 1)
    run_date = aware(state.get("run_date"), "run_date", optional=False)
    return _spec(kind="date", run_date=run_date)


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
    return _spec(
        kind="calendarinterval",
        timezone=zones.zone_name(tz),
        tz=tz,
        start_date=None if start is None else datetime(start.year, start.month, start.day, tzinfo=tz),
        end_date=None if end is None else datetime(end.year, end.month, end.day, tzinfo=tz),
        jitter=_jitter(state.get("jitter")),
        calendar=parts,
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
    return _spec(kind=kind, jitter=_jitter(state.get("jitter")), children=tuple(children))  # type: ignore[arg-type]


_TRIGGER_KINDS = {
    "apscheduler.triggers.cron.CronTrigger": "cron",
    "apscheduler.triggers.interval.IntervalTrigger": "interval",
    "apscheduler.triggers.date.DateTrigger": "date",
    "apscheduler.triggers.calendarinterval.CalendarIntervalTrigger": "calendarinterval",
    "apscheduler.triggers.combining.AndTrigger": "and",
    "apscheduler.triggers.combining.OrTrigger": "or",
}
_TRIGGER_CLASS_KINDS = {placeholder_class(*name.rsplit(".", 1)): kind for name, kind in _TRIGGER_KINDS.items()}
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
