"""The one write transaction every writer uses (control, undelete, the companion's commands).

On SQLite it is ``BEGIN IMMEDIATE``: the write lock is taken up front, so a busy database
waits (``busy_timeout``) instead of failing half-way through a deferred transaction, and a
read-then-write inside it cannot be overtaken by another writer. Elsewhere it is
``engine.begin()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the companion runs in apps on SQLAlchemy 1.3/1.4 too: nothing imported at run time
    from sqlalchemy.engine import Connection, Engine


@contextmanager
def write_txn(engine: Engine) -> Iterator[Connection]:
    """One write transaction on ``engine``: committed when the block ends, rolled back when
    it raises."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.exec_driver_sql("ROLLBACK")
            raise
        conn.exec_driver_sql("COMMIT")
