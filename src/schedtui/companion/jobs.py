"""Code-defined jobs vs runtime changes: the seed's ``SCHEDULER_FORCE_UPDATE`` pattern.

At start-up, ``ensure_job`` adds a job defined in code only when the database does not
hold it yet, so runtime changes (a paused job, a changed schedule) survive restarts. With
``SCHEDULER_FORCE_UPDATE`` true (``1``/``true``/``yes``/``on``, any case), the code's
definition replaces the stored one, but only after the stored row has been copied, bytes
untouched, into ``schedtui_job_archive``. If the copy fails, nothing is replaced.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import Any, Literal

import sqlalchemy as sa

from schedtui.core import tables as T

logger = logging.getLogger("schedtui.companion")

TRUE_SPELLINGS = frozenset({"1", "true", "yes", "on", "y", "t"})
Outcome = Literal["added", "preserved", "replaced"]


def force_update_enabled(env: Mapping[str, str] | None = None) -> bool:
    """``SCHEDULER_FORCE_UPDATE`` read with the usual true spellings."""
    env = os.environ if env is None else env
    return env.get("SCHEDULER_FORCE_UPDATE", "").strip().lower() in TRUE_SPELLINGS


def _sql_store(scheduler: Any, jobstore: str) -> Any | None:
    store = getattr(scheduler, "_jobstores", {}).get(jobstore)
    if store is not None and hasattr(store, "jobs_t") and hasattr(store, "engine"):
        return store
    return None


def job_exists_in_database(scheduler: Any, job_id: str, jobstore: str = "default") -> bool:
    """Whether ``job_id`` is stored in ``jobstore``, without unpickling anything.

    For a SQLAlchemy jobstore this reads the ``id`` column only (a missing table means
    "no"); for other stores it asks the store (memory stores are empty at start-up).
    """
    store = _sql_store(scheduler, jobstore)
    if store is None:
        store = getattr(scheduler, "_jobstores", {}).get(jobstore)
        try:
            return store is not None and store.lookup_job(job_id) is not None
        except Exception:
            return False
    jobs_t = store.jobs_t
    with store.engine.connect() as conn:
        if not sa.inspect(conn).has_table(jobs_t.name, schema=jobs_t.schema):
            return False
        return conn.execute(sa.select(jobs_t.c.id).where(jobs_t.c.id == job_id)).first() is not None


def archive_stored_job(
    scheduler: Any, job_id: str, jobstore: str = "default", reason: str = "force-update"
) -> int | None:
    """Copy the raw row of ``job_id`` into ``schedtui_job_archive`` (same schema as the jobs
    table). Returns the archive id, or None when there was no row. Raises on failure."""
    store = _sql_store(scheduler, jobstore)
    if store is None:
        return None
    jobs_t = store.jobs_t
    t = T.create_all(store.engine, jobs_t.schema)
    with store.engine.begin() as conn:
        row = conn.execute(sa.select(jobs_t.c.next_run_time, jobs_t.c.job_state).where(jobs_t.c.id == job_id)).first()
        if row is None:
            return None
        table_name = f"{jobs_t.schema}.{jobs_t.name}" if jobs_t.schema else jobs_t.name
        result = conn.execute(
            sa.insert(t.job_archive).values(
                job_id=job_id,
                jobs_table=table_name,
                next_run_time=row.next_run_time,
                job_state=bytes(row.job_state),
                archived_at=time.time(),
                reason=reason,
                archived_by=f"{socket.gethostname()}:{os.getpid()}",
            )
        )
        return int(result.inserted_primary_key[0])


def ensure_job(
    scheduler: Any,
    func: Any,
    trigger: Any = None,
    *,
    id: str,
    jobstore: str = "default",
    force: bool | None = None,
    **add_job_kwargs: Any,
) -> Outcome:
    """Add the job when absent; keep the stored one unless forced; when forced, archive
    the stored row first, then replace it. Returns what happened and logs it.

    ``force`` None reads ``SCHEDULER_FORCE_UPDATE``. Other arguments go to
    ``scheduler.add_job`` (``name``, ``max_instances``, trigger fields such as ``hour``).
    """
    if force is None:
        force = force_update_enabled()
    add_job_kwargs.pop("replace_existing", None)
    if not job_exists_in_database(scheduler, id, jobstore):
        scheduler.add_job(func, trigger, id=id, jobstore=jobstore, replace_existing=True, **add_job_kwargs)
        logger.info("schedtui: added job %r (not in the database yet)", id)
        return "added"
    if not force:
        logger.info(
            "schedtui: preserved stored job %r (runtime changes kept; set SCHEDULER_FORCE_UPDATE=true "
            "to replace it with the code's definition)",
            id,
        )
        return "preserved"
    try:
        archive_id = archive_stored_job(scheduler, id, jobstore)
    except Exception as exc:
        logger.error(
            "schedtui: NOT replacing stored job %r: could not archive it first (%s: %s); kept as stored",
            id,
            type(exc).__name__,
            exc,
        )
        return "preserved"
    scheduler.add_job(func, trigger, id=id, jobstore=jobstore, replace_existing=True, **add_job_kwargs)
    logger.warning(
        "schedtui: replaced stored job %r with the code's definition (SCHEDULER_FORCE_UPDATE); "
        "the previous row is saved in schedtui_job_archive id=%s",
        id,
        archive_id,
    )
    return "replaced"
