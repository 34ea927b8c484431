"""Job control: pause, resume, run now and remove, without losing an update.

Two modes, chosen per request:

- **companion** (a scheduler of this jobs table has a fresh heartbeat): a row goes into
  ``schedtui_commands``; the companion applies it from its heartbeat through the
  scheduler's own API and records the outcome (:func:`poll` reads it). Nothing here
  touches the jobs table.
- **direct** (no fresh heartbeat): pause and resume edit the row themselves. Only the
  pickled ``next_run_time`` changes (``core.pickle_patch``: every other byte stays), the
  column and the pickle change in one transaction, and the UPDATE is a compare-and-swap
  on the old bytes and column (``BEGIN IMMEDIATE`` on SQLite): a concurrent write makes
  it change nothing and the result is a ``conflict``. Run now and remove are refused
  (a remove can be forced).

APScheduler writes a processed job back unconditionally, so a pause written while a
scheduler is running that very job would be overwritten. A direct pause is therefore
written only while the job is not due within :data:`SAFETY_MARGIN` seconds (it waits for
the scheduler to move a due row first), and when the commit could have overlapped a run
it re-reads the row after that run and reports a conflict if the pause did not stick.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from schedtui.core import tables as T
from schedtui.core.clock import Clock, system_clock
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import JobInfo, Target
from schedtui.core.store.txn import write_txn

Action = Literal["pause", "resume", "run_now", "remove"]
Mode = Literal["companion", "direct"]
Status = Literal["pending", "applied", "failed", "conflict", "refused", "expired"]

ACTIONS: tuple[str, ...] = ("pause", "resume", "run_now", "remove")
#: Seconds a command may wait for a companion before it counts as expired.
COMMAND_DEADLINE = 60.0
#: A direct pause is written only while the job is due more than this many seconds later.
SAFETY_MARGIN = 0.5
#: How long a direct write waits for a due row to be moved by its scheduler (seconds).
DUE_WAIT = 5.0
#: After a commit that may have overlapped a run: wait this long past the run time, then verify.
SETTLE = 1.0
POLL_STEP = 0.05
#: Seconds past its deadline after which a claimed, unfinished command counts as expired
#: (its applier died while applying it). Same value as the companion's.
STALE_CLAIM = 120.0

#: A table whose next_run_time is a database datetime (django-apscheduler's ``DjangoJobStore``)
#: is edited only on these dialects (the value written the way Django's adapter writes it),
#: and only while the stored datetime is the pickle's own next run time to the millisecond
#: (a project with ``USE_TZ = False`` stores local times: refused).
DATETIME_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb")
DATETIME_TOLERANCE = 0.001
DATETIME_REFUSAL = (
    "this job store keeps next_run_time as a database datetime that schedtui does not edit on this "
    "database: nothing was written (pause or resume the job from the app: scheduler.pause_job)"
)
DATETIME_MISMATCH = (
    "the stored next_run_time is not the job's own next run time in UTC (a Django project with "
    "USE_TZ = False?): nothing was written"
)

_ACTION_WORDS = {"pause": "pause", "resume": "resume", "run_now": "run now", "remove": "remove"}


@dataclass(frozen=True, slots=True)
class ControlResult:
    """What happened to one request. ``command_id`` is set in companion mode."""

    job_id: str
    action: str
    mode: Mode
    status: Status
    message: str
    command_id: int | None = None
    #: The job's next run time after a direct resume (UTC).
    next_run_time: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("pending", "applied")

    @property
    def final(self) -> bool:
        return self.status != "pending"

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "action": self.action,
            "mode": self.mode,
            "status": self.status,
            "message": self.message,
            "command_id": self.command_id,
            "next_run_time": self.next_run_time,
        }


# --------------------------------------------------------------------------- engines


def _engine(target: Target) -> Engine:
    from schedtui.core.store.db import write_engine

    _check_exists(target)
    return write_engine(target)


def _check_exists(target: Target) -> None:
    """A write engine would create a missing SQLite file: refuse first."""
    from schedtui.core.store.place import place_of

    place = place_of(target)
    if place.is_sqlite:
        from schedtui.core.store.sqlite_light import require_file

        require_file(place.sqlite_path, place.safe_url)


def _check_table(conn: Connection, target: Target) -> None:
    if not sa.inspect(conn).has_table(target.table, schema=target.schema):
        from schedtui.core.store.db import _missing_table

        raise SchedtuiError(_missing_table(target), ErrorKind.TABLE)


def _translate(exc: BaseException, target: Target) -> SchedtuiError:
    from schedtui.core.store.db import translate_error

    return translate_error(exc, target)


def _jobs(target: Target) -> sa.Table:
    from schedtui.core.store.db import jobs_table

    return jobs_table(target)


# --------------------------------------------------------------------------- availability


def fresh_companions(engine: Engine, target: Target, now: datetime) -> list[Any]:
    """Heartbeats, fresh at ``now``, of running schedulers of this jobs table that apply
    commands (a companion attached with ``commands=False`` says it does not)."""
    from schedtui.core.heartbeat import read_heartbeats

    beats = read_heartbeats(engine, target.schema)
    wanted = {target.table_label, target.table}
    return [
        hb
        for hb in beats
        if hb.is_fresh(now)
        and hb.state == "running"
        and hb.accepts_commands
        and (hb.jobs_table is None or hb.jobs_table in wanted)
    ]


def availability(target: Target, job: JobInfo, heartbeat_fresh: bool, action: str) -> tuple[bool, str]:
    """Whether ``action`` is possible on ``job`` now, and why not (or what it will do)."""
    if action not in ACTIONS:
        return False, f"unknown action {action!r}"
    if heartbeat_fresh:
        if action == "pause" and job.paused:
            return False, "already paused"
        if action == "resume" and not job.paused:
            return False, "not paused"
        how = {
            "pause": "the scheduler pauses it",
            "resume": "the scheduler resumes it from its trigger",
            "run_now": "the scheduler runs it once now; its schedule stays as it is",
            "remove": "the scheduler removes it",
        }[action]
        return True, f"through the companion: {how}"
    if action == "run_now":
        return False, (
            "needs the schedtui companion in the scheduler (no fresh heartbeat): a run written "
            "to the table would be skipped as missed"
        )
    if action == "remove":
        return False, (
            "needs the schedtui companion in the scheduler (no fresh heartbeat); "
            "`schedtui remove --force` deletes the row directly"
        )
    if not job.decodable:
        return False, "this row could not be decoded safely; schedtui does not edit it"
    if action == "pause":
        return (False, "already paused") if job.paused else (True, "writes the row directly (no companion)")
    if not job.paused:
        return False, "not paused"
    if job.trigger is None:
        return False, "the trigger could not be read"
    return True, "writes the row directly (no companion); a sleeping scheduler notices at its next wake-up"


# --------------------------------------------------------------------------- submit / poll


def _requester(requested_by: str | None) -> tuple[str, str]:
    if requested_by is None:
        try:
            requested_by = getpass.getuser()
        except Exception:
            requested_by = os.environ.get("USER") or "unknown"
    return requested_by[:255], socket.gethostname()[:255]


def submit(
    target: Target,
    job_id: str,
    action: str,
    *,
    clock: Clock = system_clock,
    force: bool = False,
    requested_by: str | None = None,
    deadline: float = COMMAND_DEADLINE,
    engine: Engine | None = None,
) -> ControlResult:
    """Ask for ``action`` on ``job_id``: a command when a companion is live, else a
    direct edit (pause/resume) or a refusal (run now, remove unless ``force``).

    Never raises for a situation the user can act on: the result says what happened.
    Raises ``SchedtuiError`` for database problems (connect, missing table, lock).
    Blocking: a direct pause of a job about to run waits for its scheduler to finish with
    it (a few seconds at most); call it from a worker thread in a UI.
    """
    if action not in ACTIONS:
        raise SchedtuiError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})", ErrorKind.CONFIG)
    own = engine is None
    eng = engine or _engine(target)
    try:
        if own:
            with eng.connect() as conn:
                _check_table(conn, target)
        now = clock()
        if fresh_companions(eng, target, now):
            return _submit_command(eng, target, job_id, action, now, requested_by, deadline)
        if action in ("pause", "resume"):
            return DirectWriter(eng, target, clock=clock).apply(job_id, action)  # type: ignore[arg-type]
        if action == "remove" and force:
            return DirectWriter(eng, target, clock=clock).remove(job_id)
        job = JobInfo(id=job_id, next_run_time=None, state_size=0)
        _, reason = availability(target, job, False, action)
        return ControlResult(job_id, action, "direct", "refused", reason)
    except SchedtuiError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise _translate(exc, target) from None
    finally:
        if own:
            eng.dispose()


def _submit_command(
    engine: Engine,
    target: Target,
    job_id: str,
    action: str,
    now: datetime,
    requested_by: str | None,
    deadline: float,
) -> ControlResult:
    c = T.tables_for(target.schema).commands
    user, host = _requester(requested_by)
    ts = now.timestamp()
    with engine.begin() as conn:
        if not _job_exists(conn, target, job_id):
            return ControlResult(job_id, action, "companion", "failed", f"no job {job_id!r} in {target.table_label}")
        # inserted_primary_key, not RETURNING: MySQL has no INSERT ... RETURNING
        inserted = conn.execute(
            sa.insert(c).values(
                job_id=job_id,
                action=action,
                params=json.dumps({"jobs_table": target.table_label}),
                requested_by=user,
                requested_host=host,
                requested_at=ts,
                deadline_at=ts + deadline,
                status="pending",
            )
        )
        key = inserted.inserted_primary_key
        if key is None:
            raise SchedtuiError("the database did not return the new command's id", ErrorKind.INTERNAL)
        cmd_id = key[0]
    word = _ACTION_WORDS[action]
    return ControlResult(
        job_id,
        action,
        "companion",
        "pending",
        f"{word} requested; the scheduler applies it on its next heartbeat",
        int(cmd_id),
    )


def _job_exists(conn: Connection, target: Target, job_id: str) -> bool:
    t = _jobs(target)
    return conn.execute(sa.select(t.c.id).where(t.c.id == job_id)).first() is not None


def poll(
    target: Target,
    command_id: int,
    *,
    clock: Clock = system_clock,
    engine: Engine | None = None,
) -> ControlResult:
    """The state of a command. A pending, unclaimed command past its deadline is marked
    ``expired`` here (atomically: a companion can no longer apply it afterwards)."""
    own = engine is None
    eng = engine or _engine(target)
    c = T.tables_for(target.schema).commands
    try:
        now = clock().timestamp()
        with eng.begin() as conn:
            row = conn.execute(sa.select(c).where(c.c.id == command_id)).first()
            if row is None:
                raise SchedtuiError(f"no command {command_id}", ErrorKind.STATE)
            if _overdue(row, now):
                stale = c.c.deadline_at < now - STALE_CLAIM
                conn.execute(
                    sa.update(c)
                    .where(c.c.id == command_id, c.c.status == "pending", sa.or_(c.c.applied_by.is_(None), stale))
                    .values(
                        status="expired",
                        applied_at=now,
                        result="not applied before its deadline (no scheduler took it)",
                    )
                )
                row = conn.execute(sa.select(c).where(c.c.id == command_id)).first()
        return _command_result(row)
    except SchedtuiError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise _translate(exc, target) from None
    finally:
        if own:
            eng.dispose()


def _overdue(row: Any, now: float) -> bool:
    """Unclaimed past its deadline, or claimed by an applier that died long ago."""
    if row.status != "pending" or row.deadline_at is None:
        return False
    deadline: float = row.deadline_at
    if row.applied_by is None:
        return deadline < now
    return deadline < now - STALE_CLAIM


def _command_result(row: Any) -> ControlResult:
    word = _ACTION_WORDS.get(row.action, row.action)
    if row.status == "pending":
        msg = f"{word}: being applied by {row.applied_by}" if row.applied_by else f"{word}: waiting for the scheduler"
    elif row.status == "applied":
        msg = f"{word}: {row.result or 'applied'} (by {row.applied_by})"
    elif row.status == "failed":
        msg = f"{word} failed: {row.result or 'unknown error'} (by {row.applied_by})"
    else:
        msg = f"{word}: {row.result or 'expired'}"
    status: Status = row.status if row.status in ("pending", "applied", "failed", "expired") else "failed"
    return ControlResult(row.job_id, row.action, "companion", status, msg, int(row.id))


def wait(
    target: Target,
    result: ControlResult,
    timeout: float,
    *,
    clock: Clock = system_clock,
    engine: Engine | None = None,
) -> ControlResult:
    """Poll a companion command until it is final or ``timeout`` seconds passed."""
    if result.final or result.command_id is None:
        return result
    own = engine is None
    eng = engine or _engine(target)
    try:
        end = time.monotonic() + timeout
        while True:
            current = poll(target, result.command_id, clock=clock, engine=eng)
            if current.final or time.monotonic() >= end:
                return current
            time.sleep(0.1)
    finally:
        if own:
            eng.dispose()


# --------------------------------------------------------------------------- direct writes


@dataclass(frozen=True, slots=True)
class _Row:
    job_id: str
    next_run_time: float | None
    job_state: bytes
    #: the column as stored, for the compare-and-swap (datetime columns; else the float)
    raw_nrt: Any = None


def _wake_note(
    conn: Connection, target: Target, job_id: str, new_ts: float, now: datetime, nrt_sql: str | None = None
) -> str:
    """When a running scheduler will look at the resumed row."""
    if nrt_sql is None:
        t = _jobs(target)
        other = conn.execute(
            sa.select(sa.func.min(t.c.next_run_time)).where(t.c.next_run_time.is_not(None), t.c.id != job_id)
        ).scalar()
    else:
        from schedtui.core.store.place import place_of

        table = place_of(target).table_sql
        other = conn.execute(
            sa.text(f"SELECT min({nrt_sql}) FROM {table} WHERE next_run_time IS NOT NULL AND id != :id"),
            {"id": job_id},
        ).scalar()
        other = None if other is None else float(other)
    when = _fmt(datetime.fromtimestamp(new_ts, UTC))
    if other is None:
        return (
            f"next run {when}; no other job is scheduled, so a running scheduler notices only when "
            "something in its own process wakes it (or it restarts)"
        )
    if other <= new_ts:
        return f"next run {when}"
    wake = datetime.fromtimestamp(other, UTC)
    return (
        f"next run {when}; a running scheduler notices at its next wake-up, {_fmt(wake)} at the latest "
        "(a run due before then may be reported as missed)"
    )


def _fmt(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class DirectWriter:
    """Edits one row of the jobs table without a companion (pause, resume, forced remove)."""

    def __init__(
        self,
        engine: Engine,
        target: Target,
        *,
        clock: Clock = system_clock,
        margin: float = SAFETY_MARGIN,
        due_wait: float = DUE_WAIT,
    ) -> None:
        self.engine = engine
        self.target = target
        self.clock = clock
        self.margin = margin
        self.due_wait = due_wait
        self.sqlite = engine.dialect.name == "sqlite"
        #: next_run_time stored as a database datetime (django-apscheduler)
        self.datetime = self.datetime_column()
        self.table = _jobs(target) if not self.datetime else _raw_jobs(target)

    def datetime_column(self) -> bool:
        """Whether this table stores next_run_time as a datetime (django-apscheduler)."""
        from schedtui.core import columns

        try:
            with self.engine.connect() as conn:
                declared = columns.generic_declared(
                    conn, self.engine.dialect.name, self.target.table, self.target.schema
                )
        except sa.exc.SQLAlchemyError:
            return False  # the read that follows reports the problem
        return columns.is_datetime_type(declared)

    # ----- reading
    def read(self, job_id: str) -> _Row | None:
        t = self.table
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(t.c.id, t.c.next_run_time, t.c.job_state).where(t.c.id == job_id)).first()
        if r is None:
            return None
        if not self.datetime:
            return _Row(r.id, r.next_run_time, bytes(r.job_state), r.next_run_time)
        from schedtui.core.history.table import utc

        when = utc(r.next_run_time)
        if r.next_run_time is not None and when is None:
            raise SchedtuiError(f"unreadable next_run_time {str(r.next_run_time)[:40]!r}", ErrorKind.STATE)
        return _Row(r.id, None if when is None else when.timestamp(), bytes(r.job_state), r.next_run_time)

    def _column_value(self, value: datetime | None) -> Any:
        """The new column value: the float epoch, or a datetime as Django's adapter writes it
        (SQLite: ``str()`` of the naive UTC datetime; PostgreSQL: an aware UTC datetime;
        MySQL/MariaDB: the naive UTC datetime, as Django's MySQL backend does with USE_TZ)."""
        if value is None:
            return None
        if not self.datetime:
            return value.timestamp()
        if self.sqlite:
            return str(value.astimezone(UTC).replace(tzinfo=None))
        if self.engine.dialect.name in ("mysql", "mariadb"):
            return value.astimezone(UTC).replace(tzinfo=None)
        return value.astimezone(UTC)

    def _nrt_condition(self, row: _Row) -> Any:
        t = self.table
        return t.c.next_run_time.is_(None) if row.raw_nrt is None else t.c.next_run_time == row.raw_nrt

    def _wait_not_due(self, row: _Row) -> _Row | None:
        """A row due within the margin is being (or about to be) run by its scheduler, which
        writes it back unconditionally. Wait for that write (the row changes), up to
        ``due_wait`` past its run time. Returns the fresh row (or the same one after the
        wait: then no scheduler is processing it)."""
        limit = time.monotonic() + self.due_wait + max(0.0, (row.next_run_time or 0) - self.clock().timestamp())
        while time.monotonic() < limit:
            time.sleep(POLL_STEP)
            fresh = self.read(row.job_id)
            if fresh is None or fresh != row:
                return fresh
        return row

    # ----- the transaction
    def _cas(self, row: _Row, new_value: datetime | None, new_state: bytes) -> int:
        t = self.table
        cond = [t.c.id == row.job_id, t.c.job_state == row.job_state, self._nrt_condition(row)]
        stmt = sa.update(t).where(*cond).values(next_run_time=self._column_value(new_value), job_state=new_state)
        return self._write(stmt)

    def _write(self, stmt: Any) -> int:
        with write_txn(self.engine) as conn:
            return conn.execute(stmt).rowcount

    # ----- actions
    def apply(self, job_id: str, action: Literal["pause", "resume"]) -> ControlResult:
        from schedtui.core import pickle_patch as P

        def res(status: Status, message: str, nrt: datetime | None = None) -> ControlResult:
            return ControlResult(job_id, action, "direct", status, message, None, nrt)

        if self.datetime and self.engine.dialect.name not in DATETIME_DIALECTS:
            return res("refused", DATETIME_REFUSAL)
        for _attempt in range(3):
            row = self.read(job_id)
            if row is None:
                return res("failed", f"no job {job_id!r} in {self.target.table_label}")
            info = _decode(row)
            if info.finding is not None:
                return res("refused", f"the row could not be decoded safely ({info.finding.message}); not edited")
            if self.datetime and not _column_is_pickle(info):
                return res("refused", DATETIME_MISMATCH)
            if action == "pause" and row.next_run_time is None:
                return res("applied", "already paused; unchanged")
            if action == "resume" and row.next_run_time is not None:
                return res("applied", "not paused; unchanged")
            now = self.clock()
            if (
                action == "pause"
                and row.next_run_time is not None
                and row.next_run_time <= now.timestamp() + self.margin
            ):
                fresh = self._wait_not_due(row)
                if fresh != row:
                    continue  # the scheduler moved (or removed) it: start again from the new row
                # Nobody moved it: no scheduler is processing this row.
            try:
                if action == "pause":
                    new_value: datetime | None = None
                    share = False
                else:
                    new_value, share = self._resume_time(info, now)
                    if new_value is None:
                        return res(
                            "refused",
                            "the trigger will not fire again (APScheduler's resume would remove the job); left paused",
                        )
                new_state = P.set_next_run_time(row.job_state, new_value, share_run_date=share)
            except P.PatchError as exc:
                return res("refused", f"cannot edit this row safely: {exc.message}")
            except (SchedtuiError, ValueError, OverflowError) as exc:
                return res("refused", f"cannot compute the next run time: {exc}")
            # our own edit of bytes that just passed the canary: decoded in-process
            after = _decode(_Row(row.job_id, row.next_run_time, new_state), screened=True)
            if after.finding is not None or not _same_but_time(info, after, new_value):
                return res("refused", "the edited state did not decode to the intended change; not written")
            new_ts = None if new_value is None else new_value.timestamp()
            if self._cas(row, new_value, new_state) != 1:
                current = self.read(job_id)
                if current is None:
                    return res("conflict", "the job was removed meanwhile; nothing written")
                state = (
                    "paused"
                    if current.next_run_time is None
                    else f"next run {_fmt(datetime.fromtimestamp(current.next_run_time, UTC))}"
                )
                return res("conflict", f"the row changed meanwhile (now {state}); nothing written, try again")
            committed = self.clock().timestamp()
            if action == "pause" and row.next_run_time is not None and committed > row.next_run_time - self.margin:
                # The commit may have overlapped the scheduler running this job: check that
                # the pause survived its write-back.
                if not self._verify(job_id, new_state, row.next_run_time):
                    continue
            if action == "pause":
                return res("applied", "paused (written directly; the scheduler skips it from its next look)")
            assert new_value is not None
            with self.engine.connect() as conn:
                nrt_sql = None
                if self.datetime:
                    from schedtui.core import columns

                    nrt_sql = columns.expression(self.engine.dialect.name, "datetime")
                note = _wake_note(conn, self.target, job_id, new_ts or 0.0, now, nrt_sql)
            if new_value < now:
                note += (
                    "; that time has passed (APScheduler's resume gives a date trigger its run date): "
                    "the scheduler runs it if within misfire_grace_time, else reports it missed"
                )
            return res("applied", f"resumed (written directly); {note}", new_value.astimezone(UTC))
        return res("conflict", "the scheduler kept rewriting the job; nothing stuck, try again")

    def _verify(self, job_id: str, written: bytes, run_ts: float) -> bool:
        until = time.monotonic() + max(0.0, run_ts - self.clock().timestamp()) + SETTLE
        while time.monotonic() < until:
            time.sleep(POLL_STEP)
            current = self.read(job_id)
            if current is None or current.job_state != written:
                return False
        current = self.read(job_id)
        return current is not None and current.job_state == written

    def _resume_time(self, info: JobInfo, now: datetime) -> tuple[datetime | None, bool]:
        from schedtui.core.schedule import resume_next_run_time

        spec = info.trigger
        if spec is None:
            raise SchedtuiError("the trigger could not be read", ErrorKind.STATE)
        value = resume_next_run_time(spec, now)
        share = spec.kind == "date" and value is not None and spec.run_date is not None and value == spec.run_date
        return value, share

    def remove(self, job_id: str) -> ControlResult:
        """Forced remove without a companion: deletes the row only while it is not due
        (so a scheduler is not in the middle of running it), CAS on the read bytes."""

        def res(status: Status, message: str) -> ControlResult:
            return ControlResult(job_id, "remove", "direct", status, message)

        if self.datetime and self.engine.dialect.name not in DATETIME_DIALECTS:
            return res("refused", DATETIME_REFUSAL)

        warning = (
            "a running scheduler keeps no copy of stored jobs, but if it was about to run this job it "
            "may log an error; prefer the companion"
        )
        for _attempt in range(3):
            row = self.read(job_id)
            if row is None:
                return res("failed", f"no job {job_id!r} in {self.target.table_label}")
            if row.next_run_time is not None and row.next_run_time <= self.clock().timestamp() + self.margin:
                fresh = self._wait_not_due(row)
                if fresh != row:
                    continue
            t = self.table
            cond = [t.c.id == job_id, t.c.job_state == row.job_state, self._nrt_condition(row)]
            if self._write(sa.delete(t).where(*cond)) == 1:
                return res("applied", f"removed (forced, written directly): {warning}")
        return res("conflict", "the row kept changing; nothing deleted, try again")


def _raw_jobs(target: Target) -> sa.Table:
    """The jobs table with next_run_time read and compared as stored (a datetime column)."""
    return sa.Table(
        target.table,
        sa.MetaData(),
        sa.Column("id", sa.Unicode(255), primary_key=True),
        sa.Column("next_run_time", sa.types.NullType()),
        sa.Column("job_state", sa.LargeBinary, nullable=False),
        schema=target.schema,
    )


def _column_is_pickle(info: JobInfo) -> bool:
    """The datetime column and the pickled next_run_time are the same instant (ms)."""
    a, b = info.next_run_time, info.state_next_run_time
    if a is None or b is None:
        return a is None and b is None
    return abs((a - b).total_seconds()) <= DATETIME_TOLERANCE


def _decode(row: _Row, *, screened: bool = False) -> JobInfo:
    """The stored row decoded in the sandbox (a warm decode worker; stored bytes are never
    unpickled in this process): a row whose unpickling would never end is refused, not hung
    on. ``screened`` (bytes derived from a row that passed, by our byte-faithful edit) is
    decoded there too."""
    from schedtui.core.decode import decode_row

    return decode_row(row.job_id, row.next_run_time, row.job_state)


def _same_but_time(before: JobInfo, after: JobInfo, value: datetime | None) -> bool:
    """The decoded state changed only in ``next_run_time`` (to ``value``)."""
    fields = (
        "id",
        "name",
        "func",
        "executor",
        "args_repr",
        "kwargs_repr",
        "misfire_grace_time",
        "coalesce",
        "max_instances",
        "protocol",
    )
    if any(getattr(before, f) != getattr(after, f) for f in fields):
        return False
    if _spec_key(before.trigger) != _spec_key(after.trigger):
        return False
    got = after.state_next_run_time
    if value is None or got is None:
        return value is None and got is None
    return got == value and got.utcoffset() == value.astimezone(got.tzinfo).utcoffset()


def _spec_key(spec: Any) -> Any:
    """A TriggerSpec comparable across two decodes: time zone objects (which may be
    stand-ins without equality) replaced by their names and kinds."""
    if spec is None:
        return None
    import dataclasses

    return dataclasses.replace(
        spec,
        tz=(type(spec.tz).__name__, spec.timezone) if spec.tz is not None else None,
        start_date=_dt_key(spec.start_date),
        end_date=_dt_key(spec.end_date),
        run_date=_dt_key(spec.run_date),
        children=tuple(_spec_key(c) for c in spec.children),
    )


def _dt_key(value: Any) -> Any:
    if not isinstance(value, datetime):
        return value
    return (value.timestamp(), value.utcoffset(), value.fold, type(value.tzinfo).__name__)


def describe_action(action: str) -> str:
    return _ACTION_WORDS.get(action, action)


__all__ = [
    "ACTIONS",
    "ControlResult",
    "DirectWriter",
    "availability",
    "describe_action",
    "fresh_companions",
    "poll",
    "submit",
    "wait",
]
