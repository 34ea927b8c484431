"""Decode a repeated trigger once: the trigger-segment cache (private).

A job state pickle is ``{version, id, func, trigger, executor, args, ..., next_run_time}``
in that order. Across a store, most rows share their trigger's bytes exactly (the same
cron line for thousands of tenants), and the trigger is most of the row's unpickling
work. This module unpickles such a *segment* once, proves that doing so again could not
give anything else, and afterwards unpickles only the rest of each row (the *suffix*).

The proof (made once per distinct segment, from its opcodes):

- the row's *prefix* has the exact shape APScheduler writes (parsed byte by byte here:
  protocol 2-5, ``version`` 1, then ``id`` and ``func`` strings), so the segment always
  starts with the same memo size (``BASE``) and the same stack;
- the segment pushes exactly one object, pops nothing it did not push, closes only marks
  it opened, writes no memo slot below ``BASE``, reads only the constant key strings below
  it, fills the slots ``BASE..BASE+k-1`` and nothing else, and uses no opcode that reaches
  outside the unpickler (PERSID, EXT, INST/OBJ, FRAME, PROTO, STOP, buffers).

So the same bytes always build the same values. On a hit the suffix is unpickled with
``SafeUnpickler`` after a few GET opcodes that rebuild the stack the segment left
(``job dict, MARK, 'version', 1, 'id', id, 'func', func, 'trigger', <trigger>``), with the
memo pre-seeded to what it held: immutable objects are shared; every mutable one (the
trigger placeholder itself, its lists and dicts) is replaced by ONE fresh inert *poison*
object. Afterwards the result must be that job dict, fully consumed, its ``trigger`` value
the poison, and the poison referenced exactly once (``sys.getrefcount``): a suffix that
read, duplicated, popped or changed a mutable object of the segment fails that test and
the row is decoded in full instead. A hit therefore returns exactly what a full decode
would, with the trigger already validated (``TriggerSpec``).

Any failure on the fast path (including hostile suffixes) falls back to the full decode,
which reports the row's real finding. Work spent proving segments is bounded: a segment
is studied on its second sighting, and only while hits keep paying for it.
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo

from schedtui.core.decode import unpickler as up
from schedtui.core.decode import zones
from schedtui.core.decode.findings import UnpickleError
from schedtui.core.decode.placeholders import _PlaceholderMeta

#: Memo slots filled by the prefix: dict, 'version', 'id', <id>, 'func', <func>, 'trigger'.
BASE = 7
#: Prefix slots a segment may read (the key strings; never the row's own id/func).
_CONST_SLOTS = frozenset({1, 2, 4, 6})
#: Limits on what is kept (distinct segments, segments remembered as seen once).
MAX_ENTRIES = 4096
MAX_SEEN = 200_000
#: Segments studied for free before studies must be paid for by hits (1 study per 8 hits).
FREE_STUDIES = 64
HITS_PER_STUDY = 8
#: Segments larger than this are not cached (studying them costs more than it saves).
MAX_SEGMENT = 16 * 1024
#: A store whose triggers do not repeat gains nothing: when a window of ``WINDOW`` rows
#: brings fewer than ``MIN_HITS`` hits, the next ``PAUSE`` rows skip the cache (only the
#: speed changes: a hit and a full decode give the same result).
WINDOW = 1024
MIN_HITS = 32
PAUSE = 16_384

_MARKOBJECT = pickletools.markobject
_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}
_GETS = {"GET", "BINGET", "LONG_BINGET"}
_REFUSED = {
    "PERSID", "BINPERSID", "EXT1", "EXT2", "EXT4", "INST", "OBJ", "FRAME", "PROTO", "STOP",
    "NEXT_BUFFER", "READONLY_BUFFER",
}  # fmt: skip

# --------------------------------------------------------------------------- prefix

_P45_HEAD = b"}\x94(\x8c\x07version\x94K\x01\x8c\x02id\x94"
_P45_FUNC = b"\x8c\x04func\x94"
_P45_TRIGGER = b"\x8c\x07trigger\x94"
_P45_END = b"\x8c\x08executor\x94"
_P23_HEAD = b"}q\x00(X\x07\x00\x00\x00versionq\x01K\x01X\x02\x00\x00\x00idq\x02"
_P23_FUNC = b"X\x04\x00\x00\x00funcq\x04"
_P23_TRIGGER = b"X\x07\x00\x00\x00triggerq\x06"
_P23_END = b"X\x08\x00\x00\x00executor"

#: A prefix with the same memo layout, for studying a segment on its own.
_CANON = {
    45: b"\x80\x04" + _P45_HEAD + b"\x8c\x01i\x94" + _P45_FUNC + b"\x8c\x01f\x94" + _P45_TRIGGER,
    23: b"\x80\x02" + _P23_HEAD + b"X\x01\x00\x00\x00iq\x03" + _P23_FUNC + b"X\x01\x00\x00\x00fq\x05" + _P23_TRIGGER,
}


def _str45(data: bytes, i: int) -> tuple[bytes, int]:
    """The string opcode at ``i`` (with its argument) and where its MEMOIZE ends."""
    op = data[i]
    if op == 0x8C:  # SHORT_BINUNICODE
        n = data[i + 1]
        j = i + 2
    elif op == 0x58:  # BINUNICODE
        n = int.from_bytes(data[i + 1 : i + 5], "little")
        j = i + 5
    else:
        raise ValueError
    end = j + n
    if data[end] != 0x94:  # MEMOIZE
        raise ValueError
    return data[i:end], end + 1


def _str23(data: bytes, i: int, slot: int) -> tuple[bytes, int]:
    """The BINUNICODE opcode at ``i`` (with its argument) and where its BINPUT ends."""
    if data[i] != 0x58:  # BINUNICODE
        raise ValueError
    n = int.from_bytes(data[i + 1 : i + 5], "little")
    j = i + 5
    end = j + n
    if data[end] != 0x71 or data[end + 1] != slot:  # BINPUT slot
        raise ValueError
    return data[i:end], end + 2


def parse_prefix(data: bytes) -> tuple[int, int, bytes, bytes] | None:
    """``(family, segment start, id opcode, func opcode)`` for a prefix of the expected
    shape, else None (the strings are decoded by the unpickler, not here)."""
    try:
        if data[0] != 0x80:
            return None
        proto = data[1]
        if proto == 4 or proto == 5:
            i = 11 if data[2] == 0x95 else 2  # FRAME + 8 bytes
            if not data.startswith(_P45_HEAD, i):
                return None
            job_id, i = _str45(data, i + len(_P45_HEAD))
            if not data.startswith(_P45_FUNC, i):
                return None
            func, i = _str45(data, i + len(_P45_FUNC))
            if not data.startswith(_P45_TRIGGER, i):
                return None
            return 45, i + len(_P45_TRIGGER), job_id, func
        if proto == 2 or proto == 3:
            if not data.startswith(_P23_HEAD, 2):
                return None
            job_id, i = _str23(data, 2 + len(_P23_HEAD), 3)
            if not data.startswith(_P23_FUNC, i):
                return None
            func, i = _str23(data, i + len(_P23_FUNC), 5)
            if not data.startswith(_P23_TRIGGER, i):
                return None
            return 23, i + len(_P23_TRIGGER), job_id, func
    except (IndexError, ValueError, UnicodeError):
        return None
    return None


# --------------------------------------------------------------------------- study


def _study(segment: bytes) -> int | None:
    """How many memo slots the segment fills (``k``), if it provably stands alone."""
    depth = 0
    marks: list[int] = []
    defined = BASE  # memo size: slots 0..defined-1 are filled
    ops = _opcodes(segment)
    if ops is None:
        return None
    try:
        for op, arg, _pos in ops:
            name = op.name
            if name in _REFUSED:
                return None
            before = op.stack_before
            fence = marks[-1] if marks else 0
            if _MARKOBJECT in before:
                if not marks:
                    return None
                at = marks.pop()
                below = before.index(_MARKOBJECT)  # items under the mark it also uses
                fence = marks[-1] if marks else 0
                if at - below < fence:
                    return None
                depth = at - below + len(op.stack_after)
            elif name == "MARK":
                marks.append(depth)
            elif name == "POP" and marks and marks[-1] == depth:
                marks.pop()
            else:
                if depth - len(before) < fence:
                    return None
                depth = depth - len(before) + len(op.stack_after)
            if name in _PUTS:
                if type(arg) is not int or arg != defined:  # only the next free slot
                    return None
                defined += 1
            elif name == "MEMOIZE":
                defined += 1
            elif name in _GETS:
                if type(arg) is not int or not (arg in _CONST_SLOTS or BASE <= arg < defined):
                    return None
    except Exception:
        return None
    if depth != 1 or marks:
        return None
    return defined - BASE


def _opcodes(segment: bytes) -> list[tuple[pickletools.OpcodeInfo, Any, int | None]] | None:
    """The opcodes of a fragment that ends exactly on an opcode boundary, else None."""
    out = []
    with warnings.catch_warnings():
        # pickletools warns about odd escapes in text STRING arguments (hostile rows)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            for item in pickletools.genops(segment):
                out.append(item)
        except ValueError as exc:
            # genops reads past the last opcode and finds nothing: the fragment ended on a
            # boundary. Any other error (a cut argument, an unknown opcode) refuses.
            return out if str(exc) == "pickle exhausted before seeing STOP" else None
        except Exception:
            return None
    return None  # it reached a STOP


_SCALARS = frozenset({str, bytes, int, float, bool, type(None), complex, datetime, date, time, timedelta, timezone})


def _immutable(obj: object, depth: int = 0) -> bool:
    """Whether sharing ``obj`` between rows can never let one row change another."""
    t = type(obj)
    if t in _SCALARS:
        if t is not datetime and t is not time:
            return True
        zone = cast("datetime | time", obj).tzinfo
        return zone is None or _immutable(zone, depth + 1)
    if t is tuple or t is frozenset:
        return depth < 8 and all(_immutable(x, depth + 1) for x in cast("Iterable[object]", obj))
    if isinstance(obj, type):  # placeholder classes (frozen metaclass) and datetime types
        return isinstance(obj, _PlaceholderMeta) or obj in _SCALARS
    if isinstance(obj, tzinfo):  # ZoneInfo (no __dict__), PytzZone (frozen), timezone
        return t is zones.PytzZone or t is ZoneInfo
    # the vetted callables handed out by find_class: process-wide singletons, no state
    return isinstance(obj, up._Shape)


class _Poison:
    """Stands in for the mutable objects of a cached segment; must end up used exactly once."""

    __slots__ = ()


class _Template(pickle.Unpickler):
    """Builds an entry's memo (objects handed over as persistent ids, once per entry)."""

    objects: list[object] | None

    def persistent_load(self, pid: object) -> object:
        assert self.objects is not None and type(pid) is int
        return self.objects[pid]


