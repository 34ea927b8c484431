"""Trigger descriptions, countdowns and time formatting."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
from apscheduler.triggers.combining import AndTrigger, OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from schedtui.core import decode
from schedtui.core import describe as describe_module
from schedtui.core.describe import (
    countdown,
    describe_trigger,
    format_duration,
    format_when,
    technical_description,
)
from schedtui.core.model import TriggerSpec
from tests.test_schedule import cron_spec, spec_of

UTC = UTC
BERLIN = ZoneInfo("Europe/Berlin")
NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
#: Interval start dates are not part of the sentence (APScheduler always sets one).
DEFAULT_START = datetime(2026, 3, 2, 18, 0, 3, 123456, tzinfo=UTC)


def iv(**kw: object) -> IntervalTrigger:
    kw.setdefault("start_date", DEFAULT_START)
    kw.setdefault("timezone", UTC)
    return IntervalTrigger(**kw)  # type: ignore[arg-type]


TABLE: list[tuple[object, str]] = [
    # --- the seed's three jobs
    (CronTrigger(hour=2, minute=0, timezone=UTC), "Daily at 2:00 AM UTC"),
    (iv(hours=6), "Every 6 hours"),
    (CronTrigger(day_of_week="mon", hour=9, minute=0, timezone=UTC), "Weekly on Monday at 9:00 AM UTC"),
    # --- intervals
    (iv(seconds=45), "Every 45 seconds"),
    (iv(seconds=90), "Every 90 seconds"),
    (iv(minutes=1), "Every minute"),
    (iv(minutes=30), "Every 30 minutes"),
    (iv(minutes=90), "Every 90 minutes"),
    (iv(hours=1), "Every hour"),
    (iv(hours=36), "Every 36 hours"),
    (iv(days=1), "Every day"),
    (iv(days=3), "Every 3 days"),
    (iv(weeks=2), "Every 2 weeks"),
    (iv(seconds=3725), "Every 1 hour 2 minutes 5 seconds"),
    (iv(seconds=1.5), "Every 1.5 seconds"),
    # --- cron: sub-daily
    (CronTrigger(minute=15, timezone=UTC), "Hourly at :15"),
    (CronTrigger(minute=15, second=30, timezone=UTC), "Hourly at :15:30"),
    (CronTrigger(minute="*/5", timezone=UTC), "Every 5 minutes"),
    (CronTrigger(second="*/10", timezone=UTC), "Every 10 seconds"),
    (CronTrigger(minute="*", timezone=UTC), "Every minute"),
    (CronTrigger(timezone=UTC), "Every second"),
    (CronTrigger(hour="*/6", timezone=UTC), "Every 6 hours at :00 UTC"),
    (CronTrigger(hour="9-17", timezone=BERLIN), "Hourly at :00 from 9:00 AM to 5:00 PM Europe/Berlin"),
    (CronTrigger(hour="8-20/2", timezone=UTC), "Every 2 hours at :00 from 8:00 AM to 8:00 PM UTC"),
    (CronTrigger(hour="*/5", timezone=UTC), "Every 5 hours at :00 from 12:00 AM to 8:00 PM UTC"),
    (
        CronTrigger(hour="1,13", minute="0,15,30,45", timezone=UTC),
        "Daily at :00, :15, :30 and :45 in the 1 AM and 1 PM hours UTC",
    ),
    (CronTrigger(hour=9, minute="0,30", timezone=BERLIN), "Daily at 9:00 AM and 9:30 AM Europe/Berlin"),
    (
        CronTrigger(day_of_week="mon-fri", hour="8-18", timezone=UTC),
        "Weekdays, hourly at :00 from 8:00 AM to 6:00 PM UTC",
    ),
    (CronTrigger(day_of_week="mon-fri", minute=30, timezone=UTC), "Weekdays, hourly at :30 UTC"),
    (CronTrigger(month=12, day=25, hour="*/6", timezone=UTC), "Yearly on December 25, every 6 hours at :00 UTC"),
    # --- cron: daily and weekly
    (CronTrigger(hour=0, timezone=UTC), "Daily at 12:00 AM UTC"),
    (CronTrigger(hour=12, minute=30, timezone=BERLIN), "Daily at 12:30 PM Europe/Berlin"),
    (CronTrigger(hour=23, minute=5, second=9, timezone=NY), "Daily at 11:05:09 PM America/New_York"),
    (CronTrigger(hour="9,17", timezone=UTC), "Daily at 9:00 AM and 5:00 PM UTC"),
    (CronTrigger(day_of_week="mon-fri", hour=9, minute=30, timezone=BERLIN), "Weekdays at 9:30 AM Europe/Berlin"),
    (CronTrigger(day_of_week="0-4", hour=9, timezone=UTC), "Weekdays at 9:00 AM UTC"),
    (CronTrigger(day_of_week="sat,sun", hour=10, timezone=UTC), "Weekends at 10:00 AM UTC"),
    (CronTrigger(day_of_week="6", hour=1, timezone=UTC), "Weekly on Sunday at 1:00 AM UTC"),
    (CronTrigger(day_of_week="mon", timezone=UTC), "Weekly on Monday at 12:00 AM UTC"),
    (
        CronTrigger(day_of_week="mon,wed,fri", hour=7, timezone=UTC),
        "Weekly on Monday, Wednesday and Friday at 7:00 AM UTC",
    ),
    (
        CronTrigger(day_of_week="*/2", hour=6, timezone=UTC),
        "Weekly on Monday, Wednesday, Friday and Sunday at 6:00 AM UTC",
    ),
    (CronTrigger(day_of_week="tue-thu", hour=6, timezone=UTC), "Weekly on Tuesday through Thursday at 6:00 AM UTC"),
    # --- cron: monthly and yearly
    (CronTrigger(day=15, hour=8, timezone=UTC), "Monthly on day 15 at 8:00 AM UTC"),
    (CronTrigger(day="last", hour=23, minute=59, timezone=UTC), "Monthly on the last day at 11:59 PM UTC"),
    (CronTrigger(day="2nd fri", hour=9, timezone=BERLIN), "Monthly on the second Friday at 9:00 AM Europe/Berlin"),
    (CronTrigger(day="last fri", hour=17, timezone=UTC), "Monthly on the last Friday at 5:00 PM UTC"),
    (CronTrigger(day="1,15", hour=6, timezone=UTC), "Monthly on day 1 or day 15 at 6:00 AM UTC"),
    (CronTrigger(month=3, day=5, hour=9, timezone=UTC), "Yearly on March 5 at 9:00 AM UTC"),
    # --- cron: week numbers and years (not expressible in cron-descriptor)
    (CronTrigger(week=10, hour=9, timezone=UTC), "Daily at 9:00 AM UTC, in ISO week 10"),
    (CronTrigger(week="1-26,40", hour=9, timezone=UTC), "Daily at 9:00 AM UTC, in ISO weeks 1\u201326 and 40"),
    (
        CronTrigger(week="*/2", day_of_week="mon", hour=9, timezone=UTC),
        "Weekly on Monday at 9:00 AM UTC, in every 2nd ISO week from week 1",
    ),
    (CronTrigger(year="2026,2028", hour=3, timezone=UTC), "Daily at 3:00 AM UTC, in 2026 and 2028"),
    (
        CronTrigger(year="*/2", month=1, day=1, timezone=UTC),
        "Yearly on January 1 at 12:00 AM UTC, in every 2nd year from 1970",
    ),
    # --- general cron through cron-descriptor (plus our own weekday/position wording)
    (
        CronTrigger(minute="*/15", hour="9-17", day_of_week="mon-fri", timezone=BERLIN),
        "Every 15 minutes, between 9:00 AM and 5:59 PM, only on weekdays (Europe/Berlin)",
    ),
    (
        CronTrigger(day="1-7", day_of_week="mon", hour=9, timezone=UTC),
        "At 9:00 AM, between day 1 and 7 of the month, only on Monday (UTC)",
    ),
    (
        CronTrigger(month="*/3", day=1, hour=0, timezone=UTC),
        "At 12:00 AM, on day 1 of the month, every 3 months (UTC)",
    ),
    (
        CronTrigger(year="2026-2028", month="jan-mar", day=1, timezone=UTC),
        "At 12:00 AM, on day 1 of the month, January through March, in 2026\u20132028 (UTC)",
    ),
    (
        CronTrigger(year=2027, month=6, day="last", hour=12, timezone=UTC),
        "At 12:00 PM, on the last day of the month, only in June, in 2027 (UTC)",
    ),
    (
        CronTrigger(month="jan,jul", day="3rd wed", hour=1, timezone=UTC),
        "At 1:00 AM, only in January and July, on the third Wednesday of the month (UTC)",
    ),
    (CronTrigger(minute="5,35", timezone=UTC), "At 5 and 35 minutes past the hour"),
    # from_crontab keeps APScheduler's weekday numbers: crontab "1-5" runs Tuesday to Saturday.
    (
        CronTrigger.from_crontab("0 */4 * * 1-5", timezone=UTC),
        "Weekly on Tuesday through Saturday, every 4 hours at :00 UTC",
    ),
    (CronTrigger(second=30, timezone=UTC), "At 30 seconds past the minute"),
    # --- date
    (DateTrigger(datetime(2026, 3, 5, 14, 0, tzinfo=UTC)), "Once at 2026-03-05 14:00 UTC"),
    (DateTrigger(datetime(2026, 3, 5, 14, 0, 30), timezone=BERLIN), "Once at 2026-03-05 14:00:30 Europe/Berlin"),
    # --- calendar intervals
    (
        CalendarIntervalTrigger(months=2, hour=9, start_date="2026-01-01", timezone=BERLIN),
        "Every 2 months on day 1 at 9:00 AM Europe/Berlin",
    ),
    (
        CalendarIntervalTrigger(months=1, hour=6, start_date="2026-01-31", timezone=UTC),
        "Every month on day 31 at 6:00 AM UTC",
    ),
    (
        CalendarIntervalTrigger(years=1, hour=9, start_date="2026-03-05", timezone=UTC),
        "Every year on March 5 at 9:00 AM UTC",
    ),
    (
        CalendarIntervalTrigger(weeks=2, hour=9, start_date="2026-03-02", timezone=BERLIN),
        "Every 2 weeks on Monday at 9:00 AM Europe/Berlin",
    ),
    (
        CalendarIntervalTrigger(days=14, hour=9, start_date="2026-03-03", timezone=UTC),
        "Every 2 weeks on Tuesday at 9:00 AM UTC",
    ),
    (CalendarIntervalTrigger(days=1, hour=9, start_date="2026-03-02", timezone=UTC), "Every day at 9:00 AM UTC"),
    (
        CalendarIntervalTrigger(days=3, hour=9, start_date="2026-03-02", timezone=NY),
        "Every 3 days at 9:00 AM America/New_York, from 2026-03-02",
    ),
    # --- start, end, jitter
    (
        iv(hours=1, start_date=datetime(2026, 1, 1, tzinfo=UTC), end_date=datetime(2026, 6, 30, tzinfo=UTC), jitter=30),
        "Every hour, until 2026-06-30 UTC, \u00b130 s jitter",
    ),
    (
        CronTrigger(hour=2, start_date=datetime(2026, 1, 1, tzinfo=BERLIN), end_date="2026-06-30", timezone=BERLIN),
        "Daily at 2:00 AM Europe/Berlin, from 2026-01-01 until 2026-06-30",
    ),
    (
        CronTrigger(hour=2, end_date=datetime(2026, 6, 30, 12, 30, tzinfo=UTC), timezone=BERLIN, jitter=120),
        "Daily at 2:00 AM Europe/Berlin, until 2026-06-30 14:30, \u00b1120 s jitter",
    ),
    (
        CalendarIntervalTrigger(days=1, hour=9, start_date="2026-03-02", end_date="2026-12-31", timezone=UTC, jitter=5),
        "Every day at 9:00 AM UTC, until 2026-12-31, \u00b15 s jitter",
    ),
    # --- combinations
    (
        OrTrigger([CronTrigger(hour=2, timezone=UTC), iv(hours=6)]),
        "Daily at 2:00 AM UTC or every 6 hours",
    ),
    (
        AndTrigger(
            [CronTrigger(day_of_week="mon-fri", hour=9, timezone=UTC), CronTrigger(day="1-7", hour=9, timezone=UTC)]
        ),
        "Weekdays at 9:00 AM UTC and monthly on days 1\u20137 at 9:00 AM UTC",
    ),
    (
        AndTrigger(
            [
                CronTrigger(day_of_week="mon-fri", hour=9, timezone=UTC),
                OrTrigger([CronTrigger(day="1-7", timezone=UTC), CronTrigger(day="last", timezone=UTC)]),
            ],
            jitter=10,
        ),
        "Weekdays at 9:00 AM UTC and (monthly on days 1\u20137 at 12:00 AM UTC or monthly on the last day at 12:00 AM UTC), "
        "\u00b110 s jitter",
    ),
]


@pytest.mark.parametrize(("trigger", "expected"), TABLE, ids=[str(t) for t, _ in TABLE])
def test_describe_table(trigger: object, expected: str) -> None:
    assert describe_trigger(spec_of(trigger)) == expected


def test_described_from_a_pytz_zone() -> None:
    pytz = pytest.importorskip("pytz")
    berlin = pytz.timezone("Europe/Berlin")
    spec = TriggerSpec(
        kind="cron",
        timezone="Europe/Berlin",
        tz=berlin,
        start_date=berlin.localize(datetime(2026, 1, 1)),
        cron=cron_spec(hour="2", minute="0", second="0").cron,
    )
    assert describe_trigger(spec) == "Daily at 2:00 AM Europe/Berlin, from 2026-01-01"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (cron_spec(hour="25"), "cron[hour='25']"),
        (cron_spec(day="5th xyz", hour="2"), "cron[day='5th xyz', hour='2']"),
        (TriggerSpec(kind="interval"), "interval[None]"),
        (TriggerSpec(kind="date"), "date[None]"),
        (TriggerSpec(kind="and"), "and[]"),
        (TriggerSpec(kind="weird"), "weird trigger"),  # type: ignore[arg-type]
        (TriggerSpec(kind="calendarinterval", calendar=(1, 2)), "trigger"),  # type: ignore[arg-type]
    ],
)
def test_never_raises_falls_back_to_technical(spec: TriggerSpec, expected: str) -> None:
    assert describe_trigger(spec) == expected


def test_technical_description_matches_apscheduler_str() -> None:
    for trigger in (CronTrigger(hour=2, minute=0, timezone=UTC), CronTrigger(day="last fri", timezone=UTC)):
        assert technical_description(spec_of(trigger)) == str(trigger)


@pytest.fixture
def fresh_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty description memo (earlier tests may have left it paused)."""
    monkeypatch.setattr(describe_module, "_MEMO", describe_module._Memo())


