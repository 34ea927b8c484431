"""The one output sanitizer: text that came from the store or the scheduler, made safe to print.

Ids, names, function references, trigger text, args reprs, errors, tracebacks, heartbeat
names and backup source names are untrusted: a stored ``\\x1b]0;title\\x07`` would set the
operator's window title, a ``\\n`` would forge a line of the health tree or split the
probe's one status line, a U+202E would reverse what follows. Every renderer (the CLI's
tree, status line, tables and messages; the console) passes such text through
``safe_text`` (one line) or ``safe_lines`` (multi-line text such as a traceback, each line
made safe on its own).

What is escaped, visibly: C0 controls and DEL (``\\n``, ``\\r``, ``\\t``, ``\\x1b``, ``\\x07``
...), C1 controls (``\\x9b`` ...), format characters (Unicode category Cf: bidi embeddings,
overrides and isolates U+202A-U+202E, U+2066-U+2069, zero-width joiners and spaces, the
BOM ...), line and paragraph separators (U+2028, U+2029) and lone surrogates, as
``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``. Everything else, including non-ASCII letters, is
kept. A backslash is not doubled: the result contains no character that would be escaped,
so applying ``safe_text`` twice changes nothing (renderers may sanitize again safely).
"""

from __future__ import annotations

import re
import unicodedata

ELLIPSIS = "…"

#: Categories shown escaped: controls, format characters, line/paragraph separators, surrogates.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(ch: str) -> str:
    short = _SHORT.get(ch)
    if short is not None:
        return short
    n = ord(ch)
    if n <= 0xFF:
        return f"\\x{n:02x}"
    if n <= 0xFFFF:
        return f"\\u{n:04x}"
    return f"\\U{n:08x}"


def is_unsafe_char(ch: str) -> bool:
    """Whether ``ch`` must not reach a terminal raw."""
    return unicodedata.category(ch) in UNSAFE_CATEGORIES


def safe_text(text: object, limit: int | None = None) -> str:
    """``text`` as one printable line: every unsafe character visibly escaped.

    ``limit`` bounds the length of the original text (cut with an ellipsis) before escaping.
    ``None`` becomes ``""``; other objects go through ``str``.
    """
    s = "" if text is None else text if type(text) is str else str(text)
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 1, 0)] + ELLIPSIS
    if s.isprintable():  # C speed; false for Cc/Cf/Zl/Zp/Cs (and some harmless ones)
        return s
    return "".join(_escape_char(ch) if unicodedata.category(ch) in UNSAFE_CATEGORIES else ch for ch in s)


def safe_lines(text: object, limit: int | None = None) -> list[str]:
    """Multi-line text (a traceback) as safe lines: split on ``\\n`` (and ``\\r\\n``) only,
    each line escaped on its own, so the structure stays and nothing else breaks a line."""
    s = "" if text is None else str(text)
    parts = s.split("\n")
    return [safe_text(p[:-1] if p.endswith("\r") else p, limit) for p in parts]


def safe_block(text: object, limit: int | None = None) -> str:
    """``safe_lines`` joined by newlines (the only line breaks left are real ones)."""
    return "\n".join(safe_lines(text, limit))


_NON_ASCII = re.compile("[^\x00-\x7e]")


def _json_escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    if unicodedata.category(ch) not in UNSAFE_CATEGORIES:
        return ch
    n = ord(ch)
    if n > 0xFFFF:
        n -= 0x10000
        return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"
    return f"\\u{n:04x}"


def json_safe(dumped: str) -> str:
    """Output of ``json.dumps(..., ensure_ascii=False)`` with DEL, C1, format characters,
    separators and surrogates written as ``\\uNNNN`` escapes: the same JSON value (they can
    only occur inside strings), readable UTF-8 for everything else, nothing a terminal
    would act on. (``json.dumps`` already escapes the C0 controls.)"""
    if dumped.isascii() and "\x7f" not in dumped:
        return dumped
    return _NON_ASCII.sub(_json_escape, dumped)
