"""Rotation: which backups to keep (newest N plus optional daily/weekly/monthly tiers).

Dates come from the file names (UTC), never from mtimes. Rotation runs only after a
verified success, only over backups of the same source (stem and extension), and never
deletes the newest verified backup.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from schedtui.core.backup.names import BackupName, parse_name

DEFAULT_KEEP = 7


@dataclass(frozen=True, slots=True)
class Policy:
    """``keep`` newest backups (0 = keep everything), plus the newest backup of each of the
    last ``daily`` days, ``weekly`` ISO weeks and ``monthly`` months that have backups."""

    keep: int = DEFAULT_KEEP
    daily: int = 0
    weekly: int = 0
    monthly: int = 0

    @property
    def keeps_all(self) -> bool:
        return self.keep <= 0


def _tier(backups: list[BackupName], count: int, key: Callable[[datetime], Hashable]) -> set[str]:
    kept: set[str] = set()
    seen: set[Hashable] = set()
    for b in backups:  # newest first
        if len(seen) >= count:
            break
        k = key(b.created_at)
        if k not in seen:
            seen.add(k)
            kept.add(b.name)
    return kept


def plan(
    backups: Iterable[BackupName], policy: Policy, verified: set[str], protect: Iterable[str] = ()
) -> tuple[set[str], list[str]]:
    """(names kept, names to delete, oldest first). ``verified`` names the backups the
    manifest records as verified; the newest of them is always kept, and so is every name
    in ``protect`` (the backup just written, even when a clock behind made its name old)."""
    ordered = sorted(backups, reverse=True)
    if policy.keeps_all or not ordered:
        return {b.name for b in ordered}, []
    keep = {b.name for b in ordered[: policy.keep]}
    if policy.daily:
        keep |= _tier(ordered, policy.daily, lambda d: d.date())
    if policy.weekly:
        keep |= _tier(ordered, policy.weekly, lambda d: tuple(d.isocalendar())[:2])
    if policy.monthly:
        keep |= _tier(ordered, policy.monthly, lambda d: (d.year, d.month))
    newest_verified = next((b.name for b in ordered if b.name in verified), None)
    if newest_verified:
        keep.add(newest_verified)
    keep |= set(protect) & {b.name for b in ordered}
    delete = [b.name for b in reversed(ordered) if b.name not in keep]
    return keep, delete


def backups_of(directory: Path, stem: str, ext: str) -> list[BackupName]:
    out = []
    for name in os.listdir(directory):
        parsed = parse_name(name)
        if parsed and parsed.stem == stem and parsed.ext == ext and (directory / name).is_file():
            out.append(parsed)
    return out


def rotate(
    directory: Path, stem: str, ext: str, policy: Policy, verified: set[str], protect: Iterable[str] = ()
) -> tuple[Path, ...]:
    """Delete what ``plan`` says; returns the deleted paths (a file that cannot be
    deleted is left and not reported)."""
    _, delete = plan(backups_of(directory, stem, ext), policy, verified, protect)
    deleted: list[Path] = []
    for name in delete:
        path = directory / name
        try:
            path.unlink()
            deleted.append(path)
        except FileNotFoundError:
            pass
        except OSError:
            continue
    return tuple(deleted)
