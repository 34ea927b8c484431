"""The ``backups`` component of ``check``: last verified backup, its age, failures."""

from __future__ import annotations

import os
from pathlib import Path

from schedtui.core.errors import SchedtuiError
from schedtui.core.health import CheckContext, Component, Line, Perf, Status
from schedtui.core.store.place import plain_path

NAME = "backups"


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _folder(ctx: CheckContext) -> Path | None:
    if ctx.options.backup_dir:
        return Path(ctx.options.backup_dir).expanduser()
    from schedtui.core.backup.service import DIR_ENV

    plain = plain_path(ctx.target)
    if plain is not None and not os.environ.get(DIR_ENV):
        # ``default_backup_dir`` for a plain SQLite URL, without SQLAlchemy's URL parser
        # (``plain_path`` reads the URL as it does)
        folder = plain.parent / "backups"
        return folder if folder.is_dir() else None
    try:
        from schedtui.core.backup.service import default_backup_dir

        folder = default_backup_dir(ctx.target)
    except Exception:
        return None
    return folder if folder.is_dir() else None


def backups_component(ctx: CheckContext) -> Component | None:
    """Judge the backup folder (``ctx.options.backup_dir`` or the default one when it
    exists); None when there is none. Reads the manifest only (no hashing)."""
    from schedtui.core.backup.service import database_stem, last_attempt, list_backups

    folder = _folder(ctx)
    if folder is None:
        return None
    # the folder may hold other databases' backups too (``backups/`` next to several files)
    stem = database_stem(ctx.target)
    if not folder.is_dir():
        return Component(NAME, Status.WARNING, f"backup folder {folder} does not exist", data={"dir": str(folder)})
    try:
        entries = tuple(e for e in list_backups(folder) if stem is None or e.stem == stem)
        attempt = last_attempt(folder, stem)
    except OSError as exc:
        return Component(NAME, Status.UNKNOWN, f"cannot read the backup folder {folder}: {exc.strerror}")
    except SchedtuiError as exc:  # a planted link in place of the manifest
        return Component(NAME, Status.WARNING, exc.message, data={"dir": str(folder)})
    verified = [e for e in entries if e.verified]
    total = sum(e.size for e in entries)
    max_age = ctx.options.backup_max_age
    data: dict[str, object] = {
        "dir": str(folder),
        "count": len(entries),
        "verified": len(verified),
        "total_bytes": total,
    }
    lines = [Line(f"folder {folder}"), Line(f"{len(entries)} backup(s), {len(verified)} verified, {_size(total)}")]
    perf = [Perf("backup_count", len(entries), min=0), Perf("backup_bytes", total, "B", min=0)]
    statuses = [Status.OK]
    if verified:
        last = verified[0]
        age = (ctx.now - last.created_at).total_seconds()
        data.update(last=last.name, last_at=last.created_at.isoformat(), age_s=round(age, 1), last_bytes=last.size)
        perf.insert(0, Perf("backup_age", round(age), "s", warn=round(max_age), min=0))
        stale = age > max_age
        statuses.append(Status.WARNING if stale else Status.OK)
        summary = f"last verified backup {_age(age)} ago ({last.name})"
        if stale:
            summary += f", older than {_age(max_age)}"
        lines.insert(0, Line(f"last verified: {last.name}, {_age(age)} ago", Status.WARNING if stale else Status.OK))
    else:
        statuses.append(Status.WARNING)
        summary = "no verified backup"
    if attempt and attempt.get("status") == "failed":
        when = attempt.get("created_at", "?")
        err = str(attempt.get("error", "unknown error"))
        statuses.append(Status.WARNING)
        summary += f"; last attempt failed: {err}"
        lines.append(Line(f"last attempt {when} failed: {err}", Status.WARNING))
        data["last_failure"] = {"at": when, "error": err}
    return Component(NAME, max(statuses, key=lambda s: s.rank), summary, tuple(lines), tuple(perf), data)
