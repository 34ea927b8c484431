"""Human descriptions of triggers, countdowns, times and durations.

``describe_trigger`` turns a decoded :class:`~schedtui.core.model.TriggerSpec` into what an
operator reads at a glance (``Daily at 2:00 AM UTC``, ``Every 6 hours``,
``Weekly on Monday at 9:00 AM Europe/Berlin``). Common shapes get a short sentence; any
other cron trigger gets ``cron-descriptor``'s sentence plus schedtui's own wording for what
it cannot express (APScheduler weekdays, ``2nd fri``, ISO weeks, years). It never raises:
the fallback is APScheduler's technical form (``cron[hour='2', minute='0']``).

What is shared between triggers is keyed by everything that defines it, so a description
never depends on what was described before: parsed cron fields by (name, expression text)
(``_field``), cron-descriptor sentences by the expression string (``_cron_descriptor``; its
gettext catalogue is loaded once, ``_descriptor_factory``), whole sentences by the exact key
of the spec (``_Memo``, paused while it does not pay). ``tests/test_jobs_json_exact.py``
compares ``jobs --json`` with all of them switched off.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Protocol

from schedtui.core.exact import spec_key
from schedtui.core.model import CRON_FIELD_NAMES, TriggerSpec

__all__ = [
    "countdown",
    "describe_trigger",
    "format_duration",
    "format_when",
    "technical_description",
    "zone_name",
]

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
POSITIONS = ("first", "second", "third", "fourth", "fifth", "last")


# --------------------------------------------------------------------------- small helpers


def zone_name(tz: tzinfo | None, when: datetime | None = None) -> str:
    """A display name for a zone: ``UTC``, ``Europe/Berlin``, ``UTC+02:00``."""
    if tz is None:
        return "UTC"
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)
    if isinstance(key, str) and key:
        return "UTC" if key in ("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu") else key
    if tz is UTC:
        return "UTC"
    try:
        name = tz.tzname(when)
    except Exception:
        name = None
    return name or "UTC"


def _zone_of(spec: TriggerSpec) -> str:
    if spec.timezone:
        return spec.timezone
    return zone_name(spec.tz)


def _clock(hour: int, minute: int, second: int = 0) -> str:
    """``2:00 AM``, ``12:30 PM``, ``2:00:30 AM``."""
    suffix = "AM" if hour < 12 else "PM"
    h12 = hour % 12 or 12
    text = f"{h12}:{minute:02d}"
    if second:
        text += f":{second:02d}"
    return f"{text} {suffix}"


def _join(items: list[str], word: str = "and") -> str:
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def _plural(n: float, unit: str) -> str:
    if n == 1:
        return f"1 {unit}"
    text = f"{n:g}" if isinstance(n, float) else str(n)
    return f"{text} {unit}s"


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _lower_first(text: str) -> str:
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _local(value: datetime, tz: tzinfo | None) -> datetime:
    if tz is None or value.tzinfo is None:
        return value
    try:
        return value.astimezone(tz)
    except Exception:
        return value


def _ymd_hm(value: datetime, with_time: bool) -> str:
    """``value.strftime("%Y-%m-%d")`` (plus ``" %H:%M"`` when ``with_time``), formatted
    directly: the C library's ``%Y`` is not zero-padded below year 1000, so those years
    still go through ``strftime``."""
    if value.year < 1000:
        return value.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")
    if with_time:
        return f"{value.year}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}"
    return f"{value.year}-{value.month:02d}-{value.day:02d}"


def _short_datetime(value: datetime | date, tz: tzinfo | None) -> str:
    """``2026-01-01`` at midnight, else ``2026-01-01 14:00`` (``:SS`` when set)."""
    if not isinstance(value, datetime):
        return value.isoformat()
    value = _local(value, tz)
    if not (value.hour or value.minute or value.second or value.microsecond):
        return _ymd_hm(value, False)
    text = _ymd_hm(value, True)
    if value.second or value.microsecond:
        text += f":{value.second:02d}"
    return text


# --------------------------------------------------------------------------- technical form


def technical_description(spec: TriggerSpec) -> str:
    """APScheduler's own ``str(trigger)`` style: ``cron[hour='2', minute='0']``."""
    try:
        kind = spec.kind
        if kind == "cron":
            explicit = spec.cron_explicit
            parts = [
                f"{name}='{expr}'"
                for name, expr in spec.cron or ()
                if (name in explicit if explicit is not None else expr != "*")
            ]
            return f"cron[{', '.join(parts)}]"
        if kind == "interval":
            return f"interval[{spec.interval}]"
        if kind == "date":
            return f"date[{spec.run_date}]"
        if kind == "calendarinterval":
            years, months, weeks, days = spec.calendar or (0, 0, 0, 0)
            hour, minute, second = spec.calendar_time or (0, 0, 0)
            return (
                f"calendarinterval[years={years}, months={months}, weeks={weeks}, days={days}, "
                f"time='{hour:02d}:{minute:02d}:{second:02d}']"
            )
        if kind in ("and", "or"):
            return f"{kind}[{', '.join(technical_description(c) for c in spec.children)}]"
        return f"{kind} trigger"
    except Exception:
        return "trigger"