@pytest.mark.usefixtures("fresh_memo")
def test_descriptions_are_cached_per_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real = describe_module._describe
    monkeypatch.setattr(describe_module, "_describe", lambda spec: calls.append(spec) or real(spec))
    spec = spec_of(CronTrigger(hour=4, minute=44, second=17, timezone=BERLIN))
    first = describe_trigger(spec)
    for _ in range(100):
        # An equal spec (as 100,000 decoded jobs sharing one schedule produce) hits the cache.
        assert describe_trigger(spec_of(CronTrigger(hour=4, minute=44, second=17, timezone=BERLIN))) == first
    assert len(calls) <= 1


@pytest.mark.usefixtures("fresh_memo")
def test_the_description_cache_tells_folds_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """``==`` ignores fold: the two 01:30 of a fall-back night are separate cache entries."""
    calls: list[object] = []
    real = describe_module._describe
    monkeypatch.setattr(describe_module, "_describe", lambda spec: calls.append(spec) or real(spec))
    ny = ZoneInfo("America/New_York")
    first = datetime(2026, 11, 1, 1, 30, 7, tzinfo=ny)
    describe_trigger(TriggerSpec(kind="date", run_date=first))
    describe_trigger(TriggerSpec(kind="date", run_date=first.replace(fold=1)))
    assert [c.run_date.fold for c in calls] == [0, 1]  # type: ignore[attr-defined]


