"""Bounded, side-effect-free ``repr`` of decoded (untrusted) values.

Depth, node count and output length are limited, so shared sub-structures ("billion
laughs"), deep nesting and huge values cannot blow up time, memory or the recursion
limit. Placeholders print as ``<module.Class(args) not imported {state}>``; a few
well-known value types print like their real ``repr`` (``Decimal('1.5')``, ``UUID('…')``).
Only plain types and our own placeholders are rendered; nothing user-defined is called.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Collection
from typing import Any, cast
from zoneinfo import ZoneInfo

from schedtui.core.decode.placeholders import ApsPlaceholder, Placeholder, _PlaceholderMeta
from schedtui.core.decode.unpickler import _Shape
from schedtui.core.decode.zones import PytzZone

ELLIPSIS = "…"


class _Budget:
    __slots__ = ("nodes", "chars")

    def __init__(self, nodes: int, chars: int) -> None:
        self.nodes = nodes
        self.chars = chars


#: Scalars whose builtin repr is what ``_render`` prints for them (short strings, small ints).
_FLAT = frozenset({int, str, float, bool, type(None)})


def _flat(obj: object) -> bool:
    """A short tuple or dict of plain scalars: the builtin repr is the safe one."""
    t = type(obj)
    items: tuple[Any, ...]
    if t is tuple:
        items = cast("tuple[Any, ...]", obj)
    elif t is dict:
        d = cast("dict[Any, Any]", obj)
        items = (*d, *d.values())
    else:
        return False
    if len(items) > 32:
        return False
    for x in items:
        tx = type(x)
        if tx not in _FLAT or (tx is str and len(x) > 120) or (tx is int and x.bit_length() > 256):
            return False
    return True


def safe_repr(obj: object, *, max_len: int = 400, max_depth: int = 6, max_nodes: int = 400) -> str:
    """A repr of ``obj`` at most ``max_len`` characters long (plus an ellipsis)."""
    if max_depth >= 1 and max_nodes > 64 and _flat(obj):
        text = repr(obj)
        if len(text) < max_len - 8:  # far from every budget: exactly what _render prints
            return text
    budget = _Budget(max_nodes, max_len)
    out: list[str] = []
    _render(obj, out, budget, max_depth)
    text = "".join(out)
    if len(text) > max_len:
        text = text[:max_len] + ELLIPSIS
    return text


def _emit(out: list[str], budget: _Budget, text: str) -> None:
    if budget.chars > 0:
        out.append(text)
        budget.chars -= len(text)


def _short_str(s: str, limit: int = 120) -> str:
    if len(s) > limit:
        return repr(s[:limit]) + ELLIPSIS
    return repr(s)


def _render(obj: object, out: list[str], budget: _Budget, depth: int) -> None:
    budget.nodes -= 1
    if budget.nodes < 0 or budget.chars <= 0:
        _emit(out, budget, ELLIPSIS)
        return
    t = type(obj)
    if obj is None or t is bool or t is float:
        _emit(out, budget, repr(obj))
    elif t is int:
        _emit(out, budget, repr(obj) if obj.bit_length() <= 256 else f"<int of {obj.bit_length()} bits>")  # type: ignore[attr-defined]
    elif t is str:
        _emit(out, budget, _short_str(obj))  # type: ignore[arg-type]
    elif t is bytes or t is bytearray:
        b = obj[:60]  # type: ignore[index]
        text = repr(b if t is bytes else bytearray(b))
        _emit(out, budget, text + (ELLIPSIS if len(obj) > 60 else ""))  # type: ignore[arg-type]
    elif t in (_dt.datetime, _dt.date, _dt.time, _dt.timedelta, _dt.timezone, ZoneInfo, PytzZone):
        _emit(out, budget, repr(obj))
    elif t in (list, tuple, set, frozenset):
        _render_seq(obj, t, out, budget, depth)  # type: ignore[arg-type]
    elif t is dict:
        if depth <= 0:
            _emit(out, budget, "{…}" if obj else "{}")
            return
        _emit(out, budget, "{")
        for i, (k, v) in enumerate(obj.items()):  # type: ignore[attr-defined]
            if budget.nodes <= 0 or budget.chars <= 0:
                _emit(out, budget, ELLIPSIS)
                break
            if i:
                _emit(out, budget, ", ")
            _render(k, out, budget, depth - 1)
            _emit(out, budget, ": ")
            _render(v, out, budget, depth - 1)
        _emit(out, budget, "}")
    elif isinstance(obj, Placeholder):
        _render_placeholder(obj, out, budget, depth)
    elif isinstance(obj, ApsPlaceholder):
        _render_aps(obj, out, budget, depth)
    elif isinstance(obj, _PlaceholderMeta):
        _emit(out, budget, f"<class {obj.ph_name()} not imported>")  # type: ignore[attr-defined]
    elif isinstance(obj, _Shape):
        _emit(out, budget, f"<{obj.label}>")
    elif isinstance(obj, type):
        _emit(out, budget, f"<class {obj.__module__}.{obj.__qualname__}>")
    else:
        _emit(out, budget, f"<{t.__name__}>")


def _render_seq(obj: Collection[object], t: type, out: list[str], budget: _Budget, depth: int) -> None:
    items = list(obj) if t in (set, frozenset) else obj
    if t is list:
        open_, close = "[", "]"
    elif t is tuple:
        open_, close = "(", ",)" if len(items) == 1 else ")"
    elif t is set:
        if not items:
            _emit(out, budget, "set()")
            return
        open_, close = "{", "}"
    else:
        open_, close = "frozenset({", "})"
    if depth <= 0 and items:
        _emit(out, budget, f"{open_}{ELLIPSIS}{close}")
        return
    _emit(out, budget, open_)
    for i, item in enumerate(items):
        if budget.nodes <= 0 or budget.chars <= 0:
            _emit(out, budget, ELLIPSIS)
            break
        if i:
            _emit(out, budget, ", ")
        _render(item, out, budget, depth - 1)
    _emit(out, budget, close)


def _uuid_text(obj: Placeholder) -> str | None:
    state = obj.ph_state
    if type(state) is tuple and len(state) == 2:
        state = state[1]
    if type(state) is dict:
        value = state.get("int")
        if type(value) is int and 0 <= value < 1 << 128:
            h = f"{value:032x}"
            return f"UUID('{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}')"
    return None


def _render_aps(obj: ApsPlaceholder, out: list[str], budget: _Budget, depth: int) -> None:
    _emit(out, budget, f"<{type(obj).ph_name()} not imported")
    state = getattr(obj, "__dict__", None)
    if type(state) is dict and state and depth > 0:
        _emit(out, budget, " ")
        _render(state, out, budget, depth - 1)
    _emit(out, budget, ">")


def _render_placeholder(obj: Placeholder, out: list[str], budget: _Budget, depth: int) -> None:
    name = type(obj).ph_name()
    args = obj.ph_args
    if name == "decimal.Decimal" and len(args) == 1 and type(args[0]) is str and len(args[0]) <= 80:
        _emit(out, budget, f"Decimal({args[0]!r})")
        return
    if name == "uuid.UUID":
        text = _uuid_text(obj)
        if text:
            _emit(out, budget, text)
            return
    _emit(out, budget, f"<{name}")
    if depth <= 0:
        _emit(out, budget, f"{ELLIPSIS} not imported>")
        return
    if args or obj.ph_kwargs:
        _emit(out, budget, "(")
        for i, a in enumerate(args):
            if i:
                _emit(out, budget, ", ")
            _render(a, out, budget, depth - 1)
        for i, (k, v) in enumerate(obj.ph_kwargs.items()):
            _emit(out, budget, ", " if (i or args) else "")
            _emit(out, budget, f"{k}=")
            _render(v, out, budget, depth - 1)
        _emit(out, budget, ")")
    _emit(out, budget, " not imported")
    state = obj.ph_state
    if type(state) is tuple and len(state) == 2 and (state[0] is None or type(state[0]) is dict):
        merged: dict[object, object] = {}
        for part in state:
            if type(part) is dict:
                merged.update(part)
        state = merged
    if type(state) is dict and state:
        _emit(out, budget, " {")
        for i, (k, v) in enumerate(state.items()):
            if budget.nodes <= 0 or budget.chars <= 0:
                _emit(out, budget, ELLIPSIS)
                break
            if i:
                _emit(out, budget, ", ")
            if type(k) is str and len(k) <= 64:
                _emit(out, budget, f"{k}=")
            else:
                _render(k, out, budget, depth - 1)
                _emit(out, budget, "=")
            _render(v, out, budget, depth - 1)
        _emit(out, budget, "}")
    elif state is not None and state != {}:
        _emit(out, budget, " ")
        _render(state, out, budget, depth - 1)
    if obj.ph_items:
        _emit(out, budget, " items=")
        _render(obj.ph_items, out, budget, depth - 1)
    _emit(out, budget, ">")
