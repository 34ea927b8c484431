"""One process-wide switch for pausing the cyclic garbage collector

Decoding a large store creates about ten long-lived objects per job; the collector would
walk all of them again and again while they are being made, to find no garbage. Every
part of schedtui that pauses it goes through ``paused()``, which nests across threads:
the collector runs again (if it ran before) when the last pause ends.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0
_was_enabled = True


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The cyclic GC off for the block (nestable, thread-safe)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
