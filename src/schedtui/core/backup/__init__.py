"""Verified backups of the job store: create, list, verify, rotate, restore.

The console calls these from a worker thread; every expected failure is a
``SchedtuiError`` with one clear line.
"""

from schedtui.core.backup.health import backups_component
from schedtui.core.backup.restore import restore_backup
from schedtui.core.backup.results import BackupEntry, BackupResult, RestoreResult, VerifyResult
from schedtui.core.backup.rotation import DEFAULT_KEEP, Policy
from schedtui.core.backup.service import create_backup, default_backup_dir, list_backups
from schedtui.core.backup.verify import verify_backup

__all__ = [
    "DEFAULT_KEEP",
    "BackupEntry",
    "BackupResult",
    "Policy",
    "RestoreResult",
    "VerifyResult",
    "backups_component",
    "create_backup",
    "default_backup_dir",
    "list_backups",
    "restore_backup",
    "verify_backup",
]
