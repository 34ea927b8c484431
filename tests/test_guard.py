"""The deletion guard, with REAL APScheduler 3.6.3, 3.9.1, 3.10.4 and the current 3.11
(the older releases from ``tests/.cache/aps-*``, as the stored fixtures are made): a
store written by the app's v1 is loaded with its v2. Both loader paths (``get_due_jobs``
at a wake-up, ``get_all_jobs`` behind ``get_jobs()``) return exactly what APScheduler
returns without the guard, the rows it would delete are in ``schedtui_archived_jobs``
byte for byte with their error, and nothing else changes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.factory import CACHE

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "preflight"
VERSIONS = ["current", "3.6.3", "3.9.1", "3.10.4"]
UNRESTORABLE = {"billing_charge", "report_spec", "legacy_cleanup", "fast_crunch", "color_blue"}


def _aps_path(version: str) -> str | None:
    if version == "current":
        return None
    target = CACHE / f"aps-{version}"
    if not (target / ".schedtui-ok").exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"APScheduler {version} is not in tests/.cache (run python -m tests.fixtures.prepare)")
        pytest.skip(f"APScheduler {version} is not in tests/.cache")
    return str(target)


def _run(script: str, aps: str | None, *args: str) -> Any:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if aps:
        env["PYTHONPATH"] = aps
    proc = subprocess.run(
        [sys.executable, str(FIXTURE / script), *args], capture_output=True, text=True, env=env, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One v1 store per APScheduler release, written by that release."""
    root = tmp_path_factory.mktemp("guard")
    v1 = root / "app_v1"
    shutil.copytree(FIXTURE / "app_v1", v1)  # the writer imports it: never in the source tree
    out = {}
    for version in VERSIONS:
        target = CACHE / f"aps-{version}"
        if version != "current" and not (target / ".schedtui-ok").exists():
            continue
        db = root / f"{version}.sqlite"
        _run("write_store.py", None if version == "current" else str(target), "--url", f"sqlite:///{db}",
             "--app-root", str(v1))  # fmt: skip
        out[version] = db
    return out


def _states(db: Path) -> dict[str, bytes]:
    with sqlite3.connect(db) as conn:
        return {r[0]: bytes(r[1]) for r in conn.execute("SELECT id, job_state FROM apscheduler_jobs")}


@pytest.mark.parametrize("path", ["due", "all"])
@pytest.mark.parametrize("version", VERSIONS)
def test_guard_archives_what_apscheduler_deletes(
    version: str, path: str, stores: dict[str, Path], tmp_path: Path
) -> None:
    aps = _aps_path(version)
    src = stores[version]
    v2 = tmp_path / "app_v2"
    shutil.copytree(FIXTURE / "app_v2", v2)  # no compiled shop.fast here: it fails to import
    plain, guarded = tmp_path / "plain.sqlite", tmp_path / "guarded.sqlite"
    shutil.copyfile(src, plain)
    shutil.copyfile(src, guarded)
    original = _states(src)
    base = _run("guard_run.py", aps, "--url", f"sqlite:///{plain}", "--app-root", str(v2), "--path", path, "--no-guard")
    got = _run("guard_run.py", aps, "--url", f"sqlite:///{guarded}", "--app-root", str(v2), "--path", path)
    if version != "current":
        assert got["version"] == version
    # the same jobs returned, in the same order, and the same rows left in the table
    assert got["kept"] == base["kept"]
    assert got["table"] == base["table"]
    deleted = set(original) - set(base["table"])
    assert deleted == UNRESTORABLE
    # what APScheduler deletes is archived, byte for byte, with its error
    archived = {a["id"]: a for a in got["archived"]}
    assert set(archived) == deleted
    for job_id, a in archived.items():
        assert a["sha"] == hashlib.sha256(original[job_id]).hexdigest()
        assert a["at"] == 1_900_000_000.0
        assert a["type"] and a["error"]
    assert "charge_all" in archived["billing_charge"]["error"]
    assert "Spec" in archived["report_spec"]["error"]
    assert any('Unable to restore job "billing_charge" -- removing it' in line for line in got["log"])


