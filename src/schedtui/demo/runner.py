"""``schedtui demo``: a live scheduler on an embedded SQLite database, and the console on it.

The demo process is the scheduler's process: a real ``BackgroundScheduler`` with the
companion attached and the sample jobs of ``schedtui.demo.jobs``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from schedtui.companion import Companion, attach, create_scheduler, ensure_job
from schedtui.core.model import Target

DEFAULT_DIR = ".schedtui-demo"
DB_NAME = "demo.sqlite"
J = "schedtui.demo.jobs"


@dataclass
class Demo:
    folder: Path
    url: str
    scheduler: Any
    companion: Companion
    log_handler: logging.Handler | None = None

    @property
    def target(self) -> Target:
        return Target(url=self.url)

    def stop(self) -> None:
        """Shut the scheduler down cleanly (waits for running jobs)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.companion.close()
        if self.log_handler is not None:
            logging.getLogger().removeHandler(self.log_handler)
            self.log_handler.close()


def add_demo_jobs(scheduler: Any) -> dict[str, str]:
    """The seed's three jobs plus lively ones; kept as stored when already there."""
    done: dict[str, str] = {}

    def ensure(func: str, trigger: str, **kw: Any) -> None:
        done[kw["id"]] = ensure_job(scheduler, func, trigger, force=False, **kw)

    ensure(
        f"{J}:backup_database_job",
        "cron",
        hour=2,
        minute=0,
        timezone="UTC",
        id="database_backup",
        name="Daily Database Backup",
        max_instances=1,
        coalesce=True,
    )
    ensure(f"{J}:cleanup_temp", "interval", hours=6, id="cleanup_temp", name="Cleanup temporary files")
    ensure(
        f"{J}:generate_report",
        "cron",
        day_of_week="mon",
        hour=8,
        minute=0,
        timezone="UTC",
        id="report_gen",
        name="Weekly Report",
    )
    ensure(f"{J}:tick", "interval", seconds=3, id="tick", name="Tick every 3 seconds")
    ensure(f"{J}:sync_inventory", "interval", seconds=5, id="sync_inventory", name="Sync inventory")
    ensure(f"{J}:flaky", "interval", seconds=4, id="flaky_api", name="Call a flaky API")
    ensure(f"{J}:slow", "interval", seconds=10, id="slow_export", name="Slow export (4 s)", args=[4.0])
    ensure(f"{J}:generate_report", "interval", hours=1, id="newsletter", name="Newsletter (paused)", next_run_time=None)
    return done


def start_demo(folder: str | Path = DEFAULT_DIR, *, heartbeat_interval: float = 2.0) -> Demo:
    """Create the folder and database, start the scheduler with the companion."""
    path = Path(folder).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    log = logging.getLogger()
    handler: logging.Handler | None = None
    if not any(getattr(h, "_schedtui_demo", False) for h in log.handlers):
        handler = logging.FileHandler(path / "demo.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._schedtui_demo = True  # type: ignore[attr-defined]
        log.addHandler(handler)
        if log.level > logging.INFO or log.level == logging.NOTSET:
            log.setLevel(logging.INFO)
    url = f"sqlite:///{path / DB_NAME}"
    scheduler = create_scheduler(url, kind="background")
    companion = attach(scheduler, name="schedtui-demo", heartbeat_interval=heartbeat_interval)
    add_demo_jobs(scheduler)
    scheduler.start()
    return Demo(path, url, scheduler, companion, handler)


def _print_tree(target: Target, out: TextIO, clear: bool) -> None:
    text = check_tree(target)
    if clear:
        out.write("\x1b[2J\x1b[H")
    out.write(f"schedtui demo - {datetime.now(UTC):%H:%M:%S} UTC (Ctrl-C stops the scheduler)\n\n")
    out.write(text.rstrip() + "\n")
    out.flush()


def check_tree(target: Target) -> str:
    """The ``check --detailed`` tree of the demo's database."""
    from schedtui.cli.common import use_color, use_unicode
    from schedtui.cli.render import render_report
    from schedtui.core.checker import run_check
    from schedtui.core.errors import SchedtuiError

    try:
        report = run_check(target)
    except SchedtuiError as exc:  # e.g. the database is briefly locked by the scheduler
        return f"check: {exc.message}"
    return render_report(report, detailed=True, unicode=use_unicode(), color=use_color())


def run_demo(
    folder: str | Path = DEFAULT_DIR,
    *,
    headless: bool = False,
    seconds: float = 10.0,
    refresh: float = 3.0,
    out: TextIO | None = None,
    console: Callable[[Target], None] | None = None,
    use_console: bool = True,
) -> int:
    """Run the demo. Headless: ``seconds`` then exit 0. Otherwise the console (or, until it
    exists, the live check tree) until the user quits or presses Ctrl-C."""
    out = out or sys.stdout
    demo = start_demo(folder)
    out.write(
        f"schedtui demo: scheduler running on {demo.folder / DB_NAME}\n"
        f"  look at it from another terminal: schedtui --url {demo.url}\n"
    )
    out.flush()
    stop = threading.Event()
    try:
        if headless:
            deadline = time.monotonic() + seconds
            while not stop.wait(max(0.0, min(refresh, deadline - time.monotonic()))):
                if time.monotonic() >= deadline:
                    break
            _print_tree(demo.target, out, clear=False)
            return 0
        if console is None and use_console:
            try:
                from schedtui.tui.app import run_console

                console = lambda target: run_console(target, read_only=False, refresh=2.0)  # noqa: E731
            except ImportError:
                console = None
        if console is not None:
            console(demo.target)
            return 0
        interactive = out.isatty() if hasattr(out, "isatty") else False
        while True:
            _print_tree(demo.target, out, clear=interactive)
            if stop.wait(refresh):
                break
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        out.write("schedtui demo: stopping the scheduler (waiting for running jobs)…\n")
        out.flush()
        demo.stop()
        out.write(f"schedtui demo: stopped. The database stays in {demo.folder}\n")
        out.flush()


def main() -> None:  # pragma: no cover - convenience: python -m schedtui.demo.runner
    sys.exit(run_demo(os.environ.get("SCHEDTUI_DEMO_DIR", DEFAULT_DIR)))
