"""The repeated-probe cache: decoded rows kept between one-shot reads (private).

Monitoring runs ``check`` every minute against a store where few rows changed. A one-shot
read keeps, per target, a file of the decoded results of its rows keyed by a digest of
everything a result depends on (the row's id, its ``next_run_time`` column and its
``job_state`` bytes), so the next read sends only new or changed rows to the sandbox.

- Where: ``$XDG_CACHE_HOME/schedtui/`` (else ``~/.cache/schedtui/``), one file per
  target named by a hash of its URL (no credential in the name), mode 0600 in a 0700
  folder. ``SCHEDTUI_DECODE_CACHE=0`` turns it off.
- What: the header (``marshal``), then one or more chunks (a read that only adds rows
  appends one; the file is rewritten when more than a fifth of it is stale). A chunk is
  its columns (``marshal``: the keys ``(id, column, SHA-256 of the bytes)``, each record's
  length, and each record's head: id, instant, grace, flags) followed by the records
  themselves, read only for the jobs somebody looks at. The records are ``decode.wire``
  records, which cannot execute anything and are checked when rebuilt, like a worker's;
  the columns are checked (types, lengths, flags) when loaded. A repeated ``check`` takes
  the hits' heads as whole columns: no Python per row (``row_keys``, ``lookup``).
- Ignored and rebuilt when anything about it is off: not a regular file owned by this
  user with mode 0600, unreadable, or a header that differs (format, the decoder's own
  source files, Python and its byte order, APScheduler, the zone database).
- Only results that follow from the bytes alone are kept (no ``too-slow``,
  ``time-budget`` or ``internal`` findings); the file holds the rows of the last read.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import math
import operator
import os
import stat
import struct
import sys
import tempfile
from array import array
from collections.abc import Hashable, Sequence
from functools import partial
from itertools import accumulate
from operator import itemgetter, methodcaller
from pathlib import Path
from typing import Any

FORMAT = 5
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
    return (FORMAT, h.hexdigest(), sys.version, sys.byteorder, aps, tuple(tz))


_PACK_FLOAT = struct.Struct("<d").pack
_DIGEST = methodcaller("digest")
_NOT_NONE = partial(operator.is_not, None)
_ID, _COLUMN, _STATE = itemgetter(0), itemgetter(1), itemgetter(2)
#: The flags a record's head may hold (``decode.wire``): deleted, nothing may be left.
_GOOD_FLAGS = bytes(range(4))
Key = Hashable


def digest_key(jid: str, nrt: float | None, sha256: bytes) -> Key:
    """The key of the usual row (a ``str`` id, a ``float`` or NULL column) from the SHA-256
    of its bytes, which a database server can compute (``store``: a repeated probe on
    PostgreSQL or MySQL asks for digests and fetches only the rows the cache lacks): the
    tuple ``(id, column, digest)``, compared exactly by the dict (a ``str``, a ``float`` or
    None, 32 bytes). A zero or NaN column is its IEEE bytes instead, since ``==`` calls
    ``0.0`` and ``-0.0`` equal and a NaN unequal to itself. SHA-256, because whoever writes
    rows must not be able to make two of them share a key."""
    if nrt is not None and (nrt == 0.0 or nrt != nrt):
        return (jid, _PACK_FLOAT(nrt), sha256)
    return (jid, nrt, sha256)


def row_key(row: Sequence[Any]) -> Key:
    """What a row's decoded result depends on (id, column, bytes): ``digest_key`` for the
    usual row, and any other as a BLAKE2b digest of its ``repr`` (``bytes``, never equal
    to a tuple, so the two never meet)."""
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


def _columns(rows: Sequence[Sequence[Any]]) -> tuple[list[Any], list[Any], list[Any]] | None:
    """The rows' ids, columns and third values when every row is the usual kind (a
    ``str`` id, a ``float`` or None column, ``bytes``), else None."""
    ids = list(map(_ID, rows))
    nrts = list(map(_COLUMN, rows))
    third = list(map(_STATE, rows))
    usual = (
        set(map(type, ids)) <= {str}
        and set(map(type, third)) <= {bytes}
        and set(map(type, nrts)) <= {float, type(None)}
    )
    return (ids, nrts, third) if usual else None


def row_keys(rows: Sequence[Sequence[Any]]) -> list[Key]:
    """``row_key`` of every row, with no Python per row when they are all the usual kind
    (C-level ``map``/``zip`` over the columns; the same keys)."""
    columns = _columns(rows)
    if columns is None:
        return [row_key(r) for r in rows]
    ids, nrts, states = columns
    return _digest_keys(ids, nrts, list(map(_DIGEST, map(hashlib.sha256, states))))


def digest_keys(rows: Sequence[Sequence[Any]]) -> list[Key]:
    """``digest_key`` of each ``(id, column, SHA-256)`` a server sent (``b""``, which is
    never a key, for a row of any other kind: it is fetched and decoded), with no Python
    per row when they are all the usual kind."""
    columns = _columns(rows)
    if columns is None or not set(map(len, columns[2])) <= {32}:
        return [
            digest_key(d[0], d[1], d[2])
            if type(d[0]) is str and (d[1] is None or type(d[1]) is float) and type(d[2]) is bytes and len(d[2]) == 32
            else b""
            for d in rows
        ]
    return _digest_keys(*columns)


def _digest_keys(ids: list[Any], nrts: list[Any], digests: list[Any]) -> list[Key]:
    """``digest_key`` of each (id, column, digest) of usual rows, in bulk."""
    keys: list[Key] = list(zip(ids, nrts, digests))
    if nrts.count(0.0) or any(map(math.isnan, filter(_NOT_NONE, nrts))):
        for i, nrt in enumerate(nrts):
            if nrt is not None and (nrt == 0.0 or nrt != nrt):
                keys[i] = digest_key(ids[i], nrt, digests[i])
    return keys


def _frame(value: Any) -> bytes:
    data = marshal.dumps(value, 4)
    return len(data).to_bytes(8, "little") + data


#: One record's entry: its key, the record (``decode.wire`` bytes) and its head.
Entry = tuple[Key, bytes, tuple[str, int, float, int]]


def _run(entries: Sequence[Entry]) -> tuple[bytes, bytes]:
    """A file's chunk: a frame of columns (keys, each record's length, and the heads' ids,
    instants ``q``, graces ``d`` and flags, so a read takes them without parsing a record),
    then a frame of the records themselves, one after the other (read only for the jobs
    somebody looks at, or to rewrite the file)."""
    heads = [e[2] for e in entries]
    records = [e[1] for e in entries]
    columns = (
        tuple(e[0] for e in entries),
        array("q", map(len, records)).tobytes(),
        tuple(h[0] for h in heads),
        array("q", [h[1] for h in heads]).tobytes(),
        array("d", [h[2] for h in heads]).tobytes(),
        bytes([h[3] for h in heads]),
    )
    blob = b"".join(records)
    return _frame(columns), len(blob).to_bytes(8, "little") + blob


class DecodeCache:
    """The cache file of one target: ``get`` (or ``lookup`` in bulk) what the last read
    decoded, ``put`` what this read decoded, ``save`` this read's rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._header = _header()
        #: The file's entries by position: key, where its record is in the file (offset,
        #: length), and the record's head as columns.
        self._keys: list[Key] = []
        self.offsets = array("q")
        self.lengths = array("q")
        self.ids: list[str] = []
        self.instants = array("q")
        self.graces = array("d")
        self.flags = bytearray()
        #: the file, open (records are read from it when needed), and its whole bytes once
        #: a read asked for records one by one (``get``)
        self.file: Any = None
        self._data: bytes | None = None
        #: position of each key (the last one of a key the file holds twice)
        self._index: dict[Key, int] = self._load()
        #: positions this read took from the file (``get``/``lookup``), and gave back
        self._hit: list[int] = []
        self._forgot: set[int] = set()
        self._added: dict[Key, tuple[bytes, tuple[str, int, float, int]]] = {}
        self.hits = 0

    @classmethod
    def for_url(cls, url: str) -> DecodeCache | None:
        path = cls.path_for(url)
        return None if path is None else cls(path)

    @staticmethod
    def path_for(url: str) -> Path | None:
        """Where the cache of ``url`` lives (it may not exist), or None when caching is off."""
        if not enabled():
            return None
        return folder() / (hashlib.sha256(url.encode("utf-8", "replace")).hexdigest()[:24] + ".decoded")

    def _load(self) -> dict[Key, int]:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return {}
        fh = None
        try:
            st = os.fstat(fd)
            if (
                not stat.S_ISREG(st.st_mode)
                or st.st_uid != os.getuid()
                or stat.S_IMODE(st.st_mode) & 0o077
                or st.st_size > _MAX_FILE
            ):
                return {}
            fh = os.fdopen(fd, "rb")
            fd = -1
            index = self._parse(fh, st.st_size)
        except OSError:
            index = {}
        finally:
            if fd >= 0:
                os.close(fd)
        if index:
            self.file = fh
        elif fh is not None:
            fh.close()
        return index

    def _parse(self, fh: Any, size: int) -> dict[Key, int]:
        """The entries of the file: frames of (8-byte length, ``marshal``), the header
        first, then chunks (``_run``: columns, then the records, which are skipped here); a
        torn frame (a write cut short) or a chunk that is not what ``_run`` writes ends the
        file there."""
        fd = fh.fileno()
        at = 0
        first = True
        while at + 8 <= size:
            n = int.from_bytes(os.pread(fd, 8, at), "little")
            if at + 8 + n > size:
                break
            data = os.pread(fd, n, at + 8)
            at += 8 + n
            try:
                frame = marshal.loads(data)
            except (EOFError, ValueError, TypeError):
                break
            if first:
                if frame != self._header:
                    return {}
                first = False
                continue
            if at + 8 > size:
                break
            blob = int.from_bytes(os.pread(fd, 8, at), "little")
            if at + 8 + blob > size or not self._take(frame, at + 8, blob):
                break
            at += 8 + blob
        try:
            return dict(zip(self._keys, range(len(self._keys))))
        except TypeError:  # a key that cannot be one: nothing of the file is used
            self._keys, self.ids = [], []
            self.offsets, self.lengths = array("q"), array("q")
            self.instants, self.graces, self.flags = array("q"), array("d"), bytearray()
            return {}

    def _take(self, run: Any, start: int, size: int) -> bool:
        """Append one chunk's columns, each checked (types, lengths, flags), its records
        ``size`` bytes from ``start`` in the file."""
        if type(run) is not tuple or len(run) != 6:
            return False
        keys, lengths, ids, instants, graces, flags = run
        if not (type(keys) is type(ids) is tuple) or not (type(lengths) is type(flags) is bytes):
            return False
        n = len(keys)
        if not (
            len(ids) == len(flags) == n
            and type(instants) is bytes
            and type(graces) is bytes
            and len(lengths) == len(instants) == len(graces) == 8 * n
            and set(map(type, ids)) <= {str}
            and not flags.translate(None, _GOOD_FLAGS)
        ):
            return False
        sizes = array("q")
        sizes.frombytes(lengths)
        if n and (min(sizes) < 0 or sum(sizes) != size):
            return False
        self._keys.extend(keys)
        if n:
            self.offsets.extend(accumulate(sizes[:-1], initial=start))
        self.lengths += sizes
        self.ids.extend(ids)
        self.instants.frombytes(instants)
        self.graces.frombytes(graces)
        self.flags += flags
        return True

    @property
    def warm(self) -> bool:
        """Whether the file held entries (a read that can be answered from it)."""
        return bool(self._index)

    def record(self, at: int) -> bytes:
        """The record at position ``at`` (raises ``OSError``)."""
        if self._data is None:  # one read of the whole file, not one per record
            if self.file is None:
                raise OSError("the cache file is closed")
            self._data = os.pread(self.file.fileno(), self.offsets[-1] + self.lengths[-1], 0)
        start = self.offsets[at]
        return self._data[start : start + self.lengths[at]]

    def get(self, key: Key) -> bytes | None:
        at = self._index.get(key)
        if at is None:
            return None
        try:
            data = self.record(at)
        except OSError:
            return None
        self._hit.append(at)
        self.hits += 1
        return data

    def lookup(self, keys: Sequence[Key]) -> tuple[list[int], list[int]]:
        """``get`` in bulk: the file's positions of the keys it holds (in order), and the
        indexes into ``keys`` of those it lacks. The positions address the records
        (``offsets``, ``lengths`` in ``file``) and the head columns (``ids``,
        ``instants``, ``graces``, ``flags``)."""
        found = list(map(self._index.get, keys))
        if None in found:
            misses = [i for i, at in enumerate(found) if at is None]
            hits: list[int] = [at for at in found if at is not None]
        else:
            misses, hits = [], found  # type: ignore[assignment]
        self._hit.extend(hits)
        self.hits += len(hits)
        return hits, misses

    def put(self, key: Key, data: bytes) -> None:
        from schedtui.core.decode import wire

        try:
            jid, instant, grace, flags = wire.head(data)
        except wire.WireError:
            return
        if type(key) is tuple and key[0] == jid:
            jid = key[0]  # one string for both (marshal writes it once)
        self._added[key] = (data, (jid, instant, grace, flags))

    def forget(self, key: Key) -> None:
        at = self._index.get(key)
        if at is not None:
            self._forgot.add(at)
        self._added.pop(key, None)

    def save(self) -> None:
        """Keep this read's rows (owner-only; errors are ignored): nothing to do when every
        row came from the file, a chunk appended when rows were only added, else the file
        rewritten (atomically) with this read's rows alone."""
        kept = set(self._hit)
        kept -= self._forgot
        stale = len(self._index) - len(kept)
        try:
            if not self._added and stale == 0:
                return
            if self._index and stale * 4 <= len(kept) + len(self._added) and self._append():
                return
            self._rewrite(sorted(kept))
        except OSError:
            pass
        finally:
            self.close()

    def close(self) -> None:
        """Close the file (``save`` does: a table of this read reads its records through a
        descriptor of its own)."""
        fh, self.file = self.file, None
        if fh is not None:
            fh.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def _new_entries(self) -> list[Entry]:
        return [(key, data, head) for key, (data, head) in self._added.items()]

    def _append(self) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return False
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077:
                return False
            data = memoryview(b"".join(_run(self._new_entries())))  # one write: one chunk
            while data:
                data = data[os.write(fd, data) :]
            return True
        finally:
            os.close(fd)

    def _rewrite(self, kept: Sequence[int]) -> None:
        keys, ids = self._keys, self.ids
        instants, graces, flags = self.instants, self.graces, self.flags
        entries: list[Entry] = []
        if kept:
            entries = [
                (keys[at], self.record(at), (ids[at], instants[at], graces[at], flags[at]))
                for at in kept
                if keys[at] not in self._added
            ]
        entries += self._new_entries()
        d = self.path.parent
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".decoded")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(_frame(self._header))
                for part in _run(entries):
                    fh.write(part)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
