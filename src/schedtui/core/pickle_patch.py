"""Byte-faithful edits of the ``next_run_time`` inside an APScheduler 3.x ``job_state``.

The state is never unpickled here. The opcode stream is walked structurally (no
``find_class``, nothing imported, nothing executed) to find the value of the top-level
``"next_run_time"`` key; only that value's opcodes are replaced, every other byte stays:

- pause: the value becomes ``NONE`` (``N``);
- resume: the value becomes a freshly pickled datetime, written with the stream's own
  protocol by the pure-Python pickler whose memo is pre-loaded with the stream's memo
  indices of objects that are already there (the ``datetime.datetime`` class, the same
  time zone, or, for a date trigger, ``run_date`` itself). That is what APScheduler's own
  ``pickle.dumps`` writes for the same job, so a pause followed by a resume at the same
  fire time gives back the original bytes.

Nothing that follows the value may use the memo (in real states only ``SETITEMS`` and
``STOP`` follow), so removing the old value's memo entries cannot shift an index anyone
refers to. The replaced value is never patched in place: a datetime shared through the
memo (a date trigger's ``run_date``) is left alone, only the reference is replaced.
A protocol 4+ frame that contains the value gets its length adjusted.
"""

from __future__ import annotations

import codecs
import io
import pickle
import pickletools
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo

#: Largest state this module edits (bytes).
MAX_STATE = 4 * 1024 * 1024
#: Most opcodes walked.
MAX_OPS = 500_000

_STR_OPS = {"UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8"}
_BYTES_OPS = {"BINBYTES", "SHORT_BINBYTES", "BINBYTES8"}
_INT_OPS = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"}
_MEMO_PUT = {"PUT", "BINPUT", "LONG_BINPUT"}
_MEMO_GET = {"GET", "BINGET", "LONG_BINGET"}
_REFUSED = {
    "PERSID": "persistent ids",
    "BINPERSID": "persistent ids",
    "EXT1": "extension codes",
    "EXT2": "extension codes",
    "EXT4": "extension codes",
    "NEXT_BUFFER": "out-of-band buffers",
    "READONLY_BUFFER": "out-of-band buffers",
    "INST": "protocol 0 instances",
    "OBJ": "protocol 0/1 instances",
}


class PatchError(ValueError):
    """The state cannot be edited safely. ``code`` is stable, ``message`` one sentence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Mark:
    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos


@dataclass(eq=False)
class _Node:
    """One object of the stream (shared by every reference to it through the memo)."""

    kind: str  # str, bytes, int, const, global, reduce, tuple, dict, list, obj, other
    value: Any = None
    items: list[_Occ] = field(default_factory=list)  # tuple/reduce/obj parts
    pairs: list[tuple[_Occ, _Occ]] = field(default_factory=list)  # dict items
    state: _Occ | None = None  # BUILD state of an obj
    memo: int | None = None  # first memo index it was stored under


@dataclass(eq=False)
class _Occ:
    """One occurrence of a node in the stream: the byte range of its opcodes."""

    node: _Node
    start: int
    end: int


@dataclass
class Layout:
    """Where things are in a state, as found by :func:`analyze`."""

    protocol: int
    length: int
    value_start: int  #: first byte of the next_run_time value
    value_end: int  #: one past its last byte (including its memo opcodes)
    memo_before: int  #: memo entries defined before the value (the next free index)
    frames: list[tuple[int, int]]  #: (header offset, payload length) of every FRAME
    value: _Node
    memo: dict[int, _Node]
    trigger: _Node | None

    @property
    def paused(self) -> bool:
        return self.value.kind == "const" and self.value.value is None

    def trigger_class(self) -> str | None:
        """``"module:qualname"`` of the trigger when it is a plain class reference."""
        trig = self.trigger
        if trig is None or trig.kind != "obj" or not trig.items:
            return None
        cls = trig.items[0].node
        if cls.kind == "global":
            return f"{cls.value[0]}:{cls.value[1]}"
        return None

    def trigger_attr(self, name: str) -> _Node | None:
        """A value of the trigger's BUILD state dict (``"run_date"``, ``"timezone"``)."""
        trig = self.trigger
        if trig is None or trig.state is None:
            return None
        return _dict_get(trig.state.node, name)


