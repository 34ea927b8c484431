"""``Aps4Reader``: an APScheduler 4 store's schedules as a ``StoreSnapshot``, read-only.

The same interface as ``store.JobStoreReader`` (``read``, ``close``, ``reset``, ``engine``,
``dialect``, ``raw_state``): each schedule is one ``JobInfo`` (``id`` the schedule id,
``name`` its task, ``next_run_time`` its ``next_fire_time``, None when paused). Every read
checks ``metadata.schema_version`` first.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from schedtui.core.aps4 import layout as L
from schedtui.core.aps4 import payload
from schedtui.core.clock import Clock, system_clock
from schedtui.core.errors import SchedtuiError
from schedtui.core.model import DecodeFinding, JobInfo, StoreSnapshot, Target

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

#: ``JobInfo.notes`` codes this layout uses.
NOTE_TRIGGER = "aps4-trigger"
NOTE_LEASE = "aps4-lease"
NOTE_LEASE_EXPIRED = "aps4-lease-expired"
NOTE_PAUSED = "aps4-paused"
NOTE_COALESCE = "aps4-coalesce"
LAYOUT = "apscheduler4"


def _seconds(value: Any) -> float | None:
    delta = L.interval(value)
    return None if delta is None else delta.total_seconds()


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _iso(value: datetime | None) -> str:
    return "?" if value is None else value.isoformat().replace("+00:00", "Z")


def schedule_job(row: Any, task: Any | None, now: datetime | None = None) -> JobInfo:
    """One ``schedules`` row (and its task's row) as a ``JobInfo``; a lease that ended
    before ``now`` is noted as expired (``NOTE_LEASE_EXPIRED``)."""
    trigger, args, kwargs = (None if row[k] is None else bytes(row[k]) for k in ("trigger", "args", "kwargs"))
    kind, spec = payload.trigger_spec(trigger)
    paused = L.boolean(row["paused"])
    nft = L.fire_time(row["next_fire_time"])
    notes: list[DecodeFinding] = []
    if spec is None:
        notes.append(DecodeFinding(NOTE_TRIGGER, payload.opaque_trigger(kind)))
    if nft is None and not paused:
        notes.append(DecodeFinding(NOTE_PAUSED, "no next fire time (a finished schedule, or an unreadable value)"))
    if paused:
        notes.append(DecodeFinding(NOTE_PAUSED, f"paused (next fire time kept: {_iso(nft)})"))
    if row["acquired_by"] is not None:
        until = L.timestamp(row["acquired_until"])
        text = f"leased by scheduler {L.printable(row['acquired_by'], 80)} until {_iso(until)}"
        if now is not None and (until is None or until < now):
            notes.append(DecodeFinding(NOTE_LEASE_EXPIRED, text + ", expired"))
        else:
            notes.append(DecodeFinding(NOTE_LEASE, text))
    coalesce = None if row["coalesce"] is None else str(row["coalesce"])
    if coalesce is not None:
        notes.append(DecodeFinding(NOTE_COALESCE, f"coalesce policy: {L.printable(coalesce, 40)}"))
    grace = _seconds(row["misfire_grace_time"])
    if grace is None and task is not None:
        grace = _seconds(task["misfire_grace_time"])
    return JobInfo(
        id=str(row["id"]),
        next_run_time=None if paused else nft,
        state_size=sum(len(b) for b in (trigger, args, kwargs) if b is not None),
        name=str(row["task_id"]),
        func=None if task is None or task["func"] is None else str(task["func"]),
        trigger=spec,
        executor=None if row["job_executor"] is None else str(row["job_executor"]),
        args_repr=payload.args_repr(args, "()"),
        kwargs_repr=payload.args_repr(kwargs, "{}"),
        misfire_grace_time=grace,
        coalesce=None if coalesce is None else coalesce != "all",
        max_instances=None if task is None else _int(task["max_running_jobs"]),
        notes=tuple(notes),
    )


class Aps4Reader:
    """Reads an APScheduler 4 store's schedules; never writes."""

    layout = LAYOUT

    def __init__(self, target: Target, *, clock: Clock = system_clock, incremental: bool = True) -> None:
        from schedtui.core.store.place import place_of

        self.target = target
        self._clock = clock
        self._dialect = place_of(target).dialect
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self._dialect

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from schedtui.core.store.db import read_engine

            self._engine = read_engine(self.target)
        return self._engine

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def reset(self) -> None:
        """Nothing is cached: every read is complete."""

    def raw_state(self, job_id: str) -> bytes | None:
        """APScheduler 4 keeps no job_state pickle: there is nothing to disassemble."""
        return None

    def read(self) -> StoreSnapshot:
        from schedtui.core.store.reader import sorted_jobs

        with self._lock:
            started = time.perf_counter()
            try:
                with self.engine.connect() as conn:
                    L.check_version(conn, self.target.schema)
                    jobs = sorted_jobs(self._schedules(conn, self._clock()))
                    conn.rollback()
            except SchedtuiError:
                raise
            except Exception as exc:
                from schedtui.core.store.db import translate_error

                raise translate_error(exc, self.target) from exc
            return StoreSnapshot(
                target=self.target,
                dialect=self._dialect,
                read_at=self._clock(),
                latency_ms=(time.perf_counter() - started) * 1000.0,
                jobs=jobs,
            )

    def _schedules(self, conn: sa.Connection, now: datetime) -> list[JobInfo]:
        schema = self.target.schema
        s = L.raw_table("schedules", L.SCHEDULE_COLUMNS, schema)
        t = L.raw_table("tasks", L.TASK_COLUMNS, schema)
        tasks = {str(r._mapping["id"]): r._mapping for r in conn.execute(sa.select(t))}
        jobs: list[JobInfo] = []
        for r in conn.execute(sa.select(s).order_by(s.c.id)):
            m = r._mapping
            try:
                jobs.append(schedule_job(m, tasks.get(str(m["task_id"])), now))
            except Exception as exc:  # an odd value in one row is a finding, not a failed read
                jobs.append(
                    JobInfo(
                        id=str(m["id"]),
                        next_run_time=None,
                        state_size=0,
                        finding=DecodeFinding("aps4-bad-row", f"unreadable schedule row: {type(exc).__name__}"),
                    )
                )
        return jobs
