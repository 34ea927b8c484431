"""The failures overview: jobs that failed in the last 24 h, how often, their last error,
and charts of runs and failures per hour (Textual's sparklines)."""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import DataTable, Sparkline, Static

from schedtui.core.activity import JobFailures
from schedtui.tui.data import Frame
from schedtui.tui.fmt import TzMode, ago, clean, short_when
from schedtui.tui.glyphs import g


class FailuresPane(Vertical):
    DEFAULT_CSS = """
    FailuresPane { padding: 0 1; }
    FailuresPane #failures-head { height: auto; }
    FailuresPane .chart-row { height: 1; }
    FailuresPane .chart-label { width: 16; color: $text-muted; }
    FailuresPane Sparkline { width: 1fr; height: 1; }
    FailuresPane #spark-runs > .sparkline--max-color { color: $success; }
    FailuresPane #spark-runs > .sparkline--min-color { color: $success 40%; }
    FailuresPane #spark-fails > .sparkline--max-color { color: $error; }
    FailuresPane #spark-fails > .sparkline--min-color { color: $error 30%; }
    FailuresPane #failures-axis { height: 1; color: $text-muted; margin-bottom: 1; }
    FailuresPane DataTable { height: 1fr; }
    FailuresPane #failures-error { height: auto; max-height: 4; color: $error; }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: object = None
        self._errors: dict[str, str] = {}
        self._args: tuple[Frame | None, datetime, TzMode] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="failures-head")
        with Horizontal(classes="chart-row"):
            yield Static("runs / hour", classes="chart-label", id="label-runs")
            yield Sparkline([], id="spark-runs")
        with Horizontal(classes="chart-row"):
            yield Static("failures / hour", classes="chart-label", id="label-fails")
            yield Sparkline([], id="spark-fails")
        yield Static(id="failures-axis")
        table: DataTable[object] = DataTable(id="failures-table", cursor_type="row", zebra_stripes=False)
        table.add_column("job", key="job", width=24)
        table.add_column("failures", key="failures", width=8)
        table.add_column("runs", key="runs", width=6)
        table.add_column("last failure", key="at", width=14)
        table.add_column("last error", key="error", width=40)
        yield table
        yield Static(id="failures-error")

    def on_resize(self, event: object) -> None:
        if self._args is not None:
            self._shown = None
            self.call_after_refresh(self.show, *self._args)

    def show(self, frame: Frame | None, now: datetime, tz_mode: TzMode) -> None:
        self._args = (frame, now, tz_mode)
        if not self.size.width:
            return  # hidden: shown when it appears (on_resize)
        head = self.query_one("#failures-head", Static)
        if frame is None or not frame.companion:
            head.update(
                Content.styled(
                    "Failures (24 h): no run history. Install the companion (schedtui companion --help) "
                    "to record every run's outcome.",
                    "$text-muted",
                )
            )
            return
        table = self.query_one("#failures-table", DataTable)
        job_w = 24 if table.size.width >= 110 else 14
        width = max(12, table.size.width - (job_w + 2) - (8 + 2) - (6 + 2) - (14 + 2) - 4)
        # by value (frozen records): an unchanged refresh repaints nothing and the cursor stays
        state = (frame.failures, frame.hourly, frame.runs_24h, frame.recent[:1], tz_mode, width)
        if state == self._shown:
            return
        self._shown = state
        for key, w in (("error", width), ("job", job_w)):
            column = table.columns.get(key)  # type: ignore[call-overload]
            if column is not None and column.width != w:
                column.width = w
        failing = frame.failures
        self._errors = {f.job_id: _error(f) for f in failing}
        total_f = sum(f.failures for f in failing)
        now_failing = sum(1 for f in failing if f.failing_now)
        parts: list[tuple[str, str]] = [("Failures (24 h)  ", "bold")]
        if failing:
            parts.append((f"{len(failing)} job(s) failed {total_f} time(s)", "$error bold"))
        else:
            parts.append(("no failures", "$success bold"))
        parts.append((f" in {frame.runs_24h or 0} finished runs", "$text-muted"))
        if not frame.runs_24h and frame.recent:
            newest = frame.recent[0]
            at = newest.finished_at or newest.started_at or newest.scheduled_at
            if at is not None:
                parts.append((f" · newest recorded run {ago(at, now)}", "$text-muted"))
        if now_failing:
            parts.append((f" · {g('fail')} {now_failing} whose last run failed", "$error"))
        head.update(Content.assemble(*parts))
        origin = ""
        if frame.history_source and not frame.history_source.startswith("schedtui companion"):
            origin = f" · history: {frame.history_source}"
        hourly = frame.hourly
        if hourly is not None:
            self.query_one("#spark-runs", Sparkline).data = [float(x) for x in hourly.runs]
            self.query_one("#spark-fails", Sparkline).data = [float(x) for x in hourly.failures]
            self.query_one("#label-runs", Static).update(f"runs/h (max {max(hourly.runs, default=0)})")
            self.query_one("#label-fails", Static).update(f"fails/h (max {max(hourly.failures, default=0)})")
            self.query_one("#failures-axis", Static).update(
                f"{'':16}{short_when(hourly.start, tz_mode)}  {g('arrow')}  now (one bar per hour){origin}"
            )
        picked = self._picked(table)
        table.clear()
        for f in failing:
            error = clean(_error(f), 300)
            if len(error) > width:
                error = error[: width - 1] + g("ellipsis")
            at = f.last_failure.finished_at or f.last_failure.started_at if f.last_failure is not None else None
            name = _cut(clean(f.job_id, 191), job_w - 2 if f.failing_now else job_w)
            table.add_row(
                Content.styled(f"{g('fail')} {name}" if f.failing_now else name, "$error"),
                str(f.failures),
                str(f.runs),
                short_when(at, tz_mode) if at else "-",
                error,
                key=f.job_id,
            )
        if not failing:
            self.query_one("#failures-error", Static).update("")
        elif picked is not None and picked in self._errors:
            table.move_cursor(row=table.get_row_index(picked), animate=False)

    @staticmethod
    def _picked(table: DataTable[object]) -> str | None:
        """The job under the cursor (kept across a repaint)."""
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None
        return None if key is None else str(key)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted job's whole last error, wrapped, under the table."""
        key = event.row_key.value if event.row_key is not None else None
        text = self._errors.get(str(key), "") if key is not None else ""
        self.query_one("#failures-error", Static).update(Content.styled(clean(text, 600), "$error") if text else "")


def _error(f: JobFailures) -> str:
    """The last failure's first line (``OSError: [Errno 28] No space left``), sanitized."""
    run = f.last_failure
    if run is None:
        return ""
    text = ": ".join(str(x) for x in (run.error_type, run.error_message) if x) or run.outcome
    return clean(text.splitlines()[0] if text else "", 300)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + g("ellipsis")
