"""``schedtui serve``: the access rules, the refusals, and the console in a real headless
Chromium (Debian's ``chromium``) against a store written by real APScheduler.

Outside CI the browser tests skip without Chromium; in CI (``CI=true``) they fail.
"""

from __future__ import annotations

import http.client
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from schedtui.core.model import Target
from schedtui.web.access import TOKEN_ENV, AccessPolicy, Request, is_loopback, load_token, tokens_equal
from schedtui.web.server import ServeOptions, console_command, console_env, console_env_overlay, cookie_name

TOKEN = "t0ken-for-the-tests-0123456789abcdef"
JOB_IDS = ("cleanup-temp", "paused-ping", "torn-row")  # ids the console shows as they are (no name)


# -- the rules, without a server -------------------------------------------------------


def test_loopback_names() -> None:
    for host in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.0.2.7", "example.com", "localhost.example.com", ""):
        assert not is_loopback(host), host


def test_no_token_serves_loopback_names_only() -> None:
    policy = AccessPolicy(None)
    assert policy.decide(Request("/", "127.0.0.1:8000")).allowed
    assert policy.decide(Request("/", "localhost:8000")).allowed
    assert policy.decide(Request("/", "[::1]:8000")).allowed
    rebound = policy.decide(Request("/", "attacker.example:8000"))  # DNS rebinding to 127.0.0.1
    assert (rebound.allowed, rebound.status) == (False, 403)
    foreign_ws = policy.decide(Request("/ws", "127.0.0.1:8000", origin="http://attacker.example", websocket=True))
    assert (foreign_ws.allowed, foreign_ws.status) == (False, 403)
    own_ws = policy.decide(Request("/ws", "127.0.0.1:8000", origin="http://127.0.0.1:8000", websocket=True))
    assert own_ws.allowed


def test_token_rules() -> None:
    policy = AccessPolicy(TOKEN)
    none = policy.decide(Request("/", "ops.example:8000"))
    assert (none.allowed, none.status) == (False, 401)
    wrong = policy.decide(Request("/", "ops.example:8000", query_token=TOKEN + "x"))
    assert (wrong.allowed, wrong.status) == (False, 403)
    once = policy.decide(Request("/", "ops.example:8000", query_token=TOKEN))
    assert once.allowed and once.set_cookie
    assert policy.decide(Request("/ws", "ops.example:8000", cookie_token=TOKEN, websocket=True)).allowed
    assert policy.decide(Request("/", "ops.example:8000", authorization=f"Bearer {TOKEN}")).allowed
    bad_cookie = policy.decide(Request("/static/js/textual.js", "ops.example:8000", cookie_token="nope"))
    assert (bad_cookie.allowed, bad_cookie.status) == (False, 403)
    # the websocket never takes the token from its query (it would end up in logs and history)
    ws_query = policy.decide(Request("/ws", "ops.example:8000", query_token=TOKEN, websocket=True))
    assert (ws_query.allowed, ws_query.status) == (False, 401)
    assert tokens_equal(TOKEN, TOKEN) and not tokens_equal(TOKEN, TOKEN[:-1]) and not tokens_equal("", TOKEN)


def test_token_sources(tmp_path: Path) -> None:
    assert load_token(None, {}) is None
    assert load_token(None, {TOKEN_ENV: f"  {TOKEN}\n"}) == TOKEN
    path = tmp_path / "token"
    path.write_text(TOKEN + "\nsecond line ignored\n")
    assert load_token(path, {TOKEN_ENV: "other-token-that-is-long-enough"}) == TOKEN
    from schedtui.core.errors import SchedtuiError

    path.write_text("short\n")
    with pytest.raises(SchedtuiError, match="at least 16"):
        load_token(path, {})
    with pytest.raises(SchedtuiError, match="only letters"):
        load_token(None, {TOKEN_ENV: "a token; with spaces and semicolons"})
    with pytest.raises(SchedtuiError, match="only letters"):
        load_token(None, {TOKEN_ENV: "base64+with/slashes=and-pluses"})  # + would arrive as a space
    with pytest.raises(SchedtuiError, match="cannot read the token file"):
        load_token(tmp_path / "missing", {})


def test_console_is_read_only_unless_writes_are_allowed() -> None:
    target = Target(url="postgresql+psycopg://ops:s3cret@db.internal/app", table="jobs", schema="ops")
    command = console_command(ServeOptions(target=target))
    assert command.split()[-1] == "--read-only" and " -m schedtui " in command
    assert "s3cret" not in command and "db.internal" not in command  # the URL goes by the environment
    assert "--read-only" not in console_command(ServeOptions(target=target, allow_writes=True))
    env = console_env(ServeOptions(target=target), {TOKEN_ENV: TOKEN, "SCHEDTUI_URL": "sqlite:///other", "HOME": "/h"})
    assert env["SCHEDTUI_URL"] == target.url and env["SCHEDTUI_SCHEMA"] == "ops" and env["SCHEDTUI_READ_ONLY"] == "1"
    assert TOKEN_ENV not in env and env["HOME"] == "/h"
    yours = console_env(ServeOptions(target=target, allow_writes=True), {"SCHEDTUI_READ_ONLY": "1"})
    assert yours["SCHEDTUI_READ_ONLY"] == "1"  # --allow-writes never lifts a read-only you set
    overlay = console_env_overlay({"TEXTUAL_DRIVER": "web", "COLUMNS": "90", TOKEN_ENV: TOKEN, "X": "1"}, env)
    assert overlay["TEXTUAL_DRIVER"] == "web" and overlay["COLUMNS"] == "90" and TOKEN_ENV not in overlay
    assert "X" not in overlay
    assert cookie_name(8000) != cookie_name(8001)


# -- the command -----------------------------------------------------------------------


def _schedtui(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schedtui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**_clean_env(), **(env or {})},
    )


def _clean_env() -> dict[str, str]:
    drop = ("SCHEDTUI_URL", "DATABASE_URL", TOKEN_ENV, "SCHEDTUI_READ_ONLY")
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7"])
def test_other_host_without_token_is_refused(store_file: Path, host: str) -> None:
    result = _schedtui("serve", "--url", f"sqlite:///{store_file}", "--host", host, "--port", "0")
    assert result.returncode == 2, result
    assert result.stderr.startswith("schedtui: refusing to serve on") and "access token" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_bad_token_file_is_refused(store_file: Path, tmp_path: Path) -> None:
    short = tmp_path / "token"
    short.write_text("abc\n")
    result = _schedtui("serve", "--url", f"sqlite:///{store_file}", "--token-file", str(short), "--port", "0")
    assert result.returncode == 2 and "at least 16 characters" in result.stderr, result
    result = _schedtui("serve", "--port", "0")
    assert result.returncode == 2 and "no database configured" in result.stderr, result


def test_port_in_use_exits_1(store_file: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _schedtui("serve", "--url", f"sqlite:///{store_file}", "--port", str(port))
    assert result.returncode == 1, result
    assert (
        result.stderr.startswith(f"schedtui: cannot listen on 127.0.0.1:{port}: ") and "Traceback" not in result.stderr
    )


@dataclass
class Served:
    proc: subprocess.Popen[str]
    url: str
    port: int
    banner: str


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _cmdline(pid: int) -> list[str]:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    from tui.helpers import make_store

    return make_store(tmp_path / "jobs.sqlite")


def _start(store_file: Path, *args: str, env: dict[str, str] | None = None, url: str | None = None) -> Iterator[Served]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "schedtui", "serve", "--url", url or f"sqlite:///{store_file}", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**_clean_env(), **(env or {})},
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline() if ready else ""
    try:
        assert " on http://127.0.0.1:" in line, (line, proc.poll())
        port = int(line.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])
        yield Served(proc, f"http://127.0.0.1:{port}/", port, line)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def served(store_file: Path) -> Iterator[Served]:
    yield from _start(store_file)


@pytest.fixture
def served_with_token(store_file: Path) -> Iterator[Served]:
    yield from _start(store_file, env={TOKEN_ENV: TOKEN})


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


_WS_HEADERS = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


