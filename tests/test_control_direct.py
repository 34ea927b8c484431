"""Direct job control (no companion): pause and resume write the row themselves.

The rows are written by the real APScheduler (with the app importable only in its
subprocess): every trigger kind, ZoneInfo / datetime.timezone / pytz values, protocols
2-5 (one table each), app objects in args, a bound-method job, a multi-frame state.
Checked here: the bytes after the edit are exactly what APScheduler itself writes for the
paused / resumed job, the column matches, a concurrent write makes the compare-and-swap
change nothing (and is reported), and the real scheduler loads every row afterwards with
exactly the intended change. Then the same against a live scheduler firing every second.
"""

from __future__ import annotations

import base64
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from schedtui.core import control
from schedtui.core import pickle_patch as P
from schedtui.core.clock import FixedClock, system_clock
from schedtui.core.model import Target
from tests.test_control_support import (
    GENERATOR,
    PYTHON,
    LiveScheduler,
    _env,
    fast_dir,
    load_with_app,
    poll_until,
    write_app,
)

NOW = datetime(2026, 3, 2, 12, 0, 0, 123456, tzinfo=UTC)  # the generator's "now"


def _populate(tmp: Path, url: str) -> tuple[Path, dict[str, dict[str, Any]]]:
    import json

    app = write_app(tmp / "app")
    out = subprocess.run(
        [PYTHON, "-c", GENERATOR, str(app), url], env=_env(), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return app, json.loads(out.stdout)


def _row(engine: sa.Engine, table: str, job_id: str) -> tuple[float | None, bytes]:
    with engine.connect() as conn:
        r = conn.execute(
            sa.text(f"SELECT next_run_time, job_state FROM {table} WHERE id = :id"), {"id": job_id}
        ).first()
    assert r is not None
    return r[0], bytes(r[1])


def _direct_roundtrip(tmp: Path, url: str) -> None:
    app, cases = _populate(tmp, url)
    engine = sa.create_engine(url)
    clock = FixedClock(NOW)
    names = sorted({k.split("/")[0] for k in cases})
    try:
        for proto in (2, 3, 4, 5):
            target = Target(url=url, table=f"jobs_p{proto}")
            before_load = load_with_app(tmp, app, url, target.table)
            for name in names:
                case = cases[f"{name}/p{proto}"]
                col, state = _row(engine, target.table, name)
                assert state == base64.b64decode(case["original"])
                res = control.submit(target, name, "pause", clock=clock, engine=engine)
                assert (res.mode, res.status) == ("direct", "applied"), res
                col, state = _row(engine, target.table, name)
                assert col is None
                assert state == base64.b64decode(case["paused"]), (name, proto)  # APScheduler's own bytes
                again = control.submit(target, name, "pause", clock=clock, engine=engine)
                assert again.status == "applied" and "already" in again.message
                res = control.submit(target, name, "resume", clock=clock, engine=engine)
                assert (res.mode, res.status) == ("direct", "applied"), res
                col, state = _row(engine, target.table, name)
                assert col == pytest.approx(case["resume_ts"], abs=1e-6)
                assert res.next_run_time is not None and res.next_run_time.timestamp() == pytest.approx(col, abs=1e-6)
                assert P.same_outside_value(base64.b64decode(case["paused"]), state)
                if case["resume_is_zoneinfo"] or case["is_date"]:
                    assert state == base64.b64decode(case["resumed"]), (name, proto)
            after_load = load_with_app(tmp, app, url, target.table)
            assert set(after_load) == set(before_load) == set(names)
            for name in names:
                b, a = before_load[name], after_load[name]
                for key in (
                    "args",
                    "kwargs",
                    "trigger",
                    "func",
                    "name",
                    "misfire_grace_time",
                    "coalesce",
                    "max_instances",
                ):
                    assert a[key] == b[key], (name, key)
                assert a["column"] == pytest.approx(a["pickled"], abs=1e-6)  # column and pickle agree
                assert a["pickled"] == pytest.approx(cases[f"{name}/p{proto}"]["resume_ts"], abs=1e-6)
    finally:
        engine.dispose()


def test_direct_pause_resume_sqlite(tmp_path: Path) -> None:
    with fast_dir(tmp_path) as folder:
        _direct_roundtrip(tmp_path, f"sqlite:///{folder / 'jobs.sqlite'}")


def test_direct_pause_resume_server(tmp_path: Path, server_url: str) -> None:
    """PostgreSQL and MariaDB (``server_url``)."""
    _direct_roundtrip(tmp_path, server_url)


def test_cas_conflict_never_clobbers(tmp_path: Path) -> None:
    """A write between our read and our update (the scheduler's) wins; we report it."""
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    _, cases = _populate(tmp_path, url)
    engine = sa.create_engine(url)
    target = Target(url=url, table="jobs_p5")
    name = "interval-ny"
    theirs = base64.b64decode(cases[f"{name}/p5"]["resumed"])  # a different, real state
    their_ts = cases[f"{name}/p5"]["resume_ts"] + 30

    class Racing(control.DirectWriter):
        def _cas(self, row: Any, new_ts: float | None, new_state: bytes) -> int:
            with sa.create_engine(url).begin() as other:  # the scheduler's update_job
                other.execute(
                    sa.text("UPDATE jobs_p5 SET next_run_time = :t, job_state = :s WHERE id = :id"),
                    {"t": their_ts, "s": theirs, "id": name},
                )
            return super()._cas(row, new_ts, new_state)

    res = Racing(engine, target, clock=FixedClock(NOW)).apply(name, "pause")
    assert res.status == "conflict", res
    assert "changed meanwhile" in res.message
    col, state = _row(engine, "jobs_p5", name)
    assert (col, state) == (their_ts, theirs)  # not clobbered
    engine.dispose()


def test_refusals_and_forced_remove(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    _, cases = _populate(tmp_path, url)
    engine = sa.create_engine(url)
    target = Target(url=url, table="jobs_p5")
    clock = FixedClock(NOW)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO jobs_p5 (id, next_run_time, job_state) VALUES ('evil', NULL, :s)"),
            {"s": b"\x80\x05cos\nsystem\n(S'echo hi'\ntR."},
        )
    res = control.submit(target, "evil", "resume", clock=clock, engine=engine)
    assert res.status == "refused" and "decoded" in res.message
    assert _row(engine, "jobs_p5", "evil")[1].startswith(b"\x80\x05cos")
    # the tuple-hash row (hours of hashing inside the C unpickler): the canary gives up on it
    bomb = b"\x80\x02)" + b"2\x86" * 40 + b"q\x00}h\x00K\x01s."
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO jobs_p5 (id, next_run_time, job_state) VALUES ('bomb', 1.0, :s)"), {"s": bomb}
        )
    from schedtui.core.decode import sandbox

    assert sandbox.ROW_LIMIT == 1.0
    res = control.submit(target, "bomb", "pause", clock=clock, engine=engine)
    assert res.status == "refused" and "over 1 s" in res.message, res.message
    assert _row(engine, "jobs_p5", "bomb")[1] == bomb
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM jobs_p5 WHERE id = 'bomb'"))
    for action in ("run_now", "remove"):
        res = control.submit(target, "cron-berlin", action, clock=clock, engine=engine)
        assert res.status == "refused" and "companion" in res.message
    res = control.submit(target, "missing", "pause", clock=clock, engine=engine)
    assert res.status == "failed"
    res = control.submit(target, "cron-berlin", "remove", clock=clock, engine=engine, force=True)
    assert (res.mode, res.status) == ("direct", "applied") and "forced" in res.message
    with engine.connect() as conn:
        ids = {r[0] for r in conn.execute(sa.text("SELECT id FROM jobs_p5"))}
    assert "cron-berlin" not in ids and len(ids) == len({k.split("/")[0] for k in cases})  # +evil -cron
    engine.dispose()


