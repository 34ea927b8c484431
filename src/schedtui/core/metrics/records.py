"""The typed, frozen records the metrics are rendered from (they cross threads)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal


class Format(str, Enum):
    """The exposition format ``render`` writes."""

    OPENMETRICS = "openmetrics"
    TEXT = "text"  #: the classic Prometheus text format 0.0.4


JobState = Literal["on_time", "late", "overdue", "paused"]

#: The states of the ``schedtui_job_state`` state-set. The four timing states are
#: exclusive (``job_lag``'s judgement, as ``check`` counts them); ``undecodable`` is set
#: on top of one of them for a row that could not be decoded, ``not_decoded_in_time``
#: instead for a row the read ran out of decode time for (not known to be broken).
JOB_STATES: tuple[str, ...] = ("on_time", "late", "overdue", "paused", "undecodable", "not_decoded_in_time")
#: ``schedtui_jobs`` by ``state``: the timing states partition the rows.
TIMING_STATES: tuple[JobState, ...] = ("on_time", "late", "overdue", "paused")
#: The heartbeat component's ``state`` judgement (``none``: no heartbeat for this table).
SCHEDULER_STATES: tuple[str, ...] = ("running", "paused", "several", "stale", "shutdown", "none")


class PerJob(str, Enum):
    """Which jobs get per-job series."""

    ALL = "all"  #: every job (up to ``MetricsOptions.max_jobs`` per store)
    PROBLEM = "problem"  #: late, overdue, undecodable or failing jobs, plus the next N upcoming
    NONE = "none"  #: per-store families only


@dataclass(frozen=True, slots=True)
class MetricsOptions:
    """What a collection exports besides the per-store families."""

    per_job: PerJob = PerJob.PROBLEM
    #: ``problem``: this many upcoming on-time jobs (by next run time) are added.
    upcoming: int = 5
    #: Hard cap of jobs with per-job series, per store (any mode).
    max_jobs: int = 1_000
    #: Jobs given run-history series (counts and durations), per store.
    history_jobs: int = 100
    #: Runs the duration quantiles cover, per job (``check``'s window).
    history_window: int = 100


@dataclass(frozen=True, slots=True)
class JobPoint:
    """One job's per-job values; ``job`` is its (sanitized, unique) label value."""

    job: str
    state: JobState
    undecodable: bool  #: the row cannot be decoded (a finding other than running out of time)
    not_decoded_in_time: bool  #: the read ran out of decode time before this row
    next_run: float | None  #: epoch seconds; None when paused
    lag: float | None  #: seconds past next_run (negative: not yet due); None when paused
    grace: float  #: the grace ``check`` judges with: max(misfire_grace_time, grace floor)


@dataclass(frozen=True, slots=True)
class RunPoint:
    """One job's run history: counts of every retained run, and the duration quantiles
    of the successful runs among its last ``window`` runs."""

    job: str
    successes: int
    failures: int  #: ``error`` and ``unfinished`` (the process died mid-run)
    skipped: int  #: ``missed`` and ``max_instances``
    p50: float | None
    p95: float | None
    max: float | None


@dataclass(frozen=True, slots=True)
class StoreMetrics:
    """Everything one collection of one store produced, at one moment."""

    store: str  #: the ``store`` label: a --name or the masked URL
    at: float  #: epoch seconds of the judgement
    status: int  #: the check's status (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)
    up: bool  #: the jobs table was read
    read_seconds: float | None = None
    jobs_by_state: tuple[tuple[JobState, int], ...] = ()
    total_jobs: int = 0
    undecodable: int | None = None
    #: Rows the read ran out of decode time for (``--decode-budget``): not known to be broken.
    not_decoded_in_time: int | None = None
    heartbeat_age: float | None = None
    scheduler_state: str | None = None
    backup_last_verified: float | None = None
    backup_size: int | None = None
    jobs: tuple[JobPoint, ...] = ()
    runs: tuple[RunPoint, ...] = ()
    #: One line on why the store could not be judged (masked), when it could not.
    error: str | None = None
