"""The ``schedtui`` command: the console by default, and headless commands for scripts."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated

import typer

try:  # typer >= 0.20 vendors click
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException, UsageError  # type: ignore[assignment]

from schedtui import __version__
from schedtui.cli import (
    cmd_backup,
    cmd_check,
    cmd_companion,
    cmd_completion,
    cmd_control,
    cmd_metrics,
    cmd_preflight,
    cmd_serve,
    cmd_undelete,
    helptext,
)
from schedtui.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    DecodeBudgetOpt,
    SchemaOpt,
    TableOpt,
    UrlOpt,
    error_line,
    handled,
    target_from,
)

app = typer.Typer(
    name="schedtui",
    help="A safe console and health probe for APScheduler 3.x job stores.",
    add_completion=False,  # `schedtui completion SHELL` prints the script (cmd_completion)
    no_args_is_help=False,
    rich_markup_mode=None,
    cls=helptext.HelpGroup,
    epilog=helptext.epilog(helptext.ROOT),
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

for _module in (
    cmd_check,
    cmd_companion,
    cmd_backup,
    cmd_control,
    cmd_metrics,
    cmd_preflight,
    cmd_undelete,
    cmd_serve,
    cmd_completion,
):
    _module.register(app)
helptext.apply(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"schedtui {__version__}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def console(
    ctx: typer.Context,
    url: UrlOpt = None,
    table: TableOpt = None,
    schema: SchemaOpt = None,
    decode_budget: DecodeBudgetOpt = None,
    read_only: Annotated[
        bool,
        typer.Option("--read-only", envvar="SCHEDTUI_READ_ONLY", help="Remove every action that writes."),
    ] = False,
    refresh: Annotated[
        float, typer.Option("--refresh", metavar="SECONDS", min=0.5, help="Seconds between refreshes.")
    ] = 2.0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Open the console on the job store (run `schedtui demo` to try it)."""
    if ctx.invoked_subcommand is not None:
        return
    with handled(url or ""):
        target = target_from(url, table, schema)
        from schedtui.tui.app import run_console

        run_console(target, read_only=read_only, refresh=refresh)


#: Probe commands: bad arguments exit UNKNOWN (3), as a monitoring plugin should
#: (``preflight``: 3 is its "could not run").
_PROBES = ("check", "metrics", "preflight")


def _check_invoked(argv: list[str]) -> bool:
    return any(a in _PROBES for a in argv if not a.startswith("-"))


def _argv_urls(argv: list[str]) -> list[str]:
    """The ``--url`` / ``-u`` values on the command line (their secrets are masked)."""
    out = [a.split("=", 1)[1] for a in argv if a.startswith("--url=")]
    out += [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--url", "-u")]
    return out


def main(argv: list[str] | None = None) -> None:
    """Entry point: maps usage errors to the right exit code and hides tracebacks."""
    argv = list(sys.argv[1:] if argv is None else argv)
    is_check = _check_invoked(argv)
    try:
        rv = app(args=argv, prog_name="schedtui", standalone_mode=False)
    except UsageError as exc:
        exc.show()
        # For `check`, bad arguments are UNKNOWN (3), never CRITICAL (2).
        sys.exit(3 if is_check else EXIT_USAGE)
    except ClickException as exc:
        exc.show()
        sys.exit(3 if is_check else exc.exit_code)
    except typer.Abort:
        typer.echo("schedtui: aborted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("schedtui: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("SCHEDTUI_DEBUG"):
            traceback.print_exc()
        error_line(f"internal error: {type(exc).__name__}: {exc}", *_argv_urls(argv))
        sys.exit(3 if is_check else EXIT_FAILURE)
    sys.exit(rv if isinstance(rv, int) else 0)
