"""Alert rules rendered as OpenSearch Alerting bucket-level monitors, one per (rule, team with a channel)
plus one catch-all per rule for every other team, routed to that team's Notifications channel.

Buckets are a ``composite`` aggregation on (web ACL name, account id), not ``terms``: two web ACLs with
the same name in two accounts stay apart, Alerting turns a composite key into the alert's
``bucket_keys`` ("name,account"), and a bucket-level trigger evaluates one multi-bucket level only, which
nested ``terms`` would need two of. Windows are ``filter`` sub-aggregations on ``@timestamp`` relative to
``{{period_end}}``; the monitor runs on a cron aligned to the window, so with ``delay`` a multiple of the
window its windows are the lake evaluation's tumbling windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from string import Template
from typing import Final

from dashboards.alerts.rules import AlertRules, BlockedSpike, BlockRatioJump, NoLogs, Rule, minutes
from dashboards.cluster import Body, ClusterRequest, digest

PATH: Final = "/_plugins/_alerting/monitors"
BUCKETS: Final = "webacls"  # the composite aggregation every trigger's parent_bucket_path names
WEBACL: Final = "waflens.webacl.name"
ACCOUNT: Final = "waflens.webacl.account_id"
TEAM: Final = "waflens.account.team"
BLOCKED: Final = "waflens.blocked"
TIME: Final = "@timestamp"
# Web ACLs per monitor run; a team's web ACLs, or all of an organisation's, fit well below this.
MAX_WEB_ACLS: Final = 500
_CATCH_ALL: Final = "default"


def label(duration: timedelta) -> str:
    """``5m``, ``2h``, ``1d``: the largest unit that divides ``duration``, as date math writes it."""
    whole = minutes(duration)
    for unit, size in (("d", 1440), ("h", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}m"


def monitor_requests(rules: AlertRules, index_pattern: str) -> list[ClusterRequest]:
    """Every monitor, in a stable order: for each rule, its teams' monitors (by team) then the catch-all."""
    requests = []
    for rule in rules.rules:
        for team in (*rules.teams, None):
            body = monitor(rule, rules, index_pattern=index_pattern, team=team)
            requests.append(ClusterRequest(f"monitor:{body['name']}", "POST", PATH, body))
    return requests


def monitor(rule: Rule, rules: AlertRules, *, index_pattern: str, team: str | None) -> Body:
    """One bucket-level monitor: ``rule`` over ``team``'s documents (None: teams without a channel)."""
    # Without a channel the monitor still runs: its alerts wait in Alerting for on-call to acknowledge.
    channel = rules.channel_for(team)
    audience = team or _CATCH_ALL
    name = f"waflens-{rule.name}-{audience}"
    query = _windowed_query(rule, rules.delay) if not isinstance(rule, NoLogs) else _silence_query(rule)
    scope = [{"term": {TEAM: team}}] if team is not None else []
    bool_query: Body = {"filter": [query.pop("range"), *scope]}
    if team is None and rules.teams:
        bool_query["must_not"] = [{"terms": {TEAM: list(rules.teams)}}]
    body: Body = {
        "type": "monitor",
        "name": name,
        "monitor_type": "bucket_level_monitor",
        "enabled": True,
        "schedule": {"cron": {"expression": _cron(_every(rule)), "timezone": "UTC"}},
        "inputs": [
            {
                "search": {
                    "indices": [index_pattern],
                    "query": {"size": 0, "query": {"bool": bool_query}, **query},
                }
            }
        ],
        "triggers": [
            {
                "bucket_level_trigger": {
                    "id": f"waflens-{rule.name}",
                    "name": rule.title,
                    "severity": rule.severity,
                    "condition": _condition(rule),
                    "actions": [_action(rule, rules, channel=channel, audience=audience)] if channel else [],
                }
            }
        ],
    }
    body["ui_metadata"] = {"waflens": {"digest": digest(body), "rule": rule.name, "team": audience}}
    return body


def _every(rule: Rule) -> timedelta:
    return rule.every if isinstance(rule, NoLogs) else rule.window


def _cron(every: timedelta) -> str:
    whole = minutes(every)
    if whole < 60:
        return f"*/{whole} * * * *"
    if whole < 1440:
        return f"0 */{whole // 60} * * *"
    return "0 0 * * *"


def _range(start: timedelta, end: timedelta | None) -> Body:
    """``@timestamp`` in [period_end - start, period_end - end), in the monitor's own clock."""
    bounds: Body = {"gte": f"{{{{period_end}}}}||-{label(start)}", "format": "epoch_millis"}
    bounds["lt"] = f"{{{{period_end}}}}||-{label(end)}" if end else "{{period_end}}"
    return {"range": {TIME: bounds}}


def _buckets(sub: Mapping[str, object]) -> Body:
    sources = [{"webacl": {"terms": {"field": WEBACL}}}, {"account": {"terms": {"field": ACCOUNT}}}]
    return {BUCKETS: {"composite": {"size": MAX_WEB_ACLS, "sources": sources}, "aggregations": sub}}


def _windowed_query(rule: BlockedSpike | BlockRatioJump, delay: timedelta) -> Body:
    end = delay
    current = delay + rule.window
    start = delay + rule.window * (rule.baseline_windows + 1)
    blocked = {"blocked": {"filter": {"term": {BLOCKED: True}}}}
    windows = {
        "current": {"filter": _range(current, end), "aggregations": blocked},
        "baseline": {"filter": _range(start, current), "aggregations": blocked},
    }
    return {"range": _range(start, end), "aggregations": _buckets(windows)}


