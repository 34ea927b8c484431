"""Undelete: ``schedtui diff`` and single-job ``schedtui restore``, on a real store of the
``shop`` app written by real APScheduler, after real APScheduler with the app's next
version deleted (or the guard archived) five jobs. Restored rows must be the backup's
(or the archive's) bytes, recorded in the audit log, and load in real APScheduler with
the app's code."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from schedtui.cli.app import main
from schedtui.core.backup import create_backup
from schedtui.core.clock import FixedClock
from schedtui.core.model import Target
from schedtui.core.undelete import apply_plan, load_backup, plan_from_backup
from tests.test_control_support import poll_until

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "preflight"
LOST = {"billing_charge", "report_spec", "legacy_cleanup", "fast_crunch", "color_blue"}
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _py(script: str, *args: str) -> Any:
    proc = subprocess.run([sys.executable, str(FIXTURE / script), *args], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _states(db: Path, table: str = "apscheduler_jobs") -> dict[str, tuple[float | None, bytes]]:
    with sqlite3.connect(db) as conn:
        return {r[0]: (r[1], bytes(r[2])) for r in conn.execute(f"SELECT id, next_run_time, job_state FROM {table}")}


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    """A v1 store, a verified backup of it, then a deploy of v2 without the guard: five
    jobs deleted by APScheduler."""
    (tmp_path / "app_v1").mkdir()
    shutil.copytree(FIXTURE / "app_v1", tmp_path / "app_v1", dirs_exist_ok=True)
    shutil.copytree(FIXTURE / "app_v2", tmp_path / "app_v2")
    db = tmp_path / "jobs.sqlite"
    _py("write_store.py", "--url", f"sqlite:///{db}", "--app-root", str(tmp_path / "app_v1"))
    target = Target(f"sqlite:///{db}")
    bk = tmp_path / "bk"
    first = create_backup(target, bk, clock=FixedClock(T0))
    original = _states(db)
    return {"db": db, "url": target.url, "target": target, "bk": bk, "b1": first.path, "original": original,
            "v1": tmp_path / "app_v1", "v2": tmp_path / "app_v2", "tmp": tmp_path}  # fmt: skip


def _deploy_v2(w: dict[str, Any], guard: bool = False) -> Any:
    args = ["--url", w["url"], "--app-root", str(w["v2"]), "--path", "due"]
    return _py("guard_run.py", *args, *([] if guard else ["--no-guard"]))


def _loads_with_v1(w: dict[str, Any]) -> list[str]:
    copy = w["tmp"] / "probe.sqlite"
    shutil.copyfile(w["db"], copy)
    got = _py("guard_run.py", "--url", f"sqlite:///{copy}", "--app-root", str(w["v1"]), "--path", "all", "--no-guard")
    assert got["table"] == sorted(got["kept"]), "APScheduler deleted a restored row"
    return sorted(got["kept"])


def test_diff_live_vs_backup_and_between_backups(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    w = world
    _deploy_v2(w)
    code, out, _ = _cli(["pause", "nested_go", "--yes", "--url", w["url"]], capsys)
    assert code == 0, out
    code, out, _ = _cli(["diff", "--url", w["url"], "--dir", str(w["bk"]), "--json"], capsys)
    assert code == 1
    data = json.loads(out)
    assert {j["id"] for j in data["jobs"] if j["change"] == "removed"} == LOST
    (changed,) = [j for j in data["jobs"] if j["change"] == "changed"]
    assert changed["id"] == "nested_go"
    fields = {f["field"]: f for f in changed["fields"]}
    assert fields["paused"]["old"] == "False" and fields["paused"]["new"] == "True"
    assert fields["next_run"]["new"] == "paused"
    assert data["added"] == 0 and data["unchanged"] == 6
    b2 = create_backup(w["target"], w["bk"], clock=FixedClock(T0 + timedelta(hours=1))).path
    code, out, _ = _cli(["diff", w["b1"].name, b2.name, "--url", w["url"], "--dir", str(w["bk"])], capsys)
    assert code == 1 and "5 removed, 0 added, 1 changed, 6 unchanged" in out
    assert "removed  billing_charge" in out
    code, out, _ = _cli(["diff", "latest", "--url", w["url"], "--dir", str(w["bk"])], capsys)
    assert code == 0 and "0 removed, 0 added, 0 changed, 7 unchanged" in out


def test_restore_missing_from_backup(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    w = world
    _deploy_v2(w)
    after_loss = _states(w["db"])
    assert set(w["original"]) - set(after_loss) == LOST
    base = ["restore", "--missing", "--url", w["url"], "--dir", str(w["bk"])]
    code, out, _ = _cli([*base, "--dry-run"], capsys)
    assert code == 0 and "dry run: nothing written" in out
    assert all(job in out for job in LOST)
    assert _states(w["db"]) == after_loss
    code, out, err = _cli(base, capsys)  # no terminal, no --yes: refused after showing the plan
    assert code == 2 and "billing_charge" in out and "--yes" in err
    assert _states(w["db"]) == after_loss
    code, out, _ = _cli([*base, "--yes"], capsys)
    assert code == 0, out
    assert _states(w["db"]) == w["original"]  # byte for byte, column included
    with sqlite3.connect(w["db"]) as conn:
        audit = conn.execute("SELECT job_id, action, status, result FROM schedtui_commands").fetchall()
    assert {a[0] for a in audit} == LOST and {a[1:3] for a in audit} == {("restore", "applied")}
    assert _loads_with_v1(w) == sorted(w["original"])
    code, out, _ = _cli([*base, "--yes"], capsys)
    assert code == 0 and "nothing to restore" in out


def test_restore_never_overwrites(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    w = world
    _deploy_v2(w)
    before = _states(w["db"])
    code, out, _ = _cli(["restore", "--jobs", "nested_go", "--url", w["url"], "--dir", str(w["bk"]), "--yes"], capsys)
    assert code == 1 and "not overwritten" in out
    assert _states(w["db"]) == before
    # the row appears between the plan and the write: a conflict, the new row stays
    plan = plan_from_backup(w["target"], load_backup(w["b1"], w["target"]), job_ids=["billing_charge"])
    assert [i.job_id for i in plan.items] == ["billing_charge"]
    with sqlite3.connect(w["db"]) as conn:
        conn.execute("INSERT INTO apscheduler_jobs VALUES ('billing_charge', NULL, X'00')")
    (outcome,) = apply_plan(w["target"], plan)
    assert outcome.status == "conflict"
    assert _states(w["db"])["billing_charge"] == (None, b"\x00")


def test_restore_from_the_archive(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    w = world
    got = _deploy_v2(w, guard=True)
    assert {a["id"] for a in got["archived"]} == LOST
    code, out, _ = _cli(["restore", "--archived", "billing_charge", "--archived", "report_spec", "--url", w["url"],
                         "--yes", "--json"], capsys)  # fmt: skip
    assert code == 0, out
    res = json.loads(out)
    assert {r["job_id"]: r["status"] for r in res["results"]} == {
        "billing_charge": "restored",
        "report_spec": "restored",
    }
    now = _states(w["db"])
    for job in ("billing_charge", "report_spec"):
        assert now[job] == w["original"][job]
    with sqlite3.connect(w["db"]) as conn:
        marked = conn.execute("SELECT job_id FROM schedtui_archived_jobs WHERE restored_at IS NOT NULL").fetchall()
        kept = conn.execute("SELECT count(*) FROM schedtui_archived_jobs").fetchone()[0]
    assert {m[0] for m in marked} == {"billing_charge", "report_spec"} and kept == 5  # the archive keeps its rows
    code, out, _ = _cli(["check", "--url", w["url"]], capsys)
    assert "archive: 3 job(s)" in out
    assert "billing_charge" in _loads_with_v1(w) and "report_spec" in _loads_with_v1(w)


class _Live:
    """The ``shop`` app's scheduler (companion attached) running in a subprocess."""

    def __init__(self, w: dict[str, Any], app: Path, name: str) -> None:
        self.work = w["tmp"] / f"live-{name}"
        self.work.mkdir()
        self.proc = subprocess.Popen(
            [sys.executable, str(FIXTURE / "live_scheduler.py"), w["url"], str(app), str(self.work)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.work / "stderr.txt", "wb"),
        )
        self.target = w["target"]

    def __enter__(self) -> _Live:
        from schedtui.core.clock import system_clock
        from schedtui.core.control import fresh_companions

        poll_until(lambda: (self.work / "ready").exists() or self.proc.poll() is not None, 60, "the scheduler")
        assert self.proc.poll() is None, (self.work / "stderr.txt").read_text()[-2000:]
        engine = sa.create_engine(self.target.url)
        poll_until(lambda: _fresh(engine, self.target, fresh_companions, system_clock), 60, "a heartbeat")
        engine.dispose()
        return self

    def __exit__(self, *exc: object) -> None:
        (self.work / "stop").touch()
        self.proc.wait(60)


