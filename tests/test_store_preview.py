"""``JobStoreReader.preview``: a large table's first rows in the console's order, decoded as
the complete read decodes them, on SQLite, PostgreSQL and MariaDB (real servers, stores written by
real APScheduler). Every previewed job is the full read's job in every respect (datetimes by
fields, fold and zone); only the rest of the table is missing."""

from __future__ import annotations

from datetime import datetime

import pytest

from fixtures.factory import DEFAULT_NOW, cached_sqlite_store, make_store
from fixtures.jobcanon import canon
from schedtui.core.clock import FixedClock
from schedtui.core.model import StoreSnapshot, Target
from schedtui.core.store.reader import JobStoreReader

NOW = datetime.fromisoformat(DEFAULT_NOW)


@pytest.fixture(autouse=True)
def no_probe_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDTUI_DECODE_CACHE", "0")


def check_preview(url: str, count: int, paused: int, *, exact_paused_order: bool) -> None:
    active = count - paused
    assert active > 60 and paused > 0
    for limit in (50, active + min(paused, 20)):  # due rows only; then paused ones too
        reader = JobStoreReader(Target(url), clock=FixedClock(NOW), reprs=False)
        try:
            assert reader.preview(limit, above=count) is None  # a table this small is read whole
            got = reader.preview(limit, above=count - 1)
            assert got is not None and got.total == count
            preview = got.snapshot.jobs
            assert len(preview) == limit and isinstance(got.snapshot, StoreSnapshot)
            full = reader.read().jobs  # (nothing was kept: the whole table is read and decoded)
            assert len(full) == count
            assert reader.preview(limit, above=0) is None  # once read, refreshes are incremental
        finally:
            reader.close()
        by_id = {j.id: j for j in full}
        assert [canon(j) for j in preview] == [canon(by_id[j.id]) for j in preview], url
        ids = {j.id for j in preview}
        assert [j.id for j in preview] == [j.id for j in full if j.id in ids]  # the full read's order
        due = [j.id for j in preview if j.next_run_time is not None]
        assert due == [j.id for j in full[: len(due)]]  # the first due rows, none left out
        assert len(due) == min(limit, active)
        if exact_paused_order:
            assert [j.id for j in preview] == [j.id for j in full[:limit]]


def test_the_preview_is_the_first_rows_of_the_full_read_on_sqlite() -> None:
    path, manifest = cached_sqlite_store("varied", count=3000)
    check_preview(f"sqlite:///{path}", manifest["count"], manifest["paused"], exact_paused_order=True)


def test_the_preview_is_the_first_rows_of_the_full_read_on_postgresql(pg_url: str) -> None:
    manifest = make_store(pg_url, "varied", count=600)
    # (paused rows come by id in the server's collation: the same rows, maybe others first)
    check_preview(pg_url, manifest["count"], manifest["paused"], exact_paused_order=False)


def test_the_preview_is_the_first_rows_of_the_full_read_on_mariadb(mysql_url: str) -> None:
    manifest = make_store(mysql_url, "varied", count=300)
    check_preview(mysql_url, manifest["count"], manifest["paused"], exact_paused_order=False)
