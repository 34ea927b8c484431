"""``schedtui check`` (the health probe) and ``schedtui jobs`` (the job list)."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any

import typer

from schedtui.cli.common import (
    JsonOpt,
    SchemaOpt,
    TableOpt,
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
from schedtui.core.listing import JobRow, job_row, job_state  # job_state: re-exported (moved to the core)
from schedtui.core.model import JobInfo
from schedtui.core.text import safe_text
from schedtui.core.urls import mask_text

__all__ = ["CLOCK", "check", "job_json", "job_state", "jobs", "register"]

#: Tests pass a FixedClock here; everything else uses the system clock.
CLOCK: Clock = system_clock


def job_json(job: JobInfo, now: datetime, options: CheckOptions) -> dict[str, Any]:
    """The JSON object of one job (from the typed ``JobRow``)."""
    return job_row(job, now, options).as_json()


def check(
    url: UrlOpt = None,
    table: TableOpt = None,
    schema: SchemaOpt = None,
    detailed: Annotated[bool, typer.Option("--detailed", "-d", help="Print the health tree.")] = False,
    as_json: JsonOpt = False,
    upcoming: Annotated[int, typer.Option("--upcoming", min=0, help="How many upcoming jobs to list.")] = 3,
    grace_floor: Annotated[
        float, typer.Option("--grace-floor", min=0, help="Minimum grace in seconds before a late job is overdue.")
    ] = 60.0,
    critical_only: Annotated[
        bool, typer.Option("--critical-only", help="Exit 0 unless CRITICAL or UNKNOWN (for Kubernetes probes).")
    ] = False,
    perfdata: Annotated[bool, typer.Option("--perfdata", help="Append Nagios perfdata to the status line.")] = False,
    heartbeat_max_age: Annotated[
        float | None, typer.Option("--heartbeat-max-age", min=1, help="Seconds before a heartbeat is stale.")
    ] = None,
    backup_dir: Annotated[
        str | None, typer.Option("--backup-dir", help="Backup folder to judge (default: next to the database).")
    ] = None,
    backup_max_age: Annotated[
        float, typer.Option("--backup-max-age", min=1, help="Hours before the last backup is too old.")
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
        report = run_check(target, clock=CLOCK, options=options)
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


def jobs(
    url: UrlOpt = None,
    table: TableOpt = None,
    schema: SchemaOpt = None,
    as_json: JsonOpt = False,
    grace_floor: Annotated[float, typer.Option("--grace-floor", min=0, help="See `check`.")] = 60.0,
) -> None:
    """List every job: id, name, trigger, next run, countdown, state."""
    from schedtui.core.store import read_jobs

    options = CheckOptions(grace_floor=grace_floor)
    with one_shot():
        with handled(url or ""):
            target = target_from(url, table, schema)
            snapshot = read_jobs(target, clock=CLOCK)
        now = CLOCK()
        if as_json:
            rows = (job_row(j, now, options).as_json() for j in snapshot.jobs)
            print_json_stream({"schema": "schedtui.jobs/1", "read_at": snapshot.read_at.isoformat()}, "jobs", rows)
            return
        _print_table([job_row(j, now, options) for j in snapshot.jobs], use_unicode())


_HEADERS = ("ID", "NAME", "TRIGGER", "NEXT RUN (UTC)", "IN", "STATE")
_LIMITS = (40, 30, 48, 19, 22, 11)


def _cells(row: JobRow) -> tuple[str, ...]:
    """The table cells of one row, each one sanitized line."""
    nrt = row.next_run_time.isoformat()[:19].replace("T", " ") if row.next_run_time else ""
    return tuple(
        safe_text(text)
        for text in (row.id, row.name or "", row.trigger_text, nrt, row.countdown, row.state.replace("_", " "))
    )


def _print_table(rows: list[JobRow], unicode: bool) -> None:
    table = [_cells(r) for r in rows]
    widths = [min(_LIMITS[i], max([len(_HEADERS[i])] + [len(row[i]) for row in table])) for i in range(len(_HEADERS))]
    ell = "…" if unicode else "~"

    def cell(text: str, width: int) -> str:
        text = text if unicode else text.encode("ascii", "replace").decode("ascii")
        return (text[: width - 1] + ell if len(text) > width else text).ljust(width)

    out = sys.stdout
    out.write("  ".join(cell(h, w) for h, w in zip(_HEADERS, widths, strict=True)).rstrip() + "\n")
    for cells in table:
        out.write("  ".join(cell(c, w) for c, w in zip(cells, widths, strict=True)).rstrip() + "\n")
    if not rows:
        out.write("(no jobs)\n")


def register(app: typer.Typer) -> None:
    """Add ``check`` and ``jobs`` to ``app``."""
    app.command("check")(check)
    app.command("jobs")(jobs)
