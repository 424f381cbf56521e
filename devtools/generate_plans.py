"""How each web ACL of ``generate_catalog`` ends requests: weighted, prebuilt outcomes.

``web_acl_plans()`` resolves every web ACL once; the lists inside an ``Outcome`` are shared by every
record that uses it and never mutated, which is what keeps millions of records cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from typing import Final

from devtools.generate_catalog import (
    ATTACKS,
    GROUPS,
    RATE_RULES,
    WEB_ACLS,
    Attack,
    Group,
    Json,
    RateRule,
    Rule,
    WebAcl,
    stable_uuid,
)

Weighted = list[tuple[float, "Outcome"]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a request ends, prebuilt; its lists are shared by every record that uses it, never mutated."""

    action: str
    rule_id: str
    rule_type: str
    groups: list[Json]
    non_terminating: list[Json] = field(default_factory=list)
    labels: list[Json] = field(default_factory=list)
    attack: Attack = Attack(clients="normal")  # noqa: RUF009  # a frozen dataclass: one shared default is safe
    details: list[Json] = field(default_factory=list)
    rate: RateRule | None = None
    token: str = ""  # captcha | challenge (terminating) | nt_captcha (solved, non-terminating)
    response_code: int | None = None
    inserted: list[Json] | None = None


@dataclass(frozen=True, slots=True)
class _Ref:
    """A rule group as one web ACL references it."""

    group: Group
    group_id: str
    rule_name: str  # the web ACL rule's name: terminatingRuleId when the group terminates
    rule_type: str
    label_ns: str
    leading: bool  # evaluated before the web ACL's own rules (engineering groups, FMS pre rule groups)

    def entry(self, term: Json | None = None, nt: list[Json] | None = None, excl: Json | None = None) -> Json:
        config = self.group.config
        return {
            "ruleGroupId": self.group_id,
            "terminatingRule": term,
            "nonTerminatingMatchingRules": nt or [],
            "excludedRules": None if excl is None else [excl],
            "customerConfig": None if config is None else [{"name": n, "value": v} for n, v in config],
        }

    def labels(self, rule: Rule) -> list[Json]:
        return [{"name": f"{self.label_ns}:{label}"} for label in rule.labels]


def _ref(acl: WebAcl, key: str) -> _Ref:
    group, acct = GROUPS[key], acl.account
    if key == "shield":  # AWS-owned, added by Shield Advanced automatic mitigation, evaluated last
        name = f"ShieldMitigationRuleGroup_{acct}_{acl.acl_id}_{stable_uuid(acl.arn + '/shield')}"
        gid = f"arn:aws:wafv2:us-east-1:153427709519:global/rulegroup/{name}/{stable_uuid(name)}"
        return _Ref(group, gid, name, "GROUP", "awswaf:managed:aws:shield", False)
    if group.managed is not None:
        gid, name, ns = group.managed, "AWS-" + group.managed.split("#")[1], group.label_ns
        rule_type = "MANAGED_RULE_GROUP"
    else:
        gid = (
            f"arn:aws:wafv2:{acl.region}:{acct}:{acl.scope}/rulegroup/{key}/{stable_uuid(f'{acl.arn}/{key}')}"
        )
        name, rule_type, ns = key, "GROUP", f"awswaf:{acct}:rulegroup:{key}"
    if acl.fms_post is None:
        return _Ref(group, gid, name, rule_type, ns, key.startswith("eng-"))
    pre = key not in acl.fms_post  # Firewall Manager names the web ACL rule after the policy's rule set
    fms_name = ("PRE" if pre else "POST") + "FMManaged" + stable_uuid(f"{acl.arn}/fms/{key}")
    return _Ref(group, gid, fms_name, "MANAGED_RULE_GROUP", ns, pre)


# Percent of a web ACL's records that its rule groups end, per action; the default ALLOW takes the rest.
_GROUP_SHARE: Final = {"ALLOW": 4.0, "BLOCK": 12.0, "CAPTCHA": 0.7, "CHALLENGE": 0.8}
_RESPONSE_CODE: Final = {"CAPTCHA": 405, "CHALLENGE": 202}
_TOKEN: Final = {"CAPTCHA": "captcha", "CHALLENGE": "challenge"}
_PARTNER_MARKER: Final[list[Json]] = [{"name": "x-amzn-waf-partner", "value": "true"}]


def _variants(weight: float, family: str, base: Outcome) -> Weighted:
    """One outcome per attack of a family, sharing the weight; SQLi/XSS match details go top-level."""
    attacks = ATTACKS[family]
    return [(weight / len(attacks), replace(base, attack=a, details=a.details_json())) for a in attacks]


def _group_outcomes(refs: list[_Ref], idle: list[Json]) -> Weighted:
    owners = {a: sum(any(r.action == a for r in ref.group.rules) for ref in refs) for a in _GROUP_SHARE}
    out: Weighted = []
    for k, ref in enumerate(refs):
        for rule in ref.group.rules:
            weight = _GROUP_SHARE[rule.action] / owners[rule.action]
            weight /= sum(r.action == rule.action for r in ref.group.rules)
            term = ref.entry({"ruleId": rule.rule_id, "action": rule.action, "ruleMatchDetails": None})
            inserted = _PARTNER_MARKER if rule.action == "ALLOW" else None
            token, code = _TOKEN.get(rule.action, ""), _RESPONSE_CODE.get(rule.action)
            base = Outcome(
                rule.action, ref.rule_name, ref.rule_type, [*idle[:k], term], labels=ref.labels(rule)
            )
            variants = _variants(
                weight, rule.attack, replace(base, token=token, response_code=code, inserted=inserted)
            )
            if ref.group.inner_details:  # the group's terminatingRule carries the match details too
                variants = [
                    (w, replace(o, groups=[*idle[:k], _with_details(term, o.details)])) for w, o in variants
                ]
            out += variants
        out += _override_outcomes(k, ref, idle)
    return out


