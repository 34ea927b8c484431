"""Is a scheduler still using the database? Evidence gathered before a restore.

Replacing the database under a running scheduler breaks it: on SQLite its open handles
keep pointing at the old file (moved aside), so it fails with "attempt to write a
readonly database" and its last writes land in the old copy; on PostgreSQL its sessions
race ``pg_restore``. Without a fresh companion heartbeat nothing says whether a scheduler
runs, so this module looks for one:

- other processes holding the SQLite file (or its -wal/-shm/-journal) open, from
  ``/proc/<pid>/fd`` on Linux (only the processes we may inspect; the others are counted);
- other sessions connected to the PostgreSQL database (``pg_stat_activity``) and
  sessions holding locks on the jobs table (``pg_locks``); on MySQL/MariaDB other
  sessions on the database (``information_schema.processlist``);
- changes to the store during a short observation window (SQLite ``PRAGMA data_version``,
  PostgreSQL a digest of every row's id, next_run_time and row version, MySQL of every
  row's id, next_run_time and the MD5 of its state): this catches a
  writer in another container or on another host, which the two checks above cannot see.

A scheduler whose jobs all lie far in the future writes nothing during the window; on
SQLite it is seen by its open handles (SQLAlchemy keeps pooled connections open), on
PostgreSQL by its session.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from schedtui.core.errors import SchedtuiError
from schedtui.core.model import Target
from schedtui.core.text import safe_text
from schedtui.core.urls import mask_text

if TYPE_CHECKING:
    import sqlalchemy as sa

#: Seconds the store is watched for changes before a restore (``restore --watch``).
DEFAULT_WATCH_S = 3.0
_POLL_S = 0.1
_MAX_LISTED = 5


@dataclass(frozen=True, slots=True)
class Evidence:
    """One sign of a live writer: what was seen, in one line."""

    kind: str  #: "heartbeat", "open-file", "session", "lock", "changed"
    text: str


@dataclass(frozen=True, slots=True)
class WriterReport:
    """What was looked at before a restore and what was seen."""

    evidence: tuple[Evidence, ...]
    #: Checks that could not be made (e.g. processes whose open files we may not list).
    unchecked: tuple[str, ...]
    watched_s: float

    @property
    def found(self) -> bool:
        return bool(self.evidence)

    def summary(self) -> str:
        return "; ".join(e.text for e in self.evidence)


# ---- open handles (Linux /proc) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Holder:
    """A process holding one of the database's files open."""

    pid: int
    command: str
    files: tuple[str, ...]


def sqlite_files(db: Path) -> tuple[str, ...]:
    return tuple(f"{db}{suffix}" for suffix in ("", "-wal", "-shm", "-journal"))


def _command(pid: str, url: str) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    text = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
    return safe_text(mask_text(text, url), 160) or "?"


def open_holders(db: Path, url: str = "", proc: Path = Path("/proc")) -> tuple[tuple[Holder, ...], str | None]:
    """Other processes with the database (or its -wal/-shm/-journal) open, and a note on
    what could not be looked at (None when everything was)."""
    if not (proc / "self" / "fd").is_dir():
        return (), "open files cannot be listed on this system (no /proc): other processes not checked"
    wanted = set(sqlite_files(db))
    me = str(os.getpid())
    holders: list[Holder] = []
    hidden = 0
    for pid in os.listdir(proc):
        if not pid.isdigit() or pid == me:
            continue
        try:
            fds = os.listdir(proc / pid / "fd")
        except PermissionError:
            hidden += 1
            continue
        except OSError:  # gone meanwhile
            continue
        seen: set[str] = set()
        for fd in fds:
            try:
                link = os.readlink(proc / pid / "fd" / fd)
            except OSError:
                continue
            if link in wanted:
                seen.add(link)
        if seen:
            holders.append(Holder(int(pid), _command(pid, url), tuple(sorted(seen))))
    note = None
    if hidden:
        note = f"the open files of {hidden} process(es) of other users could not be listed (not permitted)"
    return tuple(holders), note


def _holders_evidence(holders: tuple[Holder, ...], db: Path) -> list[Evidence]:
    out = []
    for h in holders[:_MAX_LISTED]:
        names = ", ".join(Path(f).name for f in h.files)
        out.append(Evidence("open-file", f"pid {h.pid} ({h.command}) has {names} open"))
    if len(holders) > _MAX_LISTED:
        out.append(Evidence("open-file", f"and {len(holders) - _MAX_LISTED} more process(es) have {db.name} open"))
    return out


# ---- watching for changes ----------------------------------------------------------------


