"""One printable line from text that came from the store (ids, errors, reasons).

Kept for the commands that import it; it is the core's one sanitizer,
``schedtui.core.text.safe_text`` (unsafe characters visibly escaped).
"""

from __future__ import annotations

from schedtui.core.text import safe_text


def clean(text: object, limit: int = 200) -> str:
    """``safe_text(text, limit)``: one line, every unsafe character escaped, bounded."""
    return safe_text(text, limit)
