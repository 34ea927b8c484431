"""The daily backup job on a real scheduler with a persistent job store."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from schedtui.companion.backup_job import JOB_ID, JOB_NAME, add_backup_job
from schedtui.core.backup import list_backups
from schedtui.core.backup.manifest import read_records
from test_backup_helpers import make_store


def _scheduler(url: str) -> BackgroundScheduler:
    return BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=url)}, timezone="UTC")


def test_registration_matches_the_seed_and_replaces(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"
    url = f"sqlite:///{db}"
    sched = _scheduler(url)
    sched.start(paused=True)
    try:
        add_backup_job(sched, url, directory=tmp_path / "bk")
        add_backup_job(sched, url, directory=tmp_path / "bk", hour=3, minute=30)  # replaces
        jobs = sched.get_jobs()
        assert [j.id for j in jobs] == [JOB_ID]
        job = jobs[0]
        assert job.name == JOB_NAME == "Daily Database Backup"
        assert job.func_ref == "schedtui.companion.backup_job:backup_database_job"
        assert job.max_instances == 1 and job.coalesce is True
        fields = {f.name: str(f) for f in job.trigger.fields}
        assert fields["hour"] == "3" and fields["minute"] == "30" and str(job.trigger.timezone) == "UTC"
        add_backup_job(sched, url, directory=tmp_path / "bk")
        job = sched.get_job(JOB_ID)
        fields = {f.name: str(f) for f in job.trigger.fields}
        assert (fields["hour"], fields["minute"]) == ("2", "0")
        assert job.next_run_time.astimezone(UTC).time().isoformat() == "02:00:00"
        assert job.kwargs["url"] == url and job.kwargs["keep"] == 7
    finally:
        sched.shutdown(wait=False)
    # Persisted by reference: another process loads and runs it from the store.
    code = (
        "from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore;"
        f"s = SQLAlchemyJobStore(url={url!r}); j = s.lookup_job({JOB_ID!r});"
        "print(j.func(*j.args, **j.kwargs)['file'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    made = Path(out.stdout.strip().splitlines()[-1])
    assert made.parent == (tmp_path / "bk").resolve() and made.exists()
    assert [e.path for e in list_backups(tmp_path / "bk")] == [made]


def test_a_run_is_a_verified_backup_and_lands_in_the_run_history(tmp_path: Path) -> None:
    from schedtui.companion import attach

    db = tmp_path / "jobs.sqlite"
    url = f"sqlite:///{db}"
    make_store(url, 6)
    sched = _scheduler(url)
    events: list[object] = []
    sched.add_listener(events.append, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    comp = attach(sched, heartbeat_interval=1.0)
    sched.start()
    try:
        add_backup_job(sched, url, directory=tmp_path / "bk", keep=3)
        sched.modify_job(JOB_ID, next_run_time=datetime.now(UTC))
        deadline = time.monotonic() + 60
        while not [e for e in events if getattr(e, "job_id", None) == JOB_ID]:
            assert time.monotonic() < deadline, "the backup job did not run"
            time.sleep(0.05)
        comp.flush()
    finally:
        sched.shutdown(wait=True)
        comp.close()
    event = next(e for e in events if getattr(e, "job_id", None) == JOB_ID)
    assert getattr(event, "exception", None) is None, getattr(event, "traceback", None)
    retval = event.retval  # type: ignore[attr-defined]
    assert retval["rows"]["apscheduler_jobs"] == 7  # six jobs and the backup job itself
    rec = [r for r in read_records(tmp_path / "bk") if r.get("status") == "ok"]
    assert rec and rec[-1]["file"] == Path(retval["file"]).name and rec[-1]["verified"] is True
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        outcomes = (
            conn.execute(sa.text("SELECT outcome FROM schedtui_runs WHERE job_id = :j"), {"j": JOB_ID}).scalars().all()
        )
    engine.dispose()
    assert "success" in outcomes


def test_a_failing_run_raises_for_the_history_and_is_in_the_manifest(tmp_path: Path) -> None:
    import pytest

    from schedtui.companion.backup_job import backup_database_job
    from schedtui.core.errors import SchedtuiError

    with pytest.raises(SchedtuiError):
        backup_database_job(url=f"sqlite:///{tmp_path / 'missing.sqlite'}", directory=str(tmp_path / "bk"))
    assert read_records(tmp_path / "bk")[-1]["status"] == "failed"
    with pytest.raises(SchedtuiError, match=r"\$NOPE_URL is not set"):
        backup_database_job(url_env="NOPE_URL", directory=str(tmp_path / "bk"))
