"""The security plugin roles of waflens, least privilege and explicit.

Action groups are the plugin's static ones (``static_action_groups.yml``); plugin actions are named
exactly as the plugins register them, so a role never grants more than its row in the README's table.
No role holds ``*``, ``unlimited``, ``indices_all`` or any ``restapi:admin/*`` action: roles and role
mappings are applied by the domain's master user, never by a waflens role.
"""

from __future__ import annotations

from typing import Final

from dashboards.cluster import Body
from dashboards.security.teams import Team, team_dls

# What an analyst never sees: request content that the redaction policy leaves in place (header values,
# the query string, the tokens a rule matched, the values of rate-based custom keys). Names, rule ids,
# verdicts, URI paths, client IPs and every waflens field stay visible for the dashboards.
ANALYST_HIDDEN: Final = (
    "httpRequest.headers.value",
    "httpRequest.args",
    "requestHeadersInserted.value",
    "rateBasedRuleList.customValues.value",
    "terminatingRuleMatchDetails.matchedData",
    "nonTerminatingMatchingRules.ruleMatchDetails.matchedData",
    "ruleGroupList.terminatingRule.ruleMatchDetails.matchedData",
    "ruleGroupList.nonTerminatingMatchingRules.ruleMatchDetails.matchedData",
    "ruleGroupList.excludedRules.ruleMatchDetails.matchedData",
)
# Search and get, and what Dashboards needs to build an index pattern (mapping, field capabilities).
BROWSE: Final = ("search", "get", "indices:admin/mappings/get", "indices:data/read/field_caps*")
# Alerting plugin actions (common-utils AlertingActions; the security plugin's alerting_ack_alerts role).
ALERTS_READ_AND_ACK: Final = (
    "cluster:admin/opendistro/alerting/alerts/get",
    "cluster:admin/opendistro/alerting/alerts/ack",
    "cluster:admin/opendistro/alerting/monitor/get",
    "cluster:admin/opendistro/alerting/monitor/search",
)
# Reporting plugin: Discover's "Generate CSV" is the in-context report action ("menu/download",
# InContextReportCreateAction); instance get/list show and download it again (reports_instances_read_access).
DISCOVER_CSV: Final = (
    "cluster:admin/opendistro/reports/menu/download",
    "cluster:admin/opendistro/reports/instance/get",
    "cluster:admin/opendistro/reports/instance/list",
)
# Content an admin manages: templates, ISM, monitors (and the channels they notify), detectors.
MANAGE_CONTENT: Final = (
    "cluster_monitor",
    "cluster_composite_ops",
    "cluster_manage_index_templates",
    "cluster:admin/opendistro/ism/policy/*",
    "cluster:admin/opendistro/ism/managedindex/*",
    "cluster:admin/opendistro/alerting/*",
    "cluster:admin/opensearch/alerting/*",
    "cluster:admin/opensearch/notifications/channels/get",
    "cluster:admin/opensearch/notifications/feature/publish",
    "cluster:admin/opendistro/ad/*",
)


def _index(pattern: str, actions: tuple[str, ...], *, hidden: tuple[str, ...] = (), dls: str = "") -> Body:
    permission: Body = {"index_patterns": [pattern], "allowed_actions": list(actions)}
    if hidden:
        permission["fls"] = [f"~{field}" for field in hidden]
    if dls:
        permission["dls"] = dls
    return permission


def _tenant(tenant: str, action: str) -> list[Body]:
    return [{"tenant_patterns": [tenant], "allowed_actions": [action]}]


def analyst(pattern: str, tenant: str) -> Body:
    """Dashboards and searches over every event, without request content."""
    return {
        "description": f"waflens analyst: browse {pattern} and the {tenant} dashboards; no request content",
        "cluster_permissions": ["cluster_composite_ops_ro"],
        "index_permissions": [_index(pattern, BROWSE, hidden=ANALYST_HIDDEN)],
        "tenant_permissions": _tenant(tenant, "kibana_all_read"),
    }


def responder(pattern: str, tenant: str) -> Body:
    """Every field of every event, scroll and point-in-time export, and Discover CSV reports."""
    return {
        "description": f"waflens incident responder: raw search and export of {pattern}",
        "cluster_permissions": ["cluster_composite_ops_ro", "indices:data/read/scroll/clear", *DISCOVER_CSV],
        "index_permissions": [_index(pattern, ("read", "indices:admin/mappings/get"))],
        "tenant_permissions": _tenant(tenant, "kibana_all_read"),
    }


def oncall(pattern: str, tenant: str) -> Body:
    """Read and acknowledge alerts, and look at the events behind them as an analyst does."""
    return {
        "description": f"waflens on-call: read and acknowledge alerts, browse {pattern}",
        "cluster_permissions": ["cluster_composite_ops_ro", *ALERTS_READ_AND_ACK],
        "index_permissions": [_index(pattern, BROWSE, hidden=ANALYST_HIDDEN)],
        "tenant_permissions": _tenant(tenant, "kibana_all_read"),
    }


def admin(pattern: str, tenant: str) -> Body:
    """Manage waflens content: templates, retention, monitors, detectors, saved objects, the indices."""
    return {
        "description": f"waflens admin: templates, ISM, monitors, detectors, saved objects and {pattern}",
        "cluster_permissions": list(MANAGE_CONTENT),
        "index_permissions": [_index(pattern, ("crud", "manage"))],
        "tenant_permissions": _tenant(tenant, "kibana_all_write"),
    }


def writer(pattern: str) -> Body:
    """What the ingester's bulk requests need: ``index`` items into daily indices it may create. No read."""
    return {
        "description": f"waflens ingester: bulk index into {pattern}, creating daily indices; no read",
        # a _bulk is authorised at cluster level first, then per shard request and per item type
        "cluster_permissions": ["indices:data/write/bulk"],
        "index_permissions": [
            _index(pattern, ("indices:data/write/bulk*", "indices:data/write/index", "indices:admin/create"))
        ],
    }


def team(team_: Team, pattern: str, tenant: str) -> Body:
    """An analyst restricted to one team's documents (document-level security)."""
    return {
        "description": f"waflens team {team_.name}: its accounts' and rule groups' events in {pattern}",
        "cluster_permissions": ["cluster_composite_ops_ro"],
        "index_permissions": [_index(pattern, BROWSE, hidden=ANALYST_HIDDEN, dls=team_dls(team_))],
        "tenant_permissions": _tenant(tenant, "kibana_all_read"),
    }
