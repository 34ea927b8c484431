"""The oracle: every decoded field equals what APScheduler's own loader yields.

``tests/fixtures/oracle_store.py`` writes varied stores with real APScheduler (random
triggers of every kind, every zone kind, DST folds and gaps, fold=1 instants, dates near
the ends of the calendar, application objects in args) and loads a byte-identical copy
of each with ``get_all_jobs()`` in a process that has the application's code. Here, in
ONE process and without that code, every store is decoded in both orders (stores and
rows forward, then backward, then again through ``JobStoreReader``) so that anything a
cache, interning table or shortcut carries from one row or read to the next shows up.
Instants are compared as UTC timestamp AND fold AND zone name, never with ``==``.

``SCHEDTUI_ORACLE_SEED`` / ``SCHEDTUI_ORACLE_STORES`` / ``SCHEDTUI_ORACLE_JOBS`` widen
the run (defaults keep it to a few seconds).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from schedtui.core import schedule
from schedtui.core.decode import decode_rows
from schedtui.core.decode.jobstate import decode_state
from schedtui.core.decode.placeholders import ApsPlaceholder, Placeholder
from schedtui.core.model import JobInfo, Target, TriggerSpec
from schedtui.core.store.reader import JobStoreReader
from tests.fixtures import oracle_canon
from tests.fixtures.factory import DEFAULT_NOW, FIXTURES, ROOT
from tests.fixtures.oracle_canon import instant, zone_name

SEED = int(os.environ.get("SCHEDTUI_ORACLE_SEED", "20261101"))
STORES = int(os.environ.get("SCHEDTUI_ORACLE_STORES", "5"))
JOBS = int(os.environ.get("SCHEDTUI_ORACLE_JOBS", "40"))
FIRES = 20
SQL = "SELECT id, next_run_time, job_state FROM apscheduler_jobs"
FROZEN_NOW = datetime.fromisoformat(DEFAULT_NOW)


def _write(urls: list[str]) -> list[dict[str, Any]]:
    """Write and load the stores with real APScheduler (one subprocess for all)."""
    cmd = [sys.executable, str(FIXTURES / "oracle_store.py"), "--seed", str(SEED), "--count", str(JOBS)]
    cmd += ["--now", FROZEN_NOW.isoformat()]
    for url in urls:
        cmd += ["--url", url]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT), env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- our side as JSON
# (``oracle_store`` is never imported here: it puts the application on ``sys.path``.)


def _placeholder(value: Any, depth: int) -> Any:
    """A decoded application object in ``oracle_store.canon_object``'s form."""
    if isinstance(value, Placeholder):
        assert not value.ph_kwargs and value.ph_items is None, "no such objects in the fixture app"
        return ["obj", type(value).ph_name(), canon(tuple(value.ph_args), depth + 1), canon(value.ph_state, depth + 1)]
    raise AssertionError(f"unexpected decoded value {type(value).__name__}")


def canon(value: Any, depth: int = 0) -> Any:
    """The decoded value in ``oracle_store.canon``'s form (placeholders for app objects)."""
    return oracle_canon.canon(value, _placeholder, depth)


_CLASS = {
    "cron": "CronTrigger",
    "interval": "IntervalTrigger",
    "date": "DateTrigger",
    "calendarinterval": "CalendarIntervalTrigger",
    "and": "AndTrigger",
    "or": "OrTrigger",
}


def trigger_json(spec: TriggerSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"class": _CLASS[spec.kind]}
    if spec.kind in ("cron", "interval", "calendarinterval"):
        out["timezone"] = zone_name(spec.tz)
        assert spec.timezone == out["timezone"], "the display name is the zone's name"
        out["jitter"] = spec.jitter
    if spec.kind == "cron":
        out["fields"] = [list(f) for f in spec.cron or ()]
        out["explicit"] = sorted(spec.cron_explicit or ())
        out["start_date"] = instant(spec.start_date)
        out["end_date"] = instant(spec.end_date)
    elif spec.kind == "interval":
        assert spec.interval is not None
        out["interval"] = [spec.interval.days, spec.interval.seconds, spec.interval.microseconds]
        out["start_date"] = instant(spec.start_date)
        out["end_date"] = instant(spec.end_date)
    elif spec.kind == "date":
        out["run_date"] = instant(spec.run_date)
    elif spec.kind == "calendarinterval":
        assert spec.start_date is not None and spec.calendar_time is not None
        out["calendar"] = list(spec.calendar or ())
        out["time"] = list(spec.calendar_time)
        out["start_date"] = spec.start_date.date().isoformat()
        out["end_date"] = None if spec.end_date is None else spec.end_date.date().isoformat()
    else:
        out["jitter"] = spec.jitter
        out["children"] = [trigger_json(c) for c in spec.children]
    return out


