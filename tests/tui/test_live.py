"""The console against live schedulers: the demo (companion, runs appearing, actions
applied by the scheduler) and PostgreSQL going away and coming back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from schedtui.core.model import Target
from schedtui.tui.app import SchedtuiApp
from schedtui.tui.screens.dialogs import ConfirmScreen
from schedtui.tui.widgets.jobs import JobList
from tui.helpers import FROZEN_NOW_ISO, HERE, settle, wait_for

pytestmark = pytest.mark.timeout(300)


@pytest.mark.slow
async def test_demo_console_live_runs_history_and_pause_through_companion(tmp_path: Path) -> None:
    from schedtui.demo.runner import start_demo

    demo = start_demo(tmp_path / "demo", heartbeat_interval=0.5)
    try:
        from schedtui.tui.screens.control import ControlDone

        app = SchedtuiApp(demo.target, refresh=0.5)
        results: list[ControlDone] = []
        hook = lambda m: results.append(m) if isinstance(m, ControlDone) else None  # noqa: E731
        async with app.run_test(size=(120, 36), notifications=True, message_hook=hook) as pilot:
            main = app.screen_stack[0]
            await settle(pilot, app)
            await wait_for(
                pilot,
                lambda: main.frame.heartbeat is not None and main.frame.heartbeat.fresh,
                timeout=90,
                what="heartbeat",
            )
            await wait_for(pilot, lambda: (main.frame.runs_24h or 0) > 0, timeout=90, what="runs in the summary")
            jobs = main.query_one(JobList)
            assert jobs.select_job("tick")
            await wait_for(
                pilot,
                lambda: main.history is not None and main.history.job_id == "tick" and len(main.history.runs) >= 2,
                timeout=90,
                what="tick runs in the history",
            )
            before = len(main.history.runs)
            await wait_for(
                pilot,
                lambda: main.history is not None and len(main.history.runs) > before,
                timeout=90,
                what="a new run appears",
            )
            # pause through the companion: confirmation, pending marker, result
            await pilot.press("p")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            assert "companion" in app.screen.body
            await pilot.press("y")
            await wait_for(pilot, lambda: "tick" not in main.pending, timeout=120, what="result")
            assert any("tick" in n.message and "applied" in n.message for n in app._notifications), [
                n.message for n in app._notifications
            ]
            await wait_for(
                pilot,
                lambda: any(r.job is not None and r.job.id == "tick" and r.group == "paused" for r in jobs.rows),
                timeout=90,
                what="tick paused",
            )

            async def act(job_id: str, key: str, word: str) -> None:
                assert jobs.select_job(job_id)
                await wait_for(pilot, lambda: main.selected is not None and main.selected.id == job_id, what="selected")
                await pilot.press(key)
                await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what=f"confirm {word}")
                await pilot.press("y")
                await wait_for(pilot, lambda: job_id not in main.pending, timeout=120, what=f"{word} result")
                done = [m for m in results if m.job_id == job_id]
                assert done and done[-1].error is None and done[-1].result.status == "applied", (
                    done[-1].result if done else results
                )

            await act("report_gen", "r", "run now")
            await wait_for(
                pilot,
                lambda: any(
                    r.outcome == "success"
                    for r in (main.history.runs if main.history and main.history.job_id == "report_gen" else ())
                ),
                timeout=90,
                what="the run recorded",
            )
            await act("newsletter", "d", "remove")
            await wait_for(pilot, lambda: jobs.rows.index_of_job("newsletter") is None, timeout=90, what="row removed")
    finally:
        demo.stop()


@pytest.mark.postgres
async def test_postgres_goes_away_and_comes_back(pg_url: str, clock) -> None:
    subprocess.run(
        [sys.executable, str(HERE / "make_console_store.py"), "--url", pg_url, "--now", FROZEN_NOW_ISO],
        check=True,
        capture_output=True,
        timeout=120,
    )
    url = sa.engine.make_url(pg_url)
    name = url.database
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    app = SchedtuiApp(Target(url=pg_url), clock=clock, refresh=0.5)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            main = app.screen_stack[0]
            await settle(pilot, app)
            assert len(main.frame.snapshot.jobs) == 12
            with admin.connect() as conn:
                conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
                    ),
                    {"n": name},
                )
            await wait_for(pilot, lambda: main.frame is not None and main.frame.stale, timeout=60, what="stale")
            assert sum(1 for r in main.query_one(JobList).rows if r.job is not None) == 12
            with admin.connect() as conn:
                conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            await wait_for(pilot, lambda: main.frame is not None and not main.frame.stale, timeout=90, what="recovered")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()


@pytest.mark.mysql
async def test_mariadb_console_goes_away_and_comes_back(mysql_url: str, clock) -> None:
    """The console on MariaDB, connected as a read-only user: its jobs; then the account
    locked and its sessions killed (the server refuses it): stale, rows kept; unlocked:
    recovered."""
    subprocess.run(
        [sys.executable, str(HERE / "make_console_store.py"), "--url", mysql_url, "--now", FROZEN_NOW_ISO],
        check=True,
        capture_output=True,
        timeout=120,
    )
    url = sa.engine.make_url(mysql_url)
    admin = sa.create_engine(mysql_url, isolation_level="AUTOCOMMIT")
    user = f"ro_{url.database[-8:]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'ro-Pw-3319'"))
        conn.execute(sa.text(f"GRANT SELECT ON `{url.database}`.* TO '{user}'@'127.0.0.1'"))
    console_url = url.set(username=user, password="ro-Pw-3319").render_as_string(hide_password=False)
    app = SchedtuiApp(Target(url=console_url), clock=clock, refresh=0.5)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            main = app.screen_stack[0]
            await settle(pilot, app)
            assert main.frame.snapshot.dialect == "mysql" and len(main.frame.snapshot.jobs) == 12
            with admin.connect() as conn:
                conn.execute(sa.text(f"ALTER USER '{user}'@'127.0.0.1' ACCOUNT LOCK"))
                for (sid,) in conn.execute(
                    sa.text("SELECT id FROM information_schema.processlist WHERE user = :u"), {"u": user}
                ).all():
                    conn.execute(sa.text(f"KILL {int(sid)}"))
            await wait_for(pilot, lambda: main.frame is not None and main.frame.stale, timeout=60, what="stale")
            assert sum(1 for r in main.query_one(JobList).rows if r.job is not None) == 12
            with admin.connect() as conn:
                conn.execute(sa.text(f"ALTER USER '{user}'@'127.0.0.1' ACCOUNT UNLOCK"))
            await wait_for(pilot, lambda: main.frame is not None and not main.frame.stale, timeout=90, what="recovered")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'"))
        admin.dispose()
