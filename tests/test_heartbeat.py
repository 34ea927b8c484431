"""Heartbeat reader and its check component: fresh, stale, shut down, paused, several.

Rows are written by real companions; time is judged with explicit ``now`` values.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler

from schedtui.companion import attach, create_scheduler
from schedtui.core.health import CheckContext, CheckOptions, Status
from schedtui.core.heartbeat import heartbeat_component, read_heartbeats
from schedtui.core.model import Target
from tests.test_companion import wait_for


def _ctx(url: str, engine: Any, now: Any, **opts: Any) -> CheckContext:
    return CheckContext(target=Target(url=url), now=now, options=CheckOptions(**opts), snapshot=None, engine=engine)


def _companion(url: str, interval: float = 5.0, name: str | None = None) -> Any:
    """A companion on a real (unstarted) scheduler whose jobs table is apscheduler_jobs."""
    comp = attach(create_scheduler(url), heartbeat_interval=interval, name=name)
    wait_for(lambda: comp.recorder.ready.is_set(), what="companion ready")
    return comp


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.sqlite'}"


def test_no_tables_no_component(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("create table apscheduler_jobs (id varchar(191) primary key)"))
    assert read_heartbeats(engine) == ()
    assert heartbeat_component(_ctx(url, engine, None)) is None
    assert heartbeat_component(_ctx(url, None, None)) is None


def test_fresh_then_stale(url: str) -> None:
    comp = _companion(url, interval=5.0, name="worker")
    try:
        (hb,) = read_heartbeats(comp.engine)
        assert hb.name == "worker" and hb.state == "running" and hb.jobs_table == "apscheduler_jobs"
        assert hb.last_seen is not None and hb.last_seen.tzinfo is not None
        now = hb.last_seen + timedelta(seconds=3)
        assert hb.is_fresh(now) and hb.age(now) == pytest.approx(3)
        c = heartbeat_component(_ctx(url, comp.engine, now))
        assert c is not None and c.status is Status.OK and c.summary.startswith("Scheduler running")
        assert c.data["state"] == "running"
        # 3 intervals + 10 s slack = 25 s: fresh at 24 s, stale at 26 s.
        assert heartbeat_component(_ctx(url, comp.engine, hb.last_seen + timedelta(seconds=24))).status is Status.OK
        stale = heartbeat_component(_ctx(url, comp.engine, hb.last_seen + timedelta(minutes=7)))
        assert stale.status is Status.CRITICAL and "7m" in stale.summary
        assert "disappeared" in stale.summary and stale.data["state"] == "stale"
        # A configured max age wins.
        assert (
            heartbeat_component(
                _ctx(url, comp.engine, hb.last_seen + timedelta(seconds=24), heartbeat_max_age=10)
            ).status
            is Status.CRITICAL
        )
    finally:
        comp.scheduler.remove_listener(comp._on_event)
        comp.recorder.stop()


def test_clean_shutdown_is_told_apart(url: str) -> None:
    comp = _companion(url)
    comp.close()
    (hb,) = read_heartbeats(comp.engine)
    assert hb.state == "shutdown"
    c = heartbeat_component(_ctx(url, comp.engine, hb.last_seen + timedelta(minutes=2)))
    assert c.status is Status.CRITICAL and "shut down cleanly 2m ago" in c.summary
    assert c.data["state"] == "shutdown"


def test_live_scheduler_then_shutdown(url: str) -> None:
    scheduler = create_scheduler(url)
    comp = attach(scheduler, heartbeat_interval=0.2)
    scheduler.start()
    engine = sa.create_engine(url)
    try:
        wait_for(lambda: read_heartbeats(engine) and read_heartbeats(engine)[0].state == "running", what="beat")
        from schedtui.core.clock import system_clock

        assert heartbeat_component(_ctx(url, engine, system_clock())).status is Status.OK
        scheduler.pause()
        wait_for(lambda: read_heartbeats(engine)[0].state == "paused", what="paused")
        c = heartbeat_component(_ctx(url, engine, system_clock()))
        assert c.status is Status.WARNING and "paused" in c.summary
    finally:
        scheduler.shutdown()
    assert read_heartbeats(engine)[0].state == "shutdown"
    assert comp.dropped == 0


def test_several_schedulers_on_one_table_warn(url: str) -> None:
    a, b = _companion(url, name="a"), _companion(url, name="b")
    try:
        beats = read_heartbeats(a.engine)
        assert {h.name for h in beats} == {"a", "b"}
        now = max(h.last_seen for h in beats) + timedelta(seconds=1)
        c = heartbeat_component(_ctx(url, a.engine, now))
        assert c.status is Status.WARNING and "2 schedulers running" in c.summary
        assert len(c.data["schedulers"]) == 2
    finally:
        a.close()
        b.close()


def test_other_table_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    comp = attach(create_scheduler(url, tablename="other_jobs"))
    wait_for(lambda: comp.recorder.ready.is_set(), what="ready")
    try:
        now = read_heartbeats(comp.engine)[0].last_seen
        c = heartbeat_component(_ctx(url, comp.engine, now))
        assert c.status is Status.WARNING and "No scheduler heartbeat for table apscheduler_jobs" in c.summary
        assert (
            heartbeat_component(
                CheckContext(Target(url=url, table="other_jobs"), now, CheckOptions(), None, comp.engine)
            ).status
            is Status.OK
        )
    finally:
        comp.close()


@pytest.mark.postgres
def test_postgres_schema(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("create schema ops"))
    scheduler = create_scheduler(pg_url, schema="ops")
    comp = attach(scheduler, heartbeat_interval=0.3)
    scheduler.start()
    try:
        wait_for(lambda: read_heartbeats(engine, "ops"), what="beat in schema ops")
        (hb,) = read_heartbeats(engine, "ops")
        assert hb.jobs_table == "ops.apscheduler_jobs"
        assert read_heartbeats(engine) == ()  # nothing in public
        from schedtui.core.clock import system_clock

        ctx = CheckContext(Target(url=pg_url, schema="ops"), system_clock(), CheckOptions(), None, engine)
        assert heartbeat_component(ctx).status is Status.OK
    finally:
        scheduler.shutdown()
    assert comp.dropped == 0
    engine.dispose()


def test_unstarted_scheduler_companion_closes_without_blocking(url: str) -> None:
    comp = attach(BackgroundScheduler(), url)
    started = time.monotonic()
    comp.close()
    assert time.monotonic() - started < 30  # generous: close is bounded
