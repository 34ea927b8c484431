"""Who may open ``schedtui serve``'s page: the access token and the host rules.

Without a token only loopback may listen, and only requests addressed to a loopback name
are served (a web page elsewhere cannot reach the console through DNS rebinding). With a
token every request needs it: once as ``?token=`` on the page (answered with a cookie
and a redirect that drops it from the address bar), else the cookie, else an
``Authorization: Bearer`` header. Tokens are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from schedtui.core.errors import ErrorKind, SchedtuiError

#: Where the token may come from besides ``--token-file`` (never the command line).
TOKEN_ENV = "SCHEDTUI_SERVE_TOKEN"
MIN_TOKEN_LENGTH = 16
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~-]+")  #: unreserved in a URL, plain in a cookie
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """True for a loopback address or the name ``localhost`` (``::1``, ``127.0.0.0/8``)."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def load_token(token_file: Path | None, env: Mapping[str, str] | None = None) -> str | None:
    """The access token from ``token_file`` (its first line), else ``$SCHEDTUI_SERVE_TOKEN``.

    Raises a CONFIG error for an unreadable file or a token that is too short or holds
    characters a cookie cannot carry.
    """
    env = os.environ if env is None else env
    if token_file is not None:
        try:
            text = token_file.expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise SchedtuiError(f"cannot read the token file {token_file}: {reason}", ErrorKind.CONFIG) from None
        token, where = (text.splitlines() or [""])[0].strip(), f"the token file {token_file}"
    else:
        token, where = env.get(TOKEN_ENV, "").strip(), f"${TOKEN_ENV}"
        if not token:
            return None
    if len(token) < MIN_TOKEN_LENGTH:
        raise SchedtuiError(
            f"{where}: the token must be at least {MIN_TOKEN_LENGTH} characters (make one with: openssl rand -hex 32)",
            ErrorKind.CONFIG,
        )
    if not _TOKEN_CHARS.fullmatch(token):
        raise SchedtuiError(
            f"{where}: the token may hold only letters, digits and ._~- (openssl rand -hex 32 makes one)",
            ErrorKind.CONFIG,
        )
    return token


def tokens_equal(given: str, expected: str) -> bool:
    """Constant-time comparison (of digests, so not even the length leaks)."""
    a = hashlib.sha256(given.encode("utf-8", "surrogateescape")).digest()
    b = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(a, b)


def host_name(host_header: str) -> str:
    """The host of a ``Host`` header, without its port (``[::1]:8000`` → ``::1``)."""
    value = host_header.strip()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


@dataclass(frozen=True, slots=True)
class Request:
    """What the access check looks at in one HTTP request."""

    path: str
    host: str  #: the Host header
    origin: str | None = None  #: the Origin header (browsers send it on a websocket)
    query_token: str | None = None
    cookie_token: str | None = None
    authorization: str | None = None
    websocket: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    status: int = 200  #: the HTTP status to answer with when not allowed
    reason: str = ""
    set_cookie: bool = False  #: the token came as ?token=: answer with the cookie and a redirect


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The rules of one server: its token (or none) and the host names it answers to."""

    token: str | None
    extra_hosts: frozenset[str] = frozenset()  #: e.g. the host of --public-url

    def decide(self, req: Request) -> Decision:
        host = host_name(req.host).lower()
        if self.token is None and not (is_loopback(host) or host in self.extra_hosts):
            return Decision(False, 403, f"host {host!r} is not served without an access token")
        if req.websocket and req.origin is not None and not _same_origin(req.origin, req.host):
            return Decision(False, 403, "websocket from another origin")
        if self.token is None:
            return Decision(True)
        if req.query_token is not None and not req.websocket:
            if tokens_equal(req.query_token, self.token):
                return Decision(True, set_cookie=True)
            return Decision(False, 403, "wrong access token")
        for given in (req.cookie_token, _bearer(req.authorization)):
            if given is not None:
                if tokens_equal(given, self.token):
                    return Decision(True)
                return Decision(False, 403, "wrong access token")
        return Decision(False, 401, "access token needed")


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _same_origin(origin: str, host_header: str) -> bool:
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host_header.strip().lower()
