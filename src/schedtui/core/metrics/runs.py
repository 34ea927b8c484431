"""Run-history series: counters that keep counting past the companion's retention, and
duration quantiles over the check's window.

The companion prunes old runs (per job and by age), so "runs recorded" stops growing once
a job reaches its retention limit. A Prometheus counter must keep counting: a job's
counter starts at its retained counts (``history.job_stats``) the first time it is
collected, and each later collection adds the runs that reached a final outcome since
(seen in ``recent_runs``, newest first, the window's worth). The counter restarts
with the exporter (Prometheus handles the reset). The runs come from the store's
``HistorySource`` (the companion's table, an Aegis app's or django-apscheduler's);
without one, the companion's functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from schedtui.core import tables as T
from schedtui.core.history import CompanionHistory, HistorySource, RunInfo, percentile
from schedtui.core.metrics.records import RunPoint

_SUCCESS = ("success",)
_SKIPPED = ("missed", "max_instances")


@dataclass(slots=True)
class _JobCount:
    successes: int
    failures: int
    skipped: int
    seen: set[int] = field(default_factory=set)  #: final runs of the window already counted

    def add(self, run: RunInfo) -> None:
        if run.outcome in _SUCCESS:
            self.successes += 1
        elif run.outcome in T.FAILURE_OUTCOMES:
            self.failures += 1
        elif run.outcome in _SKIPPED:
            self.skipped += 1


def _final(run: RunInfo) -> bool:
    return run.outcome in T.FINAL_OUTCOMES


def durations(runs: Sequence[RunInfo]) -> list[float]:
    """The sorted durations of the successful runs (as ``window_stats`` takes them)."""
    return sorted(r.duration_s for r in runs if r.outcome == "success" and r.duration_s is not None)


class RunCounters:
    """Per-job run counters kept across collections (one store, one thread at a time)."""

    def __init__(self, schema: str | None, window: int) -> None:
        self.schema = schema
        self.window = max(int(window), 1)
        self._jobs: dict[str, _JobCount] = {}
        self._source: str | None = None

    def collect(
        self, engine: Any, jobs: Sequence[tuple[str, str]], source: HistorySource | None = None
    ) -> tuple[RunPoint, ...]:
        """``jobs``: (id, label) pairs. Jobs no longer asked for are forgotten; all of them
        when the history source changes (its run ids are another table's)."""
        source = source if source is not None else CompanionHistory(self.schema)
        if source.label != self._source:
            self._jobs, self._source = {}, source.label
        out: list[RunPoint] = []
        kept: dict[str, _JobCount] = {}
        for job_id, label in jobs:
            window = source.recent_runs(engine, job_id=job_id, limit=self.window)
            count = self._jobs.get(job_id)
            if count is None:
                stats = source.job_stats(engine, job_id)
                if stats is None:
                    continue
                count = _JobCount(stats.successes, stats.failures, stats.skipped)
                count.seen = {r.id for r in window if _final(r)}
            else:
                for run in window:
                    if _final(run) and run.id not in count.seen:
                        count.add(run)
                        count.seen.add(run.id)
                present = {r.id for r in window}
                count.seen &= present  # bounded: only the window's runs are remembered
            kept[job_id] = count
            values = durations(window)
            out.append(
                RunPoint(
                    job=label,
                    successes=count.successes,
                    failures=count.failures,
                    skipped=count.skipped,
                    p50=percentile(values, 0.50),
                    p95=percentile(values, 0.95),
                    max=values[-1] if values else None,
                )
            )
        self._jobs = kept
        return tuple(out)
