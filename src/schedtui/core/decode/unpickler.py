"""Stage 2 of the worker: the restricted unpickler (bytes -> a tree of plain values).

The C ``pickle.Unpickler`` does the parsing; ``find_class`` hands out only:

- real immutable C types (``datetime.datetime/date/time/timedelta/timezone``);
- callables that check the SHAPE of their arguments (``_Shape`` instances, ``__slots__ =
  ()``): ``getattr(ZoneInfo, "_unpickle")``, ``_codecs.encode(str, "latin1")``, ``set`` /
  ``frozenset`` / ``bytearray`` of plain data, pytz and the pytz shim mapped to
  ``decode.zones`` stand-ins (pytz itself is never imported);
- inert placeholder classes (``decode.placeholders``) for everything else (APScheduler
  triggers and the application's classes).

Dangerous modules are refused (``forbidden-global``), as are dunder and ``<locals>``
components and dotted names inside modules we hand out real objects from. PERSID and EXT
stay closed. The memo "bomb" (``LONG_BINPUT`` with a huge index makes the C unpickler
allocate ``index * 16`` bytes) is contained by ``memory_guard`` (a temporary RLIMIT_AS).

Safety argument: an allow-list of names is not enough (``getattr`` reaches
``__globals__``), so what is allowed is a call SHAPE, checked before anything is built;
every other name becomes an inert placeholder, and nothing is ever imported.
"""

from __future__ import annotations

import contextlib
import copyreg
import datetime as _dt
import functools
import io
import os
import pickle
import pickletools
import threading
from collections.abc import Callable, Iterator
from typing import Any

from schedtui.core import gcpause
from schedtui.core.decode import zones
from schedtui.core.decode.findings import UnpickleError
from schedtui.core.decode.placeholders import (
    APSCHEDULER_CLASSES,
    MAX_PLACEHOLDER_CLASSES,
    ApsPlaceholder,
    Placeholder,
    placeholder_class,
)

# --------------------------------------------------------------------------- shapes


class _Shape:
    """A vetted callable: checks the shape of its arguments, then builds a plain value."""

    __slots__ = ()
    label = "?"

    def __call__(self, *args: object, **kwargs: object) -> object:
        if kwargs:
            raise UnpickleError("bad-shape", f"{self.label} takes no keyword arguments")
        try:
            return self.build(*args)
        except UnpickleError:
            raise
        except (zones.ZoneError, TypeError, ValueError, OverflowError) as exc:
            raise UnpickleError("bad-shape", f"{self.label}: {exc}") from None

    def build(self, *args: object) -> object:
        raise NotImplementedError

    def __reduce__(self) -> Any:
        raise TypeError("not picklable")


class _ZoneInfoClass(_Shape):
    """``zoneinfo.ZoneInfo`` as seen by a pickle: usable only as ``getattr(.., "_unpickle")``."""

    __slots__ = ()
    label = "zoneinfo.ZoneInfo"

    def build(self, *args: object) -> object:
        if len(args) != 1:
            raise UnpickleError("bad-shape", "ZoneInfo takes one key")
        return zones.zone_from_key(args[0])


class _ZoneInfoUnpickle(_Shape):
    __slots__ = ()
    label = "ZoneInfo._unpickle"

    def build(self, *args: object) -> object:
        if len(args) != 2 or args[1] not in (0, 1) or type(args[1]) is not int:
            raise UnpickleError("bad-shape", "ZoneInfo._unpickle takes (key, 0|1)")
        return zones.zone_from_key(args[0])


class _Getattr(_Shape):
    __slots__ = ()
    label = "getattr"

    def build(self, *args: object) -> object:
        if len(args) == 2 and args[0] is ZONEINFO and args[1] == "_unpickle" and type(args[1]) is str:
            return ZONEINFO_UNPICKLE
        raise UnpickleError("forbidden-global", "getattr is only allowed as getattr(ZoneInfo, '_unpickle')")


class _CodecsEncode(_Shape):
    __slots__ = ()
    label = "_codecs.encode"

    def build(self, *args: object) -> object:
        if len(args) == 2 and type(args[0]) is str and args[1] in ("latin1", "latin-1") and type(args[1]) is str:
            return args[0].encode("latin1")
        raise UnpickleError("bad-shape", "_codecs.encode is only allowed as encode(str, 'latin1')")


