"""Jobs the deletion guard archived: see why, and put one back (``u`` on the main screen).

The list comes from the last refresh (``Frame.archived``); restoring runs in a thread
worker, after a confirmation that says what will be written, through the same path as
``schedtui restore --archived ID`` (the companion when its heartbeat is fresh, else a
direct insert that never overwrites a job with that id).
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from schedtui.core.clock import Clock
from schedtui.core.model import Target
from schedtui.core.urls import mask_text
from schedtui.tui.fmt import clean


def describe_archived(item: Any) -> str:
    """The detail lines of one archived job."""
    when = item.archived_at.isoformat(timespec="seconds").replace("+00:00", "Z")
    return "\n".join(
        [
            f"job        {clean(item.job_id, 120)}",
            f"archived   {when} by {clean(item.archived_by or '?', 80)}",
            f"error      {clean(item.error or item.error_type or '?', 300)}",
            f"size       {item.state_size} bytes (kept byte for byte)",
        ]
    )


class ArchivedScreen(ModalScreen[bool]):
    """Dismisses with True when a job was put back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("u,enter", "restore", "Restore"),
    ]

    def __init__(self, target: Target, clock: Clock, archived: tuple[Any, ...], *, read_only: bool) -> None:
        super().__init__()
        self.target = target
        self.clock = clock
        self.archived = archived
        self.read_only = read_only
        self.restored = False

    def compose(self) -> ComposeResult:
        with Vertical(id="archived", classes="dialog"):
            yield Static(Content.styled("Archived jobs (APScheduler could not restore them)", "bold"))
            if not self.archived:
                yield Static("nothing archived")
            else:
                options = [
                    Option(f"{clean(a.job_id, 60)}  {clean(a.error_type or '?', 40)}", id=str(i))
                    for i, a in enumerate(self.archived)
                ]
                yield OptionList(*options, id="archived-list")
                yield Static(describe_archived(self.archived[0]), id="archived-detail")
            hint = "esc to close" if self.read_only else "enter/u restore the selected job · esc to close"
            yield Static(Content.styled(hint, "$text-muted"))

    def _selected(self) -> Any | None:
        if not self.archived:
            return None
        index = self.query_one("#archived-list", OptionList).highlighted
        return self.archived[index or 0]

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        item = self._selected()
        if item is not None:
            self.query_one("#archived-detail", Static).update(describe_archived(item))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_restore()

    def action_restore(self) -> None:
        item = self._selected()
        if item is None or self.read_only:
            return
        from schedtui.tui.screens.dialogs import ConfirmScreen

        body = (
            f"Write job {clean(item.job_id, 120)} back into {clean(self.target.safe_url, 120)}, "
            f"byte for byte from the archive ({item.state_size} bytes).\n"
            "Through the companion when its heartbeat is fresh (the scheduler first checks its code can "
            "restore it); otherwise directly, never over an existing job with this id."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._restore(item.job_id)

        self.app.push_screen(ConfirmScreen("Restore this job?", body, confirm_label="Restore"), answered)

    @work(thread=True, exclusive=True, group="undelete", exit_on_error=False, description="restore a job")
    def _restore(self, job_id: str) -> None:
        try:
            from schedtui.core.undelete import apply_plan, plan_from_archive

            plan = plan_from_archive(self.target, [job_id])
            if not plan.items:
                reason = plan.skipped[0].reason if plan.skipped else "nothing to restore"
                self.app.call_from_thread(self.app.notify, clean(reason, 200), title="Not restored", severity="warning")
                return
            (outcome,) = apply_plan(self.target, plan, clock=self.clock)
        except Exception as exc:
            text = clean(mask_text(str(getattr(exc, "message", exc)), self.target.url), 300)
            self.app.call_from_thread(self.app.notify, text, title="Restore failed", severity="error")
            return
        self.restored = self.restored or outcome.ok
        severity = "information" if outcome.ok else "error"
        self.app.call_from_thread(
            self.app.notify, clean(outcome.message, 300), title=f"{job_id}: {outcome.status}", severity=severity
        )

    def action_close(self) -> None:
        self.dismiss(self.restored)
