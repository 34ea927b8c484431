"""Package attributes imported on first use: a package's module ``__getattr__``.

``schedtui check`` imports a few names of packages whose other modules are heavy
(SQLAlchemy, prometheus-client, every backup writer); each such package maps its public
names to the submodules that define them and loads one only when a name is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, homes: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``homes`` maps each name to the submodule
    defining it; the value is kept in ``namespace`` (the package's ``globals()``) once
    loaded, so it is looked up only once."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    return __getattr__