# --------------------------------------------------------------------------- cron


class _Field:
    """One parsed cron field and what the sentences ask of it, worked out once.

    ``raw`` is APScheduler's own field object (parsing only; nothing is computed with it).
    A field is defined by its name and expression text alone, so parsed fields are shared
    between triggers (``_field``): nothing here changes after construction.
    """

    __slots__ = ("_values", "raw", "single", "star", "star_step", "text")

    def __init__(self, raw: object) -> None:
        self.raw = raw
        self.text = str(raw)
        self.star = _is_star(raw)
        self.star_step = _star_step(raw)
        self.single = _single(raw)
        self._values: dict[tuple[int, int], tuple[int, ...] | None] = {}

    def values(self, low: int, high: int) -> list[int] | None:
        """``_values(raw, low, high)`` (a fresh list each time)."""
        key = (low, high)
        if key not in self._values:
            found = _values(self.raw, low, high)
            self._values[key] = None if found is None else tuple(found)
        got = self._values[key]
        return None if got is None else list(got)


def preload() -> None:
    """Import now what describing a cron trigger imports on first use (APScheduler's cron
    fields and expressions): a one-shot read calls it while its decode workers are busy,
    so the command's first description does not wait for the import (~25 ms)."""
    import apscheduler.triggers.cron  # noqa: F401


def _parse_field(name: str, expr: str) -> _Field:
    """The parsed field ``name`` = ``expr`` (a pure function of the two strings)."""
    from apscheduler.triggers.cron import CronTrigger

    return _Field(CronTrigger.FIELDS_MAP[name](name, expr))


#: ``_parse_field``, shared between triggers.
_field = lru_cache(maxsize=4096)(_parse_field)


#: Longer expression texts are parsed (and described) without being kept: a store's
#: strings must not make the caches of a long-running console large.
SHARED_MAX_LEN = 256


def _compile_fields(cron: tuple[tuple[str, str], ...] | None) -> dict[str, _Field]:
    """APScheduler's own field objects for all eight fields (``*`` where absent)."""
    exprs = dict(cron or ())
    out: dict[str, _Field] = {}
    for name in CRON_FIELD_NAMES:
        expr = str(exprs.get(name, "*"))
        out[name] = _field(name, expr) if len(expr) <= SHARED_MAX_LEN else _parse_field(name, expr)
    return out


class _Expr(Protocol):
    """The attributes of APScheduler's cron expressions read here (``AllExpression`` has
    only ``step``; ranges add ``first`` and ``last``)."""

    step: int | None
    first: int
    last: int | None


def _exprs(field: object) -> list[_Expr]:
    return list(getattr(field, "expressions", []))


def _is_star(field: object) -> bool:
    from apscheduler.triggers.cron.expressions import AllExpression

    ex = _exprs(field)
    return len(ex) == 1 and type(ex[0]) is AllExpression and not ex[0].step


