"""The manifest: one JSON object per line in ``schedtui-backups.jsonl`` in the backup folder.

Every attempt is recorded, successful or not, so ``check`` can tell a failed last attempt
apart from an old success. The manifest is written like a backup (a private temporary
file in the folder, fsync, rename, fsync of the folder), under the folder lock, and never
through a link or into a file of another user; an unreadable line is skipped, never fatal.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from schedtui.core.backup.fsutil import open_private, open_readable, write_atomic

MANIFEST_NAME = "schedtui-backups.jsonl"
FORMAT_VERSION = 1
#: Failed attempts kept when the manifest is compacted.
KEEP_FAILURES = 20


def manifest_path(directory: Path) -> Path:
    return Path(directory) / MANIFEST_NAME


def _read_all(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def append_record(directory: Path, record: dict[str, Any]) -> None:
    """Add one record durably (call while holding the folder lock).

    Refuses (``SchedtuiError``) a manifest that is a link or not the running user's own.
    """
    line = json.dumps({"v": FORMAT_VERSION, **record}, sort_keys=True, default=str) + "\n"
    path = manifest_path(directory)
    try:
        old = _read_all(open_private(path, os.O_RDONLY))
    except FileNotFoundError:
        old = b""
    if old and not old.endswith(b"\n"):
        old += b"\n"  # a torn last line stays one skipped line
    write_atomic(Path(directory), MANIFEST_NAME, old + line.encode("utf-8"))


def read_records(directory: Path) -> list[dict[str, Any]]:
    """All readable records, oldest first (empty when there is no manifest).

    A manifest that is a symbolic link is refused (``SchedtuiError``), never followed.
    """
    path = manifest_path(directory)
    try:
        text = _read_all(open_readable(path)).decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def records_by_file(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The latest successful record of each backup file."""
    out: dict[str, dict[str, Any]] = {}
    for rec in records:
        if rec.get("status") == "ok" and isinstance(rec.get("file"), str):
            out[rec["file"]] = rec
    return out


def compact(directory: Path, existing: set[str]) -> None:
    """Rewrite the manifest atomically: records of files that still exist, the last
    few failures, and the restore log."""
    records = read_records(directory)
    failures = [r for r in records if r.get("status") == "failed"][-KEEP_FAILURES:]
    keep = [
        r
        for r in records
        if (r.get("status") == "ok" and r.get("file") in existing) or r in failures or r.get("event") == "restore"
    ]
    if len(keep) == len(records):
        return
    data = "".join(json.dumps(rec, sort_keys=True, default=str) + "\n" for rec in keep)
    write_atomic(Path(directory), MANIFEST_NAME, data.encode("utf-8"))
