"""Backup time and peak memory: schedtui's verified backup vs ``sqlite3 .backup``.

Two databases, built fresh in a temporary folder:
- ``jobs100k``: a 100,000-job store whose rows are real APScheduler job states
  (``Job.__getstate__`` pickled the way ``SQLAlchemyJobStore`` does, in one transaction);
- ``big``: the same store plus an application table of random blobs, about 1 GB.

Each measurement runs in its own child process (peak RSS from ``wait4``); the same file
is backed up by ``sqlite3 DB ".backup OUT"`` in the same run. Prints medians.

    .venv/bin/python benchmarks/bench_backup.py [--runs 3] [--size-mb 1024] [--keep-files]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
t0 = time.monotonic()
from schedtui.core.backup import create_backup
from schedtui.core.backup.verify import load_decoder
from schedtui.core.model import Target
phases = {}
last = [time.monotonic(), "start"]
def progress(f, msg):
    now = time.monotonic(); key = last[1]
    phases[key] = round(phases.get(key, 0) + now - last[0], 3); last[0] = now; last[1] = msg.split(" ")[0]
import sqlalchemy.engine  # imported by any real caller already; not part of the backup
t1 = time.monotonic()
r = create_backup(Target(sys.argv[1]), sys.argv[2], keep=0, progress=progress)
print(json.dumps({"s": time.monotonic() - t1, "size": r.size, "rows": dict(r.rows), "decoded": load_decoder() is not None,
                  "undecodable": len(r.undecodable), "path": str(r.path), "phases": phases}))
"""
BASELINE = "import schedtui.core.backup, sqlalchemy, apscheduler"


def measured(argv: list[str]) -> tuple[float, float, str]:
    """Run ``argv`` and return (wall s, peak RSS MiB, stdout) using wait4."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout and proc.stderr
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({argv[0]}): {err.strip()[-400:]}")
    return wall, usage.ru_maxrss / 1024, out


STORE_WRITER = r"""
import pickle, sys
from datetime import datetime, timedelta, timezone
sys.path.insert(0, sys.argv[3])
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
url, count = sys.argv[1], int(sys.argv[2])
sched = BackgroundScheduler(timezone="UTC")
store = SQLAlchemyJobStore(url=url)
store.start(sched, "default")
now = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)
rows = []
for i in range(count):
    trig = (CronTrigger(hour=i % 24, minute=i % 60, timezone="Europe/Berlin") if i % 4
            else IntervalTrigger(minutes=5 + i % 120, start_date=now, timezone="UTC"))
    nrt = None if i % 50 == 0 else trig.get_next_fire_time(None, now)
    job = Job(sched, id=f"bench-{i:06d}", func="tests.test_backup_helpers:tick", trigger=trig, executor="default",
              args=(i, f"tenant-{i % 97}"), kwargs={"batch": i % 10, "note": "x" * (i % 40)}, name=f"Bench job {i}",
              misfire_grace_time=60, coalesce=True, max_instances=1, next_run_time=nrt)
    state = pickle.dumps(job.__getstate__(), pickle.HIGHEST_PROTOCOL)
    rows.append({"id": job.id, "next_run_time": nrt.timestamp() if nrt else None, "job_state": state})
with store.engine.begin() as conn:
    for s in range(0, len(rows), 5000):
        conn.execute(store.jobs_t.insert(), rows[s:s + 5000])
store.shutdown()
"""


def build_store(path: Path, count: int) -> None:
    """``count`` jobs pickled by real APScheduler (``Job.__getstate__``), one transaction."""
    subprocess.run([sys.executable, "-c", STORE_WRITER, f"sqlite:///{path}", str(count), str(ROOT)], check=True)


def pad(path: Path, size_mb: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS app_payload (id INTEGER PRIMARY KEY, body BLOB)")
    have = path.stat().st_size
    rows = max(0, (size_mb * (1 << 20) - have) // 8200)
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        "INSERT INTO app_payload (body) SELECT randomblob(8000) FROM n",
        (rows,),
    )
    conn.commit()
    conn.close()


def bench(label: str, db: Path, work: Path, runs: int) -> dict[str, object]:
    url = f"sqlite:///{db}"
    ours, theirs, info = [], [], {}
    for i in range(runs):
        folder = work / f"out-{label}-{i}"
        wall, rss, out = measured([sys.executable, "-c", CHILD, url, str(folder)])
        info = json.loads(out)
        ours.append((info["s"], wall, rss))
        print(f"  {label} run {i + 1}: {info['s']:.3f} s, phases {info['phases']}", flush=True)
        shutil.rmtree(folder)
        cli_out = work / f"cli-{label}-{i}.sqlite"
        wall, rss, _ = measured(["sqlite3", str(db), f".backup '{cli_out}'"])
        theirs.append((wall, rss))
        cli_out.unlink()
    _, base_rss, _ = measured([sys.executable, "-c", BASELINE])
    med = statistics.median
    return {
        "db": label,
        "size_mb": round(db.stat().st_size / (1 << 20), 1),
        "jobs": info["rows"].get("apscheduler_jobs"),
        "decoded": info["decoded"],
        "schedtui_s": round(med(o[0] for o in ours), 3),
        "schedtui_process_s": round(med(o[1] for o in ours), 3),
        "schedtui_peak_mib": round(med(o[2] for o in ours), 1),
        "python_baseline_mib": round(base_rss, 1),
        "sqlite3_cli_s": round(med(t[0] for t in theirs), 3),
        "sqlite3_cli_peak_mib": round(med(t[1] for t in theirs), 1),
        "runs": runs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--keep-files", action="store_true")
    a = ap.parse_args()
    work = Path(a.dir or tempfile.mkdtemp(prefix="bench-backup-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.monotonic()
        jobs = work / "jobs100k.sqlite"
        build_store(jobs, a.jobs)
        big = work / "big.sqlite"
        shutil.copyfile(jobs, big)
        pad(big, a.size_mb)
        print(f"built databases in {time.monotonic() - t0:.1f} s in {work}", flush=True)
        results = [bench("jobs100k", jobs, work, a.runs), bench("1GB", big, work, a.runs)]
        cols = list(results[0])
        print("  ".join(f"{c:>20}" for c in cols))
        for r in results:
            print("  ".join(f"{r[c]!s:>20}" for c in cols))
        print(json.dumps(results))
    finally:
        if not a.keep_files:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
