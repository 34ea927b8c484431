"""Time zones rebuilt from pickles without importing pytz or the shim.

- ``zone_from_key`` validates an IANA key and returns a cached ``ZoneInfo``.
- ``PytzZone`` stands in for a pytz ``DstTzInfo`` as pickled by ``pytz._p(zone, utcoffset,
  dst, tzname)``: it keeps that exact fixed offset (which is what a pytz-localized datetime
  means) and knows its ``zone`` key, so a trigger timezone can map to ``ZoneInfo(zone)``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

_KEY_RE = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+){0,3}")
_ZONES: dict[str, ZoneInfo] = {}
_MAX_ZONES = 1024


class ZoneError(ValueError):
    """A zone key or pytz argument that is not acceptable."""


def valid_key(key: object) -> str:
    """``key`` if it looks like an IANA zone name (no paths, no dots), else ZoneError."""
    if type(key) is not str or not (0 < len(key) <= 64) or not _KEY_RE.fullmatch(key):
        raise ZoneError(f"invalid time zone key {str(key)[:40]!r}")
    return key


def zone_from_key(key: object) -> ZoneInfo:
    """A ``ZoneInfo`` for a validated key (cached; unknown zones raise ZoneError)."""
    if type(key) is str:  # only validated keys are ever stored
        z = _ZONES.get(key)
        if z is not None:
            return z
    k = valid_key(key)
    z = _ZONES.get(k)
    if z is None:
        try:
            z = ZoneInfo(k)
        except Exception as exc:  # ZoneInfoNotFoundError, ValueError, OSError
            raise ZoneError(f"unknown time zone {k!r}") from exc
        if len(_ZONES) < _MAX_ZONES:
            _ZONES[k] = z
    return z


def _seconds(value: object, what: str) -> int:
    if type(value) is int:
        secs = value
    elif type(value) is timedelta:
        secs = int(value.total_seconds())
    else:
        raise ZoneError(f"pytz {what} must be seconds")
    if not -86400 < secs < 86400:
        raise ZoneError(f"pytz {what} out of range")
    return secs


class PytzZone(tzinfo):
    """A pytz zone at one fixed offset (how pytz pickles a localized zone). Immutable."""

    __slots__ = ("zone", "_offset", "_dst", "_name")
    zone: str
    _offset: timedelta
    _dst: timedelta
    _name: str

    def __init__(self, zone: str, offset: int, dst: int, name: str) -> None:
        object.__setattr__(self, "zone", zone)
        object.__setattr__(self, "_offset", timedelta(seconds=offset))
        object.__setattr__(self, "_dst", timedelta(seconds=dst))
        object.__setattr__(self, "_name", name)

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError("PytzZone is immutable")

    def __delattr__(self, key: str) -> None:
        raise AttributeError("PytzZone is immutable")

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return self._offset

    def dst(self, dt: datetime | None) -> timedelta:
        return self._dst

    def tzname(self, dt: datetime | None) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<PytzZone {self.zone!r} {self._name} {self._offset}>"

    def __reduce__(self) -> tuple[type[PytzZone], tuple[str, int, int, str]]:
        return (PytzZone, (self.zone, int(self._offset.total_seconds()), int(self._dst.total_seconds()), self._name))

    def zoneinfo(self) -> ZoneInfo:
        """The IANA zone this pytz zone belongs to."""
        return zone_from_key(self.zone)


def pytz_p(*args: object) -> tzinfo:
    """Stand-in for ``pytz._p``: ``(zone,)`` or ``(zone, utcoffset, dst, tzname)``."""
    if len(args) == 1:
        key = valid_key(args[0])
        if key == "UTC":
            return UTC
        return zone_from_key(key)
    if len(args) != 4:
        raise ZoneError("pytz._p takes 1 or 4 arguments")
    key = valid_key(args[0])
    offset = _seconds(args[1], "utcoffset")
    dst = _seconds(args[2], "dst")
    name = args[3]
    if type(name) is not str or not (0 < len(name) <= 16) or not name.isprintable():
        raise ZoneError("pytz tzname must be a short string")
    return PytzZone(key, offset, dst, name)


def pytz_fixed_offset(*args: object) -> tzinfo:
    """Stand-in for ``pytz.FixedOffset(minutes)``."""
    if len(args) != 1 or type(args[0]) is not int or not -1440 < args[0] < 1440:
        raise ZoneError("pytz.FixedOffset takes minutes within a day")
    return timezone(timedelta(minutes=args[0]))


def pytz_utc(*args: object) -> tzinfo:
    """Stand-in for ``pytz._UTC()``."""
    if args:
        raise ZoneError("pytz._UTC takes no arguments")
    return UTC


def shim_wrap_zone(*args: object) -> tzinfo:
    """Stand-in for ``pytz_deprecation_shim._impl.wrap_zone(zone, key)``: the zone itself."""
    if not 1 <= len(args) <= 2 or not isinstance(args[0], (ZoneInfo, timezone, PytzZone)):
        raise ZoneError("wrap_zone takes a decoded zone and its key")
    if len(args) == 2 and args[1] is not None and type(args[1]) is not str:
        raise ZoneError("wrap_zone key must be a string")
    return args[0]


def trigger_zone(tz: object) -> tzinfo | None:
    """A trigger's timezone as a real tzinfo: pytz stand-ins become their ZoneInfo."""
    if tz is None:
        return None
    if isinstance(tz, PytzZone):
        return tz.zoneinfo()
    if isinstance(tz, (ZoneInfo, timezone)):
        return tz
    raise ZoneError("timezone is not a time zone")


def zone_name(tz: tzinfo | None) -> str | None:
    """Display name: ``"Europe/Berlin"``, ``"UTC"``, ``"UTC+02:00"``."""
    if tz is None:
        return None
    if isinstance(tz, ZoneInfo):
        return tz.key
    if isinstance(tz, PytzZone):
        return tz.zone
    if tz is UTC:
        return "UTC"
    if isinstance(tz, timezone):
        off = tz.utcoffset(None)
        if off == timedelta(0):
            return "UTC"
        secs = int(off.total_seconds())
        sign = "+" if secs >= 0 else "-"
        secs = abs(secs)
        return f"UTC{sign}{secs // 3600:02d}:{secs % 3600 // 60:02d}"
    return str(tz)
