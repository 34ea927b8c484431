"""Benchmark: ``schedtui check --detailed`` and ``jobs --json`` vs APScheduler's own loader.

Builds (once) a 100,000-job SQLite store the way APScheduler writes it, then runs each
contender in a fresh process, several times, and prints medians, ratios and peak memory:

- ``apscheduler``: ``SQLAlchemyJobStore.get_all_jobs()`` in a process that HAS the job
  code (what every in-process dashboard does), on a copy of the store made once (that
  loader deletes rows it cannot restore; the run checks it kept every row);
- ``apscheduler-nogc``: the same with Python's cyclic garbage collector off, a reference
  printed beside the ratios (not a target): how much of APScheduler's load is that
  collector differs from machine to machine, and so do the ratios;
- ``fetch``: a plain ``SELECT id, next_run_time, job_state`` with sqlite3;
- ``check``: ``schedtui check --detailed``, cold (``SCHEDTUI_DECODE_CACHE=0``);
- ``jobs``: ``schedtui jobs --json``, cold;
- ``check-repeat``: ``check --detailed`` as a monitor runs it every minute: the
  repeated-probe cache warmed by an earlier run, then 1 % of the rows changed (their
  ``next_run_time`` moved by a microsecond in a copy of the store) before each run.

Every contender runs in a fresh process after ``os.sync()`` (so no write-back of earlier
files competes with it), several times, interleaved.

Usage: python benchmarks/bench_check.py [--store bench|varied] [--count 100000] [--repeat 3]
                                        [--pg postgresql://user@host:port/db]

``--pg URL``: the same contenders on PostgreSQL (the server at URL): the store is written
there by real APScheduler (database ``schedtui_bench_<store><count>``, kept for later
runs) and APScheduler's loader reads a copy of it (``CREATE DATABASE ... TEMPLATE``).

``--store varied`` (issue 11): every job its own trigger and start date, application
objects in kwargs, several zone kinds (``make_store.py --scenario varied``); ``bench``: the
repeated-trigger store (600 distinct triggers). Memory is the peak proportional set size of the measured process, its
children and (with ``--pg``) every PostgreSQL server process, sampled every 50 ms (with ``--pg`` also
without the server's processes: schedtui's own footprint). CPU is user+system time of the measured
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
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"


def child(mode: str, url: str) -> None:
    """Runs inside the measured process; prints {"inner": s, "maxrss_mb": n} last
    (``maxrss_mb``: the process's peak RSS plus the largest peak of its children)."""
    import resource

    started = time.perf_counter()
    if mode in ("apscheduler", "apscheduler-nogc"):
        sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "app"))
        import fixture_app.jobs  # noqa: F401 - the app's code is importable here
        import sqlalchemy as sa
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

        if mode == "apscheduler-nogc":  # a reference: its load without Python's cyclic GC
            import gc

            gc.disable()
        t0 = time.perf_counter()
        jobs = SQLAlchemyJobStore(url=url).get_all_jobs()
        inner = time.perf_counter() - t0
        with sa.create_engine(url).connect() as conn:
            rows = conn.exec_driver_sql("SELECT count(*) FROM apscheduler_jobs").scalar()
        assert len(jobs) == rows > 0, "APScheduler's loader dropped rows: the copy is no longer the store"
    elif mode == "fetch":
        import sqlalchemy as sa

        t0 = time.perf_counter()
        if url.startswith("sqlite:///"):
            import sqlite3

            rows = (
                sqlite3.connect(f"file:{url[len('sqlite:///') :]}?mode=ro", uri=True)
                .execute("SELECT id, next_run_time, job_state FROM apscheduler_jobs")
                .fetchall()
            )
        else:
            with sa.create_engine(url).connect() as conn:
                rows = conn.exec_driver_sql("SELECT id, next_run_time, job_state FROM apscheduler_jobs").fetchall()
        inner = time.perf_counter() - t0
        assert rows
    elif mode in ("check", "jobs", "check-repeat"):
        from schedtui.cli.app import main

        argv = ["jobs", "--json", "--url", url] if mode == "jobs" else ["check", "--detailed", "--url", url]
        t0 = time.perf_counter()
        real_stdout = sys.stdout
        # check's report is read back (small); jobs' JSON goes nowhere, as before
        sys.stdout = out = open(os.devnull, "w") if mode == "jobs" else tempfile.TemporaryFile("w+")
        try:
            main(argv)
        except SystemExit:
            pass
        finally:
            sys.stdout = real_stdout
        inner = time.perf_counter() - t0
        if mode != "jobs":
            out.seek(0)
            assert "time budget" not in out.read(), "rows went undecoded for lack of time: the run measures nothing"
        out.close()
    else:
        raise SystemExit(f"unknown mode {mode}")
    _ = started
    # this process's peak plus the largest of its decode workers' (each worker's own peak,
    # counted in full although it shares its parent's pages until it writes them)
    maxrss = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    ) / 1024
    print(json.dumps({"inner": inner, "maxrss_mb": maxrss}))


