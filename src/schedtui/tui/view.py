"""The jobs table as rows: grouping, sorting and filtering, with no Textual in sight.

``build_rows`` turns a snapshot's jobs into the flat list of lines the jobs widget shows:
a grouped tree (group headers followed by their jobs when expanded) or a flat table (no
headers). States are the core's (``core.vocab.job_state``), so the console and
``schedtui check`` judge a job the same way. It is pure, so tests and the benchmark can
call it directly.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, overload

from schedtui.core.model import JobInfo
from schedtui.core.vocab import STATE_LABELS, STATE_ORDER, JobState, job_state
from schedtui.tui.fmt import job_trigger_text, module_of

GroupBy = Literal["state", "module", "trigger", "none"]
SortBy = Literal["id", "name", "trigger", "next", "state", "last_run", "outcome", "duration", "rate"]
StateFilter = Literal["", "overdue", "late", "paused", "undecodable", "failing"]

GROUPINGS: tuple[GroupBy, ...] = ("state", "module", "trigger")
SORTS: tuple[SortBy, ...] = ("next", "id", "name", "state", "trigger", "last_run", "outcome", "duration", "rate")
STATE_FILTERS: tuple[StateFilter, ...] = ("", "overdue", "late", "paused", "undecodable", "failing")
GROUP_LABELS = {"state": "state", "module": "function module", "trigger": "trigger kind", "none": "nothing (flat)"}
SORT_LABELS = {
    "next": "next run",
    "id": "id",
    "name": "name",
    "state": "state",
    "trigger": "trigger",
    "last_run": "last run",
    "outcome": "last outcome",
    "duration": "last duration",
    "rate": "success rate (24h)",
}
#: Group names of the state grouping, in their order (the core's labels).
STATE_GROUPS = tuple(STATE_LABELS[s] for s in STATE_ORDER)
FLAT = "jobs"  #: the one (headerless) group of the flat table


@dataclass(frozen=True, slots=True)
class JobRuns:
    """What the run history says about one job (from the companion's runs table)."""

    last_at: datetime | None = None
    last_outcome: str | None = None
    last_duration: float | None = None
    runs_24h: int = 0
    failures_24h: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    #: successful runs in the last 24 h (None: not known, every non-failure counts)
    successes_24h: int | None = None

    @property
    def rate_24h(self) -> float | None:
        """Successes over successes and failures in the last 24 h, as ``schedtui history``
        and ``check`` compute a success rate (skipped runs count for neither); None
        without any."""
        ok = self.runs_24h - self.failures_24h if self.successes_24h is None else self.successes_24h
        return ok / (ok + self.failures_24h) if ok + self.failures_24h else None


@dataclass(frozen=True, slots=True)
class Row:
    """A line of the list: a group header (``job`` None) or a job."""

    group: str
    job: JobInfo | None = None
    count: int = 0

    @property
    def key(self) -> str:
        return f"g:{self.group}" if self.job is None else f"j:{self.job.id}"


_UNDECODABLE, _PAUSED, _ON_TIME = (STATE_LABELS[s] for s in (JobState.UNDECODABLE, JobState.PAUSED, JobState.ON_TIME))


def state_label(job: JobInfo, now: datetime) -> str:
    """``on time``, ``late``, ``overdue``, ``paused`` or ``undecodable`` (the core's words)."""
    if job.finding is not None:
        return _UNDECODABLE
    nrt = job.next_run_time
    if nrt is None:
        return _PAUSED
    if nrt >= now:  # not due yet: on time whatever the grace (the core's lag <= tolerance)
        return _ON_TIME
    try:
        return job_state(job, now)[0].label
    except Exception:
        return JobState.UNDECODABLE.label


def group_of(job: JobInfo, group_by: GroupBy, now: datetime) -> str:
    if group_by == "state":
        return state_label(job, now)
    if group_by == "module":
        return module_of(job)
    if group_by == "none":
        return FLAT
    if job.finding is not None or job.trigger is None:
        return "(undecodable)"
    return job.trigger.kind


def matches(job: JobInfo, needle: str) -> bool:
    """Case-insensitive substring match on id, name and function."""
    if not needle:
        return True
    needle = needle.lower()
    return any(needle in (v or "").lower() for v in (job.id, job.name, job.func))


def passes(job: JobInfo, state: StateFilter, now: datetime, runs: Mapping[str, JobRuns]) -> bool:
    """The state filter: overdue, late, paused, undecodable, failing (failed in 24 h)."""
    if not state:
        return True
    if state == "failing":
        r = runs.get(job.id)
        return r is not None and r.failures_24h > 0
    return state_label(job, now) == state


_FAR = datetime.max.replace(tzinfo=UTC)
_NEVER = datetime.min.replace(tzinfo=UTC)
_STATE_RANK = {label: i for i, label in enumerate(STATE_GROUPS)}


def _sort_key(sort_by: SortBy, runs: Mapping[str, JobRuns], now: datetime) -> Callable[[JobInfo], Any]:
    """A key whose first item puts jobs without a value last whatever the direction."""
    empty = JobRuns()
    if sort_by == "id":
        return lambda j: (False, j.id)
    if sort_by == "name":
        return lambda j: (False, (j.name or j.id).lower(), j.id)
    if sort_by == "trigger":
        return lambda j: (False, job_trigger_text(j), j.id)
    if sort_by == "state":
        return lambda j: (False, _STATE_RANK.get(state_label(j, now), 9), j.next_run_time or _FAR, j.id)
    if sort_by == "last_run":
        return lambda j: (runs.get(j.id, empty).last_at is None, runs.get(j.id, empty).last_at or _NEVER, j.id)
    if sort_by == "outcome":
        return lambda j: (runs.get(j.id, empty).last_outcome is None, runs.get(j.id, empty).last_outcome or "", j.id)
    if sort_by == "duration":
        return lambda j: (
            runs.get(j.id, empty).last_duration is None,
            runs.get(j.id, empty).last_duration or 0.0,
            j.id,
        )
    if sort_by == "rate":
        return lambda j: (runs.get(j.id, empty).rate_24h is None, runs.get(j.id, empty).rate_24h or 0.0, j.id)
    return lambda j: (j.next_run_time is None, j.next_run_time or _FAR, j.id)


class RowList(Sequence[Row]):
    """The flat list of lines: group headers followed by their (visible) jobs.

    Jobs are stored as they are (no per-row object), so 100,000 jobs cost one list;
    ``Row`` values are made on access, for the few lines on screen. A flat table has one
    hidden group (``flat``): no header line.
    """

    __slots__ = ("_items", "_headers", "flat", "_flat_count")

    def __init__(
        self, items: list[JobInfo | Row] | None = None, headers: list[int] | None = None, flat: bool = False
    ) -> None:
        self._items: list[JobInfo | Row] = items or []
        self._headers: list[int] = headers or []
        self.flat = flat
        self._flat_count = len(self._items) if flat else 0

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
        if self.flat:
            return Row(group=FLAT, job=item)
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

    def jobs(self) -> Iterable[JobInfo]:
        return (item for item in self._items if not isinstance(item, Row))

    @property
    def shown(self) -> int:
        """How many jobs passed the filters (collapsed groups count theirs)."""
        if self.flat:
            return self._flat_count
        return sum(h.count for h in self.headers)

    @property
    def headers(self) -> list[Row]:
        if self.flat:
            return [Row(group=FLAT, count=self._flat_count)]
        return [self._items[i] for i in self._headers]  # type: ignore[misc]


def build_rows(
    jobs: Iterable[JobInfo],
    *,
    now: datetime,
    group_by: GroupBy = "state",
    sort_by: SortBy = "next",
    descending: bool = False,
    needle: str = "",
    state: StateFilter = "",
    collapsed: frozenset[str] | set[str] = frozenset(),
    runs: Mapping[str, JobRuns] | None = None,
    presorted: bool = False,
) -> RowList:
    """Group, filter and sort ``jobs``; collapsed groups show their header only.

    ``presorted``: ``jobs`` already come in next-run order (``JobStoreReader`` returns
    them so), and grouping keeps that order, so sorting by next run is skipped.
    """
    runs = runs or {}
    groups: dict[str, list[JobInfo]] = {}
    for job in jobs:
        if needle and not matches(job, needle):
            continue
        if state and not passes(job, state, now, runs):
            continue
        try:
            key = group_of(job, group_by, now)
        except Exception:
            key = "(undecodable)"
        members = groups.get(key)
        if members is None:
            members = groups[key] = []
        members.append(job)
    if group_by == "state":
        order = [g for g in STATE_GROUPS if g in groups]
    else:
        order = sorted(groups, key=lambda g: (g.startswith("("), g))
    key_fn = _sort_key(sort_by, runs, now)
    items: list[JobInfo | Row] = []
    headers: list[int] = []
    for name in order:
        members = groups[name]
        if group_by != "none":
            headers.append(len(items))
            items.append(Row(group=name, count=len(members)))
            if name in collapsed:
                continue
        if not (presorted and sort_by == "next" and not descending):
            _sort(members, key_fn, descending)
        items.extend(members)
    return RowList(items, headers, flat=group_by == "none")


def _sort(members: list[JobInfo], key_fn: Callable[[JobInfo], Any], descending: bool) -> None:
    try:
        if descending:
            # the "no value" flag stays ascending: empty cells sort last both ways
            members.sort(key=key_fn)
            with_value = [j for j in members if not key_fn(j)[0]]
            without = [j for j in members if key_fn(j)[0]]
            with_value.reverse()
            members[:] = with_value + without
        else:
            members.sort(key=key_fn)
    except Exception:
        members.sort(key=lambda j: str(j.id), reverse=descending)


def count_overdue(jobs: Iterable[JobInfo], now: datetime) -> int:
    """Jobs past their grace (the checker's CRITICAL)."""
    return sum(
        1
        for j in jobs
        if j.next_run_time is not None and j.next_run_time < now and state_label(j, now) == JobState.OVERDUE.label
    )
