"""Reading the companion's heartbeats, and judging them for ``schedtui check``.

Read-only: takes an Engine or Connection and never writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from schedtui.core import tables as T
from schedtui.core.clock import from_epoch
from schedtui.core.health import CheckContext, Component, Line, Perf, Status
from schedtui.core.jobbeat import ago, job_beat

#: Slack added to "three intervals" before a heartbeat counts as stale (seconds).
FRESH_SLACK = 10.0
FRESH_INTERVALS = 3


@contextmanager
def connection(bind: Any) -> Iterator[sa.Connection]:
    """A connection from an Engine, or the Connection itself."""
    if isinstance(bind, sa.Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


#: Appended to the heartbeat's ``version`` by a companion that does not apply commands
#: (``attach(..., commands=False)``): job control then writes directly instead of queuing.
COMMANDS_OFF = "; commands off"


@dataclass(frozen=True, slots=True)
class HeartbeatInfo:
    """One scheduler's heartbeat row."""

    scheduler_id: str
    name: str | None
    host: str | None
    pid: int | None
    started_at: datetime | None
    last_seen: datetime | None
    interval_s: float
    state: str
    jobs_table: str | None
    version: str | None

    @property
    def accepts_commands(self) -> bool:
        """Whether this scheduler applies job-control commands (companions older than the
        marker are assumed to)."""
        return not (self.version or "").endswith(COMMANDS_OFF)

    def age(self, now: datetime) -> float | None:
        """Seconds since the last heartbeat (None when never seen)."""
        return None if self.last_seen is None else (now - self.last_seen).total_seconds()

    def max_age(self, max_age: float | None = None) -> float:
        return max_age if max_age is not None else FRESH_INTERVALS * self.interval_s + FRESH_SLACK

    def is_fresh(self, now: datetime, max_age: float | None = None) -> bool:
        """Seen within ``max_age`` seconds (default: three intervals plus slack)."""
        age = self.age(now)
        return age is not None and age <= self.max_age(max_age)

    def as_dict(self, now: datetime, max_age: float | None = None) -> dict[str, Any]:
        return {
            "scheduler_id": self.scheduler_id,
            "name": self.name,
            "host": self.host,
            "pid": self.pid,
            "started_at": self.started_at,
            "last_seen": self.last_seen,
            "age_s": None if self.age(now) is None else round(self.age(now) or 0.0, 3),
            "interval_s": self.interval_s,
            "state": self.state,
            "fresh": self.is_fresh(now, max_age),
            "jobs_table": self.jobs_table,
            "version": self.version,
        }


def read_heartbeats(bind: Any, schema: str | None = None) -> tuple[HeartbeatInfo, ...]:
    """All heartbeat rows, newest first; ``()`` when the table does not exist."""
    h = T.tables_for(schema).heartbeats
    with connection(bind) as conn:
        if not sa.inspect(conn).has_table(T.HEARTBEATS, schema=schema):
            return ()
        rows = conn.execute(sa.select(h).order_by(h.c.last_seen.desc())).all()
    return tuple(
        HeartbeatInfo(
            scheduler_id=r.scheduler_id,
            name=r.name,
            host=r.host,
            pid=r.pid,
            started_at=from_epoch(r.started_at),
            last_seen=from_epoch(r.last_seen),
            interval_s=float(r.interval_s or 5.0),
            state=r.state,
            jobs_table=r.jobs_table,
            version=r.version,
        )
        for r in rows
    )


def _matches(hb: HeartbeatInfo, table: str, schema: str | None) -> bool:
    if hb.jobs_table is None:
        return False
    return hb.jobs_table in {table, f"{schema}.{table}" if schema else table}


def _line(hb: HeartbeatInfo, now: datetime, max_age: float | None) -> Line:
    age = hb.age(now)
    seen = "never" if age is None else f"{ago(age)} ago"
    who = f"{hb.name or hb.scheduler_id} ({hb.host} pid {hb.pid})"
    if hb.state == "shutdown":
        status, what = Status.OK, f"shut down, last seen {seen}"
    elif hb.is_fresh(now, max_age):
        status, what = (Status.OK if hb.state == "running" else Status.WARNING), f"{hb.state}, heartbeat {seen}"
    else:
        status, what = Status.CRITICAL, f"gone: last heartbeat {seen} (state was {hb.state})"
    up = f", up since {hb.started_at:%Y-%m-%d %H:%M:%S} UTC" if hb.started_at else ""
    return Line(f"{who}: {what}{up}", status)


def heartbeat_component(ctx: CheckContext) -> Component | None:
    """The ``heartbeat`` component: is a scheduler loop alive on this jobs table?

    Without the companion's heartbeat for this table, a heartbeat job in the store (Aegis's
    ``scheduler_heartbeat``) is judged instead. None when there is neither.
    """
    if ctx.engine is None:
        return None
    schema = ctx.target.schema
    by_job = job_beat(ctx)
    if not T.installed(ctx.engine, schema, T.HEARTBEATS):
        return by_job
    now, max_age = ctx.now, ctx.options.heartbeat_max_age
    beats = read_heartbeats(ctx.engine, schema)
    table = ctx.target.table
    mine = [b for b in beats if _matches(b, table, schema)]
    others = [b for b in beats if not _matches(b, table, schema)]
    data: dict[str, Any] = {
        "schedulers": [b.as_dict(now, max_age) for b in mine],
        "other_tables": len(others),
    }
    if not mine and by_job is not None:
        return by_job
    if not mine:
        note = f" ({len(others)} heartbeat(s) for other tables)" if others else ""
        return Component(
            name="heartbeat",
            status=Status.WARNING,
            summary=f"No scheduler heartbeat for table {table}{note}: is the companion attached?",
            lines=(Line("Add it in the scheduler's process: attach(scheduler) (see `schedtui history --help`)"),),
            data={**data, "state": "none"},
        )
    live = [b for b in mine if b.state != "shutdown" and b.is_fresh(now, max_age)]
    lines = tuple(_line(b, now, max_age) for b in mine[:10])
    newest = mine[0]
    newest_age = newest.age(now) or 0.0
    perf = (Perf("heartbeat_age", round(newest_age, 1), "s", crit=round(newest.max_age(max_age), 1), min=0),)
    if len(live) > 1:
        status = Status.WARNING
        summary = (
            f"{len(live)} schedulers running on table {table} "
            "(sharing one job store between schedulers is unsupported by APScheduler)"
        )
        state = "several"
    elif len(live) == 1:
        b = live[0]
        age = b.age(now) or 0.0
        if b.state == "paused":
            status, summary, state = Status.WARNING, f"Scheduler paused (process alive, seen {ago(age)} ago)", "paused"
        else:
            status, state = Status.OK, "running"
            summary = f"Scheduler running (heartbeat {ago(age)} ago, every {b.interval_s:g}s)"
    elif newest.state == "shutdown":
        status, state = Status.CRITICAL, "shutdown"
        summary = f"Scheduler shut down cleanly {ago(newest_age)} ago (no scheduler running)"
    else:
        status, state = Status.CRITICAL, "stale"
        summary = (
            f"Scheduler not running: last heartbeat {ago(newest_age)} ago "
            f"(state was {newest.state}; the process disappeared without shutting down)"
        )
    data["state"] = state
    data["age_s"] = round(newest_age, 3)
    return Component(name="heartbeat", status=status, summary=summary, lines=lines, perfdata=perf, data=data)