def _with_details(term: Json, details: list[Json]) -> Json:
    """A ruleGroupList entry whose terminatingRule logs ``details`` (null when there are none)."""
    rule = term["terminatingRule"]
    assert isinstance(rule, dict)
    return {**term, "terminatingRule": {**rule, "ruleMatchDetails": details or None}}


def _override_outcomes(k: int, ref: _Ref, idle: list[Json]) -> Weighted:
    """ALLOW records where a group matched without terminating: COUNT overrides and exclusions."""
    group, out = ref.group, []

    def allowed(entry: Json, nt: list[Json] | None = None, labels: list[Json] | None = None) -> Outcome:
        groups = [*idle[:k], entry, *idle[k + 1 :]]
        return Outcome("ALLOW", "Default_Action", "REGULAR", groups, nt or [], labels or [])

    if group.can_count:  # the whole group overridden to COUNT: its match shows on the web ACL rule
        rule, attacks = group.rules[0], ATTACKS[group.rules[0].attack]
        term = ref.entry({"ruleId": rule.rule_id, "action": "BLOCK", "ruleMatchDetails": None})
        for a in attacks:
            nt: list[Json] = [
                {"ruleId": ref.rule_name, "action": "COUNT", "ruleMatchDetails": a.details_json()}
            ]
            out.append(
                (
                    2.0 / len(attacks),
                    replace(allowed(term, nt, ref.labels(rule)), attack=a),
                )
            )
    if group.count_rule is not None:  # one rule's action overridden to COUNT: its details stay in the group
        rule, attacks = group.count_rule, ATTACKS[group.count_rule.attack]
        for a in attacks:
            nt = [
                {
                    "ruleId": rule.rule_id,
                    "action": "COUNT",
                    "overriddenAction": "BLOCK",
                    "ruleMatchDetails": a.details_json(),
                }
            ]
            out.append(
                (3.0 / len(attacks), replace(allowed(ref.entry(nt=nt), labels=ref.labels(rule)), attack=a))
            )
    if group.excluded is not None:
        rule, attacks = group.excluded, ATTACKS[group.excluded.attack]
        for a in attacks:
            excl: Json = {
                "exclusionType": "EXCLUDED_AS_COUNT",
                "ruleId": rule.rule_id,
                "ruleMatchDetails": a.details_json() or None,
            }
            out.append((1.5 / len(attacks), replace(allowed(ref.entry(excl=excl)), attack=a)))
    return out


def _own_rule_outcomes(acl: WebAcl, lead: list[Json], idle: list[Json]) -> Weighted:
    """The web ACL's own rules, evaluated after the leading rule groups and before the others."""
    label = f"awswaf:{acl.account}:webacl:{acl.name}"
    admin = Outcome("BLOCK", "block-admin-paths", "REGULAR", lead, labels=[{"name": f"{label}:admin-path"}])
    captcha = Outcome("CAPTCHA", "captcha-login", "REGULAR", lead, token="captcha", response_code=405)
    challenge = Outcome(
        "CHALLENGE", "challenge-suspected-bots", "REGULAR", lead, token="challenge", response_code=202
    )
    counted: list[Json] = [{"ruleId": "count-suspicious-ua", "action": "COUNT", "ruleMatchDetails": []}]
    suspicious = Outcome(
        "ALLOW", "Default_Action", "REGULAR", idle, counted, [{"name": f"{label}:suspicious-ua"}]
    )
    solved = Outcome("ALLOW", "Default_Action", "REGULAR", idle, token="nt_captcha")
    out = _variants(2.0, "admin", replace(admin, response_code=404)) + _variants(1.8, "login", captcha)
    out += _variants(1.0, "headless", challenge) + _variants(2.0, "http_lib", suspicious)
    out += _variants(1.0, "login", solved)
    for name in acl.rate_rules:
        rate, share = RATE_RULES[name], 1 / len(acl.rate_rules)
        out += _variants(
            1.2 * share, "flood", Outcome("BLOCK", name, "RATE_BASED", lead, rate=rate, response_code=429)
        )
        out += _variants(0.8 * share, "flood", Outcome("ALLOW", "Default_Action", "REGULAR", idle, rate=rate))
    return out


@cache
def web_acl_plans() -> tuple[tuple[WebAcl, tuple[tuple[float, Outcome], ...]], ...]:
    """Every web ACL with its weighted outcomes; weights are percent of that web ACL's records."""
    plans = []
    for acl in WEB_ACLS:
        refs = [_ref(acl, key) for key in acl.groups]
        idle = [ref.entry() for ref in refs]
        lead = idle[: sum(ref.leading for ref in refs)]
        outcomes = _group_outcomes(refs, idle) + _own_rule_outcomes(acl, lead, idle)
        default = Outcome("ALLOW", "Default_Action", "REGULAR", idle)
        plans.append((acl, ((100.0 - sum(w for w, _ in outcomes), default), *outcomes)))
    return tuple(plans)