def _direct_live(tmp: Path, url: str, rounds: int = 40) -> None:
    """Direct pause/resume of jobs the live scheduler runs (and rewrites) every second."""
    live = LiveScheduler(tmp, url, n_tick=6, n_once=0, companion=False)
    target = Target(url=url)
    engine = sa.create_engine(url)
    try:
        live.wait_ready()
        poll_until(lambda: _count(engine) == 6, 30, "the jobs")
        expected: dict[str, bool] = {}
        lost = []
        outcomes: dict[str, int] = {}
        # The last tick job keeps running: a scheduler whose jobs are ALL paused sleeps
        # until something wakes it, and would not see a direct resume (the resume result
        # says so; see _wake_note). The other five are paused and resumed under it.
        jobs = live.tick_ids[:-1]
        for n in range(rounds):
            for job in jobs:
                want_pause = n % 2 == 0
                if expected.get(job):
                    # Our previous pause must still be there: the scheduler never overwrote it.
                    if _row(engine, "apscheduler_jobs", job)[0] is not None:
                        lost.append((n, job))
                res = control.submit(
                    target, job, "pause" if want_pause else "resume", clock=system_clock, engine=engine
                )
                outcomes[res.status] = outcomes.get(res.status, 0) + 1
                if res.status == "applied":
                    expected[job] = want_pause
        assert not lost, lost
        status = live.stop()
        assert status["thread_alive"]
        loaded = load_with_app(tmp, live.app, url)
        assert set(loaded) == set(live.tick_ids)
        for job, paused in expected.items():
            assert (loaded[job]["column"] is None) == paused, (job, loaded[job])
            if not paused:
                assert loaded[job]["pickled"] == pytest.approx(loaded[job]["column"], abs=1e-6)
        assert "Traceback" not in live.log()
        print(f"\ndirect writes against a live scheduler: {outcomes}")
        assert outcomes.get("applied", 0) >= rounds * len(jobs) * 0.9
    finally:
        live.kill()
        engine.dispose()


