"""``schedtui metrics --listen``: scrape latency, refresh cost and exporter memory (prints
medians; not a test).

    .venv/bin/python benchmarks/bench_metrics.py [--counts 1000,100000] [--scrapes 15]
                                                 [--backends sqlite,postgresql]

For each store (SQLite, and PostgreSQL when SCHEDTUI_TEST_PG_URL is set), written by real
APScheduler (tests/fixtures/make_store.py, "bench" scenario, next run times computed from
the moment the store is built, so the jobs are on time), it starts the real exporter
(``schedtui metrics --listen 127.0.0.1:0 --refresh 1``, default ``--per-job problem``) in
its own process and measures, idle and with a writer committing every second (10 rows'
``next_run_time`` advanced per commit, the kind of write a scheduler makes):

- the all-overdue store (worst case: the per-job cap of 1,000 jobs applies): idle only;
- scrape: wall time of one ``GET /metrics`` (OpenMetrics, no gzip) from a client;
- refresh: the exporter's own time to re-read (incrementally) and judge every store, as
  its ``/healthz`` reports it: the work a scrape would do if it were not served from the
  last snapshot;
- memory: the exporter process's resident set (VmRSS) once warm, its peak (VmHWM,
  including the first full read), and the increase of VmRSS over all the scrapes.

Targets (issue 14): a scrape of 100,000 jobs < 1 s and < 50 MB.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"
ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


def build_sqlite(count: int, stale: bool = False) -> str:
    DATA.mkdir(exist_ok=True)
    db = DATA / f"metrics{count}{'-stale' if stale else ''}.sqlite"
    if not db.exists():
        tmp = db.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        _make(f"sqlite:///{tmp}", count, STALE_NOW if stale else None)
        tmp.rename(db)
    return f"sqlite:///{db}"


def build_pg(admin: str, count: int) -> str:
    import sqlalchemy as sa

    admin = admin.replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"schedtui_bench_metrics_{count}_{uuid.uuid4().hex[:6]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = sa.engine.make_url(admin).set(database=name).render_as_string(hide_password=False)
    _make(url, count)
    return url


def drop_pg(admin: str, url: str) -> None:
    import sqlalchemy as sa

    name = sa.engine.make_url(url).database
    engine = sa.create_engine(admin.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


#: A store whose scheduler stopped long ago: every job is overdue (worst case for ``problem``).
STALE_NOW = "2026-03-02T12:00:00+00:00"


def _make(url: str, count: int, now: str | None = None) -> None:
    print(f"  writing {count:,} jobs with real APScheduler …", flush=True)
    # next run times from a day ahead: every job stays on time during the run (a healthy
    # store, as a running scheduler keeps it)
    now = now or (datetime.now(UTC) + timedelta(days=1)).isoformat()
    cmd = [sys.executable, str(ROOT / "tests/fixtures/make_store.py"), "--url", url, "--scenario", "bench"]
    subprocess.run([*cmd, "--count", str(count), "--now", now], check=True, stdout=subprocess.DEVNULL)


class Writer(threading.Thread):
    """Commits every second: 10 rows' next_run_time advanced by a minute."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.commits = url, threading.Event(), 0

    def run(self) -> None:
        if self.url.startswith("sqlite"):
            conn = sqlite3.connect(self.url.removeprefix("sqlite:///"))
            sql = "UPDATE apscheduler_jobs SET next_run_time = next_run_time + 60 WHERE id IN ({})"
            offset = 0
            while not self.stop.wait(1.0):
                ids = [f"job-{(offset + k) % 1000:06d}" for k in range(10)]
                conn.execute(sql.format(",".join("?" * 10)), ids)
                conn.commit()
                offset += 10
                self.commits += 1
            conn.close()
        else:
            import sqlalchemy as sa

            engine = sa.create_engine(self.url)
            offset = 0
            while not self.stop.wait(1.0):
                ids = [f"job-{(offset + k) % 1000:06d}" for k in range(10)]
                with engine.begin() as conn:
                    conn.execute(
                        sa.text("UPDATE apscheduler_jobs SET next_run_time = next_run_time + 60 WHERE id = ANY(:ids)"),
                        {"ids": ids},
                    )
                offset += 10
                self.commits += 1
            engine.dispose()


