"""Put single jobs back, byte for byte, from a verified backup or the guard's archive.

- A plan first (``plan_from_backup`` / ``plan_from_archive``): which rows would be
  written, each decoded for the confirmation; ids that exist in the live store are
  skipped (never overwritten).
- Then ``apply_plan``: with a fresh companion heartbeat each row becomes a ``restore``
  command the scheduler applies in its own process (it first checks that its own code
  can restore the row, then inserts it unchanged and wakes up); otherwise a direct
  INSERT that fails, changing nothing, when a row with that id exists (the primary key is
  the compare-and-swap), in one transaction with its audit record in
  ``schedtui_commands`` (and, for an archived row, ``restored_at`` in the archive).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from schedtui.core import tables as T
from schedtui.core.clock import Clock, system_clock
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import JobInfo, Target
from schedtui.core.store.rawrows import RawRow
from schedtui.core.store.txn import write_txn
from schedtui.core.undelete.sources import BackupSource

Mode = Literal["companion", "direct", "dry-run"]
Outcome = Literal["restored", "pending", "conflict", "failed", "would-restore"]
#: Seconds a restore command may wait for the companion.
COMMAND_DEADLINE = 60.0


@dataclass(frozen=True, slots=True)
class RestoreItem:
    """One row to write back, exactly as it was stored."""

    job_id: str
    next_run_time: float | None
    job_state: bytes
    origin: str
    info: JobInfo
    archive_id: int | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.job_state).hexdigest()


@dataclass(frozen=True, slots=True)
class Skipped:
    job_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class RestorePlan:
    source: str
    items: tuple[RestoreItem, ...]
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True, slots=True)
class RestoreOutcome:
    job_id: str
    status: Outcome
    mode: Mode
    message: str
    command_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("restored", "pending", "would-restore")


# --------------------------------------------------------------------------- plans


def live_ids(target: Target) -> set[str]:
    from schedtui.core.store.db import jobs_table, read_engine, translate_error

    engine = read_engine(target)
    t = jobs_table(target)
    try:
        with engine.connect() as conn:
            return {str(r[0]) for r in conn.execute(sa.select(t.c.id))}
    except sa.exc.SQLAlchemyError as exc:
        raise translate_error(exc, target) from None
    finally:
        engine.dispose()


def _decode(rows: Sequence[RawRow]) -> list[JobInfo]:
    from schedtui.core.decode import decode_rows

    return decode_rows([(r.id, r.next_run_time, r.job_state) for r in rows])


def plan_from_backup(
    target: Target, source: BackupSource, *, job_ids: Sequence[str] = (), missing: bool = False
) -> RestorePlan:
    """Rows of ``source`` to put back: ``job_ids``, or with ``missing`` every job of the
    backup the live store no longer has."""
    live = live_ids(target)
    by_id = {r.id: r for r in source.rows}
    skipped: list[Skipped] = []
    wanted: list[RawRow] = []
    if missing:
        wanted = [r for r in source.rows if r.id not in live]
    for job_id in dict.fromkeys(job_ids):
        row = by_id.get(job_id)
        if row is None:
            skipped.append(Skipped(job_id, f"not in {source.label}"))
        elif job_id in live:
            skipped.append(Skipped(job_id, "a job with this id exists in the live store; not overwritten"))
        elif row not in wanted:
            wanted.append(row)
    infos = _decode(wanted)
    items = tuple(
        RestoreItem(r.id, r.next_run_time, r.job_state, f"backup {source.label}", info)
        for r, info in zip(wanted, infos, strict=True)
    )
    return RestorePlan(source.label, items, tuple(skipped))


def plan_from_archive(target: Target, job_ids: Sequence[str], *, engine: Engine | None = None) -> RestorePlan:
    """The newest archived, not yet restored, copy of each job in ``job_ids``."""
    from schedtui.core.archive import archived_state, read_archived
    from schedtui.core.store.db import read_engine

    eng = engine or read_engine(target)
    try:
        archived = read_archived(eng, target.schema, table=target.table, include_restored=False)
        live = live_ids(target)
        skipped: list[Skipped] = []
        rows: list[tuple[RawRow, int]] = []
        for job_id in dict.fromkeys(job_ids):
            match = [a for a in archived if a.job_id == job_id]
            if not match:
                skipped.append(Skipped(job_id, "not in the archive (or already restored)"))
                continue
            if job_id in live:
                skipped.append(Skipped(job_id, "a job with this id exists in the live store; not overwritten"))
                continue
            got = archived_state(eng, match[0].archive_id, target.schema)
            if got is None:
                skipped.append(Skipped(job_id, "the archived row vanished"))
                continue
            rows.append((RawRow(job_id, got[0], got[1]), match[0].archive_id))
    finally:
        if engine is None:
            eng.dispose()
    infos = _decode([r for r, _ in rows])
    items = tuple(
        RestoreItem(r.id, r.next_run_time, r.job_state, f"archive #{aid}", info, aid)
        for (r, aid), info in zip(rows, infos, strict=True)
    )
    return RestorePlan(T.ARCHIVED_JOBS, items, tuple(skipped))


# --------------------------------------------------------------------------- applying


def _requester(requested_by: str | None) -> tuple[str, str]:
    from schedtui.core.control import _requester as req

    return req(requested_by)


def command_params(target: Target, item: RestoreItem) -> str:
    """What a ``restore`` command carries: the row itself (base64) and its hash."""
    return json.dumps(
        {
            "jobs_table": target.table_label,
            "next_run_time": item.next_run_time,
            "job_state": base64.b64encode(item.job_state).decode("ascii"),
            "sha256": item.sha256,
            "origin": item.origin,
            "archive_id": item.archive_id,
        }
    )


def apply_plan(
    target: Target,
    plan: RestorePlan,
    *,
    clock: Clock = system_clock,
    requested_by: str | None = None,
    engine: Engine | None = None,
    dry_run: bool = False,
) -> tuple[RestoreOutcome, ...]:
    """Write the plan's rows (see the module docstring). Raises ``SchedtuiError`` for
    database problems; per-row outcomes otherwise."""
    if dry_run:
        return tuple(
            RestoreOutcome(i.job_id, "would-restore", "dry-run", f"would write {i.origin}") for i in plan.items
        )
    from schedtui.core.control import _check_exists, fresh_companions
    from schedtui.core.store.db import translate_error, write_engine

    own = engine is None
    if own:
        _check_exists(target)
    eng = engine or write_engine(target)
    try:
        now = clock()
        if plan.items and fresh_companions(eng, target, now):
            return _submit(eng, target, plan.items, now, requested_by)
        return tuple(_direct(eng, target, item, now, requested_by) for item in plan.items)
    except sa.exc.SQLAlchemyError as exc:
        raise translate_error(exc, target) from None
    finally:
        if own:
            eng.dispose()


def _submit(
    engine: Engine, target: Target, items: Iterable[RestoreItem], now: datetime, requested_by: str | None
) -> tuple[RestoreOutcome, ...]:
    c = T.tables_for(target.schema).commands
    user, host = _requester(requested_by)
    ts = now.timestamp()
    out = []
    with engine.begin() as conn:
        for item in items:
            cmd_id = conn.execute(
                sa.insert(c)
                .values(
                    job_id=item.job_id,
                    action="restore",
                    params=command_params(target, item),
                    requested_by=user,
                    requested_host=host,
                    requested_at=ts,
                    deadline_at=ts + COMMAND_DEADLINE,
                    status="pending",
                )
                .returning(c.c.id)
            ).scalar_one()
            out.append(
                RestoreOutcome(
                    item.job_id,
                    "pending",
                    "companion",
                    f"restore requested from {item.origin}; the scheduler applies it on its next heartbeat",
                    int(cmd_id),
                )
            )
    return tuple(out)


def _direct(
    engine: Engine, target: Target, item: RestoreItem, now: datetime, requested_by: str | None
) -> RestoreOutcome:
    from schedtui.core.store.db import jobs_table

    t = jobs_table(target)
    tabs = T.tables_for(target.schema)
    with engine.begin() as conn:  # the audit table only: no companion tables are faked
        tabs.commands.create(conn, checkfirst=True)
    user, host = _requester(requested_by)
    ts = now.timestamp()
    applier = f"schedtui-direct:{socket.gethostname()[:200]}:{os.getpid()}"
    try:
        with write_txn(engine) as conn:
            exists = conn.execute(sa.select(t.c.id).where(t.c.id == item.job_id)).first() is not None
            if exists:
                return RestoreOutcome(
                    item.job_id, "conflict", "direct", "a job with this id exists now; nothing written"
                )
            conn.execute(
                sa.insert(t).values(id=item.job_id, next_run_time=item.next_run_time, job_state=item.job_state)
            )
            params = json.loads(command_params(target, item))
            params.pop("job_state")  # the audit keeps the hash, not a second copy of the bytes
            conn.execute(
                sa.insert(tabs.commands).values(
                    job_id=item.job_id,
                    action="restore",
                    params=json.dumps(params),
                    requested_by=user,
                    requested_host=host,
                    requested_at=ts,
                    deadline_at=ts,
                    status="applied",
                    applied_by=applier,
                    applied_at=ts,
                    result=f"restored byte for byte from {item.origin} (written directly; no live companion)",
                )
            )
            if item.archive_id is not None:
                a = tabs.archived_jobs
                conn.execute(
                    sa.update(a).where(a.c.id == item.archive_id).values(restored_at=ts, restored_by=user[:255])
                )
    except sa.exc.IntegrityError:
        return RestoreOutcome(item.job_id, "conflict", "direct", "a job with this id exists now; nothing written")
    when = _when(item.next_run_time)
    return RestoreOutcome(item.job_id, "restored", "direct", f"restored from {item.origin} (next run {when})")


def _when(ts: float | None) -> str:
    if ts is None:
        return "none: paused"
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def check_ids(ids: Sequence[str]) -> None:
    for job_id in ids:
        if not job_id or len(job_id) > 191:
            raise SchedtuiError(f"not a job id: {job_id[:40]!r}", ErrorKind.CONFIG)


__all__ = [
    "RestoreItem",
    "RestoreOutcome",
    "RestorePlan",
    "Skipped",
    "apply_plan",
    "check_ids",
    "command_params",
    "plan_from_archive",
    "plan_from_backup",
]
