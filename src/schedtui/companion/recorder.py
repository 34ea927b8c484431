"""The run recorder: scheduler events in, batched rows in ``schedtui_runs`` out.

Listeners (on executor threads, the scheduler thread or the event loop) only put a small
tuple on a bounded queue. One daemon writer thread turns them into rows:

- a submission inserts a ``running`` row; its execution / error / missed event closes it
  (events of one run can arrive in either order: APScheduler dispatches submissions after
  its whole loop, so a quick job's EXECUTED may come first);
- rows are written in batches, one transaction per batch;
- when the database is unavailable the batch is kept (bounded buffer) and retried with
  back-off; records that do not fit are dropped, counted and logged once;
- ``flush()`` / ``stop()`` drain what is buffered.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback as tb_mod
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from schedtui.core import tables as T

logger = logging.getLogger("schedtui.companion")

# Item kinds on the queue.
SUBMITTED, MAX_INSTANCES, EXECUTED, ERROR, MISSED = "submitted", "max_instances", "executed", "error", "missed"
_CONTROL = "control"

Key = tuple[str, str, float]  # (jobstore, job_id, scheduled_at)


def _clip(text: str | None, limit: int, tail: bool = False) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return ("…" + text[-(limit - 1) :]) if tail else (text[: limit - 1] + "…")


def describe_exception(exc: BaseException | None) -> tuple[str | None, str | None]:
    """``(type, message)`` of an exception, bounded, never raising."""
    if exc is None:
        return None, None
    cls = type(exc)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    try:
        message = str(exc)
    except Exception:
        message = f"<{name}: str() failed>"
    return _clip(name, 255), _clip(message, T.MAX_ERROR_MESSAGE)


class RunRecorder:
    """Owns the queue and the writer thread. ``put`` is the only hot-path method."""

    def __init__(
        self,
        engine: Any,
        tables: T.CompanionTables,
        *,
        scheduler_id: str,
        host: str,
        pid: int,
        job_meta: Callable[[str, str], tuple[str | None, str | None]],
        max_queue: int = 10_000,
        max_buffer: int = 10_000,
        batch_size: int = 500,
        flush_interval: float = 0.25,
        tick: Callable[[], None] | None = None,
        tick_interval: float = 1.0,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.t = tables
        self.scheduler_id, self.host, self.pid = scheduler_id, host, pid
        self._job_meta = job_meta
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue(max_queue)
        self._pending: deque[tuple[Any, ...]] = deque()
        self._max_buffer = max_buffer
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._tick = tick
        self._tick_interval = tick_interval
        self._on_ready = on_ready
        self._running: dict[Key, float] = {}  # rows written as 'running' -> started_at
        self._closed_early: OrderedDict[Key, None] = OrderedDict()  # finished before submission seen
        self._drop_lock = threading.Lock()
        self.dropped = 0
        self.written = 0
        self.failures = 0
        self._outage_logged = False
        self._drop_logged = False
        self.ready = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="schedtui-recorder", daemon=True)

    # ----------------------------------------------------------------- hot path
    def put(self, item: tuple[Any, ...]) -> None:
        """Hand an event to the writer; never blocks, never raises."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._count_drop(1)

    def _count_drop(self, n: int) -> None:
        with self._drop_lock:
            self.dropped += n
            first = not self._drop_logged
            self._drop_logged = True
        if first:
            logger.warning(
                "schedtui: run history buffer full, dropping run records (counted; "
                "the scheduler itself is not affected)"
            )

    # ----------------------------------------------------------------- control
    def start(self) -> None:
        self._thread.start()

    def call(self, fn: Callable[[], Any], timeout: float = 10.0) -> bool:
        """Run ``fn`` on the writer thread after everything queued before it; wait."""
        done = threading.Event()
        box: list[Any] = [fn, done]
        try:
            self._queue.put((_CONTROL, box), timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written (or could not be)."""
        if not self._thread.is_alive():
            return False
        return self.call(lambda: None, timeout)

    def stop(self, timeout: float = 5.0, final: Callable[[], None] | None = None) -> None:
        """Drain, run ``final`` on the writer thread, and end it."""
        if not self._thread.is_alive():
            return

        def last() -> None:
            try:
                if final is not None:
                    final()
            finally:
                self._stop = True

        self.call(last, timeout)
        self._thread.join(timeout)

    # ----------------------------------------------------------------- writer thread
    def _run(self) -> None:
        backoff = 0.5
        next_tick = 0.0
        next_ready_try = 0.0
        while True:
            items = self._take(self._flush_interval)
            for item in items:
                if item[0] == _CONTROL:
                    self._write_pending()
                    fn, done = item[1]
                    try:
                        fn()
                    except Exception:
                        logger.exception("schedtui: companion task failed")
                    done.set()
                else:
                    self._pending.append(item)
            if self._stop:
                self._write_pending()
                if self._pending:  # the database never came back: say how much was lost
                    self._count_drop(len(self._pending))
                    logger.warning("schedtui: %d run record(s) could not be written before exit", len(self._pending))
                    self._pending.clear()
                return
            now = time.monotonic()
            if not self.ready.is_set() and now >= next_ready_try:
                if self._make_ready():
                    backoff = 0.5
                else:
                    next_ready_try = now + backoff
                    backoff = min(backoff * 2, 30.0)
            if self.ready.is_set() and self._pending and now >= next_ready_try:
                if not self._write_pending():
                    next_ready_try = now + backoff
                    backoff = min(backoff * 2, 30.0)
                else:
                    backoff = 0.5
            # Bound what an outage (or a database not ready yet) can make us hold.
            overflow = len(self._pending) - self._max_buffer
            if overflow > 0:
                for _ in range(overflow):
                    self._pending.popleft()
                self._count_drop(overflow)
            if self._tick is not None and now >= next_tick:
                next_tick = now + self._tick_interval
                try:
                    self._tick()
                except Exception:
                    logger.debug("schedtui: companion tick failed", exc_info=True)

    def _take(self, timeout: float) -> list[tuple[Any, ...]]:
        try:
            first = self._queue.get(timeout=timeout)
        except queue.Empty:
            return []
        items = [first]
        while len(items) < self._batch_size:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
            if items[-1][0] == _CONTROL:
                break
        return items

    def _make_ready(self) -> bool:
        try:
            T.create_all(self.engine, self.t.schema)
            if self._on_ready is not None:
                self._on_ready()
        except Exception as exc:
            self._outage(exc)
            return False
        self.ready.set()
        return True

    def _outage(self, exc: BaseException) -> None:
        self.failures += 1
        if not self._outage_logged:
            self._outage_logged = True
            logger.warning(
                "schedtui: cannot write run history (%s); buffering up to %d records and retrying",
                type(exc).__name__,
                self._max_buffer,
            )

    def _write_pending(self) -> bool:
        if not self._pending or not self.ready.is_set():
            return True
        items = list(self._pending)
        try:
            self._write(items)
        except (sa.exc.DataError, sa.exc.IntegrityError) as exc:
            # The database is up but refuses some row: write one by one, drop the refused.
            self._write_each(items, exc)
        except Exception as exc:
            self._outage(exc)
            return False
        for _ in range(len(items)):
            self._pending.popleft()
        if self._outage_logged:
            self._outage_logged = False
            logger.info("schedtui: run history writes resumed (%d records dropped so far)", self.dropped)
        return True

    def _write_each(self, items: list[tuple[Any, ...]], first: BaseException) -> None:
        refused = 0
        for item in items:
            try:
                self._write([item])
            except (sa.exc.DataError, sa.exc.IntegrityError):
                refused += 1
        if refused:
            logger.warning(
                "schedtui: the database refused %d run record(s) (%s); dropped", refused, type(first).__name__
            )
            self._count_drop(refused)

    def _base_row(self, jobstore: str, job_id: str, scheduled_at: float | None) -> dict[str, Any]:
        name, func = self._job_meta(jobstore, job_id)
        return {
            "job_id": _clip(job_id, 191),
            "job_name": _clip(name, 255),
            "func": _clip(func, 255),
            "jobstore": _clip(jobstore, 64),
            "scheduled_at": scheduled_at,
            "submitted_at": None,
            "started_at": None,
            "finished_at": None,
            "duration_s": None,
            "outcome": "running",
            "error_type": None,
            "error_message": None,
            "traceback": None,
            "host": self.host,
            "pid": self.pid,
            "scheduler_id": self.scheduler_id,
        }

    def _write(self, items: list[tuple[Any, ...]]) -> None:
        """One transaction for the batch; in-memory state changes only after commit."""
        running = dict(self._running)
        closed_early = OrderedDict(self._closed_early)
        inserts: dict[Any, dict[str, Any]] = {}
        updates: list[tuple[Key, dict[str, Any], bool]] = []
        for kind, job_id, jobstore, scheduled, t, exc, tb in items:
            job_id = _clip(job_id, 191) or ""  # the jobs table's limit; memory stores have none
            for sched in scheduled:
                key: Key = (jobstore, job_id, sched)
                if kind == SUBMITTED:
                    row = inserts.get(key)
                    if row is not None:
                        row["submitted_at"] = row["submitted_at"] or t
                    elif key in closed_early:
                        del closed_early[key]
                        updates.append((key, {"submitted_at": t}, False))
                    else:
                        row = self._base_row(jobstore, job_id, sched)
                        row.update(submitted_at=t, started_at=t)
                        inserts[key] = row
                elif kind == MAX_INSTANCES:
                    row = self._base_row(jobstore, job_id, sched)
                    row.update(outcome="max_instances", submitted_at=t, finished_at=t)
                    inserts[("max", key, t)] = row
                else:
                    values: dict[str, Any] = {"finished_at": t}
                    if kind == MISSED:
                        values.update(outcome="missed", started_at=None)
                    else:
                        values["outcome"] = "success" if kind == EXECUTED else "error"
                        if kind == ERROR:
                            etype, emsg = describe_exception(exc)
                            text = tb or ""
                            if emsg is not None or etype is not None:
                                text += f"{etype}: {emsg}\n" if emsg else f"{etype}\n"
                            values.update(
                                error_type=etype,
                                error_message=emsg,
                                traceback=_clip(text, T.MAX_TRACEBACK, tail=True),
                            )
                    row = inserts.get(key)
                    if row is not None and row["outcome"] == "running":
                        row.update(values)
                        if kind != MISSED:
                            row["duration_s"] = max(0.0, t - row["started_at"])
                    elif key in running:
                        started = running.pop(key)
                        if kind != MISSED:
                            values["duration_s"] = max(0.0, t - started)
                        updates.append((key, values, True))
                    else:
                        row = self._base_row(jobstore, job_id, sched)
                        row.update(values)
                        if kind != MISSED:
                            # Finished before its submission was dispatched: it started
                            # at (or just after) its scheduled time.
                            row["started_at"] = sched
                            row["duration_s"] = max(0.0, t - sched)
                        inserts[key] = row
                        closed_early[key] = None
        r = self.t.runs
        with self.engine.begin() as conn:
            if inserts:
                conn.execute(sa.insert(r), list(inserts.values()))
            for (jobstore, job_id, sched), values, only_running in updates:
                cond = [
                    r.c.scheduler_id == self.scheduler_id,
                    r.c.job_id == job_id,
                    r.c.jobstore == jobstore,
                    r.c.scheduled_at == sched,
                ]
                if only_running:
                    cond.append(r.c.outcome == "running")
                else:
                    cond.append(r.c.submitted_at.is_(None))
                conn.execute(sa.update(r).where(*cond).values(**values))
        for key, row in inserts.items():
            if row["outcome"] == "running":
                running[key] = row["started_at"]
        while len(closed_early) > 2000:
            closed_early.popitem(last=False)
        self._running = running
        self._closed_early = closed_early
        self.written += len(inserts)

    def running_keys(self) -> set[Key]:
        return set(self._running)


def format_traceback(exc: BaseException) -> str:
    return "".join(tb_mod.format_exception(type(exc), exc, exc.__traceback__))