def fires(result: schedule.FireTimes) -> list:
    """Our listing in the oracle's form (its list ends with a marker where it stopped early)."""
    out: list = [instant(t) for t in result.times]
    if result.stalled or result.truncated:
        out.append("hang")
    return out


def _same_fires(ours: list, theirs: list) -> bool:
    if theirs and theirs[-1] in ("hang", "stuck"):
        # APScheduler spins (an and-trigger whose children never agree): ours stops there.
        return ours[: len(theirs) - 1] == theirs[:-1] and (len(ours) == len(theirs) - 1 or ours[-1] == "hang")
    if theirs and theirs[-1] == "end":  # past year 9999
        return ours == theirs[:-1]
    return ours == theirs


def compare(job: JobInfo, state: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Every field that differs, as readable lines (empty: identical)."""
    diffs: list[str] = []

    def check(what: str, ours: Any, theirs: Any) -> None:
        if ours != theirs:
            diffs.append(f"{job.id}: {what}: ours {ours!r} != APScheduler {theirs!r}")

    check("finding", job.finding, None)
    check("notes", job.notes, ())
    if job.finding is not None:
        return diffs
    assert job.trigger is not None
    check("id", job.id, expected["id"])
    check("name", job.name, expected["name"])
    check("func", job.func, expected["func"])
    check("executor", job.executor, expected["executor"])
    check("misfire_grace_time", job.misfire_grace_time, expected["misfire_grace_time"])
    check("coalesce", job.coalesce, expected["coalesce"])
    check("max_instances", job.max_instances, expected["max_instances"])
    check("state_next_run_time", instant(job.state_next_run_time), expected["next_run_time"])
    theirs_nrt = expected["next_run_time"]
    check(
        "next_run_time column",
        None if job.next_run_time is None else job.next_run_time.timestamp(),
        None if theirs_nrt is None else theirs_nrt[0],
    )
    check("args", canon(state["args"]), expected["args"])
    check("kwargs", canon(state["kwargs"]), expected["kwargs"])
    check("trigger", trigger_json(job.trigger), expected["trigger"])
    ours = fires(schedule.fire_times(job.trigger, FROZEN_NOW, FIRES))
    if not _same_fires(ours, expected["fires"]):
        diffs.append(f"{job.id}: fire times from now: ours {ours} != APScheduler {expected['fires']}")
    if job.state_next_run_time is not None:
        trig = schedule.build_trigger(job.trigger, jitter=False, now=job.state_next_run_time)
        ours = fires(schedule._iterate(trig, job.state_next_run_time, job.state_next_run_time, FIRES))
        if not _same_fires(ours, expected["fires_from_next"]):
            diffs.append(f"{job.id}: fire times from next_run_time: ours {ours} != {expected['fires_from_next']}")
    return diffs


# --------------------------------------------------------------------------- the stores


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("oracle")
    paths = [base / f"store{i}.db" for i in range(STORES)]
    loaded = _write([f"sqlite:///{p}" for p in paths])
    return list(zip(paths, loaded, strict=True))


def _rows(path: Path) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(SQL).fetchall()
    finally:
        con.close()


def _check_store(rows: list[tuple], loaded: dict[str, Any], jobs: list[JobInfo]) -> list[str]:
    expected = {j["id"]: j for j in loaded["jobs"]}
    assert sorted(expected) == sorted(loaded["written"]), "APScheduler's loader restored every row"
    by_id = {j.id: j for j in jobs}
    assert sorted(by_id) == sorted(expected)
    diffs: list[str] = []
    for job_id, _nrt, data in rows:
        diffs += compare(by_id[job_id], decode_state(data), expected[job_id])
    return diffs


def _orders(stores: list[tuple[Path, dict[str, Any]]]) -> Iterator[tuple[Path, dict[str, Any], list[tuple]]]:
    """Every store forward with its rows forward, then backward with its rows backward."""
    for path, loaded in stores:
        yield path, loaded, _rows(path)
    for path, loaded in reversed(stores):
        yield path, loaded, _rows(path)[::-1]


def test_the_stores_are_varied(stores: list[tuple[Path, dict[str, Any]]]) -> None:
    jobs = [j for _, loaded in stores for j in loaded["jobs"]]
    kinds = {j["trigger"]["class"] for j in jobs}
    assert kinds == set(_CLASS.values())
    folds = [j for j in jobs if j["next_run_time"] and j["next_run_time"][1] == 1]
    assert folds, "at least one fold=1 next_run_time"
    zones = {j["trigger"].get("timezone") for j in jobs}
    assert {"UTC", "America/New_York"} <= zones and any(z and z.startswith("UTC+") for z in zones)
    assert any("fixture_app.models" in json.dumps(j["args"]) + json.dumps(j["kwargs"]) for j in jobs)


def test_decoded_rows_equal_apschedulers_own_load_in_both_orders(stores: list[tuple[Path, dict[str, Any]]]) -> None:
    diffs: list[str] = []
    for _path, loaded, rows in _orders(stores):
        diffs += _check_store(rows, loaded, decode_rows(rows))
    assert not diffs, "\n".join(diffs[:40])


def test_the_readers_answer_equals_apschedulers_own_load(stores: list[tuple[Path, dict[str, Any]]]) -> None:
    diffs: list[str] = []
    for path, loaded, rows in _orders(stores):
        reader = JobStoreReader(Target(url=f"sqlite:///{path}"), incremental=False)
        try:
            jobs = list(reader.read().jobs)
        finally:
            reader.close()
        diffs += _check_store(rows, loaded, jobs)
    assert not diffs, "\n".join(diffs[:40])


def test_all_stores_in_one_batch(stores: list[tuple[Path, dict[str, Any]]]) -> None:
    """All rows of all stores decoded together, interleaved, so rows of one store follow
    rows of another (fold 0 and fold 1 of the same wall time, same zone, side by side)."""
    everything = [(row, loaded) for path, loaded in stores for row in _rows(path)]
    everything.sort(key=lambda item: (item[0][1] is None, item[0][1] or 0.0, item[0][0]))
    jobs = decode_rows([row for row, _ in everything])
    diffs: list[str] = []
    for (row, loaded), job in zip(everything, jobs, strict=True):
        expected = {j["id"]: j for j in loaded["jobs"]}[row[0]]
        diffs += compare(job, decode_state(row[2]), expected)
    assert not diffs, "\n".join(diffs[:40])


@pytest.mark.postgres
def test_postgres_store_equals_apschedulers_own_load(pg_url: str) -> None:
    (loaded,) = _write([pg_url])
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(sa.text(SQL))]
    finally:
        engine.dispose()
    rows = [(i, n, bytes(s)) for i, n, s in rows]
    diffs = _check_store(rows, loaded, decode_rows(rows)) + _check_store(rows[::-1], loaded, decode_rows(rows[::-1]))
    reader = JobStoreReader(Target(url=pg_url), incremental=False)
    try:
        diffs += _check_store(rows, loaded, list(reader.read().jobs))
    finally:
        reader.close()
    assert not diffs, "\n".join(diffs[:40])


def test_the_application_never_reaches_this_process() -> None:
    assert not any(m == "fixture_app" or m.startswith("fixture_app.") for m in sys.modules)


def test_aps_placeholders_never_reach_the_compared_values(stores: list[tuple[Path, dict[str, Any]]]) -> None:
    path, _ = stores[0]
    for _id, _nrt, data in _rows(path):
        state = decode_state(data)
        assert isinstance(state["trigger"], TriggerSpec)
        assert not any(isinstance(v, ApsPlaceholder) for v in state["args"])
