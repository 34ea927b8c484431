"""The ``schedtui`` command's entry point: the console by default, and headless commands
for scripts (the typer application is ``cli.root``).

This module imports nothing heavy: for a command that reads the jobs table (``check``,
``jobs``) :func:`main` starts the decode worker first, so its interpreter boots while
this one imports typer and the commands and parses the command line.
"""

from __future__ import annotations

import sys
from typing import Any

#: Probe commands: bad arguments exit UNKNOWN (3), as a monitoring plugin should
#: (``preflight``: 3 is its "could not run").
_PROBES = ("check", "metrics", "preflight")

#: Commands that read and decode the jobs table once.
_READERS = ("check", "jobs")

#: The root options that take a value (the command comes after it).
_ROOT_VALUED = frozenset(
    ("--url", "-u", "--store", "--stores-file", "--table", "--schema", "--decode-budget", "--refresh")
)


def _check_invoked(argv: list[str]) -> bool:
    return any(a in _PROBES for a in argv if not a.startswith("-"))


def _command(argv: list[str]) -> str | None:
    """The command of ``argv`` (its first word that is not a root option or its value)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in _ROOT_VALUED
        else:
            return arg
    return None


def _prestart(argv: list[str]) -> None:
    """Start the decode worker now when ``argv`` reads the jobs table (not for ``--help``)."""
    if _command(argv) not in _READERS or any(a in ("-h", "--help", "--version") for a in argv):
        return
    from schedtui.core.decode import prestart

    prestart()


def main(argv: list[str] | None = None) -> None:
    """Entry point: maps usage errors to the right exit code and hides tracebacks."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # what the root's eager --version prints, without typer
        from schedtui import __version__

        print(f"schedtui {__version__}", flush=True)
        sys.exit(0)
    _prestart(argv)
    from schedtui.cli.root import run

    run(argv, is_check=_check_invoked(argv), command=_command(argv))


def __getattr__(name: str) -> Any:
    """``app``: the typer application with every command (``cli.root.full_app``)."""
    if name == "app":
        from schedtui.cli.root import full_app

        return full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
