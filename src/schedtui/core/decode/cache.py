"""The repeated-probe cache: decoded rows kept between one-shot reads (private).

Monitoring runs ``check`` every minute against a store where few rows changed. A one-shot
read keeps, per target, a file of the decoded results of its rows keyed by a digest of
everything a result depends on (the row's id, its ``next_run_time`` column and its
``job_state`` bytes), so the next read sends only new or changed rows to the sandbox.

- Where: ``$XDG_CACHE_HOME/schedtui/`` (else ``~/.cache/schedtui/``), one file per
  target named by a hash of its URL (no credential in the name), mode 0600 in a 0700
  folder. ``SCHEDTUI_DECODE_CACHE=0`` turns it off.
- What: ``marshal`` of the header, then of one or more ``{digest: wire record}`` chunks
  (a read that only adds rows appends a chunk; the file is rewritten when more than a
  fifth of it is stale). The values are ``decode.wire`` records, which cannot execute
  anything and are checked when read, like a worker's.
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
import struct
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FORMAT = 4
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


_PACK_FLOAT = struct.Struct("<d").pack


def digest_key(jid: str, nrt: float | None, sha256: bytes) -> bytes:
    """The key of the usual row (a ``str`` id, a ``float`` or NULL column) from the SHA-256
    of its bytes, which a database server can compute (``store``: a repeated probe on
    PostgreSQL or MySQL asks for digests and fetches only the rows the cache lacks). Framed
    without ``repr``: tag, id length, id, column (tag and IEEE bytes), digest. SHA-256,
    because whoever writes rows must not be able to make two of them share a key."""
    ident = jid.encode("utf-8", "surrogatepass")
    column = b"N" if nrt is None else b"F" + _PACK_FLOAT(nrt)
    return hashlib.blake2b(b"R" + len(ident).to_bytes(4, "little") + ident + column + sha256, digest_size=16).digest()


def row_key(row: Sequence[Any]) -> bytes:
    """Digest of what a row's decoded result depends on (id, column, bytes): ``digest_key``
    for the usual row, and any other by ``repr`` under another tag, so the two never meet."""
    jid, nrt, state = row[0], row[1], row[2]
    if type(jid) is str and type(state) is bytes and (nrt is None or type(nrt) is float):
        return digest_key(jid, nrt, hashlib.sha256(state).digest())
    h = hashlib.blake2b(b"S", digest_size=16)
    h.update(repr((type(jid).__name__, jid if type(jid) is str else repr(jid))).encode("utf-8", "replace"))
    h.update(repr((type(nrt).__name__, nrt)).encode("utf-8", "replace"))
    if isinstance(state, (bytes, bytearray, memoryview)):
        h.update(b"b")
        h.update(state)
    else:
        h.update(repr((type(state).__name__, state)).encode("utf-8", "replace")[:4096])
    return h.digest()


def _frame(value: Any) -> bytes:
    data = marshal.dumps(value, 4)
    return len(data).to_bytes(8, "little") + data


class DecodeCache:
    """The cache file of one target: ``get`` what the last read decoded, ``put`` what
    this read decoded, ``save`` this read's rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._header = _header()
        self._old: dict[bytes, bytes] = self._load()
        self._new: dict[bytes, bytes] = {}
        self._added: dict[bytes, bytes] = {}
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
        return self._parse(data)

    def _parse(self, data: bytes) -> dict[bytes, bytes]:
        """The entries of a file's bytes: frames of (8-byte length, ``marshal``), the header
        first, then chunks (a torn last frame, from a write cut short, ends the file)."""
        view = memoryview(data)
        frames: list[object] = []
        at = 0
        while at + 8 <= len(data):
            size = int.from_bytes(view[at : at + 8], "little")
            if at + 8 + size > len(data):
                break
            try:
                frames.append(marshal.loads(view[at + 8 : at + 8 + size]))
            except (EOFError, ValueError, TypeError):
                break
            at += 8 + size
        if not frames or frames[0] != self._header:
            return {}
        entries: dict[bytes, bytes] = {}
        for chunk in frames[1:]:
            if type(chunk) is not dict:
                break
            entries.update(chunk)
        return entries

    @property
    def warm(self) -> bool:
        """Whether the file held entries (a read that can be answered from it)."""
        return bool(self._old)

    def get(self, key: bytes) -> bytes | None:
        data = self._old.get(key)
        if type(data) is bytes:
            self._new[key] = data
            self.hits += 1
            return data
        return None

    def put(self, key: bytes, data: bytes) -> None:
        self._new[key] = data
        self._added[key] = data

    def forget(self, key: bytes) -> None:
        self._new.pop(key, None)
        self._added.pop(key, None)

    def save(self) -> None:
        """Keep this read's rows (owner-only; errors are ignored): nothing to do when every
        row came from the file, a chunk appended when rows were only added, else the file
        rewritten (atomically) with this read's rows alone."""
        stale = len(self._old) - (len(self._new) - len(self._added))
        try:
            if not self._added and stale == 0:
                return
            if self._old and stale * 4 <= len(self._new) and self._append():
                return
            self._rewrite()
        except OSError:
            pass

    def _append(self) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return False
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077:
                return False
            data = memoryview(_frame(self._added))
            while data:
                data = data[os.write(fd, data) :]
            return True
        finally:
            os.close(fd)

    def _rewrite(self) -> None:
        d = self.path.parent
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".decoded")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(_frame(self._header))
                fh.write(_frame(self._new))
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
