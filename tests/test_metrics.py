"""``schedtui metrics`` and ``schedtui.core.metrics``: the check's judgements as Prometheus
metrics. Stores are written by real APScheduler; the clock is a FixedClock."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.parser import text_string_to_metric_families as text_families

from fixtures.factory import DEFAULT_NOW, make_store, sqlite_store
from fixtures.hostile import CASES
from prom import FAMILIES, binary
from schedtui.cli import cmd_check, cmd_metrics
from schedtui.cli.app import main
from schedtui.core import tables as T
from schedtui.core.checker import run_check
from schedtui.core.clock import FixedClock
from schedtui.core.health import CheckContext, CheckOptions, Component
from schedtui.core.history import window_stats
from schedtui.core.listing import job_state
from schedtui.core.metrics import Format, MetricsOptions, PerJob, StoreCollector, collect_store, negotiate, render
from schedtui.core.metrics.exporter import Exporter
from schedtui.core.metrics.labels import clean_label, job_label
from schedtui.core.metrics.server import make_server, parse_listen
from schedtui.core.metrics.textfile import write_atomic
from schedtui.core.model import Target

NOW = datetime.fromisoformat(DEFAULT_NOW)
WEIRD = 'q"uote\\back\nnew'
ESCAPE = "esc\x1b[31mred\u202eltr"


def aps_store(url: str, jobs: list[tuple[str, datetime | None]]) -> None:
    """Write ``jobs`` (id, next run time) through APScheduler's own SQLAlchemyJobStore
    (interval triggers, APScheduler's default misfire grace of 1 s); no scheduler runs."""
    from datetime import UTC

    from apscheduler.job import Job
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    sched = BackgroundScheduler(timezone=UTC)
    store = SQLAlchemyJobStore(url=url)
    store.start(sched, "default")
    try:
        for job_id, nrt in jobs:
            job = Job(
                sched,
                id=job_id,
                func="schedtui.demo.jobs:tick",
                trigger=IntervalTrigger(minutes=5, timezone=UTC),
                executor="default",
                args=(),
                kwargs={},
                name=job_id,
                misfire_grace_time=1,
                coalesce=True,
                max_instances=1,
                next_run_time=nrt,
            )
            store.add_job(job)
    finally:
        store.shutdown()


def add_row(path: Path, job_id: str, next_run: float | None, state: bytes) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO apscheduler_jobs (id, next_run_time, job_state) VALUES (?, ?, ?)", (job_id, next_run, state)
        )


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """on time, late (60 s floor), overdue, paused, odd ids, an undecodable row."""
    path = tmp_path / "mixed.sqlite"
    aps_store(
        f"sqlite:///{path}",
        [
            ("soon", NOW + timedelta(seconds=30)),
            ("later", NOW + timedelta(hours=1)),
            ("much-later", NOW + timedelta(days=1)),
            ("late", NOW - timedelta(seconds=30)),
            ("overdue", NOW - timedelta(minutes=10)),
            ("paused", None),
            (WEIRD, NOW + timedelta(minutes=2)),
            (ESCAPE, NOW + timedelta(minutes=3)),
            ("esc\x07[31mred\u202eltr", NOW + timedelta(minutes=4)),  # cleans to the same text
        ],
    )
    add_row(path, "broken", (NOW + timedelta(days=3)).timestamp(), CASES["os-system-reduce"][0](str(path) + ".pwned"))
    return path