def _count(engine: sa.Engine) -> int:
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM apscheduler_jobs")).scalar() or 0
    except sa.exc.SQLAlchemyError:
        return 0


@pytest.mark.slow
def test_direct_against_live_scheduler_sqlite(tmp_path: Path) -> None:
    with fast_dir(tmp_path) as folder:
        _direct_live(tmp_path, f"sqlite:///{folder / 'jobs.sqlite'}")


@pytest.mark.slow
def test_direct_against_live_scheduler_server(tmp_path: Path, server_url: str) -> None:
    _direct_live(tmp_path, server_url)


def test_cas_conflict_on_server_waits_for_the_other_writer(server_url: str) -> None:
    """PostgreSQL and MariaDB: the scheduler's update_job, still uncommitted when our
    compare-and-swap runs, makes ours wait for its row lock and then change nothing (the
    WHERE is checked on the row it committed); the result is a conflict, their row stands."""
    import threading

    from test_backup_helpers import make_store

    make_store(server_url, 3)
    engine = sa.create_engine(server_url)
    target = Target(url=server_url)
    job = "job-1"
    other_state = _row(engine, "apscheduler_jobs", "job-2")[1]  # a different, real state
    started, done = threading.Event(), threading.Event()

    def scheduler_update() -> None:
        theirs = sa.create_engine(server_url)
        try:
            with theirs.begin() as conn:
                conn.execute(
                    sa.text("UPDATE apscheduler_jobs SET next_run_time = 4102444800, job_state = :s WHERE id = :id"),
                    {"s": other_state, "id": job},
                )
                started.set()
                done.wait(10)  # commit only once our writer is waiting
        finally:
            theirs.dispose()

    class Racing(control.DirectWriter):
        def _cas(self, row: Any, new_value: Any, new_state: bytes) -> int:
            thread = threading.Thread(target=scheduler_update)
            thread.start()
            assert started.wait(10)
            threading.Timer(0.5, done.set).start()
            try:
                return super()._cas(row, new_value, new_state)
            finally:
                thread.join(10)

    try:
        res = Racing(engine, target, clock=FixedClock(NOW)).apply(job, "pause")
        assert res.status == "conflict", res
        assert _row(engine, "apscheduler_jobs", job) == (4102444800.0, other_state)  # not clobbered
    finally:
        engine.dispose()
