"""``schedtui diff``: which jobs were added, removed or changed between two sets of rows
(the live store and a backup, or two backups), judged on decoded fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from schedtui.core.model import JobInfo
from schedtui.core.store.rawrows import RawRow

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class JobChange:
    """One job that differs. ``old``/``new`` are the decoded rows (None when absent)."""

    job_id: str
    kind: ChangeKind
    old: JobInfo | None
    new: JobInfo | None
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True)
class StoreDiff:
    old_label: str
    new_label: str
    changes: tuple[JobChange, ...]
    unchanged: int

    def of(self, kind: ChangeKind) -> tuple[JobChange, ...]:
        return tuple(c for c in self.changes if c.kind == kind)


def _when(value: datetime | None) -> str:
    if value is None:
        return "paused"
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _trigger(job: JobInfo) -> str:
    if job.trigger is None:
        return f"undecodable ({job.finding.code})" if job.finding else "?"
    from schedtui.core.describe import technical_description

    try:
        return technical_description(job.trigger)
    except Exception:
        return job.trigger.kind


def _fields(old: JobInfo, new: JobInfo) -> tuple[FieldChange, ...]:
    out: list[FieldChange] = []

    def cmp(name: str, a: object, b: object) -> None:
        if a != b:
            out.append(FieldChange(name, str(a), str(b)))

    cmp("trigger", _trigger(old), _trigger(new))
    cmp("paused", old.paused, new.paused)
    cmp("next_run", _when(old.next_run_time), _when(new.next_run_time))
    cmp("args", old.args_repr, new.args_repr)
    cmp("kwargs", old.kwargs_repr, new.kwargs_repr)
    cmp("func", old.func, new.func)
    cmp("name", old.name, new.name)
    cmp("executor", old.executor, new.executor)
    for attr in ("misfire_grace_time", "coalesce", "max_instances"):
        cmp(attr, getattr(old, attr), getattr(new, attr))
    return tuple(out)


def diff_rows(old: Sequence[RawRow], new: Sequence[RawRow], *, old_label: str, new_label: str) -> StoreDiff:
    """Compare by id; rows with identical bytes and column are unchanged without decoding."""
    from schedtui.core.decode import decode_rows

    old_by = {r.id: r for r in old}
    new_by = {r.id: r for r in new}
    differ = [
        i
        for i in old_by.keys() | new_by.keys()
        if i not in old_by
        or i not in new_by
        or old_by[i].job_state != new_by[i].job_state
        or old_by[i].next_run_time != new_by[i].next_run_time
    ]
    differ.sort()
    to_decode = [old_by[i] for i in differ if i in old_by] + [new_by[i] for i in differ if i in new_by]
    decoded = decode_rows([(r.id, r.next_run_time, r.job_state) for r in to_decode])
    n_old = sum(1 for i in differ if i in old_by)
    old_info = {j.id: j for j in decoded[:n_old]}
    new_info = {j.id: j for j in decoded[n_old:]}
    changes = []
    for i in differ:
        if i not in old_by:
            changes.append(JobChange(i, "added", None, new_info[i]))
        elif i not in new_by:
            changes.append(JobChange(i, "removed", old_info[i], None))
        else:
            f = _fields(old_info[i], new_info[i])
            if not f:  # same decoded fields, other bytes (re-pickled): still a change in storage
                f = (
                    FieldChange("job_state", f"{len(old_by[i].job_state)} bytes", f"{len(new_by[i].job_state)} bytes"),
                )
            changes.append(JobChange(i, "changed", old_info[i], new_info[i], f))
    unchanged = len(old_by.keys() & new_by.keys()) - sum(1 for c in changes if c.kind == "changed")
    return StoreDiff(old_label, new_label, tuple(changes), unchanged)