def _dict_get(node: _Node, key: str) -> _Node | None:
    if node.kind != "dict":
        return None
    found = [v.node for k, v in node.pairs if k.node.kind == "str" and k.node.value == key]
    return found[-1] if found else None


def _fail(code: str, message: str) -> PatchError:
    return PatchError(code, message)


def analyze(state: bytes) -> Layout:
    """Walk ``state`` and locate the top-level ``next_run_time`` value. Raises PatchError."""
    if not isinstance(state, bytes | bytearray | memoryview):
        raise _fail("bad-shape", "job_state is not bytes")
    data = bytes(state)
    if len(data) > MAX_STATE:
        raise _fail("too-large", f"job_state is {len(data)} bytes (limit {MAX_STATE})")
    if len(data) < 2 or data[0] != 0x80:
        raise _fail("protocol", "job_state does not start with a protocol 2+ header")
    protocol = data[1]
    if not 2 <= protocol <= 5:
        raise _fail("protocol", f"pickle protocol {protocol} is not supported (2 to 5 are)")

    stack: list[_Occ | _Mark] = []
    memo: dict[int, _Node] = {}
    frames: list[tuple[int, int]] = []
    memo_count = 0  # entries defined so far (next implicit MEMOIZE index)
    root: _Occ | None = None
    ops: list[tuple[str, int, int]] = []  # (opcode, offset, memo entries before it)
    stopped = False

    def pop() -> _Occ:
        if not stack or isinstance(stack[-1], _Mark):
            raise _fail("bad-shape", "stack underflow in job_state")
        return cast("_Occ", stack.pop())

    def pop_mark() -> tuple[_Mark, list[_Occ]]:
        items: list[_Occ] = []
        while stack and not isinstance(stack[-1], _Mark):
            items.append(cast("_Occ", stack.pop()))
        if not stack:
            raise _fail("bad-shape", "missing MARK in job_state")
        mark = cast("_Mark", stack.pop())
        items.reverse()
        return mark, items

    try:
        for count, (op, arg, pos) in enumerate(_genops(data)):
            if count > MAX_OPS:
                raise _fail("too-large", "job_state has too many opcodes")
            name = op.name
            end = pos + 1 + _arg_len(data, pos, op)
            ops.append((name, pos, memo_count))
            if name in _REFUSED:
                raise _fail("unsupported", f"job_state uses {_REFUSED[name]} ({name})")
            if name == "PROTO":
                continue
            if name == "FRAME":
                frames.append((pos, int(arg)))
                continue
            if name == "STOP":
                root = pop()
                stopped = True
                break
            if name == "MARK":
                stack.append(_Mark(pos))
            elif name in _STR_OPS:
                stack.append(_Occ(_Node("str", arg), pos, end))
            elif name in _BYTES_OPS:
                stack.append(_Occ(_Node("bytes", bytes(arg)), pos, end))
            elif name in _INT_OPS:
                stack.append(_Occ(_Node("int", arg), pos, end))
            elif name in ("NONE", "NEWTRUE", "NEWFALSE"):
                stack.append(_Occ(_Node("const", {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}[name]), pos, end))
            elif name == "GLOBAL":
                module, _, qual = str(arg).partition(" ")
                stack.append(_Occ(_Node("global", (module, qual)), pos, end))
            elif name == "STACK_GLOBAL":
                qual_occ, module_occ = pop(), pop()
                value = (
                    (module_occ.node.value, qual_occ.node.value)
                    if module_occ.node.kind == qual_occ.node.kind == "str"
                    else None
                )
                stack.append(_Occ(_Node("global" if value else "other", value), module_occ.start, end))
            elif name == "REDUCE":
                args, func = pop(), pop()
                stack.append(_Occ(_Node("reduce", items=[func, args]), func.start, end))
            elif name in ("NEWOBJ", "NEWOBJ_EX"):
                parts = [pop() for _ in range(2 if name == "NEWOBJ" else 3)][::-1]
                stack.append(_Occ(_Node("obj", items=parts), parts[0].start, end))
            elif name == "BUILD":
                st = pop()
                target = pop()
                if target.node.kind == "obj" and target.node.state is None:
                    target.node.state = st
                stack.append(_Occ(target.node, target.start, end))
            elif name == "EMPTY_TUPLE":
                stack.append(_Occ(_Node("tuple"), pos, end))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                parts = [pop() for _ in range(n)][::-1]
                stack.append(_Occ(_Node("tuple", items=parts), parts[0].start, end))
            elif name == "TUPLE":
                mark, parts = pop_mark()
                stack.append(_Occ(_Node("tuple", items=parts), mark.pos, end))
            elif name == "EMPTY_DICT":
                stack.append(_Occ(_Node("dict"), pos, end))
            elif name == "DICT":
                mark, parts = pop_mark()
                node = _Node("dict", pairs=list(zip(parts[::2], parts[1::2], strict=False)))
                stack.append(_Occ(node, mark.pos, end))
            elif name == "SETITEM":
                v, k = pop(), pop()
                d = pop()
                d.node.pairs.append((k, v))
                stack.append(_Occ(d.node, d.start, end))
            elif name == "SETITEMS":
                _, parts = pop_mark()
                d = pop()
                if len(parts) % 2:
                    raise _fail("bad-shape", "odd SETITEMS in job_state")
                d.node.pairs.extend(zip(parts[::2], parts[1::2], strict=True))
                stack.append(_Occ(d.node, d.start, end))
            elif name in _MEMO_PUT or name == "MEMOIZE":
                top = pop()
                idx = memo_count if name == "MEMOIZE" else int(arg)
                memo[idx] = top.node
                if top.node.memo is None:
                    top.node.memo = idx
                memo_count = max(memo_count, idx + 1) if name != "MEMOIZE" else memo_count + 1
                stack.append(_Occ(top.node, top.start, end))
            elif name in _MEMO_GET:
                idx = int(arg)
                if idx not in memo:
                    raise _fail("bad-shape", f"memo index {idx} used before it is defined")
                stack.append(_Occ(memo[idx], pos, end))
            elif name == "POP":
                pop()
            elif name == "POP_MARK":
                pop_mark()
            elif name == "DUP":
                top = pop()
                stack.extend([top, _Occ(top.node, pos, end)])
            else:
                _generic(op, stack, pos, end, pop, pop_mark)
    except PatchError:
        raise
    except (ValueError, EOFError, struct.error, IndexError, UnicodeDecodeError) as exc:
        raise _fail("truncated", f"job_state is not a complete pickle ({exc})") from None

    if not stopped or root is None or stack:
        raise _fail("bad-shape", "job_state does not end with a single object")
    if root.node.kind != "dict":
        raise _fail("bad-shape", "job_state is not a dict")
    values = [v for k, v in root.node.pairs if k.node.kind == "str" and k.node.value == "next_run_time"]
    if len(values) != 1:
        raise _fail("bad-shape", "job_state has no single next_run_time")
    val = values[0]
    trig = _dict_get(root.node, "trigger")

    # Everything after the value must leave the memo alone (real states: SETITEMS, STOP).
    memo_before = memo_count
    for name, pos, before in ops:
        if pos >= val.start:
            memo_before = min(memo_before, before)
            if pos >= val.end and (name in _MEMO_PUT or name in _MEMO_GET or name == "MEMOIZE"):
                raise _fail("layout", "job_state uses the memo after next_run_time; not edited")
    for hdr, length in frames:
        body = hdr + 9
        if val.start < hdr < val.end or (body <= val.start < body + length and val.end > body + length):
            raise _fail("layout", "next_run_time crosses a pickle frame; not edited")
    return Layout(protocol, len(data), val.start, val.end, memo_before, frames, val.node, memo, trig)