def families(body: bytes) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def samples(body: bytes, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    fam = families(body)[name]
    return {tuple(sorted(s.labels.items())): s.value for s in fam.samples}


def collect(path: Path, **kw: Any) -> bytes:
    clock = FixedClock(NOW)
    store = collect_store(Target(f"sqlite:///{path}"), name="t", clock=clock, options=MetricsOptions(**kw))
    return render([store])


# --------------------------------------------------------------------------- formats


def test_openmetrics_parses_and_text_passes_promtool(mixed: Path, tmp_path: Path) -> None:
    clock = FixedClock(NOW)
    store = collect_store(Target(f"sqlite:///{mixed}"), clock=clock, options=MetricsOptions(per_job=PerJob.ALL))
    om = render([store], Format.OPENMETRICS)
    assert om.endswith(b"# EOF\n")
    assert set(families(om)) == FAMILIES
    text = render([store], Format.TEXT)
    assert b"# EOF" not in text
    parsed = {f.name for f in text_families(text.decode())}
    assert "schedtui_job_state" in parsed and "schedtui_job_runs" in parsed
    # promtool reads the classic format (Prometheus itself reads both)
    proc = subprocess.run([binary("promtool"), "check", "metrics"], input=text, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not proc.stdout.strip() and not proc.stderr.strip(), proc.stdout + proc.stderr  # no lint findings


def test_labels_are_escaped_and_sanitized(mixed: Path) -> None:
    body = collect(mixed, per_job=PerJob.ALL)
    assert b'job_id="q\\"uote\\\\back\\nnew"' in body  # the format's own escapes
    assert b"\x1b" not in body and "\u202e".encode() not in body and b"\x07" not in body
    ids = {dict(k)["job_id"] for k in samples(body, "schedtui_job_state")}
    assert WEIRD in ids  # round trip through the parser: exactly the id
    changed = sorted(i for i in ids if i.startswith("esc?[31mred?ltr~"))
    assert len(changed) == 2  # two ids that clean alike stay apart, each with its own hash
    assert job_label(ESCAPE) in changed and job_label(ESCAPE) == job_label(ESCAPE)
    assert job_label("plain-id") == "plain-id" and job_label(WEIRD) == WEIRD
    assert len(job_label("é" * 500)) == 200
    assert clean_label("x" * 500).endswith("…") and len(clean_label("x" * 500)) == 200


def test_password_is_never_in_a_label(pg_url: str) -> None:
    url = sa.engine.make_url(pg_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    make_store(url, "seed")
    store = collect_store(Target(url), clock=FixedClock(NOW))
    for fmt in Format:
        body = render([store], fmt)
        assert b"s3cret" not in body
        assert b"postgres:***@" in body
    assert store.up and store.total_jobs == 3


# --------------------------------------------------------------------------- the same judgements as check


def test_counts_and_states_match_check(mixed: Path) -> None:
    clock = FixedClock(NOW)
    target = Target(f"sqlite:///{mixed}")
    report = run_check(target, clock=clock)
    sched = report.component("scheduler")
    assert sched is not None
    body = collect(mixed, per_job=PerJob.ALL)
    jobs = {dict(k)["state"]: v for k, v in samples(body, "schedtui_jobs").items()}
    assert jobs["late"] == len(sched.data["late"]) == 1
    assert jobs["overdue"] == len(sched.data["overdue"]) == 1
    assert jobs["paused"] == sched.data["paused"] == 1
    assert sum(jobs.values()) == sched.data["total"] == 10
    assert samples(body, "schedtui_check_status")[(("store", "t"),)] == int(report.status)
    assert samples(body, "schedtui_undecodable_rows")[(("store", "t"),)] == 1
    states = samples(body, "schedtui_job_state")
    on = {(dict(k)["job_id"], dict(k)["schedtui_job_state"]) for k, v in states.items() if v == 1}
    snapshot = report.snapshot
    assert snapshot is not None
    for job in snapshot.jobs:
        expected, _ = job_state(job, NOW, CheckOptions())  # what `schedtui jobs` says
        label = job_label(job.id)
        if expected == "undecodable":
            assert (label, "undecodable") in on and (label, "on_time") in on
        elif label in {lbl for lbl, _ in on}:
            assert (label, expected) in on, job.id
    lag = samples(body, "schedtui_job_lag_seconds")
    assert lag[(("job_id", "overdue"), ("store", "t"))] == 600.0
    grace = samples(body, "schedtui_job_misfire_grace_seconds")
    assert grace[(("job_id", "late"), ("store", "t"))] == 60.0  # max(misfire_grace_time 1 s, floor 60 s)
    nrt = samples(body, "schedtui_job_next_run_timestamp_seconds")
    assert nrt[(("job_id", "soon"), ("store", "t"))] == (NOW + timedelta(seconds=30)).timestamp()
    assert (("job_id", "paused"), ("store", "t")) not in nrt


def test_rows_not_decoded_in_time_are_not_counted_as_undecodable(mixed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read that runs out of decode time: those rows get their own gauge, and the
    undecodable gauge counts only rows known to be broken (as ``check``'s jobstore does)."""
    monkeypatch.setenv("SCHEDTUI_DECODE_BUDGET", "1e-9")
    # one read (how many rows miss the budget differs from read to read), every job exported
    store = collect_store(
        Target(f"sqlite:///{mixed}"), name="t", clock=FixedClock(NOW), options=MetricsOptions(per_job=PerJob.ALL)
    )
    body = render([store])
    late = samples(body, "schedtui_rows_not_decoded_in_time")[(("store", "t"),)]
    bad = samples(body, "schedtui_undecodable_rows")[(("store", "t"),)]
    assert late > 0 and late == store.not_decoded_in_time
    assert bad == store.undecodable and late + bad <= 10
    # per job too: such a row is ``not_decoded_in_time``, not ``undecodable``
    flagged = _flagged(body)
    assert len(flagged["not_decoded_in_time"]) == late and not flagged["undecodable"] & flagged["not_decoded_in_time"]
    monkeypatch.delenv("SCHEDTUI_DECODE_BUDGET")
    body = collect(mixed, per_job=PerJob.ALL)
    assert samples(body, "schedtui_rows_not_decoded_in_time")[(("store", "t"),)] == 0
    assert samples(body, "schedtui_undecodable_rows")[(("store", "t"),)] == 1
    assert _flagged(body) == {"undecodable": {"broken"}, "not_decoded_in_time": set()}


def _flagged(body: bytes) -> dict[str, set[str]]:
    """The job ids with each of the two decode states of ``schedtui_job_state`` set."""
    states = samples(body, "schedtui_job_state")
    return {
        name: {dict(k)["job_id"] for k, v in states.items() if v == 1 and dict(k)["schedtui_job_state"] == name}
        for name in ("undecodable", "not_decoded_in_time")
    }


def test_exit_code_is_the_checks(
    mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cmd_check, "CLOCK", FixedClock(NOW))
    monkeypatch.setattr(cmd_metrics, "CLOCK", FixedClock(NOW))
    url = f"sqlite:///{mixed}"
    with pytest.raises(SystemExit) as check_exit:
        main(["check", "--url", url])
    capsys.readouterr()
    with pytest.raises(SystemExit) as metrics_exit:
        main(["metrics", "--url", url])
    out, err = capsys.readouterr()
    assert metrics_exit.value.code == check_exit.value.code == 2
    assert out.endswith("# EOF\n") and not err
    ok_path, _ = sqlite_store(tmp_path, "seed")
    for argv in (["check", "--url", f"sqlite:///{ok_path}"], ["metrics", "--url", f"sqlite:///{ok_path}"]):
        with pytest.raises(SystemExit) as code:
            main(argv)
        assert code.value.code == 0, capsys.readouterr()
    capsys.readouterr()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--url", "nonsense"], "not a database URL"),
        (["--url", "sqlite:///x.db", "--listen", "host:port"], "--listen expects"),
        (["--url", "sqlite:///a.db", "--url", "sqlite:///a.db"], "same store label"),
        (["--url", "sqlite:///a.db", "--name", "a", "--name", "b"], "more --name"),
        (["--url", "sqlite:///a.db", "--per-job", "some"], "--per-job"),
    ],
)
def test_bad_input_is_unknown_with_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["metrics", *argv])
    out, err = capsys.readouterr()
    assert exc.value.code == 3
    assert message in err and "Traceback" not in err


def test_unreachable_store_is_critical_and_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql://alice:hunter22@127.0.0.1:{_closed_port()}/db"
    with pytest.raises(SystemExit) as exc:
        main(["metrics", "--url", url])
    out, err = capsys.readouterr()
    assert exc.value.code == 2
    fams = families(out.encode())
    (up,) = fams["schedtui_store_up"].samples
    assert up.value == 0 and "hunter22" not in out + err and "***" in up.labels["store"]


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- cardinality


def _exported(body: bytes) -> set[str]:
    return {dict(k)["job_id"] for k in samples(body, "schedtui_job_misfire_grace_seconds")}


def test_per_job_modes(mixed: Path) -> None:
    assert _exported(collect(mixed, per_job=PerJob.NONE)) == set()
    problem = _exported(collect(mixed, per_job=PerJob.PROBLEM, upcoming=2))
    assert problem == {"overdue", "late", "broken", "soon", WEIRD}  # problems, then the next two on time
    assert len(_exported(collect(mixed, per_job=PerJob.ALL))) == 10
    capped = _exported(collect(mixed, per_job=PerJob.ALL, max_jobs=4))
    assert {"overdue", "late", "broken"} <= capped and len(capped) == 4  # problems first
    body = collect(mixed, per_job=PerJob.ALL, max_jobs=4)
    assert samples(body, "schedtui_exported_jobs")[(("store", "t"),)] == 4


# --------------------------------------------------------------------------- run history


def _runs(engine: sa.Engine, job: str, outcomes: list[str], start: float) -> None:
    t = T.tables_for(None).runs
    rows = [
        {
            "job_id": job,
            "scheduled_at": start + i,
            "finished_at": start + i + 1,
            "duration_s": float(i % 7 + 1),
            "outcome": o,
        }
        for i, o in enumerate(outcomes)
    ]
    with engine.begin() as conn:
        conn.execute(t.insert(), rows)


def test_run_counters_keep_counting_past_retention(mixed: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{mixed}")
    T.create_all(engine)
    base = NOW.timestamp() - 3600
    _runs(engine, "late", ["success"] * 150 + ["error", "unfinished", "missed"], base)
    clock = FixedClock(NOW)
    collector = StoreCollector(Target(f"sqlite:///{mixed}"), name="t", clock=clock)
    try:
        first = {r.job: r for r in collector.collect().runs}["late"]
        assert (first.successes, first.failures, first.skipped) == (150, 2, 1)
        stats = window_stats(engine, ["late"], None, window=100)["late"]
        assert (first.p50, first.p95, first.max) == (stats.p50_s, stats.p95_s, stats.max_s)
        # the companion prunes the oldest 100 runs and records 5 new ones
        t = T.tables_for(None).runs
        with engine.begin() as conn:
            old = [r[0] for r in conn.execute(sa.select(t.c.id).order_by(t.c.id).limit(100))]
            conn.execute(t.delete().where(t.c.id.in_(old)))
        _runs(engine, "late", ["success", "success", "error", "success", "running"], base + 1000)
        second = {r.job: r for r in collector.collect().runs}["late"]
        assert (second.successes, second.failures, second.skipped) == (153, 3, 1)
        with engine.begin() as conn:  # the running one finishes
            conn.execute(t.update().where(t.c.outcome == "running").values(outcome="success", duration_s=2.0))
        third_store = collector.collect()
        third = {r.job: r for r in third_store.runs}["late"]
        assert (third.successes, third.failures) == (154, 3)
        om = render([third_store], Format.OPENMETRICS)
        runs = samples(om, "schedtui_job_runs")
        assert runs[(("job_id", "late"), ("outcome", "success"), ("store", "t"))] == 154
        quantiles = samples(om, "schedtui_job_run_duration_seconds")
        assert quantiles[(("job_id", "late"), ("quantile", "1"), ("store", "t"))] == third.max
        text = render([third_store], Format.TEXT)
        assert b'schedtui_job_runs_total{job_id="late",outcome="failure",store="t"} 3.0' in text
        proc = subprocess.run([binary("promtool"), "check", "metrics"], input=text, capture_output=True, timeout=60)
        assert proc.returncode == 0 and not proc.stdout.strip() and not proc.stderr.strip(), proc.stdout + proc.stderr
    finally:
        collector.close()
        engine.dispose()


# --------------------------------------------------------------------------- textfile


def test_textfile_is_replaced_atomically(mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cmd_metrics, "CLOCK", FixedClock(NOW))
    folder = tmp_path / "textfiles"
    folder.mkdir()
    (folder / "node.prom").write_text("other_metric 1\n")
    target = folder / "schedtui.prom"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p != target}
    with pytest.raises(SystemExit) as exc:
        main(["metrics", "--url", f"sqlite:///{mixed}", "--textfile", str(target)])
    assert exc.value.code == 2
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p != target} == before
    assert sorted(p.name for p in folder.iterdir()) == ["node.prom", "schedtui.prom"]  # no temp file left
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    text = target.read_text()
    assert "# TYPE schedtui_jobs gauge" in text and "# EOF" not in text  # node_exporter reads the classic format
    proc = subprocess.run([binary("promtool"), "check", "metrics"], input=text.encode(), capture_output=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_textfile_failure_keeps_the_old_file(tmp_path: Path) -> None:
    from schedtui.core.errors import SchedtuiError

    with pytest.raises(SchedtuiError, match="does not exist"):
        write_atomic(tmp_path / "missing" / "x.prom", b"x 1\n")
    folder = tmp_path / "texts"
    (folder / "x.prom").mkdir(parents=True)  # a folder where the file should be: the rename fails
    (folder / "x.prom" / "keep").write_text("kept\n")
    (folder / "other.prom").write_text("other 1\n")
    with pytest.raises(SchedtuiError, match="cannot write"):
        write_atomic(folder / "x.prom", b"new 1\n")
    assert (folder / "x.prom" / "keep").read_text() == "kept\n"
    assert sorted(p.name for p in folder.iterdir()) == ["other.prom", "x.prom"]  # the temp file is gone


# --------------------------------------------------------------------------- the exporter


PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def test_negotiation() -> None:
    assert negotiate(PROMETHEUS_ACCEPT) is Format.OPENMETRICS
    assert negotiate("application/openmetrics-text") is Format.OPENMETRICS
    assert negotiate(None) is Format.TEXT
    assert negotiate("*/*") is Format.TEXT
    assert negotiate("text/plain;version=0.0.4") is Format.TEXT
    assert negotiate("application/openmetrics-text;q=0.2,text/plain;q=0.9") is Format.TEXT
    assert negotiate("application/openmetrics-text;q=0") is Format.TEXT
    assert parse_listen("9464") == ("127.0.0.1", 9464)
    assert parse_listen("0.0.0.0:9464") == ("0.0.0.0", 9464)
    assert parse_listen("[::1]:9464") == ("::1", 9464)


class Gate:
    """A check provider that, once armed, holds the refresh inside the check (after the
    read) until released."""

    def __init__(self) -> None:
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, ctx: CheckContext) -> Component | None:
        if self.armed:
            self.entered.set()
            assert self.release.wait(60)
        return None


@pytest.fixture
def served(mixed: Path) -> Iterator[tuple[str, Exporter, Gate]]:
    gate = Gate()
    collector = StoreCollector(Target(f"sqlite:///{mixed}"), name="t", clock=FixedClock(NOW), providers=[gate])
    exporter = Exporter([collector], interval=3600)
    exporter.refresh()
    server = make_server(exporter, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", exporter, gate
    finally:
        gate.release.set()
        server.shutdown()
        server.server_close()
        exporter.stop()


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_http_content_negotiation_and_health(served: tuple[str, Exporter, Gate]) -> None:
    import gzip

    base, _, _ = served
    code, headers, body = get(base + "/metrics", Accept=PROMETHEUS_ACCEPT)
    assert code == 200 and headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert body.endswith(b"# EOF\n") and "schedtui_job_state" in families(body)
    code, headers, body = get(base + "/metrics")
    assert code == 200 and headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert b"# EOF" not in body and b"# TYPE schedtui_job_runs_total counter" in body
    code, headers, zipped = get(base + "/metrics", **{"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip" and gzip.decompress(zipped) == body
    code, _, body = get(base + "/healthz")
    assert code == 200 and body.startswith(b"ok")
    assert get(base + "/nope")[0] == 404


def test_a_scrape_during_a_read_gets_the_last_complete_snapshot(
    served: tuple[str, Exporter, Gate], mixed: Path
) -> None:
    base, exporter, gate = served
    _, _, before = get(base + "/metrics", Accept=PROMETHEUS_ACCEPT)
    with sqlite3.connect(mixed) as conn:  # an operator pauses a job meanwhile
        conn.execute("UPDATE apscheduler_jobs SET next_run_time = NULL WHERE id = 'soon'")
    gate.armed = True
    refresh = threading.Thread(target=exporter.refresh)
    refresh.start()
    assert gate.entered.wait(60)  # the new read is done, the refresh is not
    _, _, during = get(base + "/metrics", Accept=PROMETHEUS_ACCEPT)
    assert during == before  # the previous snapshot, whole
    gate.release.set()
    refresh.join(60)
    _, _, after = get(base + "/metrics", Accept=PROMETHEUS_ACCEPT)
    paused = {dict(k)["state"]: v for k, v in samples(after, "schedtui_jobs").items()}["paused"]
    assert paused == 2 and after.endswith(b"# EOF\n")


# --------------------------------------------------------------------------- backups


def test_backup_families_from_a_real_backup(mixed: Path, tmp_path: Path) -> None:
    from schedtui.core.backup import create_backup

    clock = FixedClock(NOW)
    target = Target(f"sqlite:///{mixed}")
    result = create_backup(target, tmp_path / "backups", clock=clock)
    clock.advance(hours=2)
    options = CheckOptions(backup_dir=str(tmp_path / "backups"))
    store = collect_store(target, name="t", clock=clock, check_options=options)
    body = render([store])
    key = (("store", "t"),)
    assert samples(body, "schedtui_backup_last_verified_timestamp_seconds")[key] == NOW.timestamp()
    assert samples(body, "schedtui_backup_size_bytes")[key] == result.path.stat().st_size
    assert store.backup_size == result.size


def test_failing_jobs_are_problems(mixed: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{mixed}")
    T.create_all(engine)
    _runs(engine, "much-later", ["success", "success", "error"], NOW.timestamp() - 600)  # its last run failed
    engine.dispose()
    body = collect(mixed, per_job=PerJob.PROBLEM, upcoming=0)
    assert _exported(body) == {"overdue", "late", "broken", "much-later"}
    runs = samples(body, "schedtui_job_runs")
    assert runs[(("job_id", "much-later"), ("outcome", "failure"), ("store", "t"))] == 1
    assert {dict(k)["job_id"] for k in runs} == {"much-later"}  # only jobs with recorded runs


@pytest.mark.postgres
def test_exporter_on_postgresql_follows_changes(pg_url: str) -> None:
    url = sa.engine.make_url(pg_url).set(password="pg-s3cret").render_as_string(hide_password=False)
    aps_store(url, [("a", NOW + timedelta(minutes=1)), ("b", NOW + timedelta(minutes=2)), ("c", None)])
    exporter = Exporter([StoreCollector(Target(url), clock=FixedClock(NOW))], interval=3600)
    exporter.refresh()
    server = make_server(exporter, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    engine = sa.create_engine(url)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        _, _, before = get(base + "/metrics", Accept=PROMETHEUS_ACCEPT)
        assert b"pg-s3cret" not in before
        paused = {dict(k)["state"]: v for k, v in samples(before, "schedtui_jobs").items()}["paused"]
        assert paused == 1
        with engine.begin() as conn:  # an operator pauses b
            conn.execute(sa.text("UPDATE apscheduler_jobs SET next_run_time = NULL WHERE id = 'b'"))
        exporter.refresh()
        _, _, after = get(base + "/metrics", Accept=PROMETHEUS_ACCEPT)
        assert {dict(k)["state"]: v for k, v in samples(after, "schedtui_jobs").items()}["paused"] == 2
        (store,) = {dict(k)["store"] for k in samples(after, "schedtui_store_up")}
        assert store.startswith("postgresql+psycopg://postgres:***@")
    finally:
        engine.dispose()
        server.shutdown()
        server.server_close()
        exporter.stop()
