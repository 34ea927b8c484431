"""What the console's workers fetch, off the UI thread, as frozen values.

``Feed`` owns the database readers. Its methods run in thread workers only; each returns
a frozen value (``Frame``, ``History``, ``Extras``) that is posted to the UI. Nothing here
imports Textual, and no method lets an exception out: failures become data.
"""

from __future__ import annotations

import contextlib
import gc
import operator
import os
import pickletools
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from schedtui.core import gcpause
from schedtui.core.activity import Activity, CommandInfo, Hourly, JobFailures
from schedtui.core.clock import Clock, system_clock
from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.history import RunInfo
from schedtui.core.jobbeat import HEARTBEAT_IDS, job_heartbeat
from schedtui.core.model import JobInfo, StoreSnapshot, Target
from schedtui.core.urls import mask_text
from schedtui.tui.fmt import clean
from schedtui.tui.reprs import ReprMemo, Reprs, selected_reprs
from schedtui.tui.view import JobRuns

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from schedtui.core.backup.results import BackupEntry
    from schedtui.core.fleet import FleetRow
    from schedtui.core.health import CheckOptions
    from schedtui.core.heartbeat import HeartbeatInfo
    from schedtui.core.history import JobStats, RunInfo
    from schedtui.core.history.source import HistorySource
    from schedtui.core.store.reader import JobStoreReader

