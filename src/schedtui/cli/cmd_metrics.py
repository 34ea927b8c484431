"""``schedtui metrics``: the check's judgements as Prometheus metrics.

Once (stdout, or ``--textfile`` for node_exporter, exit codes as for ``check``) or as a
long-running exporter (``--listen``). The work is in ``schedtui.core.metrics``.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from schedtui.cli.common import DecodeBudgetOpt, SchemaOpt, TableOpt, error_line, one_shot, target_from
from schedtui.core.clock import Clock, system_clock
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.health import CheckOptions, Status, worst
from schedtui.core.metrics.records import Format, MetricsOptions, PerJob, StoreMetrics

if TYPE_CHECKING:
    from schedtui.core.metrics.collect import StoreCollector

#: Tests pass a FixedClock here; everything else uses the system clock.
CLOCK: Clock = system_clock

UrlsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--url",
        "-u",
        metavar="URL",
        help="SQLAlchemy URL of a job store; repeat for several stores (else $SCHEDTUI_URL, else $DATABASE_URL).",
        show_default=False,
    ),
]
NamesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--name",
        metavar="NAME",
        help="The `store` label of the matching --url (in order; default: the URL, password masked).",
        show_default=False,
    ),
]


def metrics(
    url: UrlsOpt = None,
    name: NamesOpt = None,
    table: TableOpt = None,
    schema: SchemaOpt = None,
    decode_budget: DecodeBudgetOpt = None,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            metavar="[HOST:]PORT",
            help="Serve /metrics and /healthz on [HOST:]PORT (host default 127.0.0.1).",
            show_default=False,
        ),
    ] = None,
    textfile: Annotated[
        str | None,
        typer.Option(
            "--textfile",
            metavar="FILE",
            help="Write the metrics atomically to this file (node_exporter textfile collector).",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format",
            help="openmetrics or text (Prometheus 0.0.4). Default: openmetrics on stdout, text for --textfile.",
            show_default=False,
        ),
    ] = None,
    per_job: Annotated[
        PerJob,
        typer.Option(
            "--per-job", help="Per-job series: all, problem (late/overdue/undecodable/failing + upcoming) or none."
        ),
    ] = PerJob.PROBLEM,
    upcoming: Annotated[
        int, typer.Option("--upcoming", metavar="N", min=0, help="--per-job problem: also the next N upcoming jobs.")
    ] = 5,
    max_jobs: Annotated[
        int,
        typer.Option("--max-jobs", metavar="N", min=0, help="At most this many jobs with per-job series per store."),
    ] = 1_000,
    history_jobs: Annotated[
        int,
        typer.Option(
            "--history-jobs", metavar="N", min=0, help="At most this many jobs with run-history series per store."
        ),
    ] = 100,
    refresh: Annotated[
        float, typer.Option("--refresh", metavar="SECONDS", min=0.1, help="--listen: seconds between refreshes.")
    ] = 5.0,
    grace_floor: Annotated[float, typer.Option("--grace-floor", metavar="SECONDS", min=0, help="See `check`.")] = 60.0,
    heartbeat_max_age: Annotated[
        float | None, typer.Option("--heartbeat-max-age", metavar="SECONDS", min=1, help="See `check`.")
    ] = None,
    backup_dir: Annotated[str | None, typer.Option("--backup-dir", metavar="DIR", help="See `check`.")] = None,
    backup_max_age: Annotated[
        float, typer.Option("--backup-max-age", metavar="HOURS", min=1, help="See `check` (hours).")
    ] = 26.0,
) -> None:
    """Export the check's judgements as Prometheus metrics (exit codes as for `check`)."""
    check_options = CheckOptions(
        grace_floor=grace_floor,
        heartbeat_max_age=heartbeat_max_age,
        backup_max_age=backup_max_age * 3600.0,
        backup_dir=backup_dir,
    )
    options = MetricsOptions(per_job=per_job, upcoming=upcoming, max_jobs=max_jobs, history_jobs=history_jobs)
    urls = list(url or [])
    try:
        collectors = _collectors(
            urls, list(name or []), table, schema, check_options, options, incremental=listen is not None
        )
        if listen is not None:
            if textfile is not None:
                raise SchedtuiError("--listen and --textfile cannot be combined", ErrorKind.CONFIG)
            code = _serve(collectors, listen, refresh)
        else:
            code = _once(collectors, textfile, fmt or (Format.TEXT if textfile else Format.OPENMETRICS))
    except SchedtuiError as exc:
        error_line(exc.message, *urls)
        code = int(Status.UNKNOWN)
    raise typer.Exit(code)


def _collectors(
    urls: Sequence[str],
    names: Sequence[str],
    table: str | None,
    schema: str | None,
    check_options: CheckOptions,
    options: MetricsOptions,
    *,
    incremental: bool,
) -> list[StoreCollector]:
    from schedtui.core.metrics.collect import StoreCollector

    if len(names) > max(len(urls), 1):
        raise SchedtuiError("more --name than --url options", ErrorKind.CONFIG)
    out: list[StoreCollector] = []
    for i, url in enumerate(urls or [None]):
        target = target_from(url, table, schema)
        out.append(
            StoreCollector(
                target,
                name=names[i] if i < len(names) else None,
                clock=CLOCK,
                check_options=check_options,
                options=options,
                incremental=incremental,
            )
        )
    labels = [c.label for c in out]
    dup = next((label for label in labels if labels.count(label) > 1), None)
    if dup is not None:
        for c in out:
            c.close()
        raise SchedtuiError(f"two stores have the same store label {dup!r}: give each a --name", ErrorKind.CONFIG)
    return out


def _status(stores: Sequence[StoreMetrics]) -> int:
    return int(worst([Status(s.status) for s in stores]))


def _once(collectors: Sequence[StoreCollector], textfile: str | None, fmt: Format) -> int:
    from schedtui.core.metrics.exposition import render
    from schedtui.core.metrics.textfile import write_atomic

    try:
        with one_shot():
            stores = [c.collect() for c in collectors]
    finally:
        for c in collectors:
            c.close()
    for s in stores:
        if s.error:
            error_line(f"{s.store}: {s.error}")
    body = render(stores, fmt)
    if textfile is not None:
        write_atomic(textfile, body)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
    return _status(stores)


def _serve(collectors: Sequence[StoreCollector], listen: str, refresh: float) -> int:
    from schedtui.core.metrics.exporter import Exporter
    from schedtui.core.metrics.server import make_server, parse_listen

    host, port = parse_listen(listen)
    exporter = Exporter(collectors, refresh)
    server = None
    try:
        server = make_server(exporter, host, port)
        exporter.start()
        real_host, real_port = server.server_address[:2]
        host_text = real_host.decode() if isinstance(real_host, bytes) else str(real_host)
        shown = f"[{host_text}]" if ":" in host_text else host_text
        print(
            f"schedtui metrics: serving {len(collectors)} store(s) on http://{shown}:{real_port}/metrics "
            f"(refresh every {refresh:g} s; Ctrl-C stops)",
            flush=True,
        )

        def stop(signum: int, frame: FrameType | None) -> None:
            threading.Thread(target=server.shutdown, daemon=True).start()

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            server.serve_forever(poll_interval=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        if server is not None:
            server.server_close()
        exporter.stop()
    return 0


def register(app: typer.Typer) -> None:
    """Add ``metrics`` to ``app``."""
    app.command("metrics")(metrics)
