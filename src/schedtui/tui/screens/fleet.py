"""The fleet view (``a``): one row per store, each judged as ``schedtui check`` judges it.

Every store is checked in its own thread worker (``Feed.check``, through the store's
Feed and its decode cache), which posts a ``FleetRowReady``; a round starts again
``interval`` seconds after its last row came in, while the view is open. A store that
cannot be read is a row with its error. Enter switches to the highlighted row's store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Static

from schedtui.core.fleet import FleetRow
from schedtui.core.health import Status
from schedtui.core.stores import NamedStore
from schedtui.tui.data import Feed
from schedtui.tui.fmt import ago, clean
from schedtui.tui.glyphs import g

if TYPE_CHECKING:
    from schedtui.tui.app import SchedtuiApp

#: How each status reads (check's own words) and looks.
STATUS_STYLE = {
    Status.OK: "$success bold",
    Status.WARNING: "$warning bold",
    Status.CRITICAL: "$error bold",
    Status.UNKNOWN: "$secondary bold",
}
#: The heartbeat states of ``heartbeat_component``, as the summary strip words them.
BEAT_STYLE = {
    "running": "$success",
    "several": "$success",
    "paused": "$warning",
    "stale": "$error",
    "shutdown": "$error",
    "none": "$text-muted",
}
#: (title, key, width); the last column, check's status line, takes the width left.
COLUMNS = (
    ("", "mark", 1),
    ("store", "store", 16),
    ("status", "status", 8),
    ("jobs", "jobs", 6),
    ("overdue", "overdue", 7),
    ("late", "late", 5),
    ("undecodable", "undecodable", 11),
    ("heartbeat", "heartbeat", 9),
    ("checked", "checked", 9),
)
#: Below this width, the columns that matter least go (the detail under the table has it all).
WIDE = 110
NARROW_DROP = frozenset({"late", "checked"})


class FleetRowReady(Message):
    def __init__(self, row: FleetRow, round_no: int) -> None:
        super().__init__()
        self.row = row
        self.round_no = round_no


class FleetScreen(Screen[str | None]):
    """Dismisses with the picked store's name (None: closed)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,a", "close", "Close"),
        Binding("enter", "pick", "Switch to store"),
        Binding("R", "recheck", "Check again"),
    ]

    DEFAULT_CSS = """
    FleetScreen #fleet { padding: 0 1; }
    FleetScreen #fleet-head { height: 1; }
    FleetScreen #fleet-table { height: 1fr; }
    FleetScreen #fleet-detail { height: auto; max-height: 6; margin-top: 1; }
    """

    def __init__(self, app: SchedtuiApp, *, interval: float = 10.0) -> None:
        super().__init__(id="fleet-screen")
        self.owner = app
        self.stores: tuple[NamedStore, ...] = app.stores
        self.current = app.store_name
        self.clock = app.clock
        self.interval = interval
        self.rows: dict[str, FleetRow] = {}
        self.round_no = 0
        self.pending = 0
        self._timer: Timer | None = None
        self._built: tuple[tuple[str, str, int], ...] = ()

    def compose(self) -> ComposeResult:
        with Vertical(id="fleet"):
            yield Static(id="fleet-head")
            yield DataTable(id="fleet-table", cursor_type="row", zebra_stripes=False)
            yield Static(id="fleet-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._build()
        names = [s.name for s in self.stores]
        table = self.query_one("#fleet-table", DataTable)
        if self.current in names:
            table.move_cursor(row=names.index(self.current))
        table.focus()
        self._head()
        self._round()
        self.set_interval(1.0, self._tick, name="fleet-ages")

    def _tick(self) -> None:
        """The `checked` ages, once a second (from memory)."""
        if "checked" not in {k for _, k, _ in self._built}:
            return
        table = self.query_one("#fleet-table", DataTable)
        now = self.clock()
        for name, row in self.rows.items():
            table.update_cell(name, "checked", ago(row.checked_at, now))

    @property
    def _wide(self) -> bool:
        return self.app.size.width >= WIDE

    def _columns(self) -> tuple[tuple[str, str, int], ...]:
        if self._wide:
            return COLUMNS
        return tuple((t, k, 12 if k == "store" else w) for t, k, w in COLUMNS if k not in NARROW_DROP)

    def _build(self) -> None:
        """(Re)build the table for the terminal's width, keeping the cursor."""
        table = self.query_one("#fleet-table", DataTable)
        columns = self._columns()
        if self._built == columns:
            return
        self._built = columns
        cursor = table.cursor_row
        table.clear(columns=True)
        for label, key, width in columns:
            table.add_column(label, key=key, width=width)
        if self._wide:  # (narrow: check's line is under the table only)
            table.add_column("check says", key="summary", width=self._summary_width(columns))
        for store in self.stores:
            table.add_row(*self._cells(store, self.rows.get(store.name)), key=store.name)
        if 0 < cursor < len(self.stores):
            table.move_cursor(row=cursor)

    def _summary_width(self, columns: tuple[tuple[str, str, int], ...]) -> int:
        used = sum(w + 2 for _, _, w in columns) + 2 + 2  # (cell padding, own padding, the screen's)
        return max(12, self.app.size.width - used - 2)

    def on_resize(self) -> None:
        self._build()
        self._fit_summary()

    # -- checking ----------------------------------------------------------------------
    def _round(self) -> None:
        self._timer = None
        self.round_no += 1
        self.pending = len(self.stores)
        self._head()
        for store in self.stores:
            # (the Feed is made here, on the UI thread: one per store, whoever asks first)
            self._check(store, self.owner.feed_for(store), self.round_no)

    @work(thread=True, group="fleet", exit_on_error=False, description="check a store")
    def _check(self, store: NamedStore, feed: Feed, round_no: int) -> None:
        try:
            row = feed.check(store.name)
        except Exception as exc:  # (Feed.check does not raise; a row all the same)
            from schedtui.core.fleet import error_row

            row = error_row(store, exc, self.clock())
        self.post_message(FleetRowReady(row, round_no))

    @on(FleetRowReady)
    def _on_row(self, message: FleetRowReady) -> None:
        row = message.row
        self.rows[row.name] = row
        store = next((s for s in self.stores if s.name == row.name), None)
        if store is not None:
            table = self.query_one("#fleet-table", DataTable)
            keys = {k for _, k, _ in self._built} | ({"summary"} if self._wide else set())
            for (_, key, _), cell in zip((*COLUMNS, ("", "summary", 0)), self._all_cells(store, row), strict=True):
                if key in keys:
                    table.update_cell(row.name, key, cell)
            self._fit_summary()
        if message.round_no == self.round_no:
            self.pending -= 1
            if self.pending <= 0 and self._timer is None:
                self._timer = self.set_timer(self.interval, self._round, name="fleet-round")
        self._head()
        self._detail()

    def action_recheck(self) -> None:
        if self.pending > 0:
            self.notify("still checking the stores", timeout=2)
            return
        if self._timer is not None:
            self._timer.stop()
        self._round()

    # -- drawing -----------------------------------------------------------------------
    def _cells(self, store: NamedStore, row: FleetRow | None) -> list[object]:
        """The cells of the columns shown (``_built``, and the summary when wide)."""
        cells = self._all_cells(store, row)
        keys = {k for _, k, _ in self._built}
        return [
            c
            for (_, k, _), c in zip((*COLUMNS, ("", "summary", 0)), cells, strict=True)
            if k in keys or (k == "summary" and self._wide)
        ]

    def _all_cells(self, store: NamedStore, row: FleetRow | None) -> list[object]:
        here = g("dot") if store.name == self.current else ""
        name = Content.styled(clean(store.name, 40), "bold" if here else "")
        if row is None:
            wait = Content.styled("checking…", "$text-muted")
            return [here, name, wait, "", "", "", "", "", "", ""]
        status = Content.styled(row.status_word, STATUS_STYLE.get(row.status, ""))

        def count(n: int | None, bad: str) -> object:
            if n is None:
                return Content.styled("-", "$text-muted")
            return Content.styled(str(n), bad) if n else str(n)

        beat = row.heartbeat
        beat_cell: object = (
            Content.styled(beat, BEAT_STYLE.get(beat, "")) if beat else Content.styled("-", "$text-muted")
        )
        # cut to the column with an ellipsis (the detail under the table shows it whole)
        text = _cut(clean(row.error or row.summary, 300), self._summary_width(self._built))
        summary = Content.styled(text, "$error") if row.error else text
        return [
            here,
            name,
            status,
            count(row.jobs, "bold"),
            count(row.overdue, "$error bold"),
            count(row.late, "$warning bold"),
            count(row.undecodable, "$warning bold"),
            beat_cell,
            ago(row.checked_at, self.clock()),
            summary,
        ]

    def _fit_summary(self) -> None:
        """The last column takes the width left (it is cut, not wrapped: the detail shows it whole)."""
        table = self.query_one("#fleet-table", DataTable)
        width = self._summary_width(self._built)
        column = table.columns.get("summary")  # type: ignore[call-overload]
        if column is not None:
            column.auto_width = False
            if column.width != width:
                column.width = width
                for store in self.stores:
                    row = self.rows.get(store.name)
                    if row is not None:
                        table.update_cell(store.name, "summary", self._all_cells(store, row)[-1])
                table.refresh()

    def _head(self) -> None:
        done = list(self.rows.values())
        bad = sum(1 for r in done if r.status is not Status.OK)
        parts: list[str | tuple[str, str]] = [("Stores  ", "bold"), f"{len(self.stores)} configured"]
        if done:
            parts += [" · ", (f"{bad} not OK", "$error bold" if bad else "$success")]
        if self.pending > 0:
            parts.append((f" · checking {self.pending}…", "$text-muted"))
        else:
            parts.append((f" · checked every {self.interval:g}s while open", "$text-muted"))
        self.query_one("#fleet-head", Static).update(Content.assemble(*parts))

    @on(DataTable.RowHighlighted, "#fleet-table")
    def _on_highlight(self, event: DataTable.RowHighlighted) -> None:
        self._detail()

    def _highlighted(self) -> str | None:
        table = self.query_one("#fleet-table", DataTable)
        if not self.stores or table.cursor_row < 0 or table.cursor_row >= len(self.stores):
            return None
        return self.stores[table.cursor_row].name

    def _detail(self) -> None:
        name = self._highlighted()
        store = next((s for s in self.stores if s.name == name), None)
        out = self.query_one("#fleet-detail", Static)
        if store is None:
            out.update("")
            return
        row = self.rows.get(store.name)
        lines: list[Content] = [
            Content.assemble((clean(store.name, 40), "bold"), ("  ", ""), (clean(store.safe_url, 160), "$text-muted"))
        ]
        if row is None:
            lines.append(Content.styled("checking…", "$text-muted"))
        else:
            word = Content.styled(f"SCHEDTUI {row.status_word}", STATUS_STYLE.get(row.status, ""))
            lines.append(Content.assemble(word, " - ", clean(row.summary, 400)))  # check's own line
        lines.append(Content.styled("enter switches to this store · R checks again · esc closes", "$text-muted"))
        out.update(Content("\n").join(lines))

    @on(DataTable.RowSelected, "#fleet-table")
    def _on_selected(self, event: DataTable.RowSelected) -> None:
        self.action_pick()

    def action_pick(self) -> None:
        self.dismiss(self._highlighted())

    def action_close(self) -> None:
        self.dismiss(None)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + g("ellipsis")
