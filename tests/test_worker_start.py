"""How a decode worker starts: nothing in the current directory stands in for a module it
imports, and APScheduler's cron fields are imported only for a store with a cron trigger."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.factory import sqlite_store
from schedtui.core.decode import sandbox as _sandbox
from schedtui.core.model import JobInfo


def _rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT id, next_run_time, job_state FROM apscheduler_jobs ORDER BY id").fetchall()


def test_modules_in_the_current_directory_are_not_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = sqlite_store(tmp_path, "seed")
    rows = _rows(path)
    here = tmp_path / "cwd"
    here.mkdir()
    for name in ("pickletools", "zoneinfo", "apscheduler"):  # each would make every row fail
        (here / f"{name}.py").write_text("raise SystemExit(7)\n")
    monkeypatch.chdir(here)
    pool = _sandbox.Sandbox()
    try:
        out = pool.decode(rows)
    finally:
        pool.close()
    assert all(type(r) is JobInfo and r.finding is None for r in out), out
    assert [r.id for r in out] == [r[0] for r in rows]


def test_apscheduler_is_imported_for_the_first_cron_field_only() -> None:
    code = (
        "import sys\n"
        "from schedtui.core.decode import triggers\n"
        "print('apscheduler' in sys.modules)\n"
        "triggers._validate_field('hour', '*/2')\n"
        "print('apscheduler' in sys.modules)\n"
        "try:\n"
        "    triggers._validate_field('hour', '25')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc.code)\n"
    )
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split("\n")[:3] == ["False", "True", "DecodeError bad-trigger"], out
