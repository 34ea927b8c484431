"""The console application: ``run_console`` and ``SchedtuiApp``.

The app is thin: configuration, global keys (quit, help, theme) and the command palette.
The main screen owns the view and the refresh loop; ``tui.data.Feed`` owns the database.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterable, Sequence
from functools import partial
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from schedtui.core.clock import Clock, system_clock
from schedtui.core.model import Target
from schedtui.core.stores import NamedStore
from schedtui.core.vocab import terminal_unicode
from schedtui.tui.data import Feed
from schedtui.tui.fmt import clean
from schedtui.tui.screens.main import MainScreen

DARK, LIGHT = "textual-dark", "textual-light"

#: Seconds between looks at whether the terminal is still there (``SchedtuiApp._hung_up``).
HANGUP_CHECK = 1.0


def terminal_fd() -> int | None:
    """The console's terminal (its standard input, which Textual reads), or None when that
    is no terminal (a pipe, a file)."""
    try:
        fd = sys.__stdin__.fileno() if sys.__stdin__ is not None else -1
    except (AttributeError, ValueError, OSError):
        return None
    return fd if fd >= 0 and os.isatty(fd) else None


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
        stores: Sequence[NamedStore] = (),
    ) -> None:
        self.target = target
        self.read_only = read_only
        self.refresh_interval = max(0.5, float(refresh))
        self.clock: Clock = clock or system_clock
        self.backup_dir = backup_dir
        self.feed = feed or Feed(target, clock=self.clock, backup_dir=backup_dir)
        #: several stores (``--url`` repeated, ``--store``, the stores file); ``target`` is the first.
        #: With one store (or none given) the console is exactly the single-store console.
        self.stores: tuple[NamedStore, ...] = tuple(stores) if len(stores) > 1 else ()
        self.store_name: str | None = self.stores[0].name if self.stores else None
        #: one Feed per store, opened when first shown or checked, kept warm (decode cache)
        self.feeds: dict[str, Feed] = {self.store_name: self.feed} if self.store_name else {}
        self._screens_made = 0
        super().__init__()
        from schedtui.tui.glyphs import set_unicode

        set_unicode(terminal_unicode())
        wanted = theme or os.environ.get("SCHEDTUI_THEME")
        if wanted in ("light", "dark"):
            wanted = LIGHT if wanted == "light" else DARK
        self.theme = wanted if wanted in self.available_themes else DARK
        self._set_sub_title()

    def _set_sub_title(self) -> None:
        ro = " (READ-ONLY)" if self.read_only else ""
        name = f"{self.store_name} · " if self.store_name else ""
        self.sub_title = f"{name}{self.feed.target.safe_url}{ro}"

    def get_default_screen(self) -> Screen[None]:
        if self.stores:  # several: the store's screen is pushed, so that switching can replace it
            return Screen(id="base")
        return self._main_screen()

    def on_mount(self) -> None:
        from schedtui.tui.glyphs import unicode

        self.set_class(not unicode(), "-ascii")  # (the borders follow the symbols: schedtui.tcss)
        if self.stores:
            self.push_screen(self._main_screen())
        fd = None if self.is_headless or self.is_web else terminal_fd()
        if fd is not None:
            self.set_interval(HANGUP_CHECK, partial(self._hung_up, fd))

    def _hung_up(self, fd: int) -> None:
        """Quit once the terminal the console started on is gone. Without this, a console
        whose terminal hangs up while no SIGHUP reaches it (run under ``nohup``, or by a
        wrapper such as ``make`` that held the session, when an SSH connection drops) lives
        on: every read of its input returns at once with nothing, and Textual's input thread
        spins a CPU on them for good (Textualize/textual#6690, open)."""
        if not os.isatty(fd):
            self.exit()

    @property
    def main_screen(self) -> MainScreen | None:
        """The main screen of the store on screen (under any dialog)."""
        return next((s for s in reversed(self.screen_stack) if isinstance(s, MainScreen)), None)

    def _main_screen(self) -> MainScreen:
        self._screens_made += 1  # (the screen left is still registered while the next mounts)
        return MainScreen(
            self.feed,
            read_only=self.read_only,
            refresh=self.refresh_interval,
            clock=self.clock,
            store_name=self.store_name,
            screen_id="main" if self._screens_made == 1 else f"main-{self._screens_made}",
        )

    # -- several stores ----------------------------------------------------------------
    def store(self, name: str) -> NamedStore | None:
        return next((s for s in self.stores if s.name == name), None)

    def feed_for(self, store: NamedStore) -> Feed:
        """The store's Feed (created on first use; it connects only in a worker)."""
        feed = self.feeds.get(store.name)
        if feed is None:
            feed = self.feeds[store.name] = Feed(store.target, clock=self.clock, backup_dir=self.backup_dir)
        return feed

    def next_store(self, step: int = 1) -> str | None:
        if not self.stores:
            return None
        names = [s.name for s in self.stores]
        at = names.index(self.store_name) if self.store_name in names else 0
        return names[(at + step) % len(names)]

    def switch_store(self, name: str) -> bool:
        """Show another store: a fresh main screen (selection, marks and filters start over)
        on that store's Feed. Nothing here reads the database; the new screen's worker does."""
        store = self.store(name)
        if store is None:
            known = ", ".join(s.name for s in self.stores) or "only one store is open"
            self.notify(f"no store named {clean(name, 40)!r} (stores: {known})", severity="warning", timeout=4)
            return False
        if name == self.store_name:
            self.notify(f"already on store {name}", timeout=2)
            return True
        self.feed = self.feed_for(store)
        self.target = store.target
        self.store_name = name
        self._set_sub_title()
        while len(self.screen_stack) > 2 and not isinstance(self.screen, MainScreen):
            self.pop_screen()  # (a dialog over the main screen)
        self.switch_screen(self._main_screen())
        self.notify(f"store {name}: {clean(store.safe_url, 100)}", title="Store", timeout=3)
        return True

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
        if self.stores:
            yield SystemCommand(
                "All stores (fleet)", "One row per store: jobs, overdue, undecodable, heartbeat (a)", main.action_fleet
            )
            for other in self.stores:
                if other.name != self.store_name:
                    yield SystemCommand(
                        f"Store {other.name}",
                        f"Switch to {clean(other.safe_url, 80)} (o: next store, :store NAME)",
                        partial(self.switch_store, other.name),
                    )
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
        for feed in self.feeds.values():
            feed.close()
        # (each Feed froze what its first read loaded: collectable again)
        gc.unfreeze()


def run_console(
    target: Target,
    *,
    read_only: bool = False,
    refresh: float = 2.0,
    clock: Clock | None = None,
    stores: Sequence[NamedStore] = (),
) -> None:
    """Open the console on ``target`` (with several ``stores``: the first of them) until the user quits."""
    if stores:
        target = stores[0].target
    SchedtuiApp(target, read_only=read_only, refresh=refresh, clock=clock, stores=stores).run()
