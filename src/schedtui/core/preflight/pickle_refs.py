"""The globals a pickle refers to, read from its opcodes (``pickletools``), never loaded.

``pickle_refs(data)`` walks the opcode stream with a small stack model and returns every
``(module, qualname)`` the unpickler would look up (GLOBAL, STACK_GLOBAL, INST), plus the
single-literal calls made on them (``Color("red")``: how enum members pickle), so that an
enum member whose value the new code no longer has can be told apart from one it has.

Nothing is executed and nothing is imported: ``pickletools.genops`` only parses. A stream
the model cannot follow (STACK_GLOBAL fed by computed values, EXT codes, persistent ids)
is reported as ``undecidable`` with a reason, never guessed.
"""

from __future__ import annotations

import _compat_pickle
import io
import pickletools
from dataclasses import dataclass

#: Rows larger than this are not scanned (the decoder refuses them too).
MAX_SCAN_BYTES = 1024 * 1024
#: Most opcodes walked per row.
MAX_OPS = 500_000


@dataclass(frozen=True, slots=True)
class GlobalRef:
    """One class or function the pickle looks up by name."""

    module: str
    qualname: str

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.qualname}"


@dataclass(frozen=True, slots=True)
class LiteralCall:
    """``ref(value)`` with one literal argument (enum members pickle this way)."""

    ref: GlobalRef
    value: str | int | float | bool | bytes | None


@dataclass(frozen=True, slots=True)
class PickleRefs:
    """What a pickle refers to. ``undecidable`` is set when the walk could not be finished."""

    globals: tuple[GlobalRef, ...]
    calls: tuple[LiteralCall, ...]
    strings: tuple[str, ...]
    undecidable: str | None = None


@dataclass(frozen=True, slots=True)
class _Lit:
    value: str | int | float | bool | bytes | None


@dataclass(frozen=True, slots=True)
class _Tuple:
    items: tuple[object, ...]


class _Mark:
    __slots__ = ()


_MARK = _Mark()
_OTHER = object()

