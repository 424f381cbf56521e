"""Alerting as code: rules defined once, rendered as OpenSearch monitors and an anomaly detector, and
evaluated over the lake."""

from __future__ import annotations

from dashboards.alerts.detector import detector_requests
from dashboards.alerts.monitors import monitor_requests
from dashboards.alerts.rules import AlertRules
from dashboards.cluster import ClusterRequest


def alert_requests(rules: AlertRules, index_pattern: str) -> list[ClusterRequest]:
    """Every monitor, then the anomaly detector: what setup sends for ``[alerts]``."""
    return [
        *monitor_requests(rules, index_pattern),
        *detector_requests(rules.anomaly_detection, index_pattern),
    ]
