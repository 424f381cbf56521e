"""What waflens ships to Dashboards, as data: five views, each answering one question.

Fields come from ``enrich/schema.py``; every terms field is a keyword, ip, number or boolean in the
mapping (a test checks it), and every query is KQL over mapped fields.
"""

from __future__ import annotations

from typing import Final

from dashboards.saved_objects.model import (
    BLOCKED,
    COUNTED,
    Dashboard,
    Metric,
    OverTime,
    Panel,
    SavedSearch,
    Terms,
    TopTerms,
)

ACTION: Final = Terms("action", size=5, label="Action")
TEAM: Final = Terms("waflens.terminating.owner.team", label="Owning team")
WEBACL: Final = Terms("waflens.webacl.name", label="Web ACL")
ACCOUNT: Final = Terms("waflens.account.name", label="Account", missing="(untagged)")


def _label_prefix(group: str) -> tuple[str, str]:
    """A KQL wildcard and a terms ``include`` regex for the labels of one AWS managed rule group."""
    kql = f"waflens.labels:awswaf\\:managed\\:aws\\:{group}*"
    return kql, f"awswaf:managed:aws:{group}:.*"


BOT_QUERY, BOT_INCLUDE = _label_prefix("bot-control")
ATP_QUERY, ATP_INCLUDE = _label_prefix("atp")

# --- Overview -------------------------------------------------------------------------------------
REQUESTS_OVER_TIME: Final = OverTime(
    "waflens-vis-requests-over-time", "Requests over time by action", "histogram", split=ACTION
)
TOTAL: Final = Metric("waflens-vis-total-requests", "Total requests", "Requests")
BLOCKED_TOTAL: Final = Metric("waflens-vis-blocked-requests", "Blocked requests", "Blocked", query=BLOCKED)
TOP_WEBACLS: Final = TopTerms("waflens-vis-top-webacls", "Top web ACLs", "horizontal_bar", (WEBACL, ACTION))

# --- Rules & owners -------------------------------------------------------------------------------
BY_RULE: Final = TopTerms(
    "waflens-vis-blocked-by-rule",
    "Blocked by terminating rule",
    "table",
    (Terms("terminatingRuleId", size=20, label="Terminating rule"), TEAM),
    query=BLOCKED,
)
BY_RULE_GROUP: Final = TopTerms(
    "waflens-vis-blocked-by-rule-group",
    "Blocked by rule group",
    "pie",
    (Terms("waflens.terminating.rule_group_name", label="Rule group", missing="(web ACL rule)"),),
    query=BLOCKED,
)
BY_TEAM: Final = TopTerms(
    "waflens-vis-blocked-by-team",
    "Blocked by owning team and layer",
    "horizontal_bar",
    (TEAM, Terms("waflens.terminating.owner.layer", size=3, label="Layer")),
    query=BLOCKED,
)
BY_LAYER: Final = TopTerms(
    "waflens-vis-blocked-by-layer",
    "Blocked by layer (first: engineering, last: security)",
    "pie",
    (Terms("waflens.terminating.owner.layer", size=3, label="Layer"),),
    query=BLOCKED,
)
TEAM_OVER_TIME: Final = OverTime(
    "waflens-vis-blocked-over-time-by-team", "Blocked over time by owning team", "line", TEAM, BLOCKED
)
COUNTED_RULES: Final = TopTerms(
    "waflens-vis-counted-rules",
    "COUNT-mode rules that matched (would block if enforced)",
    "table",
    (Terms("waflens.counted_rules", size=25, label="Rule (group / rule)"), WEBACL),
    query=COUNTED,
    description="Requests a rule in COUNT mode matched: the tuning signal before switching it to BLOCK.",
)

# --- Accounts & web ACLs --------------------------------------------------------------------------
BY_ACCOUNT_TEAM: Final = TopTerms(
    "waflens-vis-by-account-team",
    "Requests by account team",
    "horizontal_bar",
    (Terms("waflens.account.team", label="Account team", missing="(untagged)"), ACTION),
)
BY_ENVIRONMENT: Final = TopTerms(
    "waflens-vis-by-environment",
    "Requests by environment",
    "horizontal_bar",
    (Terms("waflens.account.environment", label="Environment", missing="(untagged)"), ACTION),
)
BY_COST_CENTRE: Final = TopTerms(
    "waflens-vis-by-cost-centre",
    "Requests by cost centre",
    "table",
    (Terms("waflens.account.cost_centre", size=20, label="Cost centre", missing="(untagged)"), ACTION),
)
BY_ACCOUNT: Final = TopTerms(
    "waflens-vis-by-account", "Requests by account", "horizontal_bar", (ACCOUNT, ACTION)
)
WEBACL_BY_ACCOUNT: Final = TopTerms(
    "waflens-vis-webacl-by-account",
    "Web ACLs by account",
    "table",
    (Terms("waflens.webacl.name", size=20, label="Web ACL"), ACCOUNT, ACTION),
)