def _plain_items(items: object) -> list[object]:
    if type(items) is not list and type(items) is not tuple:
        raise UnpickleError("bad-shape", "set/frozenset take a list")
    for item in items:
        # Only flat hashables: nested tuples could make hashing exponential.
        if type(item) not in _FLAT_HASHABLE and not isinstance(item, (Placeholder, ApsPlaceholder)):
            raise UnpickleError("bad-shape", f"set member of type {type(item).__name__} not allowed")
    return list(items)


_FLAT_HASHABLE = {str, bytes, int, float, bool, type(None), _dt.datetime, _dt.date, _dt.time, _dt.timedelta}


class _Set(_Shape):
    __slots__ = ()
    label = "set"

    def build(self, *args: object) -> object:
        if not args:
            return set()
        if len(args) != 1:
            raise UnpickleError("bad-shape", "set takes one list")
        return set(_plain_items(args[0]))


class _Frozenset(_Shape):
    __slots__ = ()
    label = "frozenset"

    def build(self, *args: object) -> object:
        if not args:
            return frozenset()
        if len(args) != 1:
            raise UnpickleError("bad-shape", "frozenset takes one list")
        return frozenset(_plain_items(args[0]))


class _Bytearray(_Shape):
    __slots__ = ()
    label = "bytearray"

    def build(self, *args: object) -> object:
        if not args:
            return bytearray()
        if len(args) == 1 and type(args[0]) is bytes:
            return bytearray(args[0])
        if len(args) == 2 and type(args[0]) is str and args[1] in ("latin-1", "latin1"):
            return bytearray(args[0].encode("latin1"))
        raise UnpickleError("bad-shape", "bytearray takes bytes")


class _Fn(_Shape):
    """A ``decode.zones`` stand-in function behind a shape check."""

    __slots__ = ("fn", "_label")
    fn: Callable[..., object]
    _label: str

    def __init__(self, label: str, fn: Any) -> None:
        object.__setattr__(self, "fn", fn)
        object.__setattr__(self, "_label", label)

    @property
    def label(self) -> str:  # type: ignore[override]
        return self._label

    def __setattr__(self, key: str, value: object) -> None:
        raise UnpickleError("forbidden-build", "read-only")

    def build(self, *args: object) -> object:
        return self.fn(*args)


ZONEINFO = _ZoneInfoClass()
ZONEINFO_UNPICKLE = _ZoneInfoUnpickle()

#: (module, name) -> what find_class returns. Exact names only (no dotted paths).
_ALLOWED: dict[tuple[str, str], object] = {
    ("datetime", "datetime"): _dt.datetime,
    ("datetime", "date"): _dt.date,
    ("datetime", "time"): _dt.time,
    ("datetime", "timedelta"): _dt.timedelta,
    ("datetime", "timezone"): _dt.timezone,
    ("zoneinfo", "ZoneInfo"): ZONEINFO,
    ("zoneinfo._zoneinfo", "ZoneInfo"): ZONEINFO,
    ("builtins", "getattr"): _Getattr(),
    ("builtins", "set"): _Set(),
    ("builtins", "frozenset"): _Frozenset(),
    ("builtins", "bytearray"): _Bytearray(),
    ("_codecs", "encode"): _CodecsEncode(),
    ("pytz", "_p"): _Fn("pytz._p", zones.pytz_p),
    ("pytz", "_UTC"): _Fn("pytz._UTC", zones.pytz_utc),
    ("pytz", "FixedOffset"): _Fn("pytz.FixedOffset", zones.pytz_fixed_offset),
    ("pytz_deprecation_shim._impl", "wrap_zone"): _Fn("wrap_zone", zones.shim_wrap_zone),
}

#: Protocol 2 spells some Python 3 names the Python 2 way (what ``_compat_pickle`` maps).
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}

