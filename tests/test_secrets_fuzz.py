"""No credential of a URL ever reaches stdout, stderr or a file we write.

Hypothesis draws a secret and a URL shape (userinfo password, ``sslpassword``,
``sslkey``, parameters named like a token/secret/key/password, percent-encoded names and
values) and a way to pass it (``--url`` or ``SCHEDTUI_URL``); every command that shows
or records the target runs against a real store (PostgreSQL with trust authentication,
so any password connects, and SQLite), and neither its output nor the manifest may
contain the secret in any spelling.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from schedtui.core.urls import mask_text, mask_url, url_secrets
from test_backup_helpers import make_store

pytestmark = pytest.mark.slow


def _psycopg(url: str) -> str:
    """The admin URL with the psycopg 3 driver SQLAlchemy needs."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$'()*+,;=:/?#[]@ %&"
secrets = st.text(alphabet=_ALPHABET, min_size=6, max_size=24).map(lambda s: "Zq7" + s + "Xw9")

#: (name, how the secret is put in the URL): {s} raw, {q} percent-encoded.
SHAPES = {
    "userinfo": "{scheme}://postgres:{q}@{hostport}/{db}",
    "sslpassword": "{scheme}://postgres@{hostport}/{db}?sslmode=disable&sslpassword={q}",
    "sslkey": "{scheme}://postgres@{hostport}/{db}?sslmode=disable&sslkey=/keys/{q}.pem",
    "encoded-name": "{scheme}://postgres@{hostport}/{db}?%73slpassword={q}&sslmode=disable",
    "upper-name": "{scheme}://postgres@{hostport}/{db}?SSLPASSWORD={q}",
    "token": "{scheme}://postgres@{hostport}/{db}?api_token={q}",
    "client-secret": "{scheme}://postgres@{hostport}/{db}?client_secret={q}&sslmode=disable",
    "both": "{scheme}://postgres:{q}@{hostport}/{db}?passwd={q}",
    "sqlite-key": "sqlite:///{sqlite}?key={q}",
    "sqlite-token": "sqlite:///{sqlite}?Auth_Token={q}",
}

COMMANDS = (
    ("check",),
    ("check", "--json"),
    ("check", "--detailed"),
    ("jobs",),
    ("jobs", "--json"),
    ("history",),
    ("backup", "--json"),
    ("backups", "--json"),
    ("pause", "job-0", "--yes", "--json"),
    ("pause", "job-0", "--yes"),
    ("metrics",),
    ("metrics", "--format", "text", "--per-job", "all"),
    ("preflight", "--app-root", "."),
    ("preflight", "--app-root", ".", "--json"),
    ("diff",),
    ("diff", "--json"),
    ("restore", "--missing", "--dry-run"),
    ("restore", "--missing", "--yes", "--json"),
    ("restore", "--archived", "job-0", "--yes"),
)


def _spellings(secret: str) -> set[str]:
    out = {secret, quote(secret, safe=""), quote_plus(secret)}
    return {s for s in out if len(s) >= 6}


def test_mask_url_hides_every_shape() -> None:
    secret = "Zq7 p@ss/w?rd&#%Xw9"
    for shape in SHAPES.values():
        url = shape.format(scheme="postgresql", q=quote(secret, safe=""), hostport="h:1", db="d", sqlite="/x.db")
        masked = mask_url(url)
        assert not any(s in masked for s in _spellings(secret)), (shape, masked)
        assert any(sp in found for found in url_secrets(url) for sp in _spellings(secret)), shape


