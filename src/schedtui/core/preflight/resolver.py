"""Would ``module:qualname`` resolve in the new code? Decided statically.

``Resolver(finder).resolve_ref(ref)`` answers for a job's function reference (APScheduler's
``ref_to_obj``: ``__import__(module, fromlist=[rest])`` then ``getattr`` along the dots);
``resolve_global(module, qualname)`` for a global inside a pickle (``find_class``: import
the module, then ``getattr`` along the dots); ``enum_value(ref, value)`` for an enum
member pickled by value.

Each answer is a :class:`Resolution`: ``ok``, ``missing`` (the new code certainly lacks
it: APScheduler would delete the job) or ``unknown`` (it cannot be decided without
running code: a compiled extension, a module-level ``__getattr__``, a star import, a name
bound only conditionally or computed at import time).

Files are read and parsed, never imported or executed. For this interpreter's own
standard library, a name hidden behind a C accelerator (``from _decimal import *``) is
looked up statically in the already-loaded module's ``__dict__`` when that module is
already in ``sys.modules`` (nothing new is imported, no ``__getattr__`` runs).
"""

from __future__ import annotations

import ast
import inspect
import sys
from dataclasses import dataclass
from typing import Literal

from schedtui.core.preflight.finder import ModuleFinder, ModuleSpot
from schedtui.core.preflight.scope import Binding, Scope, class_scope, module_scope

Status = Literal["ok", "missing", "unknown"]
#: How many ``from x import y`` re-exports and ``X = Y`` aliases are followed.
MAX_DEPTH = 12
#: Files larger than this are not parsed (``unknown``).
MAX_SOURCE_BYTES = 8 * 1024 * 1024
_ENUM_BASES = frozenset({"Enum", "IntEnum", "StrEnum", "Flag", "IntFlag", "ReprEnum"})


@dataclass(frozen=True, slots=True)
class Resolution:
    status: Status
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


OK = Resolution("ok")


@dataclass(slots=True)
class _Module:
    spot: ModuleSpot
    scope: Scope | None
    problem: Resolution | None  # why it cannot be read (unknown) or imported (missing)


@dataclass(frozen=True, slots=True)
class _Class:
    node: ast.ClassDef
    module: _Module
    qualname: str


_Found = _Module | _Class | None


def _worse(a: Resolution, b: Resolution) -> Resolution:
    order = {"ok": 0, "unknown": 1, "missing": 2}
    return b if order[b.status] > order[a.status] else a


