"""``schedtui backup``, ``schedtui backups`` and ``schedtui restore``."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from schedtui.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    DecodeBudgetOpt,
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
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target
from schedtui.core.text import safe_text

DirOpt = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        "-d",
        metavar="DIR",
        help="Backup folder (default: $SCHEDTUI_BACKUP_DIR, else backups/ next to the SQLite file, "
        "else ~/.local/share/schedtui/backups/HOST_PORT_DB for PostgreSQL).",
        show_default=False,
    ),
]


def _size(n: int) -> str:
    from schedtui.core.vocab import format_bytes

    return format_bytes(n)


def _age(then: datetime, now: datetime) -> str:
    s = max(0, (now - then).total_seconds())
    if s < 120:
        return f"{s:.0f}s"
    if s < 7200:
        return f"{s / 60:.0f}m"
    if s < 172800:
        return f"{s / 3600:.1f}h"
    return f"{s / 86400:.1f}d"


def _progress_printer() -> Any:
    if not sys.stderr.isatty():
        return None

    def show(fraction: float, text: str) -> None:
        typer.echo(f"\r{fraction * 100:3.0f}% {safe_text(text):<40}", err=True, nl=fraction >= 1.0)

    return show


def _result_json(obj: Any) -> dict[str, Any]:
    from dataclasses import asdict, is_dataclass

    data = asdict(obj) if is_dataclass(obj) and not isinstance(obj, type) else dict(obj)
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}


def backup_cmd(
    url: UrlOpt = None,
    table: TableOpt = None,
    schema: SchemaOpt = None,
    decode_budget: DecodeBudgetOpt = None,
    directory: DirOpt = None,
    keep: Annotated[int, typer.Option("--keep", metavar="N", min=0, help="Newest backups to keep (0 keeps all).")] = 7,
    keep_daily: Annotated[
        int, typer.Option("--keep-daily", metavar="N", min=0, help="Also keep the newest of each of the last N days.")
    ] = 0,
    keep_weekly: Annotated[
        int, typer.Option("--keep-weekly", metavar="N", min=0, help="... of each of the last N ISO weeks.")
    ] = 0,
    keep_monthly: Annotated[
        int, typer.Option("--keep-monthly", metavar="N", min=0, help="... of each of the last N months.")
    ] = 0,
    lock_timeout: Annotated[
        float,
        typer.Option("--lock-timeout", metavar="SECONDS", min=0.1, help="Seconds to wait for a locked SQLite file."),
    ] = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Write a verified backup now (SQLite online copy or pg_dump), then rotate old ones."""
    with handled(url or ""):
        from schedtui.core.backup import create_backup

        target = target_from(url, table, schema)
        result = create_backup(
            target,
            directory,
            keep=keep,
            daily=keep_daily,
            weekly=keep_weekly,
            monthly=keep_monthly,
            lock_timeout=lock_timeout,
            progress=None if as_json else _progress_printer(),
        )
    if as_json:
        data = _result_json(result)
        data["rotated"] = [str(p) for p in result.rotated]
        print_json(data)
        return
    echo(result.message)
    if result.undecodable:
        echo(f"undecodable jobs (as in the source): {', '.join(map(safe_text, result.undecodable[:20]))}")
    for path in result.rotated:
        echo(f"rotated: {path.name}")


def _restorable_target(target: Target) -> None:
    """A URL without a database file is refused first, as by every command."""
    from schedtui.core.store.place import place_of

    if place_of(target).is_sqlite:
        from schedtui.core.backup.sqlite import sqlite_path

        sqlite_path(target)


def _folder(url: str | None, table: str | None, schema: str | None, directory: Path | None) -> Path:
    if directory is not None:
        return directory
    from schedtui.core.backup import default_backup_dir

    try:
        target = target_from(url, table, schema)
    except SchedtuiError as exc:
        configured = url or os.environ.get("SCHEDTUI_URL") or os.environ.get("DATABASE_URL")
        if exc.kind is not ErrorKind.CONFIG or configured:
            raise  # a URL was given: its own error (a URL without a file ...)
        raise SchedtuiError(
            "no backup folder: pass --dir, or --url (or set SCHEDTUI_URL) to use the database's default folder",
            ErrorKind.CONFIG,
        ) from None
    return default_backup_dir(target)


