"""``schedtui check``: read the store, judge every job, ask the other components.

Judgement of one active job (see the hazards notes): ``lag = now - next_run_time``;
on time while ``lag <= tolerance``; late (WARNING) while within its grace; overdue
(CRITICAL: the scheduler is not running it) beyond. The grace is the job's
``misfire_grace_time`` with a floor the user sets (default 60 s).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from schedtui.core.clock import Clock, system_clock
from schedtui.core.describe import describe_trigger
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.health import (
    CheckContext,
    CheckOptions,
    Component,
    HealthReport,
    Line,
    Perf,
    Provider,
    Status,
    worst,
)
from schedtui.core.jobtable import HAS_AND, PAUSED, JobTable, has_and, instant_us, marks
from schedtui.core.model import JobInfo, StoreSnapshot, Target

#: The finding of a row the read ran out of time for (``decode.sandbox``).
NOT_DECODED_IN_TIME = "time-budget"

#: A job this little past its time is on time: the scheduler's loop wakes with some slack.
ON_TIME_TOLERANCE = 2.0


def job_grace(job: JobInfo, options: CheckOptions) -> float:
    mgt = job.misfire_grace_time
    return max(float(mgt) if mgt is not None else 0.0, options.grace_floor)


def job_lag(job: JobInfo, now: datetime, options: CheckOptions) -> tuple[Status, float | None]:
    """(status, lag in seconds) of one job; paused jobs are OK with no lag."""
    if job.next_run_time is None:
        return Status.OK, None
    lag = (now - job.next_run_time).total_seconds()
    if lag <= ON_TIME_TOLERANCE:
        return Status.OK, lag
    if lag <= job_grace(job, options):
        return Status.WARNING, lag
    return Status.CRITICAL, lag


def describe(job: JobInfo) -> str:
    """The trigger sentence of a job (or why there is none)."""
    if job.finding is not None:
        return f"undecodable: {job.finding.message}"
    if job.trigger is None:
        opaque = next((n.message for n in job.notes if n.code == "aps4-trigger"), None)
        return opaque or "no trigger"
    return describe_trigger(job.trigger)


def judge_store(snapshot: StoreSnapshot, now: datetime, options: CheckOptions) -> list[Component]:
    """The database, jobstore and scheduler (jobs) components of a snapshot."""
    jobs = snapshot.jobs
    database = Component(
        name="database",
        status=Status.OK,
        summary=f"{snapshot.dialect} reachable ({snapshot.latency_ms:.1f} ms to read {len(jobs)} rows)",
        lines=(
            Line(f"URL: {snapshot.target.safe_url}"),
            Line(f"Table: {snapshot.target.table_label}"),
        ),
        perfdata=(Perf("read_ms", round(snapshot.latency_ms, 1), "ms"),),
        data={
            "dialect": snapshot.dialect,
            "url": snapshot.target.safe_url,
            "table": snapshot.target.table,
            "schema": snapshot.target.schema,
            "latency_ms": round(snapshot.latency_ms, 3),
        },
    )

    bad = snapshot.undecodable
    # rows the read ran out of time for are not known to be broken: said apart, not listed
    unread = sum(1 for j in bad if j.finding is not None and j.finding.code == NOT_DECODED_IN_TIME)
    broken = [j for j in bad if j.finding is not None and j.finding.code != NOT_DECODED_IN_TIME]
    store_lines = tuple(
        Line(f"{j.id}: {j.finding.message} [{j.finding.code}]", Status.WARNING)
        for j in broken[:_LIST_LIMIT]
        if j.finding
    )
    if len(broken) > _LIST_LIMIT:
        store_lines += (Line(f"… and {len(broken) - _LIST_LIMIT} more", Status.WARNING),)
    if unread:
        store_lines += (
            Line(
                f"{unread} rows not decoded within the read's time budget: give it more with "
                "--decode-budget SECONDS (SCHEDTUI_DECODE_BUDGET); with the probe cache on, the next check "
                "decodes only the rest",
                Status.WARNING,
            ),
        )
    parts = []
    if broken:
        parts.append(f"{len(broken)} undecodable (APScheduler deletes such rows when they come due)")
    if unread:
        parts.append(f"{unread} not decoded in time")
    store_summary = f"{len(jobs)} rows, " + (", ".join(parts) if parts else "all decoded")
    jobstore = Component(
        name="jobstore",
        status=Status.WARNING if bad else Status.OK,
        summary=store_summary,
        lines=store_lines,
        perfdata=(Perf("undecodable", len(bad), warn=0),),
        data={
            "rows": len(jobs),
            "undecodable": [
                {"id": j.id, "code": j.finding.code, "message": j.finding.message} for j in bad if j.finding
            ],
        },
    )
    return [database, jobstore, judge_jobs(jobs, now, options)]


_LIST_LIMIT = 20


def and_trigger_hang(job: JobInfo, lookahead: int = 3) -> int | None:
    """How many more runs before APScheduler's own ``AndTrigger`` spins forever on this
    job's trigger (its children stop agreeing), or None. Bounded work; and-triggers only."""
    spec = job.trigger
    if spec is None or job.next_run_time is None or not has_and(spec):
        return None
    from schedtui.core.schedule import fire_times

    try:
        listing = fire_times(spec, job.next_run_time, lookahead)
    except ValueError:
        return None
    return len(listing.times) if listing.stalled else None


