"""The run-history source interface: what ``check``, ``schedtui history`` and the console ask.

A source is a small frozen value naming one table (and its layout); every method takes an
Engine or Connection (read-only) and never writes. Results are the records of
``history.records`` in schedtui's outcome vocabulary, whatever the table stores.

Implementations: ``CompanionHistory`` (our ``schedtui_runs``), ``TableHistory`` with the
``AEGIS`` or ``DJANGO`` layout (``history.layouts``). A new layout (another app's table, a
MySQL dialect) is a new ``RunLayout`` value, or a new class with these methods.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from schedtui.core.history.records import DURATION_WINDOW, JobStats, RunInfo, RunSummary, RunWindow, WindowStats


@runtime_checkable
class HistorySource(Protocol):
    """Where a job store's run history is read from."""

    #: ``"companion"``, ``"aegis"``, ``"django"``: stable, for JSON and tests.
    @property
    def kind(self) -> str: ...

    #: What the output says: ``"Aegis job_execution"``.
    @property
    def label(self) -> str: ...

    def recent_runs(
        self, bind: Any, job_id: str | None = None, limit: int = 50, failed_only: bool = False
    ) -> tuple[RunInfo, ...]:
        """The newest runs (of one job, or of all), newest first."""
        ...

    def job_stats(self, bind: Any, job_id: str, window: int = DURATION_WINDOW) -> JobStats | None:
        """One job's counts, durations, last success and last failure (None: no runs)."""
        ...

    def summary(self, bind: Any, now: datetime) -> RunSummary:
        """Runs and failures in the 24 h before ``now``; jobs whose last executed run failed."""
        ...

    def run_window(self, bind: Any, now: datetime, hours: int = 24) -> RunWindow:
        """Finished runs and failures per job and per hour over the ``hours`` before ``now``
        (aggregates over the window: never a full read)."""
        ...

    def window_stats(self, bind: Any, job_ids: list[str], window: int = 100) -> dict[str, WindowStats]:
        """Duration percentiles and success rate over each job's last ``window`` runs."""
        ...

    def job_ids(self, bind: Any) -> list[str]:
        """Every job id that has recorded runs."""
        ...

    def last_failure(self, bind: Any, job_id: str) -> RunInfo | None:
        """The job's most recent failed run."""
        ...