def _plain_store(db: Path) -> Any:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    store = SQLAlchemyJobStore(url=f"sqlite:///{db}")
    store._scheduler = None
    store._alias = "default"
    store.start(None, "default")  # type: ignore[no-untyped-call]
    return store


def test_archive_failure_deletes_nothing_and_lookup_is_unchanged(stores: dict[str, Path], tmp_path: Path) -> None:
    """Without the app's code every row fails. When the archive cannot be written (here a
    table of that name with another shape), no row is deleted."""
    from apscheduler.jobstores.base import JobLookupError

    from schedtui.companion.guard import install_guard

    db = tmp_path / "jobs.sqlite"
    shutil.copyfile(stores["current"], db)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE schedtui_archived_jobs (junk INTEGER)")
    before = _states(db)
    store = _plain_store(db)
    guards = install_guard(store)
    assert len(guards) == 1 and install_guard(store)[0] is guards[0]  # idempotent
    assert store.get_all_jobs() == []
    assert _states(db) == before  # nothing destroyed
    with pytest.raises(Exception) as exc:  # lookup_job raises as before, and deletes nothing
        store.lookup_job("billing_charge")
    assert not isinstance(exc.value, JobLookupError)
    assert _states(db) == before
    guards[0].uninstall()
    assert "_get_jobs" not in store.__dict__
    store.shutdown()


def test_guard_on_postgresql(stores: dict[str, Path], pg_url: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    src = _states(stores["current"])
    with sqlite3.connect(stores["current"]) as conn:
        rows = conn.execute("SELECT id, next_run_time, job_state FROM apscheduler_jobs").fetchall()
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    store = SQLAlchemyJobStore(engine=engine)
    store._scheduler = None
    store._alias = "default"
    store.start(None, "default")  # type: ignore[no-untyped-call]
    with engine.begin() as conn:
        for r in rows:
            conn.execute(store.jobs_t.insert().values(id=r[0], next_run_time=r[1], job_state=bytes(r[2])))
    from schedtui.companion.guard import install_guard

    (guard,) = install_guard(store, clock=lambda: 1_900_000_000.0)
    assert store.get_due_jobs(datetime(2031, 1, 1, tzinfo=UTC)) == []
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM apscheduler_jobs")).scalar()
        arch = conn.execute(sa.text("SELECT job_id, job_state, archived_at FROM schedtui_archived_jobs")).fetchall()
    assert left == 0
    assert {a[0]: bytes(a[1]) for a in arch} == src
    assert {a[2] for a in arch} == {1_900_000_000.0}
    assert {a.job_id for a in guard.archived} == set(src)
    engine.dispose()


def test_check_console_and_events_see_the_archive(
    stores: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlalchemy as sa

    from schedtui.cli.app import main
    from schedtui.companion.guard import install_guard
    from schedtui.core.archive import archive_events, read_archived
    from schedtui.core.model import Target
    from schedtui.tui.data import Feed

    db = tmp_path / "jobs.sqlite"
    shutil.copyfile(stores["current"], db)
    store = _plain_store(db)
    ticks = iter([1_800_000_000.0, 1_800_000_060.0])
    install_guard(store, clock=lambda: next(ticks))
    # two wake-ups: the first archives everything, the second finds nothing left
    assert store.get_due_jobs(datetime(2031, 1, 1, tzinfo=UTC)) == []
    assert store.get_all_jobs() == []
    store.shutdown()
    with pytest.raises(SystemExit) as exc:
        main(["check", "--url", f"sqlite:///{db}"])
    out = capsys.readouterr().out
    assert exc.value.code == 1
    assert "archive: 12 job(s)" in out and "2027-01-15T08:00:00Z" in out
    items = read_archived(sa.create_engine(f"sqlite:///{db}"))
    assert len(items) == 12 and all(not i.restored for i in items)
    events = archive_events(items)
    assert len(events) == 12 and events[0].kind == "archived" and "archived by the guard" in events[0].text
    frame = Feed(Target(f"sqlite:///{db}")).fetch()
    assert {a.job_id for a in frame.archived} == {i.job_id for i in items}
