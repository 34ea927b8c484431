"""The summary strip: scheduler, jobs, next run, 24 h runs, backup, database, freshness."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from textual.content import Content
from textual.widgets import Static

from schedtui.core.model import JobInfo, Target
from schedtui.core.vocab import overdue_summary
from schedtui.tui.data import Frame
from schedtui.tui.fmt import ago, clean, job_countdown, size
from schedtui.tui.glyphs import g

#: A piece of ``Content.assemble``: plain text or ``(text, style)``.
Part = str | Content | tuple[str, str]


@dataclass(frozen=True)
class Counts:
    total: int = 0
    active: int = 0
    paused: int = 0
    undecodable: int = 0
    overdue: int = 0
    next_job: JobInfo | None = None
    #: counted over a preview (``Frame.preview_of``): the table holds this many rows, and
    #: the counts above are of its first rows only (the summary does not show them)
    preview_of: int | None = None


def count_jobs(jobs: tuple[JobInfo, ...], overdue: int = 0, *, preview_of: int | None = None) -> Counts:
    active = paused = bad = 0
    nxt: JobInfo | None = None
    for j in jobs:
        if j.finding is not None:
            bad += 1
        elif j.next_run_time is None:
            paused += 1
        else:
            active += 1
            if nxt is None or j.next_run_time < nxt.next_run_time:  # type: ignore[operator]
                nxt = j
    return Counts(len(jobs), active, paused, bad, overdue, nxt, preview_of)


@dataclass(frozen=True)
class RefreshState:
    interval: float
    paused: bool = False
    retry_in: float | None = None
    loading: bool = False
    slowed: bool = False


def _sep() -> tuple[str, str]:
    return (f"  {g('sep')}  ", "$text-muted")


class SummaryStrip(Static):
    """Three lines that answer "is it healthy?" at a glance."""

    DEFAULT_CSS = """
    SummaryStrip { height: 3; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    _last: str | None = None

    def show(
        self,
        target: Target,
        frame: Frame | None,
        counts: Counts,
        refresh: RefreshState,
        now: datetime,
        read_only: bool = False,
        store_name: str | None = None,
    ) -> None:
        try:
            content = render_summary(target, frame, counts, refresh, now, read_only, store_name)
            if content.markup != self._last:  # (Content == compares the text only)
                self._last = content.markup
                self.update(content, layout=False)  # a fixed three lines: no new layout
        except Exception as exc:
            self.update(Content.styled(f"summary unavailable: {clean(exc, 200)}", "$error"))


def render_summary(
    target: Target,
    frame: Frame | None,
    counts: Counts,
    refresh: RefreshState,
    now: datetime,
    read_only: bool = False,
    store_name: str | None = None,
) -> Content:
    badge: list[Part] = [(" READ-ONLY ", "bold $background on $warning"), " "] if read_only else []
    total = _preview_total(frame, counts)
    if total is not None:
        return _partial(target, frame, total, badge, store_name)
    # the verdict first: at 80 columns the line is cut on the right, and the counts are the
    # ones the job list repeats
    line1 = Content.assemble(*badge, *_scheduler(frame, counts, now), _sep(), *_jobs(counts))
    line2 = Content.assemble(*_next(counts, now), _sep(), *_runs(frame), _sep(), *_backup(frame, now))
    line3 = Content.assemble(*_database(target, frame, refresh, now, store_name))
    return Content("\n").join([line1, line2, line3])


def _preview_total(frame: Frame | None, counts: Counts) -> int | None:
    """The table's row count while the screen shows only its first rows (a preview); else None."""
    if counts.preview_of is not None:
        return counts.preview_of
    return frame.preview_of if frame is not None else None


def _partial(target: Target, frame: Frame | None, total: int, badge: list[Part], store_name: str | None) -> Content:
    """The summary over a preview: what is being read, and no count or verdict that the
    first rows alone cannot give (overdue, health, 24 h runs, backups wait for the full read)."""
    shown = len(frame.snapshot.jobs) if frame is not None and frame.snapshot is not None else 0
    error = frame.error if frame is not None else None
    doing = f"{g('ring')} read of all {total:,} jobs failed" if error else f"{g('ring')} reading all {total:,} jobs…"
    line1 = Content.assemble(
        *badge,
        (doing, "$warning bold"),
        _sep(),
        (f"first {shown:,} listed (next runs first) · the counts follow", "$text-muted"),
    )
    line2 = Content.assemble(("overdue, next run, 24h runs, backup: after every job is read", "$text-muted"))
    db, name = _where(target, store_name)
    store: list[Part] = [*name, _sep()] if name else []
    if error:
        where: list[Part] = [(f"{g('bad')} ", "$error bold"), (clean(error, 160), "$error")]
    else:
        where = [(f"partial: {shown:,} of {total:,} jobs read", "$warning"), _sep(), *db]
    line3 = Content.assemble(*store, *where)
    return Content("\n").join([line1, line2, line3])


def _scheduler(frame: Frame | None, counts: Counts, now: datetime) -> list[Part]:
    if frame is None or frame.snapshot is None:
        return [(f"{g('ring')} scheduler: unknown", "$text-muted")]
    hb = frame.heartbeat
    if hb is not None:
        seen = f" (heartbeat {ago(hb.seen_at, now)})" if hb.seen_at else ""
        if hb.fresh and hb.state == "running":
            return [(f"{g('dot')} scheduler running", "$success bold"), (seen, "$text-muted")]
        if hb.fresh:
            return [(f"{g('dot')} scheduler {hb.state}", "$warning bold"), (seen, "$text-muted")]
        return [
            (f"{g('bad')} scheduler not running", "$error bold"),
            (f" (last heartbeat {ago(hb.seen_at, now)})", "$text-muted"),
        ]
    if counts.overdue:
        # the words of `schedtui check` (CRITICAL)
        return [
            (f"{g('bad')} {overdue_summary(counts.overdue, counts.total)}", "$error bold"),
            (" (no heartbeat)", "$text-muted"),
        ]
    return [(f"{g('dot')} no job overdue", "$success"), (" (no heartbeat: judged from the jobs)", "$text-muted")]


def _jobs(c: Counts) -> list[Part]:
    parts: list[Part] = [(f"{c.total} jobs", "bold"), f" · {c.active} active · {c.paused} paused · "]
    parts.append((f"{c.undecodable} undecodable", "$warning bold" if c.undecodable else ""))
    if c.overdue:
        parts += [" · ", (f"{c.overdue} overdue", "$error bold")]
    return parts


def _next(c: Counts, now: datetime) -> list[Part]:
    if c.next_job is None:
        return [("next: -", "$text-muted")]
    return ["next: ", (clean(c.next_job.label, 40), "bold"), " ", job_countdown(c.next_job, now)]


def _runs(frame: Frame | None) -> list[Part]:
    if frame is None or frame.companion is None:
        return [("24h: -", "$text-muted")]
    if not frame.companion:
        return [("24h: no run history (no companion)", "$text-muted")]
    runs = "?" if frame.runs_24h is None else str(frame.runs_24h)
    fails = frame.failures_24h or 0
    return [f"24h: {runs} runs · ", (f"{fails} failed", "$error bold" if fails else "$success")]


def _backup(frame: Frame | None, now: datetime) -> list[Part]:
    b = frame.last_backup if frame else None
    if b is None:
        return [("backup: none yet (press b)", "$text-muted")]
    mark = (f"{g('ok')} verified", "$success") if b.verified else ("unverified", "$warning")
    return [f"backup: {ago(b.created_at, now)}, {size(b.size)} ", mark]


def _freshness(frame: Frame | None, refresh: RefreshState, now: datetime) -> list[Part]:
    if frame is None:
        return [("loading…", "$text-muted")]
    last = frame.snapshot.read_at if frame.snapshot else None
    text = f"refreshed {ago(last, now)}" if last else "never refreshed"
    if refresh.paused:
        return [text + " · ", ("refresh paused", "$warning bold")]
    if refresh.slowed:
        return [text, (f" · every {refresh.interval:g}s", "$text-muted"), (" (slowed: reads are slow)", "$warning")]
    return [text, (f" · every {refresh.interval:g}s", "$text-muted")]


@functools.lru_cache(maxsize=64)
def _where(target: Target, store_name: str | None) -> tuple[tuple[Part, ...], tuple[Part, ...]]:
    """The database (masked URL, table) and the store's name: the same every second, so
    made once per target (masking a URL parses it)."""
    db: list[Part] = [("db ", "$text-muted"), clean(target.safe_url, 100)]
    # several stores: which one is on screen comes first (the URL may be cut at 80 columns)
    store: tuple[Part, ...] = () if store_name is None else ((f"store {clean(store_name, 40)}", "bold $accent"),)
    if target.table != "apscheduler_jobs" or target.schema:
        db.append((f" table {target.schema + '.' if target.schema else ''}{target.table}", "$text-muted"))
    return tuple(db), store


def _database(
    target: Target, frame: Frame | None, refresh: RefreshState, now: datetime, store_name: str | None = None
) -> list[Part]:
    db, name = _where(target, store_name)
    store: list[Part] = [*name, _sep()] if name else []
    if frame is None or frame.error is None:
        return [*store, *_freshness(frame, refresh, now), _sep(), *db]
    retry = f" · retrying in {refresh.retry_in:.0f}s" if refresh.retry_in else ""
    kept = f" · showing data from {ago(frame.snapshot.read_at, now)} (stale)" if frame.snapshot is not None else ""
    return [*store, (f"{g('bad')} ", "$error bold"), (clean(frame.error, 160), "$error"), (kept + retry, "$warning")]
