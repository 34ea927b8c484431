"""Fire times from a TriggerSpec must equal the real APScheduler trigger's own sequence.

Each case constructs a REAL APScheduler trigger, derives the ``TriggerSpec`` a decoder
would produce from its state (``spec_of``), and compares ``next_fire_times`` with the
real trigger's ``get_next_fire_time`` sequence (first ``(None, after)``, then
``(previous, previous)``, as the scheduler does after each run).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
from apscheduler.triggers.combining import AndTrigger, OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from hypothesis import given, settings
from hypothesis import strategies as st

from schedtui.core import decode
from schedtui.core.model import CRON_FIELD_NAMES, TriggerSpec
from schedtui.core.schedule import (
    MAX_COUNT,
    build_trigger,
    fire_times,
    following_fire_times,
    next_fire_times,
    resume_next_run_time,
)

UTC = UTC
BERLIN = ZoneInfo("Europe/Berlin")
NY = ZoneInfo("America/New_York")


def _zone_label(tz: object) -> str:
    if tz is UTC:
        return "UTC"
    return getattr(tz, "key", None) or getattr(tz, "zone", None) or tz.tzname(None)  # type: ignore[union-attr]


def spec_of(trigger: object) -> TriggerSpec:
    """The TriggerSpec a decoder produces for a real trigger (from its public state)."""
    if isinstance(trigger, CronTrigger):
        return TriggerSpec(
            kind="cron",
            timezone=_zone_label(trigger.timezone),
            tz=trigger.timezone,
            start_date=trigger.start_date,
            end_date=trigger.end_date,
            jitter=trigger.jitter,
            cron=tuple((f.name, str(f)) for f in trigger.fields),
            cron_explicit=frozenset(f.name for f in trigger.fields if not f.is_default),
        )
    if isinstance(trigger, IntervalTrigger):
        return TriggerSpec(
            kind="interval",
            timezone=_zone_label(trigger.timezone),
            tz=trigger.timezone,
            start_date=trigger.start_date,
            end_date=trigger.end_date,
            jitter=trigger.jitter,
            interval=trigger.interval,
        )
    if isinstance(trigger, DateTrigger):
        tz = trigger.run_date.tzinfo
        return TriggerSpec(kind="date", run_date=trigger.run_date, timezone=_zone_label(tz), tz=tz)
    if isinstance(trigger, CalendarIntervalTrigger):
        state = trigger.__getstate__()
        return TriggerSpec(
            kind="calendarinterval",
            timezone=_zone_label(trigger.timezone),
            tz=trigger.timezone,
            start_date=state["start_date"],
            end_date=state["end_date"],
            jitter=state["jitter"],
            calendar=tuple(state["interval"]),
            calendar_time=tuple(state["time"]),
        )
    if isinstance(trigger, (AndTrigger, OrTrigger)):
        return TriggerSpec(
            kind="and" if isinstance(trigger, AndTrigger) else "or",
            jitter=trigger.jitter,
            children=tuple(spec_of(c) for c in trigger.triggers),
        )
    raise TypeError(trigger)


def cron_spec(tz: str = "UTC", **fields: str) -> TriggerSpec:
    """A hand-made cron spec (all eight fields, like a decoded pickle)."""
    return TriggerSpec(
        kind="cron",
        timezone=tz,
        tz=UTC if tz == "UTC" else ZoneInfo(tz),
        cron=tuple((name, fields.get(name, "*")) for name in CRON_FIELD_NAMES),
        cron_explicit=frozenset(fields),
    )


def real_sequence(trigger: object, after: datetime, count: int = 10) -> list[datetime]:
    out: list[datetime] = []
    current = trigger.get_next_fire_time(None, after)  # type: ignore[attr-defined]
    while current is not None and len(out) < count:
        out.append(current)
        current = trigger.get_next_fire_time(current, current)  # type: ignore[attr-defined]
    return out


def assert_same(ours: list[datetime], theirs: list[datetime]) -> None:
    assert ours == theirs
    # Same instants AND the same wall clock/offset (fold) in the trigger's zone.
    assert [(t.replace(tzinfo=None), t.utcoffset()) for t in ours] == [
        (t.replace(tzinfo=None), t.utcoffset()) for t in theirs
    ]


def d(*args: int, tz: object = UTC) -> datetime:
    return datetime(*args, tzinfo=tz)  # type: ignore[arg-type]


CASES: list[tuple[str, object, datetime]] = [
    # --- cron, DST in Europe/Berlin (2026-03-29 02:00->03:00, 2026-10-25 03:00->02:00)
    ("berlin-0230-spring-gap", CronTrigger(hour=2, minute=30, timezone=BERLIN), d(2026, 3, 25)),
    ("berlin-0230-autumn-fold", CronTrigger(hour=2, minute=30, timezone=BERLIN), d(2026, 10, 21)),
    ("berlin-hourly-autumn", CronTrigger(minute=0, timezone=BERLIN), d(2026, 10, 24, 22, 30)),
    ("berlin-hourly-spring", CronTrigger(minute=15, timezone=BERLIN), d(2026, 3, 28, 22, 30)),
    ("berlin-last-sun-0230", CronTrigger(day="last sun", hour=2, minute=30, timezone=BERLIN), d(2026, 1, 1)),
    ("berlin-weekdays-0900", CronTrigger(day_of_week="mon-fri", hour=9, timezone=BERLIN), d(2026, 3, 26)),
    # --- cron, DST in America/New_York (2026-03-08, 2026-11-01)
    ("ny-every-30min-spring", CronTrigger(minute="*/30", timezone=NY), d(2026, 3, 8, 5)),
    ("ny-every-30min-autumn", CronTrigger(minute="*/30", timezone=NY), d(2026, 11, 1, 4)),
    ("ny-0130-fold", CronTrigger(hour=1, minute=30, timezone=NY), d(2026, 10, 29)),
    ("ny-0230-gap", CronTrigger(hour=2, minute=30, timezone=NY), d(2026, 3, 5)),
    ("ny-every-2h", CronTrigger(hour="*/2", timezone=NY), d(2026, 10, 31, 20)),
    # --- month ends and leap years
    ("last-day", CronTrigger(day="last", hour=23, minute=59, timezone=UTC), d(2027, 11, 15)),
    ("day-31", CronTrigger(day=31, hour=12, timezone=UTC), d(2026, 1, 1)),
    ("day-30-feb-skip", CronTrigger(day="29-31", hour=0, timezone=UTC), d(2027, 1, 15)),
    ("feb-29", CronTrigger(month=2, day=29, hour=6, timezone=UTC), d(2026, 3, 2)),
    ("last-of-feb-leap", CronTrigger(month=2, day="last", timezone=BERLIN), d(2026, 3, 2)),
    # --- positional weekdays
    ("2nd-fri", CronTrigger(day="2nd fri", hour=9, timezone=UTC), d(2026, 1, 1)),
    ("last-fri", CronTrigger(day="last fri", hour=17, timezone=BERLIN), d(2026, 1, 1)),
    ("5th-mon", CronTrigger(day="5th mon", timezone=UTC), d(2026, 1, 1)),
    ("1st-and-3rd-wed", CronTrigger(day="1st wed,3rd wed", hour=8, timezone=NY), d(2026, 2, 1)),
    # --- weekday numbering, steps, week numbers, years
    ("dow-step-2", CronTrigger(day_of_week="*/2", hour=6, timezone=UTC), d(2026, 3, 2)),
    ("dow-6-is-sunday", CronTrigger(day_of_week="6", hour=6, timezone=UTC), d(2026, 3, 2)),
    ("dow-and-day", CronTrigger(day="1-7", day_of_week="mon", hour=9, timezone=UTC), d(2026, 1, 1)),
    ("week-odd", CronTrigger(week="*/2", day_of_week="mon", hour=9, timezone=UTC), d(2026, 1, 1)),
    ("week-53", CronTrigger(week=53, day_of_week="thu", timezone=UTC), d(2026, 1, 1)),
    ("week-1-range", CronTrigger(week="1-2", day_of_week="sat,sun", hour=10, timezone=BERLIN), d(2026, 12, 1)),
    ("year-range-finite", CronTrigger(year="2026-2028", month="*/4", day=1, timezone=UTC), d(2026, 3, 2)),
    ("year-list", CronTrigger(year="2027,2030", month="jan", day=1, timezone=UTC), d(2026, 3, 2)),
    (
        "year-end-rollover",
        CronTrigger(month=12, day=31, hour=23, minute=59, second="*/20", timezone=UTC),
        d(2026, 12, 31, 23, 58),
    ),
    ("seconds", CronTrigger(second="*/7", timezone=UTC), d(2026, 3, 2, 12, 0, 50)),
    ("minute-list", CronTrigger(minute="5,35", hour="9-10", timezone=BERLIN), d(2026, 3, 2)),
    ("month-names", CronTrigger(month="mar-may,nov", day=15, timezone=NY), d(2026, 3, 2)),
    (
        "start-end",
        CronTrigger(hour=2, start_date=d(2026, 3, 10), end_date=d(2026, 3, 15, 2), timezone=BERLIN),
        d(2026, 3, 2),
    ),
    ("never", CronTrigger(year=2025, timezone=UTC), d(2026, 3, 2)),
    # --- intervals (the start date anchors them)
    ("interval-6h-dst", IntervalTrigger(hours=6, start_date=d(2026, 1, 1, tz=BERLIN), timezone=BERLIN), d(2026, 3, 28)),
    ("interval-1d-dst", IntervalTrigger(days=1, start_date=d(2026, 10, 1, 9, tz=NY), timezone=NY), d(2026, 10, 28)),
    ("interval-future-start", IntervalTrigger(minutes=90, start_date=d(2026, 4, 1, 8, 7), timezone=UTC), d(2026, 3, 2)),
    (
        "interval-45s",
        IntervalTrigger(seconds=45, start_date=d(2026, 3, 2, 11, 59, 59), timezone=UTC),
        d(2026, 3, 2, 12),
    ),
    (
        "interval-end",
        IntervalTrigger(hours=1, start_date=d(2026, 3, 2, 9), end_date=d(2026, 3, 2, 15), timezone=UTC),
        d(2026, 3, 2, 12),
    ),
    ("interval-odd-ms", IntervalTrigger(seconds=0.25, start_date=d(2026, 3, 2), timezone=UTC), d(2026, 3, 2, 0, 0, 1)),
    # --- date
    ("date-future", DateTrigger(d(2026, 3, 5, 14, tz=BERLIN)), d(2026, 3, 2)),
    ("date-past", DateTrigger(d(2026, 1, 5, 14)), d(2026, 3, 2)),
    # --- calendar intervals
    (
        "cal-2-months",
        CalendarIntervalTrigger(months=2, hour=9, start_date="2026-01-01", timezone=BERLIN),
        d(2026, 1, 1),
    ),
    ("cal-month-31st", CalendarIntervalTrigger(months=1, start_date="2026-01-31", timezone=UTC), d(2026, 1, 1)),
    ("cal-leap-year", CalendarIntervalTrigger(years=1, hour=6, start_date="2028-02-29", timezone=UTC), d(2026, 1, 1)),
    (
        "cal-weekly-dst-gap",
        CalendarIntervalTrigger(weeks=1, hour=2, minute=30, start_date="2026-03-01", timezone=BERLIN),
        d(2026, 3, 1),
    ),
    (
        "cal-daily-fold",
        CalendarIntervalTrigger(days=1, hour=1, minute=30, start_date="2026-10-28", end_date="2026-11-03", timezone=NY),
        d(2026, 10, 1),
    ),
    # --- combinations
    (
        "or-cron-interval",
        OrTrigger(
            [CronTrigger(hour=2, timezone=UTC), IntervalTrigger(hours=5, start_date=d(2026, 3, 1), timezone=UTC)]
        ),
        d(2026, 3, 2),
    ),
    (
        "or-crons",
        OrTrigger(
            [CronTrigger(day_of_week="mon", hour=9, timezone=BERLIN), CronTrigger(day="last", hour=18, timezone=BERLIN)]
        ),
        d(2026, 3, 2),
    ),
    (
        "and-agreeing",
        AndTrigger(
            [
                CronTrigger(day_of_week="mon", hour=9, timezone=BERLIN),
                CalendarIntervalTrigger(weeks=1, hour=9, start_date="2026-03-02", timezone=BERLIN),
            ]
        ),
        d(2026, 3, 1),
    ),
    (
        "or-of-and",
        OrTrigger(
            [
                # Children must agree after every run, or the real AndTrigger hangs (below).
                AndTrigger(
                    [
                        CronTrigger(day_of_week="mon-fri", hour=9, timezone=UTC),
                        CronTrigger(day_of_week="0-4", hour="9", minute="0", second="0", timezone=UTC),
                    ]
                ),
                CronTrigger(hour=23, minute=30, timezone=UTC),
            ]
        ),
        d(2026, 3, 2),
    ),
]


@pytest.mark.parametrize(("trigger", "after"), [(t, a) for _, t, a in CASES], ids=[c[0] for c in CASES])
def test_matches_real_trigger(trigger: object, after: datetime) -> None:
    spec = spec_of(trigger)
    ours = next_fire_times(spec, after, 10)
    assert_same(ours, real_sequence(trigger, after, 10))


def test_matrix_mostly_yields_ten_items() -> None:
    """Guard against a silently empty matrix: nearly every case lists 10 fire times."""
    short = [name for name, t, a in CASES if len(real_sequence(t, a)) < 10]
    assert set(short) <= {
        "year-range-finite",
        "year-list",
        "start-end",
        "never",
        "interval-end",
        "date-future",
        "date-past",
        "cal-daily-fold",
    }


def test_finished_triggers_report_it() -> None:
    spec = spec_of(CronTrigger(year="2026-2028", month="*/4", day=1, timezone=UTC))
    result = fire_times(spec, d(2026, 3, 2), 50)
    assert len(result.times) == 8 and result.finished and not result.stalled
    assert next_fire_times(spec_of(CronTrigger(year=2025, timezone=UTC)), d(2026, 3, 2)) == []
    assert next_fire_times(spec_of(DateTrigger(d(2026, 1, 5))), d(2026, 3, 2)) == [d(2026, 1, 5)]


def test_and_trigger_that_apscheduler_never_finishes_stalls_instead_of_hanging() -> None:
    """APScheduler 3.11's AndTrigger loops forever once children disagree after a run.

    mon-fri 09:00 AND daily 09:00: after Friday's run one child proposes Saturday, the
    other Monday; with a previous fire time both keep proposing the same times, so
    ``AndTrigger.get_next_fire_time`` never returns. We stop and report ``stalled``.
    """
    weekdays = CronTrigger(day_of_week="mon-fri", hour=9, timezone=UTC)
    daily = CronTrigger(hour=9, timezone=UTC)
    result = fire_times(spec_of(AndTrigger([weekdays, daily])), d(2026, 3, 2), 10)
    assert result.stalled
    assert result.times == (d(2026, 3, 2, 9), d(2026, 3, 3, 9), d(2026, 3, 4, 9), d(2026, 3, 5, 9), d(2026, 3, 6, 9))
    # Why the real trigger hangs: from Friday's run the children's proposals are a fixed point.
    friday = d(2026, 3, 6, 9)
    first = [t.get_next_fire_time(friday, friday) for t in (weekdays, daily)]
    again = [t.get_next_fire_time(friday, max(first)) for t in (weekdays, daily)]
    assert first == again and first[0] != first[1]
    # The first fire time (no previous run) still agrees with the real trigger.
    real = AndTrigger([weekdays, daily])
    assert next_fire_times(spec_of(real), d(2026, 3, 2), 1) == [real.get_next_fire_time(None, d(2026, 3, 2))]


def test_count_bounds() -> None:
    spec = cron_spec(second="*")
    assert next_fire_times(spec, d(2026, 3, 2), 0) == []
    assert len(next_fire_times(spec, d(2026, 3, 2), 10**9)) == MAX_COUNT


def test_build_trigger_uses_real_classes_and_is_cached() -> None:
    spec = cron_spec("Europe/Berlin", hour="2", minute="0", second="0")
    trigger = build_trigger(spec)
    assert isinstance(trigger, CronTrigger)
    assert (
        str(trigger)
        == "cron[year='*', month='*', day='*', week='*', day_of_week='*', hour='2', minute='0', second='0']"
    )
    assert build_trigger(spec) is trigger
    assert build_trigger(spec, jitter=False) is not trigger  # cached separately
    combo = TriggerSpec(kind="or", children=(spec, cron_spec(minute="*/5")))
    assert isinstance(build_trigger(combo), OrTrigger)


def test_pytz_zone_is_used_the_way_apscheduler_uses_it() -> None:
    pytz = pytest.importorskip("pytz")
    berlin = pytz.timezone("Europe/Berlin")
    start = berlin.localize(datetime(2026, 3, 27, 0, 0))
    spec = TriggerSpec(
        kind="interval", timezone="Europe/Berlin", tz=berlin, start_date=start, interval=timedelta(hours=12)
    )
    real = IntervalTrigger(hours=12, start_date=start, timezone=berlin)
    assert_same(next_fire_times(spec, d(2026, 3, 28), 6), real_sequence(real, d(2026, 3, 28), 6))


def test_interval_without_start_date_is_anchored_one_interval_after() -> None:
    spec = TriggerSpec(kind="interval", timezone="UTC", tz=UTC, interval=timedelta(minutes=10))
    after = d(2026, 3, 2, 12)
    assert next_fire_times(spec, after, 3) == [after + timedelta(minutes=m) for m in (10, 20, 30)]


@pytest.mark.parametrize(
    "spec",
    [
        cron_spec(hour="25"),
        cron_spec(day="5th xyz"),
        TriggerSpec(kind="cron", timezone="UTC", tz=UTC, cron=(("hour", "2"), ("bogus", "1"))),
        TriggerSpec(kind="cron", timezone="UTC", tz=UTC),
        TriggerSpec(kind="interval", timezone="UTC", tz=UTC, interval=timedelta(0), start_date=d(2026, 1, 1)),
        TriggerSpec(kind="interval", timezone="UTC", tz=UTC, interval=timedelta(seconds=-5), start_date=d(2026, 1, 1)),
        TriggerSpec(kind="date", run_date=datetime(2026, 1, 1)),
        TriggerSpec(kind="date"),
        TriggerSpec(
            kind="calendarinterval",
            timezone="UTC",
            tz=UTC,
            calendar=(0, 0, 0, 0),
            calendar_time=(9, 0, 0),
            start_date=date(2026, 1, 1),
        ),  # type: ignore[arg-type]
        TriggerSpec(kind="and"),
        TriggerSpec(kind="cron", cron=cron_spec(hour="2").cron),  # no time zone at all
        TriggerSpec(kind="weird"),  # type: ignore[arg-type]
    ],
    ids=[
        "hour-25",
        "bad-position",
        "unknown-field",
        "no-fields",
        "zero-interval",
        "negative-interval",
        "naive-date",
        "no-date",
        "zero-calendar",
        "empty-and",
        "no-zone",
        "unknown-kind",
    ],
)
def test_invalid_specs_raise_value_error(spec: TriggerSpec) -> None:
    with pytest.raises(ValueError):
        next_fire_times(spec, d(2026, 3, 2))


def test_naive_after_is_rejected() -> None:
    with pytest.raises(ValueError):
        next_fire_times(cron_spec(hour="2"), datetime(2026, 3, 2))


def test_resume_next_run_time_is_what_resume_job_computes() -> None:
    now = d(2026, 3, 2, 12)
    for _, trigger, _after in CASES:
        if isinstance(trigger, AndTrigger):
            continue
        spec = spec_of(trigger)
        assert resume_next_run_time(spec, now) == trigger.get_next_fire_time(None, now)  # type: ignore[attr-defined]
    finished = spec_of(CronTrigger(year=2025, timezone=UTC))
    assert resume_next_run_time(finished, now) is None  # APScheduler removes the job


def test_resume_applies_jitter_like_apscheduler() -> None:
    spec = spec_of(CronTrigger(hour=2, timezone=UTC, jitter=30))
    now = d(2026, 3, 2, 12)
    base = d(2026, 3, 3, 2)
    assert resume_next_run_time(spec, now, jitter=False) == base
    for _ in range(20):
        value = resume_next_run_time(spec, now)
        assert value is not None and base <= value <= base + timedelta(seconds=30)
    # Listings ignore jitter: deterministic.
    assert next_fire_times(spec, now, 2) == [base, base + timedelta(days=1)]


def test_following_fire_times_starts_at_the_stored_next_run_time() -> None:
    spec = spec_of(CronTrigger(minute="*/15", timezone=UTC))
    first = d(2026, 3, 2, 11, 45)
    assert following_fire_times(spec, first, 3) == [first, d(2026, 3, 2, 12), d(2026, 3, 2, 12, 15)]


# --- property: random cron expressions agree with the real trigger ---------------------

_NUM = {"month": (1, 12), "day": (1, 31), "hour": (0, 23), "minute": (0, 59), "second": (0, 59), "week": (1, 53)}


@st.composite
def _expr(draw: st.DrawFn, field: str) -> str:
    if field == "day_of_week":
        names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        a, b = sorted(draw(st.lists(st.integers(0, 6), min_size=2, max_size=2)))
        return draw(
            st.sampled_from(
                [
                    "*",
                    names[a],
                    f"{names[a]}-{names[b]}",
                    f"{a}-{b}",
                    f"*/{draw(st.integers(2, 3))}",
                    f"{names[a]},{names[b]}",
                ]
            )
        )
    if field == "year":
        return draw(st.sampled_from(["*", "2026", "2026-2030", "*/2", "2027,2029"]))
    low, high = _NUM[field]
    a, b = sorted(draw(st.lists(st.integers(low, high), min_size=2, max_size=2)))
    options = [
        "*",
        str(a),
        f"{a}-{b}",
        f"*/{draw(st.integers(2, 6))}",
        f"{a},{b}",
        f"{a}-{high}/{draw(st.integers(2, 4))}",
    ]
    if field == "day":
        options += ["last", "2nd fri", "last sun", "1st mon,last fri"]
    return draw(st.sampled_from(options))


@st.composite
def _cron_kwargs(draw: st.DrawFn) -> dict[str, str]:
    chosen = draw(st.sets(st.sampled_from(list(CRON_FIELD_NAMES)), min_size=1, max_size=4))
    return {name: draw(_expr(name)) for name in chosen}


@settings(max_examples=120, deadline=None)
@given(
    kwargs=_cron_kwargs(),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]),
    after=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2029, 12, 31)),
)
def test_random_cron_matches_real_trigger(kwargs: dict[str, str], zone: str, after: datetime) -> None:
    after_utc = after.replace(tzinfo=UTC)
    # An end date keeps APScheduler from scanning to year 9999 for impossible combinations
    # (seconds per call); both sides compute with it.
    end = datetime(after.year + 60, 1, 1, tzinfo=UTC)
    try:
        trigger = CronTrigger(**kwargs, timezone=zone, end_date=end)
    except ValueError:
        return  # APScheduler rejects the combination itself (e.g. step larger than range)
    assert_same(next_fire_times(spec_of(trigger), after_utc, 10), real_sequence(trigger, after_utc, 10))


def test_impossible_cron_ends_within_the_horizon() -> None:
    """APScheduler scans to year 9999 for these (seconds per call); listings stop at the horizon."""
    for kwargs in ({"week": 53, "month": 3}, {"day": "5th mon", "day_of_week": "tue"}, {"week": "1", "day": "15"}):
        result = fire_times(spec_of(CronTrigger(**kwargs, timezone=UTC)), d(2026, 3, 2), 10)  # type: ignore[arg-type]
        assert result.times == () and result.finished
    # A far (but reachable) year is still found.
    assert next_fire_times(spec_of(CronTrigger(year=2120, timezone=UTC)), d(2026, 3, 2)) == [d(2120, 1, 1)]


# --- integration: decoded fixture stores ------------------------------------------------


def _store_params() -> list[object]:
    from tests.fixtures.factory import old_stores

    params: list[object] = [pytest.param(None, id="3.11-catalog")]
    params += [pytest.param(label, id=label) for label, _db, _man in old_stores()]
    return params


def _has_jitter(spec: TriggerSpec) -> bool:
    return bool(spec.jitter) or any(_has_jitter(c) for c in spec.children)


@pytest.mark.parametrize("label", _store_params())
def test_decoded_fixture_rows_fire_like_the_apscheduler_that_wrote_them(label: str | None) -> None:
    """Rows written by real APScheduler (3.11 and, when prepared, 3.6-3.10), decoded by
    schedtui: the fire times after the stored next run equal those the writing
    APScheduler computed (manifest); 3.11 also gives the same zone representation."""
    import sqlite3

    from tests.fixtures.factory import cached_sqlite_store, old_stores

    if label is None:
        db, manifest = cached_sqlite_store("catalog")
    else:
        db, manifest = next((d, m) for lbl, d, m in old_stores() if lbl == label)
    expected = {job["id"]: job["fire_times"] for job in manifest["jobs"]}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("select id, next_run_time, job_state from apscheduler_jobs").fetchall()
    compared = 0
    for row in rows:
        job = decode.decode_row(*row)
        if job.finding is not None or job.trigger is None:
            continue
        spec = job.trigger
        first = job.state_next_run_time or job.next_run_time
        # Jitter is random; combined triggers are listed differently by the manifest.
        if first is None or spec.kind in ("and", "or") or _has_jitter(spec):
            continue
        want = [datetime.fromisoformat(x) for x in expected[job.id]]
        got = following_fire_times(spec, first, len(want))
        assert [t.timestamp() for t in got] == [t.timestamp() for t in want], job.id
        if label is None:
            assert [t.utcoffset() for t in got] == [t.utcoffset() for t in want], job.id
        compared += 1
    assert compared >= 25
