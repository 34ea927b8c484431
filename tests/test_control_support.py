"""Support for the job-control tests (no tests here): a real scheduler in another process.

Its application module (``ctlapp``) is written into a temporary folder that only the
scheduler subprocess has on ``sys.path``: the test process never imports it. The
scheduler runs ``tick-*`` jobs every second (interval trigger on the whole-second grid),
keeps ``once-*`` jobs paused, optionally attaches the schedtui companion with the
command applier, logs every execution event to ``events.jsonl`` and every run of the job
function to ``runs.txt``. It stops when ``stop`` appears and then writes ``status.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

APP_INIT = '"""The control tests\' application (importable only in the scheduler process)."""\n'
APP_MODELS = textwrap.dedent(
    """
    from dataclasses import dataclass, field
    import enum

    class Level(enum.Enum):
        LOW = 1
        HIGH = 2

    @dataclass
    class Payload:
        number: int
        level: Level = Level.HIGH
        tags: list = field(default_factory=lambda: ["a", "b"])
    """
)
APP_JOBS = textwrap.dedent(
    '''
    import os

    def work(job_id, payload, out=None):
        fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (job_id + "\\n").encode())
        finally:
            os.close(fd)

    def anything(*args, **kwargs):
        """Accepts any arguments."""

    class Reporter:
        def __init__(self, team):
            self.team = team

        def __repr__(self):
            return f"Reporter({self.team!r})"

        def run(self, *args, **kwargs):
            """A bound-method job: the instance is pickled in args[0]."""
    '''
)

RUNNER = textwrap.dedent(
    """
    import json, os, sys, threading, time, logging
    from datetime import datetime, timezone
    app, url, work, n_tick, n_once, companion, n_far = sys.argv[1:8]
    sys.path.insert(0, app)
    logging.basicConfig(filename=os.path.join(work, "scheduler.log"), level=logging.WARNING)
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES
    from ctlapp.models import Payload

    sched = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=url)},
        executors={"default": ThreadPoolExecutor(20)},
        timezone="UTC",
        job_defaults={"coalesce": True, "misfire_grace_time": 30, "max_instances": 10},
    )
    lock = threading.Lock()
    events = open(os.path.join(work, "events.jsonl"), "a", buffering=1)
    names = {EVENT_JOB_EXECUTED: "executed", EVENT_JOB_MISSED: "missed", EVENT_JOB_ERROR: "error", EVENT_JOB_MAX_INSTANCES: "max_instances"}

    def listener(ev):
        if ev.jobstore != "default":
            return
        srt = getattr(ev, "scheduled_run_time", None)
        rec = {"job": ev.job_id, "code": names[ev.code], "srt": srt.timestamp() if srt else None}
        with lock:
            events.write(json.dumps(rec) + "\\n")

    sched.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)
    sched.start()
    out = os.path.join(work, "runs.txt")
    grid = datetime(2020, 1, 1, tzinfo=timezone.utc)
    for i in range(int(n_tick)):
        sched.add_job("ctlapp.jobs:work", "interval", seconds=1, start_date=grid, id=f"tick-{i}",
                      args=(f"tick-{i}", Payload(i)), kwargs={"out": out}, replace_existing=True)
    for i in range(int(n_once)):
        sched.add_job("ctlapp.jobs:work", "cron", minute="*/5", id=f"once-{i}",
                      args=(f"once-{i}", Payload(100 + i)), kwargs={"out": out},
                      next_run_time=None, replace_existing=True)
    for i in range(int(n_far)):  # never due during a test, even when resumed
        sched.add_job("ctlapp.jobs:work", "cron", month=1, day=1, hour=0, id=f"far-{i}",
                      args=(f"far-{i}", Payload(200 + i)), kwargs={"out": out},
                      next_run_time=None, replace_existing=True)
    if companion == "1":
        from schedtui.companion import attach
        from schedtui.companion.commands import install
        comp = attach(sched, name="control-test", heartbeat_interval=0.2, commands=False)
        install(comp, max_per_tick=int(os.environ.get("CTL_MAX_PER_TICK", "500")))
    open(os.path.join(work, "ready"), "w").close()
    while not os.path.exists(os.path.join(work, "stop")):
        time.sleep(0.05)
    status = {"thread_alive": sched._thread.is_alive(), "state": sched.state}
    sched.shutdown(wait=True)
    with open(os.path.join(work, "status.json"), "w") as fh:
        json.dump(status, fh)
    """
)

