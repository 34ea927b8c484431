"""A real headless Chromium (Debian's ``chromium``) driven through the DevTools protocol
over ``--remote-debugging-pipe`` (no port, no extra package), for ``schedtui serve``.

textual-serve draws the terminal with xterm.js on a canvas (WebGL, else 2D canvas), so
the page's text is not in the DOM: :meth:`Browser.terminal_text` reads the rows xterm.js
shows from its buffer. The hook that finds the terminal is installed before the page's
own scripts run: textual-serve keeps it as ``this.terminal`` of its session object.
Every wait is bounded. The browser may only reach 127.0.0.1 (every other name resolves
to nothing), so a page can never call out.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--window-size=1280,800",
)

_HOOK = r"""
(() => {
  window.__schedtuiTerminals = [];
  Object.defineProperty(Object.prototype, 'terminal', {
    configurable: true,
    set(value) {
      Object.defineProperty(this, 'terminal', {value, writable: true, configurable: true, enumerable: true});
      if (value && value.buffer && value.buffer.active) window.__schedtuiTerminals.push(value);
    },
  });
})();
"""

_READ_TERMINAL = r"""
(() => {
  const t = (window.__schedtuiTerminals || [])[0];
  if (!t) return null;
  const b = t.buffer.active, rows = [];
  for (let i = 0; i < t.rows; i++) {
    const line = b.getLine(b.viewportY + i);
    rows.push(line ? line.translateToString(true) : '');
  }
  return rows.join('\n');
})()
"""


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, timeout: float = 20.0) -> None:
        assert CHROMIUM is not None
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="schedtui-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def pipes_on_3_and_4() -> None:  # what --remote-debugging-pipe reads and writes
            a = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=pipes_on_3_and_4,
            pass_fds=(3, 4),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.session = ""

    def __enter__(self) -> Browser:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable")
        self.call("Page.addScriptToEvaluateOnNewDocument", {"source": _HOOK})
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        shutil.rmtree(self._profile, ignore_errors=True)

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = True, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send one DevTools command and wait (bounded) for its answer."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    result: dict[str, Any] = reply.get("result", {})
                    return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"chromium did not answer {method} within {timeout or self.timeout} s")
            ready, _, _ = select.select([self._from_chrome], [], [], left)
            if ready:
                chunk = os.read(self._from_chrome, 1 << 16)
                if not chunk:
                    raise EOFError("chromium closed its DevTools pipe")
                self._buffer += chunk

    def goto(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})["result"].get("value")

    def body_text(self) -> str:
        return str(self.evaluate("document.body ? document.body.innerText : ''") or "")

    def terminal_text(self) -> str | None:
        """The rows the page's terminal shows now (None before the terminal exists)."""
        value = self.evaluate(_READ_TERMINAL)
        return None if value is None else str(value)

    def wait_for_terminal(self, *needles: str, timeout: float = 30.0) -> str:
        """Poll (bounded) until the terminal shows every needle; its text then."""
        deadline = time.monotonic() + timeout
        text: str | None = None
        while time.monotonic() < deadline:
            text = self.terminal_text()
            if text is not None and all(n in text for n in needles):
                return text
            time.sleep(0.1)
        raise AssertionError(f"the page never showed {needles} within {timeout} s; it showed:\n{text}")

    def wait_for_body(self, needle: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.body_text()
            if needle in text:
                return text
            time.sleep(0.1)
        raise AssertionError(f"the page never said {needle!r} within {timeout} s; it said:\n{text}")

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