def _star_step(field: object) -> int | None:
    from apscheduler.triggers.cron.expressions import AllExpression

    ex = _exprs(field)
    if len(ex) == 1 and type(ex[0]) is AllExpression and ex[0].step:
        return int(ex[0].step)
    return None


def _is_range(expr: object) -> bool:
    from apscheduler.triggers.cron.expressions import RangeExpression

    return isinstance(expr, RangeExpression)


def _single(field: object) -> int | None:
    ex = _exprs(field)
    if len(ex) == 1 and _is_range(ex[0]) and not ex[0].step and ex[0].last == ex[0].first:
        return int(ex[0].first)
    return None


def _values(field: object, low: int, high: int) -> list[int] | None:
    """Every value a numeric field matches, or ``None`` when it has positional parts."""
    from apscheduler.triggers.cron.expressions import AllExpression

    found: set[int] = set()
    for expr in _exprs(field):
        if type(expr) is AllExpression:
            found.update(range(low, high + 1, expr.step or 1))
        elif _is_range(expr):
            last = expr.last if expr.last is not None else high
            found.update(range(expr.first, min(last, high) + 1, expr.step or 1))
        else:
            return None
    return sorted(found)


def _weekdays_phrase(days: list[int]) -> str:
    """``weekdays``, ``weekends``, ``Monday through Thursday``, ``Monday and Friday``."""
    if days == [0, 1, 2, 3, 4]:
        return "weekdays"
    if days == [5, 6]:
        return "weekends"
    if len(days) >= 3 and days == list(range(days[0], days[-1] + 1)):
        return f"{WEEKDAY_NAMES[days[0]]} through {WEEKDAY_NAMES[days[-1]]}"
    return _join([WEEKDAY_NAMES[d] for d in days])


def _numbers_phrase(field: object, noun: str, nouns: str, low: int) -> str:
    """``ISO week 10``, ``ISO weeks 1–5 and 10``, ``every 2nd ISO week from week 1``."""
    from apscheduler.triggers.cron.expressions import AllExpression

    plain: list[str] = []
    stepped: list[str] = []
    unit = noun.split()[-1]
    for expr in _exprs(field):
        if type(expr) is AllExpression:
            if expr.step:
                start = f"{unit} {low}" if unit == "week" else str(low)
                stepped.append(f"every {_ordinal(expr.step)} {noun} from {start}")
        elif _is_range(expr):
            first, last, step = expr.first, expr.last, expr.step
            if step:
                end = f" to {last}" if last is not None else ""
                stepped.append(f"every {_ordinal(step)} {noun} from {first}{end}")
            elif last is not None and last != first:
                plain.append(f"{first}\u2013{last}")
            else:
                plain.append(str(first))
    out = []
    if plain:
        label = (nouns if len(plain) > 1 or "\u2013" in plain[0] else noun) if nouns else ""
        out.append(f"{label} {_join(plain)}".strip())
    out.extend(stepped)
    return " and ".join(out)


def _day_phrase(field: object) -> str | None:
    """Own wording for a day-of-month field with ``last`` / ``2nd fri`` parts."""
    from apscheduler.triggers.cron.expressions import (
        LastDayOfMonthExpression,
        WeekdayPositionExpression,
    )

    parts: list[str] = []
    numbers: list[str] = []
    for expr in _exprs(field):
        if isinstance(expr, LastDayOfMonthExpression):
            parts.append("the last day")
        elif isinstance(expr, WeekdayPositionExpression):
            parts.append(f"the {POSITIONS[expr.option_num]} {WEEKDAY_NAMES[expr.weekday]}")
        elif _is_range(expr) and not expr.step:
            if expr.last is not None and expr.last != expr.first:
                numbers.append(f"days {expr.first}\u2013{expr.last}")
            else:
                numbers.append(f"day {expr.first}")
        elif _is_range(expr) and expr.step:
            end = f" to {expr.last}" if expr.last is not None else ""
            numbers.append(f"every {_ordinal(expr.step)} day from day {expr.first}{end}")
        else:
            step = getattr(expr, "step", None)
            numbers.append(f"every {_ordinal(step)} day" if step else "every day")
    return _join(numbers + parts, "or")