class _FastUnpickler(up.SafeUnpickler):
    """``SafeUnpickler`` whose one persistent id (pushed by our own opcodes, before any byte
    of the row) swaps in the entry's memo and returns the poison."""

    pending: tuple[_Poison, Any] | None

    def persistent_load(self, pid: object) -> object:
        pending = self.pending
        if pid is not None or pending is None:  # a PERSID of the row itself
            raise UnpickleError("forbidden-opcode", "persistent ids (PERSID) are not allowed")
        self.pending = None
        poison, memo = pending
        self.memo = memo  # keeps the memo size the fill reached: MEMOIZE continues after it
        return poison


def _put(slot: int) -> bytes:
    return b"q" + bytes([slot]) if slot < 256 else b"r" + slot.to_bytes(4, "little")


def _get(slot: int) -> bytes:
    return b"h" + bytes([slot]) if slot < 256 else b"j" + slot.to_bytes(4, "little")


#: A second pickle after the frame: ``True`` only if the row's suffix ended at its STOP.
_END_MARK = b"\x80\x05\x88."


class _Entry:
    """A proven segment: its ``TriggerSpec`` and what the memo held after it."""

    __slots__ = ("spec", "memo", "poisoned", "prelude", "get_poison")

    def __init__(self, spec: object, memo: Any, size: int, poisoned: list[int]) -> None:
        self.spec = spec
        #: proxy of a template unpickler's memo: slots 0..size-1, the mutable ones None
        self.memo = memo
        #: the slots holding mutable objects (the poison's on a hit)
        self.poisoned = tuple(poisoned)
        #: fills ``size`` memo slots (MEMOIZE continues after them), swaps in the entry's
        #: objects and gets the poison (our persistent id), stores it in every mutable
        #: slot, then starts the stack: the job dict, MARK, 'version', 1, 'id'
        self.prelude = b"".join(
            (
                b"N" + b"\x94" * size + b"0",
                b"NQ",
                b"".join(_put(i) for i in poisoned),
                b"0}q\x00(h\x01K\x01h\x02",
            )
        )
        #: pushes the poison again, as the trigger value
        self.get_poison = _get(poisoned[0])


