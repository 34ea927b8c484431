"""Undelete: compare the live store with backups (``diff``) and put single jobs back,
byte for byte, from a verified backup or the deletion guard's archive (``restore``)."""

from schedtui.core.undelete.diff import FieldChange, JobChange, StoreDiff, diff_rows
from schedtui.core.undelete.restore import (
    RestoreItem,
    RestoreOutcome,
    RestorePlan,
    Skipped,
    apply_plan,
    plan_from_archive,
    plan_from_backup,
)
from schedtui.core.undelete.sources import BackupSource, find_backup, load_backup

__all__ = [
    "BackupSource",
    "FieldChange",
    "JobChange",
    "RestoreItem",
    "RestoreOutcome",
    "RestorePlan",
    "Skipped",
    "StoreDiff",
    "apply_plan",
    "diff_rows",
    "find_backup",
    "load_backup",
    "plan_from_archive",
    "plan_from_backup",
]
