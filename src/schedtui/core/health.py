"""Judging: turns what was read into statuses a probe, a script or a person acts on.

A report is a list of components (database, jobstore, jobs, and whatever the companion's
heartbeat and history or the backups add), each with a status, a one-line summary,
detail lines for ``--detailed`` and plain data for ``--json``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

from schedtui.core.model import StoreSnapshot, Target


class Status(IntEnum):
    """Monitoring Plugins states; the value is the exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def rank(self) -> int:
        """Severity order for "worst of": UNKNOWN sits between WARNING and CRITICAL."""
        return {0: 0, 1: 1, 3: 2, 2: 3}[int(self)]


def worst(statuses: list[Status] | tuple[Status, ...]) -> Status:
    return max(statuses, key=lambda s: s.rank, default=Status.OK)


@dataclass(frozen=True, slots=True)
class Line:
    """One detail line of a component; ``children`` nest under it in the tree."""

    text: str
    status: Status | None = None
    children: tuple[Line, ...] = ()


@dataclass(frozen=True, slots=True)
class Perf:
    """Perfdata: ``'label'=value[uom];warn;crit;min;max``."""

    label: str
    value: float | int
    uom: str = ""
    warn: float | int | None = None
    crit: float | int | None = None
    min: float | int | None = None
    max: float | int | None = None

    def render(self) -> str:
        parts = [f"{self.value}{self.uom}"]
        for extra in (self.warn, self.crit, self.min, self.max):
            parts.append("" if extra is None else str(extra))
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()
        return f"'{self.label}'=" + ";".join(parts)


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    status: Status
    summary: str
    lines: tuple[Line, ...] = ()
    perfdata: tuple[Perf, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckOptions:
    grace_floor: float = 60.0  #: seconds; a job's grace is max(misfire_grace_time, floor)
    upcoming: int = 3
    heartbeat_max_age: float | None = None  #: seconds; default: a few heartbeat intervals
    backup_max_age: float = 26 * 3600.0
    backup_dir: str | None = None


@dataclass(frozen=True)
class CheckContext:
    """What a component provider gets. ``engine`` is a read-only SQLAlchemy engine
    (None when the database could not be reached)."""

    target: Target
    now: datetime
    options: CheckOptions
    snapshot: StoreSnapshot | None
    engine: Any = None


@dataclass(frozen=True, slots=True)
class HealthReport:
    status: Status
    summary: str
    components: tuple[Component, ...]
    checked_at: datetime
    target: Target
    #: The jobs read for this report (None when the table could not be read).
    snapshot: StoreSnapshot | None = None

    def component(self, name: str) -> Component | None:
        for c in self.components:
            if c.name == name:
                return c
        return None


#: A provider returns its component, or None when it has nothing to say
#: (for example no companion tables). It must not raise for expected conditions.
Provider = Callable[[CheckContext], "Component | None"]
