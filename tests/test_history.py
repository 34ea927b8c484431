"""Run-history readers, the ``history`` check component and ``schedtui history``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from schedtui.cli.app import main
from schedtui.companion import attach, create_scheduler
from schedtui.core import tables as T
from schedtui.core.health import CheckContext, CheckOptions, Status
from schedtui.core.history import (
    companion_installed,
    history_component,
    job_stats,
    percentile,
    recent_runs,
    summary,
)
from schedtui.core.model import Target
from tests.conftest import FROZEN_NOW
from tests.test_companion import add_sample_jobs, recorded_everything, wait_for

NOW = FROZEN_NOW.timestamp()


def _run(job: str, minutes_ago: float, outcome: str, duration: float | None = 1.0, **kw: Any) -> dict[str, Any]:
    at = NOW - minutes_ago * 60
    row = {
        "job_id": job,
        "job_name": job.title(),
        "scheduled_at": at,
        "started_at": at,
        "finished_at": at + (duration or 0),
        "duration_s": duration,
        "outcome": outcome,
        "error_type": None,
        "error_message": None,
    }
    row.update(kw)  # every row has the same keys: executemany takes them from the first
    return row


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, sa.Engine]:
    url = (
        f"sqlite:///{tmp_path / 'h.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url" if request.param == "postgres" else "mysql_url")
    )
    engine = sa.create_engine(url)
    t = T.create_all(engine)
    rows = [_run("report", m, "success", float(m % 10 + 1)) for m in range(1, 101)]  # durations 1..10
    rows += [_run("report", 0.5, "error", 0.2, error_type="ValueError", error_message="bad input\nline 2")]
    rows += [_run("sync", 3, "error", 0.1, error_type="OSError", error_message="disk")]
    rows += [_run("sync", 2, "success", 0.5)]  # recovered: not failing
    rows += [_run("sync", 1, "missed", None)]
    rows += [_run("old", 60 * 30, "success")]  # 30 h ago: outside 24 h
    rows += [_run("crashy", 10, "unfinished", None)]
    rows += [_run("busy", 5, "max_instances", None), _run("busy", 0.1, "running", None, finished_at=None)]
    with engine.begin() as conn:
        conn.execute(sa.insert(t.runs), rows)
    return url, engine


def test_percentile_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([1.0], 0.95) == 1.0
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 0.5) == 50.0 and percentile(values, 0.95) == 95.0


def test_recent_runs(seeded: tuple[str, sa.Engine]) -> None:
    _, engine = seeded
    runs = recent_runs(engine, "report", limit=3)
    assert [r.outcome for r in runs] == ["error", "success", "success"]
    assert runs[0].scheduled_at > runs[1].scheduled_at and runs[0].scheduled_at.tzinfo is not None
    failed = recent_runs(engine, failed_only=True)
    assert [r.job_id for r in failed] == ["report", "sync", "crashy"]
    assert all(r.failed for r in failed)
    assert len(recent_runs(engine, limit=5)) == 5
    assert recent_runs(engine, "nope") == ()


def test_job_stats(seeded: tuple[str, sa.Engine]) -> None:
    _, engine = seeded
    s = job_stats(engine, "report")
    assert s is not None
    assert (s.runs, s.successes, s.failures, s.skipped) == (101, 100, 1, 0)
    assert s.success_rate == pytest.approx(100 / 101)
    assert s.p50_s == 5.0 and s.p95_s == 10.0 and s.max_s == 10.0 and s.window == 100
    assert s.last_failure is not None and s.last_failure.error_type == "ValueError"
    assert s.last_run is not None and s.last_run.outcome == "error"
    busy = job_stats(engine, "busy")
    assert busy.skipped == 1 and busy.running == 1 and busy.success_rate is None
    assert job_stats(engine, "nope") is None
    d = s.as_dict()
    assert d["last_failure_error"] == "ValueError: bad input" and d["p95_s"] == 10.0


def test_summary(seeded: tuple[str, sa.Engine]) -> None:
    _, engine = seeded
    s = summary(engine, FROZEN_NOW)
    assert s.runs_24h == 100 + 1 + 3 + 1 + 1  # report, sync, crashy, busy (max_instances); not old/running
    assert s.failures_24h == 3
    assert s.outcomes_24h["missed"] == 1 and s.outcomes_24h["max_instances"] == 1
    assert s.running == 1
    assert [f.job_id for f in s.failing_jobs] == ["crashy", "report"]


def test_history_component(seeded: tuple[str, sa.Engine]) -> None:
    url, engine = seeded
    ctx = CheckContext(Target(url=url), FROZEN_NOW, CheckOptions(), None, engine)
    c = history_component(ctx)
    assert c is not None and c.status is Status.WARNING
    assert "2 job(s) whose last run failed: crashy, report" in c.summary
    # The last 100 runs: the error and minutes 1..99 (durations 1..10 s).
    assert c.data["jobs"]["report"]["p50_s"] == 6.0 and c.data["jobs"]["report"]["p95_s"] == 10.0
    assert c.data["jobs"]["report"]["runs"] == 100
    texts = [line.text for line in c.lines]
    assert any("report: last run failed" in t and "ValueError: bad input" in t for t in texts)
    durations = [line for line in c.lines if line.text == "Durations"][0]
    assert any(ch.text.startswith("report: p50 6.0 s, p95 10.0 s") for ch in durations.children)
    assert {p.label for p in c.perfdata} == {"runs_24h", "failures_24h", "failing_jobs"}
    json.dumps(c.data, default=str)


def test_no_companion_tables(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text("create table apscheduler_jobs (id varchar(191) primary key)"))
    assert not companion_installed(engine)
    assert recent_runs(engine) == () and job_stats(engine, "x") is None
    assert summary(engine, FROZEN_NOW).runs_24h == 0
    ctx = CheckContext(Target(url="sqlite://"), FROZEN_NOW, CheckOptions(), None, engine)
    assert history_component(ctx) is None


def test_tables_idempotent_and_versioned(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    T.create_all(engine)
    T.create_all(engine)
    assert T.schema_version(engine) == T.SCHEMA_VERSION
    insp = sa.inspect(engine)
    names = {ix["name"] for ix in insp.get_indexes(T.RUNS)}
    assert {"ix_schedtui_runs_job_sched", "ix_schedtui_runs_outcome_finished"} <= names
    assert "ix_schedtui_commands_status_requested" in {ix["name"] for ix in insp.get_indexes(T.COMMANDS)}
    assert {c["name"] for c in insp.get_columns(T.COMMANDS)} == {
        "id",
        "job_id",
        "action",
        "params",
        "requested_by",
        "requested_host",
        "requested_at",
        "deadline_at",
        "status",
        "applied_by",
        "applied_at",
        "result",
    }


@pytest.mark.postgres
def test_tables_on_postgres_schema(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("create schema ops"))
    T.create_all(engine, "ops")
    T.create_all(engine, "ops")
    assert T.schema_version(engine, "ops") == T.SCHEMA_VERSION
    assert T.schema_version(engine) is None
    assert companion_installed(engine, "ops") and not companion_installed(engine)
    engine.dispose()


# ------------------------------------------------------------------ CLI
def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_history_cli_on_real_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    scheduler = create_scheduler(url)
    comp = attach(scheduler, heartbeat_interval=0.5)
    add_sample_jobs(scheduler)
    scheduler.start()
    try:
        wait_for(lambda: recorded_everything(comp.engine), what="runs")
    finally:
        scheduler.shutdown()
    code, out, _ = _cli(["history", "--url", url, "--limit", "50"], capsys)
    assert code == 0 and "Recent runs (newest first):" in out and "Per-job statistics" in out
    assert "RuntimeError: kaputt" in out and "missed" in out and "max_instances" in out
    code, out, _ = _cli(["history", "bad", "--url", url, "--failed", "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["installed"] and data["runs"]
    assert {r["outcome"] for r in data["runs"]} == {"error"} and "always_fail" in data["runs"][0]["traceback"]
    assert data["stats"]["bad"]["success_rate"] == 0.0 and data["stats"]["bad"]["failures"] >= 1
    code, out, _ = _cli(["history", "ok", "--url", url, "-n", "2"], capsys)
    assert code == 0 and "Recent runs of ok" in out and out.count("success") >= 2


def test_history_cli_without_companion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "plain.sqlite"
    scheduler = create_scheduler(f"sqlite:///{path}")
    scheduler.add_job(
        "schedtui.demo.jobs:succeed", "interval", hours=1, id="x", start_date=FROZEN_NOW, next_run_time=FROZEN_NOW
    )
    scheduler.start(paused=True)
    scheduler.shutdown()
    code, out, _ = _cli(["history", "--url", f"sqlite:///{path}"], capsys)
    assert code == 0 and "attach(scheduler)" in out and "schedtui demo" in out
    code, out, _ = _cli(["history", "--url", f"sqlite:///{path}", "--json"], capsys)
    assert code == 0 and json.loads(out)["installed"] is False


def test_history_cli_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["history", "--url", f"sqlite:///{tmp_path / 'nope.sqlite'}"], capsys)
    assert code == 3 and "not found" in err and "Traceback" not in err


def test_summary_window_uses_now() -> None:
    assert (FROZEN_NOW - timedelta(hours=24)).tzinfo is UTC
    assert isinstance(FROZEN_NOW, datetime)
