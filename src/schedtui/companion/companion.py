"""``attach(scheduler)``: run history and a heartbeat for an APScheduler 3.x scheduler.

Two lines in the user's app::

    scheduler = create_scheduler(os.environ.get("DATABASE_URL"))
    attach(scheduler, name="billing-worker")

Nothing here can stop or slow the scheduler: listeners only enqueue; a daemon thread
writes; every database error is caught, counted and logged once.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from schedtui import __version__
from schedtui.companion import recorder as R
from schedtui.companion.setup import make_engine
from schedtui.core import tables as T
from schedtui.core.heartbeat import COMMANDS_OFF

logger = logging.getLogger("schedtui.companion")

HEARTBEAT_JOBSTORE = "schedtui"
HEARTBEAT_JOB_ID = "schedtui-heartbeat"
DEFAULT_RETENTION_RUNS = 1000
DEFAULT_RETENTION_DAYS = 30.0
PRUNE_BATCH = 500
HEARTBEAT_RETENTION_DAYS = 7

TickHook = Callable[["Companion"], None]

#: When this module was imported: a heartbeat with our host and pid that started before
#: this is a previous incarnation of the process (a restarted container reusing pid 1).
_PROCESS_STARTED = time.time()


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt is not None else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class Companion:
    """What ``attach`` returns. Attributes the job-control code may use: ``scheduler``,
    ``engine``, ``tables`` (``core.tables.CompanionTables``), ``schema``,
    ``scheduler_id``, ``host``, ``pid``, ``jobs_table``, ``enabled``."""

    def __init__(
        self,
        scheduler: Any,
        engine: Any,
        *,
        name: str | None,
        schema: str | None,
        jobs_table: str | None,
        heartbeat_interval: float,
        retention_runs: int | None,
        retention_days: float | None,
        owns_engine: bool,
        max_queue: int = 10_000,
        max_buffer: int = 10_000,
        prune_interval: float = 600.0,
    ) -> None:
        self.scheduler = scheduler
        self.engine = engine
        self.enabled = engine is not None
        self.schema = schema
        self.jobs_table = jobs_table
        #: whether a command applier is installed (written into the heartbeat)
        self.accepts_commands = False
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started_at = time.time()
        self.scheduler_id = f"{self.host}:{self.pid}:{int(self.started_at * 1000)}"
        self.name = name or f"{self.host}:{self.pid}"
        self.heartbeat_interval = float(heartbeat_interval)
        self.retention_runs = retention_runs
        self.retention_days = retention_days
        self.prune_interval = prune_interval
        self.tables = T.tables_for(schema)
        self._owns_engine = owns_engine
        self._tick_hooks: list[TickHook] = []
        self._hook_errors: set[tuple[int, str]] = set()
        self._meta_cache: dict[tuple[str, str], tuple[float, str | None, str | None]] = {}
        self._closed = False
        self._close_lock = threading.Lock()
        self._hb_lock = threading.Lock()
        self._hb_failed = False
        self._next_prune = time.monotonic() + min(30.0, prune_interval)
        self._next_paused_beat = 0.0
        self.recorder: R.RunRecorder | None = None
        if self.enabled:
            self.recorder = R.RunRecorder(
                engine,
                self.tables,
                scheduler_id=self.scheduler_id,
                host=self.host,
                pid=self.pid,
                job_meta=self._job_meta,
                max_queue=max_queue,
                max_buffer=max_buffer,
                tick=self._writer_tick,
                on_ready=self._on_ready,
            )

    # ------------------------------------------------------------------ public API
    def add_tick_hook(self, hook: TickHook) -> None:
        """Call ``hook(companion)`` on every heartbeat, from the heartbeat job (i.e. on an
        executor thread of the scheduler, after the heartbeat row is written). Hooks must be
        quick; exceptions are caught and logged once per hook and error type. The job-control
        code applies pending ``schedtui_commands`` here."""
        self._tick_hooks.append(hook)

    def remove_tick_hook(self, hook: TickHook) -> None:
        if hook in self._tick_hooks:
            self._tick_hooks.remove(hook)

    @property
    def dropped(self) -> int:
        """Run records dropped because the buffer was full (database down for long)."""
        return self.recorder.dropped if self.recorder else 0

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the run records queued so far are written."""
        return self.recorder.flush(timeout) if self.recorder else True

    def close(self, timeout: float = 5.0) -> None:
        """Flush, write the ``shutdown`` heartbeat, close this process's still-running rows
        as ``unfinished`` and stop the writer. Called on EVENT_SCHEDULER_SHUTDOWN and at exit."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            self.scheduler.remove_listener(self._on_event)
        except Exception:
            pass
        if self.recorder is not None:

            def final() -> None:
                if self.recorder is not None and self.recorder.ready.is_set():
                    try:
                        self._close_own_running()
                    except Exception as exc:
                        logger.warning("schedtui: could not close running rows at shutdown: %s", type(exc).__name__)
                    self.write_heartbeat("shutdown")

            self.recorder.stop(timeout, final)
        if self._owns_engine and self.engine is not None:
            self.engine.dispose()

    # ------------------------------------------------------------------ installation
    def _install(self) -> None:
        from apscheduler.events import (
            EVENT_ALL_JOBS_REMOVED,
            EVENT_JOB_ERROR,
            EVENT_JOB_EXECUTED,
            EVENT_JOB_MAX_INSTANCES,
            EVENT_JOB_MISSED,
            EVENT_JOB_REMOVED,
            EVENT_JOB_SUBMITTED,
            EVENT_SCHEDULER_PAUSED,
            EVENT_SCHEDULER_RESUMED,
            EVENT_SCHEDULER_SHUTDOWN,
        )
        from apscheduler.jobstores.memory import MemoryJobStore

        self._codes = {
            EVENT_JOB_SUBMITTED: R.SUBMITTED,
            EVENT_JOB_MAX_INSTANCES: R.MAX_INSTANCES,
            EVENT_JOB_EXECUTED: R.EXECUTED,
            EVENT_JOB_ERROR: R.ERROR,
            EVENT_JOB_MISSED: R.MISSED,
        }
        self._shutdown_code = EVENT_SCHEDULER_SHUTDOWN
        self._pause_codes = {EVENT_SCHEDULER_PAUSED: "paused", EVENT_SCHEDULER_RESUMED: "running"}
        self._removed_codes = (EVENT_JOB_REMOVED, EVENT_ALL_JOBS_REMOVED)
        mask = 0
        for code in (*self._codes, EVENT_SCHEDULER_SHUTDOWN, *self._pause_codes, *self._removed_codes):
            mask |= code
        self.scheduler.add_listener(self._on_event, mask)
        assert self.recorder is not None
        self.recorder.start()
        if HEARTBEAT_JOBSTORE not in getattr(self.scheduler, "_jobstores", {}):
            self.scheduler.add_jobstore(MemoryJobStore(), HEARTBEAT_JOBSTORE)
        self._add_heartbeat_job()
        ref = weakref.ref(self)
        atexit.register(_close_at_exit, ref)

    def _add_heartbeat_job(self) -> None:
        self.scheduler.add_job(
            self._heartbeat_job,
            "interval",
            seconds=self.heartbeat_interval,
            id=HEARTBEAT_JOB_ID,
            name="schedtui heartbeat",
            jobstore=HEARTBEAT_JOBSTORE,
            next_run_time=datetime.now().astimezone(),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            replace_existing=True,
        )

    # ------------------------------------------------------------------ listeners (hot path)
    def _on_event(self, event: Any) -> None:
        code = event.code
        kind = self._codes.get(code)
        if kind is not None:
            if event.jobstore == HEARTBEAT_JOBSTORE:
                return
            if kind is R.SUBMITTED or kind is R.MAX_INSTANCES:
                scheduled = tuple(d.timestamp() for d in event.scheduled_run_times)
                item = (kind, event.job_id, event.jobstore, scheduled, time.time(), None, None)
            else:
                srt = event.scheduled_run_time
                scheduled = (srt.timestamp() if srt is not None else None,)
                item = (kind, event.job_id, event.jobstore, scheduled, time.time(), event.exception, event.traceback)
            self.recorder.put(item)  # type: ignore[union-attr]
        elif code == self._shutdown_code:
            self.close()
        elif code in self._removed_codes:
            # remove_all_jobs() (or a stray remove_job) took the heartbeat with it: put it back.
            ours = (
                getattr(event, "job_id", None) == HEARTBEAT_JOB_ID and event.jobstore == HEARTBEAT_JOBSTORE
                if code == self._removed_codes[0]
                else event.alias in (None, HEARTBEAT_JOBSTORE)
            )
            if ours and not self._closed:
                try:
                    self._add_heartbeat_job()
                    logger.info("schedtui: heartbeat job re-added after it was removed")
                except Exception as exc:
                    logger.warning("schedtui: could not re-add the heartbeat job: %s", exc)
        elif code in self._pause_codes:
            state = self._pause_codes[code]
            self.recorder.put((R._CONTROL, [lambda: self.write_heartbeat(state), threading.Event()]))  # type: ignore[union-attr]

    # ------------------------------------------------------------------ heartbeat
    def _heartbeat_job(self) -> None:
        """The heartbeat job: runs on the scheduler's executor, so its row proves the loop
        and the executor are alive. Then runs the tick hooks."""
        if self._closed or self.recorder is None or not self.recorder.ready.is_set():
            return  # closed: a scheduler restarted after shutdown() needs attach() again
        self.write_heartbeat(self._state_name())
        for hook in list(self._tick_hooks):
            try:
                hook(self)
            except Exception as exc:
                key = (id(hook), type(exc).__name__)
                if key not in self._hook_errors:
                    self._hook_errors.add(key)
                    logger.warning("schedtui: tick hook %r failed: %s: %s", hook, type(exc).__name__, exc)

    def _state_name(self) -> str:
        state = getattr(self.scheduler, "state", 1)
        return {0: "shutdown", 1: "running", 2: "paused"}.get(state, "running")

    def write_heartbeat(self, state: str) -> bool:
        """Upsert this scheduler's heartbeat row. Returns False (logged once) on failure."""
        h = self.tables.heartbeats
        now = time.time()
        values = {
            "name": self.name,
            "host": self.host,
            "pid": self.pid,
            "started_at": self.started_at,
            "last_seen": now,
            "interval_s": self.heartbeat_interval,
            "state": state,
            "jobs_table": self.jobs_table,
            "version": __version__ if self.accepts_commands else __version__ + COMMANDS_OFF,
        }
        try:
            with self._hb_lock, self.engine.begin() as conn:
                done = conn.execute(sa.update(h).where(h.c.scheduler_id == self.scheduler_id).values(**values)).rowcount
                if not done:
                    conn.execute(sa.insert(h).values(scheduler_id=self.scheduler_id, **values))
        except Exception as exc:
            if not self._hb_failed:
                self._hb_failed = True
                logger.warning("schedtui: cannot write heartbeat (%s: %s)", type(exc).__name__, exc)
            return False
        if self._hb_failed:
            self._hb_failed = False
            logger.info("schedtui: heartbeat writes resumed")
        return True

    # ------------------------------------------------------------------ writer-thread work
    def _on_ready(self) -> None:
        """Tables exist: write the first heartbeat and close crashed runs."""
        self.write_heartbeat(self._state_name() if self._state_name() != "shutdown" else "running")
        self.close_unfinished()

    def _writer_tick(self) -> None:
        if self.recorder is None or not self.recorder.ready.is_set():
            return
        now = time.monotonic()
        if self._state_name() == "paused" and now >= self._next_paused_beat:
            # A paused scheduler runs no jobs, heartbeat included: prove the process lives.
            self._next_paused_beat = now + self.heartbeat_interval
            self.write_heartbeat("paused")
        if now >= self._next_prune:
            self._next_prune = now + self.prune_interval
            try:
                self.prune()
            except Exception as exc:
                logger.debug("schedtui: pruning failed: %s", exc)

    def _job_meta(self, jobstore: str, job_id: str) -> tuple[str | None, str | None]:
        """(name, func reference) of a job, cached for a minute; called on the writer thread."""
        key = (jobstore, job_id)
        now = time.monotonic()
        hit = self._meta_cache.get(key)
        if hit is not None and now - hit[0] < 60.0:
            return hit[1], hit[2]
        name = func = None
        try:
            job = self.scheduler.get_job(job_id, jobstore)
            if job is not None:
                name, func = job.name, job.func_ref
        except Exception:
            pass
        if name is None and hit is not None:
            name, func = hit[1], hit[2]
        if len(self._meta_cache) > 5000:
            self._meta_cache.clear()
        self._meta_cache[key] = (now, name, func)
        return name, func

    def close_unfinished(self) -> int:
        """Close ``running`` rows left by schedulers that are gone (crash, kill, restart)
        as ``unfinished``. A scheduler is gone when its heartbeat is missing, says shutdown,
        is stale, or names a dead process on this host (or this pid before this process
        started: a restarted container). Returns the number of rows closed."""
        r, h = self.tables.runs, self.tables.heartbeats
        now = time.time()
        closed = 0
        with self.engine.begin() as conn:
            ids = [
                row[0] for row in conn.execute(sa.select(r.c.scheduler_id).where(r.c.outcome == "running").distinct())
            ]
            for sid in ids:
                if sid == self.scheduler_id:
                    continue
                hb = conn.execute(sa.select(h).where(h.c.scheduler_id == sid)).first() if sid else None
                gone = (
                    hb is None
                    or hb.state == "shutdown"
                    or now - (hb.last_seen or 0) > 3 * (hb.interval_s or 5) + 30
                    or (hb.host == self.host and hb.pid == self.pid and (hb.started_at or 0) < _PROCESS_STARTED)
                    or (hb.host == self.host and hb.pid != self.pid and not _pid_alive(int(hb.pid or 0)))
                )
                if not gone:
                    continue
                cond = [r.c.outcome == "running"]
                cond.append(r.c.scheduler_id == sid if sid is not None else r.c.scheduler_id.is_(None))
                closed += conn.execute(
                    sa.update(r)
                    .where(*cond)
                    .values(
                        outcome="unfinished",
                        finished_at=(hb.last_seen if hb is not None else None),
                        error_message=f"the scheduler process ({sid}) ended while the job was running; "
                        f"closed at the next start by {self.scheduler_id}",
                    )
                ).rowcount
        if closed:
            logger.warning("schedtui: closed %d run(s) left running by a crashed or killed scheduler", closed)
        return closed

    def _close_own_running(self) -> None:
        r = self.tables.runs
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(r)
                .where(r.c.scheduler_id == self.scheduler_id, r.c.outcome == "running")
                .values(
                    outcome="unfinished",
                    finished_at=time.time(),
                    error_message="still running when the scheduler shut down",
                )
            )

    def prune(self, max_batches: int = 20) -> int:
        """Apply retention in batches of ``PRUNE_BATCH`` rows: runs older than
        ``retention_days``, and beyond the newest ``retention_runs`` per job. Returns the
        number of runs deleted (at most ``max_batches`` batches per call). Also drops
        heartbeat rows not seen for ``HEARTBEAT_RETENTION_DAYS``."""
        r = self.tables.runs
        deleted = 0
        batches = 0

        def delete(conn: Any, where: list[Any]) -> int:
            ids = [x[0] for x in conn.execute(sa.select(r.c.id).where(*where).limit(PRUNE_BATCH))]
            if ids:
                conn.execute(sa.delete(r).where(r.c.id.in_(ids)))
            return len(ids)

        if self.retention_days is not None:
            cutoff = time.time() - self.retention_days * 86400
            while batches < max_batches:
                with self.engine.begin() as conn:
                    n = delete(conn, [r.c.outcome.in_(T.FINAL_OUTCOMES), r.c.finished_at < cutoff])
                batches += 1
                deleted += n
                if n < PRUNE_BATCH:
                    break
        if self.retention_runs is not None:
            with self.engine.connect() as conn:
                job_ids = [x[0] for x in conn.execute(sa.select(r.c.job_id).distinct())]
            for job_id in job_ids:
                if batches >= max_batches:
                    break
                with self.engine.begin() as conn:
                    edge = conn.execute(
                        sa.select(r.c.scheduled_at)
                        .where(r.c.job_id == job_id)
                        .order_by(r.c.scheduled_at.desc())
                        .limit(1)
                        .offset(self.retention_runs)
                    ).scalar()
                    if edge is None:
                        continue
                    while batches < max_batches:
                        n = delete(
                            conn,
                            [r.c.job_id == job_id, r.c.scheduled_at <= edge, r.c.outcome != "running"],
                        )
                        batches += 1
                        deleted += n
                        if n < PRUNE_BATCH:
                            break
        # Heartbeat rows of schedulers gone for more than a week.
        h = self.tables.heartbeats
        with self.engine.begin() as conn:
            conn.execute(sa.delete(h).where(h.c.last_seen < time.time() - HEARTBEAT_RETENTION_DAYS * 86400))
        return deleted