@pytest.mark.usefixtures("fresh_memo")
def test_the_memo_pauses_where_it_does_not_pay_and_resumes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Distinct triggers pause the memo (no key built); repeated ones use it again after the pause."""
    monkeypatch.setattr(describe_module._Memo, "WINDOW", 8)
    monkeypatch.setattr(describe_module._Memo, "PAUSE", 5)
    keys: list[object] = []
    real_key = describe_module.spec_key
    monkeypatch.setattr(describe_module, "spec_key", lambda spec: keys.append(spec) or real_key(spec))
    distinct = [spec_of(CronTrigger(hour=h, minute=7, timezone=BERLIN)) for h in range(13)]
    texts = [describe_trigger(s) for s in distinct]
    assert texts == [describe_module._describe(s) for s in distinct]
    assert len(keys) == 8 and describe_module._MEMO.skip == 0, "8 keyed, then 5 paused"
    same = spec_of(CronTrigger(hour=3, minute=7, timezone=BERLIN))
    calls: list[object] = []
    real = describe_module._describe
    monkeypatch.setattr(describe_module, "_describe", lambda spec: calls.append(spec) or real(spec))
    assert {describe_trigger(same) for _ in range(8)} == {texts[3]}
    assert len(calls) == 0, "the hour-3 sentence from the first window is reused"
    assert describe_module._MEMO.skip == 0, "a window of hits keeps the memo on"


def _cron_expressions() -> list[str]:
    seconds = ["0", "*/15", "5", "10-20", "1,2,3"]
    minutes = ["0", "*/10", "30", "0-29/5"]
    hours = ["*", "2", "9-17", "*/3", "1,13"]
    days = ["*", "L", "1,15", "1-5", "*/2"]
    months = ["*", "JAN,MAR", "*/3", "DEC", "2-11"]
    return [f"{s} {m} {h} {d} {mo} * *" for s in seconds for m in minutes for h in hours for d in days for mo in months]


def test_cron_descriptor_with_one_catalogue_says_what_its_own_constructor_says() -> None:
    factory = describe_module._descriptor_factory()
    assert factory is not describe_module._plain_descriptor, "the shortcut passed its probes"
    for expression in _cron_expressions():
        own = describe_module._plain_descriptor(expression)
        fast = factory(expression)  # type: ignore[operator]
        assert fast.get_description() == own.get_description(), expression  # type: ignore[attr-defined]
        assert sorted(vars(fast)) == sorted(vars(own))
        assert describe_module._cron_descriptor(expression) == describe_module._tidy_cron_descriptor(
            own.get_description()  # type: ignore[attr-defined]
        )


def test_cron_descriptor_falls_back_to_its_own_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another cron-descriptor release (internals moved, or different sentences): the
    library's own constructor is used, every time."""

    def broken() -> type:
        raise ImportError("cron_descriptor.GetText moved")

    class Wrong:
        def __init__(self, expression: str) -> None:
            self._expression = expression

        def get_description(self) -> str:
            return "something else"

    for shortcut in (broken, lambda: Wrong):
        monkeypatch.setattr(describe_module, "_shared_catalogue_class", shortcut)
        describe_module._descriptor_factory.cache_clear()
        try:
            assert describe_module._descriptor_factory() is describe_module._plain_descriptor
        finally:
            describe_module._descriptor_factory.cache_clear()