def watch(
    probe: Callable[[], object], seconds: float, poll: float = _POLL_S, stop_early: bool = True
) -> tuple[int, float]:
    """Call ``probe`` every ``poll`` seconds for ``seconds``; (changes seen, time watched).

    Stops at the first change when ``stop_early``.
    """
    started = time.monotonic()
    last = probe()
    changes = 0
    while (elapsed := time.monotonic() - started) < seconds:
        time.sleep(min(poll, max(0.0, seconds - elapsed)))
        now = probe()
        if now != last:
            changes += 1
            last = now
            if stop_early:
                break
    return changes, time.monotonic() - started


def sqlite_changes(db: Path, seconds: float) -> tuple[int, float]:
    """Commits by other connections to ``db`` during ``seconds`` (``PRAGMA data_version``
    of one read-only connection; it sees WAL and rollback-journal writers alike)."""
    from schedtui.core.store.sqlite_light import open_readonly

    conn = open_readonly(db)
    try:

        def probe() -> object:
            return conn.execute("PRAGMA data_version").fetchone()[0]

        return watch(probe, seconds)
    except sqlite3.Error:
        return 0, 0.0
    finally:
        conn.close()


# ---- PostgreSQL --------------------------------------------------------------------------

_SESSIONS = """
SELECT pid, coalesce(usename, ''), coalesce(application_name, ''), coalesce(host(client_addr), 'local'),
       coalesce(state, '')
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND coalesce(backend_type, 'client backend') = 'client backend'
ORDER BY pid
"""
_LOCKS = """
SELECT DISTINCT l.pid, l.mode FROM pg_locks l
WHERE l.relation = to_regclass(:rel) AND l.pid <> pg_backend_pid() ORDER BY l.pid
"""


def _watch_digest(conn: sa.Connection, digest: sa.TextClause, seconds: float, table: str, out: list[Evidence]) -> float:
    """Watch a server table through a one-row digest query (each probe in a fresh snapshot);
    a change is added to ``out``. Returns the seconds watched."""

    def probe() -> object:
        row = conn.execute(digest).fetchone()
        conn.rollback()  # a fresh snapshot each time
        return tuple(row) if row is not None else None

    changes, watched = watch(probe, seconds)
    if changes:
        out.append(Evidence("changed", f"rows of {table} changed during {watched:.1f} s"))
    return watched


