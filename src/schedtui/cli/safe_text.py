"""One printable line from text that came from the store (ids, errors, reasons)."""

from __future__ import annotations

import unicodedata

_BAD = ("Cc", "Cf", "Zl", "Zp", "Cs")


def clean(text: object, limit: int = 200) -> str:
    """Control and format characters become ``?``; at most ``limit`` characters."""
    s = str(text)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return "".join("?" if unicodedata.category(ch) in _BAD else ch for ch in s)
