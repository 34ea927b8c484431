"""``schedtui diff [BACKUP] [BACKUP]`` and single-job ``schedtui restore --jobs/--missing/
--archived`` (the whole-file ``restore FILE`` lives in ``cmd_backup``, which dispatches here).

diff exit codes (as diff(1)): 0 no difference, 1 differences, 2 usage, 3 database.
restore exit codes: 0 every job restored (or requested, or shown by --dry-run); 1 nothing
to restore, or a job failed; 2 usage / not confirmed; 3 database; 4 a job with that id
appeared meanwhile (nothing written for it).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from schedtui.cli.common import (
    EXIT_CONFLICT,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    DecodeBudgetOpt,
    JsonOpt,
    SchemaOpt,
    TableOpt,
    UrlOpt,
    error_line,
    handled,
    print_json,
    target_from,
)
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import JobInfo, Target
from schedtui.core.text import safe_text

DirOpt = Annotated[
    Path | None,
    typer.Option("--dir", "-d", metavar="DIR", help="Backup folder (default: the database's own).", show_default=False),
]


def _when(value: datetime | None) -> str:
    if value is None:
        return "paused"
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _trigger(job: JobInfo | None) -> str:
    if job is None or job.trigger is None:
        return "?"
    from schedtui.core.describe import technical_description

    try:
        return technical_description(job.trigger)
    except Exception:
        return job.trigger.kind


# --------------------------------------------------------------------------- diff


def diff_cmd(
    backups: Annotated[
        list[str] | None,
        typer.Argument(
            help="No backup: the newest verified backup vs the live store. One: that backup vs the live "
            "store. Two: the first vs the second. A path, a file name in the backup folder, or 'latest'.",
            show_default=False,
            metavar="[BACKUP] [BACKUP]",
        ),
    ] = None,
    url: UrlOpt = None,
    table: TableOpt = None,
    schema: SchemaOpt = None,
    decode_budget: DecodeBudgetOpt = None,
    directory: DirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Jobs added, removed and changed between a backup and the live store (or two backups)."""
    from schedtui.core.store.rawrows import read_backup, read_live
    from schedtui.core.undelete import diff_rows, find_backup

    names = list(backups or [])
    if len(names) > 2:
        error_line("diff takes at most two backups")
        raise typer.Exit(EXIT_USAGE)
    with handled(url or ""):
        target = target_from(url, table, schema)
        old_path = find_backup(target, names[0] if names else None, directory)
        old_rows = read_backup(old_path, target.table, target.schema)
        if len(names) == 2:
            new_path = find_backup(target, names[1], directory)
            new_rows, new_label = read_backup(new_path, target.table, target.schema), new_path.name
        else:
            new_rows, new_label = read_live(target), f"live store {target.safe_url}"
        result = diff_rows(old_rows, new_rows, old_label=old_path.name, new_label=new_label)
    if as_json:
        print_json(_diff_json(result))
    else:
        _diff_text(result)
    raise typer.Exit(EXIT_FAILURE if result.changes else EXIT_OK)


def _job_json(job: JobInfo | None) -> dict[str, Any] | None:
    if job is None:
        return None
    return {
        "func": job.func,
        "name": job.name,
        "trigger": _trigger(job),
        "next_run_time": job.next_run_time,
        "paused": job.paused,
        "args": job.args_repr,
        "kwargs": job.kwargs_repr,
        "undecodable": job.finding.code if job.finding else None,
    }


def _diff_json(result: Any) -> dict[str, Any]:
    return {
        "old": result.old_label,
        "new": result.new_label,
        "added": len(result.of("added")),
        "removed": len(result.of("removed")),
        "changed": len(result.of("changed")),
        "unchanged": result.unchanged,
        "jobs": [
            {
                "id": c.job_id,
                "change": c.kind,
                "old": _job_json(c.old),
                "new": _job_json(c.new),
                "fields": [{"field": f.field, "old": f.old, "new": f.new} for f in c.fields],
            }
            for c in result.changes
        ],
    }


def _diff_text(result: Any) -> None:
    typer.echo(f"diff {safe_text(result.old_label, 200)} -> {safe_text(result.new_label, 200)}")
    for c in result.changes:
        job = c.new or c.old
        head = f"{c.kind:<8} {safe_text(c.job_id, 60)}"
        if c.kind != "changed":
            typer.echo(
                f"{head}  {safe_text(job.func or '?', 80)}  {safe_text(_trigger(job), 80)}  next {_when(job.next_run_time)}"
            )
            continue
        typer.echo(head)
        for f in c.fields:
            typer.echo(f"           {f.field}: {safe_text(f.old, 100)} -> {safe_text(f.new, 100)}")
    typer.echo(
        f"{len(result.of('removed'))} removed, {len(result.of('added'))} added, "
        f"{len(result.of('changed'))} changed, {result.unchanged} unchanged"
    )


# --------------------------------------------------------------------------- restore


