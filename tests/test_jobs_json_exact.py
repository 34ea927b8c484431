"""``schedtui jobs --json`` is byte for byte the same with and without the description caches.

The caches in ``schedtui.core.describe`` (parsed cron fields by expression text, cron-descriptor
sentences by expression, one shared gettext catalogue, the exact-key memo of whole
descriptions and its pause when it does not pay) may change how fast a description is made,
never what it says. The reference is the same command with every one of them switched off;
the stores are varied (every job its own trigger and start date, several zone kinds) and the
oracle's random stores (every trigger kind, DST gaps and folds, fold=1 instants, dates near
the ends of the calendar, pytz and fixed-offset zones). Each comparison runs over several
stores in one process in both orders, so nothing carried from one read to the next can hide.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from fixtures.factory import DEFAULT_NOW, cached_sqlite_store
from schedtui.cli import cmd_check
from schedtui.cli.app import main
from schedtui.core import describe
from schedtui.core.clock import FixedClock

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime.fromisoformat(DEFAULT_NOW)


def jobs_json(path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The exact stdout of ``schedtui jobs --json`` on ``path`` at the fixture's ``now``."""
    monkeypatch.setattr(cmd_check, "CLOCK", FixedClock(NOW))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(["jobs", "--url", f"sqlite:///{path}", "--table", "apscheduler_jobs", "--json"])
        except SystemExit as exc:
            assert not exc.code, exc.code
    return out.getvalue()


@contextlib.contextmanager
def caches_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every cache of ``describe`` switched off: each description computed from scratch,
    cron-descriptor built by its own constructor (which loads its catalogue every time)."""
    with monkeypatch.context() as m:
        m.setattr(describe, "_describe_cached", describe._describe)
        m.setattr(describe, "_field", describe._parse_field)
        m.setattr(describe, "_cron_descriptor", describe._cron_sentence)
        m.setattr(describe, "_descriptor_factory", lambda: describe._plain_descriptor)
        yield


@pytest.fixture(scope="module")
def oracle_stores(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two of the oracle's random stores, written by real APScheduler."""
    base = tmp_path_factory.mktemp("jobs-json-oracle")
    paths = [base / f"oracle{i}.db" for i in range(2)]
    cmd = [sys.executable, str(ROOT / "tests/fixtures/oracle_store.py"), "--seed", "4242", "--count", "150"]
    cmd += ["--now", NOW.isoformat()]
    for p in paths:
        cmd += ["--url", f"sqlite:///{p}"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT), env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return paths


@pytest.fixture(scope="module")
def stores(oracle_stores: list[Path]) -> list[Path]:
    varied, _ = cached_sqlite_store("varied", count=3000)
    catalog, _ = cached_sqlite_store("catalog")
    bench, _ = cached_sqlite_store("bench", count=3000)
    return [varied, *oracle_stores, catalog, bench]


@pytest.fixture(autouse=True)
def fresh_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(describe, "_MEMO", describe._Memo())


def test_jobs_json_is_byte_identical_without_the_caches(stores: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    with caches_off(monkeypatch):
        reference = [jobs_json(p, monkeypatch) for p in stores]
    for order in (stores, stores[::-1], stores):  # the third pass: every cache warm
        for p in order:
            got = jobs_json(p, monkeypatch)
            assert got == reference[stores.index(p)], f"{p.name}: output differs from the uncached reference"
    assert all('"jobs": [' in r for r in reference) and sum(r.count('"trigger": "') for r in reference) > 6000


def test_memo_pausing_and_resuming_changes_nothing(stores: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiny window makes the memo pause and resume many times within one store."""
    with caches_off(monkeypatch):
        reference = [jobs_json(p, monkeypatch) for p in stores]
    monkeypatch.setattr(describe._Memo, "WINDOW", 7)
    monkeypatch.setattr(describe._Memo, "PAUSE", 11)
    monkeypatch.setattr(describe._Memo, "MAX", 64)
    monkeypatch.setattr(describe, "_MEMO", describe._Memo())
    paused = 0
    real = describe._describe

    def counting(spec: describe.TriggerSpec) -> str:
        nonlocal paused
        paused += describe._MEMO.skip > 0
        return real(spec)

    monkeypatch.setattr(describe, "_describe", counting)
    for p in [*stores, *stores[::-1]]:
        assert jobs_json(p, monkeypatch) == reference[stores.index(p)], p.name
    assert paused > 100, "the varied stores make the memo pause"


def _reference_stream(head: dict[str, object], key: str, items: list[object]) -> str:
    """``print_json_stream``'s format, item by item with ``json.dumps`` (as it was written)."""
    import json

    from schedtui.cli.common import json_default
    from schedtui.core.text import json_safe

    def dump(value: object, **kw: object) -> str:
        return json_safe(json.dumps(value, default=json_default, ensure_ascii=False, **kw))  # type: ignore[arg-type]

    body = dump(head, indent=2)
    out = [body[:-2] if head else "{", ",\n" if head else "\n", f"  {dump(key)}: ["]
    for i, item in enumerate(items):
        out += ["\n    " if i == 0 else ",\n    ", dump(item)]
    out.append("\n  ]\n}\n" if items else "]\n}\n")
    return "".join(out)


@pytest.mark.parametrize("chunk", [1, 50, 1 << 16])
@pytest.mark.parametrize("count", [0, 1, 7, 300])
def test_the_chunked_stream_is_the_item_by_item_stream(chunk: int, count: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from schedtui.cli import common

    monkeypatch.setattr(common, "STREAM_CHUNK", chunk)
    head = {"schema": "schedtui.jobs/1", "read_at": NOW}
    items: list[object] = [
        {"id": f"j\u202e{i}\x7f", "n": i, "at": NOW, "s": {1, 2} if i % 3 else None, "ü": [i, 1.5]}
        for i in range(count)
    ]
    for h in (head, {}):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            common.print_json_stream(h, "jobs", iter(items))
        assert out.getvalue() == _reference_stream(h, "jobs", items)