class Resolver:
    """Static answers about one code base (``ModuleFinder``), cached per module and name."""

    def __init__(self, finder: ModuleFinder) -> None:
        self.finder = finder
        self._modules: dict[str, _Module | None] = {}
        self._health: dict[str, Resolution] = {}
        self._scopes: dict[int, Scope] = {}
        self._memo: dict[tuple[str, str, bool], tuple[Resolution, _Found]] = {}

    # ------------------------------------------------------------------ public
    def resolve_ref(self, ref: str) -> Resolution:
        """A job's ``func`` (``"module:qualname"``)."""
        module, sep, rest = ref.partition(":")
        if not sep or not module or not rest:
            return Resolution("missing", f"invalid reference {ref!r} (APScheduler needs module:name)")
        res, _ = self._resolve(module, rest, fromlist=True, what="function")
        return res

    def resolve_global(self, module: str, qualname: str) -> Resolution:
        """A ``(module, qualname)`` the unpickler looks up."""
        res, _ = self._resolve(module, qualname, fromlist=False, what="class")
        return res

    def enum_value(self, module: str, qualname: str, value: object) -> Resolution:
        """``module.qualname(value)`` for an enum class pickled by value."""
        res, found = self._resolve(module, qualname, fromlist=False, what="class")
        if not res.ok or not isinstance(found, _Class) or not _is_enum(found.node):
            return res if not res.ok else OK
        scope = self._class_scope(found)
        if any(n == "_missing_" for n in scope.names):
            return Resolution("unknown", f"enum {module}.{qualname} defines _missing_")
        values = []
        for name, b in scope.names.items():
            if name.startswith("_") or b.kind != "assign":
                continue
            if not b.has_literal:
                return Resolution("unknown", f"enum {module}.{qualname} has members computed at import time")
            values.append(b.literal)
        if any(v == value for v in values):
            return OK
        return Resolution("missing", f"enum {module}.{qualname} has no member with value {value!r}")

    # ------------------------------------------------------------------ modules
    def module(self, name: str) -> _Module | None:
        if name in self._modules:
            return self._modules[name]
        spot = self.finder.find(name)
        mod = None if spot is None else self._load(spot)
        self._modules[name] = mod
        return mod

    def _load(self, spot: ModuleSpot) -> _Module:
        where = f" ({spot.path})" if spot.path else ""
        if spot.kind == "extension":
            return _Module(spot, None, Resolution("unknown", f"module {spot.name} is a compiled extension{where}"))
        if spot.kind == "sourceless":
            return _Module(spot, None, Resolution("unknown", f"module {spot.name} has only bytecode{where}"))
        if spot.kind == "builtin":
            return _Module(spot, None, None)
        if spot.kind == "namespace":
            return _Module(spot, Scope(), None)
        assert spot.path is not None
        try:
            if spot.path.stat().st_size > MAX_SOURCE_BYTES:
                return _Module(spot, None, Resolution("unknown", f"module {spot.name} is too large to read{where}"))
            source = spot.path.read_bytes()
        except OSError as exc:
            return _Module(spot, None, Resolution("unknown", f"module {spot.name} cannot be read: {exc.strerror}"))
        try:
            tree = ast.parse(source, filename=str(spot.path))
        except (SyntaxError, ValueError) as exc:
            line = getattr(exc, "lineno", None)
            at = f" (line {line})" if line else ""
            return _Module(spot, None, Resolution("missing", f"module {spot.name} has a syntax error{at}"))
        except (MemoryError, RecursionError):
            return _Module(spot, None, Resolution("unknown", f"module {spot.name} is too deeply nested to parse"))
        package = spot.name if spot.kind == "package" else spot.name.rpartition(".")[0]
        return _Module(spot, module_scope(tree, package), None)

    def importable(self, name: str, depth: int = 0) -> Resolution:
        """Would ``import name`` succeed? Its parents and, for application modules, their
        unconditional top-level imports (transitively) are checked too."""
        if name in self._health:
            return self._health[name]
        self._health[name] = OK  # an import cycle counts as fine while it is being checked
        res = self._importable(name, depth)
        self._health[name] = res
        return res

    def _importable(self, name: str, depth: int) -> Resolution:
        head = name.rpartition(".")[0]
        if head:
            parent = self.importable(head, depth)
            if parent.status == "missing":
                return parent
        else:
            parent = OK
        mod = self.module(name)
        if mod is None:
            return Resolution("missing", f"module {name} not found")
        if mod.problem is not None:
            return mod.problem if mod.problem.status == "missing" else _worse(parent, mod.problem)
        if mod.spot.origin != "app" or mod.scope is None or depth > MAX_DEPTH:
            return parent
        result = parent
        for target, imported, line in mod.scope.imports:
            sub = self.importable(target, depth + 1)
            if sub.status == "missing":
                return Resolution("missing", f"module {name} fails to import (line {line}): {sub.reason}")
            result = _worse(result, sub)
            if imported is not None and sub.ok:
                got, _ = self._lookup_module(target, [imported], fromlist=True, what="name", depth=depth + 1)
                if got.status == "missing":
                    return Resolution(
                        "missing",
                        f"module {name} fails to import (line {line}): cannot import {imported} from {target}",
                    )
        return result

    # ------------------------------------------------------------------ names
    def _resolve(self, module: str, qualname: str, *, fromlist: bool, what: str) -> tuple[Resolution, _Found]:
        key = (module, qualname, fromlist)
        if key in self._memo:
            return self._memo[key]
        parts = qualname.split(".")
        if any(not p.isidentifier() for p in parts) or "<locals>" in qualname:
            out: tuple[Resolution, _Found] = (
                Resolution("missing", f"{module}:{qualname} is not a reachable name"),
                None,
            )
        else:
            health = self.importable(module)
            if health.status == "missing":
                reason = health.reason
                if what == "class":
                    reason = f"class {module}.{qualname} not found ({reason})"
                out = (Resolution("missing", reason), None)
            else:
                res, found = self._lookup_module(module, parts, fromlist=fromlist, what=what, depth=0)
                out = (_worse(health, res) if res.status != "missing" else res, found)
        self._memo[key] = out
        return out

    def _lookup_module(
        self, module: str, parts: list[str], *, fromlist: bool, what: str, depth: int
    ) -> tuple[Resolution, _Found]:
        mod = self.module(module)
        if mod is None:
            return Resolution("missing", f"module {module} not found"), None
        if depth > MAX_DEPTH:
            return Resolution("unknown", f"{module}.{'.'.join(parts)}: the chain of re-exports is too long"), None
        if not parts:
            return OK, mod
        name, rest = parts[0], parts[1:]
        if mod.problem is not None:
            return mod.problem, None
        if mod.scope is None:  # a built-in module
            return self._loaded(module, parts)
        b = mod.scope.names.get(name)
        if b is None:
            sub = f"{module}.{name}"
            if mod.spot.kind in ("package", "namespace") and self.finder.find(sub) is not None:
                if fromlist:  # __import__(module, fromlist=[...]) imports the submodule
                    health = self.importable(sub)
                    if health.status == "missing":
                        return health, None
                    return self._lookup_module(sub, rest, fromlist=False, what=what, depth=depth + 1)
                return (
                    Resolution("unknown", f"{sub} is a submodule that {module} does not import itself"),
                    None,
                )
            if mod.spot.origin == "stdlib":
                loaded = self._loaded(module, parts)
                if loaded[0].ok:
                    return loaded
            why = mod.scope.open_reason
            if why is not None:
                return Resolution("unknown", f"{module}.{name} is not defined in the file, but {why}"), None
            return self._missing(module, parts, what), None
        return self._follow(b, rest, mod, module, name, what, depth)

    def _missing(self, module: str, parts: list[str], what: str) -> Resolution:
        if len(parts) == 1:
            if what == "class":
                return Resolution("missing", f"class {module}.{parts[0]} not found")
            return Resolution("missing", f"module {module} has no {what} {parts[0]}")
        return Resolution("missing", f"module {module} has no {parts[0]} (needed for {'.'.join(parts)})")

    def _follow(
        self, b: Binding, rest: list[str], mod: _Module, module: str, name: str, what: str, depth: int
    ) -> tuple[Resolution, _Found]:
        where = f"{module}.{name}"
        if not b.definite:
            return Resolution("unknown", f"{where} is bound only conditionally (line {b.line})"), None
        if b.kind == "function":
            if rest:
                return Resolution("unknown", f"{where} is a function; {'.'.join(rest)} would be set at run time"), None
            return OK, None
        if b.kind == "class":
            assert b.node is not None
            cls = _Class(b.node, mod, name)
            return (OK, cls) if not rest else self._lookup_class(cls, rest, what, depth)
        if b.kind == "import":
            assert b.target is not None
            health = self.importable(b.target)
            if health.status == "missing":
                return Resolution("missing", f"{where}: {health.reason}"), None
            return self._lookup_module(b.target, rest, fromlist=False, what=what, depth=depth + 1)
        if b.kind == "from":
            assert b.target is not None and b.name is not None
            got, found = self._lookup_module(b.target, [b.name, *rest], fromlist=True, what=what, depth=depth + 1)
            if got.status == "missing":
                return Resolution("missing", f"{where} is imported from {b.target}, but {got.reason}"), None
            return got, found
        # an assignment
        if b.alias is not None and depth < MAX_DEPTH:
            alias_parts = b.alias.split(".")
            if alias_parts[0] != name or len(alias_parts) > 1:
                return self._lookup_module(module, [*alias_parts, *rest], fromlist=False, what=what, depth=depth + 1)
        if rest:
            return Resolution("unknown", f"{where} is computed at import time (line {b.line})"), None
        return OK, None

    def _class_scope(self, cls: _Class) -> Scope:
        key = id(cls.node)
        scope = self._scopes.get(key)
        if scope is None:
            package = (
                cls.module.spot.name if cls.module.spot.kind == "package" else cls.module.spot.name.rpartition(".")[0]
            )
            scope = self._scopes[key] = class_scope(cls.node, package)
        return scope

    def _lookup_class(self, cls: _Class, parts: list[str], what: str, depth: int) -> tuple[Resolution, _Found]:
        scope = self._class_scope(cls)
        name, rest = parts[0], parts[1:]
        module = cls.module.spot.name
        where = f"{module}.{cls.qualname}"
        b = scope.names.get(name)
        if b is not None:
            if not b.definite:
                return Resolution("unknown", f"{where}.{name} is bound only conditionally (line {b.line})"), None
            if b.kind == "class":
                assert b.node is not None
                inner = _Class(b.node, cls.module, f"{cls.qualname}.{name}")
                return (OK, inner) if not rest else self._lookup_class(inner, rest, what, depth)
            if rest:
                return Resolution("unknown", f"{where}.{name}.{'.'.join(rest)} is set at run time"), None
            return OK, None
        if any(k.arg == "metaclass" for k in cls.node.keywords):
            return Resolution("unknown", f"{where} has a metaclass; {name} may come from it"), None
        # inherited?
        worst: Resolution | None = None
        for base in cls.node.bases:
            text = ast.unparse(base)
            if text in ("object", "Generic", "Protocol", "typing.Generic") or text.startswith(("Generic[", "typing.")):
                continue
            base_parts = text.split(".")
            if not all(p.isidentifier() for p in base_parts) or depth >= MAX_DEPTH:
                return Resolution("unknown", f"{where} has a base class schedtui cannot follow ({text})"), None
            got, found = self._lookup_module(module, base_parts, fromlist=False, what="class", depth=depth + 1)
            if isinstance(found, _Class):
                inherited, f2 = self._lookup_class(found, parts, what, depth + 1)
                if inherited.ok:
                    return inherited, f2
                worst = inherited if worst is None else _worse(worst, inherited)
            elif got.ok:
                return Resolution("unknown", f"{where} inherits from {text}, which schedtui cannot look into"), None
            else:
                worst = got if worst is None else _worse(worst, got)
        if worst is not None and worst.status == "unknown":
            return worst, None
        return Resolution("missing", f"class {where} has no attribute {name}"), None

    def _loaded(self, module: str, parts: list[str]) -> tuple[Resolution, _Found]:
        """An interpreter module that is already loaded: a static ``__dict__`` lookup."""
        obj = sys.modules.get(module)
        if obj is None:
            return Resolution("unknown", f"module {module} is built into the interpreter and not loaded"), None
        for part in parts:
            try:
                obj = inspect.getattr_static(obj, part)
            except AttributeError:
                return Resolution("missing", f"module {module} has no {'.'.join(parts)}"), None
        return OK, None


def _is_enum(node: ast.ClassDef) -> bool:
    return any((ast.unparse(b).rpartition(".")[2] in _ENUM_BASES) for b in node.bases)
