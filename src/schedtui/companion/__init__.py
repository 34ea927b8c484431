"""The scheduler-side companion: runs INSIDE the user's scheduler process.

Two lines::

    from schedtui.companion import attach, create_scheduler
    scheduler = create_scheduler(os.environ.get("DATABASE_URL")); attach(scheduler)

Never imports Textual or the CLI.
"""

from schedtui.companion.commands import install as install_commands
from schedtui.companion.companion import HEARTBEAT_JOBSTORE, Companion, attach
from schedtui.companion.guard import DeletionGuard, install_guard
from schedtui.companion.jobs import ensure_job, force_update_enabled, job_exists_in_database
from schedtui.companion.setup import SAFE_JOB_DEFAULTS, create_scheduler

__all__ = [
    "HEARTBEAT_JOBSTORE",
    "SAFE_JOB_DEFAULTS",
    "Companion",
    "DeletionGuard",
    "attach",
    "create_scheduler",
    "ensure_job",
    "force_update_enabled",
    "install_commands",
    "install_guard",
    "job_exists_in_database",
]
