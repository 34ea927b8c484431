"""The seed's daily backup job, done safely: verified, atomic, rotated, never overlapping.

::

    from schedtui.companion.backup_job import add_backup_job
    add_backup_job(scheduler, os.environ["DATABASE_URL"])          # 02:00 UTC, keep 7

The job is stored by reference (``schedtui.companion.backup_job:backup_database_job``)
with plain arguments, so it survives restarts in a persistent job store. It writes the
same folder and manifest as ``schedtui backup``, so ``check`` and the console see
scheduled and manual backups alike; a failure raises, so the run history records it.

The URL is stored in the job's arguments, i.e. in the jobs table. To keep a password out
of it, pass ``url_env="DATABASE_URL"`` (the variable is read when the job runs) or use a
URL without password plus ``PGPASSFILE``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger("schedtui.companion.backup")

JOB_ID = "database_backup"
JOB_NAME = "Daily Database Backup"
#: A daily backup that is up to an hour late (scheduler restarting at 02:00) still runs.
MISFIRE_GRACE_S = 3600
#: A backup process that has not finished after this many seconds is stopped.
CHILD_TIMEOUT_S = 6 * 3600


def _url_of(target_or_url: Any) -> tuple[str, str, str | None]:
    """(url, table, schema) from a Target, a URL string or an Engine."""
    if isinstance(target_or_url, str):
        from schedtui.core.urls import normalize_url

        return normalize_url(target_or_url), "apscheduler_jobs", None
    url = getattr(target_or_url, "url", None)
    if isinstance(url, str):  # Target
        return url, getattr(target_or_url, "table", "apscheduler_jobs"), getattr(target_or_url, "schema", None)
    if url is not None and hasattr(url, "render_as_string"):  # Engine
        return url.render_as_string(hide_password=False), "apscheduler_jobs", None
    raise TypeError("add_backup_job needs a Target, a database URL or an Engine")


def backup_database_job(
    url: str | None = None,
    directory: str | None = None,
    keep: int = 7,
    table: str = "apscheduler_jobs",
    schema: str | None = None,
    url_env: str | None = None,
    keep_daily: int = 0,
    keep_weekly: int = 0,
    keep_monthly: int = 0,
) -> dict[str, Any]:
    """Run one verified backup (the function the daily job calls by reference).

    The backup runs in a child process (``python -m schedtui backup``): verifying it
    decodes every ``job_state`` with the safe decoder, which caps the address space of
    its process while it works — never the scheduler's. The URL reaches the child through
    its environment, not its argv. Returns a short summary (the run's return value);
    raises on failure, after logging one clear line, so the run history shows it.
    """
    from schedtui.core.errors import ErrorKind, SchedtuiError
    from schedtui.core.urls import mask_text, normalize_url

    if url_env:
        url = os.environ.get(url_env)
        if not url:
            logger.error("database backup failed: $%s is not set", url_env)
            raise SchedtuiError(f"${url_env} is not set", ErrorKind.CONFIG)
    if not url:
        raise SchedtuiError("no database URL for the backup job", ErrorKind.CONFIG)
    url = normalize_url(url)
    argv = [sys.executable, "-m", "schedtui", "backup", "--json", "--keep", str(int(keep))]
    for flag, value in (("--keep-daily", keep_daily), ("--keep-weekly", keep_weekly), ("--keep-monthly", keep_monthly)):
        if value:
            argv += [flag, str(int(value))]
    if directory:
        argv += ["--dir", str(directory)]
    env = {k: v for k, v in os.environ.items() if k not in ("SCHEDTUI_TABLE", "SCHEDTUI_SCHEMA")}
    env.update(SCHEDTUI_URL=url, SCHEDTUI_TABLE=table)
    if schema:
        env["SCHEDTUI_SCHEMA"] = schema
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.error("database backup failed: %s", exc)
        raise SchedtuiError(f"the backup process failed: {exc}", ErrorKind.IO) from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        line = mask_text(lines[-1] if lines else f"exit status {proc.returncode}", url)
        line = line.removeprefix("schedtui: ")
        logger.error("database backup failed: %s", line)
        raise SchedtuiError(line, ErrorKind.IO)
    result = json.loads(proc.stdout)
    logger.info("database backup ok: %s", result.get("message"))
    return {
        "file": result["path"],
        "size": result["size"],
        "sha256": result["sha256"],
        "rows": dict(result["rows"]),
        "undecodable": len(result["undecodable"]),
        "rotated": len(result["rotated"]),
    }


def add_backup_job(
    scheduler: Any,
    target_or_url: Any,
    *,
    directory: str | Path | None = None,
    keep: int = 7,
    hour: int = 2,
    minute: int = 0,
    timezone: str = "UTC",
    url_env: str | None = None,
    keep_daily: int = 0,
    keep_weekly: int = 0,
    keep_monthly: int = 0,
    jobstore: str = "default",
) -> Any:
    """Register the daily backup on ``scheduler`` (id ``database_backup``, name
    ``Daily Database Backup``, cron ``hour:minute`` in ``timezone``, one instance at a
    time, coalesced, replacing an existing definition). ``keep`` and ``keep_daily`` /
    ``keep_weekly`` / ``keep_monthly`` are the rotation policy. Returns the Job."""
    url, table, schema = _url_of(target_or_url)
    kwargs: dict[str, Any] = {
        "directory": str(Path(directory).expanduser().resolve()) if directory else None,
        "keep": int(keep),
        "table": table,
        "schema": schema,
    }
    for key, value in (("keep_daily", keep_daily), ("keep_weekly", keep_weekly), ("keep_monthly", keep_monthly)):
        if value:
            kwargs[key] = int(value)
    if url_env:
        kwargs["url_env"] = url_env
    else:
        kwargs["url"] = url
    return scheduler.add_job(
        backup_database_job,
        trigger="cron",
        hour=hour,
        minute=minute,
        timezone=timezone,
        id=JOB_ID,
        name=JOB_NAME,
        kwargs=kwargs,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=MISFIRE_GRACE_S,
        replace_existing=True,
        jobstore=jobstore,
    )
