"""The companion's log lines never carry a credential of its database."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest


def test_companion_logs_are_masked(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from schedtui.companion import attach

    secret = "Zq7logsecretXw9"
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}?key={secret}"
    with pytest.warns(Warning):  # SQLAlchemy: pysqlite ignores the unknown parameter
        sched = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=url)}, timezone="UTC")
        comp = attach(sched, heartbeat_interval=60)
    try:
        caplog.set_level(logging.DEBUG)
        log = logging.getLogger("schedtui.companion")
        log.warning("schedtui: cannot write heartbeat (%s: %s)", "OperationalError", f"failed on {url}")
        log.warning("driver said: sslpassword='%s' host=db", secret)
        try:
            raise RuntimeError(f"connection to {url} failed")
        except RuntimeError:
            logging.getLogger("schedtui.companion.commands").exception("schedtui: command failed")
        assert len(caplog.records) == 3
        assert secret not in caplog.text
        assert "key=***" in caplog.text and "RuntimeError" in caplog.text
    finally:
        comp.close()
