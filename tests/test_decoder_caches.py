"""The decoder's per-process memos cannot change a result.

Each memo shared between rows (cron expression texts, zones, shared next-run times and the
same-instant memo, the unpickler's answers per global) is exercised with values that
``==``/``hash`` confuse (``1 == True == 1.0``, the two instants of a DST fold): every row
must decode to exactly what it decodes to in a process with empty memos, whatever was
decoded before it, compared field by field (instants as UTC timestamp AND fold, zones by
name).
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from schedtui.core.decode import DecodeError, jobstate, triggers, zones
from schedtui.core.decode.findings import JobFields
from schedtui.core.model import TriggerSpec
from tests.fixtures.hostile import state_bytes

NY = ZoneInfo("America/New_York")
#: 01:30 on the fall-back night: two instants an hour apart, equal under ``==``.
FOLD0 = datetime(2026, 11, 1, 1, 30, tzinfo=NY)
FOLD1 = FOLD0.replace(fold=1)
EXPR = "apscheduler.triggers.cron.expressions"


def _empty_memos() -> None:
    triggers._VALID_FIELDS.clear()
    jobstate._COLUMN_TIMES.clear()


def _canon(value: object) -> object:
    """A value with every datetime as (UTC timestamp, fold, zone name, wall fields)."""
    if isinstance(value, datetime):
        return ("dt", value.timestamp(), value.fold, zones.zone_name(value.tzinfo), value.replace(tzinfo=None))
    if isinstance(value, tzinfo):
        return ("tz", zones.zone_name(value))
    if isinstance(value, (tuple, list)):
        return tuple(_canon(v) for v in value)
    if isinstance(value, frozenset):
        return ("set", tuple(sorted(map(repr, value))))
    if type(value).__name__ == "TriggerSpec":
        return ("spec", *(_canon(getattr(value, f)) for f in (fl.name for fl in dataclasses.fields(TriggerSpec))))
    return (type(value).__name__, value)


def _alone(row: tuple[str, float | None, bytes]) -> object:
    _empty_memos()
    return _canon(jobstate.safe_fields(*row))


def _in_every_order(rows: list[tuple[str, float | None, bytes]]) -> None:
    alone = {row[0]: _alone(row) for row in rows}
    for order in itertools.permutations(rows):
        _empty_memos()
        for _ in range(2):  # cold, then every memo warm
            for row in order:
                assert _canon(jobstate.safe_fields(*row)) == alone[row[0]], (row[0], [r[0] for r in order])


def _row(job_id: str, column: float | None, **state: Any) -> tuple[str, float | None, bytes]:
    return (job_id, column, state_bytes(id=job_id, **state))


def _cron_with(first: object, last: object) -> CronTrigger:
    trig = CronTrigger(hour=1, minute=0, timezone=NY)
    expr = trig.fields[5].expressions[0]
    expr.first, expr.last = first, last
    return trig


def test_cron_expression_values_1_true_and_1_0_are_told_apart() -> None:
    rows = [
        _row("int", None, trigger=_cron_with(1, 1), next_run_time=None),
        _row("true", None, trigger=_cron_with(True, True), next_run_time=None),
        _row("float", None, trigger=_cron_with(1.0, 1.0), next_run_time=None),
        _row("mixed", None, trigger=_cron_with(1, True), next_run_time=None),
    ]
    _in_every_order(rows)
    _empty_memos()
    found = {row[0]: jobstate.safe_fields(*row)[3] for row in rows}
    assert found["int"] is None
    assert all(f is not None and f.code == "bad-trigger" for k, f in found.items() if k != "int")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("first", "last"), [(1, 1.0), (True, None), (1.0, None), (-1, None), (10_000, 10_000), (1, -1), (None, None)]
)
def test_a_cron_value_that_is_not_an_int_in_range_is_refused_warm_or_cold(first: object, last: object) -> None:
    bad = _row("bad", None, trigger=_cron_with(first, last), next_run_time=None)
    good = _row("good", None, trigger=_cron_with(1, 1), next_run_time=None)
    _empty_memos()
    for row in (bad, good, bad):
        finding = jobstate.safe_fields(*row)[3]
        assert (finding is None) == (row is good), (row[0], finding)
        assert finding is None or finding.code == "bad-trigger"


def test_fold_instants_share_nothing() -> None:
    """Both instants of 01:30 on the fall-back night, as next run times and as date
    triggers, with their own column values and the other's: no row borrows another's."""
    t0, t1 = FOLD0.timestamp(), FOLD1.timestamp()
    assert t1 - t0 == 3600 and FOLD0 == FOLD1
    rows = [
        _row("fold0", t0, trigger=DateTrigger(FOLD0), next_run_time=FOLD0),
        _row("fold1", t1, trigger=DateTrigger(FOLD1), next_run_time=FOLD1),
        _row("fold0-column1", t1, next_run_time=FOLD0),
        _row("utc", t1, next_run_time=FOLD1.astimezone(UTC)),
    ]
    _in_every_order(rows)
    _empty_memos()
    jobs = {row[0]: jobstate.safe_fields(*row) for row in rows}
    assert jobs["fold0"][13].fold == 0 and jobs["fold1"][13].fold == 1  # type: ignore[union-attr]
    assert jobs["fold0"][14] == () and jobs["fold1"][14] == () and jobs["utc"][14] == ()
    assert [n.code for n in jobs["fold0-column1"][14]] == ["next-run-mismatch"]  # type: ignore[union-attr]


def test_repeated_rows_use_the_column_time_memo_exactly() -> None:
    """Many rows with one next run time (the column memo's case), then the other fold."""
    t0 = FOLD0.timestamp()
    rows = [_row(f"j{i}", t0, next_run_time=FOLD0) for i in range(5)]
    rows.append(_row("other-fold", t0, next_run_time=FOLD1))
    _empty_memos()
    out: list[JobFields] = [jobstate.safe_fields(*row) for row in rows + rows]
    assert all(f[14] == () for f in out if f[0] != "other-fold")
    assert all([n.code for n in f[14]] == ["next-run-mismatch"] for f in out if f[0] == "other-fold")  # type: ignore[union-attr]
    assert jobstate._COLUMN_TIMES  # the memo was used


def test_zone_memo_never_skips_validation() -> None:
    assert zones.zone_from_key("Europe/Berlin") is zones.zone_from_key("Europe/Berlin")

    class Key(str):
        pass

    for bad in ("../../etc/passwd", "Europe/../../etc", Key("Europe/Berlin/../x"), "", "a" * 65):
        with pytest.raises(zones.ZoneError):
            zones.zone_from_key(bad)


def test_aware_still_asks_unknown_zone_kinds() -> None:
    class Naive(tzinfo):
        def utcoffset(self, dt: datetime | None) -> timedelta | None:
            return None

    with pytest.raises(DecodeError, match="naive-datetime"):
        triggers.aware(datetime(2026, 1, 1, tzinfo=Naive()), "x")
    for tz in (NY, UTC, zones.PytzZone("Europe/Berlin", 3600, 0, "CET")):
        value = datetime(2026, 1, 1, tzinfo=tz)
        assert triggers.aware(value, "x") is value