def test_cron_fields_are_parsed_once_per_name_and_expression() -> None:
    a = describe_module._field("day", "1-5")
    assert describe_module._field("day", "1-5") is a
    assert describe_module._field("day_of_week", "1-5") is not a
    assert a.values(1, 31) == [1, 2, 3, 4, 5] and a.values(1, 31) is not a.values(1, 31)


@pytest.mark.usefixtures("fresh_memo")
def test_long_expressions_are_described_but_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    def spec(minute: str) -> TriggerSpec:
        fields = dict.fromkeys(("year", "month", "day", "week", "day_of_week"), "*")
        return TriggerSpec(
            kind="cron",
            timezone="UTC",
            tz=UTC,
            cron=tuple({**fields, "hour": "2-4", "minute": minute, "second": "0"}.items()),
            cron_explicit=frozenset({"hour", "minute", "second"}),
        )

    def sizes() -> tuple[int, int]:
        return describe_module._field.cache_info().currsize, describe_module._cron_descriptor.cache_info().currsize

    describe_trigger(spec("7,8,9,10"))  # the short fields are parsed and kept
    kept = sizes()
    # 60 minutes in 600 parts: longer than 4 * SHARED_MAX_LEN, so not even its cron-descriptor sentence is kept
    long = spec(",".join(str(i % 60) for i in range(600)))
    described = describe_trigger(long)
    assert sizes() == kept
    monkeypatch.setattr(describe_module, "_field", describe_module._parse_field)
    monkeypatch.setattr(describe_module, "_cron_descriptor", describe_module._cron_sentence)
    assert described == describe_module._describe(long) and not described.startswith("cron[")
    assert "minute" in described, "cron-descriptor's sentence"


