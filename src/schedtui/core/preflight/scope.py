"""What names a module (or a class body) binds, read from its syntax tree (``ast``).

Only statements that run when the module is imported count: top-level ``def``/``class``,
assignments, ``import`` and ``from … import``, and the bodies of top-level ``if``/``try``/
``with``/``for`` blocks. A name bound in every branch of an ``if``/``try`` is *definite*;
a name bound in only some is *maybe* (``if TYPE_CHECKING:`` imports are not there at run
time). Module-level ``__getattr__``, star imports and ``globals()``/``sys.modules``
manipulation make the scope *open*: a name it does not show may still exist, so the
resolver answers ``unknown`` instead of ``missing``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Literal

BindingKind = Literal["function", "class", "assign", "import", "from"]


@dataclass(frozen=True, slots=True)
class Binding:
    """One way a name gets bound.

    ``import``: ``target`` is the module bound (``import a.b`` binds ``a`` to module
    ``a``; ``import a.b as c`` binds ``c`` to ``a.b``). ``from``: ``target`` is the
    absolute module and ``name`` the imported name. ``assign``: ``alias`` is the dotted
    name on the right-hand side when it is a plain name (``X = other.Y``), ``literal``
    its value when it is a literal, ``has_literal`` whether it is one.
    """

    kind: BindingKind
    line: int
    definite: bool = True
    target: str | None = None
    name: str | None = None
    alias: str | None = None
    literal: object = None
    has_literal: bool = False
    node: ast.ClassDef | None = None


@dataclass(slots=True)
class Scope:
    """The names a module or class body binds, and why the list may be incomplete."""

    names: dict[str, Binding] = field(default_factory=dict)
    has_getattr: bool = False
    star_from: list[str] = field(default_factory=list)
    dynamic: str | None = None
    #: Unconditional top-level imports (module, imported name or None, line).
    imports: list[tuple[str, str | None, int]] = field(default_factory=list)

    @property
    def open_reason(self) -> str | None:
        if self.has_getattr:
            return "it defines a module-level __getattr__"
        if self.star_from:
            return f"it star-imports from {self.star_from[0]}"
        return self.dynamic


def dotted(expr: ast.expr) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name):
        parts.append(expr.id)
        return ".".join(reversed(parts))
    return None


def absolute(module: str | None, level: int, package: str) -> str | None:
    """The absolute module of ``from <level dots><module> import …`` inside ``package``."""
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts) or (level - 1 == len(parts) and not module):
        return None
    base = parts[: len(parts) - (level - 1)]
    if module:
        base.append(module)
    return ".".join(base) if base else None


class _Collector:
    def __init__(self, package: str, is_module: bool) -> None:
        self.package = package
        self.is_module = is_module
        self.scope = Scope()

    def bind(self, out: dict[str, Binding], name: str, b: Binding) -> None:
        out[name] = b

    def block(self, body: list[ast.stmt], top: bool) -> dict[str, Binding]:
        """Bindings made by running ``body`` to the end (definite ones), in order."""
        out: dict[str, Binding] = {}
        for stmt in body:
            self.stmt(stmt, out, top)
        return out

    def merge_branches(self, out: dict[str, Binding], branches: list[dict[str, Binding]]) -> None:
        common = set(branches[0])
        for br in branches[1:]:
            common &= set(br)
        for br in branches:
            for name, b in br.items():
                if name in common:
                    out[name] = b
                elif name not in out or not out[name].definite:
                    out[name] = _maybe(b)
                # a definite earlier binding stays definite: the name exists either way

    def stmt(self, stmt: ast.stmt, out: dict[str, Binding], top: bool) -> None:
        line = stmt.lineno
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            self.bind(out, stmt.name, Binding("function", line))
            if self.is_module and stmt.name == "__getattr__":
                self.scope.has_getattr = True
        elif isinstance(stmt, ast.ClassDef):
            self.bind(out, stmt.name, Binding("class", line, node=stmt))
        elif isinstance(stmt, ast.Assign):
            for tgt in stmt.targets:
                self.assign_target(tgt, stmt.value, out, line)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign_target(stmt.target, stmt.value, out, line)
        elif isinstance(stmt, ast.AugAssign):
            if isinstance(stmt.target, ast.Name) and stmt.target.id not in out:
                self.bind(out, stmt.target.id, Binding("assign", line, definite=False))
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    self.bind(out, alias.asname, Binding("import", line, target=alias.name))
                else:
                    head = alias.name.split(".")[0]
                    self.bind(out, head, Binding("import", line, target=head))
                if top:
                    self.scope.imports.append((alias.name, None, line))
        elif isinstance(stmt, ast.ImportFrom):
            mod = absolute(stmt.module, stmt.level, self.package)
            for alias in stmt.names:
                if alias.name == "*":
                    if self.is_module:
                        self.scope.star_from.append(mod or "?")
                    continue
                if mod is None:
                    continue
                self.bind(out, alias.asname or alias.name, Binding("from", line, target=mod, name=alias.name))
                if top:
                    self.scope.imports.append((mod, alias.name, line))
        elif isinstance(stmt, ast.If):
            self.merge_branches(out, [self.block(stmt.body, False), self.block(stmt.orelse, False)])
        elif isinstance(stmt, ast.Try | ast.TryStar):
            body = self.block(stmt.body + stmt.orelse, False)
            handlers = [self.block(h.body, False) for h in stmt.handlers]
            self.merge_branches(out, [body, *handlers] if handlers else [body])
            out.update(self.block(stmt.finalbody, False))
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                if item.optional_vars is not None:
                    self.assign_target(item.optional_vars, None, out, line)
            for name, b in self.block(stmt.body, top).items():
                out[name] = b
        elif isinstance(stmt, ast.For | ast.AsyncFor | ast.While):
            if isinstance(stmt, ast.For | ast.AsyncFor):
                self.assign_target(stmt.target, None, out, line, definite=False)
            self.merge_branches(out, [self.block(stmt.body, False), {}])
            self.merge_branches(out, [self.block(stmt.orelse, False), {}])
        elif isinstance(stmt, ast.Delete):
            for tgt in stmt.targets:
                if isinstance(tgt, ast.Name) and tgt.id in out:
                    out[tgt.id] = _maybe(out[tgt.id])
        elif isinstance(stmt, ast.Match):
            self.merge_branches(out, [self.block(c.body, False) for c in stmt.cases] + [{}])

    def assign_target(
        self, tgt: ast.expr, value: ast.expr | None, out: dict[str, Binding], line: int, definite: bool = True
    ) -> None:
        if isinstance(tgt, ast.Name):
            alias = dotted(value) if value is not None else None
            literal, has = _literal(value)
            self.bind(out, tgt.id, Binding("assign", line, definite, alias=alias, literal=literal, has_literal=has))
        elif isinstance(tgt, ast.Tuple | ast.List):
            for elt in tgt.elts:
                self.assign_target(elt.value if isinstance(elt, ast.Starred) else elt, None, out, line, definite)


def _literal(value: ast.expr | None) -> tuple[object, bool]:
    if value is None:
        return None, False
    try:
        return ast.literal_eval(value), True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None, False


def _maybe(b: Binding) -> Binding:
    return Binding(b.kind, b.line, False, b.target, b.name, b.alias, b.literal, b.has_literal, b.node)


_DYNAMIC_CALLS = {"globals": "it changes globals() at import time", "exec": "it calls exec()"}


def _dynamic(tree: ast.AST) -> str | None:
    """``globals()[…] =``, ``exec``, ``setattr(sys.modules[__name__], …)`` anywhere in the module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _DYNAMIC_CALLS:
            return _DYNAMIC_CALLS[node.func.id]
        if (
            isinstance(node, ast.Subscript)
            and dotted(node.value) == "sys.modules"
            and isinstance(node.slice, ast.Name)
            and node.slice.id == "__name__"
        ):
            return "it changes its own module object through sys.modules"
    return None


def module_scope(tree: ast.Module, package: str) -> Scope:
    """The scope of a parsed module; ``package`` is what relative imports start from."""
    c = _Collector(package, True)
    c.scope.names = c.block(tree.body, True)
    c.scope.dynamic = _dynamic(tree)
    return c.scope


def class_scope(node: ast.ClassDef, package: str) -> Scope:
    """The attributes a class body binds (methods, nested classes, enum members ...)."""
    c = _Collector(package, False)
    c.scope.names = c.block(node.body, False)
    return c.scope
