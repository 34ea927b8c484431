"""Decoded rows as plain data that cannot execute anything (private).

A decode worker sends each ``JobInfo`` back as ``marshal`` bytes of nested tuples of
``str``/``int``/``float``/``bool``/``None``/``bytes`` (``marshal`` builds values only; it
never calls anything). ``job_fields`` turns them back into ``JobInfo`` fields, checking
every type on the way: datetimes as ``(y, m, d, H, M, S, us, fold, zone)``, zones as
``("z", key)`` (validated IANA key), ``("p", zone, offset, dst, name)`` (pytz stand-in),
``("f", days, seconds, microseconds, name)`` (fixed offset) or ``("u",)`` (UTC).

Each record starts with its *head*, what ``check`` judges of the job, in fixed binary
fields (``HEAD``: the next run's ``jobtable.instant_us`` or ``PAUSED``, ``grace_of`` the
misfire grace, the ``HAS_AND``/``UNDECODABLE`` bits, the id's length, then the id in
UTF-8): the worker, which holds the decoded values, writes it, so the reading process
gets a job's judged columns without unmarshalling and rebuilding its record (``head``).
"""

from __future__ import annotations

import marshal
import struct
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from schedtui.core.decode import zones
from schedtui.core.decode.worker import WireError
from schedtui.core.jobtable import HAS_AND, PAUSED, UNDECODABLE, grace_of, has_and, instant_us
from schedtui.core.model import DecodeFinding, JobInfo, TriggerSpec, job_from_fields, trigger_spec

__all__ = ["WireError"]  # defined in ``decode.worker`` (the layout both sides share)

VERSION = 4  # marshal format
#: A record's head: instant (µs or ``PAUSED``), grace (s), flags, the id's length in bytes.
HEAD = struct.Struct("<qdBI")
_FLAGS = HAS_AND | UNDECODABLE
#: What ``check`` judges of one record: (id, instant, grace, flags), as in ``jobtable.Marks``.
Head = tuple[str, int, float, int]


# --------------------------------------------------------------------------- encode (worker)


def _zone(tz: tzinfo | None) -> tuple[Any, ...] | None:
    if tz is None:
        return None
    if tz is UTC:
        return ("u",)
    if type(tz) is ZoneInfo:
        return ("z", tz.key)
    if type(tz) is zones.PytzZone:
        return ("p", *tz.__reduce__()[1])
    if type(tz) is timezone:
        args = tz.__getinitargs__()  # type: ignore[attr-defined]
        off: timedelta = args[0]
        return ("f", off.days, off.seconds, off.microseconds, args[1] if len(args) > 1 else None)
    raise WireError(f"unexpected zone {type(tz).__name__}")


def _dt(dt: datetime | None) -> tuple[Any, ...] | None:
    if dt is None:
        return None
    return (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.microsecond, dt.fold, _zone(dt.tzinfo))


def _spec(s: TriggerSpec | None) -> tuple[Any, ...] | None:
    if s is None:
        return None
    iv = s.interval
    return (
        s.kind,
        s.timezone,
        _zone(s.tz),
        _dt(s.start_date),
        _dt(s.end_date),
        s.jitter,
        s.cron,
        None if s.cron_explicit is None else tuple(sorted(s.cron_explicit)),
        None if iv is None else (iv.days, iv.seconds, iv.microseconds),
        _dt(s.run_date),
        s.calendar,
        s.calendar_time,
        tuple(_spec(c) for c in s.children),
    )


def _finding(f: DecodeFinding | None) -> tuple[Any, ...] | None:
    return None if f is None else (f.code, f.message)


def encode(fields: tuple[Any, ...]) -> bytes:
    """``JobInfo`` fields (``jobstate.safe_fields``' tuple) as marshal bytes."""
    (
        jid,
        column,
        size,
        finding,
        name,
        func,
        trigger,
        executor,
        args_r,
        kwargs_r,
        mgt,
        coalesce,
        mi,
        pickled,
        notes,
        proto,
    ) = fields
    col = _dt(column)
    pic = _dt(pickled)
    if pic == col:  # the usual case: one tuple, written once (a marshal reference)
        pic = col
    flags = 0 if finding is None else UNDECODABLE
    if trigger is not None and (trigger.children or trigger.kind == "and") and has_and(trigger):
        flags |= HAS_AND
    ident: bytes = jid.encode("utf-8", "surrogatepass")
    instant = PAUSED if column is None else instant_us(column)
    body = marshal.dumps(
        (
            jid, col, size, _finding(finding), name, func, _spec(trigger), executor, args_r, kwargs_r,
            mgt, coalesce, mi, pic, tuple(_finding(n) for n in notes), proto,
        ),
        VERSION,
    )  # fmt: skip
    return HEAD.pack(instant, grace_of(mgt), flags, len(ident)) + ident + body


