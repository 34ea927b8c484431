"""Option values typer would coerce through pydantic, taken as they are when that changes nothing.

Typer (0.2x) gives every parameter of the invoked command a pydantic ``TypeAdapter``,
built before the value is looked at: importing pydantic and building about twenty
adapters is a third of a short ``check``'s time. :func:`install` gives each parameter a
:class:`QuickCoercion` instead. It answers only the values the adapter would hand back
unchanged or reads the obvious way: ``None`` (no adapter is used for it), a ``str`` for a
``str`` option, a list of ``str`` for a ``list[str]`` option, an ``int``/``float`` already
of the option's type, and a plain decimal typed for one (``120``, ``0.5``: digits and at
most one point, which pydantic and Python read alike, correctly rounded), finite and in
the option's range. Anything else (a sign, an exponent, spaces, a value out of range, a
path or choice option, a custom parser) goes to typer's own coercion, built on first use,
so its messages and results stay typer's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any, get_args, get_origin

#: The typer parameter attribute holding its coercion (typer >= 0.2x; absent before).
_SLOT = "_runtime_param"


#: Decimals read the same by pydantic and by ``int()``/``float()``: no sign, exponent,
#: underscore, space or leading zero, and short enough to stay exact as an ``int``.
_INT = re.compile(r"0|[1-9][0-9]{0,17}")
_FLOAT = re.compile(r"(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,17})?")


def _plain(info: Any) -> bool:
    """No parser, click type or path/file handling that could change a value."""
    return (
        getattr(info, "parser", None) is None
        and getattr(info, "click_type", None) is None
        and not getattr(info, "allow_dash", False)
        and getattr(info, "path_type", None) is None
        and not getattr(info, "resolve_path", False)
    )


def _in_range(value: float, info: Any) -> bool:
    low, high = getattr(info, "min", None), getattr(info, "max", None)
    if getattr(info, "clamp", False):
        return False
    return (low is None or value >= low) and (high is None or value <= high)


class QuickCoercion:
    """A typer ``RuntimeParam`` stand-in: the unchanged values here, the rest to typer's."""

    __slots__ = ("_real",)

    def __init__(self) -> None:
        self._real: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multi = bool(param.multiple) or param.nargs == -1
        if value is None:  # typer's own RuntimeParam.coerce, before any adapter
            return () if multi else None
        quick = _quick(value, param, multi)
        if quick is not _NO:
            return quick
        if self._real is None:
            from typer._coercion import build_runtime_param

            self._real = build_runtime_param(param.type_descriptor)
        return self._real.coerce(value, param=param, ctx=ctx)


_NO = object()


def _quick(value: Any, param: Any, multi: bool) -> Any:
    """``value`` as typer's adapter would return it, or ``_NO`` when that needs the adapter."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(descriptor, "file_annotation", None) is not None:
        return _NO
    info = descriptor.parameter_info
    if not _plain(info):
        return _NO
    annotation = descriptor.annotation
    if multi:
        if (
            get_origin(annotation) is list
            and get_args(annotation) == (str,)
            and type(value) in (list, tuple)
            and all(type(v) is str for v in value)
        ):
            return list(value)
        return _NO
    if param.nargs != 1:
        return _NO
    if annotation is str and type(value) is str:
        return value
    if annotation is int and type(value) is str and _INT.fullmatch(value):
        value = int(value)
    elif annotation is float and type(value) is str and _FLOAT.fullmatch(value):
        value = float(value)
    if annotation in (int, float) and type(value) is annotation and math.isfinite(value) and _in_range(value, info):
        return value
    return _NO


def install(params: Iterable[Any]) -> None:
    """Give each typer parameter that has not coerced anything yet a :class:`QuickCoercion`."""
    for param in params:
        if hasattr(param, "type_descriptor") and getattr(param, _SLOT, _NO) is None:
            setattr(param, _SLOT, QuickCoercion())
