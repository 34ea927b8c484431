"""``StoreMetrics`` as metric families, rendered by prometheus-client.

Two formats: OpenMetrics 1.0 (``application/openmetrics-text``) and the classic
Prometheus text format 0.0.4 (``text/plain``), which node_exporter's textfile collector
reads. prometheus-client escapes label values (backslash, double quote, newline) and the
help texts; ``labels.clean_label`` has already replaced every other unsafe character.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.exposition import generate_latest as generate_text
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    StateSetMetricFamily,
)
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as CONTENT_TYPE_OPENMETRICS
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from schedtui.core.metrics.records import JOB_STATES, SCHEDULER_STATES, Format, JobPoint, RunPoint, StoreMetrics

#: Quantiles of ``schedtui_job_run_duration_seconds`` (1 is the maximum).
QUANTILES: tuple[tuple[str, str], ...] = (("0.5", "p50"), ("0.95", "p95"), ("1", "max"))


def content_type(fmt: Format) -> str:
    return CONTENT_TYPE_OPENMETRICS if fmt is Format.OPENMETRICS else CONTENT_TYPE_PLAIN_0_0_4


def negotiate(accept: str | None) -> Format:
    """OpenMetrics when the ``Accept`` header prefers ``application/openmetrics-text``
    (by q-value) over ``text/plain``; the classic text format otherwise."""
    best: dict[Format, float] = {}
    for part in (accept or "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        fmt = {"application/openmetrics-text": Format.OPENMETRICS, "text/plain": Format.TEXT}.get(media.lower())
        if fmt is not None and q > 0:
            best[fmt] = max(best.get(fmt, 0.0), q)
    om, text = best.get(Format.OPENMETRICS), best.get(Format.TEXT)
    return Format.OPENMETRICS if om is not None and (text is None or om >= text) else Format.TEXT


def _gauge(name: str, doc: str, labels: Sequence[str], unit: str = "") -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels), unit=unit)


def _per_store(stores: Sequence[StoreMetrics]) -> Iterator[Metric]:
    status = _gauge("schedtui_check_status", "The check's status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.", ["store"])
    up = _gauge("schedtui_store_up", "1 when the jobs table was read in the last refresh.", ["store"])
    read = _gauge("schedtui_read_duration_seconds", "Time the last read of the jobs table took.", ["store"], "seconds")
    jobs = _gauge("schedtui_jobs", "Jobs by state, as the check counts them.", ["store", "state"])
    bad = _gauge("schedtui_undecodable_rows", "Rows of the jobs table that cannot be decoded.", ["store"])
    late = _gauge(
        "schedtui_rows_not_decoded_in_time",
        "Rows of the jobs table the last read ran out of decode time for (see --decode-budget).",
        ["store"],
    )
    exported = _gauge("schedtui_exported_jobs", "Jobs given per-job series (see --per-job).", ["store"])
    age = _gauge(
        "schedtui_scheduler_heartbeat_age_seconds",
        "Seconds since the newest companion heartbeat.",
        ["store"],
        "seconds",
    )
    sched = StateSetMetricFamily(
        "schedtui_scheduler_state",
        "The scheduler as the companion's heartbeat says (none: no heartbeat).",
        labels=["store"],
    )
    verified = _gauge(
        "schedtui_backup_last_verified_timestamp_seconds",
        "When the newest verified backup was made (Unix time).",
        ["store"],
        "seconds",
    )
    at = _gauge(
        "schedtui_snapshot_timestamp_seconds", "When this store was last judged (Unix time).", ["store"], "seconds"
    )
    size = _gauge("schedtui_backup_size_bytes", "Size of the newest verified backup.", ["store"], "bytes")
    for s in stores:
        key = [s.store]
        status.add_metric(key, s.status)
        at.add_metric(key, s.at)
        up.add_metric(key, 1 if s.up else 0)
        if s.read_seconds is not None:
            read.add_metric(key, s.read_seconds)
        for state, count in s.jobs_by_state:
            jobs.add_metric([s.store, state], count)
        if s.undecodable is not None:
            bad.add_metric(key, s.undecodable)
        if s.not_decoded_in_time is not None:
            late.add_metric(key, s.not_decoded_in_time)
        if s.up:
            exported.add_metric(key, len(s.jobs))
        if s.heartbeat_age is not None:
            age.add_metric(key, s.heartbeat_age)
        if s.scheduler_state is not None:
            sched.add_metric(key, {state: state == s.scheduler_state for state in SCHEDULER_STATES})
        if s.backup_last_verified is not None:
            verified.add_metric(key, s.backup_last_verified)
        if s.backup_size is not None:
            size.add_metric(key, s.backup_size)
    yield from (status, up, at, read, jobs, bad, late, exported, age, sched, verified, size)


def _per_job(stores: Sequence[StoreMetrics]) -> Iterator[Metric]:
    names = ["store", "job_id"]  # not "job": that is the scrape target's label
    nrt = _gauge("schedtui_job_next_run_timestamp_seconds", "When the job runs next (Unix time).", names, "seconds")
    lag = _gauge(
        "schedtui_job_lag_seconds", "Seconds the job is past its next run time (negative: not due).", names, "seconds"
    )
    grace = _gauge(
        "schedtui_job_misfire_grace_seconds",
        "The grace the check judges the job with: max(misfire_grace_time, --grace-floor).",
        names,
        "seconds",
    )
    state = StateSetMetricFamily("schedtui_job_state", "The job's state as the check judges it.", labels=names)
    for s in stores:
        for p in s.jobs:
            key = [s.store, p.job]
            if p.next_run is not None:
                nrt.add_metric(key, p.next_run)
            if p.lag is not None:
                lag.add_metric(key, p.lag)
            grace.add_metric(key, p.grace)
            state.add_metric(key, _states(p))
    yield from (nrt, lag, grace, state)


def _states(p: JobPoint) -> dict[str, bool]:
    flags = {"undecodable": p.undecodable, "not_decoded_in_time": p.not_decoded_in_time}
    return {name: flags.get(name, name == p.state) for name in JOB_STATES}


def _history(stores: Sequence[StoreMetrics]) -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "schedtui_job_runs",
        "Recorded runs by outcome (every run the companion retains).",
        labels=["store", "job_id", "outcome"],
    )
    durations = Metric(
        "schedtui_job_run_duration_seconds",
        "Duration quantiles of the successful runs among the job's last 100 recorded runs.",
        "summary",
        "seconds",
    )
    for s in stores:
        for r in s.runs:
            for outcome, count in (("success", r.successes), ("failure", r.failures), ("skipped", r.skipped)):
                runs.add_metric([s.store, r.job, outcome], count)
            _quantiles(durations, s.store, r)
    yield from (runs, durations)


def _quantiles(family: Metric, store: str, r: RunPoint) -> None:
    for quantile, attr in QUANTILES:
        value = getattr(r, attr)
        if value is not None:
            family.add_sample(family.name, {"store": store, "job_id": r.job, "quantile": quantile}, value)


class StoresCollector:
    """A prometheus-client collector over fixed ``StoreMetrics``."""

    def __init__(self, stores: Sequence[StoreMetrics]) -> None:
        self._stores = tuple(stores)

    def collect(self) -> Iterable[Metric]:
        yield from _per_store(self._stores)
        yield from _per_job(self._stores)
        yield from _history(self._stores)


_RENDERERS: dict[Format, Callable[[StoresCollector], bytes]] = {
    Format.OPENMETRICS: generate_openmetrics,
    Format.TEXT: generate_text,
}


def render(stores: Sequence[StoreMetrics], fmt: Format = Format.OPENMETRICS) -> bytes:
    """The exposition of ``stores`` in ``fmt`` (UTF-8)."""
    return _RENDERERS[fmt](StoresCollector(stores))