def build(count: int, store: str = "bench", pg: str | None = None) -> str:
    """The store's URL (written once with real APScheduler, kept for later runs)."""
    if pg is None:
        return f"sqlite:///{_build_sqlite(count, store)}"
    import sqlalchemy as sa

    name = f"schedtui_bench_{store}{count}"
    admin = sa.create_engine(pg, isolation_level="AUTOCOMMIT")
    url = sa.make_url(pg).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        exists = conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %(n)s", {"n": name}).scalar()
        if not exists:
            print(f"building a {count:,}-job store in PostgreSQL ({name}) with real APScheduler ...", flush=True)
            conn.exec_driver_sql(f'CREATE DATABASE "{name}_tmp"')
            tmp_url = sa.make_url(pg).set(database=f"{name}_tmp").render_as_string(hide_password=False)
            _make_store(tmp_url, count, store)
            conn.exec_driver_sql(f'ALTER DATABASE "{name}_tmp" RENAME TO "{name}"')
    admin.dispose()
    return url


def _make_store(url: str, count: int, store: str) -> None:
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "fixtures" / "make_store.py"),
            "--url",
            url,
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


def _copy(url: str, suffix: str) -> tuple[str, Callable[[], None]]:
    """A copy of the store at ``url`` (for APScheduler's loader, or to change rows in) and
    a function that drops it."""
    if url.startswith("sqlite:///"):
        db = Path(url[len("sqlite:///") :])
        copy = db.with_name(f"{db.stem}-{suffix}.sqlite")
        shutil.copyfile(db, copy)
        return f"sqlite:///{copy}", lambda: copy.unlink(missing_ok=True)
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    name = f"{parsed.database}_{suffix.replace('-', '_')}"
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"')

    def drop() -> None:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return parsed.set(database=name).render_as_string(hide_password=False), drop