@pytest.mark.parametrize("year", [1, 9, 99, 999, 1000, 1969, 2026, 9999])
def test_short_dates_match_strftime_in_every_year(year: int) -> None:
    value = datetime(year, 3, 4, 5, 6, 7)
    assert describe_module._ymd_hm(value, False) == value.strftime("%Y-%m-%d")
    assert describe_module._ymd_hm(value, True) == value.strftime("%Y-%m-%d %H:%M")


# --- countdown ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "due now"),
        (0.4, "due now"),
        (-0.999, "due now"),
        (1, "in 1s"),
        (45, "in 45s"),
        (59, "in 59s"),
        (59.99, "in 59s"),
        (60, "in 1m"),
        (61, "in 1m 1s"),
        (252, "in 4m 12s"),
        (3599, "in 59m 59s"),
        (3600, "in 1h"),
        (5 * 3600, "in 5h"),
        (5 * 3600 + 3 * 60 + 59, "in 5h 3m"),
        (86399, "in 23h 59m"),
        (86400, "in 1d"),
        (3 * 86400 + 4 * 3600 + 1800, "in 3d 4h"),
        (-1, "overdue by 1s"),
        (-59, "overdue by 59s"),
        (-60, "overdue by 1m"),
        (-240, "overdue by 4m"),
        (-3599, "overdue by 59m 59s"),
        (-86400, "overdue by 1d"),
        (-(30 * 3600), "overdue by 1d 6h"),
        (59 * 86400, "in 59d"),
        (75 * 86400, "in 2 months"),
        (400 * 86400, "in 1 year, 1 month"),
    ],
)
def test_countdown(seconds: float, expected: str) -> None:
    assert countdown(NOW + timedelta(seconds=seconds), NOW) == expected


