"""The main screen: summary strip, jobs list, detail/history panes, and the refresh loop.

The refresh loop: a one-shot timer starts a thread worker that reads the store (never on
the UI thread) and posts a ``FrameReady`` message with frozen data; handling it re-arms
the timer. So refreshes never overlap. Grouping/sorting/filtering of the rows also runs in
a worker (``RowsReady``), and a one-second interval only repaints visible countdowns.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import ContentSwitcher, DataTable, Footer, Input, Static, TabbedContent, TabPane

from schedtui.core.clock import Clock
from schedtui.core.model import JobInfo, StoreSnapshot
from schedtui.tui.data import Extras, Feed, Frame, History, Run
from schedtui.tui.events import Event, EventLog, command_events, diff_events, run_events
from schedtui.tui.fmt import TZ_LABELS, TZ_MODES, TzMode, clean, clean_block, when_in
from schedtui.tui.screens.control import ControlMixin
from schedtui.tui.screens.dialogs import HelpScreen, TextScreen
from schedtui.tui.view import (
    GROUP_LABELS,
    GROUPINGS,
    SORT_LABELS,
    SORTS,
    STATE_FILTERS,
    GroupBy,
    JobRuns,
    RowList,
    SortBy,
    StateFilter,
    build_rows,
    count_overdue,
)
from schedtui.tui.widgets.detail import DetailPane
from schedtui.tui.widgets.events import EventsPane
from schedtui.tui.widgets.failures import FailuresPane
from schedtui.tui.widgets.history import HistoryPane
from schedtui.tui.widgets.jobs import BY_DIGIT, JobList
from schedtui.tui.widgets.summary import Counts, RefreshState, SummaryStrip, count_jobs

if TYPE_CHECKING:
    from schedtui.tui.app import SchedtuiApp

INTERVALS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
MAX_BACKOFF = 60.0
MIN_WIDTH, MIN_HEIGHT = 80, 24
#: the footer has room for the store keys (o, a, :) from this width on
STORE_KEYS_WIDTH = 120
STORE_KEYS = ("o", "a", "colon")
#: After a cursor move, the detail and history panes are drawn once the keys pause this long.
PANES_DELAY = 0.06
COMMAND_HINT = ":store NAME switches the store · :stores lists them (esc closes)"


@dataclass(frozen=True)
class ViewParams:
    group_by: GroupBy
    sort_by: SortBy
    needle: str
    collapsed: frozenset[str]
    flat: bool = False
    descending: bool = False
    state: StateFilter = ""


class FrameReady(Message):
    def __init__(self, frame: Frame, history: History | None, seconds: float = 0.0, cold: bool = False) -> None:
        super().__init__()
        self.seconds = seconds  #: how long the read took (wall time)
        self.cold = cold  #: a first read or full reload (decodes every row)
        self.frame = frame
        self.history = history


class RowsReady(Message):
    def __init__(self, token: int, rows: RowList, counts: Counts, events: list[Event] | None = None) -> None:
        super().__init__()
        self.token = token
        self.rows = rows
        self.counts = counts  #: (``counts.preview_of``: the rows are of a preview)
        self.events = events or []


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
        Binding("f", "cycle_state", "State", show=False),
        Binding("g", "cycle_group", "Group", show=False),
        Binding("l", "toggle_flat", "Table/tree", show=False),
        Binding("s", "cycle_sort", "Sort", show=False),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
        *[Binding(d, f"sort_column('{d}')", f"Sort by column {d}", show=False) for d in "1234567890"],
        Binding("space", "mark", "Mark", show=False),
        Binding("U", "unmark_all", "Unmark all", show=False),
        Binding("e", "toggle_events", "Events"),
        Binding("F", "toggle_failures", "Failures"),
        Binding("v", "toggle_pane", "Pane", show=False),
        Binding("z", "cycle_tz", "Zone", show=False),
        Binding("c", "copy_id", "Copy id", show=False),
        Binding("b", "backup", "Backup"),
        Binding("p", "pause_resume", "Pause"),
        Binding("r", "run_now", "Run"),
        Binding("d", "remove", "Remove", show=False),
        Binding("u", "archived", "Archived", show=False),
        Binding("t", "traceback", "Traceback", show=False),
        Binding("plus,equals_sign", "faster", "Refresh +", show=False),
        Binding("minus", "slower", "Refresh -", show=False),
        Binding("P", "toggle_refresh", "Pause refresh", show=False),
        Binding("R", "reload", "Reload", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        # shown in the footer when several stores are open and the terminal is wide enough
        # (``_show_store_keys``); the help lists them always
        Binding("o", "next_store", "Next store", show=False),
        Binding("a", "fleet", "Fleet", show=False),
        Binding("colon", "command_line", "Command", show=False),
    ]

    WRITE_ACTIONS: ClassVar[frozenset[str]] = frozenset({"pause_resume", "run_now", "remove"})

    def __init__(
        self,
        feed: Feed,
        *,
        read_only: bool,
        refresh: float,
        clock: Clock,
        store_name: str | None = None,
        screen_id: str = "main",
    ) -> None:
        super().__init__(id=screen_id)
        self.feed = feed
        #: the store's name when the console shows several (None: the one store)
        self.store_name = store_name
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
        self.loaded = False  #: true once the first rows are on screen (a preview's, maybe)
        #: true once the rows on screen are those of a complete read (not a preview's)
        self.complete = False
        self.refreshes = 0  #: completed refreshes (tests wait on it)
        self._timer: Timer | None = None
        self._inflight = False
        self._reload_next = False
        self._rows_token = 0
        self._select_timer: Timer | None = None
        self._panes_timer: Timer | None = None
        self.tz_mode: TzMode = "utc"
        self.events_log = EventLog()
        self._beat_fresh: bool | None = None
        self._reload_started: float | None = None
        self._titles: tuple[str, str] | None = None
        self._store_keys_shown = False
        self._summary_shown: tuple[object, ...] | None = None
        self._follow_cursor = False
        #: the listed row whose change (seen by the on-demand reprs) asked for a refresh
        self._refreshed_for: JobInfo | None = None
        self.init_control()

    # -- layout --------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="console"):
            yield SummaryStrip(id="summary")
            # Disabled while hidden: a hidden input can never take focus, nor keys.
            yield Input(placeholder="filter by id, name or function (esc clears)", id="filter", disabled=True)
            yield Input(placeholder=COMMAND_HINT, id="command", disabled=True)
            with ContentSwitcher(id="views", initial="body"):
                with Horizontal(id="body"):
                    yield JobList(clock=self.clock, id="jobs")
                    with TabbedContent(id="side", initial="tab-detail"):
                        with TabPane("Detail", id="tab-detail"):
                            yield DetailPane(id="detail")
                        with TabPane("History", id="tab-history"):
                            yield HistoryPane(id="history")
                yield EventsPane(id="events")
                yield FailuresPane(id="failures")
        yield Static(
            f"The console needs at least {MIN_WIDTH}x{MIN_HEIGHT} characters.\n"
            "Enlarge the terminal window (or use `schedtui check` for a one-shot report).",
            id="too-small",
        )
        yield Footer(compact=True)

    def on_mount(self) -> None:
        # the widgets the tick touches every second (a query walks the DOM)
        self._jobs = self.query_one(JobList)
        self._views = self.query_one("#views", ContentSwitcher)
        self._side = self.query_one("#side", TabbedContent)
        self._summary = self.query_one(SummaryStrip)
        self._detail = self.query_one(DetailPane)
        self.query_one("#filter", Input).display = False
        self.query_one("#command", Input).display = False
        self.query_one(JobList).focus()
        self._update_title()
        self._show_summary()
        self._check_size(self.app.size.width, self.app.size.height)
        self.set_interval(1.0, self.tick, name="countdown")
        self._arm(0)

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def on_screen_resume(self) -> None:
        """Back from a dialog, the help or the palette: the keys go to the list again."""
        self.focus_home()

    def focus_home(self) -> None:
        """Focus the list of the current view (never a hidden filter)."""
        view = self.query_one("#views", ContentSwitcher).current
        if view == "events":
            self.query_one("#events-table", DataTable).focus()
        elif view == "failures":
            self.query_one("#failures-table", DataTable).focus()
        else:
            self.query_one(JobList).focus()

    def _show_store_keys(self, width: int) -> None:
        """The footer names o, a and : when several stores are open and there is room."""
        show = self.store_name is not None and width >= STORE_KEYS_WIDTH
        if show == self._store_keys_shown:
            return
        self._store_keys_shown = show
        table = self._bindings.key_to_bindings
        for key in STORE_KEYS:
            if key in table:
                table[key] = [replace(b, show=show) for b in table[key]]
        self.refresh_bindings()

    def _check_size(self, width: int, height: int) -> None:
        self._show_store_keys(width)
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        was_small = self.has_class("-too-small")
        self.set_class(small, "-too-small")
        self.set_class(width >= 160, "-wide")
        if (was_small and not small) or (not small and self.app.focused is None):
            self.call_after_refresh(self.focus_home)
        if small:
            self.query_one("#too-small", Static).update(
                f"The console needs at least {MIN_WIDTH}x{MIN_HEIGHT} characters; this terminal is {width}x{height}.\n"
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
            elif cold:
                # A large store's first rows, on screen while the whole table is decoded.
                preview = self.feed.preview()
                if preview is not None:
                    self.post_message(FrameReady(preview, None, time.monotonic() - started, cold))
            frame = self.feed.fetch()
            history = self.feed.history(selected) if selected and not frame.stale else None
        except Exception as exc:
            frame = Frame(fetched_at=self.clock(), snapshot=None, error=f"internal error: {exc}", changed=False)
            history = None
        self.post_message(FrameReady(frame, history, time.monotonic() - started, cold))

    @on(FrameReady)
    def _on_frame(self, message: FrameReady) -> None:
        if message.frame.partial:
            self._on_preview(message.frame)
            return
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
        self._collect_events(frame)
        if message.cold and self._reload_started is not None and frame.snapshot is not None and not frame.stale:
            took = time.monotonic() - self._reload_started
            self._reload_started = None
            self.notify(
                f"reloaded: {len(frame.snapshot.jobs)} jobs read and decoded in {took:.1f}s", title="Reload", timeout=4
            )
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
        was_stale, jobs.stale = jobs.stale, frame.stale
        runs_changed = previous is not None and previous.job_runs != frame.job_runs
        jobs.runs = frame.job_runs
        if (
            frame.snapshot is not None
            and (
                frame.changed
                or not self.loaded
                or (
                    runs_changed
                    and (
                        self.params.sort_by in ("last_run", "outcome", "duration", "rate")
                        or self.params.state == "failing"
                    )
                )
            )
        ) or (frame.snapshot is None and not self.loaded):
            before = previous.snapshot.jobs if previous is not None and previous.snapshot is not None else None
            if previous is not None and previous.partial:
                before = None  # (the rest of the table was not added: it had not been read)
            self._request_rows(before if frame.changed else None)
        elif was_stale != frame.stale or runs_changed:
            jobs.refresh()  # (otherwise nothing on the list changed: the tick repaints countdowns)
        self._show_views()
        if message.history is not None and self.selected is not None and message.history.job_id == self.selected.id:
            self.history = message.history
            self._show_history()
        if self._summary_inputs() != self._summary_shown or self.has_class("-too-small"):
            self._show_summary()  # (else nothing but its times changed: the tick repaints them)
        self._update_title()
        self.control_frame(frame)
        if self._reload_next:
            self._arm(0)
        elif not self.refresh_paused:
            self._arm(delay)

    def _on_preview(self, frame: Frame) -> None:
        """A large store's first rows (``Feed.preview``): listed at once, marked partial,
        until the complete read (still in flight: no refresh is counted or armed) replaces
        them."""
        if self.frame is not None:
            return  # (only ever before the first frame)
        self.frame = frame
        self._request_rows()
        self._show_summary()
        self._update_title()

    @property
    def partial(self) -> bool:
        """The screen holds a preview: only the first rows of a large store are read."""
        return self.frame is not None and self.frame.partial

    # -- rows ----------------------------------------------------------------------
    def _snapshot(self) -> StoreSnapshot | None:
        return self.frame.snapshot if self.frame is not None else None

    def _request_rows(self, before: Sequence[JobInfo] | None = None) -> None:
        self._rows_token += 1
        snap = self._snapshot()
        jobs = snap.jobs if snap is not None else ()
        runs = self.frame.job_runs if self.frame is not None else {}
        preview_of = self.frame.preview_of if self.frame is not None else None
        self._build_rows(self._rows_token, jobs, self.params, runs, self.clock(), before, preview_of)

    @work(thread=True, group="rows", exit_on_error=False, description="group and sort the jobs")
    def _build_rows(
        self,
        token: int,
        jobs: tuple[JobInfo, ...],
        params: ViewParams,
        runs: dict[str, JobRuns],
        now: datetime,
        before: tuple[JobInfo, ...] | None = None,
        preview_of: int | None = None,
    ) -> None:
        try:
            rows = build_rows(
                jobs,
                now=now,
                group_by="none" if params.flat else params.group_by,
                sort_by=params.sort_by,
                descending=params.descending,
                needle=params.needle,
                state=params.state,
                collapsed=params.collapsed,
                runs=runs,
                presorted=True,
            )
            if params.group_by == "state" and not params.flat and not params.needle and not params.state:
                overdue = next((h.count for h in rows.headers if h.group == "overdue"), 0)
            else:
                overdue = count_overdue(jobs, now)
            counts = count_jobs(jobs, overdue, preview_of=preview_of)
            events = diff_events(before, jobs, now) if before is not None else []
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"cannot list the jobs: {clean(exc, 200)}", severity="error")
            return
        self.post_message(RowsReady(token, rows, counts, events))

    @on(RowsReady)
    def _on_rows(self, message: RowsReady) -> None:
        if message.events:
            self.events_log.add(message.events)
            self._show_views()
        if message.token != self._rows_token:
            return  # an older build; a newer one is coming
        self.counts = message.counts
        jobs = self.query_one(JobList)
        jobs.needle = self.params.needle
        jobs.sort_by = self.params.sort_by
        jobs.descending = self.params.descending
        if self.params.needle or self.params.state:
            what = " and ".join(
                x for x in (f"“{clean(self.params.needle, 60)}”" if self.params.needle else "", self.params.state) if x
            )
            jobs.empty_text = f"no job matches {what}"
        elif self.frame is not None and self.frame.snapshot is None:
            jobs.empty_text = "no data: the job store could not be read (see above)"
        else:
            jobs.empty_text = "the job store has no jobs"
        follow, self._follow_cursor = self._follow_cursor, False
        jobs.partial = message.counts.preview_of is not None
        jobs.set_rows(message.rows, follow=follow)
        if not self.loaded:
            self.loaded = True
        self.complete = not jobs.partial
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
            # The cursor line moves at once; the panes follow when the keys pause
            # (re-laying out the detail on every `j` would cost a whole screen).
            if self._panes_timer is not None:
                self._panes_timer.stop()
            self._panes_timer = self.set_timer(PANES_DELAY, self._show_panes)
        else:
            self._show_panes()
        if job is not None and refetch:
            if self._select_timer is not None:
                self._select_timer.stop()
                self._select_timer = None
            if changed_id:  # the keys may still be moving: read it when they pause
                self._select_timer = self.set_timer(0.15, lambda: self._fetch_selection(job))
            else:
                # the same job read again by a refresh: the fire times and reprs shown are
                # the old record's (its first fire time can be before the new next run),
                # so the new ones are read at once, not 0.15 s later
                self._fetch_selection(job)

    def _show_panes(self) -> None:
        self._panes_timer = None
        self._show_detail()
        self._show_history()

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
        reprs = message.extras.reprs
        if reprs is not None and reprs.changed and reprs.of is self.selected:
            self._refresh_for(reprs.of)

    def _refresh_for(self, job: JobInfo) -> None:
        """The selected row changed (or went) since the list was read: refresh now rather
        than at the next tick of the interval (once per listed row; not while paused)."""
        if self._refreshed_for is job or self.refresh_paused:
            return
        self._refreshed_for = job
        if not self._inflight:
            self._arm(0)

    @on(JobList.GroupToggled)
    def _on_group_toggled(self, message: JobList.GroupToggled) -> None:
        collapsed = set(self.params.collapsed)
        collapsed.symmetric_difference_update({message.group})
        self._set_params(collapsed=frozenset(collapsed))

    # -- rendering -----------------------------------------------------------------
    def tick(self) -> None:
        """Once a second: repaint what the time changed, from memory (the countdowns of the
        visible rows, the summary's times, the detail's "next run" line); nothing else."""
        if self.has_class("-too-small"):
            return
        if self._views.current == "body":
            self._jobs.tick()
        self._show_summary()
        if self.selected is not None and self._side.active == "tab-detail":
            self._show_detail()

    def _summary_inputs(self) -> tuple[object, ...]:
        """What the summary shows apart from the time (the tick renders that every second)."""
        f = self.frame
        data = (
            None
            if f is None
            else (
                f.snapshot is None,
                f.error,
                f.error_kind,
                f.companion,
                f.heartbeat,
                f.runs_24h,
                f.failures_24h,
                f.last_backup,
                f.preview_of,
            )
        )
        state = (self.interval, self.refresh_paused, self.retry_in, self.slowed)  # (as RefreshState shows it)
        return (data, self.counts, state, self.read_only, self.store_name, self.feed.target)

    def _show_summary(self) -> None:
        state = RefreshState(self.interval, self.refresh_paused, self.retry_in, self._inflight, self.slowed)
        self._summary_shown = self._summary_inputs()
        self._summary.show(
            self.feed.target, self.frame, self.counts, state, self.clock(), self.read_only, self.store_name
        )

    def _show_detail(self) -> None:
        self._detail.show(self.selected, self.extras, self.clock(), self.control_note(), self.tz_mode)

    def _show_history(self) -> None:
        label = self.selected.label if self.selected else None
        self.query_one(HistoryPane).show(self.history, label, self.clock(), self.tz_mode)

    def _show_views(self) -> None:
        view = self.query_one("#views", ContentSwitcher).current
        if view == "events":
            note = self.frame.feed_note if self.frame is not None else None
            self.query_one(EventsPane).show(self.events_log, self.clock(), self.tz_mode, note=note)
        elif view == "failures":
            self.query_one(FailuresPane).show(self.frame, self.clock(), self.tz_mode)

    def _update_title(self) -> None:
        p = self.params
        jobs = self.query_one(JobList)
        parts = ["Jobs (table)" if p.flat else f"Jobs by {GROUP_LABELS[p.group_by]}"]
        parts.append(f"sorted by {SORT_LABELS[p.sort_by]}{' (desc)' if p.descending else ''}")
        if p.state:
            parts.append(f"only {p.state}")
        if p.needle:
            parts.append(f"filter “{clean(p.needle, 40)}”")
        if p.needle or p.state:
            parts.append(f"{jobs.rows.shown} shown")
        if self.frame is not None and self.frame.stale:
            parts.insert(0, "STALE")
        if self.frame is not None and self.frame.preview_of is not None and self.frame.snapshot is not None:
            shown, total = len(self.frame.snapshot.jobs), self.frame.preview_of
            parts.insert(0, f"PARTIAL: first {shown:,} of {total:,} jobs")
        marks = len(jobs.marked)
        tz = "" if self.tz_mode == "utc" else f"times: {TZ_LABELS[self.tz_mode]}"
        sub = [x for x in (f"{marks} marked" if marks else "", tz) if x]
        titles = (" · ".join(parts), " · ".join(sub))
        if titles != self._titles:  # (setting a border title repaints the whole list)
            self._titles = titles
            jobs.border_title, jobs.border_subtitle = titles

    def _set_params(self, **changes: object) -> None:
        data = {**self.params.__dict__, **changes}
        self.params = ViewParams(**data)
        self._follow_cursor = True  # (the new rows scroll to the selected job)
        self._update_title()
        self._request_rows()

    # -- actions -------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Read-only keeps the write keys: pressing one says why nothing happens.
        return True

    def action_filter(self) -> None:
        if self.query_one("#views", ContentSwitcher).current == "events":
            self.query_one(EventsPane).open_filter()
            return
        self._show_view("body")
        box = self.query_one("#filter", Input)
        box.disabled = False
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _on_filter_changed(self, event: Input.Changed) -> None:
        self._set_params(needle=event.value.strip())

    @on(Input.Submitted, "#filter")
    def _on_filter_submitted(self, event: Input.Submitted) -> None:
        box = event.input
        if not event.value.strip():
            box.display = False
        box.disabled = True  # keys go to the list; `/` edits the filter again
        self.query_one(JobList).focus()

    def action_clear_filter(self) -> None:
        view = self.query_one("#views", ContentSwitcher).current
        if view == "events" and self.query_one("#events-filter", Input).has_focus:
            self.query_one(EventsPane).close_filter(clear=True)
            self._show_views()
            return
        if view != "body":
            self._show_view("body")
            return
        box = self.query_one("#filter", Input)
        if box.display or self.params.needle or self.params.state:
            box.value = ""
            box.display = False
            box.disabled = True
            self.query_one(JobList).focus()
            if self.params.needle or self.params.state:
                self._set_params(needle="", state="")

    def on_key(self, event: events.Key) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and self.query_one("#command", Input).has_focus:
            event.stop()
            self.close_command_line()
        elif event.key == "escape" and box.has_focus:
            event.stop()
            self.action_clear_filter()
        elif event.key in ("down", "up") and box.has_focus:
            event.stop()
            box.disabled = True
            self.query_one(JobList).focus()
        elif event.key == "escape" and self.query_one("#events-filter", Input).has_focus:
            event.stop()
            self.action_clear_filter()

    @on(Input.Changed, "#events-filter")
    def _on_events_filter(self, event: Input.Changed) -> None:
        self.query_one(EventsPane).needle = event.value.strip()
        self._show_views()

    def action_cycle_group(self) -> None:
        self._show_view("body")
        if self.params.flat:  # from the flat table, g shows the tree again
            self._set_params(flat=False, collapsed=frozenset())
            return
        nxt = GROUPINGS[(GROUPINGS.index(self.params.group_by) + 1) % len(GROUPINGS)]
        self._set_params(group_by=nxt, collapsed=frozenset())

    def action_cycle_sort(self) -> None:
        nxt = SORTS[(SORTS.index(self.params.sort_by) + 1) % len(SORTS)]
        self._sort(nxt, False)

    def action_reverse_sort(self) -> None:
        self._sort(self.params.sort_by, not self.params.descending)

    def action_sort_column(self, digit: str) -> None:
        col = BY_DIGIT.get(digit)
        if col is not None and col.sort is not None:
            self._sort_toggle(col.sort)

    @on(JobList.HeaderClicked)
    def _on_header_clicked(self, message: JobList.HeaderClicked) -> None:
        self._sort_toggle(message.sort)

    def _sort_toggle(self, sort: SortBy) -> None:
        """Sort by a column; the same column again flips the direction."""
        self._sort(sort, not self.params.descending if sort == self.params.sort_by else False)

    def _sort(self, sort: SortBy, descending: bool) -> None:
        self._show_view("body")
        self._set_params(sort_by=sort, descending=descending)

    def action_toggle_flat(self) -> None:
        self._show_view("body")
        flat = not self.params.flat
        self._set_params(flat=flat, collapsed=frozenset())

    def action_cycle_state(self) -> None:
        if self.query_one("#views", ContentSwitcher).current == "events":
            pane = self.query_one(EventsPane)
            pane.failed_only = not pane.failed_only
            self._show_views()
            return
        nxt = STATE_FILTERS[(STATE_FILTERS.index(self.params.state) + 1) % len(STATE_FILTERS)]
        self._set_params(state=nxt)

    def action_mark(self) -> None:
        jobs = self.query_one(JobList)
        if jobs.current_job is None:
            jobs.action_toggle_group()
            return
        jobs.toggle_mark()
        self._update_title()

    def action_unmark_all(self) -> None:
        jobs = self.query_one(JobList)
        if jobs.marked:
            n = len(jobs.marked)
            jobs.marked.clear()
            jobs.refresh()
            self.notify(f"{n} mark(s) cleared", timeout=2)
            self._update_title()

    def _show_view(self, name: str) -> None:
        switcher = self.query_one("#views", ContentSwitcher)
        if switcher.current != name:
            switcher.current = name
            self._show_views()
            self.focus_home()

    def action_toggle_events(self) -> None:
        current = self.query_one("#views", ContentSwitcher).current
        self._show_view("body" if current == "events" else "events")

    def action_toggle_failures(self) -> None:
        current = self.query_one("#views", ContentSwitcher).current
        self._show_view("body" if current == "failures" else "failures")

    def action_cycle_tz(self) -> None:
        self.tz_mode = TZ_MODES[(TZ_MODES.index(self.tz_mode) + 1) % len(TZ_MODES)]
        jobs = self.query_one(JobList)
        jobs.tz_mode = self.tz_mode
        jobs.refresh()
        self._show_detail()
        self._show_history()
        self.query_one(EventsPane)._shown = None
        self.query_one(FailuresPane)._shown = None
        self._show_views()
        self._update_title()

    def action_copy_id(self) -> None:
        job = self.selected
        if job is None:
            self.notify("no job selected", severity="warning", timeout=3)
            return
        self.app.copy_to_clipboard(job.id)
        self.notify(f"copied the id {clean(job.id, 80)} (OSC 52: the terminal's clipboard)", timeout=3)

    def _collect_events(self, frame: Frame) -> None:
        new: list[Event] = []
        new += run_events(frame.recent)
        new += command_events(frame.commands)
        for b in frame.backups:
            if b.created_at is not None:
                name = b.path.rsplit("/", 1)[-1]
                ok = "verified" if b.verified else "NOT verified"
                new.append(
                    Event(
                        b.created_at,
                        "backup",
                        "written",
                        None,
                        f"backup {clean(name, 120)} ({ok})",
                        failed=not b.verified,
                        key=f"backup:{name}",
                    )
                )
        hb = frame.heartbeat
        if hb is not None and not frame.stale:
            if self._beat_fresh is not None and hb.fresh != self._beat_fresh:
                what = "regained" if hb.fresh else "lost"
                new.append(
                    Event(
                        frame.fetched_at,
                        "heartbeat",
                        what,
                        None,
                        f"scheduler heartbeat {what}",
                        failed=not hb.fresh,
                        key=f"hb:{what}:{frame.fetched_at.timestamp()}",
                    )
                )
            self._beat_fresh = hb.fresh
        if self.events_log.add(new):
            self._show_views()

    def note_action(self, text: str, failed: bool = False, job_id: str | None = None) -> None:
        """Our own operator actions, in the events feed."""
        now = self.clock()
        self.events_log.add(
            [Event(now, "action", "console", job_id, text, failed=failed, key=f"ours:{now.timestamp()}:{text}")]
        )
        self._show_views()

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
        self._reload_started = time.monotonic()
        self.notify("full reload: reading and decoding every row…", title="Reload", timeout=3)
        if not self._inflight:
            self._arm(0)

    def action_backup(self) -> None:
        from schedtui.tui.screens.backup import BackupScreen

        def finished(ok: bool) -> None:
            # as soon as the backup is written (not when its window closes): the summary shows it
            if not self._inflight:
                self._arm(0)

        self.app.push_screen(BackupScreen(self.feed.target, self.clock, self.feed.backup_dir, on_finished=finished))

    def action_archived(self) -> None:
        """The deletion guard's archive: why each job is there, and restore one."""
        from schedtui.tui.screens.archived import ArchivedScreen

        archived = self.frame.archived if self.frame is not None else ()

        def done(restored: bool | None) -> None:
            if restored and not self._inflight:
                self._arm(0)

        self.app.push_screen(ArchivedScreen(self.feed.target, self.clock, archived, read_only=self.read_only), done)

    def action_traceback(self) -> None:
        pane = self.query_one(HistoryPane)
        run = pane.picked_run()
        if run is None:
            self.notify(
                "pick a run first: v opens the history, then ↑ ↓ and enter (or t)", severity="warning", timeout=4
            )
            return
        self._show_traceback(run)

    @on(HistoryPane.ShowTraceback)
    def _on_traceback(self, message: HistoryPane.ShowTraceback) -> None:
        self._show_traceback(message.run)

    def _show_traceback(self, run: Run) -> None:
        if not (run.traceback or run.error):
            self.notify(f"this {run.outcome} run has no error to show", timeout=3)
            return
        label = clean(self.selected.label, 80) if self.selected is not None else "job"
        title = f"{run.outcome} run of {label} at {when_in(run.when, self.tz_mode)}"
        self.app.push_screen(TextScreen(title, clean_block(str(run.traceback or run.error))[:20000]))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.read_only, several_stores=self.store_name is not None))

    # -- several stores ----------------------------------------------------------------
    def _stores_app(self) -> SchedtuiApp | None:
        from schedtui.tui.app import SchedtuiApp

        app = self.app
        return app if isinstance(app, SchedtuiApp) and app.stores else None

    def _one_store(self) -> None:
        self.notify(
            "one store is open: give --url (or --store) again, or name stores in ~/.config/schedtui/stores.toml",
            severity="warning",
            timeout=4,
        )

    def action_next_store(self) -> None:
        app = self._stores_app()
        nxt = app.next_store() if app is not None else None
        if app is None or nxt is None:
            self._one_store()
            return
        app.switch_store(nxt)

    def action_fleet(self) -> None:
        """Every store in one table (``schedtui check``'s judgement of each); enter switches."""
        app = self._stores_app()
        if app is None:
            self._one_store()
            return
        from schedtui.tui.screens.fleet import FleetScreen

        def picked(name: str | None) -> None:
            if name is not None and name != app.store_name:
                app.call_later(app.switch_store, name)

        app.push_screen(FleetScreen(app, interval=max(5.0, self.interval * 2)), picked)

    def action_command_line(self) -> None:
        box = self.query_one("#command", Input)
        box.value = ":"  # (k9s-style: what is typed reads `:store NAME`)
        box.disabled = False
        box.display = True
        box.focus()
        box.cursor_position = 1

    def close_command_line(self) -> None:
        box = self.query_one("#command", Input)
        box.value = ""
        box.display = False
        box.disabled = True
        self.focus_home()

    @on(Input.Submitted, "#command")
    def _on_command(self, event: Input.Submitted) -> None:
        text = event.value.strip().lstrip(":").strip()
        self.close_command_line()
        self.run_command(text)

    def run_command(self, text: str) -> None:
        """``store NAME`` (``s NAME``) switches the store; ``stores`` (``fleet``) opens the fleet view."""
        verb, _, arg = text.partition(" ")
        arg = arg.strip()
        if not verb:
            return
        if verb in ("store", "s") and arg:
            app = self._stores_app()
            if app is None:
                self._one_store()
            else:
                app.switch_store(arg)
        elif verb in ("stores", "fleet") or (verb in ("store", "s") and not arg):
            self.action_fleet()
        else:
            self.notify(f"unknown command {clean(text, 60)!r}: try :store NAME or :stores", severity="warning")
