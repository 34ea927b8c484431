"""Applies ``schedtui_commands`` inside the scheduler's process, from its heartbeat.

Every change goes through the scheduler's own API (``pause_job``, ``modify_job``,
``remove_job``, the executor's ``submit_job``), which holds the scheduler's job-store lock
around the read and the write, so nothing races with its processing loop and no pickle
is re-encoded by us.

- Claiming: a batch of pending, unclaimed commands is taken by setting ``applied_by``, in
  one transaction serialized across appliers (SQLite write lock, PostgreSQL advisory
  lock); jobs whose commands another applier holds are skipped. With several schedulers
  on one table, exactly one applies each command, and a job's commands are applied in
  id order.
- Outcome: ``applied`` or ``failed`` with a one-line ``result``, ``applied_at`` and
  ``applied_by`` (this scheduler's id).
- Deadlines: pending commands past ``deadline_at`` become ``expired`` (never applied later).
- Run now: runs one copy of the job on its executor, now, with no misfire limit; the
  stored schedule (``next_run_time``, the trigger) is not touched, and the job's
  ``max_instances`` still applies. A paused job stays paused.
- Resume: like ``scheduler.resume_job`` (next fire time from the trigger, now), except
  that a finished trigger leaves the job paused and fails the command instead of
  removing the job.

Install with ``install(companion)``; the companion calls the applier on each heartbeat.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from schedtui.core import tables as T
from schedtui.core.store.txn import write_txn

logger = logging.getLogger("schedtui.companion.commands")

#: Most commands applied in one heartbeat, and the time budget for them (seconds).
MAX_PER_TICK = 500
TICK_BUDGET = 2.0
MAX_RESULT = 500
#: Seconds past its deadline after which a claimed, unfinished command is expired.
STALE_CLAIM = 120.0
#: PostgreSQL advisory lock key serializing claims ("schedtui" in ASCII, truncated).
_LOCK_KEY = 0x7363686564747569


class CommandApplier:
    """The tick hook. ``applier(companion)`` (or ``applier.tick()``) applies what is due."""

    def __init__(
        self,
        scheduler: Any,
        engine: Any,
        *,
        scheduler_id: str,
        schema: str | None = None,
        jobs_table: str | None = None,
        jobstore: str | None = None,
        max_per_tick: int = MAX_PER_TICK,
        budget: float = TICK_BUDGET,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.scheduler = scheduler
        self.engine = engine
        self.scheduler_id = scheduler_id
        self.tables = T.tables_for(schema)
        self.jobs_table = jobs_table
        self.jobstore = jobstore
        self.max_per_tick = max_per_tick
        self.budget = budget
        self.clock = clock
        self.applied = 0
        self._table_ok = False

    def __call__(self, companion: Any = None) -> None:
        self.tick()

    # ------------------------------------------------------------------ the loop
    def tick(self) -> int:
        """Expire, then claim a batch, apply it in order and record the outcomes, until
        nothing is claimable or the budget is spent. Returns how many were applied."""
        if not self._ensure_table() or not self._any_pending():
            return 0  # the usual case: one cheap read per heartbeat, no write
        self.expire()
        done = 0
        started = time.monotonic()
        while done < self.max_per_tick and time.monotonic() - started < self.budget:
            batch = self._claim_batch(min(100, self.max_per_tick - done))
            if not batch:
                break
            outcomes = []
            for cmd_id, job_id, action, params in batch:
                status, result = self.apply(job_id, action, params)
                outcomes.append((cmd_id, status, result, self.clock()))
            self._finish(outcomes)
            done += len(batch)
        self.applied += done
        return done

    def _ensure_table(self) -> bool:
        if self._table_ok:
            return True
        try:
            with self.engine.connect() as conn:
                self._table_ok = sa.inspect(conn).has_table(T.COMMANDS, schema=self.tables.schema)
        except Exception:
            return False
        return self._table_ok

    def _any_pending(self) -> bool:
        c = self.tables.commands
        with self.engine.connect() as conn:
            return conn.execute(sa.select(c.c.id).where(c.c.status == "pending").limit(1)).first() is not None

    def expire(self) -> int:
        """Pending commands past their deadline become ``expired`` (claimed ones only after
        :data:`STALE_CLAIM` more seconds: their applier died while applying them)."""
        c = self.tables.commands
        now = self.clock()
        late = sa.or_(
            sa.and_(c.c.applied_by.is_(None), c.c.deadline_at < now),
            c.c.deadline_at < now - STALE_CLAIM,
        )
        with write_txn(self.engine) as conn:
            expired: int = conn.execute(
                sa.update(c)
                .where(c.c.status == "pending", late)
                .values(
                    status="expired",
                    applied_at=now,
                    applied_by=sa.func.coalesce(c.c.applied_by, self.scheduler_id),
                    result="not applied before its deadline",
                )
            ).rowcount
            return expired

    def _claim_batch(self, limit: int) -> list[tuple[int, str, str, str | None]]:
        """Take up to ``limit`` pending commands in one transaction, serialized with every
        other applier (SQLite: the write lock; PostgreSQL: an advisory lock). A job whose
        commands another applier holds is skipped, so each job's commands are applied by
        one applier at a time, in id order."""
        c = self.tables.commands
        other = c.alias("other")
        held_elsewhere = sa.exists().where(
            other.c.job_id == c.c.job_id,
            other.c.status == "pending",
            other.c.applied_by.is_not(None),
            other.c.applied_by != self.scheduler_id,
        )
        now = self.clock()
        claimable = [
            c.c.status == "pending",
            c.c.applied_by.is_(None),
            sa.or_(c.c.deadline_at.is_(None), c.c.deadline_at >= now),
            ~held_elsewhere,
        ]
        with write_txn(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            rows = conn.execute(
                sa.select(c.c.id, c.c.job_id, c.c.params).where(*claimable).order_by(c.c.id).limit(limit)
            ).all()
            # Only commands for this scheduler's jobs table (several tables may share the
            # commands table). A job skipped here blocks nothing: it is not claimed.
            ids = [r.id for r in rows if self._mine(r.params)]
            if not ids:
                return []
            conn.execute(sa.update(c).where(c.c.id.in_(ids), *claimable).values(applied_by=self.scheduler_id))
            claimed = conn.execute(
                sa.select(c.c.id, c.c.job_id, c.c.action, c.c.params)
                .where(c.c.id.in_(ids), c.c.applied_by == self.scheduler_id, c.c.status == "pending")
                .order_by(c.c.id)
            ).all()
        return [(r.id, r.job_id, r.action, r.params) for r in claimed]

    def _mine(self, params: str | None) -> bool:
        if not params or not self.jobs_table:
            return True
        try:
            wanted = json.loads(params).get("jobs_table")
        except (ValueError, AttributeError):
            return True
        return not wanted or wanted == self.jobs_table

    def _finish(self, outcomes: list[tuple[int, str, str, float]]) -> None:
        c = self.tables.commands
        with write_txn(self.engine) as conn:
            for cmd_id, status, result, at in outcomes:
                conn.execute(
                    sa.update(c)
                    .where(c.c.id == cmd_id, c.c.applied_by == self.scheduler_id, c.c.status == "pending")
                    .values(status=status, applied_at=at, result=result[:MAX_RESULT])
                )

    # ------------------------------------------------------------------ the actions
    def apply(self, job_id: str, action: str, params: str | None = None) -> tuple[str, str]:
        """Apply one action through the scheduler's API: ``(status, result)``."""
        try:
            if action == "restore":
                from schedtui.companion.restore import apply_restore

                return apply_restore(self, job_id, params)
            fn = {
                "pause": self._pause,
                "resume": self._resume,
                "run_now": self._run_now,
                "remove": self._remove,
            }.get(action)
            if fn is None:
                return "failed", f"unknown action {action!r}"
            return fn(job_id)
        except Exception as exc:
            logger.warning("schedtui: command %s %s failed: %s: %s", action, job_id, type(exc).__name__, exc)
            return "failed", f"{type(exc).__name__}: {exc}"

    def _lookup(self, job_id: str) -> tuple[Any, str] | None:
        from apscheduler.jobstores.base import JobLookupError

        with self.scheduler._jobstores_lock:
            try:
                found: tuple[Any, str] = self.scheduler._lookup_job(job_id, self.jobstore)
                return found
            except JobLookupError:
                return None

    def _pause(self, job_id: str) -> tuple[str, str]:
        found = self._lookup(job_id)
        if found is None:
            return "failed", "no such job"
        job, alias = found
        if job.next_run_time is None:
            return "applied", "already paused; unchanged"
        self.scheduler.pause_job(job_id, alias)
        return "applied", "paused"

    def _resume(self, job_id: str) -> tuple[str, str]:
        found = self._lookup(job_id)
        if found is None:
            return "failed", "no such job"
        job, alias = found
        if job.next_run_time is not None:
            return "applied", f"not paused; unchanged (next run {_iso(job.next_run_time)})"
        with self.scheduler._jobstores_lock:
            now = datetime.now(self.scheduler.timezone)
            nrt = job.trigger.get_next_fire_time(None, now)
            if nrt is None:
                return "failed", "the trigger will not fire again; left paused (remove it instead)"
            self.scheduler.modify_job(job_id, alias, next_run_time=nrt)
        return "applied", f"resumed; next run {_iso(nrt)}"

    def _run_now(self, job_id: str) -> tuple[str, str]:
        from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
        from apscheduler.executors.base import MaxInstancesReachedError
        from apscheduler.job import Job

        found = self._lookup(job_id)
        if found is None:
            return "failed", "no such job"
        job, alias = found
        once = Job.__new__(Job)
        once.__setstate__(job.__getstate__())
        once._scheduler = self.scheduler
        once._jobstore_alias = alias
        once.misfire_grace_time = None  # it is run now; never "missed"
        executor = self.scheduler._lookup_executor(job.executor)
        now = datetime.now(UTC)
        try:
            executor.submit_job(once, [now])
        except MaxInstancesReachedError:
            return "failed", f"already running (max_instances={job.max_instances}); not started"
        self.scheduler._dispatch_event(JobSubmissionEvent(EVENT_JOB_SUBMITTED, job.id, alias, [now]))
        return "applied", f"started on executor {job.executor!r}; schedule unchanged"

    def _remove(self, job_id: str) -> tuple[str, str]:
        from apscheduler.jobstores.base import JobLookupError

        found = self._lookup(job_id)
        if found is None:
            return "failed", "no such job"
        _, alias = found
        try:
            self.scheduler.remove_job(job_id, alias)
        except JobLookupError:
            return "failed", "no such job"
        return "applied", "removed"


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "none"


def install(companion: Any, *, jobstore: str | None = None, **kwargs: Any) -> CommandApplier | None:
    """Apply commands on every heartbeat of ``companion`` (an ``attach()`` result).

    ``jobstore``: the alias of the SQLAlchemy job store the commands address (default:
    every store, as ``scheduler.get_job`` searches). Returns None when the companion is
    disabled (no database).
    """
    if not getattr(companion, "enabled", False):
        return None
    companion.accepts_commands = True  # the next heartbeat says so
    for hook in getattr(companion, "_tick_hooks", ()):
        if isinstance(hook, CommandApplier):  # idempotent: attach() installs one already
            return hook
    applier = CommandApplier(
        companion.scheduler,
        companion.engine,
        scheduler_id=companion.scheduler_id,
        schema=companion.schema,
        jobs_table=companion.jobs_table,
        jobstore=jobstore,
        **kwargs,
    )
    companion.add_tick_hook(applier)
    return applier
