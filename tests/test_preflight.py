"""``schedtui preflight``: a real app (``tests/fixtures/preflight/app_v1``) writes a real
store with real APScheduler; its next version (``app_v2``: a renamed function, a moved
class, a removed enum member, a deleted module, a ``__getattr__`` module and a compiled
extension built here with the system gcc) is judged statically, and real APScheduler with
the new code confirms the verdicts. The app's package writes a marker file when imported:
preflight must never create it."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from schedtui.cli.app import main
from schedtui.core.preflight import ModuleFinder, Resolver, pickle_refs, run_preflight
from schedtui.core.store.rawrows import read_backup

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "preflight"
EXT = sysconfig.get_config_var("EXT_SUFFIX") or ".so"


def _build_extension(v2: Path) -> None:
    src = v2 / "shop" / "fast.c"
    out = v2 / "shop" / f"fast{EXT}"
    gcc = shutil.which("gcc")
    if gcc:
        include = sysconfig.get_paths()["include"]
        proc = subprocess.run(
            [gcc, "-shared", "-fPIC", "-O0", f"-I{include}", "-o", str(out), str(src)], capture_output=True
        )
        if proc.returncode == 0:
            return
    out.write_bytes(b"\x7fELF not really: no compiler here\n")  # the name is what the finder goes by


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("preflight")
    shutil.copytree(FIXTURE, root, dirs_exist_ok=True)
    db = root / "jobs.sqlite"
    proc = subprocess.run(
        [sys.executable, str(root / "write_store.py"), "--url", f"sqlite:///{db}", "--app-root", str(root / "app_v1")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (root / "app_v1" / "IMPORTED").unlink()  # the writer imported v1: start clean
    _build_extension(root / "app_v2")
    return root


EXPECTED_V2 = {
    "billing_charge": ("lost", "module shop.tasks.billing has no function charge_all"),
    "report_spec": ("lost", "class shop.models.Spec not found"),
    "legacy_cleanup": ("lost", "module shop.legacy not found"),
    "color_blue": ("lost", "enum shop.models.Color has no member with value 'blue'"),
    "dyn_tick": ("unknown", "__getattr__"),
    "fast_crunch": ("unknown", "compiled extension"),
    "bound_reporter": ("ok", ""),
    "nested_go": ("ok", ""),
    "color_red": ("ok", ""),
    "reexported": ("ok", ""),
    "stdlib_args": ("ok", ""),
    "namespace_ping": ("ok", ""),
}


def test_next_version_verdicts_and_nothing_imported(tree: Path) -> None:
    rows = read_backup(tree / "jobs.sqlite")
    before = set(sys.modules)
    report = run_preflight(rows, [tree / "app_v2"])
    got = {j.id: (j.verdict, j.reason) for j in report.jobs}
    assert set(got) == set(EXPECTED_V2)
    for job_id, (verdict, reason) in EXPECTED_V2.items():
        assert got[job_id][0] == verdict, (job_id, got[job_id])
        assert reason in got[job_id][1], (job_id, got[job_id])
    assert report.exit_code == 2
    assert not (tree / "app_v2" / "IMPORTED").exists()
    assert not (tree / "app_v1" / "IMPORTED").exists()
    assert not {m for m in set(sys.modules) - before if m.split(".")[0] in ("shop", "shopns")}


def test_same_version_is_all_restorable(tree: Path) -> None:
    report = run_preflight(read_backup(tree / "jobs.sqlite"), [tree / "app_v1"])
    assert [j.id for j in report.jobs if j.verdict != "ok"] == []
    assert report.exit_code == 0
    assert not (tree / "app_v1" / "IMPORTED").exists()


_APS_LOAD = """
import json, sys
sys.path.insert(0, sys.argv[2])
import logging; logging.disable(logging.CRITICAL)
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
store = SQLAlchemyJobStore(url=sys.argv[1])
store._scheduler = None; store._alias = "default"
from apscheduler.schedulers.background import BackgroundScheduler
s = BackgroundScheduler(jobstores={"default": store}); s.start(paused=True)
print(json.dumps(sorted(j.id for j in s.get_jobs())))
s.shutdown(wait=False)
"""


def test_apscheduler_with_the_new_code_agrees(tree: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(tree / "jobs.sqlite", copy)
    v2 = tmp_path / "app_v2"
    shutil.copytree(tree / "app_v2", v2)
    proc = subprocess.run(
        [sys.executable, "-c", _APS_LOAD, f"sqlite:///{copy}", str(v2)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    kept = set(json.loads(proc.stdout))
    lost = {k for k, (v, _) in EXPECTED_V2.items() if v == "lost"}
    ok = {k for k, (v, _) in EXPECTED_V2.items() if v == "ok"}
    assert not (lost & kept), "APScheduler kept a job preflight said it would delete"
    assert ok <= kept, "APScheduler deleted a job preflight said was restorable"


def test_cli_exit_codes_and_json(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tree / 'jobs.sqlite'}"
    code, out = _cli(["preflight", "--url", url, "--app-root", str(tree / "app_v2"), "--json"], capsys)
    assert code == 2
    data = json.loads(out)
    assert data["lost"] == 4 and data["unknown"] == 2 and data["restorable"] == 6
    by_id = {r["id"]: r for r in data["results"]}
    assert by_id["legacy_cleanup"]["reason"] == "module shop.legacy not found"
    code, out = _cli(["preflight", "--url", url, "--app-root", str(tree / "app_v2")], capsys)
    assert code == 2 and "LOST" in out and "charge_all" in out
    assert _cli(["preflight", "--url", url, "--app-root", str(tree / "app_v1")], capsys)[0] == 0
    # only undecidable jobs left: exit 1
    only = tmp_path / "unknowns.sqlite"
    shutil.copyfile(tree / "jobs.sqlite", only)
    with sqlite3.connect(only) as conn:
        conn.execute("DELETE FROM apscheduler_jobs WHERE id NOT IN ('dyn_tick', 'fast_crunch', 'nested_go')")
    assert _cli(["preflight", "--url", f"sqlite:///{only}", "--app-root", str(tree / "app_v2")], capsys)[0] == 1
    # could not run: 3
    assert _cli(["preflight", "--url", url, "--app-root", str(tmp_path / "nope")], capsys)[0] == 3
    assert _cli(["preflight", "--url", f"sqlite:///{tmp_path / 'missing.db'}", "--app-root", str(tree)], capsys)[0] == 3
    assert _cli(["preflight", "--url", url], capsys)[0] == 3
    assert not (tree / "app_v2" / "IMPORTED").exists()


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, _err = capsys.readouterr()
    return int(exc.value.code or 0), out


def _resolver(tmp_path: Path, files: dict[str, str]) -> Resolver:
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return Resolver(ModuleFinder([tmp_path], interpreter=True))


def test_static_edge_cases(tmp_path: Path) -> None:
    r = _resolver(
        tmp_path,
        {
            "pkg/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import f\n",
            "pkg/a.py": "def f(): pass\nclass K:\n    class N:\n        def m(self): pass\n",
            "pkg/star.py": "from pkg.a import *\n",
            "pkg/both.py": "try:\n    from pkg.a import f\nexcept ImportError:\n    def f(): pass\n",
            "pkg/broken.py": "from pkg.gone import thing\ndef job(): pass\n",
            "pkg/syntax.py": "def job(:\n",
            "pkg/alias.py": "from pkg import a\ng = a.f\n",
            "pkg/computed.py": "import functools\njob = functools.partial(print)\n",
        },
    )
    assert r.resolve_ref("pkg:f").status == "unknown"  # only under TYPE_CHECKING
    assert r.resolve_ref("pkg.a:K.N.m").ok
    assert r.resolve_ref("pkg.a:K.N.x").status == "missing"
    assert r.resolve_ref("pkg.star:f").status == "unknown"
    assert r.resolve_ref("pkg.both:f").ok
    broken = r.resolve_ref("pkg.broken:job")
    assert broken.status == "missing" and "fails to import" in broken.reason
    assert r.resolve_ref("pkg.syntax:job").status == "missing"
    assert r.resolve_ref("pkg.alias:g").ok
    assert r.resolve_ref("pkg.computed:job").ok
    assert r.resolve_ref("pkg:a.f").ok  # ref_to_obj's fromlist imports the submodule
    assert r.resolve_global("pkg", "a.f").status == "unknown"  # find_class does not
    assert r.resolve_global("datetime", "datetime").ok
    assert r.resolve_global("zoneinfo", "ZoneInfo").ok
    assert r.resolve_global("decimal", "Decimal").ok
    assert r.resolve_global("builtins", "getattr").ok
    assert r.resolve_global("apscheduler.triggers.cron", "CronTrigger").ok
    assert r.resolve_global("apscheduler.triggers.cron", "Nope").status == "missing"


def test_pickle_refs_read_opcodes_only() -> None:
    import pickle
    from datetime import UTC, datetime

    data = pickle.dumps({"when": datetime(2026, 1, 1, tzinfo=UTC), "s": {1, 2}}, protocol=2)
    refs = pickle_refs(data)
    names = {g.dotted for g in refs.globals}
    assert "datetime.datetime" in names and "builtins.set" in names  # __builtin__ mapped as Unpickler does
    evil = b"\x80\x04\x82\x01."  # EXT1
    assert pickle_refs(evil).undecidable
    assert pickle_refs(b"\x80\x05garbage").undecidable


def test_hostile_rows_are_unknown_and_nothing_runs(tmp_path: Path) -> None:
    """Every hostile pickle of the decoder's corpus: a verdict (never ``ok`` for a row the
    decoder refuses), no import, no crash."""
    from schedtui.core.decode import decode_rows
    from schedtui.core.store.rawrows import RawRow
    from tests.fixtures.hostile import CASES

    rows = [RawRow(name, None, factory(name)) for name, (factory, _codes) in CASES.items()]
    decode_rows([(r.id, r.next_run_time, r.job_state) for r in rows])  # the decoder's own imports
    before = set(sys.modules)
    report = run_preflight(rows, [tmp_path])
    assert len(report.jobs) == len(rows)
    for verdict in report.jobs:
        assert verdict.verdict in ("unknown", "lost"), verdict
    assert set(sys.modules) - before <= {m for m in sys.modules if m.startswith("schedtui.core.preflight")}
