"""The console quits when its terminal hangs up, also when no SIGHUP reaches it (run under
``nohup``, or below a wrapper that held the session when an SSH connection dropped): a
real console process on a real pseudo-terminal whose other end is then closed."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)


def _read_until(fd: int, marker: bytes, timeout: float) -> bytes:
    """What the console wrote to the terminal until ``marker`` shows (or the time is up)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_the_console_quits_when_its_terminal_hangs_up_without_a_sighup(store: Path) -> None:
    master, slave = os.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    env.pop("TEXTUAL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "schedtui", "--url", f"sqlite:///{store}"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,  # the terminal is not its controlling one: no SIGHUP comes
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),  # as under nohup
    )
    os.close(slave)
    try:
        shown = _read_until(master, b"Jobs", timeout=90)
        assert b"Jobs" in shown, "the console did not draw its first screen"
        assert proc.poll() is None
        os.close(master)  # the terminal goes away
        master = -1
        # (Textual's input thread, left alone, reads nothing forever at 100 % of a CPU)
        assert proc.wait(timeout=60) is not None
    finally:
        if master >= 0:
            os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
