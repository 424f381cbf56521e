"""Why WAF decided what it did for one request, and who to talk to: the page a responder sends.

Built from one found document (the redacted record plus the ``waflens`` enrichment): the action and
the terminating rule, the rule group and the rule inside it, its match details, the owner of that rule
group (from ``waflens.terminating.owner``), the rules that matched without terminating, excluded and
rate-based rules, labels, the web ACL and the account's tags. Values are the record's, redacted at
ingest; nothing here reads anything else.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

Json = dict[str, Any]  # a decoded document; its shape is WAF's (waf-log-format.md) plus ``waflens``
DEFAULT_ACTION: Final = "Default_Action"
_DETAIL_KEYS: Final = ("conditionType", "location", "matchedFieldName", "sensitivityLevel", "matchedData")


def _list(value: Any) -> list[Json]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _obj(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def _details(value: Any) -> list[Json]:
    return [{k: d[k] for k in _DETAIL_KEYS if d.get(k) is not None} for d in _list(value)]


def rule_group(group_id: str | None) -> Json | None:
    """What a ``ruleGroupId`` says: managed (``AWS#Name[#Version]``, ``Vendor#Name``) or own (an ARN)."""
    if not group_id:
        return None
    if group_id.startswith("arn:"):
        parts = group_id.split("/")
        return {"id": group_id, "name": parts[-2] if len(parts) >= 3 else group_id, "managed": False}
    vendor, _, rest = group_id.partition("#")
    name, _, version = rest.partition("#")
    return {
        "id": group_id,
        "name": name or vendor,
        "managed": True,
        "vendor": vendor,
        "version": version or None,
    }


def _matched(rule: Json, group: str | None, **extra: Any) -> Json:
    return {
        "rule_id": rule.get("ruleId"),
        "action": rule.get("action"),
        "overridden_action": rule.get("overriddenAction"),
        "rule_group": group,
        "match_details": _details(rule.get("ruleMatchDetails")),
        **extra,
    }


def _counted(doc: Json, deciding: Json | None) -> list[Json]:
    """Rules that matched without deciding: the web ACL's, each group's, and a group's own terminating
    rule when the web ACL overrode that group to COUNT (waf-log-format.md §6.5)."""
    counted = [_matched(r, None) for r in _list(doc.get("nonTerminatingMatchingRules"))]
    for group in _list(doc.get("ruleGroupList")):
        group_id = group.get("ruleGroupId")
        counted += [_matched(r, group_id) for r in _list(group.get("nonTerminatingMatchingRules"))]
        inner = group.get("terminatingRule")
        if isinstance(inner, dict) and group is not deciding:
            counted.append(_matched(inner, group_id, group_overridden_to_count=True))
    return counted


def _deciding_group(doc: Json, group_id: str | None) -> Json | None:
    """The ``ruleGroupList`` entry that terminated (``waflens.terminating.rule_group_id``), if one did."""
    if group_id is None:
        return None
    return next(
        (
            g
            for g in _list(doc.get("ruleGroupList"))
            if g.get("ruleGroupId") == group_id and g.get("terminatingRule")
        ),
        None,
    )


def _terminating(doc: Json, enriched: Json, deciding: Json | None) -> Json:
    inner = _obj((deciding or {}).get("terminatingRule"))
    owner = _obj(enriched.get("owner"))
    return {
        "rule_id": doc.get("terminatingRuleId"),
        "rule_type": doc.get("terminatingRuleType"),
        "default_action": doc.get("terminatingRuleId") == DEFAULT_ACTION,
        "rule_group": rule_group(enriched.get("rule_group_id")),
        "rule": enriched.get("group_rule_id") or inner.get("ruleId"),
        "match_details": _details(doc.get("terminatingRuleMatchDetails"))
        or _details(inner.get("ruleMatchDetails")),
        "owner": {k: owner.get(k) for k in ("team", "layer", "oncall")} if owner else None,
    }


def explain(document: str | bytes, doc_id: str) -> Json:
    """The explanation of one event, as plain JSON values."""
    doc = _obj(orjson.loads(document))
    request = _obj(doc.get("httpRequest"))
    waflens = _obj(doc.get("waflens"))
    webacl = _obj(waflens.get("webacl"))
    geo = _obj(waflens.get("geo"))
    enriched = _obj(waflens.get("terminating"))
    deciding = _deciding_group(doc, enriched.get("rule_group_id"))
    return {
        "_id": doc_id,
        "time": doc.get("@timestamp"),
        "request_id": request.get("requestId"),
        "action": doc.get("action"),
        "request": {
            "client_ip": request.get("clientIp"),
            "country": geo.get("country") or request.get("country"),
            "method": request.get("httpMethod"),
            "host": request.get("host") or waflens.get("host"),
            "uri": request.get("uri"),
        },
        "terminating": _terminating(doc, enriched, deciding),
        "counted": _counted(doc, deciding),
        "excluded": [
            {
                "rule_id": r.get("ruleId"),
                "rule_group": g.get("ruleGroupId"),
                "exclusion": r.get("exclusionType"),
            }
            for g in _list(doc.get("ruleGroupList"))
            for r in _list(g.get("excludedRules"))
        ],
        "rate_based": [
            {
                "name": r.get("rateBasedRuleName"),
                "limit_key": r.get("limitKey"),
                "max_rate_allowed": r.get("maxRateAllowed"),
                "evaluation_window_sec": r.get("evaluationWindowSec"),
            }
            for r in _list(doc.get("rateBasedRuleList"))
        ],
        "labels": [label.get("name") for label in _list(doc.get("labels"))],
        "web_acl": {
            "name": webacl.get("name"),
            "arn": doc.get("webaclId"),
            "account_id": webacl.get("account_id"),
            "region": webacl.get("region"),
            "scope": webacl.get("scope"),
        },
        "account": _obj(waflens.get("account")) or None,
    }


def _match_line(detail: Json) -> str:
    where = detail.get("location", "?")
    if detail.get("matchedFieldName"):
        where += f" {detail['matchedFieldName']!r}"
    data = ", ".join(repr(d) for d in detail.get("matchedData") or [])
    level = f" (sensitivity {detail['sensitivityLevel']})" if detail.get("sensitivityLevel") else ""
    return f"{detail.get('conditionType', 'match')} in {where}{level}" + (f": {data}" if data else "")


def _group_text(group: Json) -> str:
    if group["managed"]:
        version = f" {group['version']}" if group.get("version") else ""
        return f"{group['name']} (managed by {group['vendor']}{version}; {group['id']})"
    return f"{group['name']} (own rule group; {group['id']})"


def _why(t: Json, action: str) -> list[str]:
    if t["default_action"]:
        return [f"Why: no rule terminated; the web ACL's default action is {action}."]
    if t["rule_group"] is None:
        return [f"Why: web ACL rule {t['rule_id']} ({t['rule_type']}) decided {action}."]
    return [
        f"Why: rule {t['rule'] or '?'} in rule group {_group_text(t['rule_group'])} decided {action},",
        f"     through web ACL rule {t['rule_id']} ({t['rule_type']}).",
    ]


def _owner_text(owner: Json | None) -> str:
    if not owner:
        return "Owner: not recorded (enrich with an owners config)"
    layer = f", layer {owner['layer']}" if owner.get("layer") else ""
    oncall = f"; on-call {owner['oncall']}" if owner.get("oncall") else ""
    return f"Owner: {owner.get('team')}{layer}{oncall}"


def _counted_line(rule: Json) -> str:
    where = f" in {rule['rule_group']}" if rule["rule_group"] else " (web ACL rule)"
    override = f", configured {rule['overridden_action']}" if rule.get("overridden_action") else ""
    if rule.get("group_overridden_to_count"):
        override += ", the web ACL overrides its group to COUNT"
    matches = "".join(f"\n      match: {_match_line(d)}" for d in rule["match_details"])
    return f"  - {rule['action']} {rule['rule_id']}{where}{override}{matches}"


def text_page(x: Json) -> str:
    """The explanation as a short page to paste to the owning team."""
    r, acl, t = x["request"], x["web_acl"], x["terminating"]
    lines = [
        f"Request {x['request_id']} at {x['time']}: {x['action']}",
        f"  {r['method']} {r['host'] or ''}{r['uri'] or ''} from {r['client_ip']} ({r['country'] or '-'})",
        f"Web ACL: {acl['name']} (account {acl['account_id']}, {acl['region']}, {acl['scope']})",
    ]
    account = x["account"]
    if account:
        tags = ", ".join(
            f"{k.replace('_', ' ')} {v}" for k, v in account.items() if k not in ("id", "name") and v
        )
        lines.append(f"Account: {account.get('name') or account.get('id')}" + (f" ({tags})" if tags else ""))
    lines += ["", *_why(t, x["action"])]
    lines += [f"  match: {_match_line(d)}" for d in t["match_details"]]
    lines.append(_owner_text(t["owner"]))
    if x["counted"]:
        lines += ["", "Also matched without deciding:", *(_counted_line(c) for c in x["counted"])]
    if x["excluded"]:
        lines += ["", "Excluded rules (evaluated as COUNT):"]
        lines += [f"  - {e['rule_id']} in {e['rule_group']}" for e in x["excluded"]]
    if x["rate_based"]:
        lines += ["", "Rate-based rules:"]
        lines += [
            f"  - {b['name']}: over {b['max_rate_allowed']} per {b['evaluation_window_sec'] or 300} s"
            f" by {b['limit_key']}"
            for b in x["rate_based"]
        ]
    if x["labels"]:
        lines += ["", "Labels: " + ", ".join(str(label) for label in x["labels"])]
    lines += ["", f"Event id: {x['_id']}"]
    return "\n".join(lines) + "\n"
