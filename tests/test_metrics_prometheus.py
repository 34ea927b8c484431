"""A real Prometheus scrapes ``schedtui metrics --listen``, which reads a live scheduler.

The scheduler is a real APScheduler BackgroundScheduler with the companion, in its own
process (``fixtures/live_scheduler.py``); a second store (written by real APScheduler,
plus one undecodable row) shows that one exporter serves several stores. The test asks
Prometheus's HTTP API for the values, pauses the scheduler's processing, and finds the
job overdue within two scrape intervals (plus one exporter refresh) of the moment it
became overdue, by Prometheus's own scrape timestamps.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.factory import ROOT, sqlite_store
from fixtures.hostile import CASES
from fixtures.live_scheduler import WEIRD_ID
from prom import Prometheus, binary, prometheus, stop, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SCRAPE = 1.0  #: Prometheus scrape interval (s)
REFRESH = 0.25  #: exporter refresh interval (s)
LIVE_SCRIPT = ROOT / "tests" / "fixtures" / "live_scheduler.py"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    db = tmp_path / "live.sqlite"
    ready = tmp_path / "ready"
    log = (tmp_path / "scheduler.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(LIVE_SCRIPT), "--url", f"sqlite:///{db}", "--ready", str(ready)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=_env(),
    )
    try:
        wait_until("the scheduler to start", lambda: ready.exists() or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, (tmp_path / "scheduler.log").read_text()
        yield f"sqlite:///{db}", proc
    finally:
        stop(proc)
        log.close()


@pytest.fixture
def static_store(tmp_path: Path) -> str:
    path, _ = sqlite_store(tmp_path, "seed")
    with sqlite3.connect(path) as conn:  # a row nobody can decode (far in the future: nothing deletes it)
        conn.execute(
            "INSERT INTO apscheduler_jobs (id, next_run_time, job_state) VALUES (?, ?, ?)",
            ("broken", 4102444800.0, CASES["os-system-reduce"][0](str(tmp_path / "pwned"))),
        )
    return f"sqlite:///{path}"


@pytest.fixture
def exporter(tmp_path: Path, live: tuple[str, subprocess.Popen[bytes]], static_store: str) -> Iterator[str]:
    url, _ = live
    out = tmp_path / "exporter.out"
    cmd = [sys.executable, "-m", "schedtui", "metrics", "--listen", "127.0.0.1:0", "--refresh", str(REFRESH)]
    cmd += ["--url", url, "--name", "live", "--url", static_store, "--name", "static"]
    cmd += ["--per-job", "all", "--grace-floor", "1"]
    with out.open("wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_env())
    try:

        def address() -> str | None:
            assert proc.poll() is None, out.read_text()
            text = out.read_text()
            if "/metrics" not in text:
                return None
            return text.split("http://", 1)[1].split("/metrics", 1)[0]

        yield wait_until("the exporter to listen", address, timeout=120)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=30) == 0, out.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
        assert "Traceback" not in out.read_text()


def _value(prom: Prometheus, expr: str) -> float | None:
    result = prom.query(expr)
    return float(result[0]["value"][1]) if len(result) == 1 else None


def test_prometheus_scrapes_a_live_scheduler(
    tmp_path: Path, exporter: str, live: tuple[str, subprocess.Popen[bytes]]
) -> None:
    binary("promtool")
    rules = ROOT / "contrib" / "prometheus" / "alerts.yml"
    with prometheus(tmp_path / "prom", [exporter], interval=SCRAPE, rules=[rules]) as prom:
        wait_until("the target to be up", lambda: _value(prom, 'up{job="schedtui"}') == 1.0)
        # both stores, each with its store label
        for store in ("live", "static"):
            wait_until(f"{store} up", lambda s=store: _value(prom, f'schedtui_store_up{{store="{s}"}}') == 1.0)
        assert _value(prom, 'schedtui_undecodable_rows{store="static"}') == 1.0
        assert (
            _value(prom, 'schedtui_job_state{store="static",job_id="broken",schedtui_job_state="undecodable"}') == 1.0
        )
        assert _value(prom, 'schedtui_jobs{store="live",state="paused"}') == 1.0
        wait_until(
            "the heartbeat to say running",
            lambda: _value(prom, 'schedtui_scheduler_state{store="live",schedtui_scheduler_state="running"}') == 1.0,
        )
        assert (_value(prom, 'schedtui_scheduler_heartbeat_age_seconds{store="live"}') or 99) < 10
        # the id with a quote, a backslash and a newline arrives exactly
        states = prom.query('schedtui_job_state{store="live",schedtui_job_state="on_time"} == 1')
        assert WEIRD_ID in {r["metric"]["job_id"] for r in states}
        assert "tick" in {r["metric"]["job_id"] for r in states}
        # run history from the companion: tick has run, with recorded durations
        wait_until(
            "tick runs counted",
            lambda: (_value(prom, 'schedtui_job_runs_total{store="live",job_id="tick",outcome="success"}') or 0) >= 2,
        )
        assert _value(prom, 'schedtui_job_run_duration_seconds{store="live",job_id="tick",quantile="0.5"}') is not None
        wait_until("an OK check", lambda: _value(prom, 'schedtui_check_status{store="live"}') == 0.0)

        # pause the scheduler's processing: tick's next run time falls behind
        _, proc = live
        proc.send_signal(signal.SIGUSR1)
        overdue = 'schedtui_job_state{store="live",job_id="tick",schedtui_job_state="overdue"}'
        wait_until("tick overdue", lambda: _value(prom, overdue) == 1.0, timeout=60)
        nrt = _value(prom, 'schedtui_job_next_run_timestamp_seconds{store="live",job_id="tick"}')
        grace = _value(prom, 'schedtui_job_misfire_grace_seconds{store="live",job_id="tick"}')
        assert nrt is not None and grace == 1.0
        became_overdue = nrt + max(grace, 2.0)  # check's on-time tolerance is 2 s
        first = min(t for t, v in prom.samples(f"{overdue}[2m]") if v == 1.0)
        print(f"tick overdue in Prometheus {first - became_overdue:.2f} s after it became overdue")
        assert first - became_overdue <= 2 * SCRAPE + REFRESH, (first, became_overdue)
        assert _value(prom, 'schedtui_check_status{store="live"}') == 2.0
        wait_until("jobs overdue count", lambda: _value(prom, 'schedtui_jobs{store="live",state="overdue"}') == 1.0)
        wait_until(
            "the heartbeat to say paused",
            lambda: _value(prom, 'schedtui_scheduler_state{store="live",schedtui_scheduler_state="paused"}') == 1.0,
        )
        # the example rules loaded and evaluate (the overdue alert is pending or firing)
        alerts = prom.api("/api/v1/alerts")["alerts"]
        names = {a["labels"]["alertname"] for a in alerts}
        assert "SchedtuiJobsOverdue" in names, alerts
