"""Synthetic cluster content of every kind setup applies: what the builders in ``dashboards/`` will produce.

Bodies carry their digests the way the builders' contracts say (``[digest …]`` at the end of a
description, ``ui_metadata.waflens.digest`` on a monitor); ``version`` changes one piece's content.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from dashboards.cluster import Body, ClusterRequest, digest, setup_requests
from dashboards.registry import SetupContent
from dashboards.settings import ClusterSettings

INDEX_PATTERN_ID = "waflens-events"
VIS_ID = "waflens-blocked-by-ip"
DASHBOARD_ID = "waflens-overview"


@dataclass(frozen=True)
class Ref:
    """A saved-object reference."""

    name: str
    type: str
    id: str


@dataclass(frozen=True)
class Saved:
    """A saved object with the shape the Dashboards builders return."""

    type: str
    id: str
    attributes: Mapping[str, object]
    references: tuple[Ref, ...] = ()
    migration_version: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """One ``_import`` ndjson line."""
        return {
            "type": self.type,
            "id": self.id,
            "attributes": dict(self.attributes),
            "references": [vars(ref) for ref in self.references],
            "migrationVersion": dict(self.migration_version),
        }


def described(body: Body) -> Body:
    """``body`` with ``[digest <hex>]`` appended to its description."""
    return {**body, "description": f"{body['description']} [digest {digest(body)}]"}


def _security(version: Mapping[str, int]) -> list[ClusterRequest]:
    api = "/_plugins/_security/api"
    role: Body = {
        "description": f"waflens analysts v{version.get('role', 1)}",
        "cluster_permissions": ["cluster_composite_ops_ro"],
        "index_permissions": [{"index_patterns": ["waflens-events-*"], "allowed_actions": ["read"]}],
        "tenant_permissions": [{"tenant_patterns": ["waflens"], "allowed_actions": ["kibana_all_read"]}],
    }
    mapping: Body = {"description": "IdP group waf-analysts", "backend_roles": ["waf-analysts"]}
    return [
        ClusterRequest(
            "tenant:waflens", "PUT", f"{api}/tenants/waflens", described({"description": "waflens"})
        ),
        ClusterRequest("role:waflens_analyst", "PUT", f"{api}/roles/waflens_analyst", described(role)),
        ClusterRequest(
            "role-mapping:waflens_analyst", "PUT", f"{api}/rolesmapping/waflens_analyst", described(mapping)
        ),
    ]


def _alerts(version: Mapping[str, int]) -> list[ClusterRequest]:
    threshold = 100 * version.get("monitor", 1)
    monitor: Body = {
        "type": "monitor",
        "monitor_type": "query_level_monitor",
        "name": "waflens blocked spike",
        "enabled": True,
        "schedule": {"period": {"interval": 5, "unit": "MINUTES"}},
        "inputs": [{"search": {"indices": ["waflens-events-*"], "query": {"size": 0}}}],
        "triggers": [{"name": f"more than {threshold} blocked", "severity": "2"}],
    }
    monitor["ui_metadata"] = {"waflens": {"digest": digest(monitor)}}
    detector: Body = {
        "name": "waflens-block-rate",
        "description": f"block rate per web ACL v{version.get('detector', 1)}",
        "time_field": "@timestamp",
        "indices": ["waflens-events-*"],
        "feature_attributes": [
            {
                "feature_name": "blocked",
                "feature_enabled": True,
                "aggregation_query": {"blocked": {"sum": {"field": "waflens.blocked"}}},
            }
        ],
        "detection_interval": {"period": {"interval": 10, "unit": "Minutes"}},
    }
    return [
        ClusterRequest("monitor:waflens blocked spike", "POST", "/_plugins/_alerting/monitors", monitor),
        ClusterRequest(
            "detector:waflens-block-rate",
            "POST",
            "/_plugins/_anomaly_detection/detectors",
            described(detector),
        ),
    ]


def saved_objects(version: Mapping[str, int], *, title_extra: str = "") -> tuple[Saved, ...]:
    """An index pattern, a visualization on it and a dashboard showing the visualization."""
    search_source = {
        "query": {"query": "action:BLOCK", "language": "kuery"},
        "filter": [],
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    }
    vis_state = {
        "title": "Blocked requests by client IP",
        "type": "table",
        "params": {"perPage": 10 * version.get("visualization", 1)},
        "aggs": [{"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}}],
    }
    panels = [{"version": "2.11.0", "gridData": {"x": 0, "y": 0, "w": 24, "h": 15, "i": "1"}}]
    return (
        Saved(
            "index-pattern",
            INDEX_PATTERN_ID,
            {"title": "waflens-events-*", "timeFieldName": "@timestamp"},
            migration_version={"index-pattern": "7.6.0"},
        ),
        Saved(
            "visualization",
            VIS_ID,
            {
                "title": f"Blocked requests by client IP{title_extra}",
                "description": "",
                "version": 1,
                "uiStateJSON": "{}",
                "visState": json.dumps(vis_state),
                "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(search_source)},
            },
            (Ref("kibanaSavedObjectMeta.searchSourceJSON.index", "index-pattern", INDEX_PATTERN_ID),),
            {"visualization": "7.10.0"},
        ),
        Saved(
            "dashboard",
            DASHBOARD_ID,
            {
                "title": "AWS WAF overview",
                "description": "What WAF blocked, and why",
                "hits": 0,
                "version": 1,
                "timeRestore": False,
                "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}),
                "panelsJSON": json.dumps([{**panels[0], "panelIndex": "1", "panelRefName": "panel_0"}]),
                "kibanaSavedObjectMeta": {
                    "searchSourceJSON": json.dumps({"query": {"query": ""}, "filter": []})
                },
            },
            (Ref("panel_0", "visualization", VIS_ID),),
            {"dashboard": "7.9.3"},
        ),
    )


def synthetic_content(**version: int) -> SetupContent:
    """Content of every kind; ``role=2`` (or monitor, detector, visualization) changes that piece."""
    requests = [*setup_requests(ClusterSettings()), *_security(version), *_alerts(version)]
    return SetupContent(requests=tuple(requests), saved_objects=saved_objects(version), tenant="waflens")


def with_objects(content: SetupContent, objects: tuple[Saved, ...]) -> SetupContent:
    """``content`` with other saved objects."""
    return replace(content, saved_objects=objects)