def _job_list(
    title: str, status: Status | None, jobs: Sequence[JobInfo], at: list[int], now: datetime, options: CheckOptions
) -> Line:
    """A titled line with one child per job ``jobs[i]`` for ``i`` in ``at`` (``id: trigger →
    countdown``), at most 20 (only those are rebuilt from a ``JobTable``)."""
    from schedtui.core.vocab import job_countdown

    children = tuple(
        Line(f"{j.id}: {describe(j)} → {job_countdown(j, now, options)}", status)
        for j in (jobs[i] for i in at[:_LIST_LIMIT])
    )
    if len(at) > _LIST_LIMIT:
        children += (Line(f"… and {len(at) - _LIST_LIMIT} more"),)
    return Line(title, status, children=children)


#: Flags byte -> 1 where the and-trigger bit is set, else 0.
_AND_BIT = bytes(1 if b & HAS_AND else 0 for b in range(256))


def judge_jobs(jobs: Sequence[JobInfo], now: datetime, options: CheckOptions) -> Component:
    """The scheduler component: counts, upcoming jobs, late and overdue jobs.

    Judged on ``core.jobtable.marks`` (each job's next run as exact UTC microseconds, its
    grace, its and-trigger bit), so a ``JobTable`` rebuilds only the jobs it lists; the
    arithmetic is ``job_lag``'s (``timedelta.total_seconds`` is microseconds / 10**6)."""
    from schedtui.core.vocab import overdue_summary

    m = marks(jobs)
    instants, graces, flags = m.instants, m.graces, m.flags
    now_us = instant_us(now)
    tolerance_us = int(ON_TIME_TOLERANCE * 1_000_000)
    floor = options.grace_floor
    paused = 0
    late_at: list[int] = []
    overdue_at: list[int] = []
    hazard_at: list[int] = []
    upcoming_at: list[int] = []  # the first on-time jobs, in the given order
    wanted = max(options.upcoming, 0)
    if isinstance(jobs, JobTable):
        # A table is in instant order, paused jobs last: the on-time and paused jobs are
        # ranges found by bisection, and only the lagging ones are looked at one by one
        # (the same lists as the loop below gives).
        first_paused = bisect.bisect_left(instants, PAUSED)
        paused = len(instants) - first_paused
        cut = bisect.bisect_left(instants, now_us - tolerance_us, 0, first_paused)
        upcoming_at = list(range(cut, min(first_paused, cut + wanted)))
        for i in range(cut):
            if (now_us - instants[i]) / 1_000_000 <= max(graces[i], floor):
                late_at.append(i)
            else:
                overdue_at.append(i)
        marked = bytes(flags[:first_paused]).translate(_AND_BIT)
        at = marked.find(1)
        while at >= 0:
            hazard_at.append(at)
            at = marked.find(1, at + 1)
    else:
        for i, t in enumerate(instants):
            if t == PAUSED:
                paused += 1
                continue
            if flags[i] & HAS_AND:
                hazard_at.append(i)
            lag_us = now_us - t
            if lag_us <= tolerance_us:  # on time, the common case
                if len(upcoming_at) < wanted:
                    upcoming_at.append(i)
                continue
            if lag_us / 1_000_000 <= max(graces[i], floor):
                late_at.append(i)
            else:
                overdue_at.append(i)
    ids = m.ids
    active = len(jobs) - paused
    upcoming = [jobs[i] for i in upcoming_at]
    hazards = [(j, n) for j in (jobs[i] for i in hazard_at) if (n := and_trigger_hang(j)) is not None]
    lines: list[Line] = [Line(f"Tasks: {len(jobs)} total, {active} active, {paused} paused")]
    if options.upcoming > 0:
        lines.append(_job_list(f"Upcoming Tasks (Next {len(upcoming)}):", None, jobs, upcoming_at, now, options))
    if overdue_at:
        title = f"Overdue Tasks ({len(overdue_at)}): not run beyond their grace"
        lines.append(_job_list(title, Status.CRITICAL, jobs, overdue_at, now, options))
    if late_at:
        title = f"Late Tasks ({len(late_at)}): past due, within their grace"
        lines.append(_job_list(title, Status.WARNING, jobs, late_at, now, options))
    if hazards:
        lines.append(
            Line(
                f"Trigger hazards ({len(hazards)}): APScheduler 3.x's AndTrigger loops forever on these",
                Status.WARNING,
                children=tuple(
                    Line(f"{j.id}: {describe(j)}: the scheduler thread hangs after {n} more run(s)", Status.WARNING)
                    for j, n in hazards[:_LIST_LIMIT]
                ),
            )
        )

    if not jobs:
        status, summary = Status.WARNING, "no jobs in the table"
    elif overdue_at:
        status = Status.CRITICAL
        summary = overdue_summary(len(overdue_at), len(jobs))
    elif late_at:
        status, summary = Status.WARNING, f"{len(late_at)} of {len(jobs)} tasks late"
    elif hazards:
        status = Status.WARNING
        summary = f"{len(hazards)} of {len(jobs)} tasks have an and-trigger that hangs APScheduler"
    else:
        status, summary = Status.OK, f"{len(jobs)} tasks, none overdue"

    return Component(
        name="scheduler",
        status=status,
        summary=summary,
        lines=tuple(lines),
        perfdata=(
            Perf("jobs", len(jobs)),
            Perf("paused", paused),
            Perf("late", len(late_at), warn=0),
            Perf("overdue", len(overdue_at), warn=0, crit=0),
        ),
        data={
            "total": len(jobs),
            "active": active,
            "paused": paused,
            "late": [ids[i] for i in late_at],
            "overdue": [ids[i] for i in overdue_at],
            "upcoming": [j.id for j in upcoming],
            "hazards": [j.id for j, _ in hazards],
        },
    )


