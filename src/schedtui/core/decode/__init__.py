"""Decoding ``job_state`` without trusting it and without the application's code.

``job_state`` is a pickle anyone who can write the jobs table controls; ``pickle.loads``
on it would run their code, and APScheduler's own loader imports the app's modules and
deletes the rows it cannot restore. This package turns stored rows into ``JobInfo``
records (``core.model``) that equal what APScheduler's loader yields, and turns every row
it cannot decode into a finding (``DecodeFinding``), never a crash. Read it top to bottom:

In the reading process (the console, ``check``, ``jobs``, backups):

1. ``reader``: ``decode_rows(rows)``, the entry point. Oversized rows become ``too-large``
   findings unparsed; rows seen before come from the repeated-probe ``cache``; the rest go
   to the ``sandbox``. *Safety*: this process never unpickles stored bytes and never
   lowers its own limits.
2. ``sandbox``: warm decode workers, each a fresh interpreter (``subprocess``, never a fork
   of the reader), limited in its own process (address space, CPU), fed batches under a
   per-row limit and a total budget (``SCHEDTUI_DECODE_BUDGET``, ``--decode-budget``,
   ``DEFAULT_BUDGET`` seconds). A worker that overruns is killed and restarted and the
   row that caused it becomes a ``too-slow`` finding; rows left when the budget is spent
   become ``time-budget`` findings. *Safety*: a hostile row can cost at most its limit and
   its worker; each row is unpickled once.
3. ``wire``: a worker's results as ``marshal`` of plain tuples (written into a shared
   results area, so a killed worker loses nothing it finished) behind a fixed binary head
   of what ``check`` judges (next run in UTC microseconds, grace, flags, id), checked type
   by type on the way back; a trigger repeated across rows is rebuilt once (a memo keyed by its whole
   wire tuple, which steps aside where triggers do not repeat). *Safety*: ``marshal``
   builds values only, it never calls anything; the memo's key is the whole value.
4. ``cache``: per-target file of ``wire`` records keyed by a digest of each row's id, column and bytes, owner-only, rebuilt when its
   header (decoder sources, Python, APScheduler, zone data) differs; a read that only
   adds rows appends to it. *Safety*: same format as the wire, same checks.
4b. ``table``: for a one-shot read without reprs (``check``), the records are not rebuilt:
   each one's head (id, next run as UTC microseconds, grace, and-trigger bit) goes into
   the columns of a ``core.jobtable.JobTable`` and the record into its temporary file;
   ``wire`` rebuilds a ``JobInfo`` only when it is looked at. *Safety*: the head is fixed
   binary fields, its flags and id checked; ``tests/test_jobtable.py`` compares every job and
   every report with an eager read.

In a decode worker (``worker``: its main loop, its side of the shared areas), per row
(``jobstate.safe_fields``):

5. ``jobstate``: type, size and protocol checks, one unpickling, then the state dict is
   validated key by key and the column compared with the pickled ``next_run_time``.
   *Safety*: only checked plain values leave it; anything shared between rows is keyed
   by ``core.exact`` keys (fold and zone included), so no row depends on another.
6. ``unpickler``: the C unpickler whose ``find_class`` hands out immutable datetime types,
   vetted call *shapes* (``getattr(ZoneInfo, "_unpickle")``, ``_codecs.encode(str,
   "latin1")``, ...) and placeholders; PERSID and EXT closed; a memory guard.
   *Safety*: nothing is imported, an allowed name cannot be used in any other way.
7. ``placeholders``: inert stand-ins for every other class (the app's, APScheduler's),
   which refuse class attribute writes. *Safety*: no method of theirs runs.
8. ``segments``: the trigger-segment cache: a trigger's bytes repeated across rows are
   unpickled once, with a proof from the opcodes that doing it again gives the same
   value; it steps aside on stores where triggers do not repeat. *Safety*: the same
   restricted unpickler; a result is shared only when provably identical.
9. ``triggers``: trigger placeholders -> ``TriggerSpec`` (cron fields re-checked by
   APScheduler's own field parsers, combining triggers' class strings validated).
10. ``zones``: ``ZoneInfo`` from validated IANA keys, and stand-ins for pytz zones (pytz is
    never imported).
11. ``saferepr``: bounded, side-effect-free ``repr`` of args/kwargs (depth, nodes, length).

``findings`` holds the finding codes, the exceptions and the record of an undecoded row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from schedtui.core.lazy import lazy_attributes

if TYPE_CHECKING:
    from schedtui.core.decode.cache import DecodeCache
    from schedtui.core.decode.findings import MAX_ROW_BYTES, DecodeError
    from schedtui.core.decode.reader import decode_row, decode_rows
    from schedtui.core.decode.sandbox import DEFAULT_BUDGET, budget_from_env, prestart

#: Each public name's module, imported on first use: a decode worker imports the stages it
#: runs (5-11) and never the reading process's (1-4b), and ``check`` starts its workers
#: (``prestart``) before it imports the rest.
_HOME = {
    "DEFAULT_BUDGET": "sandbox",
    "MAX_ROW_BYTES": "findings",
    "DecodeCache": "cache",
    "DecodeError": "findings",
    "budget_from_env": "sandbox",
    "decode_row": "reader",
    "decode_rows": "reader",
    "prestart": "sandbox",
}
__getattr__ = lazy_attributes(__name__, _HOME, globals())

__all__ = [
    "DEFAULT_BUDGET",
    "MAX_ROW_BYTES",
    "DecodeCache",
    "DecodeError",
    "budget_from_env",
    "decode_row",
    "decode_rows",
    "prestart",
]