def _arg_len(data: bytes, pos: int, op: pickletools.OpcodeInfo) -> int:
    """Length of the argument bytes of the opcode at ``pos`` (after the opcode byte)."""
    a = op.arg
    if a is None:
        return 0
    if a.n >= 0:
        return a.n
    if a.n == pickletools.UP_TO_NEWLINE:
        return data.index(b"\n", pos + 1) - pos
    if a.n == pickletools.TAKEN_FROM_ARGUMENT1:
        return 1 + data[pos + 1]
    if a.n == pickletools.TAKEN_FROM_ARGUMENT4:
        return 4 + int.from_bytes(data[pos + 1 : pos + 5], "little", signed=a.name == "int4")
    if a.n == pickletools.TAKEN_FROM_ARGUMENT4U:
        return 4 + int.from_bytes(data[pos + 1 : pos + 5], "little")
    if a.n == pickletools.TAKEN_FROM_ARGUMENT8U:
        return 8 + int.from_bytes(data[pos + 1 : pos + 9], "little")
    # GLOBAL / INST: two newline-terminated lines
    first = data.index(b"\n", pos + 1)
    return data.index(b"\n", first + 1) - pos


def _genops(data: bytes) -> Iterator[tuple[pickletools.OpcodeInfo, Any, int]]:
    """``pickletools.genops`` over bytes (every position is known)."""
    for op, arg, pos in pickletools.genops(io.BytesIO(data)):
        assert pos is not None
        yield op, arg, pos