def _change_one_percent(url: str, run: int) -> None:
    """Move ``next_run_time`` of 1 % of the rows by a microsecond (a different 1 % each run):
    what a scheduler's writes between two probes look like to the repeated-probe cache."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if url.startswith("sqlite"):
            conn.exec_driver_sql(
                "UPDATE apscheduler_jobs SET next_run_time = next_run_time + 0.000001 "
                f"WHERE next_run_time IS NOT NULL AND rowid % 100 = {run % 100}"
            )
        else:
            conn.exec_driver_sql(
                "UPDATE apscheduler_jobs SET next_run_time = next_run_time + 0.000001 "
                f"WHERE next_run_time IS NOT NULL AND abs(hashtext(id)) %% 100 = {run % 100}"
            )
    engine.dispose()


def _build_sqlite(count: int, store: str = "bench") -> Path:
    DATA.mkdir(exist_ok=True)
    db = DATA / (f"bench{count}.sqlite" if store == "bench" else f"{store}{count}.sqlite")
    if db.exists():
        return db
    tmp = db.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    print(f"building a {count:,}-job store with real APScheduler ...", flush=True)
    t0 = time.perf_counter()
    _make_store(f"sqlite:///{tmp}", count, store)
    tmp.rename(db)
    print(f"  built in {time.perf_counter() - t0:.1f}s ({db.stat().st_size / 1e6:.0f} MB)")
    return db


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command name) of every process."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                head, rest = fh.read().rsplit(")", 1)
            out.append((int(entry), int(rest.split()[1]), head.split("(", 1)[1]))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _tree_pss_mb(root: int, with_postgres: bool) -> float:
    """Proportional set size of ``root`` and its descendants (and of every PostgreSQL server
    process: the backend serving the read is one of them), in MB."""
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, ppid, _name in procs:
        children.setdefault(ppid, []).append(pid)
    todo, seen = [root], set()
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(children.get(pid, ()))
    if with_postgres:
        seen.update(pid for pid, _ppid, name in procs if name in ("postgres", "postmaster"))
    return sum(_pss_kb(pid) for pid in seen) / 1024


def measure(mode: str, url: str, env: dict[str, str]) -> tuple[float, float, float, float, float]:
    """(process wall s, work s, peak PSS MB of all its processes, CPU s of all of them,
    peak PSS MB of its own processes alone: without the PostgreSQL server's); PSS sampled
    every 50 ms."""
    import resource
    import threading

    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", mode, url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    peak = [0.0, 0.0]
    done = threading.Event()
    server = not url.startswith("sqlite")

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], _tree_pss_mb(proc.pid, server))
            peak[1] = max(peak[1], _tree_pss_mb(proc.pid, False) if server else peak[0])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{err[-2000:]}")
    data = json.loads(out.strip().splitlines()[-1])
    return wall, data["inner"], peak[0], cpu, peak[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", choices=["bench", "varied"], default="bench")
    parser.add_argument("--pg", metavar="URL", help="run on PostgreSQL at URL (a database the user may create)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "URL"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    # every contender runs from compiled bytecode (an environment with
    # PYTHONDONTWRITEBYTECODE=1 would otherwise compile src/ in every process, workers too)
    import compileall

    compileall.compile_dir(str(ROOT / "src"), quiet=1)
    url = build(args.count, args.store, args.pg)
    # The loader deletes rows it cannot restore, so it reads its own copy (made once: a
    # fresh 100 MB copy per run would be written back to disk during the next contenders).
    aps_url, drop_aps = _copy(url, "aps-copy")
    repeat_url, drop_repeat = _copy(url, "repeat-copy")
    # every row decoded however long it takes (the default budget would leave rows of the
    # 1,000,000 store undecoded under load, and measure less than the work)
    os.environ["SCHEDTUI_DECODE_BUDGET"] = "3600"
    cold = {**os.environ, "SCHEDTUI_DECODE_CACHE": "0"}
    cache_home = tempfile.mkdtemp(prefix="schedtui-bench-cache-")
    warm = {k: v for k, v in os.environ.items() if k != "SCHEDTUI_DECODE_CACHE"}
    warm["XDG_CACHE_HOME"] = cache_home
    modes = ["apscheduler", "apscheduler-nogc", "fetch", "check", "jobs", "check-repeat"]
    results: dict[str, list[tuple[float, float, float, float, float]]] = {m: [] for m in modes}
    try:
        measure("check-repeat", repeat_url, warm)  # warms the repeated-probe cache
        for run in range(args.repeat):
            for mode in modes:  # interleaved, so noise hits every contender alike
                if mode == "check-repeat":
                    _change_one_percent(repeat_url, run)
                work = {"apscheduler": aps_url, "apscheduler-nogc": aps_url, "check-repeat": repeat_url}.get(mode, url)
                results[mode].append(measure(mode, work, warm if mode == "check-repeat" else cold))
    finally:
        drop_aps()
        drop_repeat()
        shutil.rmtree(cache_home, ignore_errors=True)
    where = "PostgreSQL" if args.pg else "SQLite"
    print(f"\n{args.store} store, {args.count:,} jobs, {where}, {args.repeat} runs each (medians)")
    own_label = "own PSS" if args.pg else ""
    print(
        f"{'contender':<14}{'process wall s':>16}{'work s':>10}{'CPU s':>8}{'PSS MB':>10}{own_label:>9}"
        "   work s, every run"
    )
    med: dict[str, tuple[float, float, float, float, float]] = {}
    for mode in modes:
        walls, inners, rss, cpus, own = zip(*results[mode], strict=True)
        med[mode] = (statistics.median(walls), statistics.median(inners), max(rss), statistics.median(cpus), max(own))
        runs = " ".join(f"{x:.2f}" for x in inners)
        own_col = f"{med[mode][4]:>9.0f}" if args.pg else ""
        print(
            f"{mode:<14}{med[mode][0]:>16.2f}{med[mode][1]:>10.2f}{med[mode][3]:>8.2f}{med[mode][2]:>10.0f}{own_col}"
            f"   {runs}"
        )
    if args.pg:
        print("(PSS MB: the contender's processes and every PostgreSQL server process; own PSS: without the server's)")
    aps_wall, aps_inner, _, aps_cpu, _ = med["apscheduler"]
    print("\nissue 11 table row (whole processes; ratio = time / APScheduler's own get_all_jobs() process):")
    print(
        "| store | `check --detailed` wall | CPU | `jobs --json` wall | repeated check (1 % changed) | check peak PSS MB |"
    )
    print(
        f"| {args.store} {args.count:,} ({where}) | {med['check'][0] / aps_wall:.2f} ({med['check'][0]:.1f} s) "
        f"| {med['check'][3] / aps_cpu:.2f} | {med['jobs'][0] / aps_wall:.2f} ({med['jobs'][0]:.1f} s) "
        f"| {med['check-repeat'][0] / aps_wall:.2f} ({med['check-repeat'][0]:.1f} s) "
        + (
            f"| {med['check'][4]:.0f} ({med['check'][2]:.0f} with the server's processes) |"
            if args.pg
            else f"| {med['check'][2]:.0f} |"
        )
    )
    print(
        "targets (varied 100,000, SQLite and PostgreSQL): check <= 0.25 wall and <= 0.5 CPU, jobs --json <= 0.5, "
        "repeated check <= 0.1, peak PSS of all processes <= 300 MB (on PostgreSQL: schedtui's; with the "
        "server's processes in brackets); 1,000 jobs: check <= 0.5"
    )
    for mode in ("check", "jobs", "check-repeat"):
        print(
            f"{mode} / apscheduler: {med[mode][0] / aps_wall:.2f} of its process time, "
            f"{med[mode][1] / aps_inner:.2f} of its load time, {med[mode][3] / aps_cpu:.2f} of its CPU"
        )
    # How much of APScheduler's load is Python's cyclic garbage collector (100,000s of new
    # objects start full collections over all of them) varies from machine to machine, and
    # so do the ratios above; against the same load with the collector off (not a target):
    nogc_wall, nogc_inner, _, nogc_cpu, _ = med["apscheduler-nogc"]
    print(
        f"reference: APScheduler's load with the cyclic GC off takes {nogc_inner / aps_inner:.2f} of its load "
        f"time ({nogc_inner:.2f} of {aps_inner:.2f} s); against it, check is {med['check'][0] / nogc_wall:.2f} "
        f"of its process time and {med['check'][3] / nogc_cpu:.2f} of its CPU, jobs --json "
        f"{med['jobs'][0] / nogc_wall:.2f}, the repeated check {med['check-repeat'][0] / nogc_wall:.2f}"
    )


if __name__ == "__main__":
    main()