_STRING_OPS = frozenset(
    {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING"}
)
_LITERAL_OPS = frozenset(
    {
        "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
        "SHORT_BINBYTES", "BINBYTES", "BINBYTES8",
    }
)  # fmt: skip
_CONST = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_PUT = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_GET = frozenset({"GET", "BINGET", "LONG_BINGET"})
#: Opcodes with nothing to note: the generic stack model is enough.
_PLAIN = frozenset(
    {
        "FRAME", "EMPTY_DICT", "EMPTY_LIST", "SETITEM", "SETITEMS", "APPEND", "APPENDS", "BUILD", "NEWOBJ",
        "NEWOBJ_EX", "EMPTY_SET", "ADDITEMS", "FROZENSET", "DICT", "LIST", "POP", "POP_MARK", "DUP", "STOP",
        "BYTEARRAY8", "NEXT_BUFFER", "READONLY_BUFFER",
    }
)  # fmt: skip
_CLOSED = {
    "EXT1": "an extension-registry code (EXT1)",
    "EXT2": "an extension-registry code (EXT2)",
    "EXT4": "an extension-registry code (EXT4)",
    "PERSID": "a persistent id",
    "BINPERSID": "a persistent id",
}


class _Walk:
    def __init__(self) -> None:
        self.stack: list[object] = []
        self.memo: dict[int, object] = {}
        self.globals: list[GlobalRef] = []
        self.calls: list[LiteralCall] = []
        self.strings: list[str] = []
        self.proto = 0

    def pop_to_mark(self) -> list[object]:
        items: list[object] = []
        while self.stack:
            top = self.stack.pop()
            if top is _MARK:
                items.reverse()
                return items
            items.append(top)
        raise ValueError("no MARK on the stack")

    def pop(self) -> object:
        if not self.stack:
            raise ValueError("stack underflow")
        return self.stack.pop()

    def top(self) -> object:
        return self.stack[-1] if self.stack else _OTHER

    def add_global(self, module: str, qualname: str) -> GlobalRef:
        if self.proto < 3:  # the Unpickler's fix_imports (Python 2 names), as find_class does
            if (module, qualname) in _compat_pickle.NAME_MAPPING:
                module, qualname = _compat_pickle.NAME_MAPPING[(module, qualname)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        ref = GlobalRef(module, qualname)
        self.globals.append(ref)
        return ref

    def step(self, op: pickletools.OpcodeInfo, arg: object) -> None:
        name = op.name
        if name in _PLAIN:
            self.generic(op)
            return
        if name == "PROTO":
            self.proto = int(arg)  # type: ignore[call-overload]
        elif name in _STRING_OPS:
            value = arg.decode("latin-1") if isinstance(arg, bytes) else str(arg)
            self.strings.append(value)
            self.stack.append(_Lit(value))
        elif name in _LITERAL_OPS:
            self.stack.append(_Lit(arg))  # type: ignore[arg-type]
        elif name in _CONST:
            self.stack.append(_Lit(_CONST[name]))
        elif name == "MARK":
            self.stack.append(_MARK)
        elif name == "MEMOIZE":
            self.memo[len(self.memo)] = self.top()
        elif name in _PUT:
            self.memo[int(arg)] = self.top()  # type: ignore[call-overload]
        elif name in _GET:
            self.stack.append(self.memo.get(int(arg), _OTHER))  # type: ignore[call-overload]
        elif name == "GLOBAL":
            module, _, qualname = str(arg).partition(" ")
            self.stack.append(self.add_global(module, qualname))
        elif name == "STACK_GLOBAL":
            top, below = self.pop(), self.pop()
            if not (isinstance(top, _Lit) and isinstance(below, _Lit)):
                raise _Undecidable("STACK_GLOBAL with a computed name")
            if not (isinstance(top.value, str) and isinstance(below.value, str)):
                raise _Undecidable("STACK_GLOBAL with a name that is not a string")
            self.stack.append(self.add_global(below.value, top.value))
        elif name == "INST":
            module, _, qualname = str(arg).partition(" ")
            self.pop_to_mark()
            self.add_global(module, qualname)
            self.stack.append(_OTHER)
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            items = [self.pop() for _ in range(n)][::-1]
            self.stack.append(_Tuple(tuple(items)))
        elif name == "TUPLE":
            self.stack.append(_Tuple(tuple(self.pop_to_mark())))
        elif name == "EMPTY_TUPLE":
            self.stack.append(_Tuple(()))
        elif name == "REDUCE":
            args, fn = self.pop(), self.pop()
            if isinstance(fn, GlobalRef) and isinstance(args, _Tuple) and len(args.items) == 1:
                (only,) = args.items
                if isinstance(only, _Lit):
                    self.calls.append(LiteralCall(fn, only.value))
            self.stack.append(_OTHER)
        elif name in _CLOSED:
            raise _Undecidable(f"the pickle uses {_CLOSED[name]}")
        else:
            self.generic(op)

    def generic(self, op: pickletools.OpcodeInfo) -> None:
        """Any other opcode: pop what it consumes, push placeholders for what it makes."""
        to_mark, pops, pushes = _SHAPES[op.name]
        stack = self.stack
        if to_mark:
            self.pop_to_mark()
        if pops:
            if len(stack) < pops:
                raise ValueError("stack underflow")
            del stack[-pops:]
        if pushes == 1:
            stack.append(_OTHER)
        elif pushes:
            stack.extend([_OTHER] * pushes)


def _shape(op: pickletools.OpcodeInfo) -> tuple[bool, int, int]:
    before = op.stack_before
    marks = pickletools.markobject in before
    pops = sum(1 for x in before if x is not pickletools.markobject and x is not pickletools.stackslice)
    return marks, pops, len(op.stack_after)


#: Per opcode: (pops to a MARK, further pops, pushes), from pickletools' own stack notes.
_SHAPES = {op.name: _shape(op) for op in pickletools.opcodes}


class _Undecidable(Exception):
    pass


def pickle_refs(data: bytes) -> PickleRefs:
    """Every global ``data`` would look up, in stream order (duplicates removed)."""
    if len(data) > MAX_SCAN_BYTES:
        return PickleRefs((), (), (), undecidable=f"the row is larger than {MAX_SCAN_BYTES} bytes")
    walk = _Walk()
    try:
        for count, (op, arg, _pos) in enumerate(pickletools.genops(io.BytesIO(data))):
            if count > MAX_OPS:
                raise _Undecidable("the pickle has too many opcodes")
            walk.step(op, arg)
    except _Undecidable as exc:
        return PickleRefs(_unique(walk.globals), tuple(walk.calls), tuple(walk.strings), undecidable=str(exc))
    except Exception as exc:  # malformed stream: genops raised, or the model underflowed
        text = str(exc)[:120]
        return PickleRefs(
            _unique(walk.globals), tuple(walk.calls), tuple(walk.strings), undecidable=f"unreadable pickle ({text})"
        )
    return PickleRefs(_unique(walk.globals), tuple(walk.calls), tuple(walk.strings))


def _unique(refs: list[GlobalRef]) -> tuple[GlobalRef, ...]:
    return tuple(dict.fromkeys(refs))