def _silence_query(rule: NoLogs) -> Body:
    sub = {"recent": {"filter": _range(rule.silence, None)}, "last_seen": {"max": {"field": TIME}}}
    return {"range": _range(rule.lookback, None), "aggregations": _buckets(sub)}


def script_source(rule: Rule) -> str:
    """The trigger's Painless condition: the rule's numbers declared first, then the same test the lake
    evaluation makes (the spec's ``PainlessScript`` has no ``params``, so they are constants)."""
    if isinstance(rule, NoLogs):
        return "return params.recent == 0;"
    constants = " ".join(f"double {name} = {float(value)!r};" for name, value in rule.params().items())
    if isinstance(rule, BlockedSpike):
        test = (
            "params.blocked >= floor && params.blocked > factor * params.baseline_blocked / baseline_windows"
        )
    else:
        test = (
            "params.total >= min_requests && params.baseline_total > 0 && "
            "params.blocked / params.total - params.baseline_blocked / params.baseline_total >= jump"
        )
    return f"{constants} return {test};"


def _condition(rule: Rule) -> Body:
    if isinstance(rule, NoLogs):
        paths = {"recent": "recent._count"}
    else:
        paths = {
            "blocked": "current>blocked._count",
            "total": "current._count",
            "baseline_blocked": "baseline>blocked._count",
            "baseline_total": "baseline._count",
        }
    return {
        "buckets_path": paths,
        "parent_bucket_path": BUCKETS,
        "script": {"source": script_source(rule), "lang": "painless"},
    }


def describe(rule: Rule) -> str:
    """The rule in one sentence, with its numbers."""
    if isinstance(rule, BlockedSpike):
        return (
            f"blocked requests in a {label(rule.window)} window above {rule.factor:g} x their mean over the "
            f"previous {rule.baseline_windows} windows, and at least {rule.floor}"
        )
    if isinstance(rule, BlockRatioJump):
        return (
            f"share of blocked requests in a {label(rule.window)} window up by at least {rule.jump:g} on the "
            f"previous {rule.baseline_windows} windows, with at least {rule.min_requests} requests"
        )
    return f"no event for {label(rule.silence)} from a web ACL seen in the last {label(rule.lookback)}"


_MESSAGE: Final = Template(
    "[waflens] $title for $audience\n"
    "Fires on: $rule.\n"
    "Web ACL (name,account): {{#ctx.newAlerts}}{{bucket_keys}} (new) {{/ctx.newAlerts}}"
    "{{#ctx.dedupedAlerts}}{{bucket_keys}} (still firing) {{/ctx.dedupedAlerts}}\n"
    "${counts}"
    "Time range (UTC), for Dashboards' _g: "
    "(time:(from:'{{ctx.periodEnd}}||-$start',to:'{{ctx.periodEnd}}$end'))\n"
)
_WINDOW_COUNTS: Final = (
    "Blocked/all requests per web ACL, this window | the $n before:\n"
    "{{#ctx.results.0.aggregations.webacls.buckets}}"
    "- {{key.webacl}} ({{key.account}}): {{current.blocked.doc_count}}/{{current.doc_count}} | "
    "{{baseline.blocked.doc_count}}/{{baseline.doc_count}}\n"
    "{{/ctx.results.0.aggregations.webacls.buckets}}"
)
_SILENCE_COUNTS: Final = (
    "Last event per web ACL:\n"
    "{{#ctx.results.0.aggregations.webacls.buckets}}"
    "- {{key.webacl}} ({{key.account}}): {{last_seen.value_as_string}}, "
    "{{recent.doc_count}} since $silence ago\n"
    "{{/ctx.results.0.aggregations.webacls.buckets}}"
)


def _message(rule: Rule, rules: AlertRules, audience: str) -> str:
    if isinstance(rule, NoLogs):
        counts = Template(_SILENCE_COUNTS).substitute(silence=label(rule.silence))
        start, end = rule.lookback, timedelta(0)
    else:
        counts = Template(_WINDOW_COUNTS).substitute(n=rule.baseline_windows)
        start, end = rules.delay + rule.window * (rule.baseline_windows + 1), rules.delay
    return _MESSAGE.substitute(
        title=rule.title,
        audience=audience if audience != _CATCH_ALL else "teams without a channel",
        rule=describe(rule),
        counts=counts,
        start=label(start),
        end=f"||-{label(end)}" if end else "",
    )


def _action(rule: Rule, rules: AlertRules, *, channel: str, audience: str) -> Body:
    return {
        "name": f"notify-{audience}",
        "destination_id": channel,
        "subject_template": {
            "source": f"[waflens] {rule.title}: {{{{ctx.monitor.name}}}}",
            "lang": "mustache",
        },
        "message_template": {"source": _message(rule, rules, audience), "lang": "mustache"},
        "throttle_enabled": True,
        "throttle": {"value": minutes(rules.throttle), "unit": "MINUTES"},
        # one notification per web ACL when it starts firing, repeated (throttled) while it keeps firing
        "action_execution_policy": {
            "action_execution_scope": {"per_alert": {"actionable_alerts": ["DEDUPED", "NEW"]}}
        },
    }
