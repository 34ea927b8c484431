"""The jobs list as rows: grouping, sorting and filtering, with no Textual in sight.

``build_rows`` turns a snapshot's jobs into the flat list of lines the jobs widget shows
(group headers followed by their jobs when expanded). It is pure, so tests and the
benchmark can call it directly.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Literal, overload

from schedtui.core.model import JobInfo
from schedtui.tui.fmt import module_of

GroupBy = Literal["state", "module", "trigger"]
SortBy = Literal["next", "id", "duration"]

GROUPINGS: tuple[GroupBy, ...] = ("state", "module", "trigger")
SORTS: tuple[SortBy, ...] = ("next", "id", "duration")
GROUP_LABELS = {"state": "state", "module": "function module", "trigger": "trigger kind"}
SORT_LABELS = {"next": "next run", "id": "id", "duration": "last duration"}
STATE_ORDER = ("overdue", "upcoming", "paused", "undecodable")
#: ``(job, now) -> bool``: whether a job past its run time is still on time.
Judge = Callable[[JobInfo, datetime], bool]
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


def _on_time_judge() -> Judge | None:
    """``(job, now) -> bool`` (not overdue?) from the checker, or None when unavailable.

    Overdue means past the job's grace (the checker's CRITICAL); a job a few seconds late
    (about to be picked up) stays under upcoming, its countdown says ``overdue by 5s``.
    """
    try:
        from schedtui.core.checker import job_lag
        from schedtui.core.health import CheckOptions, Status
    except ImportError:
        return None
    options = CheckOptions()
    return lambda job, now: job_lag(job, now, options)[0] != Status.CRITICAL


def job_state(job: JobInfo, now: datetime, judge: Judge | None = None) -> str:
    """overdue, upcoming, paused or undecodable."""
    if job.finding is not None:
        return "undecodable"
    nrt = job.next_run_time
    if nrt is None:
        return "paused"
    if nrt >= now:
        return "upcoming"
    if judge is not None:
        try:
            return "upcoming" if judge(job, now) else "overdue"
        except Exception:
            pass
    grace = max(job.misfire_grace_time or 0.0, DEFAULT_GRACE)
    return "overdue" if (now - nrt).total_seconds() > grace else "upcoming"


def group_of(job: JobInfo, group_by: GroupBy, now: datetime, judge: Judge | None = None) -> str:
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


_FAR = datetime.max.replace(tzinfo=UTC)


def _sort_key(sort_by: SortBy, durations: Mapping[str, float]) -> Callable[[JobInfo], Any]:
    if sort_by == "id":
        return attrgetter("id")
    if sort_by == "duration":
        return lambda j: (j.id not in durations, -durations.get(j.id, 0.0), j.id)
    return lambda j: (j.next_run_time or _FAR, j.id)


class RowList(Sequence[Row]):
    """The flat list of lines: group headers followed by their (visible) jobs.

    Jobs are stored as they are (no per-row object), so 100,000 jobs cost one list;
    ``Row`` values are made on access, for the few lines on screen.
    """

    __slots__ = ("_items", "_headers")

    def __init__(self, items: list[JobInfo | Row] | None = None, headers: list[int] | None = None) -> None:
        self._items: list[JobInfo | Row] = items or []
        self._headers: list[int] = headers or []

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        item = self._items[index]
        if isinstance(item, Row):
            return item
        if index < 0:
            index += len(self._items)
        header = self._items[self._headers[bisect_right(self._headers, index) - 1]]
        return Row(group=header.group, job=item)  # type: ignore[union-attr]

    def index_of_job(self, job_id: str) -> int | None:
        for i, item in enumerate(self._items):
            if not isinstance(item, Row) and item.id == job_id:
                return i
        return None

    def index_of_group(self, group: str) -> int | None:
        for i in self._headers:
            if self._items[i].group == group:  # type: ignore[union-attr]
                return i
        return None

    @property
    def headers(self) -> list[Row]:
        return [self._items[i] for i in self._headers]  # type: ignore[misc]


def build_rows(
    jobs: Iterable[JobInfo],
    *,
    now: datetime,
    group_by: GroupBy = "state",
    sort_by: SortBy = "next",
    needle: str = "",
    collapsed: frozenset[str] | set[str] = frozenset(),
    durations: Mapping[str, float] | None = None,
    presorted: bool = False,
) -> RowList:
    """Group, filter and sort ``jobs``; collapsed groups show their header only.

    ``presorted``: ``jobs`` already come in next-run order (``JobStoreReader`` returns
    them so), and grouping keeps that order, so sorting by next run is skipped.
    """
    durations = durations or {}
    groups: dict[str, list[JobInfo]] = {}
    judge = _on_time_judge() if group_by == "state" else None
    for job in jobs:
        if needle and not matches(job, needle):
            continue
        try:
            key = group_of(job, group_by, now, judge)
        except Exception:
            key = "(undecodable)"
        members = groups.get(key)
        if members is None:
            members = groups[key] = []
        members.append(job)
    if group_by == "state":
        order = [g for g in STATE_ORDER if g in groups]
    else:
        order = sorted(groups, key=lambda g: (g.startswith("("), g))
    key_fn = _sort_key(sort_by, durations)
    items: list[JobInfo | Row] = []
    headers: list[int] = []
    for name in order:
        members = groups[name]
        headers.append(len(items))
        items.append(Row(group=name, count=len(members)))
        if name in collapsed:
            continue
        if not (presorted and sort_by == "next"):
            try:
                members.sort(key=key_fn)
            except Exception:
                members.sort(key=lambda j: str(j.id))
        items.extend(members)
    return RowList(items, headers)


def count_overdue(jobs: Iterable[JobInfo], now: datetime) -> int:
    judge = _on_time_judge()
    return sum(
        1
        for j in jobs
        if j.next_run_time is not None and j.next_run_time < now and job_state(j, now, judge) == "overdue"
    )