def test_countdown_paused_and_zones() -> None:
    assert countdown(None, NOW) == "paused"
    # Different zones, same instant: due now.
    assert countdown(NOW.astimezone(BERLIN), NOW) == "due now"
    assert countdown(datetime(2026, 3, 3, 3, 0, tzinfo=BERLIN), NOW) == "in 14h"


# --- absolute times and durations -----------------------------------------------------


def test_format_when() -> None:
    when = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    assert format_when(when) == "2026-03-02 14:00:00 UTC"
    assert format_when(when, BERLIN) == "2026-03-02 15:00:00 Europe/Berlin"
    assert format_when(when.astimezone(NY)) == "2026-03-02 09:00:00 America/New_York"
    assert format_when(datetime(2026, 3, 2, 14, tzinfo=timezone(timedelta(hours=2)))) == "2026-03-02 14:00:00 UTC+02:00"
    assert format_when(datetime(2026, 3, 2, 14)) == "2026-03-02 14:00:00 UTC"  # naive: taken as UTC
    assert format_when(None) == "-"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.85, "850 ms"),
        (0.0004, "<1 ms"),
        (0, "0 ms"),
        (1, "1.0 s"),
        (12.34, "12.3 s"),
        (59.94, "59.9 s"),
        (59.96, "1m 00s"),
        (242, "4m 02s"),
        (3599.4, "59m 59s"),
        (7500, "2h 05m"),
        (90000, "1d 01h"),
        (-3, "-3.0 s"),
        (None, "-"),
        (float("nan"), "-"),
    ],
)
def test_format_duration(seconds: float | None, expected: str) -> None:
    assert format_duration(seconds) == expected


