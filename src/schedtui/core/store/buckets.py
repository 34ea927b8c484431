"""Rowid-range fingerprints of a SQLite jobs table: what a console refresh scans again.

A refresh must find the few rows a scheduler changed among 100,000 without bringing every
row into Python. ``Buckets`` cuts the table into ranges of about ``SIZE`` rows by rowid
(the bounds are taken from a scan, so sparse rowids cost nothing) and keeps, for each range,
one aggregate computed in C by SQLite and the ids the range held. A refresh asks for every
range's aggregate (~45 ms for 100,000 rows), and only the ranges whose aggregate differs are
scanned again; what is found there is compared with what is cached by the reader.

The aggregate is the one the whole table had before, per range: the count, the float and
the exact (integer microseconds modulo a prime) sums of ``next_run_time``, the sum of the
sizes and of time × size. A scheduler's writes change a row's time or its size, which
changes its range's aggregate; the reader's periodic full scan (each row's content hashed)
catches what no aggregate can (a same-size rewrite at the same time).

Rows do not move between ranges unless their rowid changes (``VACUUM`` may renumber, a
delete and an insert of the same id gives a new rowid): then the ranges they left and
entered both change (their counts do), and the ids gone are those that left a changed
range without entering another. A range that grew past ``SPLIT`` rows (inserts land in the
last one) is split; the reader starts again from a whole scan when there are too many.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

#: Rows per range: 782 ranges for 100,000 rows (their aggregates ~45 ms in all, and each
#: changed range ~0.1 ms to scan again).
SIZE = 128
#: A range rescanned with more rows than this is cut into ranges of ``SIZE``.
SPLIT = 4 * SIZE
_LOW, _HIGH = -(2**63), 2**63 - 1
_first = itemgetter(0)

Scanned = tuple[str, Any, int]


def aggregate_sql(table: str, nrt: str) -> str:
    return (
        f"SELECT count(*), total({nrt}), total(length(job_state)), total({nrt} * length(job_state)), "
        f"sum(CAST(round({nrt} * 1000000) AS INTEGER) % 1000000007) FROM {table} "
        "WHERE rowid BETWEEN ? AND ?"
    )


class Buckets:
    """The ranges of one table, their aggregates and ids, as of the last refresh."""

    __slots__ = ("_agg_sql", "_cut_sql", "_scan_sql", "aggs", "ids", "lows")

    def __init__(self, table: str, nrt: str, lows: list[int], ids: list[list[str]], aggs: list[Any]) -> None:
        self._agg_sql = aggregate_sql(table, nrt)
        self._scan_sql = f"SELECT id, {nrt}, length(job_state) FROM {table} WHERE rowid BETWEEN ? AND ?"
        self._cut_sql = f"SELECT rowid, id FROM {table} WHERE rowid BETWEEN ? AND ? ORDER BY rowid"
        #: the first rowid of each range (the first is the lowest possible rowid)
        self.lows = lows
        #: the ids each range held
        self.ids = ids
        #: each range's aggregate
        self.aggs = aggs

    @classmethod
    def build(
        cls, conn: sqlite3.Connection, table: str, nrt: str, rowids: Sequence[int], scan: Sequence[Scanned]
    ) -> Buckets:
        """The ranges of a table whose whole quick scan ``scan`` (in rowid order, in the
        same read transaction) had the rowids ``rowids``."""
        lows = [_LOW, *rowids[SIZE::SIZE]]
        ids = [[d[0] for d in scan[i : i + SIZE]] for i in range(0, max(len(scan), 1), SIZE)]
        made = cls(table, nrt, lows, ids, [])
        made.aggs = made._aggregates(conn, range(len(lows)))
        return made

    def _span(self, i: int) -> tuple[int, int]:
        lows = self.lows
        return lows[i], (lows[i + 1] - 1 if i + 1 < len(lows) else _HIGH)

    def _aggregates(self, conn: sqlite3.Connection, which: Sequence[int] | range) -> list[Any]:
        execute, sql, span = conn.execute, self._agg_sql, self._span
        return [execute(sql, span(i)).fetchone() for i in which]

    def changed(self, conn: sqlite3.Connection) -> tuple[list[int], list[Any]]:
        """The ranges whose aggregate differs from the last one, and every range's new one."""
        now = self._aggregates(conn, range(len(self.lows)))
        return [i for i, (a, b) in enumerate(zip(now, self.aggs, strict=True)) if a != b], now

    def rescan(self, conn: sqlite3.Connection, which: Sequence[int], aggs: list[Any]) -> tuple[list[Scanned], set[str]]:
        """Scan the ranges ``which`` again: their rows as ``(id, next_run_time, size)``, and
        the ids no longer in any of them. Takes ``aggs`` (from ``changed``) as the ranges'
        aggregates; a range that grew past ``SPLIT`` rows is cut (its pieces' aggregates
        queried in the same transaction)."""
        rows: list[Scanned] = []
        left: set[str] = set()
        entered: set[str] = set()
        ids, execute, sql, span = self.ids, conn.execute, self._scan_sql, self._span
        big: list[int] = []
        for i in which:
            found = execute(sql, span(i)).fetchall()
            left.update(ids[i])
            ids[i] = now = list(map(_first, found))
            entered.update(now)
            rows += found
            if len(found) > SPLIT:
                big.append(i)
        self.aggs = aggs
        for i in reversed(big):  # from the end: the indexes before it stay valid
            self._cut(conn, i)
        return rows, left - entered

    def _cut(self, conn: sqlite3.Connection, i: int) -> None:
        """Cut range ``i`` into ranges of ``SIZE`` rows (in the read's transaction)."""
        found = conn.execute(self._cut_sql, self._span(i)).fetchall()
        lows = [self.lows[i], *(d[0] for d in found[SIZE::SIZE])]
        self.lows[i : i + 1] = lows
        self.ids[i : i + 1] = [[d[1] for d in found[k : k + SIZE]] for k in range(0, len(found), SIZE)]
        self.aggs[i : i + 1] = self._aggregates(conn, range(i, i + len(lows)))

    def too_many(self, rows: int) -> bool:
        """Whether there are many more ranges than the rows need (after many deletes)."""
        return len(self.lows) > 2 * (rows // SIZE) + 8
