"""The history pane: a job's recent runs, statistics and a sparkline of durations."""

from __future__ import annotations

from datetime import datetime

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Static

from schedtui.tui.data import History, Run
from schedtui.tui.fmt import TzMode, ago, clean, format_duration, short_when
from schedtui.tui.glyphs import bars, g

#: Fixed widths of the when, outcome and duration columns (the error gets the rest).
FIXED_W = 14 + 10 + 9 + 3 * 2
FAILED = frozenset({"error", "unfinished"})

COMPANION_HINT = (
    "No run history: the schedtui companion is not installed in this scheduler.\n\n"
    "Add it where the scheduler is created (after adding its job store):\n\n"
    "    from schedtui.companion import attach\n"
    "    attach(scheduler)\n\n"
    "It records every run (outcome, duration, traceback) and a heartbeat in tables "
    "next to the jobs table. See: schedtui companion --help"
)

OUTCOME_STYLE = {
    "success": "$success",
    "error": "$error",
    "unfinished": "$error",
    "missed": "$warning",
    "max_instances": "$warning",
    "running": "$accent",
}


def render_stats(h: History, now: datetime) -> Content:
    rate = "-" if h.success_rate is None else f"{h.success_rate * 100:.0f}%"
    parts: list[str | Content | tuple[str, str]] = [
        ("runs ", "$text-muted"),
        str(h.total if h.total is not None else len(h.runs)),
        ("  success ", "$text-muted"),
        (rate, "$success" if (h.success_rate or 0) >= 0.99 else "$warning"),
        ("  p50 ", "$text-muted"),
        format_duration(h.p50),
        ("  p95 ", "$text-muted"),
        format_duration(h.p95),
        ("  max ", "$text-muted"),
        format_duration(h.max),
    ]
    line2 = Content.assemble(
        ("last success ", "$text-muted"),
        ago(h.last_success, now),
        ("  last failure ", "$text-muted"),
        (ago(h.last_failure, now), "$error" if h.last_failure else ""),
    )
    return Content("\n").join([Content.assemble(*parts), line2])


def render_spark(runs: tuple[Run, ...], width: int) -> Content:
    """Durations as bars, oldest left; a failed run is a red cross whatever its length."""
    shown = list(reversed(runs))[-max(1, width) :]
    if not shown:
        return Content("")
    levels = bars()
    top = max((r.duration or 0.0) for r in shown) or 1.0
    parts: list[str | Content | tuple[str, str]] = []
    for r in shown:
        if r.outcome in FAILED:
            parts.append((g("fail") if width else "x", "$error bold"))
        elif r.duration is None:
            parts.append((levels[0], "$text-muted"))
        else:
            i = min(len(levels) - 1, int((r.duration / top) * (len(levels) - 1)))
            parts.append((levels[i], "$success" if r.outcome == "success" else "$warning"))
    return Content.assemble(*parts)