LOADER = textwrap.dedent(
    """
    import json, sys
    app, url, table = sys.argv[1:4]
    sys.path.insert(0, app)
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    import sqlalchemy as sa
    store = SQLAlchemyJobStore(url=url, tablename=table)
    t = store.jobs_t
    out = {}
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.id, t.c.next_run_time, t.c.job_state)).all()
    for job_id, column, state in rows:
        job = store._reconstitute_job(state)  # lookup_job's path: raises, never deletes
        nrt = job.next_run_time
        out[job_id] = {
            "column": column,
            "pickled": nrt.timestamp() if nrt else None,
            "pickled_tz": type(nrt.tzinfo).__name__ if nrt else None,
            "utcoffset": nrt.utcoffset().total_seconds() if nrt else None,
            "fold": nrt.fold if nrt else None,
            "args": repr(job.args),
            "kwargs": repr(job.kwargs),
            "trigger": repr(job.trigger),
            "func": job.func_ref,
            "name": job.name,
            "misfire_grace_time": job.misfire_grace_time,
            "coalesce": job.coalesce,
            "max_instances": job.max_instances,
        }
    print(json.dumps(out))
    """
)


@contextmanager
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder for SQLite files on tmpfs when there is one (commits without the fsync
    cost, same locking), else ``tmp_path``; removed afterwards."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="schedtui-ctl-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


