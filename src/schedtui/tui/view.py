"""The jobs list as rows: grouping, sorting and filtering, with no Textual in sight.

``build_rows`` turns a snapshot's jobs into the flat list of lines the jobs widget shows
(group headers followed by their jobs when expanded). It is pure, so tests and the
benchmark can call it directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from schedtui.core.model import JobInfo
from schedtui.tui.fmt import module_of

GroupBy = Literal["state", "module", "trigger"]
SortBy = Literal["next", "id", "duration"]

GROUPINGS: tuple[GroupBy, ...] = ("state", "module", "trigger")
SORTS: tuple[SortBy, ...] = ("next", "id", "duration")
GROUP_LABELS = {"state": "state", "module": "function module", "trigger": "trigger kind"}
SORT_LABELS = {"next": "next run", "id": "id", "duration": "last duration"}
STATE_ORDER = ("overdue", "upcoming", "paused", "undecodable")
#: Lag past which a job counts as overdue when the checker is not available.
DEFAULT_GRACE = 60.0


@dataclass(frozen=True, slots=True)
class Row:
    """A line of the list: a group header (``job`` None) or a job."""

    group: str
    job: JobInfo | None = None
    count: int = 0

    @property
    def key(self) -> str:
        return f"g:{self.group}" if self.job is None else f"j:{self.job.id}"


def _on_time_judge():  # noqa: ANN202
    """``job -> bool`` (on time?) from the checker, or None when it is not available."""
    try:
        from schedtui.core.checker import job_lag
        from schedtui.core.health import CheckOptions, Status
    except ImportError:
        return None
    options = CheckOptions()
    return lambda job, now: job_lag(job, now, options)[0] == Status.OK


def job_state(job: JobInfo, now: datetime, judge=None) -> str:  # noqa: ANN001
    """overdue, upcoming, paused or undecodable."""
    if job.finding is not None:
        return "undecodable"
    if job.next_run_time is None:
        return "paused"
    if judge is not None:
        try:
            return "upcoming" if judge(job, now) else "overdue"
        except Exception:  # noqa: BLE001 - odd data: judge by the column alone
            pass
    grace = max(job.misfire_grace_time or 0.0, DEFAULT_GRACE)
    return "overdue" if (now - job.next_run_time).total_seconds() > grace else "upcoming"


def group_of(job: JobInfo, group_by: GroupBy, now: datetime, judge=None) -> str:  # noqa: ANN001
    if group_by == "state":
        return job_state(job, now, judge)
    if group_by == "module":
        return module_of(job)
    if job.finding is not None or job.trigger is None:
        return "(undecodable)"
    return job.trigger.kind


def matches(job: JobInfo, needle: str) -> bool:
    """Case-insensitive substring match on id, name and function."""
    if not needle:
        return True
    needle = needle.lower()
    return any(needle in (v or "").lower() for v in (job.id, job.name, job.func))


def _sort_key(sort_by: SortBy, durations: Mapping[str, float]):  # noqa: ANN202
    if sort_by == "id":
        return lambda j: j.id
    if sort_by == "duration":
        return lambda j: (j.id not in durations, -durations.get(j.id, 0.0), j.id)
    return lambda j: (j.next_run_time is None, j.next_run_time.timestamp() if j.next_run_time else 0.0, j.id)


def build_rows(
    jobs: Iterable[JobInfo],
    *,
    now: datetime,
    group_by: GroupBy = "state",
    sort_by: SortBy = "next",
    needle: str = "",
    collapsed: frozenset[str] | set[str] = frozenset(),
    durations: Mapping[str, float] | None = None,
) -> list[Row]:
    """Group, filter and sort ``jobs``; collapsed groups show their header only."""
    durations = durations or {}
    groups: dict[str, list[JobInfo]] = {}
    judge = _on_time_judge() if group_by == "state" else None
    for job in jobs:
        if needle and not matches(job, needle):
            continue
        try:
            key = group_of(job, group_by, now, judge)
        except Exception:  # noqa: BLE001 - nothing a row holds may break the list
            key = "(undecodable)"
        groups.setdefault(key, []).append(job)
    if group_by == "state":
        order = [g for g in STATE_ORDER if g in groups]
    else:
        order = sorted(groups, key=lambda g: (g.startswith("("), g))
    key_fn = _sort_key(sort_by, durations)
    rows: list[Row] = []
    for name in order:
        members = groups[name]
        rows.append(Row(group=name, count=len(members)))
        if name in collapsed:
            continue
        try:
            members.sort(key=key_fn)
        except Exception:  # noqa: BLE001
            members.sort(key=lambda j: str(j.id))
        rows.extend(Row(group=name, job=j) for j in members)
    return rows


def count_overdue(jobs: Iterable[JobInfo], now: datetime) -> int:
    judge = _on_time_judge()
    return sum(1 for j in jobs if job_state(j, now, judge) == "overdue")
