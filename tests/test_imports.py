"""Import hygiene: every module of the package imports (a broken import fails here, it is
never skipped), and the headless paths stay free of the console's libraries (see also
``test_cli_errors.test_check_never_imports_textual`` / ``test_core_never_imports_textual``
and the import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import schedtui

MODULES = sorted(m.name for m in pkgutil.walk_packages(schedtui.__path__, "schedtui."))


def test_the_package_has_its_layers() -> None:
    for layer in ("schedtui.core", "schedtui.cli", "schedtui.tui", "schedtui.companion"):
        assert layer in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_every_module_imports(name: str) -> None:
    assert importlib.import_module(name).__name__ == name
