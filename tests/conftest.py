"""Shared fixtures: clocks and real PostgreSQL and MariaDB databases.

PostgreSQL tests need ``SCHEDTUI_TEST_PG_URL`` (an admin URL such as
``postgresql://postgres@127.0.0.1:5432/postgres``); ``.ci/run`` starts a server and sets
it. Outside CI they skip without it; in CI (``CI=true``) a missing server fails the run.
MariaDB tests likewise need ``SCHEDTUI_TEST_MYSQL_URL`` (``.ci/mariadb-start``).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schedtui.core.clock import FixedClock

ROOT = Path(__file__).resolve().parent.parent
# No repeated-probe cache in ~/.cache from test runs (tests/test_decode_cache.py turns it on).
os.environ.setdefault("SCHEDTUI_DECODE_CACHE", "0")
sys.path.insert(0, str(ROOT / "tests"))

#: The moment every deterministic test and snapshot is taken at.
FROZEN_NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(FROZEN_NOW)


def _admin_url() -> str | None:
    return os.environ.get("SCHEDTUI_TEST_PG_URL") or None


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = _admin_url()
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but SCHEDTUI_TEST_PG_URL is not set: PostgreSQL tests cannot be skipped in CI")
        pytest.skip("no PostgreSQL server configured (set SCHEDTUI_TEST_PG_URL)")
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(_sa_url(url))
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but PostgreSQL at SCHEDTUI_TEST_PG_URL is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    return url


def _sa_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards.

    Yields a ``postgresql+psycopg://`` URL.
    """
    import sqlalchemy as sa

    name = f"schedtui_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_sa_url(pg_admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = sa.engine.make_url(_sa_url(pg_admin_url))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# ---- MariaDB / MySQL ------------------------------------------------------------------


@pytest.fixture(scope="session")
def mysql_admin_url() -> str:
    """``SCHEDTUI_TEST_MYSQL_URL`` (``.ci/mariadb-start`` prints it); skip without it
    outside CI, fail in CI."""
    url = os.environ.get("SCHEDTUI_TEST_MYSQL_URL") or None
    in_ci = os.environ.get("CI", "").lower() == "true"
    if not url:
        if in_ci:
            pytest.fail("CI=true but SCHEDTUI_TEST_MYSQL_URL is not set: MariaDB tests cannot be skipped in CI")
        pytest.skip("no MariaDB/MySQL server configured (set SCHEDTUI_TEST_MYSQL_URL, see .ci/mariadb-start)")
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(_mysql_sa_url(url))
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:
        if in_ci:
            pytest.fail(f"CI=true but MariaDB at SCHEDTUI_TEST_MYSQL_URL is unreachable: {exc}")
        pytest.skip(f"MariaDB unreachable: {exc}")
    return url


def _mysql_sa_url(url: str) -> str:
    for scheme in ("mysql://", "mariadb://"):
        if url.startswith(scheme):
            return scheme[:-3] + "+pymysql://" + url[len(scheme) :]
    return url


@pytest.fixture
def mysql_url(mysql_admin_url: str) -> Iterator[str]:
    """A fresh, empty MariaDB/MySQL database for one test; dropped afterwards.

    Yields a ``mysql+pymysql://`` URL (utf8mb4).
    """
    import sqlalchemy as sa

    name = f"schedtui_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_mysql_sa_url(mysql_admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    base = sa.engine.make_url(_mysql_sa_url(mysql_admin_url))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            # sessions left on the database (a killed scheduler's pool) would block DROP's metadata lock
            ids = conn.execute(
                sa.text("SELECT id FROM information_schema.processlist WHERE db = :d AND id <> connection_id()"),
                {"d": name},
            ).scalars()
            for pid in list(ids):
                try:
                    conn.execute(sa.text(f"KILL {int(pid)}"))
                except sa.exc.DBAPIError:
                    pass
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(
    params=[pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("mysql", marks=pytest.mark.mysql)]
)
def server_url(request: pytest.FixtureRequest) -> str:
    """A fresh database on each real server (PostgreSQL, then MariaDB), for the tests
    that are the same on both."""
    name = "pg_url" if request.param == "postgres" else "mysql_url"
    return str(request.getfixturevalue(name))
