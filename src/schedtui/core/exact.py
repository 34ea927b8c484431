"""Keys that tell apart everything ``==`` does not (for caches shared between rows).

``datetime.__eq__``/``__hash__`` ignore ``fold`` (and, within one zone object, compare
wall clocks): the two instants of 01:30 on a fall-back night are "equal". A cache or
interning table keyed by such values hands one row the other row's value. Every memo that
is shared between rows keys by ``exact_key`` of what it stores instead:

- a datetime: its fields, ``fold`` and its zone's exact key;
- a zone: its kind and everything that defines it (``ZoneInfo`` key, fixed offset and
  name, pytz stand-in's zone/offset/dst/name), or the object itself when unknown;
- a ``TriggerSpec``: the exact keys of all its fields, children included.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from schedtui.core.model import TriggerSpec


def zone_key(tz: tzinfo | None) -> object:
    """Everything that defines a zone, hashable."""
    if tz is None:
        return None
    if type(tz) is ZoneInfo:
        return ("zi", tz.key)
    if type(tz) is timezone:
        return ("fixed", tz.utcoffset(None), tz.tzname(None))
    reduce = getattr(type(tz), "__reduce__", None)
    if type(tz).__name__ == "PytzZone" and reduce is not None:
        return ("pytz", tz.__reduce__()[1])
    return ("obj", type(tz), id(tz), tz)  # identity (the tuple keeps the object alive)


def datetime_key(dt: datetime) -> tuple[Any, ...]:
    """Fields, fold and zone of a datetime: equal keys mean the same value in every respect."""
    return (
        dt.year,
        dt.month,
        dt.day,
        dt.hour,
        dt.minute,
        dt.second,
        dt.microsecond,
        dt.fold,
        zone_key(dt.tzinfo),
    )


def exact_key(value: object) -> object:
    """A hashable key equal only for values that are the same in every respect."""
    t = type(value)
    if t is datetime:
        return datetime_key(value)  # type: ignore[arg-type]
    if t is TriggerSpec:
        return spec_key(value)  # type: ignore[arg-type]
    if value is None or t in (str, int, float, bool, date, timedelta):
        return (t, value)
    if t is tuple:
        return ("tuple", *(exact_key(v) for v in value))  # type: ignore[attr-defined]
    if t is frozenset:
        return ("frozenset", frozenset(exact_key(v) for v in value))  # type: ignore[attr-defined]
    if isinstance(value, tzinfo):
        return zone_key(value)
    return ("obj", t, id(value), value)


def spec_key(spec: TriggerSpec) -> tuple[Any, ...]:
    """``exact_key`` of a trigger spec (every field, children recursively)."""
    return (
        spec.kind,
        spec.timezone,
        zone_key(spec.tz),
        exact_key(spec.start_date),
        exact_key(spec.end_date),
        spec.jitter,
        spec.cron,
        spec.cron_explicit,
        exact_key(spec.interval),
        exact_key(spec.run_date),
        spec.calendar,
        spec.calendar_time,
        tuple(spec_key(c) for c in spec.children),
    )