# --------------------------------------------------------------------------- decode (reader)


def _is(value: Any, *types: type) -> Any:
    if type(value) not in types:
        raise WireError(f"unexpected {type(value).__name__}")
    return value


def _opt_str(value: Any) -> str | None:
    return None if value is None else _is(value, str)


def _opt_int(value: Any) -> int | None:
    return None if value is None else _is(value, int)


def _tuple(value: Any, n: int | None = None) -> tuple[Any, ...]:
    _is(value, tuple)
    if n is not None and len(value) != n:
        raise WireError("wrong length")
    return value  # type: ignore[no-any-return]


#: Zones by their full wire tuple (which defines them exactly).
_ZONES: dict[tuple[Any, ...], tzinfo] = {}


def _to_zone(v: Any) -> tzinfo | None:
    if v is None:
        return None
    z = _ZONES.get(v) if type(v) is tuple else None
    if z is None:
        z = _zone_of(v)
        if len(_ZONES) < 1024:
            _ZONES[v] = z
    return z


def _zone_of(v: Any) -> tzinfo:
    v = _tuple(v)
    tag = v[0] if v else None
    if tag == "u" and len(v) == 1:
        return UTC
    if tag == "z" and len(v) == 2:
        return zones.zone_from_key(v[1])
    if tag == "p" and len(v) == 5:
        return zones.PytzZone(_is(v[1], str), _is(v[2], int), _is(v[3], int), _is(v[4], str))
    if tag == "f" and len(v) == 5:
        off = timedelta(_is(v[1], int), _is(v[2], int), _is(v[3], int))
        return timezone(off) if v[4] is None else timezone(off, _is(v[4], str))
    raise WireError("unexpected zone")


class _Memo:
    """Rebuilt values by their whole wire tuple (this process; bounded), used only while
    it pays (the triggers: a store's jobs often share a few).

    Exact: a wire tuple holds every part that defines the value (fold and zone included),
    tuple equality compares all of them, and the values are immutable. (Tuples equal under
    ``==`` that differ only in a numeric type, ``1``/``True``/``1.0``, rebuild to the same
    value or the second would be refused by the validation the first passed; the worker
    writes ints only.) Hashing a nested tuple costs about what rebuilding it does, so on
    stores where values do not repeat (every job its own trigger) the memo steps aside:
    after each ``WINDOW`` lookups that hit less than a quarter of the time it is off for
    ``REST`` values, then tries again.
    """

    WINDOW = 2048
    REST = 32768
    MAX = 1 << 16

    __slots__ = ("values", "tries", "hits", "off")

    def __init__(self) -> None:
        self.values: dict[tuple[Any, ...], Any] = {}
        self.tries = 0
        self.hits = 0
        self.off = 0

    def lookup(self, v: tuple[Any, ...]) -> Any:
        """The value for ``v``, or None (also while the memo is off)."""
        if self.off:
            self.off -= 1
            return None
        self.tries += 1
        if self.tries >= self.WINDOW:
            if self.hits * 4 < self.tries:
                self.off = self.REST
                self.values.clear()
            self.tries = self.hits = 0
        found = self.values.get(v)
        if found is not None:
            self.hits += 1
        return found

    def keep(self, v: tuple[Any, ...], value: Any) -> None:
        if self.off:
            return
        if len(self.values) >= self.MAX:
            self.values.clear()
        self.values[v] = value


#: Triggers (a memo of datetimes alone did not pay on any store measured).
_SPECS = _Memo()


def _to_dt(v: Any) -> datetime | None:
    if v is None:
        return None
    if type(v) is not tuple or len(v) != 9:
        raise WireError("not a datetime")
    # datetime() itself refuses anything but integers in range
    return datetime(v[0], v[1], v[2], v[3], v[4], v[5], v[6], _to_zone(v[8]), fold=v[7])


def _strs(v: Any) -> tuple[Any, ...]:
    """``v`` itself if it is a tuple of ``str``."""
    if type(v) is not tuple:
        raise WireError("not a tuple")
    for x in v:
        if type(x) is not str:
            raise WireError("not a string")
    return v


def _to_pairs(v: Any) -> tuple[tuple[str, str], ...] | None:
    """Cron fields: ``v`` itself once every item is a pair of ``str`` (tuples are immutable)."""
    if v is None:
        return None
    if type(v) is not tuple:
        raise WireError("cron fields are not a tuple")
    for p in v:
        if type(p) is not tuple or len(p) != 2:
            raise WireError("cron field is not a pair of strings")
        name, text = p
        if type(name) is not str or type(text) is not str:
            raise WireError("cron field is not a pair of strings")
    return v