# --- Threats --------------------------------------------------------------------------------------
BY_OWASP: Final = TopTerms(
    "waflens-vis-by-owasp",
    "Requests by OWASP API Security category",
    "horizontal_bar",
    (Terms("waflens.owasp", label="OWASP category"), ACTION),
)
RATE_BASED: Final = TopTerms(
    "waflens-vis-rate-based",
    "Rate-based rules: who hit the limit",
    "table",
    (Terms("terminatingRuleId", label="Rate-based rule"), Terms("httpRequest.clientIp", label="Client IP")),
    query="terminatingRuleType:RATE_BASED",
)
BOT_LABELS: Final = TopTerms(
    "waflens-vis-bot-labels",
    "Bot Control labels",
    "table",
    (Terms("waflens.labels", size=20, label="Label", include=BOT_INCLUDE), ACTION),
    query=BOT_QUERY,
)
ATP_LABELS: Final = TopTerms(
    "waflens-vis-atp-labels",
    "Account takeover prevention (ATP) labels",
    "table",
    (Terms("waflens.labels", size=20, label="Label", include=ATP_INCLUDE), ACTION),
    query=ATP_QUERY,
)
BY_COUNTRY: Final = TopTerms(
    "waflens-vis-by-country",
    "Requests by country",
    "horizontal_bar",
    (Terms("httpRequest.country", size=15, label="Country"), ACTION),
)
JA3: Final = TopTerms(
    "waflens-vis-ja3",
    "Blocked by JA3 fingerprint",
    "table",
    (Terms("ja3Fingerprint", size=15, label="JA3"),),
    query=BLOCKED,
)
JA4: Final = TopTerms(
    "waflens-vis-ja4",
    "Blocked by JA4 fingerprint",
    "table",
    (Terms("ja4Fingerprint", size=15, label="JA4"),),
    query=BLOCKED,
)
BROWSERS: Final = TopTerms(
    "waflens-vis-browsers",
    "Browsers",
    "pie",
    (Terms("waflens.ua.browser", label="Browser", missing="(none)"),),
)
BOTS: Final = TopTerms(
    "waflens-vis-bot-user-agents",
    "Bot user agents by action",
    "pie",
    (Terms("waflens.ua.bot", size=2, label="Bot user agent"), ACTION),
)

# --- Incident investigation -----------------------------------------------------------------------
EVENTS: Final = SavedSearch(
    "waflens-search-events",
    "WAF events",
    columns=(
        "@timestamp",
        "action",
        "httpRequest.clientIp",
        "httpRequest.country",
        "httpRequest.httpMethod",
        "httpRequest.uri",
        "httpRequest.host",
        "terminatingRuleId",
        "waflens.terminating.owner.team",
        "httpRequest.requestId",
    ),
    sort=(("@timestamp", "desc"),),
    description="Raw WAF events, newest first; narrow them with the query bar (action:BLOCK and ...).",
)
TOP_CLIENTS: Final = TopTerms(
    "waflens-vis-top-client-ips",
    "Top client IPs",
    "table",
    (
        Terms("httpRequest.clientIp", size=20, label="Client IP"),
        Terms("httpRequest.country", size=1, label="Country"),
        ACTION,
    ),
)
TOP_URIS: Final = TopTerms(
    "waflens-vis-top-blocked-uris",
    "Top blocked URIs",
    "table",
    (Terms("httpRequest.uri", size=20, label="URI"), Terms("waflens.host", size=3, label="Host")),
    query=BLOCKED,
)

DASHBOARDS: Final = (
    Dashboard(
        "waflens-dashboard-overview",
        "WAF overview",
        "How much traffic do the web ACLs see, and how much of it do they block?",
        (
            Panel(REQUESTS_OVER_TIME, w=48, h=12),
            Panel(TOTAL, w=12, h=8),
            Panel(BLOCKED_TOTAL, w=12, h=8),
            Panel(TOP_WEBACLS),
        ),
    ),
    Dashboard(
        "waflens-dashboard-rules-owners",
        "WAF rules and owners",
        "Which rules block, who owns them, and which COUNT-mode rules would block if enforced?",
        (
            Panel(BY_RULE),
            Panel(TEAM_OVER_TIME),
            Panel(BY_TEAM, w=16),
            Panel(BY_LAYER, w=16),
            Panel(BY_RULE_GROUP, w=16),
            Panel(COUNTED_RULES, w=48, h=18),
        ),
    ),
    Dashboard(
        "waflens-dashboard-accounts-webacls",
        "WAF accounts and web ACLs",
        "Which accounts, teams, environments and cost centres do the traffic and the blocking belong to?",
        (
            Panel(BY_ACCOUNT_TEAM, w=16),
            Panel(BY_ENVIRONMENT, w=16),
            Panel(BY_COST_CENTRE, w=16),
            Panel(BY_ACCOUNT),
            Panel(WEBACL_BY_ACCOUNT),
        ),
    ),
    Dashboard(
        "waflens-dashboard-threats",
        "WAF threats",
        "What is attacking: OWASP categories, rate limits, bots, takeovers, countries, TLS fingerprints?",
        (
            Panel(BY_OWASP),
            Panel(RATE_BASED),
            Panel(BOT_LABELS),
            Panel(ATP_LABELS),
            Panel(BY_COUNTRY),
            Panel(BROWSERS, w=12),
            Panel(BOTS, w=12),
            Panel(JA3),
            Panel(JA4),
        ),
    ),
    Dashboard(
        "waflens-dashboard-investigation",
        "WAF incident investigation",
        "What exactly happened: which requests, from where, stopped by which rule, owned by whom?",
        (
            Panel(REQUESTS_OVER_TIME, w=48, h=8),
            Panel(TOP_CLIENTS),
            Panel(TOP_URIS),
            Panel(EVENTS, w=48, h=24),
        ),
        time_from=None,
    ),
)
