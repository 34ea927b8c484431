"""The named-stores file (``core.stores``) and how ``--url`` / ``--store`` choose the console's stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.model import Target
from schedtui.core.stores import (
    NamedStore,
    carries_secret,
    choose_stores,
    load_stores,
    stores_path,
    url_name,
)

GOOD = """\
# the team's schedulers
[stores.billing]
url = "postgresql://scheduler@db.internal/billing"
schema = "ops"

[stores.reports]
url = "sqlite:////srv/reports/jobs.sqlite"
table = "my_jobs"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stores.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path, **kw) -> SchedtuiError:
    with pytest.raises(SchedtuiError) as exc:
        load_stores(path, **kw)
    assert exc.value.kind is ErrorKind.CONFIG
    assert "\n" not in exc.value.message
    return exc.value


def test_valid_file(tmp_path: Path) -> None:
    stores = load_stores(_write(tmp_path, GOOD))
    assert stores == (
        NamedStore(
            "billing",
            Target("postgresql+psycopg://scheduler@db.internal/billing", "apscheduler_jobs", "ops"),
            discover=True,
        ),
        NamedStore("reports", Target("sqlite:////srv/reports/jobs.sqlite", "my_jobs", None), discover=False),
    )
    with pytest.raises(AttributeError):
        stores[0].name = "x"  # type: ignore[misc]  # frozen


def test_missing_file(tmp_path: Path) -> None:
    assert load_stores(tmp_path / "nope.toml") == ()
    assert "stores file not found" in _error(tmp_path / "nope.toml", required=True).message


def test_bad_toml_names_the_line(tmp_path: Path) -> None:
    msg = _error(_write(tmp_path, '[stores.a]\nurl = "sqlite:///x.sqlite\n')).message
    assert "is not valid TOML" in msg and "line 2" in msg


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://scheduler:s3cret@db/app",
        "postgresql://scheduler:@db/app",
        "postgresql://scheduler@db/app?password=s3cret",
        "postgresql://scheduler@db/app?sslmode=require&sslpassword=s3cret",
        "mysql://bob:p@ss@db/app",
        "postgresql://scheduler@db/app?Pass%77ord=s3cret",
    ],
)
def test_password_refused(tmp_path: Path, url: str) -> None:
    msg = _error(_write(tmp_path, f'[stores.a]\nurl = "{url}"\n')).message
    assert "passwords never go in the stores file" in msg and "PGPASSFILE" in msg
    assert "s3cret" not in msg and "p@ss" not in msg
    assert "'a'" in msg


def test_passfile_is_not_a_password() -> None:
    assert not carries_secret("postgresql://scheduler@db/app?passfile=/etc/schedtui/pgpass")
    assert not carries_secret("sqlite:////srv/app/jobs.sqlite")
    assert carries_secret("postgresql://u:x@db/app")
    assert carries_secret("postgresql://u@db/app?passfile=/etc/pgpass&password=s3cret")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[stores.a]\ntable = "t"\n', "has no url"),
        ('[stores.a]\nurl = "sqlite:///x"\npassword = "s3cret"\n', "passwords never go in this file"),
        ("[stores.a]\nurl = 3\n", "url must be a non-empty string"),
        ('[stores."a b"]\nurl = "sqlite:///x"\n', "not a plain name"),
        ("stores = 1\n", "'stores' must be a table"),
        ('[store.a]\nurl = "sqlite:///x"\n', "unknown top-level key 'store'"),
        ('[stores]\na = "sqlite:///x"\n', "must be a table with a url"),
        ('[stores.a]\nurl = "jobs.sqlite"\n', "not a database URL"),
    ],
)
def test_bad_entries(tmp_path: Path, text: str, words: str) -> None:
    msg = _error(_write(tmp_path, text)).message
    assert words in msg
    assert "s3cret" not in msg


def test_not_utf8_and_directory(tmp_path: Path) -> None:
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"\xff\xfe[stores]")
    assert "not UTF-8" in _error(bad).message
    assert "is a directory" in _error(tmp_path, required=True).message


def test_xdg_config_home() -> None:
    assert stores_path({"XDG_CONFIG_HOME": "/cfg", "HOME": "/home/u"}) == Path("/cfg/schedtui/stores.toml")
    assert stores_path({"HOME": "/home/u"}) == Path("/home/u/.config/schedtui/stores.toml")
    # a relative XDG_CONFIG_HOME is invalid (XDG spec): ignored
    assert stores_path({"XDG_CONFIG_HOME": "rel", "HOME": "/home/u"}) == Path("/home/u/.config/schedtui/stores.toml")


def test_url_names_are_unique_and_secret_free() -> None:
    assert url_name("sqlite:////srv/app/jobs.sqlite") == "jobs"
    assert url_name("sqlite:////srv/other/jobs.sqlite", ["jobs"]) == "other-jobs"
    assert url_name("sqlite:////srv/other/jobs.sqlite", ["jobs", "other-jobs"]) == "other-jobs-2"
    assert url_name("postgresql+psycopg://u:s3cret@db.internal:5432/app") == "db.internal-app"
    assert "s3cret" not in url_name("postgresql+psycopg://u:s3cret@/app")


NAMED = (
    NamedStore("billing", Target("postgresql+psycopg://scheduler@db/billing")),
    NamedStore("reports", Target("sqlite:////srv/reports/jobs.sqlite")),
)


def test_choose_store_names_and_urls() -> None:
    got = choose_stores(["sqlite:////a/one.sqlite", "billing"], ["reports"], NAMED, env={})
    assert [s.name for s in got] == ["one", "billing", "reports"]
    assert got[1] is NAMED[0]  # a --url value that is a store's name is that store