def test_restore_through_the_companion(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """With a live scheduler (companion attached) the scheduler writes the row itself, after
    checking that its own code can restore it."""
    w = world
    _deploy_v2(w)
    for app, job, expect in ((w["v1"], "billing_charge", "restored"), (w["v2"], "legacy_cleanup", "failed")):
        with _Live(w, app, job):
            args = ["restore", "--jobs", job, "--url", w["url"], "--dir", str(w["bk"]), "--yes", "--json"]
            code, out, _ = _cli([*args, "--wait", "30"], capsys)
            (r,) = json.loads(out)["results"]
            assert r["mode"] == "companion" and r["status"] == expect, r
    now = _states(w["db"])
    assert now["billing_charge"] == w["original"]["billing_charge"]
    assert "legacy_cleanup" not in now  # v2 cannot restore it: the companion refused to write it


def test_restore_archived_through_the_companion(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    w = world
    _deploy_v2(w, guard=True)
    with _Live(w, w["v1"], "archived"):
        args = ["restore", "--archived", "report_spec", "--url", w["url"], "--yes", "--json", "--wait", "30"]
        code, out, _ = _cli(args, capsys)
        assert code == 0, out
        (r,) = json.loads(out)["results"]
        assert r["mode"] == "companion" and r["status"] == "restored", r
    assert _states(w["db"])["report_spec"] == w["original"]["report_spec"]
    with sqlite3.connect(w["db"]) as conn:
        (restored_by,) = conn.execute(
            "SELECT restored_by FROM schedtui_archived_jobs WHERE job_id = 'report_spec'"
        ).fetchone()
    assert restored_by  # marked by the scheduler that wrote it


def _fresh(engine: sa.Engine, target: Target, fresh: Any, clock: Any) -> bool:
    try:
        return bool(fresh(engine, target, clock()))
    except sa.exc.SQLAlchemyError:
        return False


def _pg_jobstore(engine: sa.Engine) -> Any:
    """APScheduler's own jobs table in the PostgreSQL database (created by the real store)."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    store = SQLAlchemyJobStore(engine=engine)
    store._scheduler = None
    store._alias = "default"
    store.start(None, "default")  # type: ignore[no-untyped-call]
    return store


def test_direct_restore_into_postgresql(world: dict[str, Any], pg_url: str) -> None:
    """The rows of a (SQLite) backup go into a PostgreSQL store byte for byte; an existing
    id is never overwritten; each write is audited."""
    engine = sa.create_engine(pg_url)
    store = _pg_jobstore(engine)
    with engine.begin() as conn:
        conn.execute(store.jobs_t.insert().values(id="nested_go", next_run_time=None, job_state=b"\x00"))
    target = Target(pg_url)
    plan = plan_from_backup(target, load_backup(world["b1"], target), missing=True)
    assert {i.job_id for i in plan.items} == set(world["original"]) - {"nested_go"}
    outcomes = apply_plan(target, plan)
    assert {o.status for o in outcomes} == {"restored"}
    with engine.connect() as conn:
        rows = {
            r[0]: (r[1], bytes(r[2]))
            for r in conn.execute(sa.text("SELECT id, next_run_time, job_state FROM apscheduler_jobs"))
        }
        audit = conn.execute(
            sa.text("SELECT count(*) FROM schedtui_commands WHERE action = 'restore' AND status = 'applied'")
        ).scalar()
    assert rows.pop("nested_go") == (None, b"\x00")
    assert rows == {k: v for k, v in world["original"].items() if k != "nested_go"}
    assert audit == len(plan.items)
    engine.dispose()


def test_diff_and_restore_from_a_postgresql_dump(world: dict[str, Any], pg_url: str, tmp_path: Path) -> None:
    """A verified ``pg_dump`` backup: its rows are read through ``pg_restore --data-only``,
    compared with the live store and put back byte for byte."""
    from schedtui.core.store.rawrows import read_backup, read_live
    from schedtui.core.undelete import diff_rows

    engine = sa.create_engine(pg_url)
    store = _pg_jobstore(engine)
    with engine.begin() as conn:
        for job_id, (nrt, state) in world["original"].items():
            conn.execute(store.jobs_t.insert().values(id=job_id, next_run_time=nrt, job_state=state))
    target = Target(pg_url)
    dump = create_backup(target, tmp_path / "pgbk", clock=FixedClock(T0)).path
    assert dump.suffix == ".pgdump"
    assert {r.id: (r.next_run_time, r.job_state) for r in read_backup(dump)} == world["original"]
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM apscheduler_jobs WHERE id IN ('billing_charge', 'report_spec')"))
    result = diff_rows(read_backup(dump), read_live(target), old_label=dump.name, new_label="live")
    assert {c.job_id for c in result.of("removed")} == {"billing_charge", "report_spec"}
    plan = plan_from_backup(target, load_backup(dump, target), missing=True)
    assert {o.status for o in apply_plan(target, plan)} == {"restored"}
    assert {r.id: (r.next_run_time, r.job_state) for r in read_live(target)} == world["original"]
    engine.dispose()