def _generic(
    op: pickletools.OpcodeInfo, stack: list[_Occ | _Mark], pos: int, end: int, pop: Any, pop_mark: Any
) -> None:
    """Stack effect of the opcodes that build things we never need to look into."""
    before = list(op.stack_before)
    start = pos
    if pickletools.markobject in before:
        mark, _ = pop_mark()
        start = mark.pos
        before = before[: before.index(pickletools.markobject)]
    for _ in before:
        start = min(start, pop().start)
    for _ in op.stack_after:
        stack.append(_Occ(_Node("other"), start, end))


# --------------------------------------------------------------------------- writing


def _zone_key(node: _Node) -> str | None:
    """The key of a ``getattr(ZoneInfo, "_unpickle")(key, 1)`` node."""
    if node.kind != "reduce":
        return None
    func, args = (o.node for o in node.items)
    if func.kind != "reduce" or args.kind != "tuple" or not args.items:
        return None
    getter, gargs = (o.node for o in func.items)
    if getter.kind != "global" or getter.value[1] != "getattr" or gargs.kind != "tuple":
        return None
    parts = [o.node for o in gargs.items]
    if len(parts) != 2 or parts[0].kind != "global" or parts[0].value != ("zoneinfo", "ZoneInfo"):
        return None
    if parts[1].kind != "str" or parts[1].value != "_unpickle":
        return None
    key = args.items[0].node
    return key.value if key.kind == "str" else None


def _fixed_offset(node: _Node) -> timedelta | None:
    """The offset of a ``datetime.timezone(timedelta(d, s, us))`` node (no name)."""
    if node.kind != "reduce":
        return None
    func, args = (o.node for o in node.items)
    if func.kind != "global" or func.value != ("datetime", "timezone") or args.kind != "tuple":
        return None
    if len(args.items) != 1:
        return None
    td = args.items[0].node
    if td.kind != "reduce":
        return None
    tfunc, targs = (o.node for o in td.items)
    if tfunc.kind != "global" or tfunc.value != ("datetime", "timedelta") or targs.kind != "tuple":
        return None
    nums = [o.node for o in targs.items]
    if len(nums) != 3 or any(n.kind != "int" for n in nums):
        return None
    return timedelta(days=nums[0].value, seconds=nums[1].value, microseconds=nums[2].value)


def _find_memo(layout: Layout, want: Any) -> int | None:
    """The memo index (before the value) of an object equal to ``want`` (a class or tz)."""
    best: int | None = None
    for idx, node in layout.memo.items():
        if idx >= layout.memo_before or node.memo != idx:
            continue
        if want is datetime:
            hit = node.kind == "global" and node.value == ("datetime", "datetime")
        elif want is codecs.encode:
            hit = node.kind == "global" and node.value == ("_codecs", "encode")
        elif isinstance(want, str):
            hit = node.kind == "str" and node.value == want
        elif isinstance(want, ZoneInfo):
            hit = _zone_key(node) == want.key
        elif isinstance(want, timezone):
            # (C ``timezone`` pickles as its init args; typeshed does not declare them)
            hit = len(want.__getinitargs__()) == 1 and _fixed_offset(node) == want.utcoffset(None)  # type: ignore[attr-defined]
        else:
            hit = False
        if hit and best is None:
            best = idx
    return best


def _normalize_tz(tz: tzinfo | None) -> tzinfo:
    """The tz APScheduler 3.11 would attach: ZoneInfo / timezone as is, pytz by key."""
    if isinstance(tz, ZoneInfo | timezone):
        return tz
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)
    if isinstance(key, str) and key:
        if key == "UTC":
            return UTC
        return ZoneInfo(key)
    if tz is not None:
        off = tz.utcoffset(None)
        if off is not None:
            return timezone(off)
    raise _fail("naive", "next_run_time must be an aware datetime")