class HistoryPane(Vertical):
    """Runs of the selected job. Enter on a run shows its full traceback."""

    DEFAULT_CSS = """
    HistoryPane { padding: 0 1; }
    HistoryPane #history-stats { height: auto; }
    HistoryPane #history-spark { height: 1; margin: 0 0 1 0; text-wrap: nowrap; }
    HistoryPane DataTable { height: 1fr; }
    HistoryPane #history-note { height: auto; }
    HistoryPane #history-error { height: auto; max-height: 4; color: $error; }
    """

    class ShowTraceback(Message):
        def __init__(self, run: Run) -> None:
            super().__init__()
            self.run = run

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history: History | None = None
        self.picked = False  #: the operator moved to a run (so `t` means that one)
        self._shown: tuple[object, ...] | None = None
        self._cursor_key: str | None = None
        self._label: str | None = None
        self._args: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="history-note")
        yield Static(id="history-stats")
        yield Static(id="history-spark")
        table: DataTable[object] = DataTable(id="history-runs", cursor_type="row", zebra_stripes=False)
        table.add_column("when", key="when", width=14)
        table.add_column("outcome", key="outcome", width=10)
        table.add_column("duration", key="duration", width=9)
        table.add_column("error", key="error")
        yield table
        yield Static(id="history-error")

    def show(self, history: History | None, job_label: str | None, now: datetime, tz_mode: TzMode = "utc") -> None:
        try:
            self._show(history, job_label, now, tz_mode)
        except Exception as exc:
            self.query_one("#history-note", Static).update(
                Content.styled(f"cannot show the runs: {clean(exc, 200)}", "$error")
            )
            self._visible(False)

    def _show(self, history: History | None, job_label: str | None, now: datetime, tz_mode: TzMode) -> None:
        width = self.query_one("#history-runs", DataTable).size.width
        state = (history, job_label, tz_mode, width)
        if state == self._shown:
            self._show_stats(now)
            return  # nothing new: the table (and its cursor) stay as they are
        job_changed = job_label != self._label
        self._label = job_label
        self._shown = state
        self._args = (history, job_label, now, tz_mode)
        if job_changed:
            self.picked = False
            self._cursor_key = None
        self.history = history
        note = self.query_one("#history-note", Static)
        stats = self.query_one("#history-stats", Static)
        spark = self.query_one("#history-spark", Static)
        table = self.query_one("#history-runs", DataTable)
        table.clear()
        spark.update("")
        stats.update("")
        self.query_one("#history-error", Static).update("")
        if job_label is None:
            note.update(Content.styled("Select a job to see its runs.", "$text-muted"))
            self._visible(False)
            return
        if history is None:
            note.update(Content.styled("reading runs…", "$text-muted"))
            self._visible(False)
            return
        if history.error:
            note.update(Content.styled(f"cannot read the run history: {history.error}", "$error"))
            self._visible(False)
            return
        if not history.companion:
            note.update(Content(COMPANION_HINT))
            self._visible(False)
            return
        self._visible(True)
        if not history.runs:
            note.update(Content.styled(f"No runs recorded for {clean(job_label, 80)} yet.", "$text-muted"))
        else:
            note.update(
                Content.assemble(
                    ("Runs of ", "$text-muted"), (clean(job_label, 80), "bold"), ("  (enter: traceback)", "$text-muted")
                )
            )
        stats.update(render_stats(history, now))
        spark.update(render_spark(history.runs, max(1, self.size.width - 2)))
        error_w = max(8, width - FIXED_W - 1) if width else 40
        cursor = 0
        seen: set[str] = set()
        for i, run in enumerate(history.runs):
            key = run_key(run, i)
            if key in seen:
                key = f"{key}#{i}"
            seen.add(key)
            if key == self._cursor_key:
                cursor = i
            error = clean(run.error or "", 300)
            if len(error) > error_w:
                error = error[: error_w - 1] + g("ellipsis")
            outcome = (g("fail") + " " + run.outcome) if run.outcome in FAILED else run.outcome
            table.add_row(
                short_when(run.when, tz_mode),
                Content.styled(outcome, OUTCOME_STYLE.get(run.outcome, "")),
                format_duration(run.duration),
                Content.styled(error, "$error" if run.outcome in FAILED else ""),
                key=key,
            )
        if history.runs:
            table.move_cursor(row=cursor, animate=False)
            self._show_error(history.runs[cursor])

    def _show_stats(self, now: datetime) -> None:
        if self.history is not None and self.history.companion and not self.history.error:
            self.query_one("#history-stats", Static).update(render_stats(self.history, now))

    def _show_error(self, run: Run | None) -> None:
        """The picked run's whole error, wrapped (the table cell is cut to fit)."""
        text = clean(run.error, 600) if run is not None and run.error else ""
        self.query_one("#history-error", Static).update(Content.styled(text, "$error") if text else "")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if self.history is None or event.row_key is None or event.row_key.value is None:
            return
        key = str(event.row_key.value)
        if key != self._cursor_key and self._cursor_key is not None:
            self.picked = True
        if self.query_one("#history-runs", DataTable).has_focus:
            self.picked = True
        self._cursor_key = key
        self._show_error(self._run_for(key))

    def on_resize(self, event: events.Resize) -> None:
        if self._args is not None:  # re-fit the error column (the cursor stays)
            self.call_after_refresh(self.show, *self._args)

    def _run_for(self, key: str) -> Run | None:
        if self.history is None:
            return None
        seen: set[str] = set()
        for i, run in enumerate(self.history.runs):
            k = run_key(run, i)
            if k in seen:
                k = f"{k}#{i}"
            seen.add(k)
            if k == key:
                return run
        return None

    def _visible(self, on: bool) -> None:
        for wid in ("#history-stats", "#history-spark", "#history-runs", "#history-error"):
            self.query_one(wid).display = on

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        run = self._run_for(str(event.row_key.value))
        if run is not None:
            self.picked = True
            self.post_message(self.ShowTraceback(run))

    def picked_run(self) -> Run | None:
        """The run the operator picked (None until they moved to one or focused the table)."""
        if not self.picked and not self.query_one("#history-runs", DataTable).has_focus:
            return None
        return self.selected_run()

    def selected_run(self) -> Run | None:
        if self.history is None or not self.history.runs:
            return None
        table = self.query_one("#history-runs", DataTable)
        row = table.cursor_row
        if 0 <= row < len(self.history.runs):
            return self.history.runs[row]
        return None


def run_key(run: Run, index: int) -> str:
    """A run's identity across refreshes (its start time; the index only breaks ties)."""
    return f"t{run.when.timestamp()}" if run.when is not None else f"i{index}"
