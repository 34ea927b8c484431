"""``schedtui completion bash|zsh|fish``: the shell completion script (Typer's)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer
from typer._completion_classes import completion_init
from typer._completion_shared import get_completion_script

#: The variable of Typer's (click's) completion protocol for the ``schedtui`` program.
COMPLETE_VAR = "_SCHEDTUI_COMPLETE"


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(
    shell: Annotated[Shell, typer.Argument(metavar="SHELL", help="bash, zsh or fish.", show_default=False)],
) -> None:
    """Print the shell completion script; e.g. schedtui completion bash >> ~/.bashrc."""
    typer.echo(get_completion_script(prog_name="schedtui", complete_var=COMPLETE_VAR, shell=shell.value))


def register(app: typer.Typer) -> None:
    """Add ``completion`` to ``app``, and answer completion requests (``_SCHEDTUI_COMPLETE``)."""
    completion_init()
    app.command("completion")(completion)
