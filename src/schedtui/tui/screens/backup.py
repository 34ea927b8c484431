"""Backup now: runs the verified backup in a thread worker and shows progress, then the result."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import ProgressBar, Static

from schedtui.core.clock import Clock
from schedtui.core.errors import SchedtuiError
from schedtui.core.model import Target
from schedtui.core.urls import mask_text
from schedtui.tui.fmt import clean, size
from schedtui.tui.glyphs import g

#: Progress messages closer together than this are merged (the UI shows the latest).
PROGRESS_EVERY = 0.1


class BackupScreen(ModalScreen[bool]):
    """Dismisses with True when a verified backup was written."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "close", "Close")]

    class Progress(Message):
        def __init__(self, fraction: float, message: str) -> None:
            super().__init__()
            self.fraction = fraction
            self.message = message

    class Done(Message):
        def __init__(self, ok: bool, text: Content) -> None:
            super().__init__()
            self.ok = ok
            self.text = text

    def __init__(
        self,
        target: Target,
        clock: Clock,
        directory: str | None = None,
        on_finished: Callable[[bool], None] | None = None,
    ) -> None:
        super().__init__()
        self.target = target
        self.clock = clock
        self.directory = directory
        self.on_finished = on_finished
        self.finished = False
        self.ok = False
        self._latest: tuple[float, str] | None = None
        self._latest_lock = threading.Lock()

    def compose(self) -> ComposeResult:
        with Vertical(id="backup", classes="dialog"):
            yield Static(Content.styled("Backup now", "bold"))
            yield Static(Content(f"of {clean(self.target.safe_url, 120)}"), id="backup-source")
            yield ProgressBar(total=1.0, show_eta=False, id="backup-progress")
            yield Static("starting…", id="backup-status")
            yield Static(Content.styled("esc to close (the backup continues)", "$text-muted"), id="backup-hint")

    def on_mount(self) -> None:
        self.run_backup()

    @work(thread=True, exclusive=True, group="backup", exit_on_error=False, description="backup")
    def run_backup(self) -> None:
        last_at = [0.0]
        last_phase = [""]

        def progress(fraction: float, message: str) -> None:
            # At most ten messages a second: a flood of them would queue the result behind.
            with self._latest_lock:
                self._latest = (float(fraction or 0.0), str(message or ""))
            now = time.monotonic()
            phase = str(message or "").split(" ", 1)[0]
            if now - last_at[0] >= PROGRESS_EVERY or phase != last_phase[0]:  # a new phase always shows
                last_at[0], last_phase[0] = now, phase
                self.post_message(self.Progress(float(fraction or 0.0), str(message or "")))

        try:
            from schedtui.core.backup import create_backup

            result = create_backup(self.target, self.directory, clock=self.clock, progress=progress)
        except SchedtuiError as exc:
            message = clean(mask_text(exc.message, self.target.url), 300)
            self.post_message(self.Done(False, Content.styled(f"backup failed: {message}", "$error")))
            self.app.call_from_thread(self.app.notify, message, title="Backup failed", severity="error")
            return
        except Exception as exc:
            text = mask_text(f"{type(exc).__name__}: {exc}", self.target.url)
            self.post_message(self.Done(False, Content.styled(f"backup failed: {clean(text, 300)}", "$error")))
            return
        verified = (f"verified {g('ok')}", "$success bold") if result.verified else ("NOT verified", "$error bold")
        rotated = ", ".join(p.name for p in result.rotated) if result.rotated else "nothing removed"
        report = Content("\n").join(
            [
                Content.assemble(("file      ", "$text-muted"), clean(result.path, 300)),
                Content.assemble(("size      ", "$text-muted"), size(result.size)),
                Content.assemble(("check     ", "$text-muted"), verified),
                Content.assemble(("sha256    ", "$text-muted"), clean(getattr(result, "sha256", "") or "-", 80)),
                Content.assemble(("rotation  ", "$text-muted"), clean(rotated, 300)),
                Content(clean(result.message, 300)),
            ]
        )
        self.post_message(self.Done(bool(result.verified), report))

    def on_backup_screen_progress(self, event: Progress) -> None:
        if self.finished:
            return
        with self._latest_lock:
            fraction, message = self._latest or (event.fraction, event.message)
        self.query_one(ProgressBar).update(progress=max(0.0, min(0.99, fraction)))
        self.query_one("#backup-status", Static).update(clean(message, 200) + g("ellipsis"))

    def on_backup_screen_done(self, event: Done) -> None:
        self.finished = True
        self.ok = event.ok
        self.query_one(ProgressBar).update(progress=1.0 if event.ok else 0.0)
        self.query_one("#backup-status", Static).update(event.text)
        self.query_one("#backup-hint", Static).update(Content.styled("enter or esc to close", "$text-muted"))
        plain = event.text.plain.splitlines()
        name = plain[0].split()[-1].rsplit("/", 1)[-1] if plain and event.ok else ""
        if event.ok:
            self.app.notify(clean(f"backup verified: {name}", 200), title="Backup")
        if self.on_finished is not None:
            self.on_finished(event.ok)

    def action_close(self) -> None:
        self.dismiss(self.ok)
