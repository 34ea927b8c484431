"""Clocks. Everything that shows or judges time takes one, so tests are deterministic."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)


def from_epoch(ts: float | None) -> datetime | None:
    """A stored epoch-seconds time as an aware UTC datetime (None stays None)."""
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


class FixedClock:
    """A clock that stands still until told to move (for tests and snapshots)."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0, **kwargs: float) -> None:
        self.now = self.now + timedelta(seconds=seconds, **kwargs)
