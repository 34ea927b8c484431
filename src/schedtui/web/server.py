"""The textual-serve server of ``schedtui serve``: one console process per browser session.

textual-serve runs a command per websocket session and relays its terminal to xterm.js.
The command here is always our console (``python -m schedtui``), read-only unless the
operator allowed writes; the store's URL reaches it through the environment
(``SCHEDTUI_URL``), never its command line, where ``ps`` would show a password. Every
request goes through :class:`~schedtui.web.access.AccessPolicy` first: a refused
request never starts a console.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from schedtui.core.model import Target
from schedtui.web.access import TOKEN_ENV, AccessPolicy, Decision, Request

log = logging.getLogger("schedtui.serve")

TEMPLATES = Path(__file__).resolve().parent / "templates"
_STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Everything ``schedtui serve`` was asked for."""

    target: Target
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    allow_writes: bool = False
    refresh: float = 2.0
    public_url: str | None = None  #: the address browsers use, when a proxy sits in front
    max_sessions: int = 8


def console_command(options: ServeOptions) -> str:
    """The shell command textual-serve runs for each browser session."""
    argv = [sys.executable, "-m", "schedtui", "--refresh", f"{options.refresh:g}"]
    if not options.allow_writes:
        argv.append("--read-only")
    return shlex.join(argv)


def console_env(options: ServeOptions, base: Mapping[str, str]) -> dict[str, str]:
    """The consoles' environment: ours, with the store in it and without the token."""
    env = {k: v for k, v in base.items() if k != TOKEN_ENV}
    for name in ("SCHEDTUI_URL", "SCHEDTUI_TABLE", "SCHEDTUI_SCHEMA"):  # a SCHEDTUI_READ_ONLY of yours stays
        env.pop(name, None)
    env["SCHEDTUI_URL"] = options.target.url
    env["SCHEDTUI_TABLE"] = options.target.table
    if options.target.schema:
        env["SCHEDTUI_SCHEMA"] = options.target.schema
    if not options.allow_writes:
        env["SCHEDTUI_READ_ONLY"] = "1"
    return env