GENERATOR = textwrap.dedent(
    """
    import base64, json, pickle, sys
    from datetime import datetime, timedelta, timezone
    from zoneinfo import ZoneInfo
    app = sys.argv[1]
    sys.path.insert(0, app)
    import pytz
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.job import Job
    from apscheduler.triggers.combining import AndTrigger, OrTrigger
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger
    from ctlapp.models import Payload, Level

    class Holder:
        pass

    sched = BackgroundScheduler(timezone="UTC")
    NOW = datetime(2026, 3, 2, 12, 0, 0, 123456, tzinfo=timezone.utc)
    berlin_pytz = pytz.timezone("Europe/Berlin")

    def make(trigger, trigger_args=None, args=(), kwargs=None, next_run_time="auto"):
        trigger_args = dict(trigger_args or {})
        # explicit starts, a little after NOW (APScheduler's defaults are the real now /
        # today): the jobs are not due at NOW, so a direct pause need not wait to see
        # whether a scheduler is running them
        if trigger == "interval":
            trigger_args.setdefault("start_date", NOW + timedelta(hours=1))
        elif trigger == "calendarinterval":
            trigger_args.setdefault("start_date", NOW.date() + timedelta(days=1))
        trig = sched._create_trigger(trigger, trigger_args)
        job = Job(sched, id="job-1", func="ctlapp.jobs:anything", trigger=trig, executor="default",
                  args=args, kwargs=kwargs or {}, name="a job", misfire_grace_time=30,
                  coalesce=True, max_instances=2,
                  next_run_time=trig.get_next_fire_time(None, NOW) if next_run_time == "auto" else next_run_time)
        return job

    payload = (Payload(7, Level.LOW, ["x"]), Level.HIGH)
    cases = {
        "cron-berlin": make("cron", {"minute": "*/5", "timezone": "Europe/Berlin"}, payload),
        "cron-utc-start": make("cron", {"hour": 3, "timezone": "UTC", "start_date": datetime(2020, 1, 1, tzinfo=timezone.utc)}),
        "cron-pytz-zone": make("cron", {"hour": 3, "timezone": berlin_pytz}),
        "cron-fold": make("cron", {"minute": 30, "timezone": "Europe/Berlin"},
                          next_run_time=datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin"))),
        "interval-ny": make("interval", {"seconds": 30, "timezone": "America/New_York"}, kwargs={"p": payload[0]}),
        "interval-fixed": make("interval", {"hours": 2, "timezone": timezone(timedelta(hours=5, minutes=30))}),
        "interval-pytz-start": make("interval", {"minutes": 7, "start_date": berlin_pytz.localize(datetime(2026, 1, 1, 8))}),
        "date-berlin": make("date", {"run_date": datetime(2030, 1, 1, 9, tzinfo=ZoneInfo("Europe/Berlin"))}, payload),
        "date-utc": make("date", {"run_date": datetime(2030, 6, 1, tzinfo=timezone.utc)}),
        "date-pytz": make("date", {"run_date": berlin_pytz.localize(datetime(2030, 7, 1, 9))}),
        "calendar": make("calendarinterval", {"days": 1, "hour": 3, "timezone": "Europe/Berlin"}),
        "and": make(AndTrigger([CronTrigger(hour="*/2", timezone="UTC"), CronTrigger(minute=0, timezone="UTC")])),
        "or": make(OrTrigger([CronTrigger(hour=1, timezone="Asia/Tokyo"), IntervalTrigger(hours=5, start_date=NOW + timedelta(hours=1), timezone="UTC")])),
        "big-args": make("interval", {"seconds": 10, "timezone": "UTC"}, (b"x" * 200_000, "y" * 70_000)),
    }
    if len(sys.argv) > 2 and sys.argv[2].startswith(("mysql", "mariadb")):
        # MySQL's BLOB holds 64 KiB: APScheduler cannot store a multi-frame state there at all
        cases["big-args"] = make("interval", {"seconds": 10, "timezone": "UTC"}, (b"x" * 30_000, "y" * 20_000))
    from ctlapp.jobs import Reporter
    bound = Job(sched, id="job-2", func=Reporter("ops").run, trigger=sched._create_trigger("cron", {"hour": 1, "timezone": "UTC"}),
                executor="default", args=(Payload(1),), kwargs={}, name="bound", misfire_grace_time=None,
                coalesce=False, max_instances=1, next_run_time=datetime(2026, 3, 3, 1, tzinfo=timezone.utc))
    cases["bound-method"] = bound

    stores = {}
    if len(sys.argv) > 2:  # also store every case in a real job store, one table per protocol
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        for proto in (2, 3, 4, 5):
            store = SQLAlchemyJobStore(url=sys.argv[2], tablename=f"jobs_p{proto}", pickle_protocol=proto)
            store.start(sched, "default")
            stores[proto] = store
    out = {}
    for name, job in cases.items():
        if stores:
            job.id = name  # the row id; the stored bytes are exactly the "original" below
            for store in stores.values():
                store.add_job(job)
        for proto in (2, 3, 4, 5):
            state = job.__getstate__()
            original = pickle.dumps(state, proto)
            running = job.next_run_time
            paused = pickle.dumps(dict(state, next_run_time=None), proto)
            resumed_dt = job.trigger.get_next_fire_time(None, NOW)
            resumed = pickle.dumps(dict(state, next_run_time=resumed_dt), proto)
            tz = resumed_dt.tzinfo
            out[f"{name}/p{proto}"] = {
                "original": base64.b64encode(original).decode(),
                "paused": base64.b64encode(paused).decode(),
                "resumed": base64.b64encode(resumed).decode(),
                "resume_ts": resumed_dt.timestamp(),
                "resume_zone": getattr(tz, "key", None) or getattr(tz, "zone", None),
                "resume_offset": resumed_dt.utcoffset().total_seconds(),
                "resume_is_zoneinfo": isinstance(tz, (ZoneInfo, timezone)),
                "running_ts": running.timestamp() if running else None,
                "running_fold": running.fold if running else 0,
                "running_zone": getattr(running.tzinfo, "key", None) if running else None,
                "is_date": name.startswith("date-"),
            }
    print(json.dumps(out))
    """
)

