"""Stage 1b, in the reading process: a one-shot read's results as a ``core.jobtable.JobTable``.

``decode_rows(..., records=True)`` hands back each decoded row as its ``wire`` record
instead of a rebuilt ``JobInfo``, with the record's head (``wire.head``: id, the next
run's UTC instant, the misfire grace, whether it is a finding, whether the trigger holds
an ``AndTrigger``, which the worker wrote in fixed binary fields). ``TableBuilder`` keeps
the heads as columns and spills the records to the table's temporary file; ``wire.job``
rebuilds (and checks) the whole ``JobInfo`` when somebody asks for that job. A record that
does not rebuild becomes an ``internal`` finding then, as it would in an eager read.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from operator import itemgetter
from typing import TYPE_CHECKING

from schedtui.core.decode import wire
from schedtui.core.decode.findings import not_decoded
from schedtui.core.decode.wire import Head
from schedtui.core.jobtable import JobTable, Marks, Spill, job_mark
from schedtui.core.model import JobInfo

if TYPE_CHECKING:
    from schedtui.core.decode.cache import DecodeCache


def _build(data: bytes) -> JobInfo:
    """``wire.job``, with a record that does not rebuild turned into a finding."""
    try:
        return wire.job(data)
    except wire.WireError as exc:
        try:
            jid = wire.head(data)[0]
        except wire.WireError:
            jid = ""
        return not_decoded((jid, None, b""), "internal", f"decoder error: {exc}")


class TableBuilder:
    """Collects one read's results (in any order) and sorts them into a ``JobTable``."""

    def __init__(self, *, resident: bool = False) -> None:
        #: Records are kept by reference (they are in memory anyway: the repeated-probe
        #: cache holds them), else written to the table's temporary file.
        self._keep = resident
        self._spill = Spill()
        self._ids: list[str] = []
        self._instants = array("q")
        self._graces = array("d")
        self._flags = bytearray()
        self._offsets = array("q")
        self._lengths = array("q")
        self._ready: dict[int, JobInfo] = {}
        #: Once the cache's file is shared (``add_cached``): every entry, in order, as a
        #: position in the cache's columns followed by this builder's own (from ``_base``).
        self._cache: DecodeCache | None = None
        self._base = 0
        self._src: list[int] = []

    def add(self, result: tuple[Head, bytes] | JobInfo) -> None:
        """One row's result: a worker's ``wire`` record with its ``head``, or a ``JobInfo``
        made here (a finding)."""
        if type(result) is JobInfo:
            self._add_job(result)
            return
        (jid, instant, grace, flags), data = result  # type: ignore[misc]
        at, length = self._spill.keep(data) if self._keep else self._spill.append(data)
        self._ids.append(jid)
        self._instants.append(instant)
        self._graces.append(grace)
        self._flags.append(flags)
        self._offsets.append(at)
        self._lengths.append(length)
        if self._cache is not None:
            self._src.append(self._base + len(self._ids) - 1)

    def add_cached(self, cache: DecodeCache, positions: Sequence[int]) -> None:
        """The records at ``positions`` of the repeated-probe cache, with their heads, as
        ``add`` would take them one by one (C-level gathers from the cache's columns)."""
        if not positions:
            return
        if self._cache is cache:
            self._src.extend(positions)
            return
        if self._cache is None and self._keep and cache.file is not None and self._spill.share(cache.file):
            # the records stay in the cache file until somebody looks at their job, and
            # the heads in the cache's columns until ``finish`` gathers them once
            self._cache, self._base = cache, len(cache.ids)
            self._src = list(range(self._base, self._base + len(self._ids)))
            self._src.extend(positions)
            return
        if self._cache is not None:  # another cache's entries: this builder's own
            start = self._base + len(self._ids)
            self._src.extend(range(start, start + len(positions)))
        for at in positions:
            data = cache.record(at)
            place = self._spill.keep(data) if self._keep else self._spill.append(data)
            self._offsets.append(place[0])
            self._lengths.append(place[1])
        self._ids.extend(map(cache.ids.__getitem__, positions))
        self._instants.extend(map(cache.instants.__getitem__, positions))
        self._graces.extend(map(cache.graces.__getitem__, positions))
        self._flags.extend(map(cache.flags.__getitem__, positions))

    def _add_job(self, job: JobInfo) -> None:
        self._ready[len(self._ids)] = job
        jid, instant, grace, flags = job_mark(job)
        self._ids.append(jid)
        self._instants.append(instant)
        self._graces.append(grace)
        self._flags.append(flags)
        self._offsets.append(-1)
        self._lengths.append(0)
        if self._cache is not None:
            self._src.append(self._base + len(self._ids) - 1)

    def finish(self) -> JobTable:
        """The table, in ``store.sort_key`` order: next run's UTC instant (paused jobs
        last), then id. Once the cache's file is shared (``add_cached``) the entries are
        positions (``_src``) in the cache's columns followed by this builder's own: those
        are sorted, and every column the judgement reads is gathered once (the records'
        places are looked up through the order, for the few jobs somebody looks at)."""
        self._spill.flush()
        cache, base = self._cache, self._base
        if cache is None:
            src: Sequence[int] = range(len(self._ids))
            ids, instants, graces = self._ids, self._instants, self._graces
            flags, offsets, lengths = self._flags, self._offsets, self._lengths
        else:
            src = self._src
            ids, instants, graces = cache.ids + self._ids, cache.instants + self._instants, cache.graces + self._graces
            flags, offsets = cache.flags + self._flags, cache.offsets + self._offsets
            lengths = cache.lengths + self._lengths
        order = sorted(src, key=ids.__getitem__)
        order.sort(key=instants.__getitem__)  # stable: by instant, then id
        ready: dict[int, JobInfo] = {}
        if self._ready:
            mine = {base + old: job for old, job in self._ready.items()}
            ready = {new: mine[at] for new, at in enumerate(order) if at in mine}
        if len(order) > 1:  # one C gather per column (``itemgetter`` of 2+ items: a tuple)
            pick = itemgetter(*order)
            marks = Marks(
                ids=pick(ids),
                instants=array("q", pick(instants)),
                graces=array("d", pick(graces)),
                flags=bytes(pick(flags)),
            )
        else:
            marks = Marks(
                ids=tuple(map(ids.__getitem__, order)),
                instants=array("q", map(instants.__getitem__, order)),
                graces=array("d", map(graces.__getitem__, order)),
                flags=bytes(map(flags.__getitem__, order)),
            )
        # the records' places stay in entry order: only the few jobs looked at need them
        places = (array("q", order), offsets, lengths)
        return JobTable(marks, places, self._spill, _build, ready)
