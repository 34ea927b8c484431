"""Caches shared between rows key by everything that defines a value (``fold`` included)."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from apscheduler.triggers.date import DateTrigger

from schedtui.core import schedule
from schedtui.core.decode import decode_rows
from schedtui.core.decode.zones import PytzZone
from schedtui.core.exact import datetime_key, exact_key, spec_key
from schedtui.core.model import TriggerSpec

NY = ZoneInfo("America/New_York")
EARLY = datetime(2026, 11, 1, 1, 30, tzinfo=NY)  # 05:30 UTC
LATE = EARLY.replace(fold=1)  # 06:30 UTC: == says equal, they are an hour apart


def test_datetime_keys_see_fold_and_zone() -> None:
    assert EARLY == LATE and hash(EARLY) == hash(LATE)  # why ``==`` cannot key a cache
    assert datetime_key(EARLY) != datetime_key(LATE)
    noon = datetime(2026, 6, 1, 12, tzinfo=NY)
    assert noon.astimezone(UTC) == noon and datetime_key(noon.astimezone(UTC)) != datetime_key(noon)
    assert exact_key(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1), "A"))) != exact_key(
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1), "B"))
    )
    p1, p2 = PytzZone("Europe/Berlin", 3600, 0, "CET"), PytzZone("Europe/Berlin", 7200, 3600, "CEST")
    assert exact_key(datetime(2026, 1, 1, tzinfo=p1)) != exact_key(datetime(2026, 1, 1, tzinfo=p2))


def test_spec_key_covers_every_field() -> None:
    fields = [f.name for f in dataclasses.fields(TriggerSpec)]
    assert len(spec_key(TriggerSpec(kind="date", run_date=EARLY))) == len(fields)
    assert spec_key(TriggerSpec(kind="date", run_date=EARLY)) != spec_key(TriggerSpec(kind="date", run_date=LATE))


def test_built_triggers_are_not_shared_across_folds() -> None:
    early = schedule.build_trigger(TriggerSpec(kind="date", run_date=EARLY))
    late = schedule.build_trigger(TriggerSpec(kind="date", run_date=LATE))
    assert (early.run_date.fold, late.run_date.fold) == (0, 1)
    assert late.run_date.timestamp() - early.run_date.timestamp() == 3600


def _state(job_id: str, when: datetime) -> bytes:
    return pickle.dumps(
        {
            "version": 1, "id": job_id, "func": "app:f", "trigger": DateTrigger(when), "executor": "default",
            "args": (), "kwargs": {}, "name": job_id, "misfire_grace_time": 1, "coalesce": True,
            "max_instances": 1, "next_run_time": when,
        },
        5,
    )  # fmt: skip


def test_two_rows_at_the_same_wall_time_decode_to_their_own_instants() -> None:
    """The fold bug: the second row came back an hour off with a false next-run-mismatch."""
    rows = [("a", EARLY.timestamp(), _state("a", EARLY)), ("b", LATE.timestamp(), _state("b", LATE))]
    for order in (rows, rows[::-1]):
        jobs = {j.id: j for j in decode_rows(order, watchdog=False)}
        for job_id, when in (("a", EARLY), ("b", LATE)):
            got = jobs[job_id].state_next_run_time
            assert got is not None and (got.timestamp(), got.fold) == (when.timestamp(), when.fold)
            assert jobs[job_id].notes == ()
            assert jobs[job_id].trigger.run_date.fold == when.fold  # type: ignore[union-attr]
