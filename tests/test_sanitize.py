"""Nothing from the store reaches a terminal raw: the one sanitizer and every command that
prints stored text.

The store is built once per module by real APScheduler (``SQLAlchemyJobStore`` on SQLite)
with the companion's own tables; each Hypothesis example rewrites its rows with new
hostile text (job ids and names through APScheduler's ``add_job``, run errors, tracebacks
and heartbeat names through the companion's tables) and runs every command that prints them.
"""

from __future__ import annotations

import io
import json
import pickle
import unicodedata
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schedtui.cli import cmd_check
from schedtui.cli.app import main
from schedtui.core import tables as T
from schedtui.core.clock import FixedClock
from schedtui.core.text import UNSAFE_CATEGORIES, json_safe, safe_block, safe_lines, safe_text
from schedtui.tui.fmt import clean
from tests.conftest import FROZEN_NOW

ATTACK = "a1\x1b]0;PWNED-TITLE\x07\x1b[2J\x1b[31mRED"
FORGE = "x\nSCHEDTUI OK - forged | 'jobs'=0"
BIDI = "evil\u202etxt.exe\u2066\u2069\u200d"
FRAGMENTS = [
    ATTACK,
    FORGE,
    BIDI,
    "\r\x1b[1A\x1b[2K",
    "\x9b31m\x9d0;t\x9c",
    "\x00\x08\x7f",
    "\u2028\u2029\ufeff\u00ad",
    "\x1bP+q\x1b\\",
    "Zürich ✓ 東京",
]


def job_target(*args: object, **kwargs: object) -> None:
    """What the stored jobs call (never run here)."""


def _unsafe(text: str, *, allow_newline: bool = True) -> list[str]:
    return [ch for ch in text if unicodedata.category(ch) in UNSAFE_CATEGORIES and not (allow_newline and ch == "\n")]


