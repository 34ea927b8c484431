"""The start-up of ``check`` and ``jobs``: typer's pydantic coercion is skipped only where
it changes nothing (``cli.coercion``), and the decode worker starts before typer loads
(``cli.app``). Nothing here is timed: what is checked is what gets imported and that
every answer (output, message, exit code) is typer's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from fixtures.factory import DEFAULT_NOW, sqlite_store, sqlite_url
from schedtui.cli import app as app_module
from schedtui.cli import cmd_check, coercion
from schedtui.core.clock import FixedClock

#: The moment the tests judge at (``conftest.FROZEN_NOW``, not imported from there: a module
#: named ``conftest`` can be the tui one when both folders run in one session).
FROZEN_NOW = datetime.fromisoformat(DEFAULT_NOW)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        app_module.main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


ARGVS = [
    ["check", "--detailed"],
    ["check", "--json", "--upcoming", "5", "--grace-floor", "30"],
    ["check", "--perfdata", "--grace-floor=0", "--backup-max-age", "2"],
    ["check", "--upcoming", "-1"],
    ["check", "--upcoming", "x"],
    ["check", "--grace-floor", "-3"],
    ["check", "--grace-floor", "nan"],
    ["check", "--heartbeat-max-age", "0.5"],
    ["check", "--decode-budget", "0"],
    ["check", "--table", "apscheduler_jobs", "--table", "apscheduler_jobs"],
    ["jobs", "--json", "--grace-floor", "1e2"],
    ["jobs", "--table", "nope"],
    ["--refresh", "0.1", "jobs"],
]


@pytest.mark.parametrize("argv", ARGVS, ids=[" ".join(a) for a in ARGVS])
def test_quick_coercion_answers_what_typer_answers(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = sqlite_store(tmp_path, "seed")
    monkeypatch.setattr(cmd_check, "CLOCK", FixedClock(FROZEN_NOW))
    monkeypatch.delenv("SCHEDTUI_DECODE_BUDGET", raising=False)
    full = [*argv, "--url", sqlite_url(path)]
    quick = _run(full, capsys)
    monkeypatch.delenv("SCHEDTUI_DECODE_BUDGET", raising=False)
    monkeypatch.setattr(coercion, "install", lambda params: None)  # typer's own coercion
    typer_own = _run(full, capsys)

    def steady(answer: tuple[int, str, str]) -> tuple[int, str, str]:
        # the read's own duration is the one thing two runs may differ in
        import re

        code, out, err = answer
        out = re.sub(r"\d+(\.\d+)? ?ms", "N ms", out)
        out = re.sub(r'"(read_ms|latency_ms)": [0-9.]+', r'"\1": N', out)
        return code, out, err

    assert steady(quick) == steady(typer_own)


def test_quick_coercion_takes_only_unchanged_values() -> None:
    from typer.main import get_command

    from schedtui.cli.root import app

    group = get_command(app)
    check = group.commands["check"]  # type: ignore[attr-defined]
    params = {p.name: p for p in check.params}
    q = coercion._quick
    assert q("sqlite:///x", params["url"], False) == "sqlite:///x"
    assert q(3, params["upcoming"], False) == 3
    assert q(60.0, params["grace_floor"], False) == 60.0
    assert q("5", params["upcoming"], False) == 5
    assert q("0.5", params["grace_floor"], False) == 0.5
    assert q(("a", "b"), params["tables"], True) == ["a", "b"]
    # what typer parses or judges goes to typer
    odd = ("-1", "+5", " 5", "5 ", "1e2", "05", "1_0", "0x10", "nan", "inf", "", "٣", "5.")
    for value in (*odd, -1, True):
        assert q(value, params["upcoming"], False) is coercion._NO, value
    for value in (*odd, "-0.5", "1.5e3", ".5", float("nan"), float("inf"), 5, -1.0):
        assert q(value, params["grace_floor"], False) is coercion._NO, value
    assert q(("a", 1), params["tables"], True) is coercion._NO
    # and what it takes is what typer's own coercion gives
    from typer._coercion import build_runtime_param

    ctx = check.make_context("check", [], resilient_parsing=True)
    for name, values in (
        ("upcoming", ("0", "5", "120", "999999999999999999")),
        ("grace_floor", ("0", "30", "0.5", "120.25", "0.1", "3.14159265358979323", "99999999999999999.9")),
    ):
        param = params[name]
        real = build_runtime_param(param.type_descriptor)
        for value in values:
            quick = q(value, param, False)
            typed = real.coerce(value, param=param, ctx=ctx)
            assert quick is not coercion._NO and (type(quick), quick) == (type(typed), typed), (name, value)


def test_check_imports_neither_pydantic_nor_typers_adapters(tmp_path: Path) -> None:
    """Nor SQLAlchemy, on a plain SQLite file without the companion's tables: the whole
    command (read, judge, the light components of ``core.quickcheck``, the report)."""
    path, _ = sqlite_store(tmp_path, "seed")
    code = (
        "import sys\n"
        "from schedtui.cli.app import main\n"
        "try:\n"
        f"    main(['check', '--detailed', '--upcoming', '2', '--url', {sqlite_url(path)!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('pydantic', 'typer._adapters', 'sqlalchemy') if m in sys.modules), file=sys.stderr)\n"
    )
    env = {**os.environ, "SCHEDTUI_DECODE_CACHE": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stderr.strip().splitlines()[-1] == "[]", out.stderr
    assert "scheduler" in out.stdout  # it ran the check


def test_the_entry_point_is_light_and_finds_the_command() -> None:
    code = "import sys, schedtui.cli.app\nprint('typer' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
    cmd = app_module._command
    assert cmd(["check", "--detailed"]) == "check"
    assert cmd(["--url", "check", "jobs"]) == "jobs"  # a root option's value is no command
    assert cmd(["--read-only"]) is None
    assert cmd([]) is None
    from schedtui.cli.root import app

    assert app_module.app is app
    with pytest.raises(AttributeError):
        _ = app_module.nothing  # type: ignore[attr-defined]


def test_version_alone_prints_what_typer_prints(capsys: pytest.CaptureFixture[str]) -> None:
    from schedtui.cli import root

    fast = _run(["--version"], capsys)
    with pytest.raises(SystemExit) as info:
        root.run(["--version"], is_check=False)
    out, err = capsys.readouterr()
    assert fast == (int(info.value.code or 0), out, err) == (0, "schedtui 0.1.0\n", "")


def test_the_root_options_that_take_a_value_are_known_to_the_entry_point() -> None:
    from typer.main import get_command

    from schedtui.cli.root import full_app

    group = get_command(full_app())
    ctx = group.make_context("schedtui", [], resilient_parsing=True)
    valued = {
        opt for p in group.get_params(ctx) if not getattr(p, "is_flag", False) for opt in (*p.opts, *p.secondary_opts)
    }
    assert valued == set(app_module._ROOT_VALUED)


@pytest.mark.parametrize(
    "argv",
    [["check", "--help"], ["jobs", "-h"], ["check", "--bogus"], ["--schema", "check", "jobs", "--url", "sqlite://"]],
)
def test_a_command_alone_answers_what_the_full_app_answers(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from schedtui.cli import root

    def answer(command: str | None) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            root.run(list(argv), is_check=True, command=command)
        out, err = capsys.readouterr()
        return int(info.value.code or 0), out, err

    assert answer(app_module._command(argv)) == answer(None)


@pytest.mark.parametrize("argv", [["check", "--help"], ["jobs", "-h"]])
def test_the_help_of_a_command_alone_is_the_full_apps(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from schedtui.cli import root

    outs = []
    for app in (root.build(("cmd_check",)), root.full_app()):
        try:
            app(args=list(argv), prog_name="schedtui", standalone_mode=False)
        except SystemExit:
            pass
        outs.append(capsys.readouterr())
    assert outs[0] == outs[1] and "Usage: schedtui " in outs[0].out


def test_prestart_starts_a_worker_before_the_decoders_records_are_imported() -> None:
    """``check`` starts its decode worker first thing (``cli.app._prestart``): starting it
    must not wait for the record format (``wire``, and through it the model and
    ``dataclasses``), which the reader imports afterwards, while the worker boots."""
    code = (
        "import json, sys\n"
        "from schedtui.core.decode import prestart, sandbox\n"
        "prestart()\n"
        "started = [w.alive() for w in sandbox.pool()._workers]\n"
        "print(json.dumps([started, sorted(m for m in ('schedtui.core.decode.wire', 'schedtui.core.model',"
        " 'dataclasses') if m in sys.modules)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    started, imported = json.loads(out.stdout)
    assert started == [True]
    assert imported == []


def test_a_worker_preloads_aps_cron_fields_without_the_package_metadata() -> None:
    """A decode worker imports APScheduler's cron field classes as it starts, with the
    ``apscheduler`` package registered but its ``__init__`` not run (it only reads the
    version from the installed metadata): the field classes are APScheduler's own, the
    same ones ``CronTrigger.FIELDS_MAP`` names, and they still judge a field. Nor does it
    import asyncio's event loops for the one function ``apscheduler.util`` takes from
    asyncio: that function is asyncio's own, and a later ``import asyncio`` is whole."""
    code = (
        "import json, sys\n"
        "from schedtui.core.decode import worker, triggers\n"
        "worker._preload()\n"
        "meta = 'importlib.metadata' in sys.modules\n"
        "loops = sorted(m for m in sys.modules if m == 'asyncio' or m.startswith('asyncio.'))\n"
        "import apscheduler.util, asyncio, asyncio.coroutines\n"
        "fn = apscheduler.util.iscoroutinefunction\n"
        "async def co(): pass\n"
        "same = [fn.__module__, fn.__qualname__, fn(co), fn(len), callable(asyncio.run)]\n"
        "fields = {k: f'{v.__module__}.{v.__qualname__}' for k, v in triggers._aps_fields().items()}\n"
        "triggers._validate_field('day_of_week', 'mon-fri')\n"
        "try:\n"
        "    triggers._validate_field('minute', '61')\n"
        "    bad = None\n"
        "except Exception as exc:\n"
        "    bad = type(exc).__name__\n"
        "print(json.dumps([meta, loops, same, fields, bad]))\n"
    )
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True, timeout=60)
    meta, loops, same, fields, bad = json.loads(out.stdout)
    from apscheduler.triggers.cron import CronTrigger

    assert meta is False
    assert loops == []
    assert same == ["asyncio.coroutines", "iscoroutinefunction", True, False, True]
    assert fields == {k: f"{v.__module__}.{v.__qualname__}" for k, v in CronTrigger.FIELDS_MAP.items()}
    assert bad == "DecodeError"


def test_a_decode_worker_imports_the_stages_it_runs_and_no_reader_stage() -> None:
    """What a worker imports (``decode.worker``, then ``jobstate``) leaves out the reading
    process's stages (sandbox, cache, reader, table): the package's names load on first
    use, so a worker boots without them and ``check`` starts its worker before it imports
    them."""
    code = (
        "import json, sys\n"
        "import schedtui.core.decode.worker, schedtui.core.decode.jobstate\n"
        "print(json.dumps([m for m in sys.modules if m.startswith('schedtui.core.decode.')]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    loaded = set(json.loads(out.stdout))
    assert "schedtui.core.decode.jobstate" in loaded
    reader_side = {"sandbox", "cache", "reader", "table"}
    assert not loaded & {f"schedtui.core.decode.{m}" for m in reader_side}
    from schedtui.core import decode

    assert decode.prestart is decode.sandbox.prestart
    assert decode.decode_rows.__module__ == "schedtui.core.decode.reader"
    with pytest.raises(AttributeError):
        _ = decode.nothing  # type: ignore[attr-defined]