# --- integration with the decoder -----------------------------------------------------


def test_seed_rows_decode_to_the_seed_descriptions(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent
    db = tmp_path / "seed.sqlite"
    subprocess.run(
        [
            sys.executable,
            str(root / "fixtures" / "make_store.py"),
            "--url",
            f"sqlite:///{db}",
            "--scenario",
            "seed",
            "--now",
            NOW.isoformat(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select id, next_run_time, job_state from apscheduler_jobs").fetchall()
    jobs = {job.id: job for job in (decode.decode_row(*row) for row in rows)}
    assert describe_trigger(jobs["database_backup"].trigger) == "Daily at 2:00 AM UTC"
    assert describe_trigger(jobs["cleanup_temp"].trigger) == "Every 6 hours"
    assert describe_trigger(jobs["report_gen"].trigger) == "Weekly on Monday at 9:00 AM UTC"
    assert countdown(jobs["database_backup"].next_run_time, NOW) == "in 14h"
    assert countdown(jobs["report_gen"].next_run_time, NOW) == "in 6d 21h"


# --- property: every valid cron trigger gets a sentence, never the fallback ------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.test_schedule import _cron_kwargs  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(kwargs=_cron_kwargs(), zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]))
def test_every_valid_cron_gets_a_sentence(kwargs: dict[str, str], zone: str) -> None:
    try:
        trigger = CronTrigger(**kwargs, timezone=zone)
    except ValueError:
        return
    spec = spec_of(trigger)
    text = describe_trigger(spec)
    assert text and text != technical_description(spec)
    assert "cron[" not in text and "None" not in text
    if _restricted_beyond_minutes(trigger):
        assert zone in text  # times of day and dates are read in the trigger's zone


def _restricted_beyond_minutes(trigger: CronTrigger) -> bool:
    fields = {f.name: str(f) for f in trigger.fields}
    return any(fields[n] != "*" for n in ("hour", "day", "month", "day_of_week"))


def test_every_decoded_fixture_trigger_gets_a_sentence() -> None:
    """Every trigger in the fixture stores (3.11 catalog and older releases when prepared)."""
    from tests.fixtures.factory import cached_sqlite_store, old_stores

    stores = [cached_sqlite_store("catalog")[0]] + [db for _label, db, _man in old_stores()]
    seen = 0
    for db in stores:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = conn.execute("select id, next_run_time, job_state from apscheduler_jobs").fetchall()
        for row in rows:
            job = decode.decode_row(*row)
            if job.trigger is None:
                continue
            text = describe_trigger(job.trigger)
            assert text != technical_description(job.trigger), (db.name, job.id)
            assert "None" not in text and "PytzZone" not in text, (db.name, job.id, text)
            seen += 1
    assert seen >= 30
