"""Fire times computed the way APScheduler 3.x computes them.

A decoded :class:`~schedtui.core.model.TriggerSpec` is turned back into a real APScheduler
trigger through its PUBLIC constructors (:func:`build_trigger`) and asked for fire times
with ``get_next_fire_time(previous, now)``, exactly as the scheduler does:

- adding or resuming a job stores ``trigger.get_next_fire_time(None, now)``;
- after a run, the scheduler stores ``trigger.get_next_fire_time(previous, now)`` with
  ``now`` at (or just after) ``previous``; listings use ``now = previous``.

All work is bounded: a trigger that never fires again yields fewer items, and a combined
``and`` trigger whose children never agree stops instead of looping.  APScheduler 3.11.3's
own ``AndTrigger`` loops forever in that case (see :class:`FireTimes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import AndTrigger, OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

try:
    from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
except ImportError:  # APScheduler < 3.11 has no calendar interval trigger
    CalendarIntervalTrigger = None

from schedtui.core.exact import datetime_key, spec_key
from schedtui.core.model import CRON_FIELD_NAMES, TriggerSpec

#: Most fire times one call returns.
MAX_COUNT = 1000
#: Most ``get_next_fire_time`` calls one listing may make (and-triggers iterate).
MAX_STEPS = 20_000
#: Listings look this many years ahead at most. A cron trigger that can never match
#: (``week=53, month=3``) makes APScheduler scan day by day up to year 9999 (~5 s per
#: call); capped, the same answer ("no more fire times") takes milliseconds.
HORIZON_YEARS = 100


@dataclass(frozen=True, slots=True)
class FireTimes:
    """The result of a bounded listing.

    ``times`` are in the trigger's time zone. ``finished`` is true when the trigger
    reported it will never fire again (within ``HORIZON_YEARS``). ``stalled`` is true when an ``and`` trigger's
    children keep proposing the same disagreeing times: APScheduler's ``AndTrigger``
    spins forever there, hanging the scheduler thread. ``truncated`` is true when the
    work bound was hit before ``count`` items were found.
    """

    times: tuple[datetime, ...]
    finished: bool = False
    stalled: bool = False
    truncated: bool = False


class _Stalled(Exception):
    pass


class _OutOfSteps(Exception):
    pass


class _Budget:
    __slots__ = ("left",)

    def __init__(self, steps: int) -> None:
        self.left = steps

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _OutOfSteps


# --------------------------------------------------------------------------- building


def trigger_zone(spec: TriggerSpec) -> tzinfo | None:
    """The time zone APScheduler would compute in, as a real ``tzinfo``.

    ``ZoneInfo`` and ``datetime.timezone`` are used as they are; anything else (a pytz
    stand-in) is replaced by ``ZoneInfo(spec.timezone)`` when that name is a zone key,
    which is what APScheduler itself does with pytz zones.
    """
    tz = spec.tz
    if isinstance(tz, (ZoneInfo, timezone)):
        return tz
    name = spec.timezone
    if name:
        if name == "UTC":
            return UTC
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            pass
    if tz is not None:
        return tz
    for value in (spec.start_date, spec.end_date, spec.run_date):
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.tzinfo
    return None


def _aware(value: datetime | None, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValueError(f"{what} is not a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} has no time zone")
    return value


def _as_date(value: date | None, what: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise ValueError(f"{what} is not a date")


def _needs_now(spec: TriggerSpec) -> bool:
    """Whether the rebuilt trigger depends on the current time (so cannot be cached)."""
    if spec.kind == "interval" and spec.start_date is None:
        return True
    if spec.kind == "calendarinterval" and spec.start_date is None:
        return True
    return any(_needs_now(child) for child in spec.children)


def _capped(end: datetime | None, horizon: datetime | None) -> datetime | None:
    if horizon is None:
        return end
    if end is None:
        return horizon
    return min(end, horizon, key=lambda v: v.timestamp())


def _build(spec: TriggerSpec, jitter: bool, now: datetime | None, horizon: datetime | None = None) -> BaseTrigger:
    kind = spec.kind
    jit = spec.jitter if jitter else None
    if jit is not None and (not isinstance(jit, (int, float)) or jit < 0):
        raise ValueError(f"invalid jitter {jit!r}")
    if kind in ("and", "or"):
        if not spec.children:
            raise ValueError(f"{kind} trigger without children")
        children = [_build(child, jitter, now, horizon) for child in spec.children]
        cls = AndTrigger if kind == "and" else OrTrigger
        return cls(children, jitter=jit)
    if kind == "date":
        run_date = _aware(spec.run_date, "run_date")
        if run_date is None:
            raise ValueError("date trigger without run_date")
        return DateTrigger(run_date=run_date, timezone=trigger_zone(spec) or UTC)

    tz = trigger_zone(spec)
    if tz is None:
        raise ValueError(f"{kind} trigger without a time zone")
    if kind == "cron":
        if not spec.cron:
            raise ValueError("cron trigger without fields")
        fields = dict(spec.cron)
        unknown = set(fields) - set(CRON_FIELD_NAMES)
        if unknown:
            raise ValueError(f"unknown cron fields: {', '.join(sorted(unknown))}")
        values = {name: str(fields.get(name, "*")) for name in CRON_FIELD_NAMES}
        return CronTrigger(
            **values,
            start_date=_aware(spec.start_date, "start_date"),
            end_date=_capped(_aware(spec.end_date, "end_date"), horizon),
            timezone=tz,
            jitter=jit,
        )
    if kind == "interval":
        interval = spec.interval
        if not isinstance(interval, timedelta) or interval <= timedelta(0):
            raise ValueError(f"invalid interval {interval!r}")
        start = _aware(spec.start_date, "start_date")
        if start is None:
            # What IntervalTrigger's constructor does: first fire one interval from now.
            start = (now or datetime.now(UTC)).astimezone(tz) + interval
        return IntervalTrigger(
            days=interval.days,
            seconds=interval.seconds + interval.microseconds / 1_000_000,
            start_date=start,
            end_date=_aware(spec.end_date, "end_date"),
            timezone=tz,
            jitter=jit,
        )
    if kind == "calendarinterval":
        if CalendarIntervalTrigger is None:
            raise ValueError("calendar interval triggers need APScheduler 3.11 or later")
        if spec.calendar is None or len(spec.calendar) != 4:
            raise ValueError("calendar interval trigger without an interval")
        years, months, weeks, days = (int(v) for v in spec.calendar)
        if min(years, months, weeks, days) < 0:
            raise ValueError("negative calendar interval")
        hour, minute, second = (int(v) for v in (spec.calendar_time or (0, 0, 0)))
        start_day = _as_date(spec.start_date, "start_date")
        if start_day is None:
            start_day = (now or datetime.now(UTC)).astimezone(tz).date()
        return CalendarIntervalTrigger(
            years=years,
            months=months,
            weeks=weeks,
            days=days,
            hour=hour,
            minute=minute,
            second=second,
            start_date=start_day,
            end_date=_as_date(spec.end_date, "end_date"),
            timezone=tz,
            jitter=jit,
        )
    raise ValueError(f"unknown trigger kind {kind!r}")


#: Built triggers by the EXACT key of (spec, jitter, horizon): ``TriggerSpec.__eq__``
#: compares datetimes with ``==``, which ignores ``fold``.
_BUILT: dict[object, BaseTrigger] = {}
_BUILT_MAX = 8192


def _build_cached(spec: TriggerSpec, jitter: bool, horizon: datetime | None) -> BaseTrigger:
    key = (spec_key(spec), jitter, None if horizon is None else datetime_key(horizon))
    found = _BUILT.get(key)
    if found is None:
        found = _build(spec, jitter, None, horizon)
        if len(_BUILT) >= _BUILT_MAX:
            _BUILT.clear()
        _BUILT[key] = found
    return found


def build_trigger(
    spec: TriggerSpec,
    *,
    jitter: bool = True,
    now: datetime | None = None,
    horizon: datetime | None = None,
) -> BaseTrigger:
    """A real APScheduler trigger equivalent to ``spec``, built with public constructors.

    Cron fields are passed as the expression strings APScheduler printed, so the rebuilt
    trigger computes exactly what the stored one does. ``jitter=False`` drops the jitter
    (deterministic listings). An interval trigger without a start date is anchored the
    way ``IntervalTrigger`` anchors it, one interval after ``now`` (default: the system
    clock); a calendar interval without a start date starts on ``now``'s date. Those two
    are not cached; everything else is cached per spec, so do not mutate the result.

    ``horizon`` caps cron end dates (listings use it to bound APScheduler's search); leave
    it ``None`` for a trigger that must behave exactly like the stored one.

    Raises ``ValueError`` for a spec APScheduler would not accept.
    """
    try:
        if not _needs_now(spec):
            try:
                return _build_cached(spec, jitter, horizon)
            except TypeError as exc:  # an unhashable tzinfo stand-in
                if "unhashable" not in str(exc):
                    raise
        return _build(spec, jitter, now, horizon)
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"invalid {spec.kind} trigger: {exc}") from exc


# --------------------------------------------------------------------------- computing


def _next(trigger: BaseTrigger, previous: datetime | None, now: datetime, budget: _Budget) -> datetime | None:
    """``trigger.get_next_fire_time(previous, now)`` with and-triggers bounded."""
    if isinstance(trigger, AndTrigger):
        last: list[float] | None = None
        moving_now = now
        while True:
            budget.spend()
            times = [_next(child, previous, moving_now, budget) for child in trigger.triggers]
            found = [t for t in times if t is not None]
            if len(found) < len(times):
                return None
            if min(found) == max(found):
                return _jittered(trigger, found[0], now)
            # Compare instants: same-zone datetimes compare by wall clock, ignoring fold.
            stamps = [t.timestamp() for t in found]
            if stamps == last:
                raise _Stalled
            last = stamps
            moving_now = max(found)
    if isinstance(trigger, OrTrigger):
        found = [t for child in trigger.triggers if (t := _next(child, previous, now, budget)) is not None]
        return _jittered(trigger, min(found), now) if found else None
    budget.spend()
    fire: datetime | None = trigger.get_next_fire_time(previous, now)
    return fire


def _jittered(trigger: BaseTrigger, fire: datetime, now: datetime) -> datetime:
    """APScheduler's own jitter of an and/or trigger's fire time."""
    out: datetime = trigger._apply_jitter(fire, trigger.jitter, now)
    return out


def _iterate(trigger: BaseTrigger, first: datetime | None, after: datetime, count: int) -> FireTimes:
    count = max(0, min(int(count), MAX_COUNT))
    budget = _Budget(MAX_STEPS)
    times: list[datetime] = []
    previous: datetime | None = None
    try:
        current = first if first is not None else _next(trigger, None, after, budget)
        while current is not None and len(times) < count:
            if previous is not None and current.timestamp() <= previous.timestamp():
                # No progress: APScheduler would schedule the same time again; stop here.
                return FireTimes(tuple(times), stalled=True)
            times.append(current)
            if len(times) >= count:
                break
            previous = current
            current = _next(trigger, previous, previous, budget)
        return FireTimes(tuple(times), finished=current is None)
    except _Stalled:
        return FireTimes(tuple(times), stalled=True)
    except _OutOfSteps:
        return FireTimes(tuple(times), truncated=True)
    except (OverflowError, ValueError, OSError):
        # Beyond datetime's range (year 9999) and the like: nothing more to list.
        return FireTimes(tuple(times), finished=True)


def _horizon(after: datetime) -> datetime:
    """January 1st ``HORIZON_YEARS`` after ``after`` (UTC; one value per year: cacheable)."""
    year = min(after.astimezone(UTC).year + HORIZON_YEARS, 9998)
    return datetime(year, 1, 1, tzinfo=UTC)


def _check_aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{what} must be an aware datetime")


def fire_times(spec: TriggerSpec, after: datetime, count: int = 10) -> FireTimes:
    """Like :func:`next_fire_times`, with whether the listing ended, stalled or was cut."""
    _check_aware(after, "after")
    trigger = build_trigger(spec, jitter=False, now=after, horizon=_horizon(after))
    return _iterate(trigger, None, after, count)


def next_fire_times(spec: TriggerSpec, after: datetime, count: int = 10) -> list[datetime]:
    """Up to ``count`` fire times of ``spec`` for a job added (or resumed) at ``after``.

    The first item is ``get_next_fire_time(None, after)``, each next one
    ``get_next_fire_time(previous, previous)``: the sequence the scheduler stores in
    ``next_run_time`` as the job runs. JITTER IS IGNORED so the listing is deterministic
    (the scheduler adds ``0..jitter`` seconds to each of these times).

    As in APScheduler, a date trigger whose run date has passed yields that past date, and
    a calendar interval trigger starts at its start date even when that has passed; filter
    with ``t >= after`` to show only upcoming times. An interval trigger without a start
    date is anchored one interval after ``after``.

    Returns fewer items when the trigger ends (end date, date trigger, year range), when
    nothing matches within ``HORIZON_YEARS``, or when the work bound is hit
    (``MAX_STEPS``; an ``and`` trigger whose children never agree).
    Raises ``ValueError`` for an invalid spec or a naive ``after``.
    """
    return list(fire_times(spec, after, count).times)


def following_fire_times(spec: TriggerSpec, first: datetime, count: int = 10) -> list[datetime]:
    """``first`` (a job's stored ``next_run_time``) and the fire times that follow it."""
    _check_aware(first, "first")
    trigger = build_trigger(spec, jitter=False, now=first, horizon=_horizon(first))
    return list(_iterate(trigger, first, first, count).times)


def resume_next_run_time(spec: TriggerSpec, now: datetime, *, jitter: bool = True) -> datetime | None:
    """What ``scheduler.resume_job`` stores: ``trigger.get_next_fire_time(None, now)``.

    ``None`` means APScheduler would remove the job instead (the trigger is finished).
    With ``jitter`` (the default, as in APScheduler) a random ``0..jitter`` s is added.
    An ``and`` trigger whose children never agree returns ``None`` here, where
    APScheduler itself would hang. Raises ``ValueError`` for an invalid spec.
    """
    _check_aware(now, "now")
    trigger = build_trigger(spec, jitter=jitter, now=now)
    try:
        return _next(trigger, None, now, _Budget(MAX_STEPS))
    except (_Stalled, _OutOfSteps, OverflowError):
        return None