class _ConsoleService(AppService):
    """textual-serve's process manager, with the consoles' environment."""

    def __init__(self, *args: Any, env: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._env = dict(env)

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        return console_env_overlay(super()._build_environment(width, height), self._env)


def console_env_overlay(textual_env: Mapping[str, str], ours: Mapping[str, str]) -> dict[str, str]:
    """textual-serve's variables (driver, size) on top of ours; the token never passes."""
    textual_keys = {k: v for k, v in textual_env.items() if k.startswith(("TEXTUAL", "TERM_PROGRAM"))}
    textual_keys.update({k: textual_env[k] for k in ("COLUMNS", "ROWS") if k in textual_env})
    env = {**ours, **textual_keys}
    env.pop(TOKEN_ENV, None)
    return env


def cookie_name(port: int) -> str:
    """Cookies are not per port: two servers on one host must not share one."""
    return f"schedtui_serve_{port}"


class ConsoleServer(Server):
    """textual-serve's server with the access check, a session limit and clean stops."""

    def __init__(self, options: ServeOptions, env: Mapping[str, str], echo: Callable[[str], None]) -> None:
        super().__init__(
            console_command(options),
            host=options.host,
            port=options.port,
            title=f"schedtui · {options.target.safe_url}",
            public_url=options.public_url,
            templates_path=TEMPLATES,
        )
        self.options = options
        self.env = console_env(options, env)
        extra = frozenset({(urlsplit(options.public_url).hostname or "").lower()} if options.public_url else ())
        self.policy = AccessPolicy(options.token, extra_hosts=extra - {""})
        self.echo = echo
        self.sessions: set[_ConsoleService] = set()
        self.bound_port = options.port

    # -- the web application -------------------------------------------------------

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._access_middleware)
        return app

    @web.middleware
    async def _access_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        decision = self.policy.decide(_access_request(request, cookie_name(self.bound_port)))
        if not decision.allowed:
            log.warning("refused %s %s from %s: %s", request.method, request.path, request.remote, decision.reason)
            return _refusal(decision)
        if decision.set_cookie:
            return self._token_accepted(request)
        return await handler(request)

    def _token_accepted(self, request: web.Request) -> web.StreamResponse:
        """``/?token=…``: keep it in a cookie and reload without it in the address bar."""
        query = [(k, v) for k, v in request.query.items() if k != "token"]
        response = web.HTTPSeeOther(request.path + ("?" + urlencode(query) if query else ""))
        response.set_cookie(
            cookie_name(self.bound_port),
            self.options.token or "",
            httponly=True,
            samesite="Strict",
            secure=request.secure or (self.options.public_url or "").startswith("https:"),
            path="/",
        )
        return response

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """textual-serve's page, with its links built from the address the browser used."""
        base = self.options.public_url.rstrip("/") if self.options.public_url else f"{request.scheme}://{request.host}"
        ws_base = ("wss:" if base.startswith("https:") else "ws:") + base.split(":", 1)[1]
        try:
            font_size = int(request.query.get("fontsize", "16"))
        except ValueError:
            font_size = 16
        return {
            "font_size": max(6, min(font_size, 48)),
            "app_websocket_url": ws_base + str(request.app.router["websocket"].url_for()),
            "config": {"static": {"url": base + "/static/"}},
            "application": {"name": self.title},
        }

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One browser session: one console process, stopped when the tab goes."""
        if len(self.sessions) >= self.options.max_sessions:
            log.warning("refused a session from %s: %d sessions open", request.remote, len(self.sessions))
            raise web.HTTPServiceUnavailable(text="schedtui serve: too many sessions open\n")
        websocket = web.WebSocketResponse(heartbeat=15)
        service = _ConsoleService(
            self.command,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
            env=self.env,
        )
        self.sessions.add(service)  # counted before the first await: the limit holds under a burst
        try:
            await websocket.prepare(request)
            log.info("session started from %s (%d open)", request.remote, len(self.sessions))
            width = _int(request.query.get("width"), 80, 10, 500)
            height = _int(request.query.get("height"), 24, 5, 200)
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as exc:  # a broken session must not stop the server
            log.warning("session from %s ended: %s: %s", request.remote, type(exc).__name__, exc)
        finally:
            await _stop(service)
            self.sessions.discard(service)
            log.info("session from %s ended (%d open)", request.remote, len(self.sessions))
        return websocket

    async def on_startup(self, app: web.Application) -> None:
        """No banner: :meth:`run` prints where the page is once it listens."""

    async def on_shutdown(self, app: web.Application) -> None:
        await asyncio.gather(*(_stop(s) for s in list(self.sessions)))

    # -- running -------------------------------------------------------------------

    def run(self) -> int:
        """Serve until Ctrl-C or SIGTERM; 0 then."""
        return asyncio.run(self._run())

    async def _run(self) -> int:
        runner = web.AppRunner(await self._make_app(), access_log=None, shutdown_timeout=_STOP_TIMEOUT_S)
        await runner.setup()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        try:
            site = web.TCPSite(runner, self.options.host, self.options.port)
            await site.start()
            self.bound_port = int(runner.addresses[0][1])
            self.echo(self._banner())
            await stop.wait()
        finally:
            await runner.cleanup()
        return 0

    def _banner(self) -> str:
        host = self.options.host
        if host in ("0.0.0.0", "::", ""):  # every address: name the machine instead
            host = socket.gethostname()
        shown = f"[{host}]" if ":" in host else host
        url = self.options.public_url or f"http://{shown}:{self.bound_port}/"
        mode = "read-write (--allow-writes)" if self.options.allow_writes else "read-only"
        access = (
            "token required: open it once with ?token=<the token>" if self.options.token else "no token (loopback only)"
        )
        return (
            f"schedtui serve: the console of {self.options.target.safe_url} on {url} ({mode}; {access}; Ctrl-C stops)"
        )


def _access_request(request: web.Request, cookie: str) -> Request:
    return Request(
        path=request.path,
        host=request.headers.get("Host", ""),
        origin=request.headers.get("Origin"),
        query_token=request.query.get("token"),
        cookie_token=request.cookies.get(cookie),
        authorization=request.headers.get("Authorization"),
        websocket=request.headers.get("Upgrade", "").lower() == "websocket",
    )


def _refusal(decision: Decision) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="schedtui"'} if decision.status == 401 else {}
    hint = " (open the page once as /?token=<the token>)" if decision.status == 401 else ""
    return web.Response(status=decision.status, text=f"schedtui serve: {decision.reason}{hint}\n", headers=headers)


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(int(value or default), high))
    except ValueError:
        return default


async def _stop(service: AppService) -> None:
    """Ask the console to quit; kill it if it has not within a few seconds."""
    try:
        await asyncio.wait_for(service.stop(), _STOP_TIMEOUT_S)
    except Exception:  # TimeoutError, or the pipe already gone
        process = service._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
