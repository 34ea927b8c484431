"""Backups on the real servers, the same on PostgreSQL (``pg_dump -Fc``) and MariaDB
(``mariadb-dump --single-transaction``): round trip, verification, damaged files."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from schedtui.core.backup import create_backup, list_backups, restore_backup, verify_backup
from schedtui.core.backup.verify import Inspection
from schedtui.core.errors import SchedtuiError
from schedtui.core.model import Target
from test_backup_helpers import make_store


def _is_mysql(url: str) -> bool:
    return url.startswith(("mysql", "mariadb"))


def _jobs_key(url: str) -> str:
    """How the manifest names the jobs table: ``schema.table`` on PostgreSQL, the table on MySQL."""
    return "apscheduler_jobs" if _is_mysql(url) else "public.apscheduler_jobs"


def _ext(url: str) -> str:
    return ".mysqldump" if _is_mysql(url) else ".pgdump"


def _inspect(url: str, path: Path) -> Inspection:
    if _is_mysql(url):
        from schedtui.core.backup.mysql import inspect_dump as inspect_mysql

        return inspect_mysql(path)
    from schedtui.core.backup.postgres import inspect_dump

    return inspect_dump(path)


def _count(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM apscheduler_jobs")).scalar() or 0)
    finally:
        engine.dispose()


def test_round_trip_backup_verify_restore(server_url: str, tmp_path: Path) -> None:
    url = server_url
    make_store(url, 25)
    target = Target(url)
    folder = tmp_path / "bk"
    result = create_backup(target, folder)
    assert result.kind == ("mysql" if _is_mysql(url) else "postgresql")
    assert result.verified and result.path.suffix == _ext(url)
    assert result.rows == {_jobs_key(url): 25}
    check = verify_backup(result.path)
    assert check.ok and check.hash_ok and check.rows[_jobs_key(url)] == 25 and check.decoded
    assert check.undecodable == ()
    assert [e.kind for e in list_backups(folder)] == [result.kind]

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM apscheduler_jobs WHERE id LIKE 'job-1%'"))
    engine.dispose()
    assert _count(url) == 14
    restored = restore_backup(target, result.path)
    assert _count(url) == 25
    assert restored.kept and restored.kept[0].suffix == _ext(url)
    assert verify_backup(restored.kept[0]).rows[_jobs_key(url)] == 14  # the pre-restore copy


def test_flipped_or_truncated_dump_is_caught(server_url: str, tmp_path: Path) -> None:
    url = server_url
    make_store(url, 30)
    result = create_backup(Target(url), tmp_path / "bk")
    data = bytearray(result.path.read_bytes())
    data[len(data) * 3 // 4] ^= 0x01
    result.path.write_bytes(bytes(data))
    check = verify_backup(result.path)
    assert not check.ok and check.hash_ok is False
    assert [e.ok for e in list_backups(tmp_path / "bk", verify=True)] == [False]
    with pytest.raises(SchedtuiError):
        restore_backup(Target(url), result.path)
    truncated = tmp_path / f"truncated{_ext(url)}"
    truncated.write_bytes(bytes(data[: len(data) // 2]))
    assert not _inspect(url, truncated).ok  # the full read notices, with no manifest at all
