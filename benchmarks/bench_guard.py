"""What the deletion guard costs on the normal path (every row restorable).

Loads a store of varied jobs (the ``bench`` scenario: every job its own trigger) with
real APScheduler through ``get_all_jobs`` and ``get_due_jobs``, with and without the
guard, alternating, and prints medians. ``python benchmarks/bench_guard.py [--jobs N]``.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "app"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, nargs="*", default=[1500, 20000])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from tests.fixtures.factory import cached_sqlite_store

    from schedtui.companion.guard import install_guard

    for n in args.jobs:
        src, _ = cached_sqlite_store("bench", count=n)
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "jobs.sqlite"
            shutil.copyfile(src, db)
            guarded = SQLAlchemyJobStore(url=f"sqlite:///{db}")
            plain = SQLAlchemyJobStore(url=f"sqlite:///{db}")
            for s in (plain, guarded):
                s.start(None, "default")
            install_guard(guarded)
            far = datetime(2100, 1, 1, tzinfo=UTC)
            times: dict[str, list[float]] = {"all plain": [], "all guarded": [], "due plain": [], "due guarded": []}
            pair = [("plain", plain), ("guarded", guarded)]
            for i in range(args.runs):
                for label, store in pair if i % 2 == 0 else pair[::-1]:
                    gc.collect()
                    t = time.perf_counter()
                    got = store.get_all_jobs()
                    times[f"all {label}"].append(time.perf_counter() - t)
                    assert len(got) == n
                    del got
                    gc.collect()
                    t = time.perf_counter()
                    store.get_due_jobs(far)
                    times[f"due {label}"].append(time.perf_counter() - t)
            import sqlite3

            with sqlite3.connect(db) as conn:
                states = [bytes(r[0]) for r in conn.execute("SELECT job_state FROM apscheduler_jobs")]
            for i in range(args.runs):
                for label, store in pair if i % 2 == 0 else pair[::-1]:
                    restore = store._reconstitute_job
                    gc.collect()
                    t = time.perf_counter()
                    for state in states:
                        restore(state)
                    times.setdefault(f"one {label}", []).append(time.perf_counter() - t)
            med = {k: statistics.median(v) for k, v in times.items()}
            p, g = med["one plain"] / n, med["one guarded"] / n
            print(
                f"{n:>7} jobs  _reconstitute_job: plain {p * 1e6:.2f} us  guarded {g * 1e6:.2f} us  ({(g - p) * 1e9:+.0f} ns/job)"
            )
            for path in ("all", "due"):
                p, g = med[f"{path} plain"], med[f"{path} guarded"]
                print(
                    f"{n:>7} jobs  get_{path}_jobs: plain {p * 1000:8.1f} ms  guarded {g * 1000:8.1f} ms  "
                    f"ratio {g / p:.3f}  ({(g - p) / n * 1e9:+.0f} ns/job)"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
