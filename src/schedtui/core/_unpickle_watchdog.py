"""A forked canary that finds rows whose unpickling never ends (private).

Some work inside the C unpickler cannot be interrupted in-process: hashing a dict key that
is a deeply nested *shared* tuple takes 2**depth steps in C without ever releasing the
GIL (an ~60-byte row can take hours). So before the parent unpickles row ``i``, a forked
child must have unpickled it: the child runs ahead (it only loads, the parent also
validates), publishing the index it is working on in shared memory. If the child stays on
one row longer than the deadline, that row is reported as too slow, the child is killed
and a new one continues after it. The parent never touches a row the child did not finish.

Only used where ``os.fork`` exists; the child calls nothing but the restricted unpickler
and leaves with ``os._exit``.
"""

from __future__ import annotations

import gc
import mmap
import os
import signal
import struct
import time
from collections.abc import Callable, Sequence
from typing import Any

from schedtui.core import _unpickle

_SLOT = struct.Struct("<qd")  # (index being loaded, monotonic time it started)
DONE = -1
#: Seconds a freshly forked child may take to start working.
STARTUP_DEADLINE = 30.0


def available() -> bool:
    return hasattr(os, "fork")


def quiet_child() -> None:
    """In a forked child: leave the signals the parent's UI handles to their defaults (a
    terminal resize or Ctrl-C is the parent's business, not a decoder's)."""
    for name in ("SIGINT", "SIGWINCH", "SIGTSTP", "SIGCONT"):
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                signal.signal(sig, signal.SIG_IGN if name == "SIGINT" else signal.SIG_DFL)
            except (OSError, ValueError):
                pass


def kill(pid: int) -> None:
    """SIGKILL a forked child and reap it (gone already is fine)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


class Canary:
    """Runs ahead of the parent over ``rows``; ``wait_past(i)`` says whether row i is safe."""

    def __init__(
        self,
        rows: Sequence[Sequence[Any]],
        deadline: float,
        max_bytes: int,
        load: Callable[[bytes], object] = _unpickle.loads,
    ) -> None:
        self.rows = rows
        self.load = load
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.shm = mmap.mmap(-1, _SLOT.size)
        self.pid: int | None = None
        self.slow: set[int] = set()
        self._start(0)

    def _start(self, first: int) -> None:
        # time 0.0: the child has not started yet (fork and scheduling can be slow on a
        # busy machine; only STARTUP_DEADLINE applies until it has).
        _SLOT.pack_into(self.shm, 0, first, 0.0)
        self.forked_at = time.monotonic()
        if first >= len(self.rows):
            _SLOT.pack_into(self.shm, 0, DONE, 0.0)
            self.pid = None
            return
        pid = os.fork()
        if pid == 0:  # child
            try:
                self._child(first)
            finally:
                os._exit(0)
        self.pid = pid

    def _child(self, first: int) -> None:
        gc.disable()
        quiet_child()
        try:
            import resource

            size = _unpickle._vm_size()
            if size is not None:
                _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
                want = size + _unpickle.DEFAULT_MARGIN
                if hard != resource.RLIM_INFINITY:
                    want = min(want, hard)
                resource.setrlimit(resource.RLIMIT_AS, (want, hard))
        except Exception:
            pass
        rows = self.rows
        for i in range(first, len(rows)):
            _SLOT.pack_into(self.shm, 0, i, time.monotonic())
            data = rows[i][2]
            try:
                if type(data) is bytes and 0 < len(data) <= self.max_bytes:
                    self.load(data)
            except BaseException:
                pass
        _SLOT.pack_into(self.shm, 0, DONE, 0.0)

    def safe(self, i: int) -> bool:
        """Block until the child finished row ``i`` (True) or gave up on it (False)."""
        if i in self.slow:
            return False
        spins = 0
        while True:
            current, started = _SLOT.unpack_from(self.shm, 0)
            if current == DONE or current > i:
                return True
            now = time.monotonic()
            if started == 0.0:
                late = now - self.forked_at > STARTUP_DEADLINE
            else:
                late = now - started > self.deadline
            if current == i and late:
                self.slow.add(i)
                self._kill()
                self._start(i + 1)
                return False
            if self.pid is not None:
                try:
                    pid, _status = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:
                    pid = self.pid
                if pid:  # exited: finished (re-read the slot) or died (e.g. killed by the OS)
                    self.pid = None
                    current, started = _SLOT.unpack_from(self.shm, 0)
                    if current == DONE or current > i:
                        return True
                    if current == i:
                        self.slow.add(i)
                        self._start(i + 1)
                        return False
                    self._start(i)
                    continue
            spins += 1
            time.sleep(0 if spins < 100 else 0.001)

    def _kill(self) -> None:
        if self.pid is not None:
            kill(self.pid)
        self.pid = None

    def close(self) -> None:
        self._kill()
        self.shm.close()
