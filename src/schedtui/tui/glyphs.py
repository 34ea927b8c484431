"""The console's own symbols, in Unicode or in ASCII as the terminal declared
(``core.vocab.terminal_unicode``: a plain ``LANG=C`` session gets ASCII)."""

from __future__ import annotations

from schedtui.core.vocab import terminal_unicode

_TABLE: dict[str, tuple[str, str]] = {
    "ok": ("✓", "+"),
    "no": ("✗", "x"),
    "bad": ("✖", "X"),
    "dot": ("●", "*"),
    "ring": ("◌", "o"),
    "warn": ("⚠", "!"),
    "open": ("▾", "v"),
    "closed": ("▸", ">"),
    "sep": ("│", "|"),
    "arrow": ("→", "->"),
    "up": ("↑", "^"),
    "down": ("↓", "v"),
    "mark": ("◆", "#"),
    "ellipsis": ("…", "~"),
    "fail": ("✖", "X"),
}
#: Sparkline bars, lowest to highest.
BARS_UNICODE = "▁▂▃▄▅▆▇█"
BARS_ASCII = "_.-=+*#@"

_state = {"unicode": terminal_unicode()}


def set_unicode(flag: bool) -> None:
    """Choose the symbol set (the app calls it once at start; tests call it too)."""
    _state["unicode"] = bool(flag)


def unicode() -> bool:
    return _state["unicode"]


def g(name: str) -> str:
    """The symbol ``name`` in the current set."""
    u, a = _TABLE[name]
    return u if _state["unicode"] else a


def bars() -> str:
    return BARS_UNICODE if _state["unicode"] else BARS_ASCII
