"""Finding the database to talk to, and keeping passwords out of everything we print."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target

DEFAULT_TABLE = "apscheduler_jobs"

#: Parts of a parameter name that mark its value as a credential (matched case-insensitively
#: on the percent-decoded name): ``password``, ``sslpassword``, ``sslkey``, ``passfile``,
#: ``api_token``, ``client_secret``, ``pwd`` ...
SECRET_NAME_PARTS = ("pass", "pwd", "secret", "token", "key", "credential", "auth")
MASK = "***"

# scheme://user:PASSWORD@host — the password runs to the first "@"; an unencoded "@" inside
# it (``bob:p@ss@host``) extends it for as long as another "@" follows before any "/?#".
_USERINFO = re.compile(
    r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@?#\s]*:)(?P<pw>[^@\s]*(?:@[^@/?#\s]*(?=@))*)(?P<at>@)"
)
# The userinfo of a string that *is* a URL, split as SQLAlchemy's ``make_url`` splits it (so
# as the driver is sent it): the user runs to the first ":" or "/" ("@" and spaces in it
# included: Azure's ``user@server``), the password to the next "@" (spaces included).
_URL_USERINFO = re.compile(r"(?P<head>[a-zA-Z][\w+.\-]*://[^:/]*:)(?P<pw>[^@]*)(?P<at>@)")
# ?name=value / &name=value / ;name=value in a URL's query.
_QUERY_PARAM = re.compile(r"(?P<head>[?&;](?P<name>[^=&#?;\s]+)=)(?P<pw>[^&#;\s]*)")
# name=value / name = 'quoted value' in libpq conninfo strings that drivers echo.
_CONNINFO_PARAM = re.compile(
    r"(?P<head>(?<![\w%])(?P<name>[A-Za-z_][\w%]*)\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|\"[^\"]*\"|[^\s&;,)]+)"
)


def is_secret_name(name: str) -> bool:
    """Whether a URL or conninfo parameter called ``name`` carries a credential."""
    low = unquote_plus(name).lower()
    return any(part in low for part in SECRET_NAME_PARTS)


def _mask_params(pattern: re.Pattern[str], text: str) -> str:
    return pattern.sub(lambda m: f"{m['head']}{MASK}" if is_secret_name(m["name"]) else m[0], text)


def mask_url(url: str) -> str:
    """``url`` (or any text holding URLs) with every credential replaced by ``***``: the
    userinfo password and every query parameter named like a secret (``password``,
    ``sslpassword``, ``sslkey``, ``*token*``, ``*secret*``, ``*key*`` ..., percent-encoded
    names included)."""
    whole = _URL_USERINFO.match(url)
    if whole is not None:
        url = f"{whole['head']}{MASK}{whole['at']}{url[whole.end() :]}"
    masked = _USERINFO.sub(lambda m: f"{m['head']}{MASK}{m['at']}", url)
    return _mask_params(_QUERY_PARAM, masked)


def mask_text(text: str, *urls: str) -> str:
    """``text`` with the credentials of ``urls`` masked, wherever and however they appear.

    Driver messages sometimes quote the connection string (as a URL or as libpq
    ``key=value`` pairs) or a secret value itself (a key file's path): every URL-shaped or
    conninfo-shaped credential is masked, then every literal secret of ``urls`` (raw,
    percent-decoded and percent-encoded) is replaced too.
    """
    out = _mask_params(_CONNINFO_PARAM, mask_url(text))
    secrets = sorted({s for url in urls for s in url_secrets(url)}, key=len, reverse=True)
    for secret in secrets:
        out = out.replace(secret, MASK)
    return out


def url_secrets(url: str) -> set[str]:
    """Every credential value in ``url``, in each spelling it may be printed in."""
    found = [m["pw"] for m in _USERINFO.finditer(url)]
    whole = _URL_USERINFO.match(url)
    if whole is not None:
        found.append(whole["pw"])
    found += [m["pw"] for m in _QUERY_PARAM.finditer(url) if is_secret_name(m["name"])]
    out: set[str] = set()
    for raw in found:
        for form in (raw, unquote(raw), unquote_plus(raw)):
            out |= {form, quote(form, safe=""), quote_plus(form, safe="")}
    return {s for s in out if len(s) >= 3}


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
    become psycopg 3 URLs, plain ``mysql://`` and ``mariadb://`` PyMySQL ones; a bare path to an existing file becomes a SQLite URL."""
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
    elif scheme in ("mysql", "mariadb"):
        scheme += "+pymysql"
    return f"{scheme}://{rest}"
