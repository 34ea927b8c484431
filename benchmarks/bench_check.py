"""Benchmark: ``schedtui check --detailed`` and ``jobs --json`` vs APScheduler's own loader.

Builds (once) a 100,000-job SQLite store the way APScheduler writes it, then runs each
contender in a fresh process, several times, and prints medians, ratios and peak memory:

- ``apscheduler``: ``SQLAlchemyJobStore.get_all_jobs()`` in a process that HAS the job
  code (what every in-process dashboard does), on a copy of the store made once (that
  loader deletes rows it cannot restore; the run checks it kept every row);
- ``fetch``: a plain ``SELECT id, next_run_time, job_state`` with sqlite3;
- ``check``: ``schedtui check --detailed``;
- ``jobs``: ``schedtui jobs --json``.

Every contender runs in a fresh process after ``os.sync()`` (so no write-back of earlier
files competes with it), several times, interleaved.

Usage: python benchmarks/bench_check.py [--store bench|varied] [--count 100000] [--repeat 3]

``--store varied`` (issue 11): every job its own trigger and start date, application
objects in kwargs, several zone kinds (``make_store.py --scenario varied``); ``bench``: the
repeated-trigger store (600 distinct triggers). CPU is user+system time of the measured
process and all its children (the decode workers), from ``RUSAGE_CHILDREN``.
The summary prints issue 11's table rows next to their targets.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"


def child(mode: str, db: str) -> None:
    """Runs inside the measured process; prints {"inner": s, "maxrss_mb": n} last
    (``maxrss_mb``: the process's peak RSS plus the largest peak of its children)."""
    import resource

    started = time.perf_counter()
    if mode == "apscheduler":
        sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "app"))
        import fixture_app.jobs  # noqa: F401 - the app's code is importable here
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

        t0 = time.perf_counter()
        jobs = SQLAlchemyJobStore(url=f"sqlite:///{db}").get_all_jobs()
        inner = time.perf_counter() - t0
        import sqlite3

        (rows,) = sqlite3.connect(db).execute("SELECT count(*) FROM apscheduler_jobs").fetchone()
        assert len(jobs) == rows > 0, "APScheduler's loader dropped rows: the copy is no longer the store"
    elif mode == "fetch":
        import sqlite3

        t0 = time.perf_counter()
        rows = (
            sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            .execute("SELECT id, next_run_time, job_state FROM apscheduler_jobs")
            .fetchall()
        )
        inner = time.perf_counter() - t0
        assert rows
    elif mode in ("check", "jobs"):
        from schedtui.cli.app import main

        argv = (
            ["check", "--detailed", "--url", f"sqlite:///{db}"]
            if mode == "check"
            else ["jobs", "--json", "--url", f"sqlite:///{db}"]
        )
        t0 = time.perf_counter()
        real_stdout = sys.stdout
        sys.stdout = open(os.devnull, "w")
        try:
            main(argv)
        except SystemExit:
            pass
        finally:
            sys.stdout.close()
            sys.stdout = real_stdout
        inner = time.perf_counter() - t0
    else:
        raise SystemExit(f"unknown mode {mode}")
    _ = started
    # this process's peak plus the largest of its decode workers' (each worker's own peak,
    # counted in full although it shares its parent's pages until it writes them)
    maxrss = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    ) / 1024
    print(json.dumps({"inner": inner, "maxrss_mb": maxrss}))


def build(count: int, store: str = "bench") -> Path:
    DATA.mkdir(exist_ok=True)
    db = DATA / (f"bench{count}.sqlite" if store == "bench" else f"{store}{count}.sqlite")
    if db.exists():
        return db
    tmp = db.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    print(f"building a {count:,}-job store with real APScheduler ...", flush=True)
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "fixtures" / "make_store.py"),
            "--url",
            f"sqlite:///{tmp}",
            "--scenario",
            store,
            "--count",
            str(count),
            # the benchmark's own real now (a fixture never reads the clock): the store is
            # as a running scheduler keeps it at the time it is built
            "--now",
            datetime.now(UTC).isoformat(),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    tmp.rename(db)
    print(f"  built in {time.perf_counter() - t0:.1f}s ({db.stat().st_size / 1e6:.0f} MB)")
    return db


def measure(mode: str, db: Path, aps_copy: Path) -> tuple[float, float, float, float]:
    # The loader deletes rows it cannot restore, so it reads its own copy (made once: a
    # fresh 100 MB copy per run would be written back to disk during the next contenders).
    work = aps_copy if mode == "apscheduler" else db
    import resource

    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(work)], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{proc.stderr[-2000:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return wall, data["inner"], data["maxrss_mb"], cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", choices=["bench", "varied"], default="bench")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "DB"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    db = build(args.count, args.store)
    aps_copy = db.with_name(db.stem + "-aps-copy.sqlite")
    shutil.copyfile(db, aps_copy)
    modes = ["apscheduler", "fetch", "check", "jobs"]
    results: dict[str, list[tuple[float, float, float, float]]] = {m: [] for m in modes}
    try:
        for _ in range(args.repeat):
            for mode in modes:  # interleaved, so noise hits every contender alike
                results[mode].append(measure(mode, db, aps_copy))
    finally:
        aps_copy.unlink(missing_ok=True)
    print(f"\n{args.store} store, {args.count:,} jobs, {args.repeat} runs each (medians)")
    print(f"{'contender':<14}{'process wall s':>16}{'work s':>10}{'CPU s':>8}{'peak MB':>10}   work s, every run")
    med: dict[str, tuple[float, float, float, float]] = {}
    for mode in modes:
        walls, inners, rss, cpus = zip(*results[mode], strict=True)
        med[mode] = (statistics.median(walls), statistics.median(inners), max(rss), statistics.median(cpus))
        runs = " ".join(f"{x:.2f}" for x in inners)
        print(f"{mode:<14}{med[mode][0]:>16.2f}{med[mode][1]:>10.2f}{med[mode][3]:>8.2f}{med[mode][2]:>10.0f}   {runs}")
    aps_wall, aps_inner, _, aps_cpu = med["apscheduler"]
    print("\nissue 11 table row (whole processes; ratio = time / APScheduler's own get_all_jobs() process):")
    print("| store | `check --detailed` wall | CPU | `jobs --json` wall | check peak MB |")
    print(
        f"| {args.store} {args.count:,} | {med['check'][0] / aps_wall:.2f} ({med['check'][0]:.1f} s) "
        f"| {med['check'][3] / aps_cpu:.2f} | {med['jobs'][0] / aps_wall:.2f} ({med['jobs'][0]:.1f} s) "
        f"| {med['check'][2]:.0f} |"
    )
    print(
        "targets (varied 100,000): check <= 0.25 wall and <= 0.5 CPU, jobs --json <= 0.5, "
        "peak <= 300 MB; 1,000 jobs: check <= 0.5"
    )
    for mode in ("check", "jobs"):
        print(
            f"{mode} / apscheduler: {med[mode][0] / aps_wall:.2f} of its process time, "
            f"{med[mode][1] / aps_inner:.2f} of its load time, {med[mode][3] / aps_cpu:.2f} of its CPU"
        )


if __name__ == "__main__":
    main()
