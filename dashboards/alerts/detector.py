"""An OpenSearch Anomaly Detection detector on the block rate of each web ACL.

A high-cardinality detector (``category_field``) learns one model per (web ACL name, account id), the
same key the monitors bucket on, so a web ACL whose block rate departs from its own history is flagged
without a fixed threshold. The feature is the mean of 1 for a blocked request and 0 otherwise; the
OpenSearch docs document ``avg``/``sum`` for numeric fields only and say nothing of ``boolean``, so the
0/1 comes from a Painless script over ``waflens.blocked`` (a boolean doc value) rather than the field.
"""

from __future__ import annotations

from typing import Final

from dashboards.alerts.monitors import ACCOUNT, TIME, WEBACL
from dashboards.alerts.rules import AnomalyDetection, minutes
from dashboards.cluster import Body, ClusterRequest, digest

PATH: Final = "/_plugins/_anomaly_detection/detectors"
NAME: Final = "waflens-block-rate"
FEATURE: Final = "block_rate"
BLOCK_RATE_SCRIPT: Final = "doc['waflens.blocked'].size() > 0 && doc['waflens.blocked'].value ? 1 : 0"


def _period(value: int) -> Body:
    return {"period": {"interval": value, "unit": "Minutes"}}


def detector(settings: AnomalyDetection, index_pattern: str) -> Body:
    """The detector's create body; the description ends with ``[digest …]`` so setup can compare it."""
    body: Body = {
        "name": NAME,
        "description": "Block rate (blocked / all requests) per web ACL and account, learnt by waflens",
        "time_field": TIME,
        "indices": [index_pattern],
        "feature_attributes": [
            {
                "feature_name": FEATURE,
                "feature_enabled": True,
                "aggregation_query": {
                    FEATURE: {"avg": {"script": {"source": BLOCK_RATE_SCRIPT, "lang": "painless"}}}
                },
            }
        ],
        "filter_query": {"exists": {"field": WEBACL}},
        "category_field": [WEBACL, ACCOUNT],
        "detection_interval": _period(minutes(settings.interval)),
        "window_delay": _period(minutes(settings.window_delay)),
        "shingle_size": settings.shingle_size,
    }
    body["description"] = f"{body['description']} [digest {digest(body)}]"
    return body


def detector_requests(settings: AnomalyDetection | None, index_pattern: str) -> list[ClusterRequest]:
    """The detector's create request, or none when ``[alerts.anomaly_detection]`` is disabled."""
    if settings is None:
        return []
    return [ClusterRequest(f"detector:{NAME}", "POST", PATH, detector(settings, index_pattern))]
