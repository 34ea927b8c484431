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
  enter  ← →                     collapse / expand a group
  tab                            next pane (the mouse works too)
  v                              detail or history on the right
  e    events feed (every job: runs, failures, changes, actions)
  F    failures overview (last 24 h, with a chart)
  esc  back to the jobs table

[b]Find and sort[/b]
  /    filter by id, name or function as you type (esc clears)
  f    only overdue → late → paused → undecodable → failing jobs
  l    flat table ↔ grouped tree
  g    group by state → function module → trigger kind
  1-0  sort by a column (again: reverse): 1 id 2 name 3 trigger
       4 next run 5 countdown 6 state 7 last run 8 outcome
       9 duration 0 success rate (24 h); a click on a title too
  s S  next sort column / reverse the order
  z    times in UTC → local time → each trigger's zone

[b]Refresh[/b]
  + -  refresh more / less often
  P    pause or resume refreshing
  R    full reload (re-read and decode every row)

[b]Act[/b]
  space  mark a job (U clears the marks)
  b    backup now (verified; shows file, size, rotation)
  t    full traceback of the run picked in the history
  c    copy the selected job's id (terminal clipboard, OSC 52)
{actions}{stores}
[b]Other[/b]
  ctrl+p  command palette      T  light / dark theme
  ?       this help            q  quit

Countdowns tick every second from data in memory; the database
is read in the background and never blocks the keys. When it goes
away, the last data stays on screen (marked stale) and the console
retries by itself. States (on time, late, overdue) are the ones
`schedtui check` reports.
"""

ACTIONS_RW = """\
  p    pause or resume the selected job (or every marked one)
  r    run the selected job now (or every marked one)
  d    remove the selected job
       (each asks first; through the companion when it is live)
"""

STORES = """
[b]Stores[/b]
  o    next store (selection, marks and filters start over)
  a    all stores: one row each, judged as `schedtui check`
       (enter switches to the row's store)
  :    command line: `:store NAME` switches, `:stores` lists
"""

ONE_STORE = """\
       [dim](one store is open: give --url or --store again, or name
       stores in ~/.config/schedtui/stores.toml)[/dim]
"""

ACTIONS_RO = """\
  [dim]read-only: p, r and d only say why they are off[/dim]
"""


ASCII_ARROWS = str.maketrans({"↑": "^", "↓": "v", "←": "<", "→": ">", "↔": "=", "…": "~", "·": "-"})


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, read_only: bool, several_stores: bool = False) -> None:
        super().__init__()
        self.read_only = read_only
        self.several_stores = several_stores

    def compose(self) -> ComposeResult:
        from schedtui.tui.glyphs import unicode

        text = HELP.format(
            actions=ACTIONS_RO if self.read_only else ACTIONS_RW,
            stores=STORES + ("" if self.several_stores else ONE_STORE),
        )
        hint = "↑ ↓ PgUp PgDn scroll · esc closes"
        if not unicode():  # a terminal that declared no UTF-8 locale
            text, hint = text.translate(ASCII_ARROWS), hint.translate(ASCII_ARROWS)
        with Vertical(id="help-box", classes="dialog"):
            with VerticalScroll(id="help"):
                yield Static(Content.from_markup(text))
            yield Static(Content.styled(hint, "$text-muted"), id="help-hint")

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
