"""The shipped alert rules (unit-tested by promtool) and Grafana dashboard use only the
families ``schedtui metrics`` exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from prom import FAMILIES, binary

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "contrib" / "prometheus" / "alerts.yml"
ALERTS_TEST = ROOT / "contrib" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "contrib" / "grafana" / "schedtui-dashboard.json"

#: Sample names as Prometheus stores them (a counter's samples end in _total).
SERIES = {f"{name}_total" if name == "schedtui_job_runs" else name for name in FAMILIES}


def _names(text: str) -> set[str]:
    """Every ``schedtui_*`` name in ``text`` (metric names, and the state-sets' label names,
    which are their family's name)."""
    return set(re.findall(r"\bschedtui_[a-z_]+\b", text))


def test_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    promtool = binary("promtool")
    check = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run(
        [promtool, "test", "rules", ALERTS_TEST.name],
        cwd=ALERTS_TEST.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert test.returncode == 0 and "SUCCESS" in test.stdout, test.stdout + test.stderr
    names = set(re.findall(r"alert: (\w+)", ALERTS.read_text()))
    tested = set(re.findall(r"alertname: (\w+)", ALERTS_TEST.read_text()))
    assert names == tested  # every rule has a unit test
    assert _names(ALERTS.read_text()) <= SERIES


def test_dashboard_uses_exported_families() -> None:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert exprs and all(_names(e) for e in exprs)
    assert set().union(*(_names(e) for e in exprs)) <= SERIES
    assert {v["name"] for v in dash["templating"]["list"]} == {"datasource", "store"}
