"""Shared pieces of the commands: options, exit codes, output helpers.

Every command turns an expected failure (``SchedtuiError``) into one line on stderr and
an exit code; nothing a user can cause prints a traceback.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Annotated, Any, NoReturn

import typer

from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target
from schedtui.core.text import json_safe, safe_text
from schedtui.core.urls import mask_text, resolve_target

# Exit codes of the commands other than ``check`` (which follows Monitoring Plugins).
EXIT_OK = 0
EXIT_FAILURE = 1  #: the operation failed (clear message printed)
EXIT_USAGE = 2  #: bad arguments / nothing configured
EXIT_DATABASE = 3  #: database unreachable, table missing, locked
EXIT_CONFLICT = 4  #: a concurrent change was detected; nothing was written

_KIND_EXIT = {
    ErrorKind.CONFIG: EXIT_USAGE,
    ErrorKind.DRIVER: EXIT_DATABASE,
    ErrorKind.CONNECT: EXIT_DATABASE,
    ErrorKind.TABLE: EXIT_DATABASE,
    ErrorKind.CORRUPT: EXIT_DATABASE,
    ErrorKind.LOCKED: EXIT_DATABASE,
    ErrorKind.PERMISSION: EXIT_FAILURE,
    ErrorKind.IO: EXIT_FAILURE,
    ErrorKind.CONFLICT: EXIT_CONFLICT,
    ErrorKind.STATE: EXIT_FAILURE,
    ErrorKind.UNSUPPORTED: EXIT_DATABASE,
    ErrorKind.INTERNAL: EXIT_FAILURE,
}

UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url",
        "-u",
        metavar="URL",
        help="SQLAlchemy URL of the job store (else $SCHEDTUI_URL, else $DATABASE_URL).",
        show_default=False,
    ),
]
TableOpt = Annotated[
    str | None,
    typer.Option(
        "--table",
        metavar="TABLE",
        help="Jobs table (else $SCHEDTUI_TABLE, default apscheduler_jobs).",
        show_default=False,
    ),
]
SchemaOpt = Annotated[
    str | None,
    typer.Option("--schema", metavar="SCHEMA", help="Schema of the table (else $SCHEDTUI_SCHEMA).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

#: ``core.decode.DEFAULT_BUDGET`` (not imported here: ``--version`` and ``--help`` stay quick;
#: tests/test_cli_help.py checks they agree).
DECODE_BUDGET_DEFAULT = 20.0
DECODE_BUDGET_ENV = "SCHEDTUI_DECODE_BUDGET"


def _decode_budget(value: float | None) -> float | None:
    """``--decode-budget``: checked, then in force for this process and the processes it
    starts (``serve``'s consoles) through ``SCHEDTUI_DECODE_BUDGET``, which every read of the
    store takes its budget from."""
    if value is None:
        return None
    if not (value > 0 and math.isfinite(value)):
        raise typer.BadParameter(f"{value:g} is not a positive number of seconds")
    os.environ[DECODE_BUDGET_ENV] = repr(float(value))
    return value


DecodeBudgetOpt = Annotated[
    float | None,
    typer.Option(
        "--decode-budget",
        metavar="SECONDS",
        callback=_decode_budget,
        help=f"Seconds all decoding of one read may take; rows not decoded by then are reported as such "
        f"(else ${DECODE_BUDGET_ENV}, default {DECODE_BUDGET_DEFAULT:g}).",
        show_default=False,
    ),
]


@contextmanager
def one_shot() -> Iterator[None]:
    """For commands that read the whole store once: the cyclic GC paused meanwhile.

    Decoding a large store creates about ten objects per job that all live until the
    command ends; the collector would walk them again and again (a fifth of ``check``'s
    time on 100,000 jobs) to find no garbage. Afterwards what is left is frozen
    (``gc.freeze``): the command is about to end, and the interpreter's last collection
    at exit would otherwise walk all of it once more (~25 ms after a repeated ``check``
    of 100,000 jobs). The collector still runs for whatever is made after the block.
    """
    import gc

    from schedtui.core.gcpause import paused

    with paused():
        try:
            yield
        finally:
            gc.freeze()


def target_from(url: str | None, table: str | None, schema: str | None) -> Target:
    """The target of ``--url/--table/--schema``; without a table (option or
    ``SCHEDTUI_TABLE``) the database is searched for its job store (``core.store.discover``):
    the only one is opened, several are a TABLE error listing them (exit 3)."""
    target = resolve_target(url, table, schema)
    if table is None and not os.environ.get("SCHEDTUI_TABLE"):
        from schedtui.core.store.discover import discover_target

        target = discover_target(target)
    return target


def error_line(message: str, *urls: str) -> None:
    """Print ``schedtui: message`` on stderr, one sanitized line, with every credential masked
    (those of ``urls`` and of the URLs in the environment, which is where ``--url`` falls back to)."""
    env_urls = [os.environ.get(name, "") for name in ("SCHEDTUI_URL", "DATABASE_URL")]
    typer.echo(f"schedtui: {safe_text(mask_text(message, *urls, *env_urls))}", err=True)


def echo(text: object, *, err: bool = False) -> None:
    """One line of text output, sanitized (``safe_text``): what came from the store can
    neither add a line nor reach the terminal as a control sequence."""
    typer.echo(safe_text(text), err=err)


def fail(error: SchedtuiError, *urls: str) -> NoReturn:
    error_line(error.message, *urls)
    raise typer.Exit(_KIND_EXIT.get(error.kind, EXIT_FAILURE))


@contextmanager
def handled(*urls: str) -> Iterator[None]:
    """Turn expected errors into one clear line and an exit code."""
    try:
        yield
    except SchedtuiError as exc:
        fail(exc, *urls)
    except KeyboardInterrupt:
        error_line("interrupted")
        raise typer.Exit(130) from None


def json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.name if not isinstance(value, str) else value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def print_json(obj: Any) -> None:
    """JSON, UTF-8; DEL, C1 and bidi/format characters escaped as well (``json_safe``)."""
    sys.stdout.write(json_safe(json.dumps(obj, default=json_default, indent=2, ensure_ascii=False)) + "\n")


#: ``print_json_stream`` writes in chunks of about this many characters.
STREAM_CHUNK = 1 << 16


def print_json_stream(head: dict[str, Any], key: str, items: Iterable[Any]) -> None:
    """``head`` plus ``key: [items...]`` as one JSON object, written in chunks of about
    ``STREAM_CHUNK`` characters so a 100,000-job listing never exists as one string in
    memory (and is not 200,000 separate writes: unbuffered, into a pipe, those cost more
    than encoding)."""
    out = sys.stdout
    # One encoder for every item: ``json.dumps`` with options builds a new one per call.
    encode = json.JSONEncoder(default=json_default, ensure_ascii=False).encode

    def dump(value: Any) -> str:
        return json_safe(encode(value))

    body = json_safe(json.dumps(head, default=json_default, ensure_ascii=False, indent=2))
    out.write(body[:-2] if head else "{")
    out.write(",\n" if head else "\n")
    out.write(f"  {dump(key)}: [")
    first = True
    chunk: list[str] = []
    size = 0
    for item in items:
        text = dump(item)
        chunk.append("\n    " if first else ",\n    ")
        chunk.append(text)
        first = False
        size += len(text)
        if size >= STREAM_CHUNK:
            out.write("".join(chunk))
            chunk.clear()
            size = 0
    out.write("".join(chunk))
    out.write("\n  ]\n}\n" if not first else "]\n}\n")


class ClosedPipeGuard:
    """``sys.stdout`` (or its ``buffer``) when it is a pipe whose reader may leave early
    (``schedtui check --json | head -1``): a write or flush that finds the pipe closed sends
    the rest to /dev/null, so the command still ends with its own exit code (Click's EPIPE
    handling exits 1, WARNING for ``check``) and prints no traceback."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, data: Any) -> int:
        try:
            return int(self._stream.write(data))
        except BrokenPipeError:
            self._discard()
            return len(data)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._discard()

    @property
    def buffer(self) -> ClosedPipeGuard:
        return ClosedPipeGuard(self._stream.buffer)

    def _discard(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def guard_closed_pipe() -> None:
    """Put ``ClosedPipeGuard`` around ``sys.stdout`` when it is not a terminal."""
    out = sys.stdout
    if out is None or isinstance(out, ClosedPipeGuard):
        return
    try:
        if out.isatty():
            return
        out.fileno()
    except (OSError, ValueError, AttributeError):
        return  # not a real file (captured by a test, closed): nothing to guard
    sys.stdout = ClosedPipeGuard(out)


def use_color() -> bool:
    """Colour only on a terminal, and never with NO_COLOR set."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def use_unicode() -> bool:
    """False when the terminal declared no UTF-8 locale (``core.vocab.terminal_unicode``)
    or stdout cannot encode the tree characters (ASCII fallback)."""
    from schedtui.core.vocab import terminal_unicode

    if not terminal_unicode():
        return False
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "✓└─├→…".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


Command = Callable[..., Any]
