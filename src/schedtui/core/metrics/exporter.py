"""The long-running exporter: a background thread keeps every store's collection fresh on
its warm incremental reader; a scrape is served the last complete snapshot.

A refresh builds a whole new ``Exposition`` and swaps it in with one assignment, so a
scrape that arrives while a read is in progress gets the previous snapshot, never a
partial one. Each exposition is rendered at most once per format and encoding; the
formats scrapers have asked for are rendered by the refresh itself, before the swap, so a
scrape only sends bytes.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from schedtui.core.gcpause import paused
from schedtui.core.metrics.collect import StoreCollector
from schedtui.core.metrics.exposition import render
from schedtui.core.metrics.records import Format, StoreMetrics


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    message: str


class Exposition:
    """One complete snapshot of every store and its renderings."""

    def __init__(self, stores: Sequence[StoreMetrics], made_at: float, took: float) -> None:
        self.stores = tuple(stores)
        self.made_at = made_at  #: monotonic time the read and judgement finished
        self.took = took  #: seconds the refresh took (read, judgement, rendering)
        self._bodies: dict[tuple[Format, bool], bytes] = {}
        self._lock = threading.Lock()

    def body(self, fmt: Format, *, compressed: bool = False) -> bytes:
        key = (fmt, compressed)
        with self._lock:
            found = self._bodies.get(key)
            if found is None:
                plain = self._bodies.get((fmt, False))
                if plain is None:
                    plain = self._bodies[(fmt, False)] = render(self.stores, fmt)
                found = gzip.compress(plain, compresslevel=5) if compressed else plain
                self._bodies[key] = found
            return found


class Exporter:
    """Refreshes ``collectors`` every ``interval`` seconds in a daemon thread."""

    def __init__(
        self,
        collectors: Sequence[StoreCollector],
        interval: float = 5.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not collectors:
            raise ValueError("an exporter needs at least one store")
        self.collectors = tuple(collectors)
        self.interval = max(float(interval), 0.05)
        self._monotonic = monotonic
        self._current: Exposition | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refresh_lock = threading.Lock()
        self._wanted: set[tuple[Format, bool]] = set()
        self._wanted_lock = threading.Lock()
        self.last_error: str | None = None

    @property
    def current(self) -> Exposition | None:
        """The last complete snapshot (None before the first refresh finished)."""
        return self._current

    def refresh(self) -> Exposition:
        """Collect every store once and publish the result."""
        with self._refresh_lock:
            started = self._monotonic()
            with paused():  # a refresh makes many long-lived objects: no GC walks meanwhile
                stores = [c.collect() for c in self.collectors]
            done = self._monotonic()
            exposition = Exposition(stores, done, done - started)
            with self._wanted_lock:
                wanted = tuple(self._wanted)
            for fmt, compressed in wanted:  # render before publishing
                exposition.body(fmt, compressed=compressed)
            exposition.took = self._monotonic() - started
            self._current = exposition  # one reference swap: scrapes see old or new, whole
            return exposition

    def body(self, fmt: Format, *, compressed: bool = False) -> bytes | None:
        """The current snapshot in ``fmt`` (None before the first refresh); later refreshes
        render this format ahead of the scrapes."""
        with self._wanted_lock:
            self._wanted.add((fmt, compressed))
        current = self._current
        return None if current is None else current.body(fmt, compressed=compressed)

    def start(self) -> None:
        """Refresh once (so the first scrape has data), then keep refreshing in the background."""
        if self._current is None:
            self.refresh()
        self._thread = threading.Thread(target=self._loop, name="schedtui-metrics-refresh", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
                self.last_error = None
            except Exception as exc:  # a bug must not stop the exporter: keep serving the last snapshot
                self.last_error = f"{type(exc).__name__}: {exc}"

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        for c in self.collectors:
            c.close()

    def health(self) -> Health:
        """OK while the last refresh is recent (three intervals, at least 30 s)."""
        current = self._current
        if current is None:
            return Health(False, "no snapshot yet")
        age = self._monotonic() - current.made_at
        limit = max(3 * self.interval, 30.0) + current.took
        if age > limit:
            extra = f" ({self.last_error})" if self.last_error else ""
            return Health(False, f"stale: last refresh {age:.0f} s ago{extra}")
        return Health(True, f"ok: {len(current.stores)} store(s), refreshed {age:.1f} s ago in {current.took:.3f} s")
