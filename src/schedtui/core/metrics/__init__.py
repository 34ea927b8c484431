"""Prometheus metrics from the judgements ``schedtui check`` makes.

``collect.collect_store`` runs the check (on a warm incremental reader when given one) and
turns its report into a frozen ``StoreMetrics``; ``render.render`` writes any number of
them as OpenMetrics or the classic Prometheus text format (through prometheus-client);
``exporter.Exporter`` keeps them fresh in a background thread for ``--listen``.
"""

from schedtui.core.metrics.collect import StoreCollector, collect_store
from schedtui.core.metrics.records import (
    JOB_STATES,
    SCHEDULER_STATES,
    JobPoint,
    MetricsOptions,
    PerJob,
    RunPoint,
    StoreMetrics,
)
from schedtui.core.metrics.render import Format, content_type, negotiate, render

__all__ = [
    "JOB_STATES",
    "SCHEDULER_STATES",
    "Format",
    "JobPoint",
    "MetricsOptions",
    "PerJob",
    "RunPoint",
    "StoreCollector",
    "StoreMetrics",
    "collect_store",
    "content_type",
    "negotiate",
    "render",
]
