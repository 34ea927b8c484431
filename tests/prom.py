"""Real Prometheus for the tests: find promtool/prometheus, start a server, query it.

Outside CI a missing Prometheus skips the test; in CI (``CI=true``) it fails, since
``.ci/run`` installs Debian's ``prometheus`` package (``.ci/prometheus-start``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

#: Every family ``schedtui metrics`` exports.
FAMILIES = {
    "schedtui_check_status",
    "schedtui_store_up",
    "schedtui_snapshot_timestamp_seconds",
    "schedtui_read_duration_seconds",
    "schedtui_jobs",
    "schedtui_undecodable_rows",
    "schedtui_rows_not_decoded_in_time",
    "schedtui_exported_jobs",
    "schedtui_scheduler_heartbeat_age_seconds",
    "schedtui_scheduler_state",
    "schedtui_backup_last_verified_timestamp_seconds",
    "schedtui_backup_size_bytes",
    "schedtui_job_next_run_timestamp_seconds",
    "schedtui_job_lag_seconds",
    "schedtui_job_misfire_grace_seconds",
    "schedtui_job_state",
    "schedtui_job_runs",
    "schedtui_job_run_duration_seconds",
}


def binary(name: str) -> str:
    """The path of ``promtool`` or ``prometheus``; skip (or fail in CI) when absent."""
    found = os.environ.get(f"SCHEDTUI_{name.upper()}") or shutil.which(name)
    if not found:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {name} is not installed (.ci/prometheus-start installs Debian's prometheus)")
        pytest.skip(f"{name} is not installed (apt-get install prometheus)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(what: str, probe: Callable[[], T | None], timeout: float = 60.0, every: float = 0.1) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = probe()
        except Exception as exc:  # a server still starting
            value, last = None, exc
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what} (last error: {last!r})")
        time.sleep(every)


class Prometheus:
    def __init__(self, url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.url, self.proc, self.log = url, proc, log

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as resp:
            body = json.loads(resp.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant vector results: ``[{"metric": {...}, "value": [t, "v"]}]``."""
        data = self.api("/api/v1/query", query=expr)
        assert data["resultType"] == "vector", data
        return list(data["result"])

    def samples(self, expr: str) -> list[tuple[float, float]]:
        """(time, value) samples of a range-vector selector with exactly one series."""
        data = self.api("/api/v1/query", query=expr)
        assert data["resultType"] == "matrix", data
        (series,) = data["result"]
        return [(float(t), float(v)) for t, v in series["values"]]


@contextmanager
def prometheus(tmp: Path, targets: list[str], *, interval: float = 1.0, rules: list[Path] = ()) -> Iterator[Prometheus]:  # type: ignore[assignment]
    """A Prometheus server on 127.0.0.1 (free port, data in ``tmp``) scraping ``targets``."""
    exe = binary("prometheus")
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": f"{interval:g}s", "scrape_timeout": f"{interval:g}s",
                           "evaluation_interval": f"{interval:g}s"},
                "rule_files": [str(r) for r in rules],
                "scrape_configs": [{"job_name": "schedtui", "static_configs": [{"targets": targets}]}],
            }
        )
    )  # fmt: skip
    port = free_port()
    log = tmp / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                exe,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Prometheus(f"http://127.0.0.1:{port}", proc, log)
    try:

        def ready() -> bool:
            assert proc.poll() is None, log.read_text()[-3000:]
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as resp:
                return resp.status == 200

        wait_until("Prometheus to be ready", ready, timeout=120)
        yield server
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[Any]) -> None:
    """End a process this test started: SIGTERM, then SIGKILL after 30 s; reaped either way."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