def _to_ints(v: Any, n: int) -> Any:
    if v is None:
        return None
    if type(v) is not tuple or len(v) != n:
        raise WireError("not a tuple of integers")
    for x in v:
        if type(x) is not int:
            raise WireError("not an integer")
    return v


def _to_spec(v: Any, depth: int = 0) -> TriggerSpec | None:
    if v is None:
        return None
    if type(v) is not tuple:
        raise WireError("trigger is not a tuple")
    spec: TriggerSpec | None = _SPECS.lookup(v)
    if spec is None:
        spec = _build_spec(v, depth)
        _SPECS.keep(v, spec)
    return spec


def _build_spec(v: Any, depth: int) -> TriggerSpec:
    if depth > 16:
        raise WireError("nested too deeply")
    kind, tzname, tz, start, end, jitter, cron, explicit, iv, run, cal, cal_time, children = _tuple(v, 13)
    if type(kind) is not str or (tzname is not None and type(tzname) is not str):
        raise WireError("trigger kind or zone name is not a string")
    if jitter is not None and type(jitter) is not int:
        raise WireError("jitter is not an integer")
    return trigger_spec(  # the slots filled directly, as the frozen __init__ does
        kind,  # type: ignore[arg-type]  # a str, as the worker wrote it
        tzname,
        None if tz is None else _to_zone(tz),
        None if start is None else _to_dt(start),
        None if end is None else _to_dt(end),
        jitter,
        None if cron is None else _to_pairs(cron),
        None if explicit is None else frozenset(_strs(explicit)),
        None if iv is None else timedelta(*_to_ints(iv, 3)),
        None if run is None else _to_dt(run),
        None if cal is None else _to_ints(cal, 4),
        None if cal_time is None else _to_ints(cal_time, 3),
        () if children == () else tuple(_child(c, depth + 1) for c in _tuple(children)),
    )


def _child(v: Any, depth: int) -> TriggerSpec:
    spec = _to_spec(v, depth)
    if spec is None:
        raise WireError("a combining trigger's child is missing")
    return spec


def _to_finding(v: Any) -> DecodeFinding | None:
    if v is None:
        return None
    code, message = _tuple(v, 2)
    return DecodeFinding(_is(code, str), _is(message, str))


def _split(data: bytes) -> tuple[Head, int]:
    """A record's head, each part checked, and where its body starts."""
    try:
        instant, grace, flags, n = HEAD.unpack_from(data)
        end = HEAD.size + n
        if len(data) < end:
            raise ValueError("the id is cut short")
        jid = data[HEAD.size : end].decode("utf-8", "surrogatepass")
    except (struct.error, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise WireError(f"unreadable results: {exc}") from None
    if flags & ~_FLAGS:
        raise WireError("unexpected flags")
    return (jid, instant, grace, flags), end


def head(data: bytes) -> Head:
    """What ``check`` judges of a record, without reading the rest (raises ``WireError``)."""
    return _split(data)[0]


def values(data: bytes) -> tuple[Any, ...]:
    """A record's body: its plain values, unchecked (tests, and the cache's finding test)."""
    h, at = _split(data)
    try:
        v = marshal.loads(memoryview(data)[at:])
    except (EOFError, ValueError, TypeError) as exc:
        raise WireError(f"unreadable results: {exc}") from None
    if type(v) is not tuple or len(v) != 16 or v[0] != h[0]:
        raise WireError("not a job record")
    return v


def job(data: bytes) -> JobInfo:
    """One ``JobInfo`` from what ``encode`` wrote (raises ``WireError`` on anything else)."""
    v = values(data)
    jid, column, size, finding, name, func, trigger, executor, args_r, kwargs_r, mgt, coalesce, mi, pickled, notes, proto = v  # fmt: skip
    # every type checked in one expression (100,000s of rows per read)
    if not (
        type(jid) is str
        and type(size) is int
        and (name is None or type(name) is str)
        and (func is None or type(func) is str)
        and (executor is None or type(executor) is str)
        and type(args_r) is str
        and type(kwargs_r) is str
        and (mgt is None or type(mgt) is int or type(mgt) is float)
        and (coalesce is None or type(coalesce) is bool)
        and (mi is None or type(mi) is int)
        and (proto is None or type(proto) is int)
        and type(notes) is tuple
    ):
        raise WireError("unexpected field type")
    try:
        col = _to_dt(column)
        return job_from_fields(
            (
                jid, col, size, None if finding is None else _to_finding(finding), name, func,
                _to_spec(trigger), executor, args_r, kwargs_r, mgt, coalesce, mi,
                col if pickled is column else _to_dt(pickled),
                tuple(_to_finding(n) for n in notes) if notes else (), proto,
            )
        )  # fmt: skip
    except WireError:
        raise
    except (ValueError, TypeError, OverflowError, zones.ZoneError) as exc:
        raise WireError(f"invalid results: {exc}") from None
