"""How ``--help`` reads: every command ends with its exit codes (from :data:`EXIT_CODES`,
the one table the README's also matches), and arguments read as words (``FILE``,
``[JOB_ID]``), never as typer's ``{file}`` or ``<path>``.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from schedtui.cli import coercion

#: The console itself (``schedtui`` with no command) is listed under this name.
ROOT = "schedtui"

_USAGE = (2, "bad arguments or nothing configured")
_DATABASE = (3, "database unreachable, table missing or locked")
_INTERRUPTED = (130, "interrupted (Ctrl-C)")
_PROBE = (
    (0, "OK"),
    (1, "WARNING"),
    (2, "CRITICAL"),
    (3, "UNKNOWN: bad arguments, nothing configured, database unreachable, internal error"),
)
_CONTROL = (
    (0, "every request applied (or accepted, without --wait)"),
    (1, "a request failed, was refused, expired, or is still pending after --wait"),
    (2, "bad arguments, or confirmation needed (no terminal and no --yes)"),
    _DATABASE,
    (4, "conflict: a concurrent change was detected; nothing was written"),
    _INTERRUPTED,
)

#: Every command's exit codes, in the order they are listed.
EXIT_CODES: dict[str, tuple[tuple[int, str], ...]] = {
    ROOT: ((0, "the console was closed"), _USAGE, _INTERRUPTED),
    "check": (*_PROBE, _INTERRUPTED),
    "jobs": ((0, "listed"), _USAGE, _DATABASE, _INTERRUPTED),
    "history": ((0, "listed (also when the companion is not installed)"), _USAGE, _DATABASE, _INTERRUPTED),
    "demo": ((0, "the demo ended"), (1, "the demo failed"), _USAGE, _INTERRUPTED),
    "backup": (
        (0, "a verified backup was written"),
        (1, "the backup failed (no space left, permission denied, verification failed)"),
        _USAGE,
        (3, "database problem (unreachable, missing, locked past --lock-timeout, pg_dump missing or too old)"),
        _INTERRUPTED,
    ),
    "backups": (
        (0, "listed (with --verify: every backup is good)"),
        (1, "--verify found a bad backup"),
        (2, "bad arguments, or no backup folder"),
        _INTERRUPTED,
    ),
    "restore": (
        (0, "restored (--jobs/--missing/--archived: every job restored, requested, or shown by --dry-run)"),
        (1, "refused or failed (verification failed, a scheduler running or possibly running; nothing to restore)"),
        (2, "not confirmed, or bad arguments"),
        _DATABASE,
        (4, "--jobs/--missing/--archived: a job with that id appeared meanwhile (nothing written for it)"),
        _INTERRUPTED,
    ),
    "diff": ((0, "no difference"), (1, "differences"), _USAGE, _DATABASE, _INTERRUPTED),
    "preflight": (
        (0, "every job restorable"),
        (1, "some cannot be decided (unknown) but none would be lost"),
        (2, "some would be deleted by APScheduler on start"),
        (3, "could not run (bad arguments, database unreachable)"),
        _INTERRUPTED,
    ),
    "pause": _CONTROL,
    "resume": _CONTROL,
    "run": _CONTROL,
    "remove": _CONTROL,
    "metrics": (
        (0, "OK (with --listen: stopped by Ctrl-C or SIGTERM)"),
        *_PROBE[1:3],
        (3, "UNKNOWN: bad arguments, nothing configured, database unreachable, cannot listen"),
        _INTERRUPTED,
    ),
    "serve": (
        (0, "stopped by Ctrl-C or SIGTERM"),
        (1, "cannot listen on the address (in use, not permitted)"),
        (2, "bad arguments, nothing configured, or a host other than loopback without an access token"),
    ),
    "completion": ((0, "the script was printed"), (2, "bad arguments (a shell other than bash, zsh or fish)")),
}


#: For a command without its own row yet (tests/test_cli_help.py fails until it has one).
_GENERIC = ((0, "success"), (1, "the operation failed"), _USAGE, _DATABASE, _INTERRUPTED)


def epilog(command: str) -> str:
    """The ``Exit codes:`` section of ``command``'s help (``\\b`` keeps click from rewrapping it)."""
    rows = [
        textwrap.fill(meaning, width=76, initial_indent=f"  {code:<4} ", subsequent_indent=" " * 7)
        for code, meaning in EXIT_CODES.get(command, _GENERIC)
    ]
    return "\b\nExit codes:\n" + "\n".join(rows)


def markdown_table() -> str:
    """The README's table of every command's exit codes (tests/test_cli_help.py checks it);
    commands with the same codes share a row."""
    rows: list[tuple[list[str], tuple[tuple[int, str], ...]]] = []
    for command, codes in EXIT_CODES.items():
        name = "`schedtui`" if command == ROOT else f"`schedtui {command}`"
        if rows and rows[-1][1] == codes:
            rows[-1][0].append(name)
        else:
            rows.append(([name], codes))
    lines = ["| command | exit codes |", "| --- | --- |"]
    for names, codes in rows:
        cell = "<br>".join(f"`{code}` {meaning}" for code, meaning in codes)
        lines.append(f"| {', '.join(names)} | {cell} |")
    return "\n".join(lines)


def _argument_name(param: Any) -> str:
    if param.metavar:  # as the command spells it: FILE, JOB_ID..., [BACKUP] [BACKUP]
        return str(param.metavar)
    name = str(param.name.upper())
    return name + "..." if param.nargs != 1 else name


_RANGES = (
    (re.compile(r"(?<![\w.])(-?[\d.]+)<=x<=(-?[\d.]+)"), r"\1 to \2"),
    (re.compile(r"(?<![\w.])x>=(-?[\d.]+)"), r"at least \1"),
    (re.compile(r"(?<![\w.])x<=(-?[\d.]+)"), r"at most \1"),
)


def range_words(text: str) -> str:
    """typer's ``x>=0`` / ``1<=x<=100`` as ``at least 0`` / ``1 to 100``."""
    for pattern, words in _RANGES:
        text = pattern.sub(words, text)
    return text


def _format_params(command: Any, ctx: Any, formatter: Any) -> None:
    """Arguments by name (``FILE: the backup file``), options with their metavars."""
    args, opts = [], []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        if param.param_type_name == "argument":
            args.append((_argument_name(param), range_words(record[1])))
        else:
            opts.append((record[0], range_words(record[1])))
    for title, rows in (("Arguments", args), ("Options", opts)):
        if rows:
            with formatter.section(title):
                formatter.write_dl(rows)


class HelpCommand(TyperCommand):
    """A command whose usage line and help show arguments as words (and whose options
    skip typer's pydantic coercion where it would change nothing: ``cli.coercion``)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        coercion.install(self.get_params(ctx))
        return list(super().parse_args(ctx, args))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = _argument_name(param)
                pieces.append(name if param.required or name.startswith("[") else f"[{name}]")
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_params(self, ctx, formatter)


class HelpGroup(TyperGroup):
    """The ``schedtui`` group: its options as :class:`HelpCommand`'s, then the commands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        coercion.install(self.get_params(ctx))
        return list(super().parse_args(ctx, args))

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_params(self, ctx, formatter)
        self.format_commands(ctx, formatter)


def apply(app: typer.Typer) -> None:
    """Give every registered command of ``app`` the help class and its exit codes."""
    for info in app.registered_commands:
        if info.name is None:
            raise ValueError(f"command {info.callback} has no name: register it as app.command(NAME)")
        if info.cls in (None, TyperCommand):
            info.cls = HelpCommand
        info.epilog = epilog(info.name)
