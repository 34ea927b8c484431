"""What the backup API returns: frozen values, safe to hand across threads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

BackupKind = Literal["sqlite", "postgresql", "mysql"]
#: The file extension of each kind of backup.
KIND_EXT: dict[str, str] = {"sqlite": "sqlite", "postgresql": "pgdump", "mysql": "mysqldump"}


def kind_of_ext(ext: str) -> BackupKind:
    """The kind of backup a file extension (without the dot) names."""
    return "postgresql" if ext == "pgdump" else "mysql" if ext == "mysqldump" else "sqlite"


@dataclass(frozen=True, slots=True)
class BackupResult:
    """A backup that was written, verified and published (failures raise instead)."""

    path: Path
    size: int
    sha256: str
    verified: bool
    #: Row counts per table, as read from the source at copy time (and found in the copy).
    rows: Mapping[str, int]
    #: Ids of jobs whose ``job_state`` the safe decoder could not read (as in the source).
    undecodable: tuple[str, ...]
    duration_s: float
    #: Older backups deleted by rotation after this one was verified.
    rotated: tuple[Path, ...]
    #: The source URL with the password masked.
    source: str
    message: str
    kind: BackupKind = "sqlite"
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The result of checking one backup file (hash, integrity, rows, decoding)."""

    path: Path
    ok: bool
    sha256: str | None
    #: The hash the manifest recorded (None when the manifest has no record of the file).
    expected_sha256: str | None
    #: True/False when a recorded hash was compared; None when there was none to compare.
    hash_ok: bool | None
    #: ``"ok"`` or the first problem SQLite / pg_restore reported.
    integrity: str
    rows: Mapping[str, int] = field(default_factory=dict)
    undecodable: tuple[str, ...] = ()
    #: Whether the safe decoder was available to check every ``job_state``.
    decoded: bool = False
    problems: tuple[str, ...] = ()
    message: str = ""


@dataclass(frozen=True, slots=True)
class BackupEntry:
    """One backup file in a folder, as the manifest and the file name describe it."""

    path: Path
    name: str
    created_at: datetime
    size: int
    kind: BackupKind
    stem: str
    sha256: str | None
    #: The manifest says the backup was verified when it was written.
    verified: bool
    source: str | None = None
    rows: Mapping[str, int] = field(default_factory=dict)
    undecodable: tuple[str, ...] = ()
    duration_s: float | None = None
    #: Set by ``list_backups(verify=True)``: the check done now.
    check: VerifyResult | None = None

    @property
    def ok(self) -> bool:
        """Verified when written, and (if checked now) still intact."""
        return self.verified and (self.check is None or self.check.ok)


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """What a restore did."""

    backup: Path
    target: str  #: masked URL of the restored database
    #: Where the previous database went (SQLite: the moved-aside files; PostgreSQL, MySQL: a dump).
    kept: tuple[Path, ...]
    rows: Mapping[str, int]
    undecodable: tuple[str, ...]
    duration_s: float
    forced: bool
    message: str
    notes: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
