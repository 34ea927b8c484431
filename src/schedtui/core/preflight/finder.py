"""Where a module would be found, decided from the file system alone (nothing imported).

The search follows CPython's own order: built-in modules first, then each path entry in
turn (the ``--app-root`` folders, then this interpreter's ``sys.path``: stdlib and
site-packages). In one folder a package (``name/__init__.*``) wins over a module, and a
compiled extension (``.so``/``.pyd``) over ``name.py``, as ``FileFinder`` orders its
loaders. A folder without ``__init__`` is a namespace-package portion: the search goes
on, a regular package or module found later wins, and otherwise every portion found makes
up the namespace package.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ModuleKind = Literal["source", "package", "namespace", "extension", "builtin", "sourceless"]
Origin = Literal["app", "stdlib", "site"]

_EXT_SUFFIXES = (*importlib.machinery.EXTENSION_SUFFIXES, ".pyd")
_SOURCE = tuple(importlib.machinery.SOURCE_SUFFIXES)
_BYTECODE = tuple(importlib.machinery.BYTECODE_SUFFIXES)


@dataclass(frozen=True, slots=True)
class ModuleSpot:
    """A module found on disk: its kind, file (None for built-ins and namespaces),
    the folders its submodules are searched in, and which kind of root it came from."""

    name: str
    kind: ModuleKind
    path: Path | None
    search: tuple[Path, ...]
    origin: Origin


@dataclass(frozen=True, slots=True)
class _Entry:
    folder: Path
    origin: Origin


def _stdlib_dirs() -> set[Path]:
    dirs = set()
    for key in ("stdlib", "platstdlib"):
        value = sysconfig.get_paths().get(key)
        if value:
            dirs.add(Path(value).resolve())
    return dirs


def interpreter_entries() -> list[tuple[Path, Origin]]:
    """This interpreter's ``sys.path`` folders (no current directory), tagged stdlib/site."""
    std = _stdlib_dirs()
    out: list[tuple[Path, Origin]] = []
    for raw in sys.path:
        if not raw:
            continue
        p = Path(raw).resolve()
        if not p.is_dir():
            continue
        origin: Origin = "stdlib" if p in std or any(d in p.parents for d in std) else "site"
        if "site-packages" in p.parts or "dist-packages" in p.parts:
            origin = "site"
        out.append((p, origin))
    return out


class ModuleFinder:
    """Finds modules by dotted name in ``app_roots`` then the interpreter's path."""

    def __init__(self, app_roots: Sequence[Path], *, interpreter: bool = True) -> None:
        entries = [_Entry(Path(r).resolve(), "app") for r in app_roots]
        if interpreter:
            seen = {e.folder for e in entries}
            for folder, origin in interpreter_entries():
                if folder not in seen:
                    entries.append(_Entry(folder, origin))
                    seen.add(folder)
        self.entries = tuple(entries)
        self._cache: dict[str, ModuleSpot | None] = {}

    def find(self, name: str) -> ModuleSpot | None:
        """The module ``name`` (dotted), or None when it would not be found."""
        if name in self._cache:
            return self._cache[name]
        found = self._find(name)
        self._cache[name] = found
        return found

    def _find(self, name: str) -> ModuleSpot | None:
        if not name or any(not part.isidentifier() for part in name.split(".")):
            return None
        head, _, last = name.rpartition(".")
        if not head:
            if name in sys.builtin_module_names:
                return ModuleSpot(name, "builtin", None, (), "stdlib")
            return _search(name, last, [(e.folder, e.origin) for e in self.entries])
        parent = self.find(head)
        if parent is None or parent.kind not in ("package", "namespace"):
            return None
        return _search(name, last, [(f, parent.origin) for f in parent.search])


def _search(name: str, last: str, folders: list[tuple[Path, Origin]]) -> ModuleSpot | None:
    portions: list[Path] = []
    portion_origin: Origin | None = None
    for folder, origin in folders:
        spot = _in_folder(name, last, folder, origin)
        if spot is None:
            continue
        if spot.kind == "namespace":
            portions.append(folder / last)
            portion_origin = portion_origin or origin
            continue
        return spot
    if portions:
        return ModuleSpot(name, "namespace", None, tuple(portions), portion_origin or "app")
    return None


def _in_folder(name: str, last: str, folder: Path, origin: Origin) -> ModuleSpot | None:
    pkg = folder / last
    if pkg.is_dir():
        for suffix in _EXT_SUFFIXES:
            init = pkg / f"__init__{suffix}"
            if init.is_file():
                return ModuleSpot(name, "extension", init, (pkg,), origin)
        for suffix in _SOURCE:
            init = pkg / f"__init__{suffix}"
            if init.is_file():
                return ModuleSpot(name, "package", init, (pkg,), origin)
        for suffix in _BYTECODE:
            init = pkg / f"__init__{suffix}"
            if init.is_file():
                return ModuleSpot(name, "sourceless", init, (pkg,), origin)
    for suffix in _EXT_SUFFIXES:
        f = folder / f"{last}{suffix}"
        if f.is_file():
            return ModuleSpot(name, "extension", f, (), origin)
    for suffix in _SOURCE:
        f = folder / f"{last}{suffix}"
        if f.is_file():
            return ModuleSpot(name, "source", f, (), origin)
    for suffix in _BYTECODE:
        f = folder / f"{last}{suffix}"
        if f.is_file():
            return ModuleSpot(name, "sourceless", f, (), origin)
    if pkg.is_dir() and os.access(pkg, os.R_OK):
        return ModuleSpot(name, "namespace", None, (pkg,), origin)
    return None