def pg_evidence(target: Target, seconds: float) -> tuple[list[Evidence], float]:
    """Other sessions on the target database, locks on the jobs table, and changes to
    the table's rows during ``seconds`` (skipped when sessions were already seen)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from schedtui.core.store.db import read_engine, translate_error
    from schedtui.core.store.place import place_of

    engine = read_engine(target)
    dbname = make_url(target.url).database or "postgres"
    out: list[Evidence] = []
    watched = 0.0
    try:
        with engine.connect() as conn:
            rel = place_of(target).table_sql
            sessions = conn.execute(sa.text(_SESSIONS)).fetchall()
            if sessions:
                shown = ", ".join(
                    f"pid {pid} {safe_text(user, 160)}@{addr}"
                    + (f" ({safe_text(app, 160)})" if app else "")
                    + f" {state}"
                    for pid, user, app, addr, state in sessions[:_MAX_LISTED]
                )
                more = f" and {len(sessions) - _MAX_LISTED} more" if len(sessions) > _MAX_LISTED else ""
                n = len(sessions)
                out.append(
                    Evidence(
                        "session",
                        f"{n} other session{'s' if n != 1 else ''} on database {dbname}: {shown}{more}",
                    )
                )
            locks = conn.execute(sa.text(_LOCKS), {"rel": rel}).fetchall()
            if locks:
                held = ", ".join(f"pid {pid} {mode}" for pid, mode in locks[:_MAX_LISTED])
                out.append(Evidence("lock", f"locks held on {target.table}: {held}"))
            exists = conn.execute(sa.text("SELECT to_regclass(:rel) IS NOT NULL"), {"rel": rel}).scalar()
            conn.rollback()
            if not out and seconds > 0 and exists:  # no table (a wiped database): nothing to watch
                digest = sa.text(
                    f"SELECT count(*), coalesce(sum(hashtextextended(id || ':' || xmin::text || ':' || "
                    f"coalesce(next_run_time::text, ''), 0)), 0) FROM {rel}"
                )
                watched = _watch_digest(conn, digest, seconds, target.table, out)
    except SchedtuiError:
        raise
    except Exception as exc:
        raise translate_error(exc, target) from None
    finally:
        engine.dispose()
    return out, watched


# ---- MySQL / MariaDB ---------------------------------------------------------------------

_MY_SESSIONS = """
SELECT id, coalesce(user, ''), coalesce(host, ''), coalesce(command, ''), coalesce(state, '')
FROM information_schema.processlist
WHERE db = :db AND id <> connection_id() AND coalesce(command, '') NOT IN ('Daemon', 'Binlog Dump', 'Killed')
ORDER BY id
"""
_MY_SEES_ALL = """
SELECT count(*) FROM information_schema.user_privileges WHERE privilege_type IN ('PROCESS', 'SUPER')
"""


def mysql_evidence(target: Target, seconds: float) -> tuple[list[Evidence], list[str], float]:
    """Other sessions on the target database (``information_schema.processlist``: a
    scheduler's pool keeps its connections open, idle ones included), and changes to the
    jobs table's rows during ``seconds`` (skipped when sessions were already seen).

    Without the PROCESS privilege the process list shows only the connecting user's own
    sessions: that is noted as not checked."""
    import sqlalchemy as sa

    from schedtui.core.backup.mysql import database_name
    from schedtui.core.store.db import read_engine, translate_error
    from schedtui.core.store.place import place_of

    engine = read_engine(target)
    dbname = database_name(target)
    out: list[Evidence] = []
    unchecked: list[str] = []
    watched = 0.0
    try:
        with engine.connect() as conn:
            if not conn.execute(sa.text(_MY_SEES_ALL)).scalar():
                unchecked.append(
                    "sessions of other MySQL users (this user lacks the PROCESS privilege, so only its own are listed)"
                )
            sessions = conn.execute(sa.text(_MY_SESSIONS), {"db": dbname}).fetchall()
            if sessions:
                shown = ", ".join(
                    f"id {sid} {safe_text(user, 160)}@{safe_text(host, 160)} {safe_text(cmd, 160)}"
                    + (f" ({safe_text(state, 160)})" if state else "")
                    for sid, user, host, cmd, state in sessions[:_MAX_LISTED]
                )
                more = f" and {len(sessions) - _MAX_LISTED} more" if len(sessions) > _MAX_LISTED else ""
                n = len(sessions)
                out.append(
                    Evidence("session", f"{n} other session{'s' if n != 1 else ''} on database {dbname}: {shown}{more}")
                )
            exists = conn.execute(
                sa.text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s AND table_name = :t"),
                {"s": dbname, "t": target.table},
            ).scalar()
            conn.rollback()
            if not out and seconds > 0 and exists:  # no table (a wiped database): nothing to watch
                rel = place_of(target).table_sql
                digest = sa.text(
                    "SELECT count(*), coalesce(sum(crc32(concat(id, ':', coalesce(next_run_time, ''), ':', "
                    f"md5(job_state)))), 0) FROM {rel}"
                )
                watched = _watch_digest(conn, digest, seconds, target.table, out)
    except SchedtuiError:
        raise
    except Exception as exc:
        raise translate_error(exc, target) from None
    finally:
        engine.dispose()
    return out, unchecked, watched


# ---- together ----------------------------------------------------------------------------


def detect_writers(target: Target, heartbeat: str | None, seconds: float = DEFAULT_WATCH_S) -> WriterReport:
    """Evidence that something still uses the target database (``heartbeat``: the
    description of a fresh heartbeat, if any). The observation window runs only when
    nothing else was seen (it would only add waiting)."""
    from schedtui.core.backup.service import backup_kind

    evidence: list[Evidence] = []
    unchecked: list[str] = []
    watched = 0.0
    if heartbeat:
        evidence.append(Evidence("heartbeat", f"a fresh heartbeat: {heartbeat}"))
    if backup_kind(target) == "sqlite":
        from schedtui.core.backup.sqlite import sqlite_path

        db = sqlite_path(target)
        if not db.exists():
            return WriterReport((), (), 0.0)
        holders, note = open_holders(db, target.url)
        evidence += _holders_evidence(holders, db)
        if note:
            unchecked.append(note)
        if not evidence and seconds > 0:
            changes, watched = sqlite_changes(db, seconds)
            if changes:
                evidence.append(Evidence("changed", f"{db.name} was written during {watched:.1f} s of watching"))
    elif backup_kind(target) == "mysql":
        found, notes, watched = mysql_evidence(target, 0 if evidence else seconds)
        evidence += found
        unchecked += notes
    else:
        found, watched = pg_evidence(target, 0 if evidence else seconds)
        evidence += found
    return WriterReport(tuple(evidence), tuple(unchecked), watched)
