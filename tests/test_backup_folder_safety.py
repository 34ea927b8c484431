"""The backup folder never follows a planted link nor writes into another user's file.

The tests run as root in CI: a file of "another user" is made with ``chown 65534``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from schedtui.core.backup import create_backup
from schedtui.core.backup.manifest import MANIFEST_NAME, append_record, read_records
from schedtui.core.backup.names import format_name, tmp_name
from schedtui.core.clock import FixedClock
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target
from test_backup_helpers import make_store

OTHER_UID = 65534  # nobody


def _store(tmp_path: Path) -> Target:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    make_store(url, 3)
    return Target(url)


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "elsewhere" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("precious\n")
    return victim


def _backups(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.endswith(".sqlite"))


def _refused(target: Target, folder: Path, clock: FixedClock, *words: str) -> SchedtuiError:
    with pytest.raises(SchedtuiError) as err:
        create_backup(target, folder, clock=clock)
    assert err.value.kind is ErrorKind.PERMISSION
    for word in words:
        assert word in err.value.message
    return err.value


def test_a_symlinked_manifest_is_refused_and_its_target_untouched(tmp_path: Path, clock: FixedClock) -> None:
    target, victim = _store(tmp_path), _victim(tmp_path)
    folder = tmp_path / "bk"
    folder.mkdir()
    (folder / MANIFEST_NAME).symlink_to(victim)
    _refused(target, folder, clock, MANIFEST_NAME, "symbolic link")
    assert victim.read_text() == "precious\n"
    assert _backups(folder) == []  # the copy is removed with its refused record
    with pytest.raises(SchedtuiError):
        read_records(folder)


def test_cli_backup_as_root_refuses_a_symlinked_manifest(tmp_path: Path) -> None:
    target, victim = _store(tmp_path), _victim(tmp_path)
    folder = tmp_path / "bk"
    folder.mkdir()
    (folder / MANIFEST_NAME).symlink_to(victim)
    out = subprocess.run(
        [sys.executable, "-m", "schedtui", "backup", "--url", target.url, "--dir", str(folder)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 1, out.stderr
    assert out.stderr.count("\n") == 1 and "symbolic link" in out.stderr
    assert victim.read_text() == "precious\n"


def test_a_hard_link_to_the_manifest_is_not_written_through(tmp_path: Path, clock: FixedClock) -> None:
    """The manifest is replaced by rename, like a backup: a planted hard link (which
    O_NOFOLLOW cannot see) keeps its old content."""
    target = _store(tmp_path)
    folder = tmp_path / "bk"
    create_backup(target, folder, clock=clock)
    outside = tmp_path / "linked.jsonl"
    os.link(folder / MANIFEST_NAME, outside)
    before = outside.read_bytes()
    clock.advance(minutes=1)
    create_backup(target, folder, clock=clock)
    assert outside.read_bytes() == before
    assert len(read_records(folder)) == 2
    assert (folder / MANIFEST_NAME).stat().st_ino != outside.stat().st_ino
    assert not [n for n in os.listdir(folder) if n.endswith(".tmp")]


def test_a_symlink_at_the_backup_name_is_refused(tmp_path: Path, clock: FixedClock) -> None:
    target, victim = _store(tmp_path), _victim(tmp_path)
    folder = tmp_path / "bk"
    folder.mkdir()
    (folder / format_name("jobs", clock(), "sqlite")).symlink_to(victim)
    _refused(target, folder, clock, "symbolic link")
    assert victim.read_text() == "precious\n"


def test_a_symlink_at_the_temporary_name_is_removed_not_followed(tmp_path: Path, clock: FixedClock) -> None:
    target, victim = _store(tmp_path), _victim(tmp_path)
    folder = tmp_path / "bk"
    folder.mkdir()
    (folder / tmp_name(format_name("jobs", clock(), "sqlite"))).symlink_to(victim)
    result = create_backup(target, folder, clock=clock)
    assert victim.read_text() == "precious\n"
    assert not result.path.is_symlink() and result.verified


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root (CI runs as root)")
@pytest.mark.parametrize("which", ["manifest", "backup"])
def test_a_file_of_another_user_is_refused(tmp_path: Path, clock: FixedClock, which: str) -> None:
    target = _store(tmp_path)
    folder = tmp_path / "bk"
    first = create_backup(target, folder, clock=clock)
    planted = folder / MANIFEST_NAME if which == "manifest" else first.path
    os.chown(planted, OTHER_UID, OTHER_UID)
    before = planted.read_bytes()
    clock.advance(minutes=1)
    _refused(target, folder, clock, str(planted), "uid 65534")
    assert planted.read_bytes() == before
    assert _backups(folder) == [first.path.name]


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root (CI runs as root)")
def test_a_folder_of_another_user_is_refused(tmp_path: Path, clock: FixedClock) -> None:
    target = _store(tmp_path)
    folder = tmp_path / "bk"
    folder.mkdir()
    os.chown(folder, OTHER_UID, OTHER_UID)
    _refused(target, folder, clock, "uid 65534", "--dir")
    assert os.listdir(folder) == []


def test_a_folder_others_can_write_is_refused_unless_sticky(tmp_path: Path, clock: FixedClock) -> None:
    target = _store(tmp_path)
    folder = tmp_path / "bk"
    folder.mkdir()
    folder.chmod(0o775)
    _refused(target, folder, clock, "chmod go-w")
    folder.chmod(0o1777)  # sticky and ours: others cannot replace our files
    assert create_backup(target, folder, clock=clock).verified


def test_a_group_writable_manifest_is_refused(tmp_path: Path, clock: FixedClock) -> None:
    folder = tmp_path / "bk"
    folder.mkdir()
    append_record(folder, {"event": "backup", "status": "failed"})
    (folder / MANIFEST_NAME).chmod(0o664)
    with pytest.raises(SchedtuiError) as err:
        append_record(folder, {"event": "backup", "status": "failed"})
    assert "chmod go-w" in err.value.message
    assert len(read_records(folder)) == 1


def test_files_are_created_private_to_writes(tmp_path: Path, clock: FixedClock) -> None:
    old = os.umask(0o002)  # a umask that would make them group-writable
    try:
        target = _store(tmp_path)
        result = create_backup(target, tmp_path / "bk", clock=clock)
    finally:
        os.umask(old)
    for path in (result.path, tmp_path / "bk" / MANIFEST_NAME, tmp_path / "bk"):
        assert path.stat().st_mode & 0o022 == 0, path


def test_restore_never_writes_through_a_link_planted_beside_the_database(tmp_path: Path, clock: FixedClock) -> None:
    from schedtui.core.backup import restore_backup

    target, victim = _store(tmp_path), _victim(tmp_path)
    backup = create_backup(target, tmp_path / "bk", clock=clock)
    (tmp_path / ".schedtui-restore-jobs.sqlite.tmp").symlink_to(victim)
    result = restore_backup(target, backup.path, clock=clock, watch=0)
    assert victim.read_text() == "precious\n"
    assert result.rows == {"apscheduler_jobs": 3}


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root (CI runs as root)")
def test_restore_as_root_keeps_the_databases_owner_and_mode(tmp_path: Path, clock: FixedClock) -> None:
    """Else the scheduler's user could no longer write its restored database."""
    from schedtui.core.backup import restore_backup

    target = _store(tmp_path)
    backup = create_backup(target, tmp_path / "bk", clock=clock)
    db = tmp_path / "jobs.sqlite"
    os.chown(db, OTHER_UID, OTHER_UID)
    db.chmod(0o640)
    restore_backup(target, backup.path, clock=clock, watch=0)
    st = db.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (OTHER_UID, OTHER_UID, 0o640)
