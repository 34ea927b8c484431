"""The events feed: what happened across all jobs, newest first, failed ones marked."""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Input, Static

from schedtui.tui.events import Event, EventLog
from schedtui.tui.fmt import TzMode, ago, clean, short_when
from schedtui.tui.glyphs import g

#: Rows the table shows at most (the log keeps more).
SHOWN = 500


class EventsPane(Vertical):
    """A filterable table of events; ``f`` shows the failed ones only."""

    DEFAULT_CSS = """
    EventsPane { padding: 0 1; }
    EventsPane #events-head { height: 1; }
    EventsPane #events-note {
        height: 1; color: $text-muted; display: none; text-wrap: nowrap; text-overflow: ellipsis;
    }
    EventsPane #events-note.-shown { display: block; }
    EventsPane #events-filter { height: 1; border: none; padding: 0 1; margin: 0; display: none; }
    EventsPane #events-filter.-open { display: block; }
    EventsPane DataTable { height: 1fr; }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.failed_only = False
        self.needle = ""
        self._shown: tuple[int, str, bool, TzMode, int] | None = None
        self._args: tuple[EventLog, datetime, TzMode] | None = None
        self.note: str | None = None
        self._row_keys: list[str] = []  #: the shown events' keys, by row

    def compose(self) -> ComposeResult:
        yield Static(id="events-head")
        yield Static(id="events-note")
        yield Input(placeholder="filter events (esc closes)", id="events-filter", disabled=True)
        table: DataTable[object] = DataTable(id="events-table", cursor_type="row", zebra_stripes=False)
        table.add_column("when", key="when", width=14)
        table.add_column("", key="mark", width=1)
        table.add_column("event", key="what", width=13)
        table.add_column("what happened", key="text", width=40)
        yield table

    def on_resize(self, event: object) -> None:
        if self._args is not None:
            self._shown = None
            self.call_after_refresh(self.show, *self._args, False, self.note)

    def show(self, log: EventLog, now: datetime, tz_mode: TzMode, force: bool = False, note: str | None = None) -> None:
        """Show ``log``; ``note`` is the one line on what the store's history does not record."""
        self._args = (log, now, tz_mode)
        if note != self.note:
            self.note = note
            box = self.query_one("#events-note", Static)
            box.update(clean(note, 300) if note else "")
            # one line at any width (cut with an ellipsis); the whole note on hover
            box.tooltip = clean(note, 300) if note else None
            box.set_class(bool(note), "-shown")
        if not self.size.width:
            return  # hidden: shown when it appears (on_resize)
        table = self.query_one("#events-table", DataTable)
        width = max(20, table.size.width - (14 + 2) - (1 + 2) - (13 + 2) - 4)
        state = (log.version, self.needle, self.failed_only, tz_mode, width)
        events = log.events(self.needle, self.failed_only)
        self._head(len(log), len(events), tz_mode)
        if state == self._shown and not force:
            return
        self._shown = state
        # the cursor stays on the event picked (at the top it follows the newest, as a tail)
        keep = table.cursor_row
        picked = self._row_keys[keep] if 0 < keep < len(self._row_keys) else None
        table.clear()
        column = table.columns.get("text")  # type: ignore[call-overload]
        if column is not None and column.width != width:
            column.width = width
            table.refresh(layout=True)
        shown = events[:SHOWN]
        self._row_keys = [e.key for e in shown]
        for i, e in enumerate(shown):
            table.add_row(*self._cells(e, tz_mode, width), key=str(i))
        if shown:
            row = self._row_keys.index(picked) if picked in self._row_keys else min(keep, len(shown) - 1)
            table.move_cursor(row=row, animate=False)
        if not events:
            empty = self._empty(len(log))
            empty = empty if len(empty) <= width else empty[: width - 1] + g("ellipsis")
            table.add_row("", "", "", Content.styled(empty, "dim"))

    def _empty(self, total: int) -> str:
        if total == 0:
            if self.note is None or self.note.startswith("no run history"):
                return "nothing yet: runs appear here with the companion; job changes as they happen"
            return "nothing yet: runs appear here as the history records them; job changes as they happen"
        return "no event matches the filter"

    def _head(self, total: int, shown: int, tz_mode: TzMode) -> None:
        parts = [
            Content.styled("Events", "bold"),
            Content.styled(f"  newest first · {shown} of {total}", "$text-muted"),
        ]
        if self.failed_only:
            parts.append(Content.styled("  · failed only (f)", "$error bold"))
        if self.needle:
            parts.append(Content.styled(f"  · filter “{clean(self.needle, 40)}”", "$accent"))
        parts.append(Content.styled(f"  · times {'UTC' if tz_mode == 'utc' else tz_mode}", "$text-muted"))
        self.query_one("#events-head", Static).update(Content.assemble(*parts))

    def _cells(self, e: Event, tz_mode: TzMode, width: int) -> tuple[object, ...]:
        style = "$error" if e.failed else ("dim" if e.kind == "job" and e.what == "appeared" else "")
        text = e.text if len(e.text) <= width else e.text[: width - 1] + g("ellipsis")
        mark = Content.styled(g("fail"), "$error bold") if e.failed else ""
        return (
            short_when(e.at, tz_mode),
            mark,
            Content.styled(clean(f"{e.kind} {e.what}" if e.kind != "run" else e.what, 20), style or "dim"),
            Content.styled(text, style),
        )

    def open_filter(self) -> None:
        box = self.query_one("#events-filter", Input)
        box.disabled = False
        box.add_class("-open")
        box.focus()

    def close_filter(self, clear: bool) -> None:
        box = self.query_one("#events-filter", Input)
        if clear:
            box.value = ""
            self.needle = ""
        box.remove_class("-open")
        box.disabled = True
        self.query_one("#events-table", DataTable).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.needle = event.value.strip()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close_filter(clear=not event.value.strip())

    def ago_text(self, e: Event, now: datetime) -> str:
        return ago(e.at, now)
