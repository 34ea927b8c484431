"""Inert stand-ins for every class a job state names but we do not import.

A pickle's ``GLOBAL``/``STACK_GLOBAL`` for anything that is not a vetted value (see
``unpickler``) becomes a *placeholder class*, made once per qualified name:

- ``Placeholder`` (the application's classes): instances have ``__slots__`` only, record
  their constructor arguments (``ph_args``/``ph_kwargs``), their ``BUILD`` state and any
  ``APPENDS``/``SETITEMS`` items, and have no method that runs anything of theirs;
- ``ApsPlaceholder`` (the APScheduler trigger, field and expression classes listed in
  ``APSCHEDULER_CLASSES``): ``NEWOBJ`` + ``BUILD`` fill a plain ``__dict__`` in C (the hot
  path of every row); calling one is refused;
- both metaclasses refuse attribute writes, so ``BUILD`` on a class object cannot change
  anything process-wide.

Safety argument: nothing is imported, so no application code runs; an instance holds only
data the pickle gave it, and the decoder reads it key by key (``triggers``) or renders it
with a bounded ``saferepr``.
"""

from __future__ import annotations

from schedtui.core.decode.findings import UnpickleError

#: Per-process cap on the number of distinct placeholder classes.
MAX_PLACEHOLDER_CLASSES = 20_000


class _PlaceholderMeta(type):
    """Metaclass of placeholder classes: class attributes can never be changed."""

    ph_module: str
    ph_qualname: str

    def __setattr__(cls, key: str, value: object) -> None:
        raise UnpickleError("forbidden-build", "BUILD on a class is not allowed")

    def __delattr__(cls, key: str) -> None:
        raise UnpickleError("forbidden-build", "deleting class attributes is not allowed")

    def __call__(cls, *args: object, **kwargs: object) -> Placeholder:  # REDUCE, INST, OBJ
        return Placeholder.__new__(cls, *args, **kwargs)  # type: ignore[arg-type]

    def __repr__(cls) -> str:
        return f"<class {cls.ph_module}.{cls.ph_qualname} not imported>"


class Placeholder(metaclass=_PlaceholderMeta):
    """An instance of a class we did not import: its constructor args and state, inert.

    Instances have no ``__dict__``; ``BUILD`` goes through ``__setstate__`` (it never
    uses ``setattr`` on an object that has one), so nothing but these slots is ever set.
    """

    __slots__ = ("ph_args", "ph_kwargs", "ph_state", "ph_items", "__weakref__")
    ph_args: tuple[object, ...]
    ph_kwargs: dict[str, object]
    ph_state: object
    ph_items: list[object] | None
    ph_module = "?"
    ph_qualname = "?"

    def __new__(cls, *args: object, **kwargs: object) -> Placeholder:  # NEWOBJ, NEWOBJ_EX
        obj = object.__new__(cls)
        obj.ph_args = args
        obj.ph_kwargs = kwargs
        obj.ph_state = None
        obj.ph_items = None
        return obj

    def __setstate__(self, state: object) -> None:  # BUILD
        self.ph_state = state

    # APPENDS / SETITEMS on list and dict subclasses
    def append(self, item: object) -> None:
        self._items().append(item)

    def extend(self, items: object) -> None:
        if not isinstance(items, (list, tuple)):
            raise UnpickleError("bad-shape", "extend() needs a list")
        self._items().extend(items)

    def __setitem__(self, key: object, value: object) -> None:
        self._items().append((key, value))

    def _items(self) -> list[object]:
        if self.ph_items is None:
            self.ph_items = []
        return self.ph_items

    @classmethod
    def ph_name(cls) -> str:
        return f"{cls.ph_module}.{cls.ph_qualname}"

    def __repr__(self) -> str:
        return f"<{self.ph_name()} not imported>"


class _ApsPlaceholderMeta(_PlaceholderMeta):
    """Metaclass of APScheduler placeholders: they are only ever NEWOBJ + BUILD."""

    def __call__(cls, *args: object, **kwargs: object) -> Placeholder:
        raise UnpickleError("bad-trigger", f"{cls.ph_qualname} is never called in a job state")


class ApsPlaceholder(metaclass=_ApsPlaceholderMeta):
    """An APScheduler trigger/field/expression, not imported: its attributes, inert.

    Fast path (the hot classes of every row): NEWOBJ is ``object.__new__`` (C, refuses
    arguments) and BUILD fills the instance ``__dict__`` in C. The class has no methods
    that could read that dict; the decoder reads it through ``vars()``.
    """

    ph_module = "?"
    ph_qualname = "?"

    @classmethod
    def ph_name(cls) -> str:
        return f"{cls.ph_module}.{cls.ph_qualname}"


_CLASSES: dict[tuple[str, str], type] = {}


def placeholder_class(module: str, qualname: str) -> type:
    """The (cached) placeholder class for ``module.qualname``."""
    key = (module, qualname)
    cls = _CLASSES.get(key)
    if cls is None:
        ns: dict[str, object] = {"ph_module": module, "ph_qualname": qualname, "__module__": "schedtui.placeholders"}
        if key in APSCHEDULER_CLASSES:
            cls = _ApsPlaceholderMeta(qualname, (ApsPlaceholder,), ns)
        else:
            ns["__slots__"] = ()
            cls = _PlaceholderMeta(qualname.rpartition(".")[2], (Placeholder,), ns)
        if len(_CLASSES) < MAX_PLACEHOLDER_CLASSES:
            _CLASSES[key] = cls
    return cls


#: APScheduler classes a job state may reference (become placeholders, validated later).
APSCHEDULER_CLASSES = frozenset(
    {
        ("apscheduler.triggers.cron", "CronTrigger"),
        ("apscheduler.triggers.cron.fields", "BaseField"),
        ("apscheduler.triggers.cron.fields", "WeekField"),
        ("apscheduler.triggers.cron.fields", "DayOfMonthField"),
        ("apscheduler.triggers.cron.fields", "DayOfWeekField"),
        ("apscheduler.triggers.cron.fields", "MonthField"),
        ("apscheduler.triggers.cron.expressions", "AllExpression"),
        ("apscheduler.triggers.cron.expressions", "RangeExpression"),
        ("apscheduler.triggers.cron.expressions", "MonthRangeExpression"),
        ("apscheduler.triggers.cron.expressions", "WeekdayRangeExpression"),
        ("apscheduler.triggers.cron.expressions", "WeekdayPositionExpression"),
        ("apscheduler.triggers.cron.expressions", "LastDayOfMonthExpression"),
        ("apscheduler.triggers.interval", "IntervalTrigger"),
        ("apscheduler.triggers.date", "DateTrigger"),
        ("apscheduler.triggers.calendarinterval", "CalendarIntervalTrigger"),
        ("apscheduler.triggers.combining", "AndTrigger"),
        ("apscheduler.triggers.combining", "OrTrigger"),
    }
)

for _key in APSCHEDULER_CLASSES:  # created first, so they are always in the cache
    placeholder_class(*_key)
