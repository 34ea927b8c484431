"""Where single jobs come back from: a verified backup (named, a path, or the newest),
or the guard's archive."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target
from schedtui.core.store.rawrows import RawRow, read_backup


@dataclass(frozen=True, slots=True)
class BackupSource:
    """A backup file checked now (SHA-256 against the manifest, full read) and its rows."""

    path: Path
    rows: tuple[RawRow, ...]
    hash_checked: bool

    @property
    def label(self) -> str:
        return self.path.name


def backup_folder(target: Target, directory: str | Path | None) -> Path:
    from schedtui.core.backup import default_backup_dir

    return Path(directory).expanduser() if directory else default_backup_dir(target)


def find_backup(target: Target, spec: str | None, directory: str | Path | None = None) -> Path:
    """``spec``: a path, a file name in the backup folder, or None/``latest`` for the
    newest backup the manifest says was verified (of this database)."""
    if spec and spec != "latest":
        p = Path(spec).expanduser()
        if p.is_file():
            return p
        folder = backup_folder(target, directory)
        if (folder / spec).is_file():
            return folder / spec
        raise SchedtuiError(f"backup not found: {spec}", ErrorKind.CONFIG)
    from schedtui.core.backup import list_backups
    from schedtui.core.backup.service import _stem, backup_kind

    folder = backup_folder(target, directory)
    try:
        stem = _stem(target, backup_kind(target))
    except SchedtuiError:
        stem = None
    entries = [e for e in list_backups(folder) if e.verified and (stem is None or e.stem == stem)]
    if not entries:
        raise SchedtuiError(f"no verified backup in {folder} (pass a backup file, or --dir)", ErrorKind.CONFIG)
    return entries[0].path


def load_backup(path: Path, target: Target, *, force: bool = False) -> BackupSource:
    """The backup's rows after verifying it now; a backup that fails verification is
    refused, one the manifest does not know only with ``force``."""
    from schedtui.core.backup.restore import check_restorable

    checked = check_restorable(path, force)
    return BackupSource(path, read_backup(path, target.table, target.schema), bool(checked.hash_ok))