def _tidy_cron_descriptor(text: str) -> str:
    text = re.sub(r"(?<!\d)0(\d:\d\d)", r"\1", text)  # 02:00 AM -> 2:00 AM
    return text


@lru_cache(maxsize=1)
def _cd_options() -> object:
    from cron_descriptor import Options

    return Options(locale_code="en_US", use_24hour_time_format=False)


def _plain_descriptor(expression: str) -> object:
    """cron-descriptor's own constructor: it opens and parses its gettext catalogue (a few
    hundred microseconds) every time."""
    from cron_descriptor import ExpressionDescriptor

    return ExpressionDescriptor(expression, _cd_options())


@lru_cache(maxsize=1)
def _descriptor_factory() -> object:
    """A constructor equivalent to ``_plain_descriptor`` that loads the catalogue once.

    ``ExpressionDescriptor.__init__`` stores the expression and options, builds a
    ``GetText`` from the options' locale (read only afterwards: lookups in an immutable
    catalogue) and parses the expression. The subclass does the same with one shared
    ``GetText``. It is used only when, on a probe set, it leaves exactly the same
    attributes and sentences as the library's own constructor (else: the library's own,
    every time).
    """
    try:
        fast = _shared_catalogue_class()
        for probe in _DESCRIPTOR_PROBES:
            own, mine = _plain_descriptor(probe), fast(probe)
            if sorted(vars(own)) != sorted(vars(mine)) or own.get_description() != mine.get_description():  # type: ignore[attr-defined]
                return _plain_descriptor
    except Exception:  # another cron-descriptor release: its own constructor, every time
        return _plain_descriptor
    return fast


def _shared_catalogue_class() -> type:
    """``ExpressionDescriptor`` whose constructor takes only the expression and shares one
    ``GetText`` for ``_cd_options()`` (cron-descriptor 2.x internals: ``_descriptor_factory``
    checks them before use)."""
    from cron_descriptor import ExpressionDescriptor
    from cron_descriptor.ExpressionParser import ExpressionParser
    from cron_descriptor.GetText import GetText

    options: object = _cd_options()
    shared = GetText(options.locale_code, options.locale_location)  # type: ignore[attr-defined]

    class _SharedCatalogue(ExpressionDescriptor):  # type: ignore[misc]
        def __init__(self, expression: str) -> None:
            self._expression = expression
            self._options = options
            self._expression_parts = []
            self.get_text = shared
            self._expression_parts = ExpressionParser(expression, options).parse()

    return _SharedCatalogue


#: Expressions ``_descriptor_factory`` checks before trusting its shortcut.
_DESCRIPTOR_PROBES = ("0 30 2 * * * *", "*/15 1-5 * L JAN,MAR * *", "5 0/10 9-17 1,15 * * *", "0 0 */3 ? DEC * *")


def _cron_sentence(expression: str) -> str:
    """cron-descriptor's sentence for ``expression`` (a pure function of the string: the
    options are fixed)."""
    factory = _descriptor_factory()
    return _tidy_cron_descriptor(factory(expression).get_description())  # type: ignore[operator]


#: ``_cron_sentence``, shared between triggers.
_cron_descriptor = lru_cache(maxsize=4096)(_cron_sentence)


def _with_time(prefix: str, at: str) -> str:
    return f"{prefix} {at}" if at.startswith("at ") else f"{prefix}, {at}"


