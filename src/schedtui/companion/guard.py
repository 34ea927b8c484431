"""The deletion guard: a row APScheduler cannot restore is archived, never destroyed.

``SQLAlchemyJobStore._get_jobs`` (behind ``get_due_jobs``, ``get_all_jobs`` and so
``get_jobs``/``print_jobs``/``export_jobs``) deletes every row it fails to restore — after
a deploy that renamed a function, that is every such job, at the first wake-up. With the
guard installed (``install_guard(scheduler)``; ``create_scheduler`` does it by default):

- The store's ``_reconstitute_job`` is wrapped: inside ``_get_jobs`` a failure no longer
  raises into APScheduler's loop (which would schedule the row for deletion) but is noted
  with its bytes and error and stands in the list as a marker. Outside ``_get_jobs``
  (``lookup_job``) nothing changes: the error is raised as before.
- After APScheduler's own ``_get_jobs`` returns, the markers are dropped (the caller gets
  exactly the jobs APScheduler would have returned, in the same order), and in ONE
  transaction each failed row is copied by the database itself (``INSERT … SELECT``, the
  bytes never pass through Python) into ``schedtui_archived_jobs`` with the error and the
  time, then deleted — only where its bytes are still the ones that failed (a row the
  scheduler rewrote meanwhile is left alone). APScheduler's log line is kept
  (``Unable to restore job "…" -- removing it``), with where the row went.
- If archiving fails (database error), nothing is deleted: the row stays where it was.

Archive instead of park: parking (``next_run_time`` cleared, the row left in the jobs
table) changes what APScheduler does for the rest of the process's life — the row still
fails every ``get_jobs()``, ``get_job(id)`` raises instead of returning None, adding a job
with that id raises ``ConflictingIdError``, and the row shows as a paused job whose pickle
disagrees with its column. Archiving leaves the jobs table exactly as APScheduler wants it
and keeps the bytes for ``schedtui restore --archived``.

Cost on the normal path: one extra Python call per restored job (the wrapper) and one
thread-local store per ``_get_jobs`` call; no query, no lock.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from schedtui.core import tables as T

logger = logging.getLogger("schedtui.companion.guard")

#: Most characters of an error message / traceback kept in the archive.
MAX_ERROR = 4000


class _Unrestorable:
    """The marker a failed row leaves in APScheduler's list (removed before returning)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unrestorable job>"


UNRESTORABLE = _Unrestorable()


@dataclass(frozen=True, slots=True)
class _Failure:
    job_state: bytes
    error_type: str
    error: str
    exc: BaseException


@dataclass(frozen=True, slots=True)
class Archived:
    """One row the guard moved into ``schedtui_archived_jobs``."""

    job_id: str
    error_type: str
    error: str
    archived_at: float


