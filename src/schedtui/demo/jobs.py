"""Job functions of ``schedtui demo`` (and of the companion's tests).

They run in the demo's scheduler process. Module-level functions, so the SQLAlchemy
jobstore can store them as ``schedtui.demo.jobs:<name>``.
"""

from __future__ import annotations

import logging
import random
import time

logger = logging.getLogger("schedtui.demo")


def backup_database_job() -> str:
    """The seed's daily 02:00 UTC backup (simulated: the demo does not copy files)."""
    time.sleep(0.2)
    logger.info("demo: database backup done")
    return "backup done"


def cleanup_temp() -> str:
    """The seed's 6-hourly clean-up of temporary files (simulated)."""
    time.sleep(0.05)
    return "cleaned"


def generate_report() -> str:
    """The seed's weekly Monday report (simulated)."""
    time.sleep(0.1)
    return "report ready"


def tick() -> str:
    """A quick job every few seconds."""
    return "tick"


def sync_inventory() -> int:
    """A job every few seconds that does a little work."""
    time.sleep(random.uniform(0.05, 0.4))
    return random.randint(0, 100)


def flaky(fail_ratio: float = 0.35) -> str:
    """Fails now and then."""
    time.sleep(random.uniform(0.01, 0.2))
    if random.random() < fail_ratio:
        raise ConnectionError("upstream API timed out (demo failure)")
    return "ok"


def slow(seconds: float = 4.0) -> str:
    """Takes a few seconds."""
    time.sleep(seconds)
    return f"slept {seconds}s"


# -- deterministic helpers used by the tests ---------------------------------------------


def succeed(value: object = None) -> object:
    return value


def always_fail(message: str = "always fails") -> None:
    raise RuntimeError(message)


def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds
