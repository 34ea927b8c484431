"""Rotation with an injected clock, across month and year ends; the newest verified
backup survives every policy; a failed attempt rotates nothing."""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedtui.core.backup import Policy, create_backup
from schedtui.core.backup.names import format_name, parse_name
from schedtui.core.backup.rotation import plan
from schedtui.core.clock import FixedClock
from schedtui.core.errors import SchedtuiError
from schedtui.core.model import Target
from test_backup_helpers import make_store


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("rot") / "jobs.sqlite"
    make_store(f"sqlite:///{db}", 3)
    return db


def _dates(folder: Path) -> list[date]:
    out = []
    for name in os.listdir(folder):
        parsed = parse_name(name)
        if parsed:
            out.append(parsed.created_at.date())
    return sorted(out)


def test_daily_backups_across_year_and_month_ends(small_store: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bk"
    clock = FixedClock(datetime(2026, 12, 20, 2, 0, tzinfo=UTC))
    target = Target(f"sqlite:///{small_store}")
    while clock() <= datetime(2027, 2, 10, 2, 0, tzinfo=UTC):
        create_backup(target, folder, keep=3, daily=7, weekly=4, monthly=3, clock=clock)
        clock.advance(days=1)
    d = date
    expected = (
        {d(2027, 2, 8), d(2027, 2, 9), d(2027, 2, 10)}  # newest 3
        | {d(2027, 2, n) for n in range(4, 11)}  # 7 days
        | {d(2027, 2, 10), d(2027, 2, 7), d(2027, 1, 31), d(2027, 1, 24)}  # 4 ISO weeks
        | {d(2027, 2, 10), d(2027, 1, 31), d(2026, 12, 31)}  # 3 months, across the year end
    )
    assert set(_dates(folder)) == expected
    assert len(_dates(folder)) == len(expected)


def test_iso_week_spanning_the_year_end_is_one_bucket() -> None:
    # 2026-12-28 (Mon) .. 2027-01-03 (Sun) is ISO week 2026-W53.
    names = [
        parse_name(format_name("jobs", datetime(2026, 12, 28, tzinfo=UTC) + timedelta(days=i), "sqlite"))
        for i in range(7)
    ]
    keep, delete = plan([n for n in names if n], Policy(keep=1, weekly=2), set())
    assert keep == {"jobs-20270103T000000Z.sqlite"} and len(delete) == 6


def test_monthly_tier_keeps_the_last_backup_of_each_month(tmp_path: Path) -> None:
    days = [datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC) + timedelta(days=i) for i in range(0, 80, 3)]
    names = [parse_name(format_name("jobs", t, "sqlite")) for t in days]
    keep, _ = plan([n for n in names if n], Policy(keep=1, monthly=12), set())
    months = sorted(n[5:11] for n in keep)
    assert months == ["202601", "202602", "202603", "202604"]


def test_newest_verified_survives_when_newer_files_are_unverified(small_store: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bk"
    clock = FixedClock(datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    target = Target(f"sqlite:///{small_store}")
    first = create_backup(target, folder, keep=0, clock=clock)
    # Newer files without a manifest record (copied in by hand): not verified.
    for day in (2, 3, 4):
        shutil.copyfile(first.path, folder / format_name("jobs", datetime(2026, 3, day, tzinfo=UTC), "sqlite"))
    clock.advance(days=-1)  # a clock behind the copied files: the new backup is not the newest name
    second = create_backup(target, folder, keep=1, clock=clock)
    left = sorted(n for n in os.listdir(folder) if n.endswith(".sqlite"))
    assert left == [
        second.path.name,  # just written (a clock behind gave it the oldest name)
        first.path.name,  # the newest verified backup
        "jobs-20260304T000000Z.sqlite",  # newest by name (keep=1)
    ]


def test_failed_attempt_rotates_nothing(small_store: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bk"
    clock = FixedClock(datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    target = Target(f"sqlite:///{small_store}")
    for _ in range(3):
        create_backup(target, folder, keep=0, clock=clock)
        clock.advance(days=1)
    before = sorted(os.listdir(folder))
    holder = sqlite3.connect(small_store, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(SchedtuiError):
            create_backup(target, folder, keep=1, clock=clock, lock_timeout=0.1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [n for n in sorted(os.listdir(folder)) if n.endswith(".sqlite")] == [
        n for n in before if n.endswith(".sqlite")
    ]


_moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)).map(
    lambda t: t.replace(microsecond=0)
)


@settings(max_examples=300, deadline=None)
@given(
    moments=st.lists(_moments, min_size=1, max_size=40, unique=True),
    verified_mask=st.lists(st.booleans(), min_size=40, max_size=40),
    keep=st.integers(0, 10),
    daily=st.integers(0, 10),
    weekly=st.integers(0, 6),
    monthly=st.integers(0, 6),
)
def test_plan_never_deletes_the_newest_verified(moments, verified_mask, keep, daily, weekly, monthly) -> None:
    names = [parse_name(format_name("db", t, "sqlite")) for t in moments]
    backups = [n for n in names if n]
    verified = {b.name for b, v in zip(backups, verified_mask) if v}
    kept, deleted = plan(backups, Policy(keep, daily, weekly, monthly), verified)
    assert kept.isdisjoint(deleted) and kept | set(deleted) == {b.name for b in backups}
    if verified:
        newest_verified = max(b for b in backups if b.name in verified).name
        assert newest_verified in kept
    if keep > 0:
        assert len(kept) >= min(keep, len(backups))
        assert max(backups).name in kept  # the newest backup always stays
