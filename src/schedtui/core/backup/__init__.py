"""Verified backups of the job store: create, list, verify, rotate, restore.

The console calls these from a worker thread; every expected failure is a
``SchedtuiError`` with one clear line.
"""

from typing import TYPE_CHECKING

from schedtui.core.lazy import lazy_attributes

if TYPE_CHECKING:
    from schedtui.core.backup.health import backups_component
    from schedtui.core.backup.restore import restore_backup
    from schedtui.core.backup.results import BackupEntry, BackupResult, RestoreResult, VerifyResult
    from schedtui.core.backup.rotation import DEFAULT_KEEP, Policy
    from schedtui.core.backup.service import create_backup, default_backup_dir, list_backups
    from schedtui.core.backup.verify import verify_backup

#: Where each name lives: imported when first asked for (``check`` needs only ``health``,
#: and importing the package used to import every module of it, ~15 ms).
_HOME = {
    "backups_component": "health",
    "restore_backup": "restore",
    "BackupEntry": "results",
    "BackupResult": "results",
    "RestoreResult": "results",
    "VerifyResult": "results",
    "DEFAULT_KEEP": "rotation",
    "Policy": "rotation",
    "create_backup": "service",
    "default_backup_dir": "service",
    "list_backups": "service",
    "verify_backup": "verify",
}


__getattr__ = lazy_attributes(__name__, _HOME, globals())

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
