"""``check``'s ``leases`` component for APScheduler 4 stores: leases held past their expiry.

A scheduler acquires a schedule (``acquired_by``/``acquired_until``) while it processes it;
a lease still held after ``acquired_until`` means that scheduler stopped mid-work, and no
other scheduler takes the schedule until the lease is dropped. Read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from schedtui.core.aps4 import layout as L
from schedtui.core.health import CheckContext, Component, Line, Perf, Status


@dataclass(frozen=True, slots=True)
class Lease:
    """One schedule's (or job's) lease."""

    kind: str  #: ``schedule`` or ``job``
    id: str
    acquired_by: str
    acquired_until: datetime | None

    def expired(self, now: datetime) -> bool:
        return self.acquired_until is None or self.acquired_until < now

    def sentence(self) -> str:
        until = "?" if self.acquired_until is None else self.acquired_until.isoformat().replace("+00:00", "Z")
        who, what = L.printable(self.acquired_by, 80), L.printable(self.id, 80)
        return f"{self.kind} {what} leased by scheduler {who} until {until}, expired"


def read_leases(conn: sa.Connection, schema: str | None) -> list[Lease]:
    """Every lease held on a schedule or a job."""
    out: list[Lease] = []
    for kind, name in (("schedule", "schedules"), ("job", "jobs")):
        t = L.raw_table(name, ("id", "acquired_by", "acquired_until"), schema)
        for row in conn.execute(sa.select(t).where(t.c.acquired_by.is_not(None)).order_by(t.c.id)):
            ident = str(row[0]) if kind == "schedule" else L.uuid_text(row[0])
            out.append(Lease(kind, ident, str(row[1]), L.timestamp(row[2])))
    return out


def leases_component(ctx: CheckContext) -> Component | None:
    """WARNING per lease held past its expiry; None for stores that are not APScheduler 4."""
    if ctx.engine is None or not L.is_aps4_target(ctx.target) or ctx.snapshot is None:
        return None
    with ctx.engine.connect() as conn:
        if not L.is_aps4(conn, ctx.target.schema):
            return None
        leases = read_leases(conn, ctx.target.schema)
        conn.rollback()
    expired = [x for x in leases if x.expired(ctx.now)]
    lines = tuple(Line(x.sentence(), Status.WARNING) for x in expired)
    held = len(leases) - len(expired)
    if expired:
        summary = "; ".join(x.sentence() for x in expired[:3]) + (
            f" (and {len(expired) - 3} more)" if len(expired) > 3 else ""
        )
    else:
        summary = f"{held} lease(s) held, none expired"
    return Component(
        name="leases",
        status=Status.WARNING if expired else Status.OK,
        summary=summary,
        lines=lines,
        perfdata=(Perf("expired_leases", len(expired), warn=0),),
        data={"held": held, "expired": [{"kind": x.kind, "id": x.id, "by": x.acquired_by} for x in expired]},
    )