def _time_phrase(hour: _Field, minute: _Field, second: _Field, zone: str) -> str | None:
    """When in the day: ``at 9:00 AM and 5:00 PM UTC``, ``hourly at :00 from 9:00 AM to
    5:00 PM UTC``, ``every 2 hours at :30 from 8:30 AM to 8:30 PM UTC``, ``at :00 and :30
    in the 1 AM hour UTC``; ``None`` for anything else."""
    m, s = minute.single, second.single
    hours = hour.values(0, 23)
    if s is None or not hours:
        return None
    mm = f":{m:02d}" + (f":{s:02d}" if s else "") if m is not None else ""
    if hour.star:
        return f"hourly at {mm} {zone}" if m is not None else None
    star_step = hour.star_step
    if m is not None and len(hours) <= 4 and (len(hours) == 1 or star_step is None):
        return f"at {_join([_clock(x, m, s) for x in hours])} {zone}"
    if m is None:
        minutes = minute.values(0, 59)
        if minutes and len(minutes) * len(hours) <= 4 and star_step is None:
            return f"at {_join([_clock(h, x, s) for h in hours for x in minutes])} {zone}"
        if minutes and 2 <= len(minutes) <= 6 and len(hours) <= 2 and minute.star_step is None:
            marks = _join([f":{x:02d}" + (f":{s:02d}" if s else "") for x in minutes])
            labels = _join([_clock(x, 0).replace(":00", "") for x in hours])
            noun = "hour" if len(hours) == 1 else "hours"
            return f"at {marks} in the {labels} {noun} {zone}"
        return None
    steps = {b - a for a, b in zip(hours, hours[1:])}
    if len(steps) != 1:
        return None
    step = steps.pop()
    if star_step and 24 % step == 0:
        return f"every {step} hours at {mm} {zone}"
    lead = "hourly" if step == 1 else f"every {step} hours"
    return f"{lead} at {mm} from {_clock(hours[0], m, s)} to {_clock(hours[-1], m, s)} {zone}"


def _describe_cron(spec: TriggerSpec) -> tuple[str, bool]:
    """The sentence and whether it already names the time zone."""
    return _describe_cron_fields(spec.cron, _zone_of(spec))


def _describe_cron_fields(cron: tuple[tuple[str, str], ...] | None, zone: str) -> tuple[str, bool]:
    """``_describe_cron`` from everything it depends on: the field expressions and the zone name."""
    f = _compile_fields(cron)
    year, month, day, week, dow = (f[n] for n in ("year", "month", "day", "week", "day_of_week"))
    hour, minute, second = f["hour"], f["minute"], f["second"]
    m, s = minute.single, second.single
    calendar_all = month.star and day.star and dow.star

    at = _time_phrase(hour, minute, second, zone)

    base: str | None = None
    zone_shown = True
    general_zone = False
    if calendar_all and hour.star and m is not None and s is not None:
        base = f"Hourly at :{m:02d}" + (f":{s:02d}" if s else "")
        zone_shown = False
    elif at and calendar_all:
        base = f"Daily {at}" if at.startswith("at ") else at[0].upper() + at[1:]
    elif calendar_all and hour.star and s == 0 and (step := minute.star_step) and 60 % step == 0:
        base = f"Every {step} minutes"
        zone_shown = False
    elif calendar_all and hour.star and s == 0 and minute.star:
        base, zone_shown = "Every minute", False
    elif calendar_all and hour.star and minute.star and (step := second.star_step) and 60 % step == 0:
        base, zone_shown = f"Every {step} seconds", False
    elif calendar_all and hour.star and minute.star and second.star:
        base, zone_shown = "Every second", False
    elif at and month.star and day.star:
        days = dow.values(0, 6) or []
        if days == [0, 1, 2, 3, 4]:
            base = _with_time("Weekdays", at)
        elif days == [5, 6]:
            base = _with_time("Weekends", at)
        elif days:
            base = _with_time(f"Weekly on {_weekdays_phrase(days)}", at)
    elif at and month.star and dow.star:
        d = day.single
        if d is not None:
            base = _with_time(f"Monthly on day {d}", at)
        elif not any(getattr(e, "step", None) for e in _exprs(day.raw)):
            phrase = _day_phrase(day.raw)
            if phrase:
                base = _with_time(f"Monthly on {phrase}", at)
    elif at and dow.star and (mo := month.single) is not None and (d := day.single) is not None:
        base = _with_time(f"Yearly on {MONTH_NAMES[mo - 1]} {d}", at)

    if base is None:
        base = _general_cron(f)
        zone_shown = False
        general_zone = any(not x.star for x in (hour, day, month, dow, week, year))

    extras: list[str] = []
    if not week.star:
        single_week = week.single
        if single_week is not None:
            extras.append(f"in ISO week {single_week}")
        else:
            extras.append(f"in {_numbers_phrase(week.raw, 'ISO week', 'ISO weeks', 1)}")
    if not year.star:
        extras.append(f"in {_numbers_phrase(year.raw, 'year', '', 1970)}")
    if extras:
        base += ", " + ", ".join(extras)
    if general_zone:
        base += f" ({zone})"
        zone_shown = True
    return base, zone_shown


