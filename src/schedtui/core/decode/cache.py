"""The repeated-probe cache: decoded rows kept between one-shot reads (private).

Monitoring runs ``check`` every minute against a store where few rows changed. A one-shot
read keeps, per target, a file of the decoded results of its rows keyed by a digest of
everything a result depends on (the row's id, its ``next_run_time`` column and its
``job_state`` bytes), so the next read sends only new or changed rows to the sandbox.

- Where: ``$XDG_CACHE_HOME/schedtui/`` (else ``~/.cache/schedtui/``), one file per
  target named by a hash of its URL (no credential in the name), mode 0600 in a 0700
  folder. ``SCHEDTUI_DECODE_CACHE=0`` turns it off.
- What: ``marshal`` of ``(header, {digest: wire bytes})``; the values are ``decode.wire``
  records, which cannot execute anything and are type-checked when read, like a worker's.
- Ignored and rebuilt when anything about it is off: not a regular file owned by this
  user with mode 0600, unreadable, or a header that differs (format, the decoder's own
  source files, Python, APScheduler, the zone database).
- Only results that follow from the bytes alone are kept (no ``too-slow``,
  ``time-budget`` or ``internal`` findings); the file holds the rows of the last read.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import stat
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FORMAT = 1
#: Findings that depend on the moment, not on the bytes: never cached.
TRANSIENT = frozenset({"too-slow", "time-budget", "internal"})
_MAX_FILE = 512 * 1024 * 1024


def enabled() -> bool:
    return os.environ.get("SCHEDTUI_DECODE_CACHE", "1") != "0"


def folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "schedtui"


def _header() -> tuple[Any, ...]:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    # Every module of the decode package, and the records and keys it builds on.
    for path in (*sorted(here.glob("*.py")), here.parent / "model.py", here.parent / "exact.py"):
        h.update(path.name.encode())
        with contextlib.suppress(OSError):
            h.update(path.read_bytes())
    try:
        import apscheduler

        aps = str(getattr(apscheduler, "__version__", "?"))
    except ImportError:  # pragma: no cover
        aps = "?"
    tz: list[tuple[object, ...]] = []
    for p in ("/usr/share/zoneinfo/tzdata.zi", "/usr/share/zoneinfo/+VERSION"):
        with contextlib.suppress(OSError):
            st = os.stat(p)
            tz.append((p, st.st_size, st.st_mtime_ns))
    with contextlib.suppress(Exception):
        import importlib.metadata

        tz.append(("tzdata", importlib.metadata.version("tzdata")))
    return (FORMAT, h.hexdigest(), sys.version, aps, tuple(tz))


def row_key(row: Sequence[Any]) -> bytes:
    """Digest of what a row's decoded result depends on (id, column, bytes)."""
    jid, nrt, state = row[0], row[1], row[2]
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((type(jid).__name__, jid if type(jid) is str else repr(jid))).encode("utf-8", "replace"))
    h.update(repr((type(nrt).__name__, nrt)).encode("utf-8", "replace"))
    if isinstance(state, (bytes, bytearray, memoryview)):
        h.update(b"b")
        h.update(state)
    else:
        h.update(repr((type(state).__name__, state)).encode("utf-8", "replace")[:4096])
    return h.digest()


class DecodeCache:
    """The cache file of one target: ``get`` what the last read decoded, ``put`` what
    this read decoded, ``save`` this read's rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._header = _header()
        self._old: dict[bytes, bytes] = self._load()
        self._new: dict[bytes, bytes] = {}
        self.hits = 0

    @classmethod
    def for_url(cls, url: str) -> DecodeCache | None:
        if not enabled():
            return None
        name = hashlib.sha256(url.encode("utf-8", "replace")).hexdigest()[:24] + ".decoded"
        return cls(folder() / name)

    def _load(self) -> dict[bytes, bytes]:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return {}
        try:
            st = os.fstat(fd)
            if (
                not stat.S_ISREG(st.st_mode)
                or st.st_uid != os.getuid()
                or stat.S_IMODE(st.st_mode) & 0o077
                or st.st_size > _MAX_FILE
            ):
                return {}
            with os.fdopen(fd, "rb") as fh:
                fd = -1
                data = fh.read()
        except OSError:
            return {}
        finally:
            if fd >= 0:
                os.close(fd)
        try:
            header, entries = marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            return {}
        if header != self._header or type(entries) is not dict:
            return {}
        return entries

    def get(self, key: bytes) -> bytes | None:
        data = self._old.get(key)
        if type(data) is bytes:
            self._new[key] = data
            self.hits += 1
            return data
        return None

    def put(self, key: bytes, data: bytes) -> None:
        self._new[key] = data

    def forget(self, key: bytes) -> None:
        self._new.pop(key, None)

    def save(self) -> None:
        """Write this read's rows (atomically, owner-only); errors are ignored."""
        try:
            d = self.path.parent
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".decoded")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(marshal.dumps((self._header, self._new), 4))
                os.chmod(tmp, 0o600)
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:
            pass