def test_mask_text_hides_conninfo_echoed_by_a_driver() -> None:
    url = "postgresql://u@h/d?sslpassword=Zq7secretXw9&sslkey=/k/Zq7keyXw9.pem"
    msg = "invalid dsn: host=h sslpassword='Zq7secretXw9' could not load private key file \"/k/Zq7keyXw9.pem\""
    out = mask_text(msg, url)
    assert "Zq7" not in out and "host=h" in out


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, pg_admin_url: str) -> dict[str, str]:
    import uuid

    import sqlalchemy as sa

    root = tmp_path_factory.mktemp("secrets")
    sqlite = root / "jobs.sqlite"
    make_store(f"sqlite:///{sqlite}", 3)
    name = f"schedtui_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_psycopg(pg_admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = sa.engine.make_url(_psycopg(pg_admin_url))
    make_store(base.set(database=name).render_as_string(hide_password=False), 3)
    yield {"sqlite": str(sqlite), "hostport": f"{base.host}:{base.port}", "db": name, "root": str(root)}
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_runs = itertools.count()


def _run(argv: list[str], env: dict[str, str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """One command in this process (as ``python -m schedtui`` runs it), its output
    captured at the file-descriptor level (children included)."""
    from schedtui.cli.app import main

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sys.stdout.flush()
        sys.stderr.flush()
    out = capfd.readouterr()
    return code, out.out + out.err


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.sampled_from(sorted(SHAPES)), secret=secrets, via=st.sampled_from(["arg", "env"]))
@example(shape="userinfo", secret="Zq7hunter2Xw9", via="arg")
@example(shape="sslpassword", secret="Zq7sslpassXw9", via="arg")
@example(shape="sslkey", secret="Zq7keypathXw9", via="env")
@example(shape="encoded-name", secret="Zq7 enc&odedXw9", via="arg")
@example(shape="upper-name", secret="Zq7upperXw9", via="env")
@example(shape="token", secret="Zq7tokenXw9", via="arg")
@example(shape="client-secret", secret="Zq7clientXw9", via="env")
@example(shape="both", secret="Zq7both@/?Xw9", via="env")
@example(shape="sqlite-key", secret="Zq7sqlkeyXw9", via="arg")
@example(shape="sqlite-token", secret="Zq7sqltokXw9", via="env")
def test_no_command_shows_or_records_a_secret(
    stores: dict[str, str], capfd: pytest.CaptureFixture[str], shape: str, secret: str, via: str
) -> None:
    url = SHAPES[shape].format(
        scheme="postgresql",
        q=quote(secret, safe=""),
        hostport=stores["hostport"],
        db=stores["db"],
        sqlite=stores["sqlite"],
    )
    folder = Path(stores["root"]) / f"bk{next(_runs)}"
    env = {k: v for k, v in os.environ.items() if k not in ("SCHEDTUI_URL", "DATABASE_URL")}
    env["SCHEDTUI_BACKUP_DIR"] = str(folder)
    url_args: list[str] = ["--url", url]
    if via == "env":
        env["SCHEDTUI_URL"] = url
        url_args = []
    spellings = _spellings(secret)
    for command in COMMANDS:
        _code, both = _run([*command, *url_args], env, capfd)
        leaked = [s for s in spellings if s in both]
        assert not leaked, f"{command} printed the secret {leaked}:\n{both}"
        assert "Traceback" not in both, both
    for path in folder.glob("*") if folder.is_dir() else ():
        text = path.read_bytes().decode("utf-8", "replace") if path.suffix != ".sqlite" else ""
        assert not [s for s in spellings if s in text], f"{path.name} holds the secret"
        if path.name.endswith(".jsonl"):
            assert '"source"' in text


def test_cli_subprocess_masks_sslpassword_from_the_environment(stores: dict[str, str]) -> None:
    """The same through a real ``python -m schedtui`` (stdout, stderr, manifest)."""
    secret = "Zq7subprocXw9"
    url = f"postgresql://postgres@{stores['hostport']}/{stores['db']}?sslmode=disable&sslpassword={secret}"
    folder = Path(stores["root"]) / "bk-sub"
    env = {**os.environ, "SCHEDTUI_URL": url, "SCHEDTUI_BACKUP_DIR": str(folder)}
    for command in (("check", "--json"), ("backup",), ("jobs",)):
        out = subprocess.run(
            [sys.executable, "-m", "schedtui", *command], capture_output=True, text=True, env=env, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert secret not in out.stdout + out.stderr
    assert secret not in (folder / "schedtui-backups.jsonl").read_text()
