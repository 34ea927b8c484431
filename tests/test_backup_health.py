"""The ``backups`` component of ``check``."""

from __future__ import annotations

import json
from pathlib import Path

from schedtui.core.backup import backups_component, create_backup
from schedtui.core.backup.manifest import append_record
from schedtui.core.clock import FixedClock
from schedtui.core.health import CheckContext, CheckOptions, Status
from schedtui.core.model import Target
from test_backup_helpers import make_store


def _ctx(target: Target, clock: FixedClock, backup_dir: Path | None = None) -> CheckContext:
    return CheckContext(target, clock(), CheckOptions(backup_dir=str(backup_dir) if backup_dir else None), None)


def test_none_without_a_folder(tmp_path: Path, clock: FixedClock) -> None:
    db = tmp_path / "jobs.sqlite"
    make_store(f"sqlite:///{db}", 2)
    assert backups_component(_ctx(Target(f"sqlite:///{db}"), clock)) is None
    assert backups_component(_ctx(Target("mysql://u@h/db"), clock)) is None


def test_fresh_stale_and_failed(tmp_path: Path, clock: FixedClock) -> None:
    db = tmp_path / "jobs.sqlite"
    make_store(f"sqlite:///{db}", 2)
    target = Target(f"sqlite:///{db}")
    result = create_backup(target, clock=clock)  # default folder: backups/ next to the file
    comp = backups_component(_ctx(target, clock))
    assert comp is not None and comp.name == "backups" and comp.status is Status.OK
    assert result.path.name in comp.summary and comp.data["count"] == 1 and comp.data["age_s"] == 0
    assert any(p.label == "backup_age" for p in comp.perfdata)

    clock.advance(hours=27)
    comp = backups_component(_ctx(target, clock))
    assert comp is not None and comp.status is Status.WARNING and "27.0 h ago" in comp.summary

    clock.advance(hours=-26)
    append_record(
        result.path.parent,
        {
            "event": "backup",
            "status": "failed",
            "created_at": clock().isoformat(),
            "error": "no space left on the device while writing the backup",
        },
    )
    comp = backups_component(_ctx(target, clock))
    assert comp is not None and comp.status is Status.WARNING
    assert "last attempt failed: no space left" in comp.summary
    assert json.dumps(comp.data)  # plain data for --json


def test_configured_folder_without_backups(tmp_path: Path, clock: FixedClock) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    comp = backups_component(_ctx(Target("sqlite:////nonexistent/x.sqlite"), clock, folder))
    assert comp is not None and comp.status is Status.WARNING and comp.summary == "no verified backup"
    comp = backups_component(_ctx(Target("sqlite:////nonexistent/x.sqlite"), clock, tmp_path / "missing"))
    assert comp is not None and comp.status is Status.WARNING and "does not exist" in comp.summary


def test_only_this_databases_backups_count(tmp_path: Path, clock: FixedClock) -> None:
    """Two SQLite files in one folder share ``backups/`` next to them: the check of one is
    not made OK by the other's backups, nor WARNING by the other's failed attempt."""
    jobs, other = tmp_path / "jobs.sqlite", tmp_path / "other.sqlite"
    make_store(f"sqlite:///{jobs}", 2)
    make_store(f"sqlite:///{other}", 2)
    target = Target(f"sqlite:///{jobs}")
    theirs = create_backup(Target(f"sqlite:///{other}"), clock=clock)
    comp = backups_component(_ctx(target, clock))
    assert comp is not None and comp.status is Status.WARNING
    assert "no verified backup" in comp.summary and theirs.path.name not in comp.summary
    assert comp.data["count"] == 0

    ours = create_backup(target, clock=clock)
    append_record(
        theirs.path.parent,
        {
            "event": "backup",
            "status": "failed",
            "created_at": clock().isoformat(),
            "source": f"sqlite:///{other}",
            "error": "no space left on the device while writing the backup",
        },
    )
    comp = backups_component(_ctx(target, clock))
    assert comp is not None and comp.status is Status.OK, comp.summary
    assert ours.path.name in comp.summary and comp.data["count"] == 1
    other_comp = backups_component(_ctx(Target(f"sqlite:///{other}"), clock))
    assert other_comp is not None and other_comp.status is Status.WARNING
    assert "last attempt failed: no space left" in other_comp.summary
