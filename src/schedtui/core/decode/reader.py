"""Stage 1, in the reading process: rows in, ``JobInfo`` records out, never unpickling.

``decode_rows`` is what every reader calls (``store``, the console, ``check``, backups,
undelete). It

1. answers rows larger than ``MAX_ROW_BYTES`` as ``too-large`` findings without sending them;
2. answers rows the repeated-probe cache (``decode.cache``) has seen with the same id,
   column and bytes from the cache (``decode.wire`` records, type-checked when read);
3. sends the rest to the sandbox (``decode.sandbox``): warm worker processes that unpickle
   each row once and send back ``decode.wire`` records; rows the sandbox did not decode
   (too slow, over the total time budget, a worker that died) come back as findings.

Safety argument: this process never unpickles stored bytes and never lowers its own limits;
what it receives from a worker or the cache is ``marshal`` of plain tuples, checked field by
field. ``watchdog=False`` decodes in this process: only for bytes that are not from a store
(tests, the worker itself).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from schedtui.core.decode import cache as _cache
from schedtui.core.decode import sandbox, wire
from schedtui.core.decode.cache import DecodeCache
from schedtui.core.decode.findings import MAX_ROW_BYTES, not_decoded, state_size
from schedtui.core.jobtable import UNDECODABLE
from schedtui.core.model import NOT_RENDERED, DecodeFinding, JobInfo

if TYPE_CHECKING:
    from schedtui.core.decode.table import TableBuilder

_ID = itemgetter(0)


def decode_row(job_id: str, next_run_time: float | None, job_state: bytes, *, watchdog: bool = True) -> JobInfo:
    """Decode one row of the jobs table. Never raises.

    With ``watchdog`` (the default) the row is decoded in the sandbox (a warm worker
    process: see ``decode_rows``); without it, in THIS process (only for bytes that are
    not from the store, or inside a decode worker).
    """
    try:
        job: JobInfo = decode_rows([(job_id, next_run_time, job_state)], watchdog=watchdog)[0]
        return job
    except Exception as exc:
        return JobInfo(
            id=str(job_id)[:191],
            next_run_time=None,
            state_size=state_size(job_state),
            finding=DecodeFinding("internal", f"decoder error: {type(exc).__name__}"),
        )


def decode_rows(
    rows: Iterable[Sequence[Any]],
    *,
    watchdog: bool = True,
    meanwhile: Callable[[], object] | None = None,
    budget: float | None = None,
    cache: DecodeCache | None = None,
    reprs: bool = True,
    records: bool = False,
) -> list[Any]:
    """Decode many ``(id, next_run_time, job_state)`` rows. Never raises for a row.

    With ``watchdog`` (the default) the rows are decoded in the sandbox's worker processes
    (``decode.sandbox``): this process never unpickles them. A row that takes longer than
    ``sandbox.ROW_LIMIT`` seconds becomes a ``too-slow`` finding; rows not decoded
    within ``budget`` seconds in all (default ``SCHEDTUI_DECODE_BUDGET`` or
    ``sandbox.DEFAULT_BUDGET``) become ``time-budget`` findings. ``meanwhile`` is called
    here while the workers run (its errors are ignored). Without ``watchdog`` the rows are
    decoded in this process (what a worker does). ``cache`` (a ``decode.cache.DecodeCache``)
    answers the rows whose id, column and bytes it saw decoded before. Without ``reprs``
    the args/kwargs of decoded rows are ``model.NOT_RENDERED`` (for commands that never
    print them; everything else is the same). With ``records`` each decoded row comes back
    as its ``wire`` record (bytes) instead of a ``JobInfo`` (for ``decode.table``); rows not
    decoded are still ``JobInfo`` findings.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    if not watchdog:
        from schedtui.core.decode.jobstate import decode_serial

        return decode_serial(rows, reprs=reprs)
    # Oversized rows are findings without being parsed (nor sent to a worker).
    big = [
        i for i, r in enumerate(rows) if isinstance(r[2], (bytes, bytearray, memoryview)) and len(r[2]) > MAX_ROW_BYTES
    ]
    if big:
        skip = set(big)
        rest = [r for i, r in enumerate(rows) if i not in skip]
        decoded = iter(decode_rows(rest, meanwhile=meanwhile, budget=budget, cache=cache, reprs=reprs, records=records))
        return [
            not_decoded(r, "too-large", f"job_state is {len(r[2])} bytes (limit {MAX_ROW_BYTES})")
            if i in skip
            else next(decoded)
            for i, r in enumerate(rows)
        ]
    if cache is not None:
        return _decode_cached(rows, cache, budget, meanwhile, reprs, records)
    results = sandbox.pool().decode(
        rows, budget=budget, meanwhile=meanwhile, reprs=reprs, records=_with_head if records else None
    )
    done = tuple if records else JobInfo
    return [r if type(r) is done else _failed(rows[i], r) for i, r in enumerate(results)]


