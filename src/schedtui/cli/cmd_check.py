"""``schedtui check`` (the health probe) and ``schedtui jobs`` (the job list)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

import typer

from schedtui.cli.common import (
    DecodeBudgetOpt,
    JsonOpt,
    SchemaOpt,
    UrlOpt,
    error_line,
    handled,
    one_shot,
    print_json,
    print_json_stream,
    target_from,
    use_color,
    use_unicode,
)
from schedtui.core.clock import Clock, system_clock
from schedtui.core.errors import SchedtuiError
from schedtui.core.health import CheckOptions, Status
from schedtui.core.listing import JobRow, job_row
from schedtui.core.model import JobInfo
from schedtui.core.text import safe_text
from schedtui.core.urls import mask_text

#: Tests pass a FixedClock here; everything else uses the system clock.
CLOCK: Clock = system_clock

TablesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--table",
        metavar="TABLE",
        help="Jobs table (else $SCHEDTUI_TABLE, else the only job store found); repeat it for several "
        "stores in one database, shown together.",
        show_default=False,
    ),
]


def job_json(job: JobInfo, now: datetime, options: CheckOptions) -> dict[str, Any]:
    """The JSON object of one job (from the typed ``JobRow``)."""
    return job_row(job, now, options).as_json()


def check(
    url: UrlOpt = None,
    tables: TablesOpt = None,
    schema: SchemaOpt = None,
    decode_budget: DecodeBudgetOpt = None,
    detailed: Annotated[bool, typer.Option("--detailed", "-d", help="Print the health tree.")] = False,
    as_json: JsonOpt = False,
    upcoming: Annotated[
        int, typer.Option("--upcoming", metavar="N", min=0, help="How many upcoming jobs to list.")
    ] = 3,
    grace_floor: Annotated[
        float,
        typer.Option(
            "--grace-floor", metavar="SECONDS", min=0, help="Minimum grace in seconds before a late job is overdue."
        ),
    ] = 60.0,
    critical_only: Annotated[
        bool, typer.Option("--critical-only", help="Exit 0 unless CRITICAL or UNKNOWN (for Kubernetes probes).")
    ] = False,
    perfdata: Annotated[bool, typer.Option("--perfdata", help="Append Nagios perfdata to the status line.")] = False,
    heartbeat_max_age: Annotated[
        float | None,
        typer.Option("--heartbeat-max-age", metavar="SECONDS", min=1, help="Seconds before a heartbeat is stale."),
    ] = None,
    backup_dir: Annotated[
        str | None,
        typer.Option("--backup-dir", metavar="DIR", help="Backup folder to judge (default: next to the database)."),
    ] = None,
    backup_max_age: Annotated[
        float, typer.Option("--backup-max-age", metavar="HOURS", min=1, help="Hours before the last backup is too old.")
    ] = 26.0,
) -> None:
    """Judge the scheduler's health. Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""
    options = CheckOptions(
        grace_floor=grace_floor,
        upcoming=upcoming,
        heartbeat_max_age=heartbeat_max_age,
        backup_max_age=backup_max_age * 3600.0,
        backup_dir=backup_dir,
    )
    with one_shot():
        if tables and len(tables) > 1:
            code = _check_many(url, tables, schema, options, detailed=detailed, as_json=as_json, perfdata=perfdata)
        else:
            table = tables[0] if tables else None
            code = _check(url, table, schema, options, detailed=detailed, as_json=as_json, perfdata=perfdata)
    if critical_only and code == int(Status.WARNING):
        code = 0
    raise typer.Exit(code)


def _check(
    url: str | None,
    table: str | None,
    schema: str | None,
    options: CheckOptions,
    *,
    detailed: bool,
    as_json: bool,
    perfdata: bool,
) -> int:
    """Print the report; the exit code of its status."""
    from schedtui.cli.render import render_report, report_json, status_line
    from schedtui.core.checker import run_check

    try:
        target = target_from(url, table, schema)
        report = run_check(target, clock=CLOCK, options=options, reprs=as_json)
        if table is None and not os.environ.get("SCHEDTUI_TABLE"):
            report = _mark_found(report)
    except SchedtuiError as exc:
        error_line(exc.message, url or "")
        if as_json:
            print_json({"schema": "schedtui.check/1", "status": "UNKNOWN", "exit_code": 3, "summary": exc.message})
        else:
            print(f"SCHEDTUI UNKNOWN - {safe_text(mask_text(exc.message, url or ''))}")
        return int(Status.UNKNOWN)

    if as_json:
        head = report_json(report)
        head.pop("jobs")
        jobs = report.snapshot.jobs if report.snapshot is not None else ()
        print_json_stream(head, "jobs", (job_json(j, report.checked_at, options) for j in jobs))
    elif detailed:
        print(render_report(report, detailed=True, unicode=use_unicode(), color=use_color()))
        if perfdata:
            print(status_line(report, perfdata=True))
    else:
        print(status_line(report, perfdata=perfdata))
    return int(report.status)


