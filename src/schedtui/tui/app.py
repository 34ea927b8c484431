"""The console application: ``run_console`` and ``SchedtuiApp``.

The app is thin: configuration, global keys (quit, help, theme) and the command palette.
The main screen owns the view and the refresh loop; ``tui.data.Feed`` owns the database.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from schedtui.core.clock import Clock, system_clock
from schedtui.core.model import Target
from schedtui.core.vocab import terminal_unicode
from schedtui.tui.data import Feed
from schedtui.tui.screens.main import MainScreen

DARK, LIGHT = "textual-dark", "textual-light"


class SchedtuiApp(App[None]):
    """The schedtui operations console."""

    CSS_PATH = "schedtui.tcss"
    TITLE = "schedtui"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("T", "toggle_theme", "Light/dark", show=False),
    ]

    def __init__(
        self,
        target: Target,
        *,
        read_only: bool = False,
        refresh: float = 2.0,
        clock: Clock | None = None,
        feed: Feed | None = None,
        backup_dir: str | None = None,
        theme: str | None = None,
    ) -> None:
        self.target = target
        self.read_only = read_only
        self.refresh_interval = max(0.5, float(refresh))
        self.clock: Clock = clock or system_clock
        self.feed = feed or Feed(target, clock=self.clock, backup_dir=backup_dir)
        super().__init__()
        from schedtui.tui.glyphs import set_unicode

        set_unicode(terminal_unicode())
        wanted = theme or os.environ.get("SCHEDTUI_THEME")
        if wanted in ("light", "dark"):
            wanted = LIGHT if wanted == "light" else DARK
        self.theme = wanted if wanted in self.available_themes else DARK
        ro = " (READ-ONLY)" if read_only else ""
        self.sub_title = f"{target.safe_url}{ro}"

    def get_default_screen(self) -> Screen[None]:
        return MainScreen(self.feed, read_only=self.read_only, refresh=self.refresh_interval, clock=self.clock)

    def action_help(self) -> None:
        if isinstance(self.screen, MainScreen):
            self.screen.action_help()

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.current_theme.dark else DARK

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Only the console's own commands (Textual's Keys, Maximize, Theme and Screenshot
        would mix in entries that do nothing for an operator)."""
        main = screen if isinstance(screen, MainScreen) else None
        if main is None:
            yield SystemCommand("Quit", "Quit schedtui (q)", self.action_quit)
            return
        yield SystemCommand("Filter jobs", "Filter by id, name or function (/)", main.action_filter)
        yield SystemCommand(
            "Filter by state", "Only overdue, late, paused, undecodable or failing (f)", main.action_cycle_state
        )
        yield SystemCommand("Table or tree", "Flat table or grouped tree (l)", main.action_toggle_flat)
        yield SystemCommand(
            "Group jobs", "Cycle grouping: state, function module, trigger kind (g)", main.action_cycle_group
        )
        yield SystemCommand("Sort jobs", "Next sort column (s; 1-0 pick a column)", main.action_cycle_sort)
        yield SystemCommand("Reverse sort", "Ascending or descending (S)", main.action_reverse_sort)
        yield SystemCommand("Events feed", "What happened across all jobs, newest first (e)", main.action_toggle_events)
        yield SystemCommand(
            "Failures overview", "Jobs that failed in the last 24 h, with a chart (F)", main.action_toggle_failures
        )
        yield SystemCommand("Time zone", "Times in UTC, local time or each trigger's zone (z)", main.action_cycle_tz)
        yield SystemCommand("Copy job id", "Copy the selected job's id to the clipboard (c)", main.action_copy_id)
        yield SystemCommand("Unmark all", "Clear the marks (U)", main.action_unmark_all)
        yield SystemCommand("Detail or history", "Switch the right pane (v)", main.action_toggle_pane)
        yield SystemCommand("Backup now", "Write and verify a backup of the store (b)", main.action_backup)
        yield SystemCommand("Full reload", "Re-read and decode every row (R)", main.action_reload)
        yield SystemCommand(
            "Pause or resume refresh", "Stop or restart reading the database (P)", main.action_toggle_refresh
        )
        yield SystemCommand("Refresh more often", "Shorter refresh interval (+)", main.action_faster)
        yield SystemCommand("Refresh less often", "Longer refresh interval (-)", main.action_slower)
        yield SystemCommand(
            "Show traceback", "Full traceback of the run selected in the history (t)", main.action_traceback
        )
        yield SystemCommand("Light or dark", "Toggle the light and dark theme (T)", self.action_toggle_theme)
        yield SystemCommand("Help", "Keys and what the console shows (?)", main.action_help)
        if not self.read_only:
            yield SystemCommand(
                "Pause or resume job", "Pause or resume the selected or marked jobs (p)", main.action_pause_resume
            )
            yield SystemCommand("Run job now", "Run the selected or marked jobs once now (r)", main.action_run_now)
            yield SystemCommand("Remove job", "Delete the selected job (d)", main.action_remove)
        yield SystemCommand("Quit", "Quit schedtui (q)", self.action_quit)

    def on_unmount(self) -> None:
        self.feed.close()


def run_console(target: Target, *, read_only: bool = False, refresh: float = 2.0, clock: Clock | None = None) -> None:
    """Open the console on ``target`` until the user quits."""
    SchedtuiApp(target, read_only=read_only, refresh=refresh, clock=clock).run()
