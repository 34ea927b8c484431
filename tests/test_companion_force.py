"""SCHEDULER_FORCE_UPDATE: new job, preserved runtime change, forced replacement (archived
first), on real schedulers restarted against the same database."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from schedtui.companion import create_scheduler, ensure_job, force_update_enabled, job_exists_in_database

JOBS = "schedtui.demo.jobs"


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "True", "yes", "YES", "on", "On", " true "])
def test_true_spellings(value: str) -> None:
    assert force_update_enabled({"SCHEDULER_FORCE_UPDATE": value})


@pytest.mark.parametrize("value", ["", "0", "false", "no", "off", "nope", "2"])
def test_false_spellings(value: str) -> None:
    assert not force_update_enabled({"SCHEDULER_FORCE_UPDATE": value})
    assert not force_update_enabled({})


def _row(url: str, job_id: str) -> Any:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text("select next_run_time, job_state from apscheduler_jobs where id = :i"), {"i": job_id}
            ).first()
    finally:
        engine.dispose()


def _boot(url: str, **ensure_kw: Any) -> tuple[Any, str]:
    """One 'process start': create the scheduler, ensure the job from code, start."""
    scheduler = create_scheduler(url)
    result = ensure_job(
        scheduler,
        f"{JOBS}:succeed",
        "interval",
        id="daily_reports",
        name="Daily Report Generation",
        hours=6,
        **ensure_kw,
    )
    scheduler.start(paused=True)
    return scheduler, result


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    return str(request.getfixturevalue("pg_url" if request.param == "postgres" else "mysql_url"))


def test_force_update_matrix(url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.INFO, "schedtui.companion")
    monkeypatch.delenv("SCHEDULER_FORCE_UPDATE", raising=False)

    # 1. First start: the job is new.
    s, result = _boot(url)
    assert result == "added"
    assert job_exists_in_database(s, "daily_reports")
    s.pause_job("daily_reports")  # a runtime change made by an operator
    s.modify_job("daily_reports", name="Renamed at runtime")
    s.shutdown()
    stored = _row(url, "daily_reports")
    assert stored.next_run_time is None

    # 2. Normal restart: the runtime change survives.
    s, result = _boot(url)
    try:
        assert result == "preserved"
        job = s.get_job("daily_reports")
        assert job.next_run_time is None and job.name == "Renamed at runtime"
    finally:
        s.shutdown()
    assert _row(url, "daily_reports").job_state == stored.job_state
    assert "preserved stored job 'daily_reports'" in caplog.text

    # 3. Forced restart (env var, any true spelling): replaced, after archiving the old row.
    monkeypatch.setenv("SCHEDULER_FORCE_UPDATE", "Yes")
    s, result = _boot(url)
    try:
        assert result == "replaced"
        job = s.get_job("daily_reports")
        assert job.next_run_time is not None and job.name == "Daily Report Generation"
    finally:
        s.shutdown()
    assert "replaced stored job 'daily_reports'" in caplog.text
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        archived = conn.execute(sa.text("select * from schedtui_job_archive")).all()
    engine.dispose()
    assert len(archived) == 1
    assert archived[0].job_id == "daily_reports" and archived[0].reason == "force-update"
    assert bytes(archived[0].job_state) == bytes(stored.job_state)  # byte for byte
    assert archived[0].next_run_time is None and archived[0].jobs_table == "apscheduler_jobs"

    # 4. force=False overrides the environment.
    s, result = _boot(url, force=False)
    s.shutdown()
    assert result == "preserved"


def test_absent_table_means_absent(tmp_path: Path) -> None:
    scheduler = create_scheduler(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    assert not job_exists_in_database(scheduler, "anything")
    assert not job_exists_in_database(create_scheduler(None), "anything")


def test_archive_failure_keeps_the_stored_job(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """If the row cannot be archived (read-only database file), nothing is replaced."""
    path = tmp_path / "jobs.sqlite"
    url = f"sqlite:///{path}"
    s, _ = _boot(url)
    s.pause_job("daily_reports")
    s.shutdown()
    stored = _row(url, "daily_reports")
    s2 = create_scheduler(f"sqlite:///file:{path}?mode=ro&uri=true")
    result = ensure_job(s2, f"{JOBS}:succeed", "interval", id="daily_reports", hours=6, force=True)
    assert result == "preserved"
    assert "NOT replacing stored job" in caplog.text
    assert _row(url, "daily_reports").job_state == stored.job_state