def _check_many(
    url: str | None,
    tables: list[str],
    schema: str | None,
    options: CheckOptions,
    *,
    detailed: bool,
    as_json: bool,
    perfdata: bool,
) -> int:
    """Several job stores of one database judged together: one report each, the worst
    status is the exit code."""
    from schedtui.cli.render import render_report, report_json
    from schedtui.core.checker import run_check
    from schedtui.core.health import worst

    try:
        targets = [target_from(url, t, schema) for t in dict.fromkeys(tables)]
        reports = [run_check(t, clock=CLOCK, options=options, reprs=as_json) for t in targets]
    except SchedtuiError as exc:
        error_line(exc.message, url or "")
        if as_json:
            print_json({"schema": "schedtui.check/1", "status": "UNKNOWN", "exit_code": 3, "summary": exc.message})
        else:
            print(f"SCHEDTUI UNKNOWN - {safe_text(mask_text(exc.message, url or ''))}")
        return int(Status.UNKNOWN)
    status = worst([r.status for r in reports])
    summary = "; ".join(f"[{r.target.table_label}] {r.summary}" for r in reports)
    if as_json:
        stores = []
        for r in reports:
            body = report_json(r)
            name = r.target.table_label
            jobs = r.snapshot.jobs if r.snapshot is not None else ()
            body["jobs"] = [{**job_json(j, r.checked_at, options), "store": name} for j in jobs]
            body["store"] = name
            stores.append(body)
        print_json(
            {
                "schema": "schedtui.check/1",
                "status": status.name,
                "exit_code": int(status),
                "summary": summary,
                "stores": stores,
            }
        )
        return int(status)
    line = f"SCHEDTUI {status.name} - {safe_text(summary)}"  # always one line
    if perfdata:
        perf = " ".join(
            safe_text(replace_label(p, r.target.table_label)) for r in reports for c in r.components for p in c.perfdata
        )
        if perf:
            line += f" | {perf}"
    if detailed:
        for r in reports:
            print(f"[{safe_text(r.target.table_label)}] {r.status.name}")
            print(render_report(r, detailed=True, unicode=use_unicode(), color=use_color()))
    print(line)
    return int(status)


def replace_label(perf: Any, store: str) -> str:
    from dataclasses import replace

    return str(replace(perf, label=f"{store}:{perf.label}").render())


def _mark_found(report: Any) -> Any:
    """Say on the database component that the table was found (no ``--table`` given)."""
    from dataclasses import replace

    from schedtui.core.health import Line

    def mark(line: Line) -> Line:
        if line.text.startswith("Table: "):
            return replace(line, text=f"{line.text} (found in the database: no --table given)")
        return line

    comps = tuple(
        replace(c, lines=tuple(mark(x) for x in c.lines), data={**c.data, "table_found": True})
        if c.name == "database"
        else c
        for c in report.components
    )
    return replace(report, components=comps)


def jobs(
    url: UrlOpt = None,
    tables: TablesOpt = None,
    schema: SchemaOpt = None,
    decode_budget: DecodeBudgetOpt = None,
    as_json: JsonOpt = False,
    grace_floor: Annotated[float, typer.Option("--grace-floor", metavar="SECONDS", min=0, help="See `check`.")] = 60.0,
) -> None:
    """List every job: id, name, trigger, next run, countdown, state (and its store, with
    several ``--table``)."""
    from schedtui.core.store.reader import read_jobs

    options = CheckOptions(grace_floor=grace_floor)
    many = bool(tables) and len(set(tables or ())) > 1
    with one_shot():
        with handled(url or ""):
            names = list(dict.fromkeys(tables)) if tables else [None]
            snapshots = [read_jobs(target_from(url, t, schema), clock=CLOCK, reprs=as_json) for t in names]
        now = CLOCK()

        def pairs() -> Iterator[tuple[str, JobRow]]:
            for snap in snapshots:
                store = snap.target.table if not snap.target.schema else f"{snap.target.schema}.{snap.target.table}"
                for j in snap.jobs:
                    yield store, job_row(j, now, options)

        if as_json:
            head = {"schema": "schedtui.jobs/1", "read_at": snapshots[0].read_at.isoformat()}
            rows = ({**row.as_json(), "store": store} if many else row.as_json() for store, row in pairs())
            print_json_stream(head, "jobs", rows)
        else:
            _print_table(list(pairs()), use_unicode(), with_store=many)
        # Freed by reference counting while the collector is still paused: the first pass
        # after it resumes is a full one, which would walk every decoded object to find no
        # garbage (about 1 s on 100,000 jobs).
        snapshots.clear()


_HEADERS = ("ID", "NAME", "TRIGGER", "NEXT RUN (UTC)", "IN", "STATE")
_LIMITS = (40, 30, 48, 19, 22, 11)


def _cells(row: JobRow) -> tuple[str, ...]:
    """The table cells of one row, each one sanitized line."""
    nrt = row.next_run_time.isoformat()[:19].replace("T", " ") if row.next_run_time else ""
    return tuple(
        safe_text(text)
        for text in (row.id, row.name or "", row.trigger_text, nrt, row.countdown, row.state.replace("_", " "))
    )


def _print_table(rows: list[tuple[str, JobRow]], unicode: bool, with_store: bool = False) -> None:
    """The job table; ``rows`` are (store, row) pairs, the store a first column when ``with_store``."""
    headers: tuple[str, ...] = _HEADERS
    limits: tuple[int, ...] = _LIMITS
    table = [_cells(r) for _, r in rows]
    if with_store:
        headers, limits = ("STORE", *headers), (40, *limits)
        table = [(safe_text(store), *cells) for (store, _), cells in zip(rows, table, strict=True)]
    widths = [min(limits[i], max([len(headers[i])] + [len(row[i]) for row in table])) for i in range(len(headers))]
    ell = "…" if unicode else "~"

    def cell(text: str, width: int) -> str:
        text = text if unicode else text.encode("ascii", "replace").decode("ascii")
        return (text[: width - 1] + ell if len(text) > width else text).ljust(width)

    out = sys.stdout
    out.write("  ".join(cell(h, w) for h, w in zip(headers, widths, strict=True)).rstrip() + "\n")
    for cells in table:
        out.write("  ".join(cell(c, w) for c, w in zip(cells, widths, strict=True)).rstrip() + "\n")
    if not rows:
        out.write("(no jobs)\n")


def register(app: typer.Typer) -> None:
    """Add ``check`` and ``jobs`` to ``app``."""
    app.command("check")(check)
    app.command("jobs")(jobs)
