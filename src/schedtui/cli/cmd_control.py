"""``schedtui pause|resume|run|remove JOB_ID…``: job control for scripts and terminals.

With a live companion (fresh heartbeat) each request becomes a command the scheduler
applies on its next heartbeat; ``--wait`` waits for its outcome. Without one, pause and
resume write the row directly (compare-and-swap, byte-faithful), run is refused, and
remove is refused unless ``--force``.

Exit codes: 0 every request applied (or accepted, without ``--wait``); 1 a request
failed, was refused, expired or is still pending after ``--wait``; 2 usage (and a
confirmation that was needed but not given); 3 database unreachable / table missing /
locked; 4 a concurrent change was detected (nothing written).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from schedtui.cli.common import (
    EXIT_CONFLICT,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    JsonOpt,
    SchemaOpt,
    TableOpt,
    UrlOpt,
    echo,
    error_line,
    handled,
    print_json,
    target_from,
)
from schedtui.core.text import safe_text

if TYPE_CHECKING:
    from schedtui.core.control import ControlResult

JobIds = Annotated[list[str], typer.Argument(help="Job ids.", show_default=False, metavar="JOB_ID...")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
WaitOpt = Annotated[
    float,
    typer.Option(
        "--wait",
        min=0,
        help="Through the companion: wait up to SECONDS for the scheduler to apply each request "
        "and report applied/failed (0: return once requested).",
        metavar="SECONDS",
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force", help="remove: delete the row directly when no companion is live (a running scheduler is not told)."
    ),
]

_VERBS = {"pause": "Pause", "resume": "Resume", "run_now": "Run now", "remove": "Remove"}


def _confirm(action: str, job_ids: list[str], yes: bool, force: bool) -> None:
    if yes:
        return
    ids = ", ".join(map(safe_text, job_ids))
    what = f"{_VERBS[action]} {len(job_ids)} job(s): {ids}?"
    if action == "remove" and force:
        what = f"Remove {len(job_ids)} job(s) FOR GOOD, directly if no companion is live: {ids}?"
    if not sys.stdin.isatty():
        error_line(f"{what} Confirmation needed: pass --yes")
        raise typer.Exit(EXIT_USAGE)
    if not typer.confirm(what, default=False, err=True):
        error_line("nothing done")
        raise typer.Exit(EXIT_FAILURE)


def _run(
    action: str,
    job_ids: list[str],
    url: str | None,
    table: str | None,
    schema: str | None,
    yes: bool,
    as_json: bool,
    wait: float,
    force: bool = False,
) -> None:
    from schedtui.core import control
    from schedtui.core.clock import system_clock

    with handled(url or ""):
        target = target_from(url, table, schema)
        _confirm(action, job_ids, yes, force)
        from schedtui.core.store.db import write_engine

        control._check_exists(target)
        engine = write_engine(target)
        results: list[ControlResult] = []
        try:
            from schedtui.core.store.db import probe_jobs_table

            probe_jobs_table(engine, target)  # the same error as every command
            for job_id in job_ids:
                res = control.submit(target, job_id, action, clock=system_clock, force=force, engine=engine)
                results.append(res)
            if wait > 0:
                results = [control.wait(target, r, wait, clock=system_clock, engine=engine) for r in results]
        finally:
            engine.dispose()
    code = _exit_code(results, wait)
    if as_json:
        print_json(
            {"action": action, "target": target.safe_url, "results": [r.as_dict() for r in results], "exit_code": code}
        )
    else:
        for r in results:
            how = "via companion" if r.mode == "companion" else "direct"
            line = f"{r.job_id}: {r.status} ({how}): {r.message}"
            if r.command_id is not None:
                line += f" [command {r.command_id}]"
            echo(line, err=not r.ok)
    raise typer.Exit(code)


def _exit_code(results: list[ControlResult], wait: float) -> int:
    statuses = {r.status for r in results}
    if "conflict" in statuses:
        return EXIT_CONFLICT
    ok = {"applied"} if wait > 0 else {"applied", "pending"}
    if statuses - ok:
        return EXIT_FAILURE
    return EXIT_OK


_SIMPLE = (
    ("pause", "pause", "Pause jobs (next_run_time NULL), through the companion or directly."),
    ("resume", "resume", "Resume paused jobs from their trigger (the next fire time after now)."),
    ("run", "run_now", "Run jobs once now, leaving their schedules as they are (needs the companion)."),
)


def _simple_command(action: str, doc: str) -> Callable[..., None]:
    """One of the commands that differ only in their action (``remove`` adds --force)."""

    def command(
        job_ids: JobIds,
        url: UrlOpt = None,
        table: TableOpt = None,
        schema: SchemaOpt = None,
        yes: YesOpt = False,
        as_json: JsonOpt = False,
        wait: WaitOpt = 0.0,
    ) -> None:
        _run(action, job_ids, url, table, schema, yes, as_json, wait)

    command.__doc__ = doc
    return command


def register(app: typer.Typer) -> None:
    """Add ``pause``, ``resume``, ``run`` and ``remove``."""

    for name, action, doc in _SIMPLE:
        app.command(name)(_simple_command(action, doc))

    @app.command("remove")
    def remove(
        job_ids: JobIds,
        url: UrlOpt = None,
        table: TableOpt = None,
        schema: SchemaOpt = None,
        yes: YesOpt = False,
        as_json: JsonOpt = False,
        wait: WaitOpt = 0.0,
        force: ForceOpt = False,
    ) -> None:
        """Remove jobs (through the companion; --force deletes the row without one)."""
        _run("remove", job_ids, url, table, schema, yes, as_json, wait, force)