def test_choose_unknown_name() -> None:
    with pytest.raises(SchedtuiError) as exc:
        choose_stores([], ["nope"], NAMED, env={}, where="/cfg/stores.toml")
    assert exc.value.kind is ErrorKind.CONFIG
    assert exc.value.message == "no store named 'nope' in /cfg/stores.toml (known: billing, reports)"


def test_choose_defaults() -> None:
    # nothing given: the environment's URL (one store, as before) ...
    env = {"SCHEDTUI_URL": "sqlite:////x/app.sqlite"}
    (only,) = choose_stores([], [], NAMED, env=env)
    assert only.target.url == "sqlite:////x/app.sqlite"
    # ... else every store of the file ...
    assert choose_stores([], [], NAMED, env={}) == NAMED
    # ... else the usual error
    with pytest.raises(SchedtuiError, match="no database configured"):
        choose_stores([], [], (), env={})


def test_choose_same_store_twice_once() -> None:
    got = choose_stores(["sqlite:////a/one.sqlite", "sqlite:////a/one.sqlite"], [], (), env={})
    assert len(got) == 1


# -- the command line ------------------------------------------------------------------


def _console(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    """Run ``schedtui ARGS`` with the console replaced by a recorder."""
    import schedtui.tui.app as tui_app
    from schedtui.cli.app import main

    seen: dict = {}

    def fake_run_console(target, **kw) -> None:
        seen.update(target=target, **kw)

    monkeypatch.setattr(tui_app, "run_console", fake_run_console)
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    return int(exc.value.code or 0), seen


@pytest.fixture
def two_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    import sqlite3

    a, b = tmp_path / "alpha.sqlite", tmp_path / "beta.sqlite"
    for p in (a, b):
        con = sqlite3.connect(p)
        con.execute("CREATE TABLE apscheduler_jobs (id VARCHAR(191) PRIMARY KEY, next_run_time FLOAT, job_state BLOB)")
        con.close()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    for name in ("SCHEDTUI_URL", "DATABASE_URL", "SCHEDTUI_TABLE", "SCHEDTUI_STORES_FILE"):
        monkeypatch.delenv(name, raising=False)
    return a, b


def test_cli_url_repeated(monkeypatch, capsys, two_files) -> None:
    a, b = two_files
    code, seen = _console(monkeypatch, capsys, "--url", f"sqlite:///{a}", "-u", str(b))
    assert code == 0
    assert [s.name for s in seen["stores"]] == ["alpha", "beta"]
    assert seen["target"] == seen["stores"][0].target


def test_cli_one_url_is_todays_console(monkeypatch, capsys, two_files) -> None:
    a, _ = two_files
    code, seen = _console(monkeypatch, capsys, "--url", f"sqlite:///{a}")
    assert code == 0 and seen["stores"] == () and seen["target"].url == f"sqlite:///{a}"


def test_cli_stores_file(monkeypatch, capsys, two_files, tmp_path: Path) -> None:
    a, b = two_files
    cfg = tmp_path / "cfg" / "schedtui"
    cfg.mkdir(parents=True)
    (cfg / "stores.toml").write_text(f'[stores.a]\nurl = "sqlite:///{a}"\n[stores.b]\nurl = "sqlite:///{b}"\n')
    code, seen = _console(monkeypatch, capsys)  # nothing given: every store of the file
    assert code == 0 and [s.name for s in seen["stores"]] == ["a", "b"]
    code, seen = _console(monkeypatch, capsys, "--store", "b")  # one named store: a one-store console
    assert code == 0 and seen["stores"] == () and seen["target"].url == f"sqlite:///{b}"
    code, seen = _console(monkeypatch, capsys, "--url", "b", "--store", "a")
    assert code == 0 and [s.name for s in seen["stores"]] == ["b", "a"]
    code, _ = _console(monkeypatch, capsys, "--store", "c")
    err = capsys.readouterr().err
    assert code == 2 and err.strip().endswith("(known: a, b)") and "Traceback" not in err


def test_cli_refuses_a_password_in_the_file(monkeypatch, capsys, two_files, tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[stores.db]\nurl = "postgresql://scheduler:hunter22@db/app"\n')
    code, seen = _console(monkeypatch, capsys, "--stores-file", str(path))
    err = capsys.readouterr().err
    assert code == 2 and not seen
    assert "passwords never go in the stores file" in err and "hunter22" not in err
    assert len(err.strip().splitlines()) == 1


def test_cli_missing_named_file(monkeypatch, capsys, two_files, tmp_path: Path) -> None:
    code, _ = _console(monkeypatch, capsys, "--stores-file", str(tmp_path / "none.toml"))
    assert code == 2 and "stores file not found" in capsys.readouterr().err


def test_cli_broken_default_file_does_not_stop_a_url(monkeypatch, capsys, two_files, tmp_path: Path) -> None:
    a, _ = two_files
    cfg = tmp_path / "cfg" / "schedtui"
    cfg.mkdir(parents=True)
    (cfg / "stores.toml").write_text("[stores.a\n")
    code, seen = _console(monkeypatch, capsys, "--url", f"sqlite:///{a}")
    assert code == 0 and seen["target"].url == f"sqlite:///{a}"
    code, _ = _console(monkeypatch, capsys, "--store", "a")  # asked for: its error
    assert code == 2 and "is not valid TOML" in capsys.readouterr().err


def test_choose_table_applies_to_url_stores() -> None:
    got = choose_stores(["sqlite:////a/one.sqlite", "reports"], [], NAMED, table="t", schema=None, env={})
    assert got[0].target.table == "t" and not got[0].discover
    assert got[1] is NAMED[1]  # a named store keeps its own table
    (env_table,) = choose_stores(["sqlite:////a/one.sqlite"], [], (), env={"SCHEDTUI_TABLE": "jobs2"})
    assert env_table.target.table == "jobs2" and not env_table.discover