def encode_datetime(layout: Layout, value: datetime) -> bytes:
    """Opcodes of ``value`` as APScheduler's pickler would write them at this point of the
    stream: objects already in the memo are referenced, new ones memoized after it."""
    tz = _normalize_tz(value.tzinfo)
    value = value.astimezone(tz)  # same instant, wall clock and fold in ``tz``
    out = io.BytesIO()
    # The pure-Python pickler: its ``memo`` and ``save`` are what this needs (undeclared).
    p: Any = pickle._Pickler(out, protocol=layout.protocol)
    memo: dict[int, tuple[int, Any]] = {}
    # Pad the memo so new entries get the stream's next free indices.
    for i in range(layout.memo_before):
        memo[-(i + 1)] = (i, None)
    # protocol 2 writes bytes as _codecs.encode(text, "latin1"); pickle.py's literal
    # "latin1" is interned, so the pure pickler finds it in the memo by id.
    shared: tuple[Any, ...] = (datetime, tz)
    if layout.protocol < 3:
        shared += (codecs.encode, sys.intern("latin1"))
    elif layout.protocol >= 4:  # STACK_GLOBAL saves the module and class names as strings
        shared += (datetime.__module__, datetime.__qualname__)
    for obj in shared:
        idx = _find_memo(layout, obj)
        if idx is not None:
            memo.pop(-(idx + 1), None)
            memo[id(obj)] = (idx, obj)
    p.memo = memo
    p.save(value)
    return out.getvalue()


def set_next_run_time(state: bytes, value: datetime | None, *, share_run_date: bool = False) -> bytes:
    """``state`` with only its ``next_run_time`` replaced (None = paused).

    With ``share_run_date`` (a date trigger whose ``run_date`` is ``value``), the new value
    is a memo reference to ``run_date``, as APScheduler writes it.
    """
    layout = analyze(state)
    if value is None:
        segment = b"N"
    else:
        if value.tzinfo is None or value.utcoffset() is None:
            raise _fail("naive", "next_run_time must be an aware datetime")
        segment = b""
        if share_run_date:
            run_date = layout.trigger_attr("run_date")
            if run_date is not None and run_date.memo is not None and run_date.memo < layout.memo_before:
                segment = _get_opcode(layout.protocol, run_date.memo)
        if not segment:
            segment = encode_datetime(layout, value)
    return splice(state, layout, segment)


def _get_opcode(protocol: int, idx: int) -> bytes:
    if idx < 256:
        return b"h" + bytes([idx])
    return b"j" + struct.pack("<I", idx)


def splice(state: bytes, layout: Layout, segment: bytes) -> bytes:
    """Replace the value's bytes with ``segment`` and fix the length of its frame."""
    data = bytearray(state[: layout.value_start] + segment + state[layout.value_end :])
    delta = len(segment) - (layout.value_end - layout.value_start)
    for hdr, length in layout.frames:
        body = hdr + 9
        if body <= layout.value_start < body + length:
            struct.pack_into("<Q", data, hdr + 1, length + delta)
            break
    return bytes(data)


def same_outside_value(before: bytes, after: bytes) -> bool:
    """True when ``after`` differs from ``before`` only in the next_run_time value (and
    the length field of the frame holding it): the check every edit is held to."""
    a, b = analyze(before), analyze(after)
    if before[: a.value_start] != after[: b.value_start] and not _frames_only(before, after, a, b):
        return False
    return before[a.value_end :] == after[b.value_end :]


def _frames_only(before: bytes, after: bytes, a: Layout, b: Layout) -> bool:
    if a.value_start != b.value_start:
        return False
    x, y = bytearray(before[: a.value_start]), bytearray(after[: b.value_start])
    for (hdr, _), (hdr2, _) in zip(a.frames, b.frames, strict=False):
        if hdr != hdr2:
            return False
        if hdr + 9 <= a.value_start:
            x[hdr + 1 : hdr + 9] = b"\0" * 8
            y[hdr + 1 : hdr + 9] = b"\0" * 8
    return x == y