def _failed(row: Sequence[Any], r: Any) -> JobInfo:
    return not_decoded(row, r.code, r.message)


def _with_head(data: bytes) -> tuple[Any, bytes]:
    """``(head, data)`` for ``decode.table`` (raises ``WireError``)."""
    return (wire.head(data), data)


def cached(keys: Sequence[Hashable], cache: DecodeCache, *, reprs: bool, records: bool) -> tuple[list[Any], list[int]]:
    """What the repeated-probe cache answers for rows with these ``row_key``s: the results
    (as ``decode_rows`` gives them; None where it has none) and the positions it cannot
    answer. A record without reprs answers only a read that does not want them; a record
    that does not read back is forgotten and its row decoded again."""
    out: list[Any] = [None] * len(keys)
    misses: list[int] = []
    for i, key in enumerate(keys):
        data = cache.get(key)
        if data is not None:
            try:
                if records and not reprs:  # the rest is checked by wire.job when rebuilt
                    out[i] = (wire.head(data), data)
                    continue
                job = wire.job(data)
            except wire.WireError:
                pass
            else:
                if not reprs or job.finding is not None or job.args_repr != NOT_RENDERED:
                    out[i] = job
                    continue
            cache.forget(key)
        misses.append(i)
    return out, misses


def _decode_cached(
    rows: list[Sequence[Any]],
    cache: DecodeCache,
    budget: float | None,
    meanwhile: Callable[[], object] | None,
    reprs: bool,
    records: bool = False,
) -> list[Any]:
    """``decode_rows`` through the repeated-probe cache: only unseen rows go to the sandbox."""
    keys = _cache.row_keys(rows)
    out, misses = cached(keys, cache, reprs=reprs, records=records)
    if misses:
        todo = [rows[i] for i in misses]
        raw: list[bytes | None] = [None] * len(todo)
        results = sandbox.pool().decode(
            todo, budget=budget, meanwhile=meanwhile, raw=raw, reprs=reprs, records=_with_head if records else None
        )
        for j, (i, r) in enumerate(zip(misses, results, strict=True)):
            if type(r) is JobInfo:
                out[i] = r
                sent = raw[j]
                if sent is not None and (r.finding is None or r.finding.code not in _cache.TRANSIENT):
                    cache.put(keys[i], sent)
            elif type(r) is tuple:
                out[i] = r
                if not (r[0][3] & UNDECODABLE and _transient(r[1])):
                    cache.put(keys[i], r[1])
            else:
                out[i] = _failed(rows[i], r)
    return out


def decode_into(
    builder: TableBuilder,
    rows: Sequence[Sequence[Any]],
    *,
    cache: DecodeCache,
    budget: float | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> None:
    """``decode_rows(rows, cache=cache, reprs=False, records=True)`` added to ``builder``
    (``decode.table``): the rows the cache answers go in as whole columns (no Python per
    row), then the others as ``decode_rows`` decodes them. Rows with one id twice are
    added one by one, in order (the table orders equal ids as they came)."""
    ids = list(map(_ID, rows))
    if len(set(ids)) != len(ids):
        for result in decode_rows(rows, meanwhile=meanwhile, budget=budget, cache=cache, reprs=False, records=True):
            builder.add(result)
        return
    hits, misses = cache.lookup(_cache.row_keys(rows))
    builder.add_cached(cache, hits)
    if misses:
        todo = [rows[i] for i in misses]
        for result in decode_rows(todo, meanwhile=meanwhile, budget=budget, cache=cache, reprs=False, records=True):
            builder.add(result)


def _transient(data: bytes) -> bool:
    """Whether a wire record's finding is one the cache must not keep."""
    try:
        finding = wire.values(data)[3]
    except wire.WireError:
        return True
    return finding is not None and (type(finding) is not tuple or not finding or finding[0] in _cache.TRANSIENT)
