"""Run-history queries on other programs' tables, large: django-apscheduler keeps every
execution unless the project prunes it (Aegis keeps 100 per job, so it stays small).

Copies the django-apscheduler fixture (written by real Django, ``tests/fixtures/layouts.py``)
and adds ``--runs`` synthetic executions over ``--jobs`` job ids (the table's own schema and
indexes), then times what ``check`` and the console ask: the 24 h summary, one job's
statistics, its last 50 runs, the last 50 failures, duration windows of every job, and a
whole ``check``, and the console's events feed / failures overview read (``run_window``,
``read_activity``). Medians of ``--repeat`` runs.

Usage: .venv/bin/python benchmarks/bench_layouts.py [--runs 1000000] [--jobs 50] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STATUSES = ["Executed"] * 90 + ["Error!"] * 4 + ["Missed!"] * 3 + ["Max instances!"] * 3


def _fill(db: Path, runs: int, jobs: int, end: datetime) -> None:
    rng = random.Random(7)
    conn = sqlite3.connect(db)
    job_ids = [f"job_{k:03d}" for k in range(jobs)]
    conn.executemany(
        "INSERT OR IGNORE INTO django_apscheduler_djangojob (id, next_run_time, job_state) VALUES (?, NULL, x'00')",
        [(j,) for j in job_ids],
    )
    per_job = runs // jobs
    rows = []
    for k, job in enumerate(job_ids):
        for n in range(per_job):
            at = end - timedelta(minutes=(per_job - n) * 5, seconds=k)
            status = rng.choice(STATUSES)
            dur = round(rng.uniform(0.01, 3.0), 2) if status != "Missed!" else 30.0
            rows.append(
                (
                    status,
                    str(at.replace(tzinfo=None)),
                    dur,
                    round(at.timestamp() + dur, 2),
                    "boom" if status == "Error!" else None,
                    job,
                )
            )
            if len(rows) >= 50_000:
                conn.executemany(
                    "INSERT INTO django_apscheduler_djangojobexecution "
                    "(status, run_time, duration, finished, exception, job_id) VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
                rows = []
    if rows:
        conn.executemany(
            "INSERT INTO django_apscheduler_djangojobexecution "
            "(status, run_time, duration, finished, exception, job_id) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def _time(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out) * 1000.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1_000_000)
    ap.add_argument("--jobs", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from tests.fixtures.layouts import cached_layout

    from schedtui.core.activity import read_activity
    from schedtui.core.checker import run_check
    from schedtui.core.clock import FixedClock
    from schedtui.core.history import detect_history
    from schedtui.core.model import Target
    from schedtui.core.store.db import read_engine

    src, manifest = cached_layout("django")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "django.db"
        shutil.copyfile(src, db)
        end = datetime.fromisoformat(manifest["stopped_at"]).astimezone(UTC)
        t0 = time.perf_counter()
        _fill(db, args.runs, args.jobs, end)
        print(f"{args.runs:,} executions over {args.jobs} jobs written in {time.perf_counter() - t0:.1f} s")
        target = Target(f"sqlite:///{db}", table="django_apscheduler_djangojob")
        engine = read_engine(target)
        source = detect_history(engine, target)
        assert source is not None
        now = end + timedelta(seconds=1)
        ids = source.job_ids(engine)
        cases = [
            ("24 h summary (+ jobs whose last run failed)", lambda: source.summary(engine, now)),
            ("one job's statistics", lambda: source.job_stats(engine, "job_007")),
            ("one job's last 50 runs", lambda: source.recent_runs(engine, "job_007", 50)),
            ("last 50 failures (all jobs)", lambda: source.recent_runs(engine, failed_only=True, limit=50)),
            (f"duration windows of {len(ids)} jobs", lambda: source.window_stats(engine, ids)),
            ("24 h per job and per hour (run_window)", lambda: source.run_window(engine, now)),
            ("console activity (read_activity)", lambda: read_activity(source, engine, now)),
            ("whole check", lambda: run_check(target, clock=FixedClock(now))),
        ]
        for label, fn in cases:
            print(f"  {label:<48} {_time(fn, args.repeat):9.1f} ms")
        engine.dispose()


if __name__ == "__main__":
    main()
