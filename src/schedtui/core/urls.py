"""Finding the database to talk to, and keeping passwords out of everything we print."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target

DEFAULT_TABLE = "apscheduler_jobs"

_PASSWORD_IN_URL = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?P<at>@)")
_PASSWORD_PARAM = re.compile(r"(?i)(?P<head>[?&](?:password|passwd|pwd)=)(?P<pw>[^&\s]*)")


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (also inside query strings)."""
    masked = _PASSWORD_IN_URL.sub(lambda m: f"{m['head']}***{m['at']}", url)
    return _PASSWORD_PARAM.sub(lambda m: f"{m['head']}***", masked)


def mask_text(text: str, *urls: str) -> str:
    """``text`` with the passwords of ``urls`` (and any URL-shaped password) masked.

    Driver error messages sometimes quote the connection string or the password itself.
    """
    out = mask_url(text)
    for url in urls:
        for secret in _passwords(url):
            if secret:
                out = out.replace(secret, "***")
    return out


def _passwords(url: str) -> list[str]:
    found = [m["pw"] for m in _PASSWORD_IN_URL.finditer(url)]
    found += [m["pw"] for m in _PASSWORD_PARAM.finditer(url)]
    from urllib.parse import unquote

    return [p for s in found for p in {s, unquote(s)} if len(p) >= 3]


def resolve_target(
    url: str | None = None,
    table: str | None = None,
    schema: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Target:
    """``--url`` else ``SCHEDTUI_URL`` else ``DATABASE_URL``; table and schema likewise.

    Raises a CONFIG error naming the options when nothing is configured.
    """
    env = os.environ if env is None else env
    url = url or env.get("SCHEDTUI_URL") or env.get("DATABASE_URL")
    if not url:
        raise SchedtuiError(
            "no database configured: pass --url, or set SCHEDTUI_URL or DATABASE_URL "
            "(for example sqlite:///jobs.sqlite or postgresql://user@host/db). "
            "To try schedtui without one, run: schedtui demo",
            ErrorKind.CONFIG,
        )
    url = normalize_url(url.strip())
    table = table or env.get("SCHEDTUI_TABLE") or DEFAULT_TABLE
    schema = schema or env.get("SCHEDTUI_SCHEMA") or None
    return Target(url=url, table=table, schema=schema)


def normalize_url(url: str) -> str:
    """Accept the spellings people paste: ``postgres://`` and plain ``postgresql://``
    become psycopg 3 URLs; a bare path to an existing file becomes a SQLite URL."""
    if "://" not in url:
        if os.path.exists(url):
            return "sqlite:///" + os.path.abspath(url)
        raise SchedtuiError(
            f"not a database URL: {mask_url(url)!r} (expected e.g. sqlite:///path/to/jobs.sqlite "
            "or postgresql://user@host/db)",
            ErrorKind.CONFIG,
        )
    scheme, rest = url.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        scheme = "postgresql+psycopg"
    return f"{scheme}://{rest}"
