"""The jobs table: a line-API widget with column headers that renders only the visible rows.

Rows come from ``view.build_rows``. Columns are laid out for the width (``layout``): the
ones that matter (name, countdown, state) are never cut before the less important ones
are dropped. Countdowns are computed from memory at render time, so a tick is
``refresh()`` of what is on screen, whatever the number of jobs. The cursor is tracked
by row key, so a refresh keeps the selection, the collapsed groups and the scroll position.
(A ``DataTable`` keeps a styled cell per row and column: too heavy for 100,000 jobs.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from schedtui.core.clock import Clock, system_clock
from schedtui.core.model import JobInfo
from schedtui.core.vocab import JobState, countdown_short, job_state
from schedtui.tui.fmt import TzMode, clean, format_duration, job_trigger_text, short_when
from schedtui.tui.glyphs import g
from schedtui.tui.view import JobRuns, Row, RowList, SortBy


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    width: int  #: the minimum width
    priority: int  #: 0 always shown; higher ones are dropped first on narrow screens
    flex: int = 0  #: share of the spare width
    right: bool = False
    sort: SortBy | None = None
    digit: str = ""  #: the key that sorts by it


COLUMNS: tuple[Column, ...] = (
    Column("id", "ID", 10, 3, flex=1, sort="id", digit="1"),
    Column("name", "NAME", 12, 0, flex=2, sort="name", digit="2"),
    Column("trigger", "TRIGGER", 14, 1, flex=6, sort="trigger", digit="3"),
    Column("next", "NEXT RUN", 14, 2, sort="next", digit="4"),
    Column("countdown", "NEXT IN", 12, 0, right=True, sort="next", digit="5"),
    Column("state", "STATE", 11, 0, sort="state", digit="6"),
    Column("last_run", "LAST RUN", 14, 4, sort="last_run", digit="7"),
    Column("outcome", "OUTCOME", 8, 3, sort="outcome", digit="8"),
    Column("duration", "DURATION", 8, 4, right=True, sort="duration", digit="9"),
    Column("rate", "OK 24H", 6, 3, right=True, sort="rate", digit="0"),
)
BY_DIGIT = {c.digit: c for c in COLUMNS}
MARK_W = 2
GAP = 1


def layout(width: int, name_w: int = 0, id_w: int = 0, state_w: int = 11, time_w: int = 14) -> list[tuple[Column, int]]:
    """The columns that fit ``width`` (in table order) and their widths.

    ``name_w``/``id_w``: the longest name and id on screen; the name column asks for
    that much (up to 32) before any less important column is added.
    """
    avail = width - MARK_W
    chosen: list[Column] = []
    used = 0
    wanted = {
        "name": max(12, min(32, name_w)),
        "id": max(10, min(24, id_w)),
        "state": state_w,
        "next": time_w,
        "last_run": time_w,
    }
    for col in sorted(COLUMNS, key=lambda c: c.priority):
        col_w = wanted.get(col.key, col.width)
        need = col_w + (GAP if chosen else 0)
        if used + need > avail:
            if col.priority == 0:  # never dropped: squeezed below
                chosen.append(col)
                used += need
            continue
        chosen.append(col)
        used += need
    ordered = [c for c in COLUMNS if c in chosen]
    spare = avail - used
    widths = {c.key: wanted.get(c.key, c.width) for c in ordered}
    if spare < 0:  # too narrow even for the essentials: the name gives way
        widths["name"] = max(4, widths["name"] + spare)
    else:
        flexes = [c for c in ordered if c.flex]
        total = sum(c.flex for c in flexes) or 1
        given = 0
        for c in flexes:
            extra = spare * c.flex // total
            widths[c.key] += extra
            given += extra
        if flexes:
            widths[flexes[-1].key] += spare - given
    return [(c, widths[c.key]) for c in ordered]


def _fit(text: str, width: int, right: bool = False) -> str:
    if width <= 0:
        return ""
    if len(text) > width:
        return text[: max(0, width - 1)] + g("ellipsis")
    return text.rjust(width) if right else text.ljust(width)


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.0f}%"


class JobList(ScrollView, can_focus=True):
    """Jobs in columns with live countdowns. Posts ``JobList.Highlighted`` on cursor moves."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "jobs--header",
        "jobs--columns",
        "jobs--cursor",
        "jobs--overdue",
        "jobs--late",
        "jobs--paused",
        "jobs--undecodable",
        "jobs--dim",
        "jobs--pending",
        "jobs--stale",
        "jobs--marked",
        "jobs--match",
        "jobs--failed",
    }

    DEFAULT_CSS = """
    JobList { background: $surface; overflow-x: hidden; }
    JobList > .jobs--header { color: $accent; text-style: bold; }
    JobList > .jobs--columns { color: $text-muted; text-style: bold; background: $panel; }
    JobList > .jobs--cursor { background: $block-cursor-blurred-background; }
    JobList:focus > .jobs--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
    JobList > .jobs--overdue { color: $error; }
    JobList > .jobs--late { color: $warning; }
    JobList > .jobs--paused { color: $text-muted; }
    JobList > .jobs--undecodable { color: $warning; }
    JobList > .jobs--dim { color: $text-muted; }
    JobList > .jobs--pending { color: $warning; text-style: bold; }
    JobList > .jobs--stale { color: $text-muted; text-style: italic; }
    JobList > .jobs--marked { color: $accent; text-style: bold; }
    JobList > .jobs--match { text-style: bold underline; }
    JobList > .jobs--failed { color: $error; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "toggle_group", "Expand/collapse", show=False),
        Binding("left", "collapse", "Collapse", show=False),
        Binding("right", "expand", "Expand", show=False),
    ]

    class Highlighted(Message):
        """The cursor moved to another job (or to a group header: ``job`` None)."""

        def __init__(self, job: JobInfo | None) -> None:
            super().__init__()
            self.job = job

    class GroupToggled(Message):
        def __init__(self, group: str) -> None:
            super().__init__()
            self.group = group

    class HeaderClicked(Message):
        """A click on a column title: sort by it."""

        def __init__(self, sort: SortBy) -> None:
            super().__init__()
            self.sort = sort

    def __init__(self, *, clock: Clock = system_clock, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.rows: RowList = RowList()
        self.cursor = 0
        self.pending: dict[str, str] = {}
        self.marked: set[str] = set()
        self.runs: Mapping[str, JobRuns] = {}
        self.needle = ""
        self.sort_by: SortBy = "next"
        self.descending = False
        self.tz_mode: TzMode = "utc"
        self.stale = False
        #: the rows are a preview's (the first rows of a large store): group counts are "so far"
        self.partial = False
        self.empty_text = "reading the job store…"
        self._texts: dict[str, tuple[object, str]] = {}
        self._whens: dict[str, tuple[object, str, str]] = {}
        self._ids: dict[str, str] = {}
        self._names: dict[str, tuple[object, bool, str]] = {}
        self._ticked: dict[str, str] = {}  #: the countdown texts last painted by tick()
        self._styles: dict[str, Style] = {}
        self._last_job: JobInfo | None = None
        self._layout: tuple[int, list[tuple[Column, int]]] | None = None
        self._name_w = 0
        self._id_w = 0
        self._state_w = 11
        self._layout_tz: TzMode = "utc"

    # -- data ----------------------------------------------------------------------
    @property
    def current(self) -> Row | None:
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor]
        return None

    @property
    def current_job(self) -> JobInfo | None:
        row = self.current
        return row.job if row else None

    def set_rows(self, rows: RowList, *, follow: bool = False) -> None:
        """Replace the rows, keeping the cursor on the same job (or group) when it is there.

        ``follow``: the view changed (filter, grouping, sort): scroll so the cursor shows
        (a refresh alone keeps the scroll position, wherever the mouse wheel left it)."""
        old = self.current
        self.rows = rows
        if old is not None:
            index = rows.index_of_job(old.job.id) if old.job is not None else rows.index_of_group(old.group)
            if index is None and old.job is not None:
                # The job left the view: stay near where it was, on its old group.
                index = rows.index_of_group(old.group)
            self.cursor = index if index is not None else min(self.cursor, max(0, len(rows) - 1))
        else:
            self.cursor = 1 if len(rows) > 1 and rows[0].job is None and rows[1].job is not None else 0
        self._measure(rows)
        if len(self._texts) > 4 * max(len(rows), 1000):  # ids that are gone
            self._texts.clear()
            self._whens.clear()
            self._ids.clear()
            self._names.clear()
        self.virtual_size = Size(1, len(rows) + 1)  # never wider than the view: no horizontal scrolling
        self.refresh()
        if follow:
            self.call_after_refresh(self._show_cursor)
        self._announce()

    def _show_cursor(self) -> None:
        # line 0 is the column header: row i is virtual line i + 1
        self.scroll_to_region(Region(0, self.cursor, 1, 2), animate=False, force=True, x_axis=False)

    def _measure(self, rows: RowList, sample: int = 5000) -> None:
        """The longest name and id (of the first ``sample`` jobs): the columns' wishes."""
        name_w = id_w = 0
        undecodable = False
        for n, job in enumerate(rows.jobs()):
            if n >= sample:
                break
            name_w = max(name_w, len(job.label))
            id_w = max(id_w, len(job.id))
            undecodable = undecodable or job.finding is not None
        # "undecodable" / "on time" (a preview's rows are followed by the rest: maybe undecodable)
        state_w = 11 if undecodable or len(rows) > sample or self.partial else 7
        if (name_w, id_w, state_w) != (self._name_w, self._id_w, self._state_w):
            self._name_w, self._id_w, self._state_w = name_w, id_w, state_w
            self._layout = None

    def _announce(self) -> None:
        job = self.current_job
        if job is not self._last_job:
            self._last_job = job
            self.post_message(self.Highlighted(job))

    def select_job(self, job_id: str) -> bool:
        index = self.rows.index_of_job(job_id)
        if index is None:
            return False
        self._move(index)
        return True

    def tick(self) -> None:
        """Repaint the visible lines whose countdown or state text changed (they are
        computed at render time), in one refresh; an idle console repaints a line or two."""
        now = self.clock()
        top, height, width = self.scroll_offset.y, self.size.height, self.size.width
        rows, ticked = self.rows, self._ticked
        seen: dict[str, str] = {}
        dirty: list[Region] = []
        for y in range(1, min(height, len(rows) - top + 1)):
            job = rows[top + y - 1].job
            if job is None:
                continue
            try:
                judged, lag = job_state(job, now)
                text = f"{judged.value}|{countdown_short(judged, lag, job, now)}"
            except Exception:
                text = ""
            seen[job.id] = text
            if ticked.get(job.id) != text:
                dirty.append(Region(0, y, width, 1))
        self._ticked = seen
        if dirty:
            self.refresh(*dirty)

    def toggle_mark(self) -> JobInfo | None:
        """Mark or unmark the job under the cursor, then move down (as k9s does)."""
        job = self.current_job
        if job is None:
            return None
        self.marked.symmetric_difference_update({job.id})
        self._refresh_index(self.cursor)
        self._move(self.cursor + 1)
        return job

    # -- movement ------------------------------------------------------------------
    def _move(self, index: int) -> None:
        if not self.rows:
            return
        index = max(0, min(index, len(self.rows) - 1))
        previous, self.cursor = self.cursor, index
        self._refresh_index(previous)
        self._refresh_index(index)
        # line 0 is the column header: row i is virtual line i + 1
        self.scroll_to_region(Region(0, index, 1, 2), animate=False, force=True, x_axis=False)
        self._announce()

    def _refresh_index(self, index: int) -> None:
        y = index - self.scroll_offset.y + 1
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def action_cursor(self, delta: int) -> None:
        self._move(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move(self.cursor + direction * max(1, self.size.height - 2))

    def action_jump(self, index: int) -> None:
        self._move(len(self.rows) - 1 if index < 0 else index)

    def action_toggle_group(self) -> None:
        row = self.current
        if row is not None and row.job is None:
            self.post_message(self.GroupToggled(row.group))

    def action_collapse(self) -> None:
        row = self.current
        if row is None or self.rows.flat:
            return
        if row.job is not None:
            for i in range(self.cursor, -1, -1):
                if self.rows[i].job is None:
                    self._move(i)
                    return
        else:
            self.post_message(self.GroupToggled(row.group))

    def action_expand(self) -> None:
        row = self.current
        if (
            row is not None
            and row.job is None
            and (self.cursor + 1 >= len(self.rows) or self.rows[self.cursor + 1].job is None)
        ):
            self.post_message(self.GroupToggled(row.group))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            x = MARK_W
            for col, width in self._columns():
                if x <= offset.x < x + width + GAP and col.sort is not None:
                    self.post_message(self.HeaderClicked(col.sort))
                    return
                x += width + GAP
            return
        index = offset.y - 1 + self.scroll_offset.y
        if 0 <= index < len(self.rows):
            if index == self.cursor and self.rows[index].job is None:
                self.action_toggle_group()
            self._move(index)

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(1, len(self.rows) + 1)
        self._layout = None

    _columns_keys: frozenset[str] | None = None

    def _columns(self) -> list[tuple[Column, int]]:
        # (a ScrollView's size includes the vertical scrollbar's gutter: the columns fit
        # left of it, or the last one is cut)
        width = self.scrollable_content_region.width
        if self._layout is None or self._layout[0] != width or self._layout_tz != self.tz_mode:
            self._layout_tz = self.tz_mode
            time_w = 18 if self.tz_mode == "trigger" else 14  # "03-03 03:00:00 CET"
            self._layout = (width, layout(width, self._name_w, self._id_w, self._state_w, time_w))
            self._columns_keys = frozenset(c.key for c, _ in self._layout[1])
        return self._layout[1]

    def visible_columns(self) -> list[str]:
        return [c.key for c, _ in self._columns()]

    # -- rendering -----------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self._styles.get("")
        if base is None:  # (DOMNode.rich_style walks the ancestors: once per style change)
            base = self._styles[""] = self.rich_style
        if y == 0:
            return self._render_header(width, base)
        index = y - 1 + self.scroll_offset.y
        if index >= len(self.rows):
            if index == 0 and self.empty_text:
                dim = base + self._style("jobs--dim", partial=True)
                return Strip([Segment(_fit(" " + self.empty_text, width), dim)], width)
            return Strip.blank(width, base)
        try:
            return self._render_row(index, width, base)
        except Exception:
            return Strip([Segment(_fit(" (unrenderable row)", width), base)], width)

    def _render_header(self, width: int, base: Style) -> Strip:
        style = base + self._style("jobs--columns", partial=True)
        segments = [Segment(" " * MARK_W, style)]
        columns = self._columns()
        sorted_key = None
        for col, _ in columns:
            if col.sort == self.sort_by and sorted_key != "countdown":
                sorted_key = col.key
        for i, (col, w) in enumerate(columns):
            title = col.title
            if col.key == sorted_key:
                title += g("down") if self.descending else g("up")
            if i:
                segments.append(Segment(" " * GAP, style))
            segments.append(Segment(_fit(title, w, col.right), style))
        return Strip(segments).adjust_cell_length(width, style)

    def _style(self, name: str, partial: bool = True) -> Style:
        """A component style, cached until the CSS changes (lines ask for them per cell)."""
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(name, partial=True)
        return style

    def notify_style_update(self) -> None:
        self._styles.clear()
        super().notify_style_update()

    def _when_text(self, job: JobInfo) -> str:
        cached = self._whens.get(job.id)
        if cached is not None and cached[0] is job and cached[1] == self.tz_mode:
            return cached[2]
        text = short_when(job.next_run_time, self.tz_mode, job)
        self._whens[job.id] = (job, self.tz_mode, text)
        return text

    def _clean_id(self, job: JobInfo) -> str:
        cached = self._ids.get(job.id)
        if cached is None:
            cached = self._ids[job.id] = clean(job.id, 191)
        return cached

    def _clean_name(self, job: JobInfo, name_only: bool) -> str:
        cached = self._names.get(job.id)
        if cached is None or cached[0] is not job or cached[1] != name_only:
            cached = self._names[job.id] = (job, name_only, clean((job.name or "") if name_only else job.label, 120))
        return cached[2]

    def _trigger_text(self, job: JobInfo) -> str:
        cached = self._texts.get(job.id)
        if cached is not None and cached[0] is job:
            return cached[1]
        text = job_trigger_text(job)
        self._texts[job.id] = (job, text)
        return text

    def _render_row(self, index: int, width: int, base: Style) -> Strip:
        row = self.rows[index]
        if self.stale:
            base = base + self._style("jobs--stale", partial=True)
        cursor = index == self.cursor
        if cursor:
            base = base + self._style("jobs--cursor", partial=True)
        if row.job is None:
            open_ = index + 1 < len(self.rows) and self.rows[index + 1].job is not None
            if row.count == 0:
                open_ = True
            arrow = g("open") if open_ else g("closed")
            style = base + self._style("jobs--header", partial=True)
            text = (
                f"{arrow} {row.group} ({row.count}+ so far)" if self.partial else f"{arrow} {row.group} ({row.count})"
            )
            return Strip([Segment(_fit(text, width), style)]).adjust_cell_length(width, base)
        job = row.job
        now = self.clock()
        try:
            judged, lag = job_state(job, now)
        except Exception:
            judged, lag = JobState.UNDECODABLE, None
        state = judged.label
        if cursor:  # the cursor's colours win (contrast)
            state_style = dim = Style()
        else:
            state_style = self._state_style(state)
            dim = self._style("jobs--dim", partial=True)
        marked = job.id in self.marked
        mark_style = base + self._style("jobs--marked", partial=True)
        segments = [Segment((g("mark") + " ") if marked else "  ", mark_style if marked else base)]
        runs = self.runs.get(job.id)
        for i, (col, w) in enumerate(self._columns()):
            if i:
                segments.append(Segment(" " * GAP, base))
            segments.extend(
                self._cell(col, w, job, (judged, lag), state, now, runs, base, state_style, dim, cursor, marked)
            )
        return Strip(segments).adjust_cell_length(width, base)

    def _cell(
        self,
        col: Column,
        w: int,
        job: JobInfo,
        judged: tuple[JobState, float | None],
        state: str,
        now: datetime,
        runs: JobRuns | None,
        base: Style,
        state_style: Style,
        dim: Style,
        cursor: bool,
        marked: bool,
    ) -> list[Segment]:
        key = col.key
        if key in ("id", "name"):
            show_id = self._columns_keys is not None and "id" in self._columns_keys
            text = self._clean_id(job) if key == "id" else self._clean_name(job, show_id)
            if key == "name" and show_id and job.name == job.id:
                text = ""
            style = base + (self._style("jobs--marked", partial=True) if marked else state_style)
            return self._highlight(_fit(text, w), style)
        if key == "trigger":
            return [Segment(_fit(self._trigger_text(job), w), base + dim)]
        if key == "next":
            return [Segment(_fit(self._when_text(job), w), base + dim)]
        if key == "countdown":
            text = self.pending.get(job.id) or countdown_short(judged[0], judged[1], job, now)
            style = self._style("jobs--pending", partial=True) if job.id in self.pending else state_style
            return [Segment(_fit(text, w, right=True), base + (Style() if cursor else style))]
        if key == "state":
            return [Segment(_fit(state, w), base + state_style)]
        if key == "last_run":
            when = runs.last_at if runs else None
            return [Segment(_fit(short_when(when, self.tz_mode, job) if when else "-", w), base + dim)]
        if key == "outcome":
            outcome = (runs.last_outcome if runs else None) or "-"
            failed = outcome in ("error", "unfinished")
            style = self._style("jobs--failed", partial=True) if failed and not cursor else dim
            text = (g("fail") + " " + outcome) if failed else outcome
            return [Segment(_fit(text, w), base + style)]
        if key == "duration":
            dur = runs.last_duration if runs else None
            return [Segment(_fit(format_duration(dur) if dur is not None else "-", w, right=True), base + dim)]
        if key == "rate":
            rate = runs.rate_24h if runs else None
            bad = rate is not None and rate < 1.0 and not cursor
            style = self._style("jobs--failed", partial=True) if bad else dim
            return [Segment(_fit(_percent(rate), w, right=True), base + style)]
        return [Segment(" " * w, base)]

    def _highlight(self, text: str, style: Style) -> list[Segment]:
        """The filter's matches in ``text`` stand out."""
        needle = self.needle.lower()
        if not needle:
            return [Segment(text, style)]
        at = text.lower().find(needle)
        if at < 0:
            return [Segment(text, style)]
        match = style + self._style("jobs--match", partial=True)
        end = at + len(needle)
        return [Segment(text[:at], style), Segment(text[at:end], match), Segment(text[end:], style)]

    def _state_style(self, state: str) -> Style:
        name = {
            "overdue": "jobs--overdue",
            "late": "jobs--late",
            "paused": "jobs--paused",
            "undecodable": "jobs--undecodable",
        }.get(state)
        return self._style(name, partial=True) if name else Style()
