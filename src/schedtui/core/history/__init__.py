"""Run history: one interface (``HistorySource``) over every table that records runs.

- ``source``: the ``HistorySource`` protocol; ``records``: what it returns.
- ``companion``: our ``schedtui_runs`` (``CompanionHistory``, plus the original functions).
- ``table`` + ``layouts``: other programs' tables (Aegis ``job_execution``,
  django-apscheduler's executions) as ``TableHistory(layout, schema)``.
- ``detect``: which source a database has; ``component``: ``check``'s history component.

The companion functions are re-exported under their old names.
"""

from __future__ import annotations

from schedtui.core.history.companion import (
    CompanionHistory,
    companion_installed,
    job_stats,
    recent_runs,
    summary,
    window_stats,
)
from schedtui.core.history.component import history_component
from schedtui.core.history.detect import detect_history, find_sources
from schedtui.core.history.layouts import AEGIS, DJANGO, LAYOUTS
from schedtui.core.history.records import (
    DURATION_WINDOW,
    FailingJob,
    Hourly,
    JobStats,
    JobWindow,
    RunInfo,
    RunSummary,
    RunWindow,
    WindowStats,
    error_text,
    percentile,
)
from schedtui.core.history.source import HistorySource
from schedtui.core.history.table import RunLayout, TableHistory

__all__ = [
    "AEGIS",
    "DJANGO",
    "DURATION_WINDOW",
    "LAYOUTS",
    "CompanionHistory",
    "FailingJob",
    "HistorySource",
    "Hourly",
    "JobStats",
    "JobWindow",
    "RunInfo",
    "RunLayout",
    "RunSummary",
    "RunWindow",
    "TableHistory",
    "WindowStats",
    "companion_installed",
    "detect_history",
    "error_text",
    "find_sources",
    "history_component",
    "job_stats",
    "percentile",
    "recent_runs",
    "summary",
    "window_stats",
]
