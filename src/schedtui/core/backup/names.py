"""Backup file names: ``<stem>-<UTC timestamp>[-<n>].<ext>``.

The timestamp in the name is the backup's date for listing and rotation (never the
file's mtime). Two backups in the same second get ``-2``, ``-3`` ... so names never
collide; temporary files start with a dot and end in ``.tmp`` so they are never taken
for a backup.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

EXTENSIONS = ("sqlite", "pgdump", "mysqldump")
TMP_PREFIX = ".schedtui-"
TMP_MARK = ".tmp"
_STAMP = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(
    r"^(?P<stem>[A-Za-z0-9_.\-]+?)-(?P<ts>\d{8}T\d{6}Z)(?:-(?P<n>[1-9]\d{0,5}))?\.(?P<ext>sqlite|pgdump|mysqldump)$"
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


@dataclass(frozen=True, slots=True, order=True)
class BackupName:
    """A parsed backup file name; orders by time, then by the collision counter."""

    created_at: datetime
    seq: int
    stem: str
    ext: str
    name: str


def safe_stem(text: str) -> str:
    """A file-name-safe stem (``jobs.sqlite`` → ``jobs``, ``my db`` → ``my_db``)."""
    stem = _UNSAFE.sub("_", text).strip("._-") or "database"
    return stem[:80]


def parse_name(name: str) -> BackupName | None:
    """The parts of a backup file name, or None when ``name`` is not one of ours."""
    m = _NAME.match(name)
    if m is None:
        return None
    try:
        ts = datetime.strptime(m["ts"], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    return BackupName(ts, int(m["n"] or 1), m["stem"], m["ext"], name)


def format_name(stem: str, when: datetime, ext: str, seq: int = 1) -> str:
    stamp = when.astimezone(UTC).strftime(_STAMP)
    return f"{stem}-{stamp}{'' if seq == 1 else f'-{seq}'}.{ext}"


def unused_name(directory: Path, stem: str, when: datetime, ext: str) -> str:
    """The first name for ``when`` that is not taken in ``directory`` (nor by a tmp file)."""
    taken = set(os.listdir(directory))
    seq = 1
    while True:
        name = format_name(stem, when, ext, seq)
        if name not in taken and tmp_name(name) not in taken:
            return name
        seq += 1


def tmp_name(final: str) -> str:
    """The temporary name a backup is written under before it is verified and renamed."""
    return f"{TMP_PREFIX}{final}{TMP_MARK}"


def is_tmp(name: str) -> bool:
    """A leftover of ours: the tmp file itself or SQLite's ``-journal`` next to it."""
    return name.startswith(TMP_PREFIX) and TMP_MARK in name
