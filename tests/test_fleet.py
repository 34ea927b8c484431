"""``core.fleet``: a store's fleet row is `schedtui check`'s report of it, and a store that
cannot be read is a row (sanitized, credentials masked), never an exception."""

from __future__ import annotations

from pathlib import Path

from schedtui.core.clock import FixedClock
from schedtui.core.fleet import fleet_row
from schedtui.core.health import Status
from schedtui.core.model import Target
from schedtui.core.stores import NamedStore


def test_missing_sqlite_is_critical_as_check(tmp_path: Path, clock: FixedClock) -> None:
    row = fleet_row(NamedStore("gone", Target(url=f"sqlite:///{tmp_path}/none.sqlite")), clock=clock)
    assert row.status is Status.CRITICAL
    assert row.summary == f"database: SQLite database not found: {tmp_path}/none.sqlite"
    assert row.error == f"SQLite database not found: {tmp_path}/none.sqlite"
    assert (row.jobs, row.overdue, row.undecodable, row.heartbeat) == (None, None, None, None)
    assert row.checked_at == clock()


def test_unreachable_server_masks_the_password(clock: FixedClock) -> None:
    url = "postgresql+psycopg://scheduler:s3cretpw@127.0.0.1:1/app?sslpassword=k3ypass"
    row = fleet_row(NamedStore("pg", Target(url=url)), clock=clock)
    assert row.status is Status.CRITICAL and row.error
    for text in (row.summary, row.error, row.safe_url):
        assert "s3cretpw" not in text and "k3ypass" not in text
    assert "scheduler:***@127.0.0.1:1" in row.error


def test_bad_scheme_is_unknown(clock: FixedClock) -> None:
    row = fleet_row(NamedStore("x", Target(url="nosuchdb://h/app")), clock=clock)
    assert row.status is Status.UNKNOWN and "unsupported database URL scheme" in (row.error or "")


def test_hostile_text_is_sanitized(tmp_path: Path, clock: FixedClock) -> None:
    evil = tmp_path / "a\x1b[31mred\u202e.sqlite"
    row = fleet_row(NamedStore("x", Target(url=f"sqlite:///{evil}")), clock=clock)
    assert "\x1b" not in row.summary and "\u202e" not in row.summary
    assert "\x1b" not in (row.error or "")