def default_providers() -> list[Provider]:
    """The components beyond the jobs table (companion heartbeat/history, backups, archive)."""
    from schedtui.core.aps4.leases import leases_component
    from schedtui.core.archive import archive_component
    from schedtui.core.backup import backups_component
    from schedtui.core.heartbeat import heartbeat_component
    from schedtui.core.history import history_component

    return [heartbeat_component, history_component, leases_component, backups_component, archive_component]


def _failure_component(error: SchedtuiError) -> Component:
    status = Status.CRITICAL if error.kind is not ErrorKind.CONFIG else Status.UNKNOWN
    name = "jobstore" if error.kind is ErrorKind.TABLE else "database"
    return Component(name=name, status=status, summary=error.message, data={"error": error.kind.value})


def run_check(
    target: Target,
    *,
    clock: Clock = system_clock,
    options: CheckOptions | None = None,
    reader: object | None = None,
    providers: Sequence[Provider] | None = None,
    reprs: bool = True,
) -> HealthReport:
    """Read, judge and ask every provider. Never raises for database problems: they
    become CRITICAL components. Configuration errors (bad URL) are raised. ``reprs``:
    whether the jobs carry their args/kwargs reprs (the JSON report prints them; the
    judgement never reads them)."""
    from schedtui.core import quickcheck
    from schedtui.core.store.reader import open_reader

    options = options or CheckOptions()
    # a plain SQLite file without any of the other components' tables: those components
    # are judged without an engine (SQLAlchemy is never imported)
    light = providers is None and quickcheck.tables_absent(target)
    own_reader = reader is None
    rdr: Any = (
        reader
        if hasattr(reader, "read")
        else open_reader(target, clock=clock, incremental=False, reprs=reprs, lazy=not reprs)
    )
    components: list[Component] = []
    snapshot: StoreSnapshot | None = None
    engine = None
    try:
        try:
            snapshot = rdr.read()
            engine = None if light else rdr.engine
        except SchedtuiError as exc:
            if exc.kind in (ErrorKind.CONFIG, ErrorKind.DRIVER, ErrorKind.UNSUPPORTED):
                raise
            components.append(_failure_component(exc))
            if exc.kind is ErrorKind.TABLE and not light:
                engine = rdr.engine
        now = clock()
        if snapshot is not None:
            components.extend(judge_store(snapshot, now, options))
        ctx = CheckContext(target=target, now=now, options=options, snapshot=snapshot, engine=engine)
        if providers is None:
            providers = quickcheck.providers() if light else default_providers()
        for provider in providers:
            try:
                comp = provider(ctx)
            except SchedtuiError as exc:
                comp = Component(
                    name=getattr(provider, "__name__", "component"), status=Status.UNKNOWN, summary=exc.message
                )
            except Exception as exc:
                comp = Component(
                    name=getattr(provider, "__name__", "component").replace("_component", ""),
                    status=Status.UNKNOWN,
                    summary=f"could not be checked: {type(exc).__name__}: {exc}",
                )
            if comp is not None:
                components.append(comp)
    finally:
        if own_reader:
            rdr.close()
    components = _with_scheduler_state(components)
    status = worst([c.status for c in components])
    return HealthReport(
        status=status,
        summary=_summary(components, status),
        components=tuple(_order(components)),
        checked_at=clock(),
        target=target,
        snapshot=snapshot,
    )


