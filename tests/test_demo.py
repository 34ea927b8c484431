"""``schedtui demo --headless``: a real scheduler with the companion, then a clean exit."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from schedtui.core.heartbeat import read_heartbeats
from schedtui.demo.runner import DB_NAME, run_demo


def test_demo_headless_subprocess(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "schedtui", "demo", "--dir", str(folder), "--headless", "--seconds", "4"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "scheduler running on" in proc.stdout and "stopped" in proc.stdout
    engine = sa.create_engine(f"sqlite:///{folder / DB_NAME}")
    with engine.connect() as conn:
        ids = {r[0] for r in conn.execute(sa.text("select id from apscheduler_jobs"))}
        paused = {r[0] for r in conn.execute(sa.text("select id from apscheduler_jobs where next_run_time is null"))}
        runs = conn.execute(sa.text("select job_id, outcome from schedtui_runs")).all()
    assert {"database_backup", "cleanup_temp", "report_gen", "tick", "flaky_api", "slow_export"} <= ids
    assert paused == {"newsletter"}
    assert any(job == "tick" and outcome == "success" for job, outcome in runs)
    assert not [r for r in runs if r.outcome == "running"]
    (hb,) = read_heartbeats(engine)
    assert hb.state == "shutdown" and hb.name == "schedtui-demo"
    assert (folder / "demo.log").exists()


def test_demo_rerun_preserves_runtime_changes(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_demo(tmp_path, headless=True, seconds=0.5, out=out) == 0
    engine = sa.create_engine(f"sqlite:///{tmp_path / DB_NAME}")
    with engine.begin() as conn:  # an operator pauses a job between runs (like the console would)
        before = conn.execute(sa.text("select count(*) from apscheduler_jobs")).scalar()
    assert run_demo(tmp_path, headless=True, seconds=0.5, out=out) == 0
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from apscheduler_jobs")).scalar() == before
        assert len(conn.execute(sa.text("select * from schedtui_heartbeats")).all()) == 2
    assert "schedtui demo -" in out.getvalue()  # the check tree was printed


def test_demo_ctrl_c_shuts_down_cleanly(tmp_path: Path) -> None:
    import signal
    import time

    folder = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "schedtui", "demo", "--dir", str(folder), "--print"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    engine = sa.create_engine(f"sqlite:///{folder / DB_NAME}")
    deadline = time.monotonic() + 60
    try:
        while True:  # poll: a tick run recorded and the heartbeat running
            if (folder / DB_NAME).exists():
                try:
                    beats = read_heartbeats(engine)
                    with engine.connect() as conn:
                        ticks = conn.execute(
                            sa.text("select count(*) from schedtui_runs where job_id='tick' and outcome='success'")
                        ).scalar()
                    if beats and beats[0].state == "running" and ticks:
                        break
                except sa.exc.OperationalError:
                    pass
            assert time.monotonic() < deadline and proc.poll() is None, "demo did not come up"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    (hb,) = read_heartbeats(engine)
    assert hb.state == "shutdown"
    with engine.connect() as conn:
        assert not conn.execute(sa.text("select count(*) from schedtui_runs where outcome='running'")).scalar()
