"""Backups of the shared fixture stores (every trigger kind, app classes in args, old
pickle protocols) written by real APScheduler via ``tests/fixtures/factory.py``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from schedtui.core.backup import create_backup, restore_backup, verify_backup
from schedtui.core.backup.verify import load_decoder, undecodable_ids
from schedtui.core.model import Target
from tests.fixtures.factory import make_store


def _source_undecodable(db: Path) -> tuple[str, ...]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = [
            (str(i), n, bytes(s))
            for i, n, s in conn.execute("SELECT id, next_run_time, job_state FROM apscheduler_jobs")
        ]
    finally:
        conn.close()
    return undecodable_ids(rows, load_decoder())


@pytest.mark.parametrize("scenario", ["catalog", "seed"])
def test_sqlite_fixture_stores(tmp_path: Path, scenario: str) -> None:
    db = tmp_path / "jobs.sqlite"
    manifest = make_store(f"sqlite:///{db}", scenario)
    result = create_backup(Target(f"sqlite:///{db}"), tmp_path / "bk")
    assert result.verified and result.rows["apscheduler_jobs"] == manifest["count"]
    # Whatever the safe decoder cannot read is reported exactly as it is in the source.
    assert set(result.undecodable) == set(_source_undecodable(db))
    assert verify_backup(result.path).ok


def test_server_catalog_round_trip(server_url: str, tmp_path: Path) -> None:
    """PostgreSQL and MariaDB: every trigger kind survives dump, verification and restore."""
    manifest = make_store(server_url, "catalog")
    target = Target(server_url)
    key = "apscheduler_jobs" if server_url.startswith("mysql") else "public.apscheduler_jobs"
    result = create_backup(target, tmp_path / "bk")
    assert result.rows[key] == manifest["count"]
    check = verify_backup(result.path)
    assert check.ok and set(check.undecodable) == set(result.undecodable)
    restored = restore_backup(target, result.path)
    assert restored.rows[key] == manifest["count"]
