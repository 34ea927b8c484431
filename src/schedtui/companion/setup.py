"""Setting up a persistent scheduler (the seed's ``create_scheduler``).

``create_scheduler(url)`` returns an unstarted APScheduler 3.x scheduler whose default
jobstore is ``SQLAlchemyJobStore`` on that database, or the memory store when no database
is given (or SQLAlchemy is missing), and logs which one it chose.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Literal

logger = logging.getLogger("schedtui.companion")

DB_LOG_LINE = "📊 Scheduler using database for job persistence"
MEMORY_LOG_LINE = "🕒 Scheduler running in memory mode"

#: Job defaults that keep restarts safe:
#: - ``coalesce``: after downtime a job runs once, not once per missed fire time;
#: - ``misfire_grace_time`` 300 s: a job that is a few minutes late (slow start-up, a
#:   busy pool, a deploy) still runs, instead of APScheduler's default of 1 second;
#: - ``max_instances`` 1: a slow run never overlaps the next one.
SAFE_JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "misfire_grace_time": 300, "max_instances": 1}


def database_url(url: str) -> str:
    """Accept ``postgres://``/``postgresql://`` (psycopg 3), ``mysql://``/``mariadb://``
    (PyMySQL) and bare SQLite paths."""
    url = url.strip()
    if "://" not in url:
        return "sqlite:///" + os.path.abspath(url)
    scheme, rest = url.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        scheme = "postgresql+psycopg"
    elif scheme in ("mysql", "mariadb"):
        scheme += "+pymysql"
    return f"{scheme}://{rest}"


def make_engine(url: str) -> Any:
    """An engine suited to a scheduler: waits on SQLite locks, pings pooled connections."""
    import sqlalchemy as sa

    url = database_url(url)
    if url.startswith("sqlite"):
        return sa.create_engine(url, connect_args={"timeout": 15})
    if url.startswith(("mysql", "mariadb")):
        # MySQL closes idle connections after wait_timeout (8 h by default): recycle before
        return sa.create_engine(url, pool_pre_ping=True, pool_recycle=3600)
    return sa.create_engine(url, pool_pre_ping=True)


def create_scheduler(
    url_or_engine: Any = None,
    *,
    kind: Literal["background", "asyncio"] = "background",
    tablename: str = "apscheduler_jobs",
    schema: str | None = None,
    job_defaults: dict[str, Any] | None = None,
    timezone: Any = "UTC",
    guard: bool = True,
    **scheduler_options: Any,
) -> Any:
    """Create (not start) a scheduler persisting its jobs in ``url_or_engine``.

    ``url_or_engine``: a SQLAlchemy URL, a SQLite path, an ``Engine``, or None for the
    memory store. ``kind``: ``"background"`` (``BackgroundScheduler``) or ``"asyncio"``
    (``AsyncIOScheduler``; start it inside a running event loop). ``job_defaults`` are
    merged over ``SAFE_JOB_DEFAULTS``. ``guard``: install the deletion guard
    (``schedtui.companion.guard``): rows APScheduler cannot restore are moved to
    ``schedtui_archived_jobs`` instead of being destroyed.
    """
    if kind == "background":
        from apscheduler.schedulers.background import BackgroundScheduler as cls
    elif kind == "asyncio":
        from apscheduler.schedulers.asyncio import AsyncIOScheduler as cls
    else:
        raise ValueError(f"kind must be 'background' or 'asyncio', not {kind!r}")
    defaults = {**SAFE_JOB_DEFAULTS, **(job_defaults or {})}
    jobstores: dict[str, Any] = {}
    if url_or_engine is not None:
        try:
            from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        except ImportError:  # SQLAlchemy not installed: the seed's fallback
            SQLAlchemyJobStore = None
        if SQLAlchemyJobStore is not None:
            engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
            jobstores["default"] = SQLAlchemyJobStore(engine=engine, tablename=tablename, tableschema=schema)
    scheduler = cls(jobstores=jobstores, job_defaults=defaults, timezone=timezone, **scheduler_options)
    if guard and jobstores:
        from schedtui.companion.guard import install_guard

        install_guard(scheduler)
    logger.info(DB_LOG_LINE if jobstores else MEMORY_LOG_LINE)
    return scheduler
