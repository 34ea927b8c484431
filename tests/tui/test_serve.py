"""``schedtui serve``: a real headless Chromium loads the page and the console's job ids
reach it; a non-loopback host is refused without a token; with a token, no token, no
console. (Chromium is Debian's package; .ci/run installs it.)"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tui.helpers import STORE

pytestmark = pytest.mark.timeout(180)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

#: Before the page's scripts run: keep every websocket message the page receives.
HOOK = """
window.__schedtui = [];
const Native = window.WebSocket;
window.WebSocket = function (...args) {
  const ws = new Native(...args);
  ws.addEventListener("message", (ev) => {
    const d = ev.data;
    if (typeof d === "string") { window.__schedtui.push(d); }
    else if (d instanceof ArrayBuffer) { window.__schedtui.push(new TextDecoder().decode(d)); }
    else if (d instanceof Blob) { d.arrayBuffer().then((b) => window.__schedtui.push(new TextDecoder().decode(b))); }
  });
  return ws;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, Native);
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _schedtui() -> list[str]:
    return [sys.executable, "-m", "schedtui"]


def _start_server(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    proc = subprocess.Popen(
        [*_schedtui(), "serve", "--url", f"sqlite:///{STORE}", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(proc.stdout.read().decode() if proc.stdout else "server exited") from None
            time.sleep(0.1)  # polling the port with a bounded wait, not a fixed sleep
    proc.kill()
    raise AssertionError("the server did not listen")


def _status(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_a_network_host_needs_a_token(store: Path) -> None:
    out = subprocess.run(
        [*_schedtui(), "serve", "--url", f"sqlite:///{STORE}", "--host", "0.0.0.0", "--port", str(_free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "SCHEDTUI_SERVE_TOKEN"},
    )
    assert out.returncode == 2
    assert "refusing to serve on 0.0.0.0 without an access token" in out.stderr
    assert "Traceback" not in out.stderr


def test_with_a_token_no_token_no_console(store: Path) -> None:
    proc, port = _start_server(["--host", "127.0.0.1"], env={"SCHEDTUI_SERVE_TOKEN": "s3cret-token"})
    try:
        code, body = _status(f"http://127.0.0.1:{port}/")
        assert code == 401 and "access token" in body
        code, _ = _status(f"http://127.0.0.1:{port}/?token=wrong")
        assert code == 401
        code, _ = _status(f"http://127.0.0.1:{port}/static/js/textual.js")
        assert code == 401
        code, body = _status(f"http://127.0.0.1:{port}/?token=s3cret-token")
        assert code == 200 and "(read-only)" in body
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    log = proc.stdout.read().decode() if proc.stdout else ""
    assert "GET /?token=***" in log.replace("\n", " ") or "token=***" in log
    assert "s3cret-token" not in log


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (Debian package `chromium`; .ci/run installs it)")
def test_headless_chromium_shows_the_jobs(store: Path) -> None:
    proc, port = _start_server([])
    profile = tempfile.mkdtemp(prefix="schedtui-chromium-")
    browser = subprocess.Popen(
        [
            CHROMIUM or "chromium",
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--window-size=1400,900",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = None
        deadline = time.monotonic() + 60
        while endpoint is None and time.monotonic() < deadline:
            line = browser.stderr.readline() if browser.stderr else ""
            if "DevTools listening on" in line:
                endpoint = line.split("DevTools listening on", 1)[1].strip()
            elif not line and browser.poll() is not None:
                break
        assert endpoint, "chromium did not start"
        text = asyncio.run(_page_text(endpoint, f"http://127.0.0.1:{port}/", ("weekly-report", "nightly-backup")))
        assert "weekly-report" in text or "Weekly report" in text
        assert "READ-ONLY" in text
    finally:
        browser.terminate()
        proc.terminate()
        browser.wait(timeout=30)
        proc.wait(timeout=30)
        shutil.rmtree(profile, ignore_errors=True)


async def _page_text(endpoint: str, url: str, wanted: tuple[str, ...]) -> str:
    """Open ``url`` in a new tab over the DevTools protocol; return what its websocket got."""
    import aiohttp

    host = endpoint.split("/devtools/", 1)[0].replace("ws://", "http://")
    async with aiohttp.ClientSession() as http:
        async with http.put(f"{host}/json/new?about:blank") as r:
            page = await r.json(content_type=None)
        async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            ids = iter(range(1, 10_000))

            async def call(method: str, **params: object) -> dict:
                n = next(ids)
                await ws.send_str(json.dumps({"id": n, "method": method, "params": params}))
                while True:
                    msg = json.loads((await ws.receive()).data)
                    if msg.get("id") == n:
                        return msg.get("result", {})

            await call("Page.enable")
            await call("Page.addScriptToEvaluateOnNewDocument", source=HOOK)
            await call("Page.navigate", url=url)
            deadline = time.monotonic() + 60
            text = ""
            while time.monotonic() < deadline:
                result = await call(
                    "Runtime.evaluate", expression="(window.__schedtui || []).join('')", returnByValue=True
                )
                text = str(result.get("result", {}).get("value", ""))
                if any(w in text for w in wanted) and "READ-ONLY" in text:
                    return text
                await asyncio.sleep(0.25)  # polling the page, with a bounded wait
    return text
