"""What can go wrong with a row, and the record of a row that was not decoded.

A row that cannot be decoded is a finding shown to the user, never a crash. Finding codes
(stable; ``DecodeFinding.code``): ``too-large``, ``empty``, ``bad-type``, ``truncated``,
``malformed``, ``trailing-data``, ``forbidden-global``, ``forbidden-opcode``,
``forbidden-build``, ``memory``, ``too-deep``, ``bad-shape``, ``bad-trigger``,
``bad-value``, ``naive-datetime``, ``future-version``, ``unknown-timezone``, ``too-slow``,
``time-budget``, ``internal``.

- ``UnpickleError`` is raised inside the unpickler, ``DecodeError`` by the validation;
  ``classify`` maps anything else a hostile pickle can raise (MemoryError, RecursionError,
  the C unpickler's own errors) to a code.
- ``column_time``, ``state_size`` and ``protocol_of`` are what is known of a row without
  unpickling it; ``failed_fields``/``not_decoded`` build the record of an undecoded row.

Nothing here parses stored bytes, so the reading process may use all of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from schedtui.core.decode.zones import ZoneError
from schedtui.core.model import DecodeFinding, JobInfo

#: Rows larger than this are not decoded (``too-large``).
MAX_ROW_BYTES = 1024 * 1024

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: ``JobInfo``'s sixteen fields in order (``model.job_from_fields``).
JobFields = tuple[object, ...]


class UnpickleError(Exception):
    """Raised inside the unpickler; ``code`` becomes the finding's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DecodeError(Exception):
    """A job state that cannot be decoded; ``code`` is stable, ``message`` one sentence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def finding(self) -> DecodeFinding:
        return DecodeFinding(self.code, self.message)


def classify(exc: BaseException) -> DecodeError:
    """The finding for an exception raised while unpickling stored bytes."""
    if isinstance(exc, UnpickleError):
        return DecodeError(exc.code, exc.message)
    if isinstance(exc, MemoryError):
        return DecodeError("memory", "the pickle asks for more memory than a job state can need")
    if isinstance(exc, RecursionError):
        return DecodeError("too-deep", "the pickle is nested too deeply")
    if isinstance(exc, ZoneError):
        return DecodeError("bad-shape", str(exc))
    text = str(exc)[:160]
    if isinstance(exc, EOFError) or "truncated" in text or "ran out of input" in text.lower():
        return DecodeError("truncated", "the pickle ends early (truncated or missing STOP)")
    return DecodeError("malformed", f"not a valid pickle: {type(exc).__name__}: {text}")


def protocol_of(data: object) -> int | None:
    """The pickle protocol byte of a stored state (None when it has none)."""
    if isinstance(data, (bytes, bytearray)) and len(data) > 1 and data[0] == 0x80:
        return data[1]
    return None


def column_time(value: object) -> datetime | None:
    """The ``next_run_time`` column (float epoch) as an aware UTC datetime, None if unusable."""
    if value is None:
        return None
    try:
        ts = float(value)  # type: ignore[arg-type]
        if not math.isfinite(ts):
            return None
        return _EPOCH + timedelta(seconds=ts)
    except (TypeError, ValueError, OverflowError):
        return None


def state_size(data: object) -> int:
    """The stored state's length in bytes (0 when it has none)."""
    try:
        return len(data)  # type: ignore[arg-type]
    except TypeError:
        return 0


def column_notes(value: object, column: datetime | None) -> tuple[DecodeFinding, ...]:
    """A ``bad-column`` note when the ``next_run_time`` column holds a value that is not a
    time (``column`` is what ``column_time`` made of it), else none."""
    if value is None or column is not None:
        return ()
    return (DecodeFinding("bad-column", f"next_run_time column holds {str(value)[:40]!r}"),)


def failed_fields(
    job_id: str,
    column: datetime | None,
    size: int,
    finding: DecodeFinding,
    protocol: int | None,
    notes: tuple[DecodeFinding, ...] = (),
) -> JobFields:
    """The ``JobInfo`` fields of a row that could not be decoded (``notes``: about its
    columns, such as ``bad-column``)."""
    return (job_id, column, size, finding, None, None, None, None, "()", "{}", None, None, None, None, notes, protocol)


def not_decoded(row: Sequence[Any], code: str, message: str) -> JobInfo:
    """The record of a row that was not decoded (``code``: its finding)."""
    from schedtui.core.decode.saferepr import safe_repr

    jid = row[0] if type(row[0]) is str else safe_repr(row[0], max_len=191)
    column = column_time(row[1])
    return JobInfo(
        id=jid,
        next_run_time=column,
        state_size=state_size(row[2]),
        finding=DecodeFinding(code, message),
        notes=column_notes(row[1], column),
        protocol=protocol_of(row[2]),
    )
