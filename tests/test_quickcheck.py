"""``core.quickcheck``: on a plain SQLite store without the components' tables, the light
providers answer exactly what the default providers answer, without SQLAlchemy."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixtures.factory import DEFAULT_NOW, sqlite_store, sqlite_url
from schedtui.core import quickcheck
from schedtui.core import tables as T
from schedtui.core.aps4 import layout as aps4_layout
from schedtui.core.backup.service import create_backup
from schedtui.core.checker import default_providers
from schedtui.core.clock import FixedClock
from schedtui.core.health import CheckContext, CheckOptions, Component
from schedtui.core.history import layouts
from schedtui.core.model import JobInfo, Target, TriggerSpec
from schedtui.core.store.db import read_engine
from schedtui.core.store.reader import read_jobs

#: The moment the tests judge at (``conftest.FROZEN_NOW``, not imported from there: a module
#: named ``conftest`` can be the tui one when both folders run in one session).
FROZEN_NOW = datetime.fromisoformat(DEFAULT_NOW)


def test_the_table_names_are_the_owners() -> None:
    assert set(quickcheck.COMPONENT_TABLES) == {
        T.HEARTBEATS,
        T.RUNS,
        T.ARCHIVED_JOBS,
        layouts.AEGIS.table,
        layouts.DJANGO.table,
    }
    assert quickcheck.APS4_TABLE == aps4_layout.TABLE


def _answers(providers: list, ctx: CheckContext) -> list[Component]:
    return [c for c in (p(ctx) for p in providers) if c is not None]


def _heartbeat_job(at_offset: float) -> JobInfo:
    every = TriggerSpec(kind="interval", timezone="UTC", interval=timedelta(seconds=15))
    return JobInfo(
        id="scheduler_heartbeat",
        next_run_time=FROZEN_NOW + timedelta(seconds=at_offset),
        state_size=100,
        trigger=every,
    )


@pytest.mark.parametrize("beat", [None, 11.0, -60.0])
@pytest.mark.parametrize("with_backup", [False, True])
def test_light_providers_answer_what_the_default_ones_do(tmp_path: Path, beat: float | None, with_backup: bool) -> None:
    path, _ = sqlite_store(tmp_path, "seed")
    target = Target(url=sqlite_url(path))
    if with_backup:
        create_backup(target)
    assert quickcheck.tables_absent(target)
    snapshot = read_jobs(target, clock=FixedClock(FROZEN_NOW))
    if beat is not None:
        snapshot = replace(snapshot, jobs=(*snapshot.jobs, _heartbeat_job(beat)))
    options = CheckOptions()
    engine = read_engine(target)
    try:
        full = CheckContext(target=target, now=FROZEN_NOW, options=options, snapshot=snapshot, engine=engine)
        light = CheckContext(target=target, now=FROZEN_NOW, options=options, snapshot=snapshot, engine=None)
        expected = _answers(default_providers(), full)
        assert _answers(quickcheck.providers(), light) == expected
        assert [c.name for c in expected] == ["heartbeat"] * (beat is not None) + ["backups"] * with_backup
        # no read (the database could not be reached): nothing from either
        failed_full = replace(full, snapshot=None, engine=None)
        failed_light = replace(light, snapshot=None)
        assert _answers(quickcheck.providers(), failed_light) == _answers(default_providers(), failed_full)
    finally:
        engine.dispose()


def test_any_component_table_or_other_store_goes_the_default_way(tmp_path: Path) -> None:
    path, _ = sqlite_store(tmp_path, "seed")
    url = sqlite_url(path)
    assert quickcheck.tables_absent(Target(url=url))
    assert not quickcheck.tables_absent(Target(url=url + "?mode=ro"))  # not a plain URL
    assert not quickcheck.tables_absent(Target(url=url, schema="main"))
    assert not quickcheck.tables_absent(Target(url=url, table="schedules"))
    assert not quickcheck.tables_absent(Target(url=sqlite_url(tmp_path / "missing.db")))
    assert not quickcheck.tables_absent(Target(url="postgresql://u@127.0.0.1:1/db"))
    for name in quickcheck.COMPONENT_TABLES:
        copy = tmp_path / f"{name}.db"
        copy.write_bytes(path.read_bytes())
        engine = sa.create_engine(sqlite_url(copy))
        with engine.begin() as conn:  # SQLite names are case-insensitive: so is the probe
            conn.exec_driver_sql(f'CREATE TABLE "{name.upper()}" (x INTEGER)')
        engine.dispose()
        assert not quickcheck.tables_absent(Target(url=sqlite_url(copy))), name


def test_the_light_providers_import_no_sqlalchemy(tmp_path: Path) -> None:
    path, _ = sqlite_store(tmp_path, "seed")
    create_backup(Target(url=sqlite_url(path)))
    code = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from schedtui.core import quickcheck\n"
        "from schedtui.core.health import CheckContext, CheckOptions\n"
        "from schedtui.core.model import Target\n"
        f"t = Target(url={sqlite_url(path)!r})\n"
        "assert quickcheck.tables_absent(t)\n"
        "ctx = CheckContext(target=t, now=datetime.now(UTC), options=CheckOptions(), snapshot=None)\n"
        "names = [c.name for c in (p(ctx) for p in quickcheck.providers()) if c is not None]\n"
        "assert names == ['backups'], names\n"
        "print('sqlalchemy' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ}, timeout=60
    )
    assert out.stdout.strip() == "False", out.stderr