# --------------------------------------------------------------------------- the cache


class SegmentCache:
    """Per-process cache of proven trigger segments (thread-safe for readers)."""

    def __init__(self) -> None:
        self._entries: dict[bytes, _Entry] = {}
        self._seen: set[int] = set()
        self._lock = threading.Lock()
        self.hits = 0
        self.studies = 0
        self.fallbacks = 0
        self._calls = 0
        self._window_hits = 0
        self._bypass = 0

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._seen.clear()
            self.hits = self.studies = self.fallbacks = 0
            self._calls = self._window_hits = self._bypass = 0

    def load(self, data: bytes, validate: Callable[[object], object]) -> tuple[object, object | None]:
        """``(state, spec)``: a hit gives the state dict (trigger = a poison) and the spec;
        otherwise the full ``unpickler.loads(data)`` and None. Raises as ``loads`` does."""
        if self._bypass:  # the recent rows did not repeat: not worth looking
            self._bypass -= 1
            return up.loads(data), None
        self._calls += 1
        if self._calls >= WINDOW:
            if self.hits - self._window_hits < MIN_HITS:
                self._bypass = PAUSE
            self._calls, self._window_hits = 0, self.hits
        pre = parse_prefix(data)
        if pre is None:
            return up.loads(data), None
        family, start, id_op, func_op = pre
        end = data.find(_P45_END if family == 45 else _P23_END, start)
        if end < 0 or end - start > MAX_SEGMENT:
            return up.loads(data), None
        # The key is the segment's bytes alone: both prefix families leave the same memo
        # (slots 0-6, same values) and stack, so the proof does not depend on the family.
        key = data[start:end]
        entry = self._entries.get(key)
        if entry is not None:
            state = self._fast(data, end, entry, id_op, func_op)
            if state is not None:
                self.hits += 1
                return state, entry.spec
            self.fallbacks += 1
            return up.loads(data), None
        obj = up.loads(data)
        self._learn(family, key, validate)
        return obj, None

    # -- hit ---------------------------------------------------------------------------
    def _fast(self, data: bytes, end: int, entry: _Entry, id_op: bytes, func_op: bytes) -> dict[str, object] | None:
        if up.extensions_registered():
            return None  # EXT opcodes could reach the registry: the full path scans for them
        suffix = data[end:]
        if b"\x96" in suffix and up._oversized_bytearray8(suffix):
            return None  # the full path reports it
        # One pickle: fill the memo to the entry's size, swap in its objects (and get the
        # poison) through our persistent id, store the poison in every mutable slot, then
        # rebuild the stack the prefix and the segment left -- job dict (0), MARK,
        # 'version' (1), 1, 'id' (2), <id> (3), 'func' (4), <func> (5), 'trigger' (6),
        # <the poison> -- and run the row's own suffix. A second tiny pickle after the frame
        # proves the suffix ended exactly where the row does.
        body = b"".join((entry.prelude, id_op, b"q\x03h\x04", func_op, b"q\x05h\x06", entry.get_poison, suffix))
        payload = b"".join((b"\x80\x05\x95", len(body).to_bytes(8, "little"), body, _END_MARK))
        stream = io.BytesIO(payload)
        poison = _Poison()
        unpickler: _FastUnpickler | None = None
        try:
            unpickler = _FastUnpickler(stream)
            unpickler.pending = (poison, entry.memo)
            result = unpickler.load()
            mark = unpickler.load()  # (the PROTO opcode's value changes nothing for our find_class)
        except Exception:
            return None
        finally:
            unpickler = None  # frees the C memo and stack (their references to the poison)
        if mark is not True or stream.tell() != len(payload):
            return None  # bytes after the row's STOP: the full path reports them
        if type(result) is not dict or result.get("trigger") is not poison:
            return None
        # poison, result["trigger"], getrefcount's argument: anything more is a reference
        # the suffix made to a mutable object of the segment (or kept the poison twice).
        if sys.getrefcount(poison) != 3:
            return None
        return result

    # -- miss --------------------------------------------------------------------------
    def _learn(self, family: int, key: bytes, validate: Callable[[object], object]) -> None:
        h = hash(key)
        if h not in self._seen:
            if len(self._seen) >= MAX_SEEN:
                self._seen.clear()
            self._seen.add(h)
            return
        if len(self._entries) >= MAX_ENTRIES or self.studies >= FREE_STUDIES + self.hits // HITS_PER_STUDY:
            return
        with self._lock:
            if key in self._entries:
                return
            self.studies += 1
            entry = self._make(family, key, validate)
            if entry is not None:
                self._entries[key] = entry

    def _make(self, family: int, segment: bytes, validate: Callable[[object], object]) -> _Entry | None:
        k = _study(segment)
        if not k:
            return None
        try:
            unpickler = up.SafeUnpickler(io.BytesIO(_CANON[family] + segment + b"."))
            trigger = unpickler.load()
            memo = unpickler.memo.copy()
            spec = validate(trigger)
        except Exception:
            return None
        size = BASE + k
        if sorted(memo) != list(range(size)) or not any(memo[i] is trigger for i in range(BASE, size)):
            return None
        objects: list[object] = [None] * size
        for i in (1, 2, 4, 6):
            objects[i] = memo[i]
        poisoned = []
        for i in range(BASE, size):
            obj = memo[i]
            if obj is not trigger and _immutable(obj):
                objects[i] = obj
            else:
                poisoned.append(i)
        ops = b"".join(b"J" + i.to_bytes(4, "little") + b"Qr" + i.to_bytes(4, "little") + b"0" for i in range(size))
        template = _Template(io.BytesIO(b"\x80\x04" + ops + b"N."))
        template.objects = objects
        try:
            template.load()
        except Exception:
            return None
        template.objects = None
        return _Entry(spec, template.memo, size, poisoned)


#: The process's cache (used by ``jobstate`` in a decode worker).
CACHE = SegmentCache()
#: ``SCHEDTUI_SEGMENT_CACHE=0`` turns the cache off (every row decoded in full).
ENABLED = os.environ.get("SCHEDTUI_SEGMENT_CACHE") != "0"
