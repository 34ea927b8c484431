"""Decoder speed vs APScheduler's own load (``SQLAlchemyJobStore.get_all_jobs``).

    .venv/bin/python benchmarks/bench_decoder.py [--count 100000] [--repeat 3]

Prints the median µs per row of:
- ``apscheduler``: ``get_all_jobs()`` (CPU time) in a subprocess that has the job code
  (read, unpickle, ``Job.__setstate__``), on a copy of the same file;
- ``decode``, in this process (``watchdog=False``, CPU time), with the trigger-segment
  cache off and on (``core/decode/segments.py``; it starts empty each time, so its cost of
  learning is in);
- ``decode``, as ``decode_rows`` runs for a table read: in the sandbox's warm decode
  workers (wall time: their CPU is spent in other processes);
and each one's ratio to APScheduler (the product target: <= 0.25).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.factory import FIXTURES, cached_sqlite_store  # noqa: E402

from schedtui.core.decode import decode_rows  # noqa: E402
from schedtui.core.decode import segments as _segment_cache  # noqa: E402

APS_CHILD = r"""
import sys, time, json, gc
sys.path.insert(0, sys.argv[3])
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
store = SQLAlchemyJobStore(url="sqlite:///" + sys.argv[1])
store.start(BackgroundScheduler(), "default")
out = []
for _ in range(int(sys.argv[2])):
    t = time.process_time()
    jobs = store.get_all_jobs()
    out.append(time.process_time() - t)
    del jobs
print(json.dumps({"n": len(store.get_all_jobs()), "times": out}))
"""


def _ours(db: Path, repeat: int) -> tuple[dict[str, list[float]], int, int]:
    con = sqlite3.connect(db)
    sql = "SELECT id, next_run_time, job_state FROM apscheduler_jobs ORDER BY next_run_time"
    rows = con.execute(sql).fetchall()
    decode_rows(rows[:100])  # warm caches (zones, validated fields)
    out: dict[str, list[float]] = {}
    bad = 0
    for _ in range(repeat):
        for cache in (False, True):
            _segment_cache.ENABLED = cache
            _segment_cache.CACHE.clear()
            t = time.process_time()
            res = decode_rows(rows, watchdog=False)
            out.setdefault(f"one process, cache {'on' if cache else 'off'} (cpu)", []).append(time.process_time() - t)
            bad = sum(1 for j in res if j.finding)
            del res
        _segment_cache.CACHE.clear()
        w = time.perf_counter()
        res = decode_rows(rows)
        out.setdefault("sandbox workers (wall)", []).append(time.perf_counter() - w)
        del res
    return out, len(rows), bad


def _aps(db: Path, repeat: int) -> tuple[list[float], int]:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.db"
        shutil.copyfile(db, copy)
        proc = subprocess.run(
            [sys.executable, "-c", APS_CHILD, str(copy), str(repeat), str(FIXTURES / "app")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    data = json.loads(proc.stdout)
    return data["times"], data["n"]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--count", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    for scenario, count in (("catalog", None), ("bench", a.count)):
        db, _manifest = cached_sqlite_store(scenario, count=count)
        ours, n, bad = _ours(db, a.repeat)
        aps, n_aps = _aps(db, a.repeat)
        us = lambda xs: statistics.median(xs) / n * 1e6  # noqa: E731
        print(f"{scenario}: {n} rows ({bad} with findings; APScheduler loaded {n_aps})")
        print(f"  apscheduler get_all_jobs cpu   {us(aps):8.1f} µs/row  (with the job code)")
        for label, xs in ours.items():
            ratio = statistics.median(xs) / statistics.median(aps)
            print(f"  {label:<30} {us(xs):8.1f} µs/row  ratio {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
