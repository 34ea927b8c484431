"""Console fixtures: a real APScheduler store (written in a subprocess), optional
companion history written with the companion's own tables, and Pilot helpers.

Stores are generated once per session and copied per test. Tests chdir into their
tmp_path and use a relative SQLite URL, so the database shown in snapshots is stable.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from schedtui.core.clock import FixedClock
from schedtui.core.model import Target
from tui.helpers import STORE, add_history, make_store


@pytest.fixture(scope="session")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(tmp_path_factory.mktemp("console") / STORE)


@pytest.fixture
def store(store_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the fixture store in tmp_path, which is also the cwd."""
    path = tmp_path / STORE
    shutil.copyfile(store_template, path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCHEDTUI_BACKUP_DIR", raising=False)
    return path


@pytest.fixture
def reads_take_no_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A snapshot shows the console, not the machine's load: every read counts as instant
    (a refresh slower than a third of the interval adds "slowed: reads are slow", which a
    busy CI machine reached now and then)."""
    from types import SimpleNamespace

    from schedtui.tui.screens import main

    monkeypatch.setattr(main, "time", SimpleNamespace(monotonic=lambda: 0.0))


@pytest.fixture
def target(store: Path) -> Target:
    return Target(url=f"sqlite:///{STORE}")


@pytest.fixture
def history(store: Path, clock: FixedClock) -> Path:
    add_history(store, clock)
    return store


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests of this folder in a fresh event loop (no plugin needed)."""
    import asyncio
    import inspect

    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    asyncio.run(pyfuncitem.obj(**kwargs))
    return True