# --------------------------------------------------------------------------- the sanitizer


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\x1b[31mb", "a\\x1b[31mb"),
        ("x\ny\r\tz", "x\\ny\\r\\tz"),
        ("\x07\x00\x7f", "\\x07\\x00\\x7f"),
        ("\x9b1m", "\\x9b1m"),
        ("a\u202eb\u2066c\u2069", "a\\u202eb\\u2066c\\u2069"),
        ("zero\u200bwidth\u200d\ufeff", "zero\\u200bwidth\\u200d\\ufeff"),
        ("sep\u2028\u2029", "sep\\u2028\\u2029"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("Zürich ✓ 東京 — ok", "Zürich ✓ 東京 — ok"),
    ],
)
def test_safe_text_escapes_visibly(raw: str, shown: str) -> None:
    assert safe_text(raw) == shown


def test_safe_text_bounds_and_none() -> None:
    assert safe_text(None) == ""
    assert safe_text("x" * 50, 10) == "x" * 9 + "…"
    assert safe_text(42) == "42"


def test_tracebacks_keep_their_lines() -> None:
    tb = 'Traceback (most recent call last):\r\n  File "a.py", line 1\n\x1b[2JValueError: \u202ebad'
    assert safe_lines(tb) == [
        "Traceback (most recent call last):",
        '  File "a.py", line 1',
        "\\x1b[2JValueError: \\u202ebad",
    ]
    assert safe_block(tb).count("\n") == 2


def test_console_uses_the_same_sanitizer() -> None:
    for text in FRAGMENTS:
        assert clean(text, 200) == safe_text(text, 200)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_safe_text_properties(text: str) -> None:
    shown = safe_text(text)
    assert not _unsafe(shown, allow_newline=False)
    assert safe_text(shown) == shown  # idempotent: renderers may sanitize again
    dumped = json_safe(json.dumps({"k": text}, ensure_ascii=False))
    assert json.loads(dumped) == {"k": text}  # JSON keeps the value exactly
    assert not _unsafe(dumped, allow_newline=False)


# --------------------------------------------------------------------------- a real store


class Store:
    """A SQLite store written by real APScheduler, with the companion's tables."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.sched = BackgroundScheduler(timezone=UTC)
        self.store = SQLAlchemyJobStore(url=self.url)
        self.store.start(self.sched, "default")
        self.engine = self.store.engine
        self.tables = T.create_all(self.engine)

    def fill(self, ident: str, name: str, error: str, beat: str) -> list[str]:
        """Replace every row with hostile text; the job ids written."""
        now = FROZEN_NOW
        with self.engine.begin() as conn:
            conn.execute(self.store.jobs_t.delete())
            conn.execute(self.tables.runs.delete())
            conn.execute(self.tables.heartbeats.delete())
        ids = [f"{ident}", f"late-{ident}", f"bad-{ident}"]
        jobs = [
            Job(
                self.sched,
                id=ids[0],
                func=job_target,
                trigger=CronTrigger(hour=3, timezone="Europe/Berlin"),
                executor="default",
                args=(name, error),
                kwargs={name: error},
                name=name,
                misfire_grace_time=1,
                coalesce=True,
                max_instances=1,
                next_run_time=None,  # paused: resumed below without waiting on any clock
            ),
            Job(
                self.sched,
                id=ids[1],
                func=job_target,
                trigger=IntervalTrigger(minutes=5, start_date=now - timedelta(days=1), timezone=UTC),
                executor="default",
                args=(),
                kwargs={},
                name=name,
                misfire_grace_time=1,
                coalesce=True,
                max_instances=1,
                next_run_time=now - timedelta(hours=1),  # overdue: listed in the tree
            ),
        ]
        for job in jobs:
            self.store.add_job(job)
        torn = pickle.dumps(jobs[0].__getstate__(), pickle.HIGHEST_PROTOCOL)
        with self.engine.begin() as conn:
            conn.execute(
                self.store.jobs_t.insert(),
                [{"id": ids[2], "next_run_time": now.timestamp(), "job_state": torn[: len(torn) // 2]}],
            )
            at = now.timestamp() - 60
            conn.execute(
                self.tables.runs.insert(),
                [
                    {
                        "job_id": ids[1],
                        "job_name": name,
                        "func": "builtins:print",
                        "scheduled_at": at,
                        "started_at": at,
                        "finished_at": at + 1,
                        "duration_s": 1.0,
                        "outcome": "error",
                        "error_type": name,
                        "error_message": error,
                        "traceback": f"Traceback (most recent call last):\n  {error}\n{name}: {error}",
                        "host": beat,
                        "pid": 1,
                        "scheduler_id": beat,
                    }
                ],
            )
            conn.execute(
                self.tables.heartbeats.insert(),
                [
                    {
                        "scheduler_id": beat,
                        "name": beat,
                        "host": beat,
                        "pid": 1,
                        "started_at": at - 3600,
                        "last_seen": at,
                        "interval_s": 5.0,
                        "state": beat,
                        "jobs_table": "apscheduler_jobs",
                        "version": beat,
                    }
                ],
            )
        return ids


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = Store(tmp_path_factory.mktemp("hostile") / "jobs.sqlite")
    yield s
    s.store.shutdown()


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("SCHEDTUI_URL", "DATABASE_URL", "SCHEDTUI_TABLE", "SCHEDTUI_SCHEMA", "FORCE_COLOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("SCHEDTUI_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.setattr(cmd_check, "CLOCK", FixedClock(FROZEN_NOW + timedelta(seconds=30)))


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), pytest.raises(SystemExit) as exc:
        main(argv)
    return int(exc.value.code or 0), out.getvalue(), err.getvalue()


def _assert_clean(argv: list[str], out: str, err: str) -> None:
    for name, text in (("stdout", out), ("stderr", err)):
        bad = _unsafe(text)
        assert not bad, f"{argv}: raw {bad!r} on {name}:\n{text}"
    assert "Traceback" not in err, f"{argv}: {err}"


# (captured output has no encoding: the tree is drawn in its ASCII form)
_TREE_START = (
    "✓",
    "⚠",
    "✗",
    "?",
    "└─",
    "├─",
    "│",
    "   ",
    "[OK] ",
    "[WARN] ",
    "[CRIT] ",
    "[UNKN] ",
    "`- ",
    "|- ",
    "|  ",
)

hostile = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=12), min_size=1, max_size=4).map("".join)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ident=hostile, name=hostile, error=hostile, beat=hostile)
def test_no_command_prints_stored_text_raw(store: Store, ident: str, name: str, error: str, beat: str) -> None:
    ids = store.fill(f"j{ident[:150]}", f"n{name}", error, beat)  # APScheduler wants non-empty ones
    name = f"n{name}"
    url = store.url

    code, out, err = run(["check", "--url", url])
    _assert_clean(["check"], out, err)
    assert out.count("\n") == 1 and out.startswith("SCHEDTUI "), out
    code, out, err = run(["check", "--perfdata", "--url", url])
    _assert_clean(["check", "--perfdata"], out, err)
    assert out.count("\n") == 1 and " | 'jobs'=3 'paused'=1" in out, out

    code, out, err = run(["check", "--detailed", "--url", url])
    _assert_clean(["check", "--detailed"], out, err)
    assert code == 2  # overdue and undecodable
    for line in out.splitlines():
        assert line.startswith(_TREE_START), f"forged tree line: {line!r}"

    code, out, err = run(["check", "--json", "--url", url])
    _assert_clean(["check", "--json"], out, err)
    data = json.loads(out)
    assert sorted(j["id"] for j in data["jobs"]) == sorted(ids)  # JSON keeps the exact text

    code, out, err = run(["jobs", "--url", url])
    _assert_clean(["jobs"], out, err)
    assert code == 0 and len(out.splitlines()) == 4, out  # header + 3 jobs
    code, out, err = run(["jobs", "--json", "--url", url])
    _assert_clean(["jobs", "--json"], out, err)
    assert {j["name"] for j in json.loads(out)["jobs"]} - {None} == {name}

    for argv in (["history"], ["history", ids[1]], ["history", "--failed"]):
        code, out, err = run([*argv, "--url", url])
        _assert_clean(argv, out, err)
        assert code == 0
    code, out, err = run(["history", ids[1], "--json", "--url", url])
    _assert_clean(["history", "--json"], out, err)
    assert json.loads(out)["runs"][0]["traceback"].endswith(f"{name}: {error}")

    code, out, err = run(["resume", ids[0], "--yes", "--url", url])
    _assert_clean(["resume"], out, err)
    assert code == 0 and safe_text(ids[0]) in out + err, (out, err)


def test_backup_names_and_undecodable_ids(tmp_path: Path) -> None:
    """A database file (and so its backups) named with control characters, and undecodable
    ids listed by ``backup``: nothing raw in ``backup``, ``backups`` or their JSON."""
    s = Store(tmp_path / f"jobs{ATTACK}\n.sqlite")
    try:
        s.fill(ATTACK, FORGE, BIDI, ATTACK)
    finally:
        s.store.shutdown()
    folder = tmp_path / "bk"
    for argv in (
        ["backup", "--dir", str(folder), "--url", s.url],
        ["backups", "--dir", str(folder)],
        ["backups", "--dir", str(folder), "--verify"],
        ["backups", "--dir", str(folder), "--json"],
    ):
        code, out, err = run(argv)
        _assert_clean(argv, out, err)
        assert code == 0, (argv, out, err)
    code, out, err = run(["backups", "--dir", str(folder)])
    assert "PWNED-TITLE" in out


def test_console_view_of_a_hostile_store(store: Store) -> None:
    """The console's data layer and text helpers show the same escaped text."""
    from schedtui.core.model import Target
    from schedtui.tui.data import Feed
    from schedtui.tui.fmt import job_trigger_text, module_of

    ids = store.fill(ATTACK, FORGE, BIDI, ATTACK)
    feed = Feed(Target(url=store.url), clock=FixedClock(FROZEN_NOW))
    try:
        frame = feed.fetch()
        assert frame.error is None and frame.snapshot is not None
        assert frame.heartbeat is not None and not _unsafe(frame.heartbeat.state, allow_newline=False)
        assert frame.runs_24h == 1 and frame.failures_24h == 1
        assert frame.last_durations == {ids[1]: 1.0}
        for job in frame.snapshot.jobs:
            for text in (clean(job.id), clean(job.name or ""), job_trigger_text(job), module_of(job)):
                assert not _unsafe(text, allow_newline=False), text
        hist = feed.history(ids[1])
        assert hist.total == 1 and hist.runs and hist.runs[0].duration == 1.0
        assert hist.last_failure is not None
    finally:
        feed.close()


def test_console_screen_of_a_hostile_store(store: Store) -> None:
    """The console itself (Pilot): the jobs list, summary, detail and history panes of a
    store full of escape sequences show them escaped; no raw control character is drawn."""
    import asyncio
    import time

    from schedtui.core.model import Target
    from schedtui.tui.app import SchedtuiApp
    from schedtui.tui.screens.main import MainScreen

    store.fill(f"j{ATTACK}", f"n{FORGE}", BIDI, ATTACK)
    app = SchedtuiApp(Target(url=store.url), clock=FixedClock(FROZEN_NOW), read_only=True)

    async def go() -> str:
        async with app.run_test(size=(160, 40)) as pilot:
            main = app.screen_stack[0]
            assert isinstance(main, MainScreen)
            deadline = time.monotonic() + 60
            while not (main.loaded and main.refreshes >= 1):
                assert time.monotonic() < deadline, "no first refresh"
                await pilot.pause(0.02)
            await pilot.pause(0.2)
            return app.export_screenshot()

    svg = asyncio.run(go())
    assert "PWNED-TITLE" in svg and "\\x1b]0;PWNED-TITLE\\x07" in svg
    assert not _unsafe(svg)