class DeletionGuard:
    """Installed on one ``SQLAlchemyJobStore`` (``install_guard`` makes and installs it)."""

    def __init__(
        self,
        store: Any,
        *,
        archived_by: str | None = None,
        clock: Callable[[], float] = time.time,
        on_archived: Callable[[list[Archived]], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.archived_by = (archived_by or f"{socket.gethostname()}:{os.getpid()}")[:255]
        self.on_archived = on_archived
        jobs_t = store.jobs_t
        self.jobs_t = jobs_t
        self.jobs_table = f"{jobs_t.schema}.{jobs_t.name}" if jobs_t.schema else jobs_t.name
        self.archive_t = T.tables_for(jobs_t.schema).archived_jobs
        self._local = threading.local()
        self._ready = False
        self._original_get: Callable[..., list[Any]] | None = None
        self._original_reconstitute: Callable[[bytes], Any] | None = None
        #: Rows archived by this guard since it was installed.
        self.archived: list[Archived] = []

    # ------------------------------------------------------------------ install
    def install(self) -> DeletionGuard:
        store = self.store
        existing = store.__dict__.get("_schedtui_guard")
        if existing is not None:
            return existing  # type: ignore[no-any-return]
        self._original_get = store._get_jobs
        self._original_reconstitute = store._reconstitute_job
        store._reconstitute_job = self._reconstitute
        store._get_jobs = self._get_jobs
        store._schedtui_guard = self
        return self

    def uninstall(self) -> None:
        store = self.store
        if store.__dict__.get("_schedtui_guard") is not self:
            return
        for name in ("_get_jobs", "_reconstitute_job", "_schedtui_guard"):
            store.__dict__.pop(name, None)

    # ------------------------------------------------------------------ the wrappers
    def _reconstitute(self, job_state: bytes) -> Any:
        assert self._original_reconstitute is not None
        try:
            return self._original_reconstitute(job_state)
        except BaseException as exc:  # APScheduler's _get_jobs catches BaseException too
            bucket = getattr(self._local, "bucket", None)
            if bucket is None:
                raise  # lookup_job and friends: unchanged
            bucket.append(_failure(job_state, exc))
            return UNRESTORABLE

    def _get_jobs(self, *conditions: Any) -> list[Any]:
        assert self._original_get is not None
        local = self._local
        outer = getattr(local, "bucket", None)
        bucket: list[_Failure] = []
        local.bucket = bucket
        try:
            jobs = self._original_get(*conditions)
        finally:
            local.bucket = outer
        if not bucket:
            return jobs
        jobs = [j for j in jobs if j is not UNRESTORABLE]
        self._archive(bucket)
        return jobs

    # ------------------------------------------------------------------ archiving
    def _archive(self, failures: list[_Failure]) -> None:
        store_logger = getattr(self.store, "_logger", logger)
        try:
            done = self._archive_rows(failures)
        except Exception as exc:
            for f in failures:
                store_logger.error(
                    "Unable to restore a job (%s: %s); schedtui could not archive it (%s: %s), so it is left in %s",
                    f.error_type,
                    f.error[:200],
                    type(exc).__name__,
                    str(exc)[:200],
                    self.jobs_table,
                )
            return
        for item, f in done:
            store_logger.error(
                'Unable to restore job "%s" -- removing it (schedtui archived it in %s)',
                item.job_id,
                T.ARCHIVED_JOBS,
                exc_info=(type(f.exc), f.exc, f.exc.__traceback__),
            )
        archived = [item for item, _ in done]
        self.archived.extend(archived)
        if archived and self.on_archived is not None:
            try:
                self.on_archived(archived)
            except Exception:
                logger.exception("schedtui: the on_archived hook failed")

    def _archive_rows(self, failures: list[_Failure]) -> list[tuple[Archived, _Failure]]:
        """Find the failed rows' ids (one indexed pass per 200 rows: ``job_state IN (…)``),
        then copy and delete each by ``id`` AND its failed bytes (a compare-and-swap: a row
        rewritten meanwhile is left alone), all copies and deletes in ONE transaction.
        The transaction's first statement is an INSERT, so on SQLite it holds the write
        lock from the start; SQLAlchemy 1.4's library autocommit never applies inside
        ``begin()``."""
        engine = self.store.engine
        jobs, arch = self.jobs_t, self.archive_t
        now = self.clock()
        if not self._ready:
            with engine.begin() as conn:
                arch.create(conn, checkfirst=True)
            self._ready = True
        by_state = {f.job_state: f for f in failures}
        found: list[tuple[str, _Failure]] = []
        states = list(by_state)
        with engine.connect() as conn:
            for i in range(0, len(states), 200):
                chunk = states[i : i + 200]
                for job_id, state in conn.execute(
                    sa.select(jobs.c.id, jobs.c.job_state).where(jobs.c.job_state.in_(chunk))
                ):
                    f = by_state.get(bytes(state))
                    if f is not None:
                        found.append((str(job_id), f))
        if not found:
            return []  # rewritten or removed meanwhile: nothing to protect
        cols = ["job_id", "jobs_table", "next_run_time", "job_state", "archived_at", "error_type", "error"]
        cols.append("archived_by")
        out: list[tuple[Archived, _Failure]] = []
        with engine.begin() as conn:
            for job_id, f in found:
                match = sa.and_(jobs.c.id == job_id, jobs.c.job_state == f.job_state)
                copy = sa.select(
                    jobs.c.id,
                    sa.literal(self.jobs_table, sa.Unicode(255)),
                    jobs.c.next_run_time,
                    jobs.c.job_state,
                    sa.literal(now, sa.Float(25)),
                    sa.literal(f.error_type, sa.Unicode(255)),
                    sa.literal(f.error, sa.UnicodeText()),
                    sa.literal(self.archived_by, sa.Unicode(255)),
                ).where(match)
                conn.execute(sa.insert(arch).from_select(cols, copy))
                if conn.execute(sa.delete(jobs).where(match)).rowcount:
                    out.append((Archived(job_id, f.error_type, f.error, now), f))
        return out


def _failure(job_state: bytes, exc: BaseException) -> _Failure:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return _Failure(bytes(job_state), type(exc).__qualname__[:255], text[:MAX_ERROR], exc)


def _sql_stores(scheduler_or_store: Any) -> list[Any]:
    try:
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    except ImportError:  # pragma: no cover - SQLAlchemy missing
        return []
    if isinstance(scheduler_or_store, SQLAlchemyJobStore):
        return [scheduler_or_store]
    stores = getattr(scheduler_or_store, "_jobstores", {}) or {}
    return [s for s in stores.values() if isinstance(s, SQLAlchemyJobStore)]


def install_guard(
    scheduler_or_store: Any,
    *,
    clock: Callable[[], float] = time.time,
    on_archived: Callable[[list[Archived]], None] | None = None,
) -> list[DeletionGuard]:
    """Guard every ``SQLAlchemyJobStore`` of a scheduler (or one store). Idempotent;
    install before ``scheduler.start()`` so the first wake-up is covered. Returns the
    guards (empty when there is no SQLAlchemy job store)."""
    return [DeletionGuard(s, clock=clock, on_archived=on_archived).install() for s in _sql_stores(scheduler_or_store)]


__all__ = ["UNRESTORABLE", "Archived", "DeletionGuard", "install_guard"]
