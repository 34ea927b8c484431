"""Prometheus metrics from the judgements ``schedtui check`` makes.

``collect.collect_store`` runs the check (on a warm incremental reader when given one) and
turns its report into a frozen ``StoreMetrics``; ``exposition.render`` writes any number of
them as OpenMetrics or the classic Prometheus text format (through prometheus-client);
``exporter.Exporter`` keeps them fresh in a background thread for ``--listen``.
"""

from typing import TYPE_CHECKING

from schedtui.core.lazy import lazy_attributes
from schedtui.core.metrics.records import (
    JOB_STATES,
    SCHEDULER_STATES,
    Format,
    JobPoint,
    MetricsOptions,
    PerJob,
    RunPoint,
    StoreMetrics,
)

if TYPE_CHECKING:
    from schedtui.core.metrics.collect import StoreCollector, collect_store
    from schedtui.core.metrics.exposition import content_type, negotiate, render

#: Loaded on first use (SQLAlchemy and prometheus-client are not needed to import the
#: records: ``schedtui check`` imports this package's options without paying for them).
_LAZY = {
    "StoreCollector": "collect",
    "collect_store": "collect",
    "content_type": "exposition",
    "negotiate": "exposition",
    "render": "exposition",
}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())

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