def _with_scheduler_state(components: list[Component]) -> list[Component]:
    """Word the scheduler line the way the seed does, using the heartbeat when there is one."""
    sched = next((c for c in components if c.name == "scheduler"), None)
    if sched is None:
        return components
    beat = next((c for c in components if c.name == "heartbeat"), None)
    state = beat.data.get("state") if beat is not None else None
    total = sched.data.get("total", 0)
    tasks = f"{total} task" + ("" if total == 1 else "s")
    if state in ("running", "several"):
        head = f"Scheduler running with {tasks}"
    elif state == "paused":
        head = f"Scheduler paused with {tasks}"
    elif state in ("stale", "shutdown"):
        head = f"Scheduler not running ({tasks})"
    else:
        head = None
    if sched.status is Status.OK and head is not None:
        summary = head
    elif head is not None:
        summary = f"{head}: {sched.summary}"
    else:
        summary = f"{sched.summary} (no heartbeat: scheduler state inferred from overdue jobs)"
    status = sched.status
    if beat is not None and state in ("stale", "shutdown", "paused"):
        status = worst([sched.status, beat.status])  # "not running" never wears a ✓
    return [replace(c, summary=summary, status=status) if c is sched else c for c in components]


_ORDER = ["scheduler", "heartbeat", "history", "jobstore", "database", "backups"]


def _order(components: list[Component]) -> list[Component]:
    return sorted(components, key=lambda c: _ORDER.index(c.name) if c.name in _ORDER else len(_ORDER))


def _summary(components: Sequence[Component], status: Status) -> str:
    bad = [c for c in components if c.status is not Status.OK]
    if not bad:
        main = next((c for c in components if c.name == "scheduler"), None)
        return main.summary if main else "all components OK"
    bad.sort(key=lambda c: c.status.rank, reverse=True)
    return "; ".join(f"{c.name}: {c.summary}" for c in bad)
