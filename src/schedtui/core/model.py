"""The data model shared by every layer.

Everything here is a frozen dataclass: values cross threads (database workers to the
console) and processes without anyone being able to change them on the way.
Nothing in this module talks to a database or imports Textual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, tzinfo
from typing import Literal

TriggerKind = Literal["cron", "interval", "date", "calendarinterval", "and", "or"]

#: APScheduler's cron field order (``CronTrigger.FIELD_NAMES``).
CRON_FIELD_NAMES: tuple[str, ...] = (
    "year",
    "month",
    "day",
    "week",
    "day_of_week",
    "hour",
    "minute",
    "second",
)


@dataclass(frozen=True, slots=True)
class TriggerSpec:
    """A trigger decoded from a pickle, validated and reduced to plain values.

    Only the attributes that belong to ``kind`` are set; the others stay ``None``.
    ``tz`` is a real ``tzinfo`` (``ZoneInfo``, ``datetime.timezone`` or schedtui's
    stand-in for a pytz zone); ``timezone`` is its display name (``"Europe/Berlin"``,
    ``"UTC"``, ``"UTC+02:00"``).
    """

    kind: TriggerKind
    timezone: str | None = None
    tz: tzinfo | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    jitter: int | None = None
    #: cron: ``(name, expression)`` for all eight fields in ``CRON_FIELD_NAMES`` order,
    #: expressions as APScheduler prints them (``"*"``, ``"*/5"``, ``"mon-fri"``, ``"last"``).
    cron: tuple[tuple[str, str], ...] | None = None
    #: cron: the names of the fields the user set explicitly (``is_default`` false).
    cron_explicit: frozenset[str] | None = None
    #: interval
    interval: timedelta | None = None
    #: date
    run_date: datetime | None = None
    #: calendarinterval: years, months, weeks, days and the wall-clock time of day.
    calendar: tuple[int, int, int, int] | None = None
    calendar_time: tuple[int, int, int] | None = None
    #: and/or
    children: tuple[TriggerSpec, ...] = ()

    def __reduce__(self) -> tuple[object, ...]:  # decode workers send specs back to the console process
        return (_trigger_spec, tuple(getattr(self, f) for f in _TRIGGER_FIELDS))

    def cron_field(self, name: str) -> str:
        """The expression of one cron field (``"*"`` when absent)."""
        for key, expr in self.cron or ():
            if key == name:
                return expr
        return "*"


@dataclass(frozen=True, slots=True)
class DecodeFinding:
    """Why a row could not be decoded (or what is odd about one that was).

    ``code`` is stable and machine-readable (``"forbidden-global"``, ``"truncated"``,
    ``"too-large"``, ``"bad-shape"``, ``"future-version"``, ``"memory"`` ...);
    ``message`` is one human sentence.
    """

    code: str
    message: str

    def __reduce__(self) -> tuple[object, ...]:
        return (DecodeFinding, (self.code, self.message))


#: ``JobInfo.args_repr``/``kwargs_repr`` of a decoded row whose reprs the read did not ask
#: for (a real repr is never empty: no args render as ``()``, no kwargs as ``{}``).
NOT_RENDERED = ""


@dataclass(frozen=True, slots=True)
class JobInfo:
    """One row of the jobs table, decoded without trusting it.

    ``next_run_time`` comes from the indexed column (what the scheduler acts on);
    ``state_next_run_time`` from inside the pickle. ``finding`` is set when the row
    could not be decoded, in which case only ``id``, ``next_run_time`` and
    ``state_size`` are meaningful.
    """

    id: str
    next_run_time: datetime | None
    state_size: int
    finding: DecodeFinding | None = None
    name: str | None = None
    func: str | None = None
    trigger: TriggerSpec | None = None
    executor: str | None = None
    #: Safe, size-bounded reprs; unimported classes show as ``<mod.Class ... not imported>``.
    #: ``NOT_RENDERED`` when the read did not ask for them (``decode_rows(reprs=False)``:
    #: commands that never print them).
    args_repr: str = "()"
    kwargs_repr: str = "{}"
    misfire_grace_time: float | None = None
    coalesce: bool | None = None
    max_instances: int | None = None
    state_next_run_time: datetime | None = None
    #: Non-fatal observations about a decoded row (column and pickle disagree, ...).
    notes: tuple[DecodeFinding, ...] = ()
    #: Pickle protocol of the stored state, when it could be read.
    protocol: int | None = None

    @property
    def decodable(self) -> bool:
        return self.finding is None

    @property
    def paused(self) -> bool:
        return self.next_run_time is None

    @property
    def label(self) -> str:
        """The name when it says more than the id, else the id."""
        return self.name or self.id


_TRIGGER_FIELDS = tuple(f.name for f in fields(TriggerSpec))


def _trigger_spec(*values: object) -> TriggerSpec:
    """Rebuilds a pickled ``TriggerSpec`` (positional, in field order)."""
    return TriggerSpec(*values)  # type: ignore[arg-type]


_JOB_FIELD_NAMES = tuple(f.name for f in fields(JobInfo))
assert _JOB_FIELD_NAMES == (
    "id", "next_run_time", "state_size", "finding", "name", "func", "trigger", "executor", "args_repr",
    "kwargs_repr", "misfire_grace_time", "coalesce", "max_instances", "state_next_run_time", "notes", "protocol",
), "update job_from_fields with JobInfo"  # fmt: skip
_new = object.__new__
(_s0, _s1, _s2, _s3, _s4, _s5, _s6, _s7, _s8, _s9, _s10, _s11, _s12, _s13, _s14, _s15) = (
    getattr(JobInfo, name).__set__ for name in _JOB_FIELD_NAMES
)


def job_from_fields(v: tuple | list) -> JobInfo:  # type: ignore[type-arg]
    """``JobInfo(*v)`` for all sixteen fields in order, in half the time (100,000s of jobs
    are built per read): the slots are filled directly, as the frozen ``__init__`` does."""
    if len(v) != 16:
        raise TypeError(f"JobInfo takes 16 fields, got {len(v)}")
    o = _new(JobInfo)
    _s0(o, v[0])
    _s1(o, v[1])
    _s2(o, v[2])
    _s3(o, v[3])
    _s4(o, v[4])
    _s5(o, v[5])
    _s6(o, v[6])
    _s7(o, v[7])
    _s8(o, v[8])
    _s9(o, v[9])
    _s10(o, v[10])
    _s11(o, v[11])
    _s12(o, v[12])
    _s13(o, v[13])
    _s14(o, v[14])
    _s15(o, v[15])
    return o


_SPEC_FIELD_NAMES = tuple(f.name for f in fields(TriggerSpec))
assert _SPEC_FIELD_NAMES == (
    "kind", "timezone", "tz", "start_date", "end_date", "jitter", "cron", "cron_explicit", "interval", "run_date",
    "calendar", "calendar_time", "children",
), "update trigger_spec with TriggerSpec"  # fmt: skip
(_t0, _t1, _t2, _t3, _t4, _t5, _t6, _t7, _t8, _t9, _t10, _t11, _t12) = (
    getattr(TriggerSpec, name).__set__ for name in _SPEC_FIELD_NAMES
)


def trigger_spec(
    kind: TriggerKind,
    timezone: str | None = None,
    tz: tzinfo | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    jitter: int | None = None,
    cron: tuple[tuple[str, str], ...] | None = None,
    cron_explicit: frozenset[str] | None = None,
    interval: timedelta | None = None,
    run_date: datetime | None = None,
    calendar: tuple[int, ...] | None = None,
    calendar_time: tuple[int, int, int] | None = None,
    children: tuple[TriggerSpec, ...] = (),
) -> TriggerSpec:
    """``TriggerSpec(...)`` in a third of the time (the decoder and the reader build one
    per row): the slots are filled directly, as the frozen dataclass ``__init__`` does
    (``object.__setattr__`` per field; ``TriggerSpec`` has no ``__post_init__``)."""
    o = _new(TriggerSpec)
    _t0(o, kind)
    _t1(o, timezone)
    _t2(o, tz)
    _t3(o, start_date)
    _t4(o, end_date)
    _t5(o, jitter)
    _t6(o, cron)
    _t7(o, cron_explicit)
    _t8(o, interval)
    _t9(o, run_date)
    _t10(o, calendar)
    _t11(o, calendar_time)
    _t12(o, children)
    return o


@dataclass(frozen=True, slots=True)
class Target:
    """Where the job store lives. ``url`` may hold a password: print ``safe_url`` (the
    repr shows only that)."""

    url: str
    table: str = "apscheduler_jobs"
    schema: str | None = None

    def __repr__(self) -> str:
        return f"Target(url={self.safe_url!r}, table={self.table!r}, schema={self.schema!r})"

    @property
    def safe_url(self) -> str:
        from schedtui.core.urls import mask_url

        return mask_url(self.url)

    @property
    def table_label(self) -> str:
        """The jobs table as the user names it: ``schema.table``, or ``table`` without a schema."""
        return f"{self.schema}.{self.table}" if self.schema else self.table


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    """Everything one read of the jobs table produced, at one moment."""

    target: Target
    dialect: str
    read_at: datetime
    latency_ms: float
    #: In order (``store.sort_key``); a tuple, or a ``core.jobtable.JobTable`` (a one-shot
    #: read that rebuilds each ``JobInfo`` when it is looked at).
    jobs: Sequence[JobInfo] = field(default_factory=tuple)

    @property
    def undecodable(self) -> tuple[JobInfo, ...]:
        from schedtui.core.jobtable import JobTable

        if isinstance(self.jobs, JobTable):
            return self.jobs.undecodable()
        return tuple(j for j in self.jobs if j.finding is not None)

    @property
    def job_ids(self) -> Sequence[str]:
        """The jobs' ids, in order (without rebuilding a ``JobTable``'s jobs)."""
        from schedtui.core.jobtable import job_ids

        return job_ids(self.jobs)


@dataclass(frozen=True, slots=True)
class StorePreview:
    """The first rows of a large jobs table in the console's order (``JobStoreReader.preview``),
    read and decoded before the whole table is: every job in it is decoded as the full read
    decodes it; only the rest of the table is missing."""

    #: the first rows, in ``store.sort_key`` order
    snapshot: StoreSnapshot
    #: how many rows the table holds (the full read will list them all)
    total: int
