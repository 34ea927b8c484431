"""The history pane: a job's recent runs, statistics and a sparkline of durations."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Sparkline, Static

from schedtui.tui.data import History, Run
from schedtui.tui.fmt import ago, clean, format_duration

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
    rate = "—" if h.success_rate is None else f"{h.success_rate * 100:.0f}%"
    parts: list[str | tuple[str, str]] = [
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


def _short_when(when: datetime | None, now: datetime) -> str:
    """``11:55:00`` today (UTC), ``03-01 23:10`` before."""
    if when is None:
        return "—"
    try:
        when = when.astimezone(UTC)
        if when.date() == now.astimezone(UTC).date():
            return when.strftime("%H:%M:%S")
        return when.strftime("%m-%d %H:%M")
    except Exception:
        return clean(when, 20)


class HistoryPane(Vertical):
    """Runs of the selected job. Enter on a run shows its full traceback."""

    DEFAULT_CSS = """
    HistoryPane { padding: 0 1; }
    HistoryPane #history-stats { height: auto; }
    HistoryPane #history-spark { height: 1; margin: 0 0 1 0; }
    HistoryPane DataTable { height: 1fr; }
    HistoryPane #history-note { height: auto; }
    """

    class ShowTraceback(Message):
        def __init__(self, run: Run) -> None:
            super().__init__()
            self.run = run

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history: History | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="history-note")
        yield Static(id="history-stats")
        yield Sparkline([], id="history-spark")
        table: DataTable[str | Content] = DataTable(id="history-runs", cursor_type="row", zebra_stripes=False)
        table.add_columns("when (UTC)", "outcome", "duration", "error")
        yield table

    def show(self, history: History | None, job_label: str | None, now: datetime) -> None:
        try:
            self._show(history, job_label, now)
        except Exception as exc:
            self.query_one("#history-note", Static).update(
                Content.styled(f"cannot show the runs: {clean(exc, 200)}", "$error")
            )
            self._visible(False)

    def _show(self, history: History | None, job_label: str | None, now: datetime) -> None:
        self.history = history
        note = self.query_one("#history-note", Static)
        stats = self.query_one("#history-stats", Static)
        spark = self.query_one("#history-spark", Sparkline)
        table = self.query_one("#history-runs", DataTable)
        table.clear()
        spark.data = []
        stats.update("")
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
        spark.data = [r.duration for r in reversed(history.runs) if r.duration is not None] or []
        for i, run in enumerate(history.runs):
            table.add_row(
                _short_when(run.when, now),
                Content.styled(run.outcome, OUTCOME_STYLE.get(run.outcome, "")),
                format_duration(run.duration),
                clean(run.error or "", 120),
                key=str(i),
            )

    def _visible(self, on: bool) -> None:
        for wid in ("#history-stats", "#history-spark", "#history-runs"):
            self.query_one(wid).display = on

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.history is None:
            return
        try:
            run = self.history.runs[int(event.row_key.value or 0)]
        except (IndexError, ValueError):
            return
        self.post_message(self.ShowTraceback(run))

    def selected_run(self) -> Run | None:
        if self.history is None or not self.history.runs:
            return None
        table = self.query_one("#history-runs", DataTable)
        row = table.cursor_row
        if 0 <= row < len(self.history.runs):
            return self.history.runs[row]
        return None
