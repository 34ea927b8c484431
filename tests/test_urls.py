"""Configuration resolution and password masking."""

from __future__ import annotations

import pytest

from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.urls import mask_text, mask_url, resolve_target


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://bob:s3cret@db:5432/app", "postgresql://bob:***@db:5432/app"),
        ("postgresql+psycopg://bob:p%40ss@db/app", "postgresql+psycopg://bob:***@db/app"),
        ("postgresql://bob@db/app", "postgresql://bob@db/app"),
        ("postgresql://db/app?user=bob&password=hunter22", "postgresql://db/app?user=bob&password=***"),
        ("sqlite:////tmp/jobs.sqlite", "sqlite:////tmp/jobs.sqlite"),
        # SQLAlchemy takes the user up to the first ":" (an "@" in it included, as Azure's
        # user@server names are often written) and the password up to the next "@"
        # (spaces and tabs included): mask what it sends, not only URL-clean spellings.
        ("postgresql://bob@azure-db:s3cret@db/app", "postgresql://bob@azure-db:***@db/app"),
        ("postgresql://bob:pa ss word@db/app", "postgresql://bob:***@db/app"),
        ("postgresql://bob:pa\tss@db/app", "postgresql://bob:***@db/app"),
        ("postgresql://b ob:s3cret@db/app", "postgresql://b ob:***@db/app"),
        ("postgresql://bob?x:s3cret@db/app", "postgresql://bob?x:***@db/app"),
        ("postgresql://bob:p@ss@db/app", "postgresql://bob:***@db/app"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_mask_text_hides_password_quoted_by_driver() -> None:
    url = "postgresql://bob:hunter22@db/app"
    msg = 'connection failed: password "hunter22" rejected for postgresql://bob:hunter22@db/app'
    out = mask_text(msg, url)
    assert "hunter22" not in out


def test_mask_text_hides_password_sqlalchemy_parses() -> None:
    """A password with a space is still the password SQLAlchemy sends: hidden wherever quoted."""
    url = "postgresql+psycopg://bob@azure-db:pa ss word@db/app"
    msg = f'connection to {url} failed: password "pa ss word" rejected'
    assert "pa ss word" not in mask_text(msg, url)


def test_resolution_order() -> None:
    env = {"SCHEDTUI_URL": "sqlite:////a.db", "DATABASE_URL": "sqlite:////b.db", "SCHEDTUI_TABLE": "jobs"}
    assert resolve_target(None, env=env).url == "sqlite:////a.db"
    assert resolve_target("sqlite:////c.db", env=env).url == "sqlite:////c.db"
    assert resolve_target(None, env={"DATABASE_URL": "sqlite:////b.db"}).url == "sqlite:////b.db"
    t = resolve_target(None, env=env)
    assert t.table == "jobs" and t.schema is None
    assert resolve_target(None, "t2", "s", env=env).schema == "s"


def test_postgres_spellings_use_psycopg3() -> None:
    assert resolve_target("postgres://u@h/db", env={}).url == "postgresql+psycopg://u@h/db"
    assert resolve_target("postgresql://u@h/db", env={}).url == "postgresql+psycopg://u@h/db"
    assert resolve_target("postgresql+psycopg://u@h/db", env={}).url == "postgresql+psycopg://u@h/db"


def test_nothing_configured_names_the_options() -> None:
    with pytest.raises(SchedtuiError) as err:
        resolve_target(None, env={})
    assert err.value.kind is ErrorKind.CONFIG
    for word in ("--url", "SCHEDTUI_URL", "DATABASE_URL", "schedtui demo"):
        assert word in err.value.message
