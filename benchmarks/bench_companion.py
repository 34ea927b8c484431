"""Benchmarks of the companion.

1. The recorder's added cost per job run on the executor thread: APScheduler's own
   executor path (``run_job`` + ``_run_job_success``, which dispatches EXECUTED to the
   listeners) timed per run, with and without the companion attached (median, p99), plus
   the SUBMITTED dispatch on the scheduler thread.
2. The console's history queries on a SQLite table of 1,000,000 runs: a job's last 100
   runs, the 24 h failure count, one job's statistics (percentiles), the whole summary.

Usage: .venv/bin/python benchmarks/bench_companion.py [--runs 1000000] [--iterations 20000]
       [--db PATH] [--pg URL]
"""

from __future__ import annotations

import argparse
import logging
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa


def _noop() -> None:
    return None


def _executor_path_cost(iterations: int, with_companion: bool, db: Path) -> tuple[list[float], list[float]]:
    from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
    from apscheduler.executors.base import run_job
    from apscheduler.schedulers.background import BackgroundScheduler

    from schedtui.companion import attach

    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    scheduler = BackgroundScheduler()
    comp = None
    if with_companion:
        comp = attach(scheduler, f"sqlite:///{db}", heartbeat_interval=3600, max_queue=iterations * 2 + 10)
    scheduler.start(paused=True)
    job = scheduler.add_job(_noop, "interval", hours=1, id="bench")
    executor = scheduler._lookup_executor("default")
    name = executor._logger.name
    exec_times: list[float] = []
    submit_times: list[float] = []
    base = datetime.now(UTC)
    for i in range(iterations):
        run_time = base + timedelta(microseconds=i)
        with executor._lock:
            executor._instances[job.id] += 1
        t0 = time.perf_counter()
        events = run_job(job, "default", [run_time], name)  # the job itself
        executor._run_job_success(job.id, events)  # what the worker thread does next
        exec_times.append(time.perf_counter() - t0)
        ev = JobSubmissionEvent(EVENT_JOB_SUBMITTED, job.id, "default", [run_time])
        t0 = time.perf_counter()
        scheduler._dispatch_event(ev)
        submit_times.append(time.perf_counter() - t0)
    if comp is not None:
        comp.flush(60)
        assert comp.dropped == 0, comp.dropped
    scheduler.shutdown(wait=True)
    if comp is not None:
        with sa.create_engine(f"sqlite:///{db}").connect() as conn:
            n = conn.execute(sa.text("select count(*) from schedtui_runs")).scalar()
        print(f"    (companion wrote {n} run rows while being measured)")
    return exec_times, submit_times


def _us(values: list[float], q: float | None = None) -> float:
    if q is None:
        return statistics.median(values) * 1e6
    return sorted(values)[int(q * (len(values) - 1))] * 1e6


def bench_recorder(iterations: int) -> None:
    print(f"1. Recorder cost on the executor thread ({iterations} runs each)")
    with tempfile.TemporaryDirectory() as tmp:
        _executor_path_cost(500, False, Path(tmp) / "warm.sqlite")  # warm-up
        without, sub_without = _executor_path_cost(iterations, False, Path(tmp) / "a.sqlite")
        with_, sub_with = _executor_path_cost(iterations, True, Path(tmp) / "b.sqlite")
    print(
        f"   executor path per run: without {_us(without):.1f} µs (p99 {_us(without, 0.99):.1f}), "
        f"with {_us(with_):.1f} µs (p99 {_us(with_, 0.99):.1f})"
    )
    print(f"   added per run (median): {_us(with_) - _us(without):.1f} µs   [target < 1000 µs]")
    print(
        f"   SUBMITTED dispatch on the scheduler thread: without {_us(sub_without):.1f} µs, "
        f"with {_us(sub_with):.1f} µs (added {_us(sub_with) - _us(sub_without):.1f} µs)"
    )


# ----------------------------------------------------------------------------- queries
JOBS = [f"job_{i:02d}" for i in range(50)]


def _generate(db: Path, runs: int, now: float) -> None:
    from schedtui.core import tables as T

    engine = sa.create_engine(f"sqlite:///{db}")
    T.create_all(engine)
    engine.dispose()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    cols = (
        "job_id, job_name, func, jobstore, scheduled_at, submitted_at, started_at, finished_at, duration_s, "
        "outcome, error_type, error_message, traceback, host, pid, scheduler_id"
    )
    sql = f"insert into schedtui_runs ({cols}) values ({','.join('?' * 16)})"
    batch = []
    started = time.perf_counter()
    for row in _rows(runs, now):
        batch.append(row)
        if len(batch) == 50_000:
            conn.executemany(sql, batch)
            batch.clear()
    if batch:
        conn.executemany(sql, batch)
    conn.commit()
    conn.close()
    print(f"   generated {runs:,} runs in {time.perf_counter() - started:.1f} s -> {db}")


