"""The companion's own tables (SQLAlchemy Core), shared by the companion, the readers and
job control.

They live next to the jobs table (same schema), all prefixed ``schedtui_``. Timestamps
are Float UTC epoch seconds, like APScheduler's ``next_run_time``: portable and indexable.

- ``schedtui_meta``: key/value, holds ``schema_version``.
- ``schedtui_runs``: one row per job run (written by the companion's recorder).
- ``schedtui_heartbeats``: one row per scheduler process (written by its heartbeat job).
- ``schedtui_commands``: requests from the console, applied by the scheduler's heartbeat.
- ``schedtui_job_archive``: raw jobs-table rows saved before a forced replacement.
- ``schedtui_archived_jobs``: rows APScheduler could not restore, moved here byte for byte
  by the companion's deletion guard in the transaction that deletes them.

This module never imports Textual or decodes anything; the companion may import it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

SCHEMA_VERSION = 1
PREFIX = "schedtui_"

META = "schedtui_meta"
RUNS = "schedtui_runs"
HEARTBEATS = "schedtui_heartbeats"
COMMANDS = "schedtui_commands"
JOB_ARCHIVE = "schedtui_job_archive"
ARCHIVED_JOBS = "schedtui_archived_jobs"

#: Values of ``schedtui_runs.outcome``.
OUTCOMES = ("success", "error", "missed", "max_instances", "unfinished", "running")
#: Outcomes counted as failures (the job started and did not finish well).
FAILURE_OUTCOMES = ("error", "unfinished")
#: Outcomes of a run that is over (everything but ``running``).
FINAL_OUTCOMES = ("success", "error", "missed", "max_instances", "unfinished")

#: Values of ``schedtui_heartbeats.state``.
HEARTBEAT_STATES = ("running", "paused", "shutdown")
#: ``schedtui_commands.action`` and ``.status``.
COMMAND_ACTIONS = ("pause", "resume", "run_now", "remove", "restore")
COMMAND_STATUSES = ("pending", "applied", "failed", "expired")

#: Bounds the companion applies before writing (characters).
MAX_ERROR_MESSAGE = 2000
MAX_TRACEBACK = 8000


@dataclass(frozen=True)
class CompanionTables:
    """The companion's tables for one schema (``None`` = the connection's default)."""

    schema: str | None
    metadata: sa.MetaData
    meta: sa.Table
    runs: sa.Table
    heartbeats: sa.Table
    commands: sa.Table
    job_archive: sa.Table
    archived_jobs: sa.Table

    @property
    def all(self) -> tuple[sa.Table, ...]:
        return (self.meta, self.runs, self.heartbeats, self.commands, self.job_archive, self.archived_jobs)


def _build(schema: str | None) -> CompanionTables:
    md = sa.MetaData(schema=schema)
    meta = sa.Table(
        META,
        md,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(255), nullable=False),
    )
    runs = sa.Table(
        RUNS,
        md,
        sa.Column("id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Unicode(191), nullable=False),
        sa.Column("job_name", sa.Unicode(255)),
        sa.Column("func", sa.Unicode(255)),
        sa.Column("jobstore", sa.Unicode(64)),
        sa.Column("scheduled_at", sa.Float(25)),
        sa.Column("submitted_at", sa.Float(25)),
        sa.Column("started_at", sa.Float(25)),
        sa.Column("finished_at", sa.Float(25)),
        sa.Column("duration_s", sa.Float(25)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error_type", sa.Unicode(255)),
        sa.Column("error_message", sa.UnicodeText()),
        sa.Column("traceback", sa.UnicodeText()),
        sa.Column("host", sa.Unicode(255)),
        sa.Column("pid", sa.Integer()),
        sa.Column("scheduler_id", sa.Unicode(255)),
        # A job's recent runs (and the recorder's updates by natural key); covering for
        # the duration window of the percentiles.
        sa.Index("ix_schedtui_runs_job_sched", "job_id", "scheduled_at", "outcome", "duration_s"),
        # Failures (or runs) in the last 24 h.
        sa.Index("ix_schedtui_runs_outcome_finished", "outcome", "finished_at"),
        # Per-job duration percentiles and counts per outcome (covering).
        sa.Index("ix_schedtui_runs_job_outcome_duration", "job_id", "outcome", "duration_s"),
        # A job's last success / last failure.
        sa.Index("ix_schedtui_runs_job_outcome_sched", "job_id", "outcome", "scheduled_at"),
    )
    heartbeats = sa.Table(
        HEARTBEATS,
        md,
        sa.Column("scheduler_id", sa.Unicode(255), primary_key=True),
        sa.Column("name", sa.Unicode(255)),
        sa.Column("host", sa.Unicode(255)),
        sa.Column("pid", sa.Integer()),
        sa.Column("started_at", sa.Float(25)),
        sa.Column("last_seen", sa.Float(25), index=True),
        sa.Column("interval_s", sa.Float(25)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("jobs_table", sa.Unicode(255)),
        sa.Column("version", sa.String(32)),
    )
    commands = sa.Table(
        COMMANDS,
        md,
        sa.Column("id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Unicode(191), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("params", sa.UnicodeText(), nullable=True),
        sa.Column("requested_by", sa.Unicode(255)),
        sa.Column("requested_host", sa.Unicode(255)),
        sa.Column("requested_at", sa.Float(25), nullable=False),
        sa.Column("deadline_at", sa.Float(25)),
        sa.Column("status", sa.String(16), nullable=False, default="pending"),
        sa.Column("applied_by", sa.Unicode(255), nullable=True),
        sa.Column("applied_at", sa.Float(25), nullable=True),
        sa.Column("result", sa.UnicodeText(), nullable=True),
        sa.Index("ix_schedtui_commands_status_requested", "status", "requested_at"),
    )
    job_archive = sa.Table(
        JOB_ARCHIVE,
        md,
        sa.Column("id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Unicode(191), nullable=False, index=True),
        sa.Column("jobs_table", sa.Unicode(255)),
        sa.Column("next_run_time", sa.Float(25)),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.Column("archived_at", sa.Float(25), nullable=False),
        sa.Column("reason", sa.Unicode(255)),
        sa.Column("archived_by", sa.Unicode(255)),
    )
    archived_jobs = sa.Table(
        ARCHIVED_JOBS,
        md,
        sa.Column("id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Unicode(191), nullable=False, index=True),
        sa.Column("jobs_table", sa.Unicode(255)),
        sa.Column("next_run_time", sa.Float(25)),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.Column("archived_at", sa.Float(25), nullable=False, index=True),
        sa.Column("error_type", sa.Unicode(255)),
        sa.Column("error", sa.UnicodeText()),
        sa.Column("archived_by", sa.Unicode(255)),
        # set when `schedtui restore --archived` put the job back (the row is kept)
        sa.Column("restored_at", sa.Float(25)),
        sa.Column("restored_by", sa.Unicode(255)),
    )
    return CompanionTables(schema, md, meta, runs, heartbeats, commands, job_archive, archived_jobs)


_cache: dict[str | None, CompanionTables] = {}
_cache_lock = threading.Lock()


def tables_for(schema: str | None = None) -> CompanionTables:
    """The (cached) table objects for ``schema``."""
    with _cache_lock:
        found = _cache.get(schema)
        if found is None:
            found = _cache[schema] = _build(schema)
        return found


def metadata_for(schema: str | None = None) -> tuple[sa.MetaData, CompanionTables]:
    """``(MetaData, tables)`` for ``schema``."""
    t = tables_for(schema)
    return t.metadata, t


def create_all(bind: Engine | Connection, schema: str | None = None) -> CompanionTables:
    """Create the tables that are missing and record ``schema_version``. Idempotent, and
    safe when two processes do it at the same time (the loser re-checks)."""
    t = tables_for(schema)
    for attempt in range(3):
        try:
            if isinstance(bind, Connection):
                _create(bind, t)
            else:
                with bind.begin() as conn:
                    _create(conn, t)
            return t
        except sa.exc.DBAPIError:
            if attempt == 2:
                raise
    return t


def _create(conn: Connection, t: CompanionTables) -> None:
    t.metadata.create_all(conn, checkfirst=True)
    row = conn.execute(sa.select(t.meta.c.value).where(t.meta.c.key == "schema_version")).first()
    if row is None:
        conn.execute(sa.insert(t.meta).values(key="schema_version", value=str(SCHEMA_VERSION)))


def installed(bind: Engine | Connection, schema: str | None = None, *names: str) -> bool:
    """True when every table in ``names`` (default: runs and heartbeats) exists."""
    names = names or (RUNS, HEARTBEATS)

    def check(conn: Connection) -> bool:
        insp = sa.inspect(conn)
        return all(insp.has_table(n, schema=schema) for n in names)

    if isinstance(bind, Connection):
        return check(bind)
    with bind.connect() as conn:
        return check(conn)


def schema_version(bind: Engine | Connection, schema: str | None = None) -> int | None:
    """The recorded schema version, or None when the tables are not there."""
    t = tables_for(schema)

    def read(conn: Connection) -> Any:
        if not sa.inspect(conn).has_table(META, schema=schema):
            return None
        return conn.execute(sa.select(t.meta.c.value).where(t.meta.c.key == "schema_version")).scalar()

    value = read(bind) if isinstance(bind, Connection) else _with_conn(bind, read)
    return int(value) if value is not None else None


def _with_conn(engine: Engine, fn: Any) -> Any:
    with engine.connect() as conn:
        return fn(conn)
