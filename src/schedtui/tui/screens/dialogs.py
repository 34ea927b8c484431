"""Modal dialogs: confirmation, help, traceback."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from schedtui.core.text import safe_block
from schedtui.tui.fmt import clean


class ConfirmScreen(ModalScreen[bool]):
    """Asks before anything that writes. Dismisses with True only on an explicit yes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, body: str, *, confirm_label: str = "Yes", danger: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.confirm_label = confirm_label
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Content.styled(clean(self.title_text, 200), "bold"), id="dialog-title")
            yield Static(Content(self.body), id="dialog-body")
            with Horizontal(id="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", id="yes", variant="error" if self.danger else "primary")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


HELP = """\
[b]schedtui console[/b]: an APScheduler job store, live.

[b]Navigate[/b]
  ↑ ↓ j k  PgUp PgDn  Home End   move
  enter space  ← →               collapse / expand a group
  tab                            next pane (the mouse works too)
  v                              detail or history on the right

[b]Find[/b]
  /    filter by id, name or function as you type (esc clears)
  g    group by state → function module → trigger kind
  s    sort by next run → id → last duration

[b]Refresh[/b]
  + -  refresh more / less often
  P    pause or resume refreshing
  R    full reload (re-read and decode every row)

[b]Act[/b]
  b    backup now (verified; shows file, size, rotation)
  t    full traceback of the run selected in the history
{actions}
[b]Other[/b]
  ctrl+p  command palette      T  light / dark theme
  ?       this help            q  quit

Countdowns tick every second from data in memory; the database
is read in the background and never blocks the keys. When it goes
away, the last data stays on screen (marked stale) and the console
retries by itself.
"""

ACTIONS_RW = """\
  p    pause or resume the selected job
  r    run the selected job now
  d    remove the selected job
       (each asks first; through the companion when it is live)
"""

ACTIONS_RO = """\
  [dim]read-only: pause, resume, run now and remove are disabled[/dim]
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, read_only: bool) -> None:
        super().__init__()
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        text = HELP.format(actions=ACTIONS_RO if self.read_only else ACTIONS_RW)
        with VerticalScroll(id="help", classes="dialog"):
            yield Static(Content.from_markup(text))
            yield Static(Content.styled("esc to close", "$text-muted"))

    def on_mount(self) -> None:
        self.query_one("#help").focus()

    def action_close(self) -> None:
        self.dismiss(None)


class TextScreen(ModalScreen[None]):
    """Shows a long text (a traceback) in a scrollable box."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,enter", "close", "Close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="textbox", classes="dialog"):
            yield Static(Content.styled(clean(self.title_text, 200), "bold"))
            with VerticalScroll():
                yield Static(Content(safe_block(self.text)), id="text-body")  # each line sanitized
            yield Static(Content.styled("esc to close", "$text-muted"))

    def action_close(self) -> None:
        self.dismiss(None)