def restore_jobs(
    target: Target,
    *,
    backup: str | None,
    directory: Path | None,
    job_ids: list[str],
    missing: bool,
    archived: list[str],
    dry_run: bool,
    yes: bool,
    force: bool,
    wait: float,
    as_json: bool,
) -> None:
    """The single-job restore (``schedtui restore --jobs … | --missing | --archived …``)."""
    from schedtui.core.undelete import apply_plan, find_backup, load_backup, plan_from_archive, plan_from_backup
    from schedtui.core.undelete.restore import check_ids

    if sum(bool(x) for x in (job_ids, missing, archived)) != 1:
        raise SchedtuiError("give one of --jobs ID…, --missing or --archived ID…", ErrorKind.CONFIG)
    check_ids(job_ids + archived)
    if archived:
        if backup:
            raise SchedtuiError("--archived restores from the archive table, not from a backup file", ErrorKind.CONFIG)
        plan = plan_from_archive(target, archived)
    else:
        path = find_backup(target, backup, directory)
        plan = plan_from_backup(target, load_backup(path, target, force=force), job_ids=job_ids, missing=missing)
    if not as_json or dry_run:
        _show_plan(plan, target, as_json)
    if not plan.items:
        if as_json and not dry_run:
            print_json({"source": plan.source, "results": [], "skipped": _skipped(plan)})
        elif not as_json:
            typer.echo("nothing to restore" + (": the live store has every job of the backup" if missing else ""))
        raise typer.Exit(EXIT_FAILURE if plan.skipped or not missing else EXIT_OK)
    if dry_run:
        if not as_json:
            typer.echo("dry run: nothing written")
        raise typer.Exit(EXIT_OK)
    if not yes:
        if not sys.stdin.isatty():
            raise SchedtuiError(
                "restore writes to the job store: pass --yes to confirm (no terminal to ask on)", ErrorKind.CONFIG
            )
        if not typer.confirm(f"Write these {len(plan.items)} job(s)?", default=False):
            typer.echo("not restored")
            raise typer.Exit(EXIT_USAGE)
    outcomes = list(apply_plan(target, plan))
    if wait > 0:
        outcomes = [_waited(target, o, wait) for o in outcomes]
    if as_json:
        print_json(
            {
                "source": plan.source,
                "target": target.safe_url,
                "results": [
                    {
                        "job_id": o.job_id,
                        "status": o.status,
                        "mode": o.mode,
                        "message": o.message,
                        "command_id": o.command_id,
                    }
                    for o in outcomes
                ],
                "skipped": _skipped(plan),
            }
        )
    else:
        for o in outcomes:
            typer.echo(f"{o.status:<9} {safe_text(o.job_id, 60)}  {safe_text(o.message, 300)}")
    if any(o.status == "conflict" for o in outcomes):
        raise typer.Exit(EXIT_CONFLICT)
    if not all(o.ok for o in outcomes) or plan.skipped:
        raise typer.Exit(EXIT_FAILURE)


def _skipped(plan: Any) -> list[dict[str, str]]:
    return [{"job_id": s.job_id, "reason": s.reason} for s in plan.skipped]


def _show_plan(plan: Any, target: Target, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "source": plan.source,
                "target": target.safe_url,
                "dry_run": True,
                "would_write": [
                    {
                        "job_id": i.job_id,
                        "origin": i.origin,
                        "next_run_time": i.next_run_time,
                        "sha256": i.sha256,
                        "size": len(i.job_state),
                        "job": _job_json(i.info),
                    }
                    for i in plan.items
                ],
                "skipped": _skipped(plan),
            }
        )
        return
    typer.echo(
        f"Restore {len(plan.items)} job(s) from {safe_text(plan.source, 200)} into {safe_text(target.safe_url, 200)}, byte for byte:"
    )
    for i in plan.items:
        info = i.info
        nrt = datetime.fromtimestamp(i.next_run_time, UTC) if i.next_run_time is not None else None
        func = info.func or (f"undecodable: {info.finding.code}" if info.finding else "?")
        typer.echo(
            f"  {safe_text(i.job_id, 60)}  {safe_text(func, 80)}  {safe_text(_trigger(info), 60)}  next {_when(nrt)}  "
            f"({len(i.job_state)} bytes, sha256 {i.sha256[:12]})"
        )
    for s in plan.skipped:
        typer.echo(f"  skipped {safe_text(s.job_id, 60)}: {safe_text(s.reason, 200)}")


def _waited(target: Target, outcome: Any, wait: float) -> Any:
    if outcome.status != "pending" or outcome.command_id is None:
        return outcome
    from schedtui.core.control import ControlResult
    from schedtui.core.control import wait as wait_for
    from schedtui.core.undelete import RestoreOutcome

    res = wait_for(
        target,
        ControlResult(outcome.job_id, "restore", "companion", "pending", outcome.message, outcome.command_id),
        wait,
    )
    status = {"applied": "restored", "pending": "pending"}.get(res.status, "failed")
    return RestoreOutcome(outcome.job_id, status, "companion", res.message, outcome.command_id)  # type: ignore[arg-type]


def register(app: typer.Typer) -> None:
    app.command("diff")(diff_cmd)