#: How many pickle opcodes the safe view shows at most.
OPCODE_LIMIT = 400


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The freshest companion heartbeat, reduced to what the summary shows."""

    fresh: bool
    state: str
    seen_at: datetime | None
    count: int
    #: a fresh one applies job-control commands (else the console writes directly)
    commands: bool = True
    #: where it came from when not the companion: ``"Aegis scheduler_heartbeat job"``
    source: str | None = None


@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: str
    size: int | None
    verified: bool | None
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class Frame:
    """One refresh: the jobs plus everything the summary strip shows.

    ``snapshot`` is the last good read (kept when the database goes away); ``error`` is
    set when this refresh failed, in which case the data is stale.
    """

    fetched_at: datetime
    snapshot: StoreSnapshot | None
    error: str | None = None
    error_kind: str | None = None
    companion: bool | None = None
    heartbeat: Heartbeat | None = None
    runs_24h: int | None = None
    failures_24h: int | None = None
    last_durations: dict[str, float] = field(default_factory=dict)
    last_backup: BackupInfo | None = None
    changed: bool = True
    #: per job: last run, outcome, duration, runs and failures in 24 h (the table's columns)
    job_runs: dict[str, JobRuns] = field(default_factory=dict)
    #: the newest runs of all jobs, newest first (the events feed)
    recent: tuple[RunInfo, ...] = ()
    #: runs and failures per hour over 24 h (the failures overview's chart)
    hourly: Hourly | None = None
    #: the newest job-control requests recorded by the companion (the audit log)
    commands: tuple[CommandInfo, ...] = ()
    #: jobs with failures in the last 24 h, most first (the failures overview)
    failures: tuple[JobFailures, ...] = ()
    #: one line for the events feed: the history's source and what it does not record
    feed_note: str | None = None
    #: the backups in the folder, newest first
    backups: tuple[BackupInfo, ...] = ()
    #: rows the deletion guard archived and nobody restored yet, newest first
    archived: tuple[Any, ...] = ()
    #: the run history's source (``"Aegis job_execution"``); ``companion`` is True for any
    history_source: str | None = None
    #: set on a preview (``Feed.preview``): ``snapshot`` holds only the table's first rows,
    #: and this is how many rows the table holds; None for a complete read
    preview_of: int | None = None

    @property
    def stale(self) -> bool:
        return self.error is not None

    @property
    def partial(self) -> bool:
        """Only the first rows of the table (a preview): counts and health are not known."""
        return self.preview_of is not None


@dataclass(frozen=True, slots=True)
class Run:
    when: datetime | None
    outcome: str
    duration: float | None
    error: str | None
    traceback: str | None


@dataclass(frozen=True, slots=True)
class History:
    job_id: str
    companion: bool
    runs: tuple[Run, ...] = ()
    total: int | None = None
    success_rate: float | None = None
    p50: float | None = None
    p95: float | None = None
    max: float | None = None
    last_success: datetime | None = None
    last_failure: datetime | None = None
    error: str | None = None
    #: the run history's source (``"Aegis job_execution"``); ``companion`` is True for any
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Extras:
    """What the detail pane computes off the UI thread for one job."""

    job_id: str
    fire_times: tuple[datetime, ...] = ()
    fire_error: str | None = None
    opcodes: tuple[str, ...] = ()
    opcode_note: str | None = None
    #: runs left before APScheduler 3.x's own AndTrigger spins forever on this trigger
    hang_after: int | None = None
    #: the job's args/kwargs, rendered on demand in the sandbox (``tui.reprs``); None for an
    #: undecodable row
    reprs: Reprs | None = None


@dataclass(frozen=True, slots=True)
class _DbReads:
    """What one refresh read from the companion tables (``Feed._db_reads``)."""

    archived: tuple[Any, ...] | None = None
    ok: bool = False  #: the history modules loaded and the tables could be inspected
    installed: bool = False
    source: HistorySource | None = None
    beats: tuple[HeartbeatInfo, ...] | None = None  #: None: reading them failed


class Feed:
    """Reads the store and the companion tables; thread-safe by a lock (one caller at a time)."""

    def __init__(
        self,
        target: Target,
        *,
        clock: Clock = system_clock,
        reader_factory: Callable[[Target, Clock], JobStoreReader] | None = None,
        backup_dir: str | None = None,
    ) -> None:
        self.target = target
        self.clock = clock
        self._reader_factory = reader_factory
        self._reader: JobStoreReader | None = None
        self._lock = threading.Lock()
        self._last: StoreSnapshot | None = None
        self._file_id: tuple[int, int] | None = None
        self.backup_dir = backup_dir
        #: the run history found for this reader (looked for again while there is none)
        self._source: HistorySource | None = None
        # the heartbeat-job candidates of the last jobs tuple scanned (by identity: the reader
        # hands back the same tuple while nothing changed, so a refresh skips the scan)
        self._beat_scan: tuple[Sequence[JobInfo], tuple[JobInfo, ...]] | None = None
        #: set by ``close``: a worker still running for a store the console left opens nothing
        self._closed = False
        # SQLite: a read-only connection of our own whose ``PRAGMA data_version`` says whether
        # anyone committed since the last refresh; while nobody did, the companion tables'
        # rows read then are reused (what depends on the time is computed again).
        self._probe: sqlite3.Connection | None = None
        self._probe_version: int | None = None
        self._quiet_reads: _DbReads | None = None
        #: the selected jobs' rows decoded with their reprs, by the rows' identity
        self.memo = ReprMemo()

    # -- lifecycle ---------------------------------------------------------------------
    def _get_reader(self) -> JobStoreReader:
        if self._closed:
            raise SchedtuiError("the console left this store", ErrorKind.STATE)
        if self._reader is None:
            if self._reader_factory is not None:
                self._reader = self._reader_factory(self.target, self.clock)
            else:
                from schedtui.core.store.reader import open_reader

                # The list never shows args/kwargs: the selected job's are rendered on demand
                # (``extras``), which saves the first read ~1.7 s of CPU per 100,000 varied rows.
                self._reader = open_reader(self.target, clock=self.clock, reprs=False)
        return self._reader

    def reset(self) -> None:
        """Drop the reader (and its decode cache): the next fetch reads everything again."""
        with self._lock:
            self._close_reader()

    def _close_reader(self) -> None:
        reader, self._reader = self._reader, None
        self._source = None
        self._close_probe()
        _close_quietly(reader)

    def _close_probe(self) -> None:
        probe, self._probe = self._probe, None
        self._probe_version, self._quiet_reads = None, None
        _close_quietly(probe)

    def _quiet(self) -> bool:
        """Whether nobody committed to the SQLite file since the last call (never for a
        server database: there every refresh reads the companion tables again)."""
        if not self.target.url.startswith("sqlite"):
            return False
        try:
            if self._probe is None:
                from schedtui.core.store import sqlite_light
                from schedtui.core.store.place import sqlite_path

                path = sqlite_path(self.target)
                if path is None:
                    return False
                self._probe = sqlite_light.open_readonly(path, check_same_thread=False)
            version = int(self._probe.execute("PRAGMA data_version").fetchone()[0])
        except Exception:
            self._close_probe()
            return False
        quiet = version == self._probe_version
        self._probe_version = version
        return quiet

    def close(self) -> None:
        self._closed = True
        with self._lock:
            self._close_reader()

    def _mask(self, exc: BaseException) -> str:
        text = exc.message if isinstance(exc, SchedtuiError) else f"{type(exc).__name__}: {exc}"
        return clean(_short(mask_text(str(text), self.target.url)), 300)

    # -- the refresh -------------------------------------------------------------------
    def _check_sqlite_file(self) -> None:
        """An open SQLite connection keeps reading a file that was moved or replaced:
        say the database is gone when the path is, and reopen when it is another file."""
        if not self.target.url.startswith("sqlite"):
            return
        try:
            from schedtui.core.store.place import sqlite_path

            path = sqlite_path(self.target)
        except Exception:
            return
        if path is None:
            return
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self._close_reader()
            self._file_id = None
            raise SchedtuiError(f"SQLite database not found: {path}", ErrorKind.CONNECT) from None
        except OSError:
            return
        file_id = (st.st_dev, st.st_ino)
        if self._file_id is not None and file_id != self._file_id:
            self._close_reader()  # replaced (restored, copied over): read the new file
        self._file_id = file_id

    def fetch(self) -> Frame:
        with self._lock:
            now = self.clock()
            try:
                self._check_sqlite_file()
                reader = self._get_reader()
                quiet = self._quiet()  # (before any read: a commit after it is seen next time)
                if not quiet:
                    self._quiet_reads = None  # (read again below, or next time if this read fails)
                if self._last is None:
                    with gcpause.paused():  # a cold read creates ~10 objects per row
                        snap = reader.read()
                    # They live as long as the console: out of the collector's way. A full
                    # collection walked all of them (~1 s for 100,000 jobs), on whichever
                    # thread it fell, the UI's when a store switch made new widgets.
                    # (Once per store: what is frozen with them stays until the app exits,
                    # ``SchedtuiApp.on_unmount``; the jobs are freed by reference count.)
                    gc.freeze()
                else:
                    # a refresh's scans make ~10,000 short-lived tuples: the collector's
                    # passes over them cost as much as the scan (~12 ms of ~25)
                    with gcpause.paused():
                        snap = reader.read()
            except Exception as exc:
                kind = getattr(getattr(exc, "kind", None), "value", None)
                return Frame(fetched_at=now, snapshot=self._last, error=self._mask(exc), error_kind=kind, changed=False)
            prev = self._last
            changed = prev is None or not _same_jobs(prev.jobs, snap.jobs)
            self._last = snap
            extra = self._companion(reader, now, snap, quiet=quiet)
            backups = self._list_backups()
            return Frame(
                fetched_at=now,
                snapshot=snap,
                changed=changed,
                last_backup=_best_backup(backups),
                backups=tuple(_backup_info(b) for b in backups[:20]),
                **extra,
            )

    def preview(self) -> Frame | None:
        """Before the first read of a large store: a frame of its first rows only
        (``JobStoreReader.preview``, ``Frame.preview_of``), shown while ``fetch`` reads and
        decodes the rest. None when there is nothing to preview (a small table, a read
        done already, another layout) or the preview fails (``fetch`` then says why)."""
        with self._lock:
            if self._last is not None:
                return None
            now = self.clock()
            try:
                from schedtui.core.store.reader import JobStoreReader

                self._check_sqlite_file()
                reader = self._get_reader()
                got = reader.preview() if isinstance(reader, JobStoreReader) else None
            except Exception:
                return None
        if got is None:
            return None
        return Frame(fetched_at=now, snapshot=got.snapshot, preview_of=got.total)

    def _activity(self, source: HistorySource, engine: Engine, now: datetime) -> dict[str, Any]:
        """The summary's counts, the table's run columns, the events feed and the failures
        overview, from the store's run history (whichever layout it is)."""
        from schedtui.core.activity import read_activity

        try:
            act = read_activity(source, engine, now, schema=self.target.schema)
        except Exception:
            return {}
        return _activity_fields(act)

    def _list_backups(self) -> tuple[BackupEntry, ...]:
        try:
            from schedtui.core import backup as backup_mod

            directory = self.backup_dir or backup_mod.default_backup_dir(self.target)
            return tuple(backup_mod.list_backups(directory))
        except Exception:
            return ()

    def _history_source(self, engine: Engine) -> HistorySource | None:
        """The run history of this store (cached while found)."""
        if self._source is None:
            from schedtui.core.history import detect_history

            self._source = detect_history(engine, self.target)
        return self._source

    def _db_reads(self, engine: Engine, quiet: bool) -> _DbReads:
        """The companion tables' rows this refresh needs (those of the last refresh while
        nobody committed: ``quiet``)."""
        if quiet and self._quiet_reads is not None:
            return self._quiet_reads
        schema = self.target.schema
        archived: tuple[Any, ...] | None = None
        try:
            from schedtui.core.archive import read_archived

            archived = tuple(read_archived(engine, schema, table=self.target.table, include_restored=False))
        except Exception:
            pass
        try:
            from schedtui.core import heartbeat as hb_mod
            from schedtui.core import history as hist_mod
        except Exception:
            return _DbReads(archived)
        try:
            installed = bool(hist_mod.companion_installed(engine, schema=schema))
            source = self._history_source(engine)
        except Exception:
            return _DbReads(archived)
        beats: tuple[HeartbeatInfo, ...] | None
        try:
            beats = tuple(hb_mod.read_heartbeats(engine, schema=schema)) if installed else ()
        except Exception:
            beats = None
        reads = _DbReads(archived, True, installed, source, beats)
        self._quiet_reads = reads
        return reads

    def _companion(
        self, reader: JobStoreReader, now: datetime, snap: StoreSnapshot | None = None, *, quiet: bool = False
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        try:
            engine: Engine = reader.engine
        except Exception:
            return out
        reads = self._db_reads(engine, quiet)
        if reads.archived is not None:
            out["archived"] = reads.archived
        if not reads.ok:
            return out
        installed, source = reads.installed, reads.source
        out["companion"] = installed or source is not None
        if source is not None:
            out["history_source"] = clean(source.label, 120)
        try:
            beats = list(reads.beats) if reads.beats is not None else []
            if beats:
                fresh = [b for b in beats if _safe_fresh(b, now)]
                best = (fresh or beats)[0]
                out["heartbeat"] = _heartbeat(beats, fresh, best)
            elif snap is not None and reads.beats is not None:
                jb = job_heartbeat(self._beat_candidates(snap.jobs, reader), now)
                if jb is not None:
                    out["heartbeat"] = Heartbeat(
                        fresh=jb.fresh,
                        state="running" if jb.state == "stale" else jb.state,
                        seen_at=jb.last_beat,
                        count=1,
                        commands=False,
                        source=clean(jb.label, 120),
                    )
        except Exception:
            pass
        act = self._activity(source, engine, now) if source is not None else {}
        out.update(act)
        from schedtui.core.activity import feed_note

        out["feed_note"] = feed_note(act.get("activity"), heartbeat=out.get("heartbeat") is not None)
        out.pop("activity", None)
        return out

    def _beat_candidates(self, jobs: Sequence[JobInfo], reader: object = None) -> tuple[JobInfo, ...]:
        """The jobs that could be a heartbeat job (``job_heartbeat`` looks at no other):
        looked up by id in ``reader`` when it read ``jobs`` (``JobStoreReader.pick``),
        else one pass over them."""
        if self._beat_scan is None or self._beat_scan[0] is not jobs:
            pick = getattr(reader, "pick", None)
            found = pick(jobs, HEARTBEAT_IDS) if pick is not None else None
            if found is None:
                found = tuple(j for j in jobs if j.id in HEARTBEAT_IDS)
            self._beat_scan = (jobs, found)
        return self._beat_scan[1]

    # -- the fleet view ---------------------------------------------------------------
    def check(self, name: str, options: CheckOptions | None = None) -> FleetRow:
        """This store's fleet row: ``schedtui check``'s judgement (``core.fleet``), read with
        this feed's reader (its decode cache) when it can be opened."""
        from schedtui.core.fleet import fleet_row
        from schedtui.core.stores import NamedStore

        store = NamedStore(name, self.target)
        with self._lock:
            try:
                self._check_sqlite_file()
                reader: object | None = self._get_reader()
            except Exception:
                reader = None  # (check opens its own and words the failure as the probe does)
            if options is None and self.backup_dir:
                from schedtui.core.health import CheckOptions

                options = CheckOptions(backup_dir=self.backup_dir)  # (the folder the console watches)
            row = fleet_row(store, clock=self.clock, options=options, reader=reader)
        return replace(row, summary=_short(row.summary), error=_short(row.error) if row.error else None)

    # -- per job ----------------------------------------------------------------------
    def history(self, job_id: str) -> History:
        with self._lock:
            try:
                reader = self._get_reader()
                engine = reader.engine
                reads = self._quiet_reads
                # (the refresh just looked for the run history: no new look while nobody committed)
                source = reads.source if reads is not None and reads.ok else self._history_source(engine)
            except Exception as exc:
                return History(job_id=job_id, companion=False, error=self._mask(exc))
            if source is None:
                return History(job_id=job_id, companion=False)
            label = clean(source.label, 120)
            try:
                runs = tuple(_run(r) for r in source.recent_runs(engine, job_id=job_id, limit=50))
                stats = source.job_stats(engine, job_id)
            except Exception as exc:
                return History(job_id=job_id, companion=True, error=self._mask(exc), source=label)
            return _history(job_id, runs, stats, label)

    def extras(self, job: JobInfo, now: datetime) -> Extras:
        if job.finding is None:
            try:
                from schedtui.core.checker import and_trigger_hang
                from schedtui.tui.fmt import next_fire_times

                times = tuple(next_fire_times(job.trigger, now, 10))
                found = Extras(job_id=job.id, fire_times=times, hang_after=and_trigger_hang(job))
            except Exception as exc:
                found = Extras(job_id=job.id, fire_error=self._mask(exc))
            return replace(found, reprs=self.reprs(job))
        with self._lock:
            try:
                raw = self._get_reader().raw_state(job.id)
            except Exception as exc:
                return Extras(job_id=job.id, opcode_note=f"raw bytes unavailable: {self._mask(exc)}")
        if raw is None:
            return Extras(job_id=job.id, opcode_note="the row is gone")
        lines, note = opcode_view(bytes(raw))
        return Extras(job_id=job.id, opcodes=lines, opcode_note=note)

    def reprs(self, job: JobInfo) -> Reprs:
        """The args/kwargs of the listed ``job`` (``tui.reprs.selected_reprs``): its row's
        bytes read under the feed's lock, decoded in the sandbox outside it."""

        def raw_state(job_id: str) -> bytes | None:
            with self._lock:
                return self._get_reader().raw_state(job_id)

        try:
            return selected_reprs(raw_state, job, self.memo)
        except Exception as exc:
            return Reprs(of=job, note=f"cannot read them: {self._mask(exc)}")


def _short(text: str) -> str:
    """Paths under the working directory read shorter (and stay stable in tests)."""
    try:
        cwd = os.getcwd()
    except OSError:
        return text
    return text.replace(cwd + os.sep, "") if len(cwd) > 1 else text


def opcode_view(raw: bytes, limit: int = OPCODE_LIMIT) -> tuple[tuple[str, ...], str | None]:
    """A bounded, non-executing listing of a pickle's opcodes (``pickletools.genops``)."""
    lines: list[str] = []
    note: str | None = None
    try:
        for opcode, arg, pos in pickletools.genops(raw):
            if len(lines) >= limit:
                note = f"first {limit} opcodes shown"
                break
            text = f"{pos if pos is not None else '':>5} {opcode.name:<14}"
            if arg is not None:
                text += " " + clean(repr(arg), 80)
            lines.append(text)
    except Exception as exc:
        note = f"stopped: {clean(exc, 120)}"
    return tuple(lines), note


def _safe_fresh(beat: Any, now: datetime) -> bool:
    try:
        return bool(beat.is_fresh(now))
    except Exception:
        return False


def _heartbeat(beats: list[HeartbeatInfo], fresh: list[HeartbeatInfo], best: HeartbeatInfo) -> Heartbeat:
    seen = [b.last_seen for b in beats if b.last_seen is not None]
    return Heartbeat(
        fresh=bool(fresh),
        state=clean(best.state or "unknown", 40),
        seen_at=max(seen) if seen else None,
        count=len(beats),
        commands=any(b.accepts_commands for b in fresh),
    )


def _activity_fields(act: Activity) -> dict[str, Any]:
    """The ``Frame`` fields of one activity read (``activity`` itself for the feed's note)."""
    digests: dict[str, JobRuns] = {}
    durations: dict[str, float] = {}
    errors: dict[str, tuple[str, datetime | None]] = {}
    counts = {j.job_id: (j.runs, j.failures) for j in act.window.jobs}
    successes = {j.job_id: j.successes for j in act.window.jobs}
    for jf in act.failures:
        if jf.last_failure is not None:
            errors[jf.job_id] = (_error_line(jf.last_failure), _failed_at(jf.last_failure))
    for run in act.recent:
        if run.duration_s is not None and run.job_id not in durations:
            durations[run.job_id] = float(run.duration_s)
        if run.failed and run.job_id not in errors:
            errors[run.job_id] = (_error_line(run), _failed_at(run))
        if run.job_id in digests or run.outcome == "running":
            continue
        n, f = counts.get(run.job_id, (0, 0))
        digests[run.job_id] = JobRuns(
            last_at=run.started_at or run.scheduled_at or run.finished_at,
            last_outcome=clean(run.outcome, 20),
            last_duration=run.duration_s,
            runs_24h=n,
            failures_24h=f,
            successes_24h=successes.get(run.job_id, 0),
        )
    for job_id, (n, f) in counts.items():
        digests.setdefault(job_id, JobRuns(runs_24h=n, failures_24h=f, successes_24h=successes[job_id]))
    for job_id, (text, at) in errors.items():
        d = digests.get(job_id)
        if d is not None:
            digests[job_id] = replace(d, last_error=text, last_error_at=at)
    return {
        "activity": act,
        "runs_24h": act.summary.runs_24h,
        "failures_24h": act.summary.failures_24h,
        "last_durations": durations,
        "job_runs": digests,
        "recent": act.recent[:500],
        "hourly": act.hourly,
        "commands": act.commands,
        "failures": act.failures,
    }


def _failed_at(run: RunInfo) -> datetime | None:
    return run.finished_at or run.started_at


def _error_line(run: RunInfo) -> str:
    """The first line of a run's error, sanitized (``OSError: [Errno 28] No space left``)."""
    text = ": ".join(str(x) for x in (run.error_type, run.error_message) if x) or run.outcome
    return clean(text.splitlines()[0] if text else "", 300)


def _best_backup(items: tuple[BackupEntry, ...]) -> BackupInfo | None:
    """The newest backup not known to be bad (the summary's)."""
    best: BackupInfo | None = None
    for item in items:
        info = _backup_info(item)
        if info.verified is False:
            continue
        if best is None or (info.created_at and best.created_at and info.created_at > best.created_at):
            best = info
    return best


def _backup_info(item: BackupEntry) -> BackupInfo:
    return BackupInfo(path=str(item.path), size=item.size, verified=item.verified, created_at=item.created_at)


def _history(job_id: str, runs: tuple[Run, ...], stats: JobStats | None, source: str | None) -> History:
    if stats is None:
        return History(job_id=job_id, companion=True, runs=runs, source=source)
    return History(
        job_id=job_id,
        companion=True,
        runs=runs,
        total=stats.runs,
        success_rate=stats.success_rate,
        p50=stats.p50_s,
        p95=stats.p95_s,
        max=stats.max_s,
        last_success=stats.last_success,
        last_failure=_failure_time(stats.last_failure),
        source=source,
    )


def _run(r: RunInfo) -> Run:
    error = ": ".join(x for x in (r.error_type, r.error_message) if x) or None
    return Run(
        when=r.started_at or r.scheduled_at or r.finished_at,
        outcome=clean(r.outcome or "?", 20),
        duration=r.duration_s,
        error=error,
        traceback=r.traceback,
    )


def _failure_time(run: RunInfo | None) -> datetime | None:
    return None if run is None else run.finished_at or run.scheduled_at


def _same_jobs(a: Sequence[JobInfo], b: Sequence[JobInfo]) -> bool:
    """The same rows: the reader hands back the very same ``JobInfo`` for unchanged rows,
    so identity (compared at C speed) is enough; anything else counts as a change."""
    return a is b or (len(a) == len(b) and all(map(operator.is_, a, b)))


def _close_quietly(thing: Any) -> None:
    """``thing.close()`` if there is a thing; a failure to close is of no interest (it is
    being dropped, and the next use opens a new one)."""
    if thing is not None:
        with contextlib.suppress(Exception):
            thing.close()
