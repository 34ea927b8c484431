"""The main screen: summary strip, jobs list, detail/history panes, and the refresh loop.

The refresh loop: a one-shot timer starts a thread worker that reads the store (never on
the UI thread) and posts a ``FrameReady`` message with frozen data; handling it re-arms
the timer. So refreshes never overlap. Grouping/sorting/filtering of the rows also runs in
a worker (``RowsReady``), and a one-second interval only repaints visible countdowns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from schedtui.core.clock import Clock
from schedtui.core.model import JobInfo, StoreSnapshot
from schedtui.tui.data import Extras, Feed, Frame, History, Run
from schedtui.tui.screens.control import ControlMixin
from schedtui.tui.screens.dialogs import HelpScreen, TextScreen
from schedtui.tui.view import (
    GROUP_LABELS,
    GROUPINGS,
    SORT_LABELS,
    SORTS,
    GroupBy,
    RowList,
    SortBy,
    build_rows,
    count_overdue,
)
from schedtui.tui.widgets.detail import DetailPane
from schedtui.tui.widgets.history import HistoryPane
from schedtui.tui.widgets.jobs import JobList
from schedtui.tui.widgets.summary import Counts, RefreshState, SummaryStrip, count_jobs

INTERVALS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
MAX_BACKOFF = 60.0
MIN_WIDTH, MIN_HEIGHT = 80, 24


@dataclass(frozen=True)
class ViewParams:
    group_by: GroupBy
    sort_by: SortBy
    needle: str
    collapsed: frozenset[str]


class FrameReady(Message):
    def __init__(self, frame: Frame, history: History | None, seconds: float = 0.0, cold: bool = False) -> None:
        super().__init__()
        self.seconds = seconds  #: how long the read took (wall time)
        self.cold = cold  #: a first read or full reload (decodes every row)
        self.frame = frame
        self.history = history


class RowsReady(Message):
    def __init__(self, token: int, rows: RowList, counts: Counts) -> None:
        super().__init__()
        self.token = token
        self.rows = rows
        self.counts = counts


class SelectionReady(Message):
    def __init__(self, job_id: str, extras: Extras, history: History) -> None:
        super().__init__()
        self.job_id = job_id
        self.extras = extras
        self.history = history


class MainScreen(ControlMixin, Screen[None]):
    """Everything the operator watches, in one screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter"),
        Binding("g", "cycle_group", "Group"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("v", "toggle_pane", "Pane", show=False),
        Binding("b", "backup", "Backup"),
        Binding("p", "pause_resume", "Pause"),
        Binding("r", "run_now", "Run"),
        Binding("d", "remove", "Remove"),
        Binding("u", "archived", "Archived", show=False),
        Binding("t", "traceback", "Traceback", show=False),
        Binding("plus,equals_sign", "faster", "Refresh +", show=False),
        Binding("minus", "slower", "Refresh -", show=False),
        Binding("P", "toggle_refresh", "Pause refresh", show=False),
        Binding("R", "reload", "Reload", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    WRITE_ACTIONS: ClassVar[frozenset[str]] = frozenset({"pause_resume", "run_now", "remove"})

    def __init__(self, feed: Feed, *, read_only: bool, refresh: float, clock: Clock) -> None:
        super().__init__(id="main")
        self.feed = feed
        self.clock = clock
        self.read_only = read_only
        self.interval = float(refresh)
        self.refresh_paused = False
        self.frame: Frame | None = None
        self.counts = Counts()
        self.params = ViewParams("state", "next", "", frozenset())
        self.selected: JobInfo | None = None
        self.extras: Extras | None = None
        self.history: History | None = None
        self.failures = 0
        self.slowed = False  #: refreshes spaced out because reads are slow
        self.retry_in: float | None = None
        self.loaded = False  #: true once the first rows are on screen
        self.refreshes = 0  #: completed refreshes (tests wait on it)
        self._timer: Timer | None = None
        self._inflight = False
        self._reload_next = False
        self._rows_token = 0
        self._select_timer: Timer | None = None
        self.init_control()

    # -- layout --------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="console"):
            yield SummaryStrip(id="summary")
            yield Input(placeholder="filter by id, name or function (esc clears)", id="filter")
            with Horizontal(id="body"):
                yield JobList(clock=self.clock, id="jobs")
                with TabbedContent(id="side", initial="tab-detail"):
                    with TabPane("Detail", id="tab-detail"):
                        yield DetailPane(id="detail")
                    with TabPane("History", id="tab-history"):
                        yield HistoryPane(id="history")
        yield Static(
            f"The console needs at least {MIN_WIDTH}×{MIN_HEIGHT} characters.\n"
            "Enlarge the terminal window (or use `schedtui check` for a one-shot report).",
            id="too-small",
        )
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one(JobList).focus()
        self._update_title()
        self._show_summary()
        self._check_size(self.app.size.width, self.app.size.height)
        self.set_interval(1.0, self.tick, name="countdown")
        self._arm(0)

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int, height: int) -> None:
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.set_class(small, "-too-small")
        # Narrow terminals: the footer keeps every key (ctrl+p still opens the palette).
        self.query_one(Footer).show_command_palette = width >= 100
        if small:
            self.query_one("#too-small", Static).update(
                f"The console needs at least {MIN_WIDTH}×{MIN_HEIGHT} characters; this terminal is {width}×{height}.\n"
                "Enlarge the window, or use `schedtui check` for a one-shot report."
            )

    # -- the refresh loop -----------------------------------------------------------
    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
        # (A zero-delay Timer trips Textual's timer arithmetic: use a tiny one.)
        self._timer = self.set_timer(max(delay, 0.01), self._start_refresh, name="refresh")

    def _start_refresh(self) -> None:
        self._timer = None
        if self._inflight:
            return
        self._inflight = True
        reload, self._reload_next = self._reload_next, False
        selected = self.selected.id if self.selected is not None else None
        cold = reload or self.frame is None or self.frame.snapshot is None
        self._fetch(reload, selected, cold)

    @work(thread=True, group="refresh", exit_on_error=False, description="read the job store")
    def _fetch(self, reload: bool, selected: str | None, cold: bool = False) -> None:
        started = time.monotonic()
        try:
            if reload:
                self.feed.reset()
            frame = self.feed.fetch()
            history = self.feed.history(selected) if selected and not frame.stale else None
        except Exception as exc:
            frame = Frame(fetched_at=self.clock(), snapshot=None, error=f"internal error: {exc}", changed=False)
            history = None
        self.post_message(FrameReady(frame, history, time.monotonic() - started, cold))

    @on(FrameReady)
    def _on_frame(self, message: FrameReady) -> None:
        self._inflight = False
        self.refreshes += 1
        frame = message.frame
        previous = self.frame
        if frame.stale and previous is not None:
            # Keep everything last seen on screen (marked stale), with the new error.
            frame = replace(
                previous,
                fetched_at=frame.fetched_at,
                snapshot=frame.snapshot or previous.snapshot,
                error=frame.error,
                error_kind=frame.error_kind,
                changed=False,
            )
        self.frame = frame
        if frame.stale:
            self.failures += 1
            delay = min(MAX_BACKOFF, self.interval * (2 ** min(self.failures, 6)))
            self.retry_in = delay
        else:
            if self.failures:
                self.notify("database reachable again", title="Recovered")
            self.failures = 0
            self.retry_in = None
            # Slow reads (huge stores, busy servers) space refreshes out: the database
            # and the UI thread get at least twice the read time to themselves.
            spacing = 0.0 if message.cold else message.seconds * 3
            self.slowed = spacing > self.interval
            delay = max(self.interval, spacing)
        jobs = self.query_one(JobList)
        jobs.stale = frame.stale
        if (
            frame.snapshot is not None
            and (
                frame.changed
                or not self.loaded
                or (
                    previous is not None
                    and previous.last_durations != frame.last_durations
                    and self.params.sort_by == "duration"
                )
            )
        ) or (frame.snapshot is None and not self.loaded):
            self._request_rows()
        else:
            jobs.refresh()
        if message.history is not None and self.selected is not None and message.history.job_id == self.selected.id:
            self.history = message.history
            self._show_history()
        self._show_summary()
        self._update_title()
        self.control_frame(frame)
        if self._reload_next:
            self._arm(0)
        elif not self.refresh_paused:
            self._arm(delay)

    # -- rows ----------------------------------------------------------------------
    def _snapshot(self) -> StoreSnapshot | None:
        return self.frame.snapshot if self.frame is not None else None

    def _request_rows(self) -> None:
        self._rows_token += 1
        snap = self._snapshot()
        jobs = snap.jobs if snap is not None else ()
        durations = self.frame.last_durations if self.frame is not None else {}
        self._build_rows(self._rows_token, jobs, self.params, durations, self.clock())

    @work(thread=True, group="rows", exit_on_error=False, description="group and sort the jobs")
    def _build_rows(
        self, token: int, jobs: tuple[JobInfo, ...], params: ViewParams, durations: dict[str, float], now: datetime
    ) -> None:
        try:
            rows = build_rows(
                jobs,
                now=now,
                group_by=params.group_by,
                sort_by=params.sort_by,
                needle=params.needle,
                collapsed=params.collapsed,
                durations=durations,
                presorted=True,
            )
            if params.group_by == "state" and not params.needle:
                overdue = next((h.count for h in rows.headers if h.group == "overdue"), 0)
            else:
                overdue = count_overdue(jobs, now)
            counts = count_jobs(jobs, overdue)
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"cannot list the jobs: {exc}", severity="error")
            return
        self.post_message(RowsReady(token, rows, counts))

    @on(RowsReady)
    def _on_rows(self, message: RowsReady) -> None:
        if message.token != self._rows_token:
            return  # an older build; a newer one is coming
        self.counts = message.counts
        jobs = self.query_one(JobList)
        if self.params.needle:
            jobs.empty_text = f"no job matches “{self.params.needle}”"
        elif self.frame is not None and self.frame.snapshot is None:
            jobs.empty_text = "no data: the job store could not be read (see above)"
        else:
            jobs.empty_text = "the job store has no jobs"
        jobs.set_rows(message.rows)
        if not self.loaded:
            self.loaded = True
        self._refresh_selected_object()
        self._show_summary()
        self._update_title()

    def _refresh_selected_object(self) -> None:
        """A refresh may bring a new JobInfo for the selected id: show the new one."""
        job = self.query_one(JobList).current_job
        if job is not None and self.selected is not None and job.id == self.selected.id and job is not self.selected:
            self._select(job, refetch=True)

    # -- selection -----------------------------------------------------------------
    @on(JobList.Highlighted)
    def _on_highlight(self, message: JobList.Highlighted) -> None:
        self._select(message.job, refetch=True)

    def _select(self, job: JobInfo | None, *, refetch: bool) -> None:
        changed_id = (job.id if job else None) != (self.selected.id if self.selected else None)
        self.selected = job
        if changed_id:
            self.extras = None
            self.history = None
        self._show_detail()
        self._show_history()
        if job is not None and refetch:
            if self._select_timer is not None:
                self._select_timer.stop()
            self._select_timer = self.set_timer(0.15, lambda: self._fetch_selection(job))

    @work(thread=True, group="selection", exclusive=True, exit_on_error=False, description="read the selected job")
    def _fetch_selection(self, job: JobInfo) -> None:
        extras = self.feed.extras(job, self.clock())
        history = self.feed.history(job.id)
        self.post_message(SelectionReady(job.id, extras, history))

    @on(SelectionReady)
    def _on_selection(self, message: SelectionReady) -> None:
        if self.selected is None or self.selected.id != message.job_id:
            return
        self.extras = message.extras
        self.history = message.history
        self._show_detail()
        self._show_history()

    @on(JobList.GroupToggled)
    def _on_group_toggled(self, message: JobList.GroupToggled) -> None:
        collapsed = set(self.params.collapsed)
        collapsed.symmetric_difference_update({message.group})
        self._set_params(collapsed=frozenset(collapsed))

    # -- rendering -----------------------------------------------------------------
    def tick(self) -> None:
        """Once a second: repaint countdowns and the summary from memory."""
        self.query_one(JobList).tick()
        self._show_summary()
        if self.selected is not None and self.query_one("#side", TabbedContent).active == "tab-detail":
            self._show_detail()

    def _show_summary(self) -> None:
        state = RefreshState(self.interval, self.refresh_paused, self.retry_in, self._inflight, self.slowed)
        self.query_one(SummaryStrip).show(self.feed.target, self.frame, self.counts, state, self.clock())

    def _show_detail(self) -> None:
        self.query_one(DetailPane).show(self.selected, self.extras, self.clock(), self.control_note())

    def _show_history(self) -> None:
        label = self.selected.label if self.selected else None
        self.query_one(HistoryPane).show(self.history, label, self.clock())

    def _update_title(self) -> None:
        p = self.params
        parts = [f"Jobs by {GROUP_LABELS[p.group_by]}", f"sorted by {SORT_LABELS[p.sort_by]}"]
        if p.needle:
            shown = sum(h.count for h in self.query_one(JobList).rows.headers)
            parts.append(f"filter “{p.needle}”: {shown} shown")
        if self.frame is not None and self.frame.stale:
            parts.insert(0, "STALE")
        self.query_one(JobList).border_title = " · ".join(parts)

    def _set_params(self, **changes: object) -> None:
        data = {**self.params.__dict__, **changes}
        self.params = ViewParams(**data)
        self._update_title()
        self._request_rows()

    # -- actions -------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.WRITE_ACTIONS and self.read_only:
            return False
        return True

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _on_filter_changed(self, event: Input.Changed) -> None:
        self._set_params(needle=event.value.strip())

    @on(Input.Submitted, "#filter")
    def _on_filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.display = False
        self.query_one(JobList).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display or self.params.needle:
            box.value = ""
            box.display = False
            self.query_one(JobList).focus()
            if self.params.needle:
                self._set_params(needle="")

    def on_key(self, event: events.Key) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.has_focus:
            event.stop()
            self.action_clear_filter()
        elif event.key in ("down", "up") and box.has_focus:
            event.stop()
            self.query_one(JobList).focus()

    def action_cycle_group(self) -> None:
        nxt = GROUPINGS[(GROUPINGS.index(self.params.group_by) + 1) % len(GROUPINGS)]
        self._set_params(group_by=nxt, collapsed=frozenset())
        self.notify(f"grouped by {GROUP_LABELS[nxt]}", timeout=2)

    def action_cycle_sort(self) -> None:
        nxt = SORTS[(SORTS.index(self.params.sort_by) + 1) % len(SORTS)]
        self._set_params(sort_by=nxt)
        self.notify(f"sorted by {SORT_LABELS[nxt]}", timeout=2)

    def action_toggle_pane(self) -> None:
        side = self.query_one("#side", TabbedContent)
        side.active = "tab-history" if side.active == "tab-detail" else "tab-detail"

    def action_faster(self) -> None:
        self._set_interval(-1)

    def action_slower(self) -> None:
        self._set_interval(+1)

    def _set_interval(self, step: int) -> None:
        # "+" refreshes more often (shorter interval), "-" less often.
        current = min(range(len(INTERVALS)), key=lambda i: abs(INTERVALS[i] - self.interval))
        self.interval = INTERVALS[max(0, min(len(INTERVALS) - 1, current + step))]
        self.notify(f"refresh every {self.interval:g}s", timeout=2)
        self._show_summary()
        if not self.refresh_paused and not self._inflight and self.failures == 0:
            self._arm(self.interval)

    def action_toggle_refresh(self) -> None:
        self.refresh_paused = not self.refresh_paused
        if self.refresh_paused:
            if self._timer is not None:
                self._timer.stop()
                self._timer = None
            self.notify("refresh paused (P resumes)", timeout=2)
        else:
            self.notify("refresh resumed", timeout=2)
            if not self._inflight:
                self._arm(0)
        self._show_summary()

    def action_reload(self) -> None:
        self._reload_next = True
        self.notify("full reload", timeout=2)
        if not self._inflight:
            self._arm(0)

    def action_backup(self) -> None:
        from schedtui.tui.screens.backup import BackupScreen

        def done(ok: bool | None) -> None:
            if ok and not self._inflight:
                self._arm(0)  # show the new backup in the summary

        self.app.push_screen(BackupScreen(self.feed.target, self.clock, self.feed.backup_dir), done)

    def action_archived(self) -> None:
        """The deletion guard's archive: why each job is there, and restore one."""
        from schedtui.tui.screens.archived import ArchivedScreen

        archived = self.frame.archived if self.frame is not None else ()

        def done(restored: bool | None) -> None:
            if restored and not self._inflight:
                self._arm(0)

        self.app.push_screen(ArchivedScreen(self.feed.target, self.clock, archived, read_only=self.read_only), done)

    def action_traceback(self) -> None:
        run = self.query_one(HistoryPane).selected_run()
        if run is None:
            self.notify("no run selected in the history pane", severity="warning", timeout=3)
            return
        self._show_traceback(run)

    @on(HistoryPane.ShowTraceback)
    def _on_traceback(self, message: HistoryPane.ShowTraceback) -> None:
        self._show_traceback(message.run)

    def _show_traceback(self, run: Run) -> None:
        text = run.traceback or run.error or "this run has no error"
        self.app.push_screen(TextScreen(f"{run.outcome} run", str(text)[:20000]))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.read_only))