STATE_LOADER = textwrap.dedent(
    """
    import base64, json, pickle, sys
    app = sys.argv[1]
    sys.path.insert(0, app)
    from apscheduler.job import Job

    def describe(state_bytes):
        job = Job.__new__(Job)
        job.__setstate__(pickle.loads(state_bytes))
        nrt = job.next_run_time
        return {
            "rest": repr((job.id, job.func_ref, job.func, job.trigger, job.executor, job.args, job.kwargs,
                          job.name, job.misfire_grace_time, job.coalesce, job.max_instances)),
            "nrt_ts": nrt.timestamp() if nrt else None,
            "nrt_offset": nrt.utcoffset().total_seconds() if nrt else None,
            "nrt_fold": nrt.fold if nrt else None,
            "nrt_tz": type(nrt.tzinfo).__name__ if nrt else None,
            "same_tz_as_trigger": bool(nrt and getattr(job.trigger, "timezone", None) is nrt.tzinfo),
            "run_date_shared": bool(nrt and getattr(job.trigger, "run_date", None) is nrt),
        }

    items = json.load(sys.stdin)
    print(json.dumps({k: describe(base64.b64decode(v)) for k, v in items.items()}))
    """
)


def write_app(folder: Path) -> Path:
    """Write ``ctlapp`` into ``folder`` (put on the scheduler's sys.path only)."""
    pkg = folder / "ctlapp"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(APP_INIT)
    (pkg / "models.py").write_text(APP_MODELS)
    (pkg / "jobs.py").write_text(APP_JOBS)
    return folder


def poll_until(fn: Callable[[], Any], timeout: float, what: str, step: float = 0.05) -> Any:
    """Call ``fn`` until it returns something truthy; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src")
    return env


class LiveScheduler:
    """Start/stop the scheduler subprocess; read what it logged."""

    def __init__(
        self,
        tmp: Path,
        url: str,
        *,
        n_tick: int = 6,
        n_once: int = 4,
        companion: bool = True,
        n_far: int = 0,
        max_per_tick: int = 500,
    ) -> None:
        self.app = write_app(tmp / "app")
        self.work = tmp / "work"
        self.work.mkdir(exist_ok=True)
        self.url = url
        script = tmp / "run_scheduler.py"
        script.write_text(RUNNER)
        self.proc = subprocess.Popen(
            [
                PYTHON,
                str(script),
                str(self.app),
                url,
                str(self.work),
                str(n_tick),
                str(n_once),
                "1" if companion else "0",
                str(n_far),
            ],
            env=_env() | {"CTL_MAX_PER_TICK": str(max_per_tick)},
            stdout=subprocess.DEVNULL,
            stderr=open(self.work / "stderr.txt", "wb"),
        )
        self.tick_ids = [f"tick-{i}" for i in range(n_tick)]
        self.once_ids = [f"once-{i}" for i in range(n_once)]
        self.far_ids = [f"far-{i}" for i in range(n_far)]

    def wait_ready(self, timeout: float = 30.0) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"scheduler exited: {(self.work / 'stderr.txt').read_text()[-2000:]}")
            return (self.work / "ready").exists()

        poll_until(ready, timeout, "the scheduler to start")

    def stop(self, timeout: float = 30.0) -> dict[str, Any]:
        (self.work / "stop").touch()
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        status = self.work / "status.json"
        assert status.exists(), (self.work / "stderr.txt").read_text()[-3000:]
        return json.loads(status.read_text())

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def events(self) -> list[dict[str, Any]]:
        path = self.work / "events.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def runs(self) -> Counter[str]:
        path = self.work / "runs.txt"
        return Counter(path.read_text().split()) if path.exists() else Counter()

    def log(self) -> str:
        path = self.work / "scheduler.log"
        return path.read_text() if path.exists() else ""


def load_with_app(tmp: Path, app: Path, url: str, table: str = "apscheduler_jobs") -> dict[str, Any]:
    """Load every row with the REAL APScheduler job store, with the app importable."""
    script = tmp / "load_rows.py"
    script.write_text(LOADER)
    out = subprocess.run(
        [PYTHON, str(script), str(app), url, table], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)