def _rows(runs: int, now: float) -> Any:
    rnd = random.Random(42)
    span = 30 * 86400.0
    for i in range(runs):
        at = now - span + span * i / runs
        job = JOBS[i % len(JOBS)]
        r = rnd.random()
        outcome = "error" if r < 0.03 else "missed" if r < 0.035 else "success"
        dur = None if outcome == "missed" else rnd.lognormvariate(-1.0, 0.8)
        yield (
            job,
            job,
            "app.jobs:" + job,
            "default",
            at,
            at,
            at if dur else None,
            at + (dur or 0),
            dur,
            outcome,
            "ValueError" if outcome == "error" else None,
            "bad input" if outcome == "error" else None,
            None,
            "bench",
            1,
            "bench:1:0",
        )


def _fill_pg(engine: Any, runs: int, now: float) -> None:
    """COPY the same synthetic runs into PostgreSQL, then ANALYZE (autovacuum would)."""
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text("truncate schedtui_runs"))
        cur = conn.connection.driver_connection.cursor()
        cols = (
            "job_id, job_name, func, jobstore, scheduled_at, submitted_at, started_at, finished_at, "
            "duration_s, outcome, error_type, error_message, traceback, host, pid, scheduler_id"
        )
        with cur.copy(f"COPY schedtui_runs ({cols}) FROM STDIN") as copy:
            for row in _rows(runs, now):
                copy.write_row(row)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("analyze schedtui_runs"))
    print(f"   copied {runs:,} runs into PostgreSQL in {time.perf_counter() - started:.1f} s")


def _time(fn: Any, repeat: int = 15) -> tuple[float, float]:
    fn()  # warm the page cache
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), max(samples)


def bench_queries(runs: int, db: Path | None, pg: str | None) -> None:
    from schedtui.core import history as H
    from schedtui.core import tables as T

    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    if pg:
        engine = sa.create_engine(pg)
        label = "PostgreSQL"
        T.create_all(engine)
        with engine.connect() as conn:
            have = conn.execute(sa.text("select count(*) from schedtui_runs")).scalar()
        if have != runs:
            _fill_pg(engine, runs, now.timestamp())
    else:
        db = db or Path(tempfile.gettempdir()) / f"schedtui-bench-runs-{runs}.sqlite"
        if db.exists():
            with sqlite3.connect(db) as c:
                have = c.execute("select count(*) from schedtui_runs").fetchone()[0]
            if have != runs:
                db.unlink()
        if not db.exists():
            _generate(db, runs, now.timestamp())
        engine = sa.create_engine(f"sqlite:///{db}")
        label = "SQLite"
    print(f"2. History queries on {runs:,} runs ({label}, {len(JOBS)} jobs over 30 days; median / max of 15 ms)")
    r = T.tables_for(None).runs
    cutoff = (now - timedelta(hours=24)).timestamp()

    def failures_24h() -> int:
        with engine.connect() as conn:
            return sum(
                conn.execute(
                    sa.select(sa.func.count()).select_from(r).where(r.c.outcome == o, r.c.finished_at >= cutoff)
                ).scalar_one()
                for o in T.FAILURE_OUTCOMES
            )

    cases = [
        ("a job's last 100 runs", lambda: H.recent_runs(engine, "job_07", limit=100)),
        ("24 h failure count", failures_24h),
        ("one job's statistics (p50/p95/max, counts, last success/failure)", lambda: H.job_stats(engine, "job_07")),
        ("last 50 failed runs (all jobs)", lambda: H.recent_runs(engine, failed_only=True, limit=50)),
        ("summary (24 h counts + jobs whose last run failed)", lambda: H.summary(engine, now)),
        ("per-job p50/p95 of 50 jobs (check --detailed)", lambda: H.window_stats(engine, JOBS)),
    ]
    for name, fn in cases:
        med, worst = _time(fn)
        flag = "" if med < 50 else "   <-- over the 50 ms target"
        print(f"   {name:<68} {med:8.2f} ms  (max {worst:.2f}){flag}")
    print(f"   check: {failures_24h()} failures in 24 h; job_07 p95 = {H.job_stats(engine, 'job_07').p95_s:.3f} s")
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1_000_000)
    ap.add_argument("--iterations", type=int, default=20_000)
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--pg", default=None, help="PostgreSQL URL holding a filled schedtui_runs table")
    ap.add_argument("--skip-recorder", action="store_true")
    args = ap.parse_args()
    if not args.skip_recorder:
        bench_recorder(args.iterations)
    bench_queries(args.runs, args.db, args.pg)


if __name__ == "__main__":
    main()
