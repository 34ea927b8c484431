"""``schedtui preflight --app-root DIR``: would the code about to be deployed restore
every stored job? A CI deploy gate, decided statically (nothing imported).

Exit codes: 0 every job restorable; 1 some cannot be decided (``unknown``) but none would
be lost; 2 some would be deleted by APScheduler on start; 3 could not run (bad options,
database unreachable).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from schedtui.cli.common import (
    DecodeBudgetOpt,
    JsonOpt,
    SchemaOpt,
    TableOpt,
    UrlOpt,
    error_line,
    print_json,
    target_from,
)
from schedtui.core.errors import SchedtuiError
from schedtui.core.text import safe_text

AppRootOpt = Annotated[
    list[Path],
    typer.Option(
        "--app-root",
        metavar="DIR",
        help="Folder the new code is imported from (a source tree or a site-packages); repeat in sys.path order.",
        show_default=False,
    ),
]
BackupOpt = Annotated[
    Path | None,
    typer.Option(
        "--backup",
        metavar="FILE",
        help="Judge the jobs of this backup file instead of the live store.",
        show_default=False,
    ),
]
NoInterpOpt = Annotated[
    bool,
    typer.Option(
        "--no-interpreter-path",
        help="Resolve against the app roots only (not this interpreter's stdlib and site-packages).",
    ),
]

_WORD = {"lost": "LOST", "unknown": "UNKNOWN", "ok": "ok"}


def preflight(
    app_root: AppRootOpt,
    url: UrlOpt = None,
    table: TableOpt = None,
    schema: SchemaOpt = None,
    decode_budget: DecodeBudgetOpt = None,
    backup: BackupOpt = None,
    as_json: JsonOpt = False,
    all_jobs: Annotated[bool, typer.Option("--all", help="List restorable jobs too.")] = False,
    no_interpreter_path: NoInterpOpt = False,
) -> None:
    """Check that the code under --app-root can restore every stored job (CI deploy gate)."""
    from schedtui.core.preflight import EXIT_CANNOT_RUN, run_preflight
    from schedtui.core.store.rawrows import read_backup, read_live

    roots = [p.expanduser() for p in app_root or []]
    if not roots:
        error_line("preflight needs at least one --app-root DIR")
        raise typer.Exit(EXIT_CANNOT_RUN)
    for root in roots:
        if not root.is_dir():
            error_line(f"--app-root {safe_text(root, 200)} is not a folder")
            raise typer.Exit(EXIT_CANNOT_RUN)
    try:
        target = target_from(url, table, schema)
        rows = read_backup(backup, target.table, target.schema) if backup else read_live(target)
        report = run_preflight(rows, roots, interpreter=not no_interpreter_path)
    except SchedtuiError as exc:
        error_line(exc.message, url or "")
        raise typer.Exit(EXIT_CANNOT_RUN) from None
    source = str(backup) if backup else target.safe_url
    if as_json:
        print_json(_as_json(report, source))
    else:
        _print_text(report, source, all_jobs)
    raise typer.Exit(report.exit_code)


def _as_json(report: Any, source: str) -> dict[str, Any]:
    return {
        "source": source,
        "app_roots": [str(p) for p in report.roots],
        "jobs": len(report.jobs),
        "restorable": report.count("ok"),
        "unknown": report.count("unknown"),
        "lost": report.count("lost"),
        "exit_code": report.exit_code,
        "results": [
            {
                "id": j.id,
                "verdict": j.verdict,
                "func": j.func,
                "reason": j.reason,
                "problems": [{"ref": p.ref, "status": p.status, "reason": p.reason} for p in j.problems],
            }
            for j in report.jobs
            if j.verdict != "ok"
        ],
    }


def _print_text(report: Any, source: str, all_jobs: bool) -> None:
    roots = ", ".join(str(p) for p in report.roots)
    typer.echo(f"preflight of {len(report.jobs)} job(s) in {safe_text(source, 200)} against {safe_text(roots, 200)}")
    shown = [j for j in report.jobs if all_jobs or j.verdict != "ok"]
    shown.sort(key=lambda j: ({"lost": 0, "unknown": 1, "ok": 2}[j.verdict], j.id))
    width = min(40, max((len(safe_text(j.id, 40)) for j in shown), default=2))
    for j in shown:
        reason = j.reason or "restorable"
        typer.echo(f"{_WORD[j.verdict]:<8} {safe_text(j.id, 40):<{width}}  {safe_text(reason, 300)}")
        for p in j.problems[1:3]:
            typer.echo(f"{'':<8} {'':<{width}}  also: {safe_text(p.reason, 300)}")
    lost, unknown, ok = report.count("lost"), report.count("unknown"), report.count("ok")
    if lost:
        verdict = f"{lost} job(s) would be DELETED by APScheduler on start"
    elif unknown:
        verdict = "no job would certainly be lost, but some cannot be decided statically"
    else:
        verdict = "every job is restorable"
    typer.echo(f"{verdict}: {lost} lost, {unknown} unknown, {ok} restorable")


def register(app: typer.Typer) -> None:
    app.command("preflight")(preflight)
