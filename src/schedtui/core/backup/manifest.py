"""The manifest: one JSON object per line in ``schedtui-backups.jsonl`` in the backup folder.

Every attempt is recorded, successful or not, so ``check`` can tell a failed last attempt
apart from an old success. Lines are appended and fsynced under the folder lock; a torn
or unreadable line is skipped, never fatal.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from schedtui.core.backup.fsutil import fsync_dir, fsync_file

MANIFEST_NAME = "schedtui-backups.jsonl"
FORMAT_VERSION = 1
#: Failed attempts kept when the manifest is compacted.
KEEP_FAILURES = 20


def manifest_path(directory: Path) -> Path:
    return Path(directory) / MANIFEST_NAME


def append_record(directory: Path, record: dict[str, Any]) -> None:
    """Append one record durably."""
    line = json.dumps({"v": FORMAT_VERSION, **record}, sort_keys=True, default=str) + "\n"
    path = manifest_path(directory)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def read_records(directory: Path) -> list[dict[str, Any]]:
    """All readable records, oldest first (empty when there is no manifest)."""
    path = manifest_path(directory)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
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
    path = manifest_path(directory)
    tmp = path.with_name(f".{MANIFEST_NAME}.compact.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for rec in keep:
            fh.write(json.dumps(rec, sort_keys=True, default=str) + "\n")
    fsync_file(tmp)
    os.replace(tmp, path)
    fsync_dir(Path(directory))
