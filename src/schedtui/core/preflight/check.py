"""One verdict per stored job: would the new code restore it?

For each row: its function reference (from the safely decoded state), every global its
pickle looks up (``pickle_refs``: trigger classes, time zones, application classes in the
arguments), enum members pickled by value, and the trigger classes named inside and/or
triggers, each resolved statically (``Resolver``). A job is ``lost`` when any of them is
certainly missing (APScheduler would log "Unable to restore job" and delete the row),
``unknown`` when one cannot be decided, ``ok`` otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from schedtui.core.model import JobInfo, TriggerSpec
from schedtui.core.preflight.finder import ModuleFinder
from schedtui.core.preflight.pickle_refs import pickle_refs
from schedtui.core.preflight.resolver import Resolution, Resolver
from schedtui.core.store.rawrows import RawRow

Verdict = Literal["ok", "unknown", "lost"]

#: Exit codes of ``schedtui preflight`` (a CI deploy gate).
EXIT_ALL_OK = 0
EXIT_UNKNOWN = 1
EXIT_LOST = 2
EXIT_CANNOT_RUN = 3

_CHILD_REFS = {
    "cron": "apscheduler.triggers.cron:CronTrigger",
    "interval": "apscheduler.triggers.interval:IntervalTrigger",
    "date": "apscheduler.triggers.date:DateTrigger",
    "calendarinterval": "apscheduler.triggers.calendarinterval:CalendarIntervalTrigger",
    "and": "apscheduler.triggers.combining:AndTrigger",
    "or": "apscheduler.triggers.combining:OrTrigger",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One reference the new code does not (or may not) have."""

    ref: str
    status: Literal["missing", "unknown"]
    reason: str


@dataclass(frozen=True, slots=True)
class JobVerdict:
    id: str
    verdict: Verdict
    func: str | None
    problems: tuple[Problem, ...] = ()

    @property
    def reason(self) -> str:
        lead = [p for p in self.problems if p.status == "missing"] or list(self.problems)
        return lead[0].reason if lead else ""


@dataclass(frozen=True, slots=True)
class PreflightReport:
    roots: tuple[Path, ...]
    jobs: tuple[JobVerdict, ...]

    def count(self, verdict: Verdict) -> int:
        return sum(1 for j in self.jobs if j.verdict == verdict)

    @property
    def exit_code(self) -> int:
        if self.count("lost"):
            return EXIT_LOST
        if self.count("unknown"):
            return EXIT_UNKNOWN
        return EXIT_ALL_OK


def _child_refs(spec: TriggerSpec | None) -> Iterable[str]:
    if spec is None or spec.kind not in ("and", "or"):
        return
    for child in spec.children:
        yield _CHILD_REFS[child.kind]
        yield from _child_refs(child)


def judge_row(row: RawRow, info: JobInfo, resolver: Resolver) -> JobVerdict:
    """The verdict on one stored row (``info``: the row decoded by the safe decoder)."""
    problems: list[Problem] = []

    def note(ref: str, res: Resolution) -> None:
        if res.status != "ok":
            p = Problem(ref, res.status, res.reason)
            if p not in problems:
                problems.append(p)

    if info.finding is not None:
        problems.append(
            Problem("job_state", "unknown", f"schedtui cannot decode this row safely ({info.finding.message})")
        )
    elif info.func is not None:
        note(info.func, resolver.resolve_ref(info.func))
    refs = pickle_refs(row.job_state)
    if refs.undecidable is not None:
        problems.append(Problem("job_state", "unknown", f"cannot list the pickle's references: {refs.undecidable}"))
    for g in refs.globals:
        note(g.dotted, resolver.resolve_global(g.module, g.qualname))
    for call in refs.calls:
        note(f"{call.ref.dotted}({call.value!r})", resolver.enum_value(call.ref.module, call.ref.qualname, call.value))
    for ref in _child_refs(info.trigger):
        note(ref, resolver.resolve_ref(ref))
    problems.sort(key=lambda p: p.status != "missing")
    verdict: Verdict = "ok"
    if any(p.status == "missing" for p in problems):
        verdict = "lost"
    elif problems:
        verdict = "unknown"
    return JobVerdict(row.id, verdict, info.func, tuple(problems))


def run_preflight(rows: Sequence[RawRow], app_roots: Sequence[Path], *, interpreter: bool = True) -> PreflightReport:
    """Judge every row against the code under ``app_roots`` (then this interpreter's
    stdlib and site-packages, unless ``interpreter`` is False)."""
    from schedtui.core.decode import decode_rows

    resolver = Resolver(ModuleFinder(app_roots, interpreter=interpreter))
    infos = decode_rows([(r.id, r.next_run_time, r.job_state) for r in rows])
    verdicts = tuple(judge_row(r, info, resolver) for r, info in zip(rows, infos, strict=True))
    return PreflightReport(tuple(Path(p).resolve() for p in app_roots), verdicts)
