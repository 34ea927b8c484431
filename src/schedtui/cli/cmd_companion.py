"""``schedtui history`` (the run history: the companion's, Aegis's or django-apscheduler's) and ``schedtui demo``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from schedtui.cli.common import (
    EXIT_OK,
    JsonOpt,
    SchemaOpt,
    TableOpt,
    UrlOpt,
    echo,
    handled,
    print_json,
    target_from,
)
from schedtui.core.text import safe_text

if TYPE_CHECKING:
    from schedtui.core.history import JobStats

HOW_TO_ADD = (
    "No run history here: the schedtui companion is not attached to this scheduler.\n"
    "Add two lines where the scheduler is created (it then records every run and a heartbeat):\n"
    "\n"
    "    from schedtui.companion import attach\n"
    "    attach(scheduler)   # after creating the scheduler, before or after start()\n"
    "\n"
    "Or try it now with a live sample scheduler: schedtui demo"
)


def _when(dt: Any) -> str:
    from schedtui.core.describe import format_when

    return format_when(dt)


def _dur(seconds: float | None) -> str:
    from schedtui.core.describe import format_duration

    return format_duration(seconds)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _history(
    url: str | None,
    table: str | None,
    schema: str | None,
    job_id: str | None,
    limit: int,
    failed: bool,
    as_json: bool,
) -> int:
    import sqlalchemy as sa

    from schedtui.core.history import detect_history
    from schedtui.core.store.db import probe_jobs_table, read_engine, translate_error

    target = target_from(url, table, schema)
    engine = read_engine(target)
    try:
        try:
            source = detect_history(engine, target)
            if source is None:
                # no run history: is this the scheduler's database at all? (the same error as every command)
                probe_jobs_table(engine, target)
                if as_json:
                    print_json({"installed": False, "hint": HOW_TO_ADD})
                else:
                    typer.echo(HOW_TO_ADD)
                return EXIT_OK
            runs = source.recent_runs(engine, job_id, limit, failed)
            job_ids = [job_id] if job_id else list(dict.fromkeys(r.job_id for r in runs))
            stats = {j: source.job_stats(engine, j) for j in job_ids}
        except sa.exc.DBAPIError as exc:
            raise translate_error(exc, target) from exc
    finally:
        engine.dispose()
    if as_json:
        print_json(
            {
                "installed": True,
                "source": {"kind": source.kind, "label": source.label},
                "job_id": job_id,
                "failed_only": failed,
                "runs": [r.as_dict(with_traceback=bool(job_id)) for r in runs],
                "stats": {j: s.as_dict() for j, s in stats.items() if s is not None},
            }
        )
        return EXIT_OK
    if source.kind != "companion":
        echo(f"history: {source.label}")
    _print_runs(runs, job_id, failed)
    _print_stats(stats)
    return EXIT_OK


def _print_runs(runs: Any, job_id: str | None, failed: bool) -> None:
    what = "failed runs" if failed else "runs"
    head = f"Recent {what} of {safe_text(job_id)}" if job_id else f"Recent {what}"
    if not runs:
        echo(f"{head}: none recorded.")
        return
    echo(f"{head} (newest first):")
    width = max(len(safe_text(r.job_id)) for r in runs) if not job_id else 0
    for r in runs:
        when = _when(r.scheduled_at or r.started_at)
        name = f"  {safe_text(r.job_id):<{width}}" if not job_id else ""
        error = ""
        if r.error_type or r.error_message:
            text = f"{r.error_type or ''}: {r.error_message or ''}".strip(": ").splitlines()
            error = "  " + (safe_text(text[0], 120) if text else "")
        echo(f"  {when}  {safe_text(r.outcome):<13} {_dur(r.duration_s):>9}{name}{error}".rstrip())


def _print_stats(stats: dict[str, JobStats | None]) -> None:
    shown = {safe_text(j): s for j, s in stats.items() if s is not None}
    if not shown:
        return
    echo("")
    echo("Per-job statistics (durations of successful runs, last 1000 runs):")
    width = max(len(j) for j in shown)
    echo(f"  {'job':<{width}}  {'runs':>6}  {'ok':>5}  {'p50':>9}  {'p95':>9}  {'max':>9}  last success / last failure")
    for j, s in shown.items():
        last_fail = "-"
        if s.last_failure is not None:
            last_fail = _when(s.last_failure.finished_at or s.last_failure.scheduled_at)
        echo(
            f"  {j:<{width}}  {s.runs:>6}  {_rate(s.success_rate):>5}  {_dur(s.p50_s):>9}  {_dur(s.p95_s):>9}  "
            f"{_dur(s.max_s):>9}  {_when(s.last_success)} / {last_fail}"
        )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""

    @app.command("history")
    def history(
        job_id: Annotated[
            str | None,
            typer.Argument(metavar="JOB_ID", help="Only this job's runs (and its statistics).", show_default=False),
        ] = None,
        url: UrlOpt = None,
        table: TableOpt = None,
        schema: SchemaOpt = None,
        limit: Annotated[
            int, typer.Option("--limit", "-n", metavar="N", min=1, max=100_000, help="How many runs.")
        ] = 20,
        failed: Annotated[bool, typer.Option("--failed", help="Only failed runs (error, unfinished).")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Recent runs (recorded by the companion, an Aegis app or django-apscheduler), with per-job statistics."""
        with handled(url or ""):
            code = _history(url, table, schema, job_id, limit, failed, as_json)
        raise typer.Exit(code)

    @app.command("demo")
    def demo(
        folder: Annotated[
            Path, typer.Option("--dir", metavar="DIR", help="Folder for the demo database (created).")
        ] = Path(".schedtui-demo"),
        headless: Annotated[
            bool, typer.Option("--headless", help="No console: run, print the check tree, exit.")
        ] = False,
        seconds: Annotated[
            float, typer.Option("--seconds", metavar="SECONDS", min=0.5, help="How long --headless runs.")
        ] = 10.0,
        print_tree: Annotated[
            bool, typer.Option("--print", help="Print the live check tree every few seconds instead of the console.")
        ] = False,
    ) -> None:
        """Start a live sample scheduler (SQLite, companion attached) and open the console on it."""
        from schedtui.demo.runner import run_demo

        with handled():
            code = run_demo(folder, headless=headless, seconds=seconds, use_console=not print_tree)
        raise typer.Exit(code)
