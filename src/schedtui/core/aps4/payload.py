"""The serialized columns (``trigger``, ``args``, ``kwargs``): read only when they are data.

APScheduler 4 serializes with pickle (the default), JSON or CBOR. Pickles are never
loaded: they show as opaque. JSON and CBOR are plain data (objects are
``{"_apscheduler_json": [ref, state]}`` or CBOR tag 4664 ``[ref, state]``, never
instantiated here); the three built-in triggers are turned into a ``TriggerSpec``.
"""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from schedtui.core.decode.saferepr import safe_repr
from schedtui.core.model import CRON_FIELD_NAMES, TriggerSpec

JSON_MAGIC = "_apscheduler_json"
CBOR_TAG = 4664
OPAQUE_TRIGGER = "<pickled APScheduler 4 trigger>"
_MAX = 256 * 1024


class _Obj:
    """A serialized object: its class reference and state (never instantiated)."""

    __slots__ = ("ref", "state")

    def __init__(self, ref: str, state: Any) -> None:
        self.ref, self.state = ref, state

    def __repr__(self) -> str:
        return f"<{self.ref}>"


def kind_of(data: bytes | None) -> str:
    """``pickle``, ``json``, ``cbor`` or ``empty``/``unknown``."""
    if not data:
        return "empty"
    if data[:1] == b"\x80" and len(data) > 1 and data[1] <= 5:
        return "pickle"  # PROTO n (2-5); a lone 0x80 is CBOR's empty array
    if data[:1] in (b"{", b"[", b'"') or data[:1].isdigit():
        return "json"
    return "cbor"


def load(data: bytes | None) -> tuple[str, Any]:
    """``(kind, value)``; value is None for pickles and anything unreadable."""
    kind = kind_of(data)
    if data is None or kind in ("pickle", "empty") or len(data) > _MAX:
        return kind, None
    try:
        if kind == "json":
            return kind, json.loads(data, object_hook=_json_hook)
        value, end = _Cbor(data).item(0, 0)
        return (kind, value) if end == len(data) else ("unknown", None)
    except (ValueError, IndexError, struct.error, RecursionError, UnicodeDecodeError, TypeError):
        return "unknown", None


def _json_hook(obj: dict[str, Any]) -> Any:
    if JSON_MAGIC in obj and isinstance(obj[JSON_MAGIC], list) and len(obj[JSON_MAGIC]) == 2:
        return _Obj(str(obj[JSON_MAGIC][0]), obj[JSON_MAGIC][1])
    return obj


class _Cbor:
    """A bounded RFC 8949 decoder for what APScheduler's CBOR serializer writes."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def _arg(self, info: int, pos: int) -> tuple[int, int]:
        if info < 24:
            return info, pos
        size = {24: 1, 25: 2, 26: 4, 27: 8}.get(info)
        if size is None:
            raise ValueError("indefinite or reserved length")
        return int.from_bytes(self.data[pos : pos + size], "big"), pos + size

    def item(self, pos: int, depth: int) -> tuple[Any, int]:
        if depth > 32:
            raise ValueError("too deep")
        head = self.data[pos]
        major, info = head >> 5, head & 31
        pos += 1
        if major == 7:
            if info in (20, 21, 22, 23):
                return {20: False, 21: True, 22: None, 23: None}[info], pos
            fmt = {25: ">e", 26: ">f", 27: ">d"}.get(info)
            if fmt is None:
                raise ValueError("unsupported simple value")
            size = struct.calcsize(fmt)
            return struct.unpack(fmt, self.data[pos : pos + size])[0], pos + size
        n, pos = self._arg(info, pos)
        if major == 0:
            return n, pos
        if major == 1:
            return -1 - n, pos
        if major in (2, 3):
            if pos + n > len(self.data):
                raise ValueError("truncated")
            raw = self.data[pos : pos + n]
            return (bytes(raw) if major == 2 else raw.decode("utf-8")), pos + n
        if major == 4:
            out = []
            for _ in range(min(n, len(self.data))):
                value, pos = self.item(pos, depth + 1)
                out.append(value)
            return out, pos
        if major == 5:
            mapping: dict[Any, Any] = {}
            for _ in range(min(n, len(self.data))):
                key, pos = self.item(pos, depth + 1)
                value, pos = self.item(pos, depth + 1)
                hashable = isinstance(key, str | int | float | bool) or key is None
                mapping[key if hashable else repr(key)] = value
            return mapping, pos
        value, pos = self.item(pos, depth + 1)  # major 6: a tag
        if n == CBOR_TAG and isinstance(value, list) and len(value) == 2:
            return _Obj(str(value[0]), value[1]), pos
        return value, pos


def args_repr(data: bytes | None, empty: str) -> str:
    """A safe repr of ``args``/``kwargs`` (opaque when pickled)."""
    kind, value = load(data)
    if kind == "empty":
        return empty
    if value is None:
        return f"<{kind}d APScheduler 4 value>" if kind == "pickle" else f"<{kind} APScheduler 4 value>"
    if isinstance(value, list) and empty == "()":
        value = tuple(value)
    return safe_repr(value)


# -- triggers -------------------------------------------------------------------------------
def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _zone(name: Any) -> tuple[str | None, tzinfo | None]:
    if not isinstance(name, str):
        return None, None
    try:
        return name, ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return name, None


def trigger_spec(data: bytes | None) -> tuple[str, TriggerSpec | None]:
    """``(kind, spec)``: a spec for the JSON/CBOR cron, interval and date triggers."""
    kind, value = load(data)
    if not isinstance(value, _Obj) or not isinstance(value.state, dict):
        return kind, None
    state, ref = value.state, value.ref
    if state.get("version") != 1:
        return kind, None
    if ref == "apscheduler.triggers.cron:CronTrigger":
        fields = state.get("fields")
        if not isinstance(fields, list) or len(fields) != len(CRON_FIELD_NAMES):
            return kind, None
        exprs = tuple((name, str(expr)) for name, expr in zip(CRON_FIELD_NAMES, fields, strict=True))
        zone, tz = _zone(state.get("timezone"))
        return kind, TriggerSpec(
            kind="cron",
            timezone=zone,
            tz=tz,
            start_date=_time(state.get("start_time")),
            end_date=_time(state.get("end_time")),
            cron=exprs,
            cron_explicit=frozenset(name for name, expr in exprs if expr != "*"),
        )
    if ref == "apscheduler.triggers.interval:IntervalTrigger":
        parts = state.get("interval")
        if not isinstance(parts, list) or len(parts) != 6 or not all(isinstance(p, int | float) for p in parts):
            return kind, None
        weeks, days, hours, minutes, seconds, micros = parts
        try:
            every = timedelta(
                weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds, microseconds=micros
            )
        except OverflowError:
            return kind, None
        start = _time(state.get("start_time"))
        return kind, TriggerSpec(
            kind="interval",
            timezone="UTC",
            tz=UTC,
            start_date=start,
            end_date=_time(state.get("end_time")),
            interval=every,
        )
    if ref == "apscheduler.triggers.date:DateTrigger":
        run = _time(state.get("run_time"))
        if run is None:
            return kind, None
        return kind, TriggerSpec(kind="date", timezone="UTC", tz=UTC, run_date=run)
    return kind, None


def opaque_trigger(kind: str) -> str:
    """What is shown for a trigger that is not described."""
    if kind == "pickle":
        return OPAQUE_TRIGGER
    return f"<{kind} APScheduler 4 trigger>"
