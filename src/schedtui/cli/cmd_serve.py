"""``schedtui serve``: the console in a browser tab (textual-serve), read-only by default.

Loopback needs no token. Any other ``--host`` is refused unless an access token is
configured (``--token-file`` or ``$SCHEDTUI_SERVE_TOKEN``; never an option value, which
``ps`` would show); the page then requires it. The work is in ``schedtui.web``.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from schedtui.cli.common import DecodeBudgetOpt, SchemaOpt, TableOpt, UrlOpt, handled, target_from
from schedtui.core.errors import ErrorKind, SchedtuiError


def serve(
    url: UrlOpt = None,
    table: TableOpt = None,
    schema: SchemaOpt = None,
    decode_budget: DecodeBudgetOpt = None,
    host: Annotated[
        str,
        typer.Option(
            "--host", metavar="HOST", help="Address to listen on; other than loopback only with an access token."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", metavar="PORT", min=0, max=65535, help="Port to listen on (0: any free one).")
    ] = 8000,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            metavar="FILE",
            help="File whose first line is the access token the page then requires (else $SCHEDTUI_SERVE_TOKEN).",
            show_default=False,
        ),
    ] = None,
    allow_writes: Annotated[
        bool,
        typer.Option("--allow-writes", help="Let browser sessions pause, resume, run and remove (default: read-only)."),
    ] = False,
    refresh: Annotated[
        float, typer.Option("--refresh", metavar="SECONDS", min=0.5, help="Seconds between the consoles' refreshes.")
    ] = 2.0,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            metavar="URL",
            help="The address browsers use when a proxy sits in front (e.g. https://ops.example.com/).",
            show_default=False,
        ),
    ] = None,
    max_sessions: Annotated[
        int, typer.Option("--max-sessions", metavar="N", min=1, help="Browser sessions (console processes) at most.")
    ] = 8,
) -> None:
    """Serve the console in a browser (one console per tab), read-only unless --allow-writes."""
    from schedtui.web.access import TOKEN_ENV, is_loopback, load_token

    with handled(url or ""):
        target = target_from(url, table, schema)
        token = load_token(token_file)
        if token is None and not is_loopback(host):
            raise SchedtuiError(
                f"refusing to serve on {host}, which is not loopback, without an access token: "
                f"put one in a file for --token-file (or in ${TOKEN_ENV}), e.g. openssl rand -hex 32",
                ErrorKind.CONFIG,
            )
        if public_url is not None and not public_url.startswith(("http://", "https://")):
            raise SchedtuiError(f"--public-url must start with http:// or https://: {public_url!r}", ErrorKind.CONFIG)
        from schedtui.web.server import ConsoleServer, ServeOptions

        options = ServeOptions(
            target=target,
            host=host,
            port=port,
            token=token,
            allow_writes=allow_writes,
            refresh=refresh,
            public_url=public_url,
            max_sessions=max_sessions,
        )
        logging.basicConfig(level=logging.INFO, format="schedtui serve: %(message)s", stream=sys.stderr)
        server = ConsoleServer(options, os.environ, echo=lambda line: print(line, flush=True))
        try:
            code = server.run()
        except OSError as exc:
            raise SchedtuiError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", ErrorKind.IO) from None
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""
    app.command("serve")(serve)
