"""``core.store.place``: a target resolved once into the names every module uses."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target
from schedtui.core.store.place import Family, Place, place_of


def test_a_plain_sqlite_url_is_a_file_with_a_quoted_table(tmp_path: Path) -> None:
    place = place_of(Target(url=f"sqlite:///{tmp_path}/jobs.sqlite", table='we"ird', schema="main"))
    assert place == Place(Family.SQLITE_FILE, "sqlite", tmp_path / "jobs.sqlite", '"main"."we""ird"', place.safe_url)
    assert place.is_sqlite and place.md5_sql is None and place.sha256_sql is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        place.table_sql = "x"  # type: ignore[misc]


def test_other_sqlite_urls_go_through_sqlalchemy_and_name_the_same_file(tmp_path: Path) -> None:
    place = place_of(Target(url=f"sqlite:///{tmp_path}/jobs%2Ddb.sqlite"))
    assert place.family is Family.SQLITE and place.is_sqlite
    assert place.table_sql == '"apscheduler_jobs"'
    for url in ("sqlite://", "sqlite:///:memory:"):
        assert place_of(Target(url=url)).sqlite_path is None


@pytest.mark.parametrize(
    ("url", "family", "dialect", "table"),
    [
        ("postgresql+psycopg://u:s3cret-pw@h/d", Family.POSTGRESQL, "postgresql", '"Sched"."Jobs"'),
        ("mysql+pymysql://u:s3cret-pw@h/d", Family.MYSQL, "mysql", "`Sched`.`Jobs`"),
        ("mariadb+pymysql://u:s3cret-pw@h/d", Family.MYSQL, "mariadb", "`Sched`.`Jobs`"),
    ],
)
def test_servers_are_quoted_as_their_dialect_quotes(url: str, family: Family, dialect: str, table: str) -> None:
    place = place_of(Target(url=url, table="Jobs", schema="Sched"))
    assert (place.family, place.dialect, place.table_sql, place.sqlite_path) == (family, dialect, table, None)
    assert "s3cret-pw" not in place.safe_url and "***" in place.safe_url
    assert place.md5_sql == "md5(job_state)" and place.sha256_sql is not None
    assert place_of(Target(url=url)).table_sql == "apscheduler_jobs"  # as SQLAlchemy quotes it: not at all


@pytest.mark.parametrize("url", ["not a database url", "postgresql+psycopg://u:s3cret-pw@h:notaport/d"])
def test_a_url_that_is_not_one_is_a_config_error(url: str) -> None:
    with pytest.raises(SchedtuiError) as err:
        place_of(Target(url=url))
    assert err.value.kind is ErrorKind.CONFIG and err.value.message.startswith("not a valid database URL")
    assert "s3cret-pw" not in err.value.message


def test_an_unknown_scheme_resolves_and_the_engine_says_why() -> None:
    from schedtui.core.store.db import read_engine

    target = Target(url="nosuchdb://u@h/d")
    assert place_of(target).family is Family.OTHER
    with pytest.raises(SchedtuiError) as err:
        read_engine(target)
    assert err.value.kind is ErrorKind.CONFIG and "unsupported database URL scheme" in err.value.message


def test_a_plain_sqlite_url_is_resolved_without_sqlalchemy(tmp_path: Path) -> None:
    code = (
        "import sys; from schedtui.core.model import Target; from schedtui.core.store.place import place_of; "
        f"p = place_of(Target(url='sqlite:///{tmp_path}/j.sqlite')); "
        "assert p.sqlite_path is not None; print('sqlalchemy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