def test_token_is_required_then_kept_in_a_cookie(served_with_token: Served) -> None:
    port = served_with_token.port
    assert _get(port, "/").status == 401
    assert _get(port, "/static/js/textual.js").status == 401
    assert _get(port, "/?token=wrong-token-of-enough-length").status == 403
    assert _get(port, "/", {"Authorization": "Bearer wrong-token-of-enough-length"}).status == 403
    # no token, no console: the websocket handshake is refused before any session starts
    assert _get(port, "/ws?width=80&height=24", _WS_HEADERS).status == 401
    assert _get(port, f"/ws?width=80&height=24&token={TOKEN}", _WS_HEADERS).status == 401
    assert _descendants(served_with_token.proc.pid) == []

    once = _get(port, f"/?token={TOKEN}&fontsize=14")
    assert once.status == 303 and once.getheader("Location") == "/?fontsize=14"
    cookie = once.getheader("Set-Cookie") or ""
    assert cookie.startswith(f"{cookie_name(port)}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    kept = {"Cookie": f"{cookie_name(port)}={TOKEN}"}
    assert _get(port, "/", kept).status == 200
    assert _get(port, "/static/js/textual.js", kept).status == 200
    assert _get(port, "/", {"Authorization": f"Bearer {TOKEN}"}).status == 200


def test_no_token_answers_loopback_names_only(served: Served) -> None:
    assert _get(served.port, "/").status == 200
    assert _get(served.port, "/", {"Host": f"attacker.example:{served.port}"}).status == 403
    foreign = {**_WS_HEADERS, "Origin": "http://attacker.example"}
    assert _get(served.port, "/ws?width=80&height=24", foreign).status == 403
    assert _descendants(served.proc.pid) == []


def test_no_secret_in_the_banner_the_page_or_the_command_line(store_file: Path) -> None:
    secret = "Pa55-w0rd-in-the-url"
    url = f"postgresql://ops:{secret}@127.0.0.1:1/app?sslpassword={secret}"
    served = _start(store_file, url=url)
    server = next(served)
    try:
        page = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        page.request("GET", "/")
        body = page.getresponse().read().decode()
        page.close()
        assert "<title>schedtui · postgresql+psycopg://ops:***@127.0.0.1:1/app" in body
        assert secret not in body
        assert "ops:***@127.0.0.1:1/app" in server.banner and secret not in server.banner
    finally:
        served.close()
    out, err = server.proc.communicate(timeout=20)
    assert secret not in out and secret not in err


# -- in a real browser -----------------------------------------------------------------


@pytest.fixture
def chromium() -> None:
    from browser import CHROMIUM

    if CHROMIUM is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but chromium is not installed (.ci/chromium-install installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")


def _consoles(served: Served) -> list[list[str]]:
    return [c for pid in _descendants(served.proc.pid) if "schedtui" in " ".join(c := _cmdline(pid))]


@pytest.mark.slow
def test_browser_shows_the_console_read_only(chromium: None, served: Served, tmp_path: Path) -> None:
    from browser import Browser

    started = time.monotonic()
    with Browser() as browser:
        browser.goto(served.url)
        browser.wait_for_terminal(*JOB_IDS)
        took = time.monotonic() - started
        browser.screenshot(tmp_path / "serve.png")
        consoles = _consoles(served)
        pythons = [c for c in consoles if "-m" in c]  # not the shell textual-serve may start it through
        assert pythons and all("--read-only" in c for c in pythons), consoles
        # stopping the server (the browser still open) stops its consoles too
        pids = _descendants(served.proc.pid)
        served.proc.terminate()
        assert served.proc.wait(20) == 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.1)
        assert not [pid for pid in pids if _alive(pid)], "consoles outlived the server"
    print(f"serve: job ids on the page {took:.1f} s after the browser started")


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_browser_needs_the_token(chromium: None, served_with_token: Served) -> None:
    from browser import Browser

    with Browser() as browser:
        browser.goto(served_with_token.url)
        assert "access token needed" in browser.wait_for_body("access token needed")
        assert browser.terminal_text() is None and _descendants(served_with_token.proc.pid) == []
        browser.goto(f"{served_with_token.url}?token={TOKEN}")
        browser.wait_for_terminal(*JOB_IDS)
        assert "token=" not in str(browser.evaluate("location.href"))


def test_session_limit(store_file: Path) -> None:
    """--max-sessions 1: a second tab is answered 503 while the first one's console runs."""
    import asyncio

    import aiohttp

    async def two_tabs(url: str) -> tuple[bool, int]:
        async with aiohttp.ClientSession() as http_session:
            first = await http_session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=5))
            try:
                got_bytes = False
                async with asyncio.timeout(30):
                    while not got_bytes:  # the console draws: its session is open
                        message = await first.receive()
                        got_bytes = message.type == aiohttp.WSMsgType.BINARY
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await http_session.ws_connect(url)
                return got_bytes, refused.value.status
            finally:
                await first.close()

    served = _start(store_file, "--max-sessions", "1")
    server = next(served)
    try:
        drew, status = asyncio.run(two_tabs(f"ws://127.0.0.1:{server.port}/ws?width=80&height=24"))
        assert drew and status == 503
    finally:
        served.close()