#: Modules (and their submodules) a job state never needs and an attacker would love.
FORBIDDEN_MODULES = frozenset(
    [
        "builtins",
        "__builtin__",
        "os",
        "posix",
        "nt",
        "posixpath",
        "ntpath",
        "subprocess",
        "sys",
        "importlib",
        "pickle",
        "_pickle",
        "pickletools",
        "marshal",
        "shutil",
        "socket",
        "_socket",
        "types",
        "code",
        "codeop",
        "ctypes",
        "_ctypes",
        "runpy",
        "functools",
        "_functools",
        "operator",
        "_operator",
        "io",
        "_io",
        "pty",
        "tty",
        "signal",
        "_signal",
        "threading",
        "_thread",
        "multiprocessing",
        "_multiprocessing",
        "concurrent",
        "asyncio",
        "inspect",
        "gc",
        "weakref",
        "_weakref",
        "tempfile",
        "pathlib",
        "glob",
        "webbrowser",
        "urllib",
        "http",
        "ftplib",
        "smtplib",
        "telnetlib",
        "poplib",
        "imaplib",
        "zipimport",
        "pkgutil",
        "site",
        "sysconfig",
        "platform",
        "ssl",
        "_ssl",
        "select",
        "selectors",
        "mmap",
        "resource",
        "fcntl",
        "zipfile",
        "tarfile",
        "lzma",
        "bz2",
        "zlib",
        "gzip",
        "copy",
        "copyreg",
        "copy_reg",
        "codecs",
        "_codecs",
        "pdb",
        "bdb",
        "trace",
        "tracemalloc",
        "faulthandler",
        "atexit",
        "builtins",
        "sqlite3",
        "_sqlite3",
        "dbm",
        "shelve",
        "logging",
        "unittest",
        "doctest",
        "pydoc",
        "timeit",
        "cProfile",
        "profile",
        "dill",
        "cloudpickle",
        "joblib",
        "numpy.lib",
        "nose",
        "pytest",
        "setuptools",
        "pip",
        "distutils",
        "_posixsubprocess",
        "_winapi",
        "msvcrt",
        "winreg",
        "ensurepip",
        "venv",
        "idlelib",
        "tkinter",
        "turtle",
        "xmlrpc",
        "sched",
        "queue",
        "_queue",
        "contextlib",
        "abc",
        "_abc",
        "typing",
        "collections.abc",
        "apscheduler",
        "schedtui",
        "pytz",
        "pytz_deprecation_shim",
        "zoneinfo",
        "_zoneinfo",
        "datetime",
        "_datetime",
        "tzlocal",
    ]
)


def _forbidden_module(module: str) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:i]) in FORBIDDEN_MODULES for i in range(1, len(parts) + 1))


def _valid_component(part: str) -> bool:
    return part.isidentifier() and not part.startswith("__") and len(part) <= 128


def _find_global(module: str, name: str) -> object:
    if type(module) is not str or type(name) is not str:
        raise UnpickleError("forbidden-global", "global names must be strings")
    module = _PY2_MODULES.get(module, module)
    allowed = _ALLOWED.get((module, name))
    if allowed is not None:
        return allowed
    if (module, name) in APSCHEDULER_CLASSES:
        return placeholder_class(module, name)
    shown = f"{module[:60]}.{name[:60]}"
    if len(module) > 200 or len(name) > 200:
        raise UnpickleError("forbidden-global", f"global name too long: {shown}")
    mparts = module.split(".")
    nparts = name.split(".")
    if not all(_valid_component(p) for p in mparts) or not all(_valid_component(p) for p in nparts):
        raise UnpickleError("forbidden-global", f"forbidden global {shown}")
    if _forbidden_module(module):
        raise UnpickleError("forbidden-global", f"forbidden global {shown}")
    return placeholder_class(module, name)


# --------------------------------------------------------------------------- the unpickler


#: What ``find_class(module, name)`` may return, or UnpickleError: remembered by the two
#: names (the whole input: the C unpickler passes exact ``str``), errors never. The C
#: cache answers a repeated name without running Python (12 globals a row).
find_global = functools.lru_cache(maxsize=MAX_PLACEHOLDER_CLASSES)(_find_global)


class SafeUnpickler(pickle.Unpickler):
    """C unpickler with every way out to real objects closed."""

    find_class = staticmethod(find_global)

    def persistent_load(self, pid: object) -> object:
        raise UnpickleError("forbidden-opcode", "persistent ids (PERSID) are not allowed")