def _close_at_exit(ref: weakref.ref[Companion]) -> None:
    comp = ref()
    if comp is not None:
        try:
            comp.close(timeout=3.0)
        except Exception:
            pass


def _find_sql_store(scheduler: Any) -> Any | None:
    stores = getattr(scheduler, "_jobstores", {})
    ordered = [stores["default"]] if "default" in stores else []
    ordered += [s for a, s in stores.items() if a != "default"]
    for store in ordered:
        if hasattr(store, "jobs_t") and hasattr(store, "engine"):
            return store
    return None


def attach(
    scheduler: Any,
    url_or_engine: Any = None,
    *,
    name: str | None = None,
    heartbeat_interval: float = 5.0,
    retention_runs: int | None = DEFAULT_RETENTION_RUNS,
    retention_days: float | None = DEFAULT_RETENTION_DAYS,
    schema: str | None = None,
    max_queue: int = 10_000,
    max_buffer: int = 10_000,
    commands: bool = True,
) -> Companion:
    """Record every run and write a heartbeat for ``scheduler`` (started or not).

    ``url_or_engine``: where the companion's tables go; default: the database of the
    scheduler's SQLAlchemyJobStore (``default`` first). ``schema``: default: that
    store's schema. With neither (memory mode) the companion is disabled and says so.
    ``retention_runs`` (per job) and ``retention_days``: None disables that rule.
    ``commands``: apply operators' commands (pause, resume, run now, remove from
    ``schedtui`` and its console) on each heartbeat; False makes this scheduler ignore them.
    """
    store = _find_sql_store(scheduler)
    jobs_table = None
    if store is not None:
        jt = store.jobs_t
        jobs_table = f"{jt.schema}.{jt.name}" if jt.schema else jt.name
        if schema is None:
            schema = jt.schema
    owns = False
    if isinstance(url_or_engine, str):
        engine, owns = make_engine(url_or_engine), True
    elif url_or_engine is not None:
        engine = url_or_engine
    else:
        engine = store.engine if store is not None else None
    from schedtui.companion.logmask import mask_logs

    mask_logs(engine.url.render_as_string(hide_password=False) if engine is not None else None)
    comp = Companion(
        scheduler,
        engine,
        name=name,
        schema=schema,
        jobs_table=jobs_table,
        heartbeat_interval=heartbeat_interval,
        retention_runs=retention_runs,
        retention_days=retention_days,
        owns_engine=owns,
        max_queue=max_queue,
        max_buffer=max_buffer,
    )
    if not comp.enabled:
        logger.info("schedtui: companion disabled (memory mode: no database for run history or heartbeat)")
        return comp
    comp.accepts_commands = commands  # said in every heartbeat (see install())
    comp._install()
    if commands:
        from schedtui.companion.commands import install

        install(comp)
    logger.info("schedtui: recording run history and heartbeat as %s", comp.scheduler_id)
    return comp
