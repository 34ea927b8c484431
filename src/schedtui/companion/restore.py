"""Applies ``restore`` commands inside the scheduler's process (``schedtui restore`` with a
live companion).

The command carries the row itself (base64 ``job_state``, its SHA-256, the column value).
Under the scheduler's job-store lock the applier checks the hash, checks that THIS
process's code can restore the row (``_reconstitute_job``: what the scheduler's loader
will do with it — a row it cannot restore is not written, it would only be deleted or
archived again), inserts it unchanged (the primary key refuses to overwrite an existing
job), marks an archived copy restored, and wakes the scheduler so it sees the job.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from typing import Any

import sqlalchemy as sa

from schedtui.core import tables as T


def _store_for(applier: Any, jobs_table: str | None) -> tuple[Any, str] | None:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    stores = getattr(applier.scheduler, "_jobstores", {}) or {}
    for alias, store in stores.items():
        if not isinstance(store, SQLAlchemyJobStore):
            continue
        if applier.jobstore is not None and alias != applier.jobstore:
            continue
        t = store.jobs_t
        name = f"{t.schema}.{t.name}" if t.schema else t.name
        if jobs_table in (None, name, t.name):
            return store, alias
    return None


def apply_restore(applier: Any, job_id: str, params: str | None) -> tuple[str, str]:
    """``(status, result)`` for one restore command."""
    try:
        p = json.loads(params or "")
        state = base64.b64decode(p["job_state"], validate=True)
        sha = str(p["sha256"])
        nrt = p.get("next_run_time")
        nrt = None if nrt is None else float(nrt)
    except (ValueError, KeyError, TypeError, binascii.Error):
        return "failed", "malformed restore command"
    if hashlib.sha256(state).hexdigest() != sha:
        return "failed", "the row's SHA-256 does not match the command; not written"
    found = _store_for(applier, p.get("jobs_table"))
    if found is None:
        return "failed", f"this scheduler has no SQLAlchemy job store for {p.get('jobs_table')!r}"
    store, _alias = found
    scheduler = applier.scheduler
    t = store.jobs_t
    with scheduler._jobstores_lock:
        with store.engine.connect() as conn:
            if conn.execute(sa.select(t.c.id).where(t.c.id == job_id)).first() is not None:
                return "failed", "a job with this id exists; not overwritten"
        try:
            job = store._reconstitute_job(state)
        except Exception as exc:
            return "failed", f"this scheduler's code cannot restore it ({type(exc).__name__}: {exc}); not written"
        if getattr(job, "id", None) != job_id:
            return "failed", "the stored state belongs to another job id; not written"
        try:
            with store.engine.begin() as conn:
                conn.execute(t.insert().values(id=job_id, next_run_time=nrt, job_state=state))
                archive_id = p.get("archive_id")
                if archive_id is not None:
                    a = T.tables_for(t.schema).archived_jobs
                    conn.execute(
                        sa.update(a)
                        .where(a.c.id == int(archive_id))
                        .values(restored_at=time.time(), restored_by=applier.scheduler_id[:255])
                    )
        except sa.exc.IntegrityError:
            return "failed", "a job with this id exists; not overwritten"
    try:
        scheduler.wakeup()
    except Exception:
        pass
    origin = str(p.get("origin") or "a backup")[:200]
    return "applied", f"restored byte for byte from {origin}"