def extensions_registered() -> bool:
    """Whether copyreg's extension registry is in use (then EXT opcodes reach real objects)."""
    return bool(copyreg._extension_registry or copyreg._extension_cache)  # type: ignore[attr-defined]


_EXT_OPS = {"EXT1", "EXT2", "EXT4"}


def has_ext_opcode(data: bytes) -> bool:
    """Slow path (only when extensions are registered): scan the opcodes."""
    try:
        return any(op.name in _EXT_OPS for op, _arg, _pos in pickletools.genops(data))
    except Exception:
        return False


def _oversized_bytearray8(data: bytes) -> bool:
    """Whether a BYTEARRAY8 claims more bytes than the input has.

    CPython's C unpickler then fails to allocate and prints "SystemError: deallocated
    bytearray object has exported buffers" to stderr (which would scribble over a TUI).
    Only rows containing the opcode byte 0x96 are scanned (about 0.1% of real rows).
    """
    try:
        for _op, _arg, _pos in pickletools.genops(data):
            pass
    except Exception as exc:
        return "bytearray8" in str(exc)
    return False


def loads(data: bytes) -> object:
    """Unpickle ``data`` with ``SafeUnpickler``; the whole input must be consumed."""
    if extensions_registered() and has_ext_opcode(data):
        raise UnpickleError("forbidden-opcode", "extension codes (EXT) are not allowed")
    if b"\x96" in data and _oversized_bytearray8(data):
        raise UnpickleError("truncated", "a bytearray is longer than the pickle")
    stream = io.BytesIO(data)
    obj = SafeUnpickler(stream).load()
    if stream.tell() != len(data):
        raise UnpickleError("trailing-data", f"{len(data) - stream.tell()} bytes after STOP")
    return obj


# --------------------------------------------------------------------------- memory guard

try:
    import resource as _resource
except ImportError:  # pragma: no cover - Windows
    _resource = None  # type: ignore[assignment]

#: Extra address space allowed while decoding (a 1 MiB row never needs more).
DEFAULT_MARGIN = 768 * 1024 * 1024


def _vm_size() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


_session_lock = threading.Lock()
_session_depth = 0
_saved_limit: tuple[int, int] | None = None


def _arm(margin: int) -> None:
    """Set the soft RLIMIT_AS to (current size + margin), never above the saved limit."""
    if _resource is None or _saved_limit is None:
        return
    size = _vm_size()
    if size is None:
        return
    soft, hard = _saved_limit
    want = size + margin
    if hard != _resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft != _resource.RLIM_INFINITY and soft <= want:
        want = soft
    try:
        _resource.setrlimit(_resource.RLIMIT_AS, (want, hard))
    except (OSError, ValueError):
        pass


@contextlib.contextmanager
def memory_guard(margin: int = DEFAULT_MARGIN, *, pause_gc: bool = False) -> Iterator[None]:
    """Lower the soft RLIMIT_AS to (current size + ``margin``) for the block, then restore.

    A memo bomb then fails with MemoryError instead of taking gigabytes. Process-wide and
    thread-safe: the first thread in saves the limit, every entry re-arms from the current
    size, the last one out restores it. ``pause_gc`` also pauses the cyclic GC (which
    otherwise re-scans everything decoded so far, tripling the cost per row; see
    ``schedtui.core.gcpause``). No-op for the limit where it cannot be read or set (non-Linux).
    """
    global _session_depth, _saved_limit
    with contextlib.ExitStack() as stack:
        if pause_gc:
            stack.enter_context(gcpause.paused())
        with _session_lock:
            if _session_depth == 0:
                _saved_limit = None
                if _resource is not None:
                    try:
                        _saved_limit = _resource.getrlimit(_resource.RLIMIT_AS)
                    except (OSError, ValueError):
                        _saved_limit = None
            _session_depth += 1
            _arm(margin)
        try:
            yield
        finally:
            with _session_lock:
                _session_depth -= 1
                if _session_depth == 0 and _resource is not None and _saved_limit is not None:
                    try:
                        _resource.setrlimit(_resource.RLIMIT_AS, _saved_limit)
                    except (OSError, ValueError):
                        pass
