"""The ``schedtui`` typer application: the console by default, and headless commands for
scripts (``cli.app.main`` is the entry point; it imports this module)."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Annotated, Any

import typer

try:  # typer >= 0.20 vendors click
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException, UsageError  # type: ignore[assignment]

from schedtui import __version__
from schedtui.cli import helptext
from schedtui.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    DecodeBudgetOpt,
    SchemaOpt,
    TableOpt,
    error_line,
    guard_closed_pipe,
    handled,
    target_from,
)
from schedtui.core.model import Target
from schedtui.core.stores import NamedStore

#: The modules of the commands, each with ``register(app)``, in the order of ``--help``.
COMMAND_MODULES = (
    "cmd_check",
    "cmd_companion",
    "cmd_backup",
    "cmd_control",
    "cmd_metrics",
    "cmd_preflight",
    "cmd_undelete",
    "cmd_serve",
    "cmd_completion",
)
#: Commands whose command line needs no other command's module: ``run`` builds the app with
#: only that module (the others are neither imported nor turned into click commands).
_ALONE = {"check": "cmd_check", "jobs": "cmd_check"}


def build(modules: Sequence[str] = COMMAND_MODULES) -> typer.Typer:
    """The ``schedtui`` application with the commands of ``modules``."""
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
    for name in modules:
        importlib.import_module(f"schedtui.cli.{name}").register(app)
    helptext.apply(app)
    app.callback(invoke_without_command=True)(console)
    return app


_FULL: list[typer.Typer] = []


def full_app() -> typer.Typer:
    """The application with every command (built once)."""
    if not _FULL:
        _FULL.append(build())
    return _FULL[0]


def __getattr__(name: str) -> Any:
    """``app``: :func:`full_app`."""
    if name == "app":
        return full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"schedtui {__version__}")
        raise typer.Exit(0)


ConsoleUrlsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--url",
        "-u",
        metavar="URL",
        help="SQLAlchemy URL of the job store (else $SCHEDTUI_URL, else $DATABASE_URL); repeat it to watch "
        "several stores (o switches, a lists them); a name from the stores file works too.",
        show_default=False,
    ),
]
StoreNamesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--store",
        metavar="NAME",
        help="A store named in the stores file (repeatable). Without --url or --store, and with no "
        "$SCHEDTUI_URL / $DATABASE_URL, every store of the file is opened.",
        show_default=False,
    ),
]
StoresFileOpt = Annotated[
    str | None,
    typer.Option(
        "--stores-file",
        metavar="FILE",
        envvar="SCHEDTUI_STORES_FILE",
        help="The named-stores file (default $XDG_CONFIG_HOME/schedtui/stores.toml, "
        "else ~/.config/schedtui/stores.toml); never holds a password.",
        show_default=False,
    ),
]


def _console_stores(
    urls: list[str], names: list[str], stores_file: str | None, table: str | None, schema: str | None
) -> tuple[Target, tuple[NamedStore, ...]]:
    """The console's target and, with several stores, all of them (``core.stores``)."""
    from pathlib import Path

    from schedtui.core.stores import choose_stores, discover_stores, load_stores, stores_path

    path = Path(stores_file).expanduser() if stores_file else stores_path()
    # The file is read only when it may matter: a broken stores file never stops `--url URL`.
    env_url = os.environ.get("SCHEDTUI_URL") or os.environ.get("DATABASE_URL")
    wanted = (
        bool(names)
        or stores_file is not None
        or any("://" not in u and not os.path.exists(u.strip()) for u in urls)
        or (not urls and not env_url)
    )
    named = load_stores(path, required=stores_file is not None) if wanted else ()
    chosen = choose_stores(urls, names, named, table=table, schema=schema, where=str(path))
    if len(chosen) == 1 and chosen[0] not in named:
        # one store given as before (--url, $SCHEDTUI_URL): exactly today's single-store console
        return target_from(urls[0] if urls else None, table, schema), ()
    found = discover_stores(chosen)
    return found[0].target, found if len(found) > 1 else ()


def console(
    ctx: typer.Context,
    url: ConsoleUrlsOpt = None,
    store: StoreNamesOpt = None,
    stores_file: StoresFileOpt = None,
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
    with handled(*(url or [])):
        target, stores = _console_stores(url or [], store or [], stores_file, table, schema)
        from schedtui.tui.app import run_console

        run_console(target, read_only=read_only, refresh=refresh, stores=stores)


def _argv_urls(argv: list[str]) -> list[str]:
    """The ``--url`` / ``-u`` values on the command line (their secrets are masked)."""
    out = [a.split("=", 1)[1] for a in argv if a.startswith("--url=")]
    out += [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--url", "-u")]
    return out


def run(argv: list[str], *, is_check: bool, command: str | None = None) -> None:
    """Run the command line ``argv``: maps usage errors to the right exit code (UNKNOWN,
    3, for the probes: ``is_check``) and hides tracebacks. ``command``: the command
    ``argv`` names (``check`` and ``jobs`` then run in an app with only their module;
    with ``--help`` anywhere, the full one answers)."""
    alone = _ALONE.get(command or "")
    if alone is not None and not any(a in ("-h", "--help") for a in argv):
        app = build((alone,))
    else:
        app = full_app()
    guard_closed_pipe()
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
