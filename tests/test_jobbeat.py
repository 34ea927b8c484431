"""The heartbeat job (Aegis's ``scheduler_heartbeat``) judged at explicit times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schedtui.core.health import Status
from schedtui.core.jobbeat import job_heartbeat, job_heartbeat_component
from schedtui.core.model import JobInfo, Target, TriggerSpec

AT = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
EVERY_15 = TriggerSpec(kind="interval", timezone="UTC", interval=timedelta(seconds=15))


def _beat(next_run: datetime | None, trigger: TriggerSpec = EVERY_15, job_id: str = "scheduler_heartbeat") -> JobInfo:
    return JobInfo(id=job_id, next_run_time=next_run, state_size=100, trigger=trigger)


def test_fresh_until_one_interval_plus_margin_late() -> None:
    # last beat 4 s ago: next run in 11 s
    beat = job_heartbeat([_beat(AT + timedelta(seconds=11))], AT)
    assert beat is not None and beat.state == "running" and beat.age_s == 4.0
    comp = job_heartbeat_component([_beat(AT + timedelta(seconds=11))], AT)
    assert comp is not None and comp.status is Status.OK
    assert "heartbeat: Aegis scheduler_heartbeat job, 4s ago" in comp.summary
    # due 25 s ago = last beat 40 s ago: still fresh; one more second: stale
    assert job_heartbeat([_beat(AT - timedelta(seconds=25))], AT).state == "running"  # type: ignore[union-attr]
    late = job_heartbeat_component([_beat(AT - timedelta(seconds=26))], AT)
    assert late is not None and late.status is Status.CRITICAL and late.data["state"] == "stale"
    assert late.summary.startswith("Scheduler not running")


def test_max_age_override_paused_and_absent() -> None:
    assert job_heartbeat([_beat(AT - timedelta(seconds=1))], AT, max_age=10).state == "stale"  # type: ignore[union-attr]
    paused = job_heartbeat_component([_beat(None)], AT)
    assert paused is not None and paused.status is Status.WARNING and paused.data["state"] == "paused"
    assert job_heartbeat([_beat(AT, job_id="other")], AT) is None
    cron = TriggerSpec(kind="cron", timezone="UTC")
    assert job_heartbeat([_beat(AT, trigger=cron)], AT) is None


def test_the_console_scans_for_the_heartbeat_job_once_per_jobs_tuple(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The console's Feed looks for heartbeat candidates once per jobs tuple (the reader hands
    back the same tuple while nothing changed) and judges exactly as over every job."""
    from schedtui.tui.data import Feed

    feed = Feed(Target(f"sqlite:///{tmp_path / 'none.sqlite'}"))
    others = tuple(_beat(AT, job_id=f"job-{i}") for i in range(50))
    first = (*others, _beat(AT + timedelta(seconds=11)))
    got = feed._beat_candidates(first)
    assert [j.id for j in got] == ["scheduler_heartbeat"]
    assert feed._beat_candidates(first) is got  # the same tuple: no new scan
    assert job_heartbeat(got, AT) == job_heartbeat(first, AT)
    second = (*others, _beat(AT - timedelta(seconds=26)))  # a new read: scanned again
    assert job_heartbeat(feed._beat_candidates(second), AT).state == "stale"  # type: ignore[union-attr]
    assert feed._beat_candidates(others) == ()
