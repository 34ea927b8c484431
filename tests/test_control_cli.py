"""``schedtui pause|resume|run|remove``: confirmation, JSON, --wait and exit codes."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import pytest
import sqlalchemy as sa

from schedtui.cli.app import main
from schedtui.core import control
from schedtui.core.clock import system_clock
from schedtui.core.model import Target
from tests.test_control_support import LiveScheduler, fast_dir, poll_until


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return int(exc.value.code or 0), out, err


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SCHEDTUI_URL", "DATABASE_URL", "SCHEDTUI_TABLE", "SCHEDTUI_SCHEMA"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def empty_store(tmp_path: Path) -> str:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    engine = sa.create_engine(url)
    SQLAlchemyJobStore(engine=engine).jobs_t.create(engine)
    engine.dispose()
    return url


def test_confirmation_needed_without_a_terminal(empty_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["pause", "x", "--url", empty_store], capsys)
    assert code == 2 and "--yes" in err


def test_missing_file_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.sqlite"
    code, _, err = run(["pause", "x", "--yes", "--url", f"sqlite:///{missing}"], capsys)
    assert code == 3 and "not found" in err
    assert not missing.exists()  # never created by a write engine
    (tmp_path / "empty.sqlite").touch()
    code, _, err = run(["pause", "x", "--yes", "--url", f"sqlite:///{tmp_path / 'empty.sqlite'}"], capsys)
    assert code == 3 and "apscheduler_jobs" in err


def test_refusals_exit_1_with_json(empty_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["run", "a", "b", "--yes", "--json", "--url", empty_store], capsys)
    assert code == 1
    doc = json.loads(out)
    assert doc["action"] == "run_now" and doc["exit_code"] == 1
    assert [r["status"] for r in doc["results"]] == ["refused", "refused"]
    assert all(r["mode"] == "direct" and "companion" in r["message"] for r in doc["results"])
    code, out, _ = run(["remove", "a", "--yes", "--force", "--json", "--url", empty_store], capsys)
    assert code == 1 and json.loads(out)["results"][0]["status"] == "failed"  # no such job


@pytest.mark.slow
def test_wait_reports_applied_through_the_companion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with fast_dir(tmp_path) as folder:
        url = f"sqlite:///{folder / 'jobs.sqlite'}"
        live = LiveScheduler(tmp_path, url, n_tick=2, n_once=1)
        engine = sa.create_engine(url)
        try:
            live.wait_ready()
            poll_until(lambda: control.fresh_companions(engine, Target(url=url), system_clock()), 30, "a heartbeat")
            code, out, _ = run(["pause", "tick-0", "tick-1", "--yes", "--json", "--wait", "20", "--url", url], capsys)
            doc = json.loads(out)
            assert code == 0, doc
            assert [(r["mode"], r["status"]) for r in doc["results"]] == [("companion", "applied")] * 2
            code, out, _ = run(["run", "once-0", "--yes", "--wait", "20", "--url", url], capsys)
            assert code == 0 and "once-0: applied" in out
            code, out, err = run(["remove", "nope", "--yes", "--wait", "20", "--url", url], capsys)
            assert code == 1 and "no job" in err
            code, out, _ = run(["resume", "tick-0", "--yes", "--json", "--url", url], capsys)
            doc = json.loads(out)
            assert code == 0 and doc["results"][0]["status"] == "pending"  # without --wait
            poll_until(
                lambda: control.poll(Target(url=url), doc["results"][0]["command_id"], engine=engine).final,
                20,
                "resume",
            )
            assert live.stop()["thread_alive"]
            poll_until(lambda: live.runs()["once-0"] == 1, 10, "the requested run")
            with engine.connect() as conn:
                rows = dict(conn.execute(sa.text("SELECT id, next_run_time FROM apscheduler_jobs")).all())
            assert rows["tick-1"] is None and rows["tick-0"] is not None and rows["once-0"] is None
        finally:
            live.kill()
            engine.dispose()


def test_availability_reasons() -> None:
    from datetime import datetime

    from schedtui.core.model import DecodeFinding, JobInfo, TriggerSpec

    target = Target(url="sqlite:///x.sqlite")
    spec = TriggerSpec(kind="interval", timezone="UTC")
    running = JobInfo(id="a", next_run_time=datetime(2026, 3, 2, tzinfo=UTC), state_size=10, trigger=spec)
    paused = JobInfo(id="b", next_run_time=None, state_size=10, trigger=spec)
    broken = JobInfo(id="c", next_run_time=None, state_size=10, finding=DecodeFinding("truncated", "truncated"))
    ok = control.availability
    assert ok(target, running, True, "run_now")[0] and ok(target, paused, True, "run_now")[0]
    assert ok(target, running, True, "remove")[0] and ok(target, broken, True, "resume")[0]
    assert ok(target, running, True, "pause")[0] and not ok(target, paused, True, "pause")[0]
    assert ok(target, paused, True, "resume")[0] and not ok(target, running, True, "resume")[0]
    for action in ("run_now", "remove"):
        allowed, why = ok(target, running, False, action)
        assert not allowed and "companion" in why
    assert ok(target, running, False, "pause")[0]
    assert ok(target, paused, False, "resume")[0]
    assert not ok(target, broken, False, "resume")[0]
    assert not ok(target, running, False, "frobnicate")[0]
