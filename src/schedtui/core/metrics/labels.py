"""Label values: safe to print, bounded, unique per store, and never holding a password.

The exposition formats escape ``\\``, ``"`` and newlines themselves (prometheus-client
does it); what they would pass through raw (other control and format characters, lone
surrogates) is replaced here, so no store content reaches a terminal raw. A job id that
had to be changed carries a short hash of the original, so it stays unique and stable.
"""

from __future__ import annotations

import hashlib
import unicodedata

from schedtui.core.model import Target
from schedtui.core.urls import DEFAULT_TABLE, mask_url

#: Longest label value kept (longer ids are cut and marked with ``…``).
MAX_LABEL = 200
_UNSAFE = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


def clean_label(text: str, limit: int = MAX_LABEL) -> str:
    """``text`` with every unsafe character but the newline replaced by ``?``; at most
    ``limit`` characters."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if text.isprintable():
        return text
    return "".join(ch if ch == "\n" or unicodedata.category(ch) not in _UNSAFE else "?" for ch in text)


def job_label(job_id: str) -> str:
    """The ``job_id`` label of a job: the id itself when it is safe and short; else the
    cleaned id with ``~`` and 8 hex digits of the id's hash, the same on every scrape
    (so two ids that clean alike stay apart)."""
    label = clean_label(job_id)
    if label == job_id:
        return label
    digest = hashlib.blake2b(job_id.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
    return f"{clean_label(job_id, MAX_LABEL - 9)}~{digest}"


class UniqueLabels:
    """Gives each job id a distinct label value (``job_label``, and a counter in the
    unlikely case that still collides)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, job_id: str) -> str:
        label = job_label(job_id)
        if label in self._seen:
            n = 2
            while f"{label} (#{n})" in self._seen:
                n += 1
            label = f"{label} (#{n})"
        self._seen.add(label)
        return label


def store_label(target: Target, name: str | None = None) -> str:
    """``name`` when given, else the masked URL (plus the table when not the default)."""
    if name:
        return clean_label(name)
    label = mask_url(target.url)
    if target.table != DEFAULT_TABLE or target.schema:
        label += "#" + (f"{target.schema}.{target.table}" if target.schema else target.table)
    return clean_label(label, limit=400)
