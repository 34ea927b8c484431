"""The jobs list: a line-API widget that renders only the visible rows.

Rows come from ``view.build_rows``. Countdowns are computed from memory at render time,
so a tick is ``refresh()`` of what is on screen, whatever the number of jobs. The cursor
is tracked by row key, so a refresh keeps the selection, the collapsed groups and the
scroll position.
"""

from __future__ import annotations

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
from schedtui.tui.fmt import clean, countdown, job_trigger_text
from schedtui.tui.view import Row, RowList

COUNTDOWN_WIDTH = 16


def _fit(text: str, width: int) -> str:
    if width <= 0:
        return ""
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text.ljust(width)


class JobList(ScrollView, can_focus=True):
    """Grouped jobs with live countdowns. Posts ``JobList.Highlighted`` on cursor moves."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "jobs--header",
        "jobs--cursor",
        "jobs--overdue",
        "jobs--paused",
        "jobs--undecodable",
        "jobs--dim",
        "jobs--pending",
        "jobs--stale",
    }

    DEFAULT_CSS = """
    JobList { background: $surface; }
    JobList > .jobs--header { color: $accent; text-style: bold; }
    JobList > .jobs--cursor { background: $block-cursor-blurred-background; }
    JobList:focus > .jobs--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
    JobList > .jobs--overdue { color: $error; }
    JobList > .jobs--paused { color: $text-muted; }
    JobList > .jobs--undecodable { color: $warning; }
    JobList > .jobs--dim { color: $text-muted; }
    JobList > .jobs--pending { color: $warning; text-style: bold; }
    JobList > .jobs--stale { color: $text-muted; text-style: italic; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter,space", "toggle_group", "Expand/collapse", show=False),
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

    def __init__(self, *, clock: Clock = system_clock, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.rows: RowList = RowList()
        self.cursor = 0
        self.pending: dict[str, str] = {}
        self.stale = False
        self.empty_text = "reading the job store…"
        self._texts: dict[str, tuple[object, str]] = {}
        self._last_job: JobInfo | None = None

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

    def set_rows(self, rows: RowList) -> None:
        """Replace the rows, keeping the cursor on the same job (or group) when it is there."""
        old = self.current
        self.rows = rows
        if old is not None:
            index = rows.index_of_job(old.job.id) if old.job is not None else rows.index_of_group(old.group)
            if index is None and old.job is not None:
                # The job left the view: stay near where it was, on its old group.
                index = rows.index_of_group(old.group)
            self.cursor = index if index is not None else min(self.cursor, max(0, len(rows) - 1))
        else:
            self.cursor = 1 if len(rows) > 1 and rows[1].job is not None else 0
        if len(self._texts) > 4 * max(len(rows), 1000):  # ids that are gone
            self._texts.clear()
        self.virtual_size = Size(self.size.width, len(rows))
        self.refresh()
        self._announce()

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
        """Repaint the visible lines (countdowns are computed at render time)."""
        self.refresh()

    # -- movement ------------------------------------------------------------------
    def _move(self, index: int) -> None:
        if not self.rows:
            return
        index = max(0, min(index, len(self.rows) - 1))
        previous, self.cursor = self.cursor, index
        self._refresh_index(previous)
        self._refresh_index(index)
        self.scroll_to_region(Region(0, index, 1, 1), animate=False, force=True, x_axis=False)
        self._announce()

    def _refresh_index(self, index: int) -> None:
        y = index - self.scroll_offset.y
        if 0 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def action_cursor(self, delta: int) -> None:
        self._move(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move(self.cursor + direction * max(1, self.size.height - 1))

    def action_jump(self, index: int) -> None:
        self._move(len(self.rows) - 1 if index < 0 else index)

    def action_toggle_group(self) -> None:
        row = self.current
        if row is not None:
            self.post_message(self.GroupToggled(row.group))

    def action_collapse(self) -> None:
        row = self.current
        if row is None:
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
        index = offset.y + self.scroll_offset.y
        if 0 <= index < len(self.rows):
            if index == self.cursor and self.rows[index].job is None:
                self.action_toggle_group()
            self._move(index)

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.rows))

    # -- rendering -----------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        index = y + self.scroll_offset.y
        base = self.rich_style
        if index >= len(self.rows):
            if index == 0 and self.empty_text:
                dim = base + self.get_component_rich_style("jobs--dim", partial=True)
                return Strip([Segment(_fit(" " + self.empty_text, width), dim)], width)
            return Strip.blank(width, base)
        try:
            return self._render_row(index, width, base)
        except Exception:
            return Strip([Segment(_fit(" (unrenderable row)", width), base)], width)

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
            base = base + self.get_component_rich_style("jobs--stale", partial=True)
        if index == self.cursor:
            base = base + self.get_component_rich_style("jobs--cursor", partial=True)
        if row.job is None:
            open_ = index + 1 < len(self.rows) and self.rows[index + 1].job is not None
            if row.count == 0:
                open_ = True
            arrow = "▾" if open_ else "▸"
            style = base + self.get_component_rich_style("jobs--header", partial=True)
            text = f"{arrow} {row.group} ({row.count})"
            segments = [Segment(_fit(text, width), style)]
        else:
            job = row.job
            now = self.clock()
            right = self.pending.get(job.id) or self._countdown(job, now)
            cw = COUNTDOWN_WIDTH if width >= 60 else 14
            label_w = max(10, int((width - cw - 4) * 0.5))
            trig_w = max(0, width - cw - label_w - 4)
            if index == self.cursor:  # the cursor's colours win (contrast)
                state_style = dim = right_style = Style()
            else:
                state_style = self._state_style(row.group, job)
                dim = self.get_component_rich_style("jobs--dim", partial=True)
                right_style = (
                    self.get_component_rich_style("jobs--pending", partial=True)
                    if job.id in self.pending
                    else state_style
                )
            segments = [
                Segment("  ", base),
                Segment(_fit(clean(job.label, 120), label_w) + " ", base + state_style),
                Segment(_fit(self._trigger_text(job), trig_w) + " ", base + dim),
                Segment(_fit(right, cw).strip().rjust(cw), base + right_style),
            ]
        return Strip(segments).adjust_cell_length(width, base)

    def _countdown(self, job: JobInfo, now: datetime) -> str:
        if job.finding is not None:
            return "undecodable"
        return countdown(job.next_run_time, now)

    def _state_style(self, group: str, job: JobInfo) -> Style:
        if job.finding is not None:
            return self.get_component_rich_style("jobs--undecodable", partial=True)
        if job.next_run_time is None:
            return self.get_component_rich_style("jobs--paused", partial=True)
        if group == "overdue":
            return self.get_component_rich_style("jobs--overdue", partial=True)
        return Style()