def _status(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def _get(url: str, accept: str | None = None) -> bytes:
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return bytes(resp.read())


def _refresh_seconds(base: str) -> float | None:
    m = re.search(r"in ([0-9.]+) s", _get(base + "/healthz").decode())
    return float(m.group(1)) if m else None


def run_exporter(url: str, scrapes: int, busy: bool) -> dict[str, float]:
    cmd = [sys.executable, "-m", "schedtui", "metrics", "--listen", "127.0.0.1:0", "--refresh", "1", "--url", url]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writer = Writer(url) if busy else None
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "http://" not in line:
            raise SystemExit(f"exporter did not start: {line}{proc.stderr.read() if proc.stderr else ''}")
        first = time.perf_counter() - t0
        base = "http://" + line.split("http://", 1)[1].split("/metrics", 1)[0]
        if writer is not None:
            writer.start()
        body = _get(base + "/metrics", ACCEPT)
        time.sleep(3)  # let a few background refreshes pass (warm reader)
        before = _status(proc.pid)
        times, refreshes = [], []
        for _ in range(scrapes):
            s = time.perf_counter()
            body = _get(base + "/metrics", ACCEPT)
            times.append(time.perf_counter() - s)
            r = _refresh_seconds(base)
            if r is not None:
                refreshes.append(r)
            time.sleep(0.5)
        after = _status(proc.pid)
        series = sum(1 for ln in body.splitlines() if ln and not ln.startswith(b"#"))
        return {
            "first_s": first,
            "scrape_ms": statistics.median(times) * 1000,
            "scrape_max_ms": max(times) * 1000,
            "refresh_ms": statistics.median(refreshes) * 1000 if refreshes else float("nan"),
            "rss_mb": after["VmRSS"],
            "hwm_mb": after["VmHWM"],
            "scrape_delta_mb": after["VmRSS"] - before["VmRSS"],
            "series": series,
            "bytes": len(body),
            "commits": writer.commits if writer else 0,
        }
    finally:
        if writer is not None:
            writer.stop.set()
            writer.join(10)
        proc.terminate()
        proc.wait(30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="1000,100000")
    ap.add_argument("--scrapes", type=int, default=15)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--no-stale", dest="stale", action="store_false", help="skip the all-overdue store")
    a = ap.parse_args()
    admin = os.environ.get("SCHEDTUI_TEST_PG_URL")
    rows = []
    for backend in a.backends.split(","):
        if backend == "postgresql" and not admin:
            print("postgresql: skipped (set SCHEDTUI_TEST_PG_URL)")
            continue
        for count in (int(c) for c in a.counts.split(",")):
            print(f"{backend}, {count:,} jobs", flush=True)
            url = build_sqlite(count) if backend == "sqlite" else build_pg(admin or "", count)
            try:
                for busy in (False, True):
                    r = run_exporter(url, a.scrapes, busy)
                    rows.append((backend, count, "busy" if busy else "idle", r))
            finally:
                if backend == "postgresql" and admin:
                    drop_pg(admin, url)
    if "sqlite" in a.backends.split(",") and a.stale:
        count = max(int(c) for c in a.counts.split(","))
        print(f"sqlite, {count:,} jobs, all overdue (worst case for --per-job problem)", flush=True)
        rows.append(("sqlite", count, "stale", run_exporter(build_sqlite(count, stale=True), a.scrapes, False)))
    print(f"\nmedians over {a.scrapes} scrapes (scrape: client wall time; refresh: the exporter's re-read + judgement)")
    head = "backend     jobs     load   first(s)  scrape(ms)  max(ms)  refresh(ms)  RSS(MB)  peak(MB)  +scrapes(MB)  series  commits"
    print(head)
    for backend, count, load, r in rows:
        print(
            f"{backend:<10} {count:>7,}  {load:<5} {r['first_s']:>8.2f}  {r['scrape_ms']:>10.2f}  {r['scrape_max_ms']:>7.1f}"
            f"  {r['refresh_ms']:>11.1f}  {r['rss_mb']:>7.0f}  {r['hwm_mb']:>8.0f}  {r['scrape_delta_mb']:>12.1f}"
            f"  {int(r['series']):>6}  {int(r['commits']):>7}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