def backups_cmd(
    url: UrlOpt = None,
    table: TableOpt = None,
    schema: SchemaOpt = None,
    decode_budget: DecodeBudgetOpt = None,
    directory: DirOpt = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="Check every file now: SHA-256, integrity, rows, decoding.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """List the backups in the folder (newest first); exit 1 if --verify finds a bad one."""
    with handled(url or ""):
        from schedtui.core.backup import list_backups

        folder = _folder(url, table, schema, directory)
        if not folder.is_dir():
            raise SchedtuiError(f"no backup folder at {folder}", ErrorKind.CONFIG)
        entries = list_backups(folder, verify=verify)
    now = datetime.now(UTC)
    bad = [e for e in entries if not e.ok]
    if as_json:
        out = []
        for e in entries:
            d = _result_json(e)
            d["path"] = str(e.path)
            d["age_s"] = round((now - e.created_at).total_seconds(), 1)
            d["ok"] = e.ok
            if e.check is not None:
                d["check"] = _result_json(e.check)
                d["check"]["path"] = str(e.check.path)
            out.append(d)
        print_json({"dir": str(folder), "backups": out})
    elif not entries:
        echo(f"no backups in {folder}")
    else:
        echo(f"backups in {folder}:")
        header = f"{'NAME':<44} {'TIME (UTC)':<20} {'AGE':>6} {'SIZE':>9}  VERIFIED"
        typer.echo(header + ("  CHECK" if verify else ""))
        for e in entries:
            line = (
                f"{safe_text(e.name):<44} {e.created_at.strftime('%Y-%m-%d %H:%M:%S'):<20} {_age(e.created_at, now):>6} "
                f"{_size(e.size):>9}  {'yes' if e.verified else 'no':<8}"
            )
            if e.check is not None:
                line += "  " + ("ok" if e.check.ok else "FAILED: " + e.check.message.split(": FAILED: ", 1)[-1])
            echo(line)
        total = sum(e.size for e in entries)
        echo(f"{len(entries)} backup(s), {_size(total)}" + (f", {len(bad)} FAILED" if verify and bad else ""))
    if verify and bad:
        raise typer.Exit(EXIT_FAILURE)


def restore_cmd(
    file: Annotated[
        Path | None,
        typer.Argument(
            metavar="FILE",
            help="The backup file to restore (with --jobs/--missing: default the newest verified backup).",
            show_default=False,
        ),
    ] = None,
    url: UrlOpt = None,
    table: TableOpt = None,
    schema: SchemaOpt = None,
    decode_budget: DecodeBudgetOpt = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Restore even while a scheduler may be running (then restart it), or without a manifest record.",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    watch: Annotated[
        float | None,
        typer.Option(
            "--watch",
            metavar="SECONDS",
            min=0,
            help="Watch the store this long for a scheduler's writes before restoring (default 3; 0: do not watch).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
    jobs: Annotated[
        list[str] | None,
        typer.Option("--jobs", help="Put only these jobs back from the backup (repeat; byte for byte).", metavar="ID"),
    ] = None,
    missing: Annotated[
        bool, typer.Option("--missing", help="Put back every job of the backup the live store no longer has.")
    ] = False,
    archived: Annotated[
        list[str] | None,
        typer.Option(
            "--archived", help="Put these jobs back from the deletion guard's archive (repeat).", metavar="ID"
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be written; write nothing.")] = False,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", "-d", metavar="DIR", help="Backup folder for --jobs/--missing.", show_default=False),
    ] = None,
    wait: Annotated[
        float,
        typer.Option("--wait", metavar="SECONDS", min=0, help="Through the companion: wait up to SECONDS per job."),
    ] = 0.0,
) -> None:
    """Replace the job store's database with a verified backup (keeps the current one), or put
    single jobs back (--jobs, --missing, --archived) without touching the others."""
    if jobs or missing or archived:
        from schedtui.cli.cmd_undelete import restore_jobs

        with handled(url or ""):
            restore_jobs(
                target_from(url, table, schema),
                backup=str(file) if file else None,
                directory=directory,
                job_ids=list(jobs or []),
                missing=missing,
                archived=list(archived or []),
                dry_run=dry_run,
                yes=yes,
                force=force,
                wait=wait,
                as_json=as_json,
            )
        return
    if file is None:
        error_line("restore needs a backup FILE (or --jobs ID, --missing, --archived ID)")
        raise typer.Exit(EXIT_USAGE)
    with handled(url or ""):
        from schedtui.core.backup import restore_backup
        from schedtui.core.backup.restore import check_restorable

        target = target_from(url, table, schema)
        _restorable_target(target)
        checked = check_restorable(file.expanduser(), force)
        if not yes:
            if not sys.stdin.isatty():
                raise SchedtuiError(
                    "restore replaces the database: pass --yes to confirm (no terminal to ask on)", ErrorKind.CONFIG
                )
            total = sum(checked.rows.values())
            what = (
                "every table, view and sequence the dump contains"
                if file.suffix == ".pgdump"
                else "every table the dump contains"
                if file.suffix == ".mysqldump"
                else "the database file"
            )
            echo(f"Restore {file.name} ({total} rows, SHA-256 {'checked' if checked.hash_ok else 'not recorded'})")
            echo(f"into {target.safe_url}: this replaces {what}; the current database is kept first.")
            if not typer.confirm("Continue?", default=False):
                typer.echo("not restored")
                raise typer.Exit(EXIT_USAGE)
        from schedtui.core.backup.writers import DEFAULT_WATCH_S

        result = restore_backup(target, file, force=force, watch=DEFAULT_WATCH_S if watch is None else watch)
    if as_json:
        data = _result_json(result)
        data["kept"] = [str(p) for p in result.kept]
        print_json(data)
        return
    echo(result.message)
    for note in result.notes:
        echo(f"note: {note}")
    if result.undecodable:
        echo(
            f"undecodable jobs in the backup (as when it was taken): {', '.join(map(safe_text, result.undecodable[:20]))}"
        )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("backup")(backup_cmd)
    app.command("backups")(backups_cmd)
    app.command("restore")(restore_cmd)