def _general_cron(f: dict[str, _Field]) -> str:
    """cron-descriptor's sentence for the parts it understands, plus our own phrases."""
    from apscheduler.triggers.cron.expressions import AllExpression, LastDayOfMonthExpression

    day = f["day"]
    own: list[str] = []
    day_exprs = _exprs(day.raw)
    if all(type(e) is AllExpression or (_is_range(e) and type(e).__name__ == "RangeExpression") for e in day_exprs):
        dom = day.text
    elif len(day_exprs) == 1 and isinstance(day_exprs[0], LastDayOfMonthExpression):
        dom = "L"
    else:
        dom = "*"
        own.append(f"on {_day_phrase(day.raw)} of the month")
    dow = f["day_of_week"]
    if not dow.star:
        days = dow.values(0, 6) or []
        own.append(f"only on {_weekdays_phrase(days)}")
    expression = " ".join([f["second"].text, f["minute"].text, f["hour"].text, dom, f["month"].text.upper(), "*", "*"])
    text = _cron_descriptor(expression) if len(expression) <= 4 * SHARED_MAX_LEN else _cron_sentence(expression)
    if own:
        text += ", " + ", ".join(own)
    return text


# --------------------------------------------------------------------------- other kinds


def _interval_phrase(seconds: float) -> str:
    if seconds <= 0:
        return f"Every {seconds:g} seconds"
    units = (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
    whole = float(seconds).is_integer()
    if not whole:
        if seconds < 60:
            return f"Every {round(seconds, 3):g} seconds"
        seconds = round(seconds)
    total = int(seconds)
    for unit, size in units:
        if total % size == 0:
            count = total // size
            if count == 1:
                return f"Every {unit}"
            if unit == "second" and count > 120:
                break
            if count <= 120 or unit == "week":
                return f"Every {count} {unit}s"
            break
    parts = []
    rest = total
    for unit, size in units[1:]:
        count, rest = divmod(rest, size)
        if count:
            parts.append(_plural(count, unit))
    return "Every " + " ".join(parts)


def _describe_interval(spec: TriggerSpec) -> tuple[str, bool]:
    interval = spec.interval
    if interval is None:
        raise ValueError("no interval")
    return _interval_phrase(interval.total_seconds()), False


def _trigger_zone(spec: TriggerSpec) -> tzinfo | None:
    """``schedule.trigger_zone`` (imported on first use, once: an import statement per row costs)."""
    global _trigger_zone
    from schedtui.core.schedule import trigger_zone

    _trigger_zone = trigger_zone
    return trigger_zone(spec)


def _describe_date(spec: TriggerSpec) -> tuple[str, bool]:
    run = spec.run_date
    if run is None:
        raise ValueError("no run date")
    tz = _trigger_zone(spec)
    if tz is not None and spec.timezone:
        run = _local(run, tz)
        zone = spec.timezone
    else:
        zone = zone_name(run.tzinfo, run)
    text = _ymd_hm(run, True)
    if run.second or run.microsecond:
        text += f":{run.second:02d}"
    return f"Once at {text} {zone}", True


def _describe_calendar(spec: TriggerSpec) -> tuple[str, bool, bool]:
    """The sentence, whether it names the zone, and whether the start date is implied."""
    years, months, weeks, days = (int(x) for x in spec.calendar or (0, 0, 0, 0))
    hour, minute, second = (int(x) for x in spec.calendar_time or (0, 0, 0))
    zone = _zone_of(spec)
    at = f"at {_clock(hour, minute, second)} {zone}"
    start = spec.start_date
    start_day = start.date() if isinstance(start, datetime) else start
    if days % 7 == 0:
        weeks, days = weeks + days // 7, 0
    parts = [(years, "year"), (months, "month"), (weeks, "week"), (days, "day")]
    used = [(n, u) for n, u in parts if n]
    if len(used) == 1 and used[0][0] == 1:
        every = f"Every {used[0][1]}"
    else:
        every = "Every " + " ".join(_plural(n, u) for n, u in used)
    implied = True
    if not (weeks or days) and (years or months) and start_day is not None:
        if years and not months:
            on = f"on {MONTH_NAMES[start_day.month - 1]} {start_day.day}"
        else:
            on = f"on day {start_day.day}"
        return f"{every} {on} {at}", True, implied
    if weeks and not (years or months or days) and start_day is not None:
        return f"{every} on {WEEKDAY_NAMES[start_day.weekday()]} {at}", True, implied
    implied = used == [(1, "day")]
    return f"{every} {at}", True, implied


def _suffix(spec: TriggerSpec, zone_shown: bool, start_implied: bool) -> str:
    parts: list[str] = []
    tz = None
    if spec.kind != "calendarinterval":
        tz = _trigger_zone(spec)
    zone = "" if zone_shown or spec.kind == "calendarinterval" else f" {_zone_of(spec)}"
    start, end = spec.start_date, spec.end_date
    # An interval trigger always has a start date (APScheduler fills in "now + interval"),
    # so it says nothing the next run time does not: only its end date is shown.
    show_start = start is not None and not start_implied and spec.kind != "interval"
    if show_start and start is not None:
        parts.append(f"from {_short_datetime(start, tz)}{zone}")
    if end is not None:
        parts.append(f"until {_short_datetime(end, tz)}{zone}")
    dates = " ".join(parts)
    out = [dates] if dates else []
    if spec.jitter:
        out.append(f"\u00b1{spec.jitter:g} s jitter")
    return (", " + ", ".join(out)) if out else ""


def _describe(spec: TriggerSpec) -> str:
    kind = spec.kind
    start_implied = False
    if kind == "cron":
        text, zone_shown = _describe_cron(spec)
    elif kind == "interval":
        text, zone_shown = _describe_interval(spec)
    elif kind == "date":
        text, zone_shown = _describe_date(spec)
    elif kind == "calendarinterval":
        text, zone_shown, start_implied = _describe_calendar(spec)
    elif kind in ("and", "or"):
        if not spec.children:
            raise ValueError("no children")
        pieces = []
        for i, child in enumerate(spec.children):
            piece = describe_trigger(child)
            if i:
                piece = _lower_first(piece)
            pieces.append(f"({piece})" if child.kind in ("and", "or") else piece)
        text, zone_shown = f" {kind} ".join(pieces), True
        return text + _suffix(spec, True, True)
    else:
        raise ValueError(kind)
    return text + _suffix(spec, zone_shown, start_implied)


class _Memo:
    """Descriptions by the EXACT key of the spec (``TriggerSpec.__eq__`` ignores ``fold``),
    used only while it pays.

    Building the key costs about a third of describing a plain trigger, so on a store
    where every trigger is its own (a multi-tenant app) the table would only cost time.
    Each window of ``WINDOW`` lookups is judged: fewer than one hit in ``MIN_HIT_RATE``
    and the next ``PAUSE`` descriptions are computed directly, then another window is
    tried. A description is the same either way: this decides only whether one is reused.
    """

    MAX = 8192
    WINDOW = 2048
    MIN_HIT_RATE = 4
    PAUSE = 16384

    __slots__ = ("hits", "lookups", "skip", "table")

    def __init__(self) -> None:
        self.table: dict[object, str] = {}
        self.lookups = 0
        self.hits = 0
        self.skip = 0

    def describe(self, spec: TriggerSpec) -> str:
        if self.skip > 0:  # (threads may race on the counters: that changes only what is reused)
            self.skip -= 1
            return _describe(spec)
        key = spec_key(spec)
        self.lookups += 1
        found = self.table.get(key)
        if found is None:
            found = _describe(spec)
            if len(self.table) >= self.MAX:
                self.table.clear()
            self.table[key] = found
        else:
            self.hits += 1
        if self.lookups >= self.WINDOW:
            if self.hits * self.MIN_HIT_RATE < self.lookups:
                self.skip = self.PAUSE
            self.lookups = self.hits = 0
        return found


_MEMO = _Memo()


def _describe_cached(spec: TriggerSpec) -> str:
    return _MEMO.describe(spec)


def describe_trigger(spec: TriggerSpec) -> str:
    """What an operator reads at a glance. Cached per spec; never raises."""
    try:
        try:
            return _describe_cached(spec)
        except TypeError as exc:
            if "unhashable" not in str(exc):
                raise
            return _describe(spec)
    except Exception:
        return technical_description(spec)


# --------------------------------------------------------------------------- times


def compact_duration(seconds: int) -> str:
    """``45s``, ``4m 12s``, ``5h 3m``, ``3d 4h``; zero minor parts are dropped."""
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        m, s = divmod(seconds, 60)
        return f"{m}m {s}s" if s else f"{m}m"
    if seconds < 86400:
        h, rest = divmod(seconds, 3600)
        m = rest // 60
        return f"{h}h {m}m" if m else f"{h}h"
    if seconds < 60 * 86400:
        d, rest = divmod(seconds, 86400)
        h = rest // 3600
        return f"{d}d {h}h" if h else f"{d}d"
    import humanize

    return humanize.naturaldelta(timedelta(seconds=seconds))


def countdown(target: datetime | None, now: datetime) -> str:
    """``in 4m 12s``, ``in 5h 3m``, ``in 3d 4h``, ``overdue by 4m``, ``due now``, ``paused``.

    Seconds are truncated (a ticking display steps once per second); spans of 60 days and
    more read like ``in 3 months`` (humanize).
    """
    if target is None:
        return "paused"
    delta = (target - now).total_seconds()
    if abs(delta) < 1:
        return "due now"
    text = compact_duration(int(math.floor(abs(delta))))
    return f"in {text}" if delta > 0 else f"overdue by {text}"


def format_when(dt: datetime | None, tz: tzinfo | None = None) -> str:
    """``2026-03-02 14:00:00 UTC`` in ``tz`` (default: the value's own zone); ``-`` for None."""
    if dt is None:
        return "-"
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    if tz is not None:
        dt = dt.astimezone(tz)
    return f"{dt.strftime('%Y-%m-%d %H:%M:%S')} {zone_name(dt.tzinfo, dt)}"


def format_duration(seconds: float | None) -> str:
    """``850 ms``, ``12.3 s``, ``4m 02s``, ``2h 05m``, ``3d 04h``; ``-`` for None."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 1:
        ms = round(seconds * 1000)
        if ms == 0 and seconds > 0:
            return "<1 ms"
        if ms < 1000:
            return f"{ms} ms"
        seconds = 1.0
    if seconds < 60:
        text = f"{seconds:.1f}"
        if text != "60.0":
            return f"{text} s"
        seconds = 60
    whole = int(round(seconds))
    if whole < 3600:
        m, s = divmod(whole, 60)
        return f"{m}m {s:02d}s"
    if whole < 86400:
        h, rest = divmod(whole, 3600)
        return f"{h}h {rest // 60:02d}m"
    d, rest = divmod(whole, 86400)
    return f"{d}d {rest // 3600:02d}h"
