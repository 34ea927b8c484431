"""The events feed's data: what happened across all jobs, newest first, with no Textual.

Sources: the run history (started / finished / failed), the differences between two
refreshes (jobs appeared, disappeared, paused, resumed), the operators' requests (ours
and the companion's audit log), heartbeat lost / regained, and backups. ``EventLog``
keeps a bounded, de-duplicated list; every text is sanitized.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from schedtui.core.activity import CommandInfo
from schedtui.core.history import RunInfo
from schedtui.core.model import JobInfo
from schedtui.tui.fmt import clean, format_duration

#: What the feed's filter can pick (besides text).
KINDS = ("run", "job", "action", "heartbeat", "backup")
FAILED_OUTCOMES = frozenset({"error", "unfinished"})


@dataclass(frozen=True, slots=True)
class Event:
    at: datetime
    kind: str  #: run, job, action, heartbeat or backup
    what: str  #: e.g. ``failed``, ``finished``, ``appeared``, ``paused``
    job_id: str | None
    text: str
    failed: bool = False
    key: str = ""  #: de-duplication key


def run_events(runs: Iterable[RunInfo]) -> list[Event]:
    out: list[Event] = []
    for r in runs:
        jid = clean(r.job_id, 191)
        if r.outcome == "running":
            if r.started_at is not None:
                out.append(Event(r.started_at, "run", "started", r.job_id, f"{jid} started", key=f"run:{r.id}:s"))
            continue
        at = r.finished_at or r.started_at or r.scheduled_at
        if at is None:
            continue
        failed = r.outcome in FAILED_OUTCOMES
        if failed:
            err = ": ".join(x for x in (r.error_type, r.error_message) if x) or r.outcome
            text = f"{jid} failed ({clean(r.outcome, 20)}): {clean(err.splitlines()[0] if err else '', 200)}"
        elif r.outcome == "success":
            text = f"{jid} finished in {format_duration(r.duration_s)}"
        else:
            text = f"{jid} {clean(r.outcome, 20)}"
        what = "failed" if failed else ("finished" if r.outcome == "success" else clean(r.outcome, 20))
        out.append(Event(at, "run", what, r.job_id, text, failed=failed, key=f"run:{r.id}"))
    return out


def command_events(commands: Iterable[CommandInfo]) -> list[Event]:
    out = []
    for c in commands:
        who = f" by {clean(c.requested_by, 60)}" if c.requested_by else ""
        text = f"{clean(c.action, 16)} {clean(c.job_id, 191)}{who}: {clean(c.status, 16)}"
        if c.result:
            text += f" ({clean(c.result, 120)})"
        failed = c.status in ("failed", "expired")
        out.append(
            Event(c.requested_at, "action", c.action, c.job_id, text, failed=failed, key=f"cmd:{c.id}:{c.status}")
        )
    return out


def diff_events(before: Sequence[JobInfo], after: Sequence[JobInfo], now: datetime) -> list[Event]:
    """Jobs that appeared, disappeared, were paused or resumed between two reads."""
    old = {j.id: j for j in before}
    out: list[Event] = []
    seen: set[str] = set()
    for j in after:
        seen.add(j.id)
        prev = old.get(j.id)
        jid = clean(j.id, 191)
        if prev is None:
            out.append(Event(now, "job", "appeared", j.id, f"{jid} appeared", key=f"job:{j.id}:new:{now.timestamp()}"))
        elif prev is not j and prev.paused != j.paused:
            what = "paused" if j.paused else "resumed"
            out.append(Event(now, "job", what, j.id, f"{jid} {what}", key=f"job:{j.id}:{what}:{now.timestamp()}"))
    for jid in old:
        if jid not in seen:
            out.append(
                Event(
                    now,
                    "job",
                    "disappeared",
                    jid,
                    f"{clean(jid, 191)} disappeared",
                    failed=True,
                    key=f"job:{jid}:gone:{now.timestamp()}",
                )
            )
    return out


class EventLog:
    """Newest first, at most ``limit`` events, each key once."""

    def __init__(self, limit: int = 2000) -> None:
        self.limit = limit
        self._events: list[Event] = []
        self._keys: set[str] = set()
        self.version = 0  #: bumped on every change (the view repaints then)

    def add(self, events: Iterable[Event]) -> int:
        new = [e for e in events if e.key not in self._keys]
        if not new:
            return 0
        for e in new:
            self._keys.add(e.key)
        self._events.extend(new)
        self._events.sort(key=lambda e: e.at, reverse=True)
        if len(self._events) > self.limit:
            for e in self._events[self.limit :]:
                self._keys.discard(e.key)
            del self._events[self.limit :]
        self.version += 1
        return len(new)

    def events(self, needle: str = "", failed_only: bool = False) -> list[Event]:
        needle = needle.lower()
        return [
            e
            for e in self._events
            if (not failed_only or e.failed) and (not needle or needle in e.text.lower() or needle == e.kind)
        ]

    def __len__(self) -> int:
        return len(self._events)
