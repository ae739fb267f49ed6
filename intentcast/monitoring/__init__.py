"""Operations view of a running Intentcast: read its metrics and status topics, summarise them.

Shared by `intentcast monitor` (terminal), `intentcast dashboard` (web page) and the
Prometheus `/metrics` endpoint, so all three always show the same figures.
"""

from intentcast.monitoring.aggregate import FLOWS, Aggregator, Point, View
from intentcast.monitoring.prometheus import CONTENT_TYPE, exposition, metric_name
from intentcast.monitoring.reader import MonitorError, TopicReader

__all__ = [
    "CONTENT_TYPE",
    "FLOWS",
    "Aggregator",
    "MonitorError",
    "Point",
    "TopicReader",
    "View",
    "exposition",
    "metric_name",
]
