"""``schedtui serve``: the console in a browser tab, through textual-serve.

Each browser connection starts its own console process (textual-serve's web driver).
It is read-only unless ``allow_writes``; a host other than loopback is refused unless an
access token is set, and then every request needs it (``?token=`` once, then a cookie).
The database URL reaches the console processes through the environment, never their
command line (where ``ps`` would show a password).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import shlex
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target

COOKIE = "schedtui_token"
TOKEN_ENV = "SCHEDTUI_SERVE_TOKEN"


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to put the console on a network without an access token."""
    if not is_loopback(host) and not token:
        raise SchedtuiError(
            f"refusing to serve on {host} without an access token: set {TOKEN_ENV} (or --token-file); "
            "the page then asks for it. Loopback (127.0.0.1) needs none.",
            ErrorKind.CONFIG,
        )


def console_command(target: Target, *, allow_writes: bool, refresh: float) -> str:
    """The command each browser connection runs (the URL is in the environment)."""
    parts = [sys.executable, "-m", "schedtui", "--refresh", f"{refresh:g}"]
    if target.table != "apscheduler_jobs":
        parts += ["--table", target.table]
    if target.schema:
        parts += ["--schema", target.schema]
    if not allow_writes:
        parts.append("--read-only")
    return shlex.join(parts)


def make_server(
    target: Target, *, host: str, port: int, allow_writes: bool = False, token: str | None = None, refresh: float = 2.0
) -> Any:
    """A textual-serve ``Server`` for the console (token-guarded when ``token`` is set)."""
    check_exposure(host, token)
    from aiohttp import web
    from textual_serve.server import Server

    Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

    import aiohttp_jinja2

    class GuardedServer(Server):
        @aiohttp_jinja2.template("app_index.html")
        async def handle_index(self, request: web.Request) -> dict[str, Any]:
            # The page's links and websocket follow the address the browser used
            # (``--host 0.0.0.0`` is no address a browser can connect to).
            self.public_url = f"{request.scheme}://{request.host}"
            context: dict[str, Any] = await Server.handle_index.__wrapped__(self, request)  # type: ignore[attr-defined]
            return context

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            if token:
                app.middlewares.append(guard)
            return app

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.query.get("token") or request.cookies.get(COOKIE) or ""
        if not token or not hmac.compare_digest(given.encode(), token.encode()):
            return web.Response(
                status=401,
                text="schedtui: this console needs its access token: open the address with ?token=...\n",
            )
        response = await handler(request)
        if request.query.get("token") and not response.prepared:
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict")
        return response

    if token:
        _redact_access_log(token)
    os.environ["SCHEDTUI_URL"] = target.url  # inherited by the console processes only
    title = f"schedtui · {target.safe_url}" + ("" if allow_writes else " (read-only)")
    command = console_command(target, allow_writes=allow_writes, refresh=refresh)
    return GuardedServer(command, host=host, port=port, title=title)


def _redact_access_log(token: str) -> None:
    """The access log prints request lines (``GET /?token=…``): never the token itself."""
    import logging

    class Redact(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg = str(record.getMessage()).replace(token, "***")
            record.args = ()
            return True

    for name in ("aiohttp.access", "aiohttp.server", "aiohttp.web"):
        logging.getLogger(name).addFilter(Redact())


def serve_console(
    target: Target, *, host: str, port: int, allow_writes: bool = False, token: str | None = None, refresh: float = 2.0
) -> None:
    """Serve until interrupted."""
    server = make_server(target, host=host, port=port, allow_writes=allow_writes, token=token, refresh=refresh)
    where = f"http://{host}:{port}/" + ("?token=…" if token else "")
    mode = "read-write" if allow_writes else "read-only"
    print(f"schedtui serve: the console ({mode}) of {target.safe_url} on {where}", flush=True)
    server.serve()
