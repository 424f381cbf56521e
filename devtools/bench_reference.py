"""The per-record reference for ``waflens-dev bench``: the same documents, built the way peer loaders work.

One record at a time: ``orjson.loads``, redaction by the policy's own exact walk
(``Redaction.redact_object`` of ``redaction_from(config)``, as the pipeline's), enrichment with plain Python,
``orjson.dumps``. It exists to measure the vectorized pipeline against, and a test holds it to producing
the same documents (as JSON values) as the pipeline. Nothing in the product calls it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from enrich.config import ACCOUNT_TAG_KEYS, EnrichConfig
from enrich.domain import HOST_NAME, MAX_NAME_CHARS, registered_domain
from enrich.fields import IP_ADDRESS, IPV4
from enrich.geo import UNKNOWN_COUNTRY, GeoLookup, GeoRecord
from enrich.owasp import CATEGORIES, OwaspRule, Source
from enrich.ownership import GROUP_TYPES
from enrich.patterns import glob_regex
from enrich.redact import normalize_name, redaction_from
from enrich.useragent import BOT_LABEL, MAX_PARSED_CHARS, parse_user_agent
from enrich.webacl import ACCOUNT_ID, CLASSIC_GUID, WEBACL_ARN
from ingest.decode.records import record_id

_ARN: Final = re.compile(WEBACL_ARN)
_CLASSIC: Final = re.compile(CLASSIC_GUID)
_ACCOUNT: Final = re.compile(ACCOUNT_ID)
_MANAGED: Final = re.compile(r"^AWS#([^#]+)")
_RULE_GROUP_NAME: Final = re.compile(r"/rulegroup/([^/]+)/")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(v for v in values if v is not None))


@dataclass
class Reference:
    """Builds bulk lines for one record at a time."""

    config: EnrichConfig
    geo: GeoLookup | None = None

    def __post_init__(self) -> None:
        # the two per-value library calls, as attributes so a caller may put a cache in front of them
        self.normalize_name: Callable[[str], str] = normalize_name
        self.parse_user_agent: Callable[[str], dict[str, Any]] = lambda value: dict(parse_user_agent(value))
        self.redaction = redaction_from(self.config)  # the pipeline's own, so the policy is the same
        self.accounts = {a.account_id: a for a in self.config.accounts}
        self.exact = {s.value: s for s in self.config.selectors if s.kind == "rule_group"}
        self.managed = {s.value: s for s in self.config.selectors if s.kind == "managed"}
        self.patterns = [s for s in self.config.selectors if s.kind == "rule_group_pattern"]
        self.rules = [s for s in self.config.selectors if s.kind == "web_acl_rule"]
        self.value_masks: dict[tuple[str, str], int] = {}

    def bulk_lines(self, line: bytes) -> bytes:
        """The action line and the document line for one WAF record."""
        text = line.strip()
        record = self.redaction.redact_object(orjson.loads(text))
        assert isinstance(record, dict)
        doc_id = record_id(text)
        seconds, millis = divmod(record["timestamp"], 1000)  # integers: a float would round 245 ms to 244
        when = datetime.fromtimestamp(seconds, UTC)
        index = f"{self.config.index_prefix}-{when:%Y.%m.%d}"
        record["@timestamp"] = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z"
        record["waflens"] = self.enrichment(record)
        action = orjson.dumps({"index": {"_index": index, "_id": doc_id}})
        return action + b"\n" + orjson.dumps(record) + b"\n"

    def enrichment(self, record: dict[str, Any]) -> dict[str, Any]:
        """The ``waflens`` object of one record."""
        request = _dict(record.get("httpRequest"))
        headers = [h for h in _list(request.get("headers")) if isinstance(h, dict)]
        names = [h["name"].lower() if isinstance(h.get("name"), str) else None for h in headers]
        groups = [g for g in _list(record.get("ruleGroupList")) if isinstance(g, dict)]
        webacl = self.webacl(record.get("webaclId"))
        rule_ids = self.rule_ids(record, groups)
        matched = [
            g.get("ruleGroupId")
            for g in groups
            if g.get("terminatingRule") is not None
            or _list(g.get("nonTerminatingMatchingRules"))
            or _list(g.get("excludedRules"))
        ]
        labels = [_dict(label).get("name") for label in _list(record.get("labels"))]
        user_agent = self.header(headers, names, "user-agent")
        host = request.get("host") if request.get("host") is not None else self.header(headers, names, "host")
        client_ip = self.client_ip(request.get("clientIp"))
        return {
            "blocked": record.get("action") == "BLOCK",
            "counted": self.counted(record, groups),
            "webacl": webacl,
            "account": self.account(webacl["account_id"]),
            "terminating": self.terminating(record, groups),
            "rule_ids": rule_ids,
            "rule_group_ids": matched,
            "counted_rules": self.counted_rules(record, groups),
            "labels": labels,
            "client_ip": client_ip,
            "user_agent": user_agent,
            "host": host,
            "header_names": list(dict.fromkeys(names)),
            "redacted_headers": _unique(
                [
                    normalized
                    for h in headers
                    if isinstance(h.get("name"), str)
                    and (normalized := self.normalize_name(h["name"])) in self.redaction.sensitive
                ]
            ),
            "owasp": self.owasp(record, rule_ids, matched, labels),
            "ua": self.user_agent(user_agent, labels),
            "domain": self.domain(host),
            "geo": self.where(record, request, client_ip),
        }

    def owasp(self, record: dict[str, Any], rule_ids: list[Any], groups: list[Any], labels: list[Any]) -> Any:
        rate = [_dict(r).get("rateBasedRuleName") for r in _list(record.get("rateBasedRuleList"))]
        if record.get("terminatingRuleType") == "RATE_BASED":
            rate.append(record.get("terminatingRuleId"))
        lists: dict[Source, list[Any]] = {"rule": rule_ids, "group": groups, "label": labels, "rate": rate}
        mask = 0
        for source, values in lists.items():
            for value in values:
                if isinstance(value, str):
                    mask |= self.value_mask(source, value)
        return [c for i, c in enumerate(CATEGORIES) if mask >> i & 1]

    def value_mask(self, source: Source, value: str) -> int:
        if (source, value) not in self.value_masks:
            owasp = self.config.owasp

            def matching(rules: tuple[OwaspRule, ...]) -> list[OwaspRule]:
                return [r for r in rules if r.source == source and re.fullmatch(r.regex, value)]

            chosen = matching(owasp.custom) or matching(owasp.defaults)
            bits = {1 << CATEGORIES.index(c) for r in chosen for c in r.categories}
            self.value_masks[source, value] = sum(bits)
        return self.value_masks[source, value]

    def user_agent(self, value: Any, labels: list[Any]) -> dict[str, Any]:
        parsed = self.parse_user_agent(value[:MAX_PARSED_CHARS]) if isinstance(value, str) else {}
        labelled = any(isinstance(n, str) and n.startswith(BOT_LABEL) for n in labels)
        fields = ("browser", "browser_version", "os", "device")
        return {**{f: parsed.get(f) for f in fields}, "bot": bool(parsed.get("spider")) or labelled}

    @staticmethod
    def domain(host: Any) -> str | None:
        if not isinstance(host, str):
            return None
        lowered = host.lower()
        name = re.sub(r":[0-9]*\Z", "", lowered).rstrip(".")
        if re.fullmatch(IP_ADDRESS, lowered) or lowered.startswith("[") or re.fullmatch(IPV4, name):
            return None
        if not re.fullmatch(HOST_NAME, name) or len(name) > MAX_NAME_CHARS:
            return None
        return registered_domain(name)

    def where(self, record: dict[str, Any], request: dict[str, Any], client_ip: str | None) -> dict[str, Any]:
        nothing: GeoRecord = {"country": None, "city": None, "asn": None, "as_org": None}
        found = self.geo(client_ip) if self.geo is not None and client_ip is not None else nothing
        waf_country, waf_asn = request.get("country"), record.get("clientAsn")
        country = waf_country if waf_country is not None and waf_country not in UNKNOWN_COUNTRY else None
        country = country if country is not None else found["country"]
        asn = waf_asn if isinstance(waf_asn, int) and not isinstance(waf_asn, bool) and waf_asn > 0 else None
        asn = asn if asn is not None else found["asn"]
        return {
            "country": country,
            "city": found["city"] if found["country"] == country else None,
            "asn": asn,
            "as_org": found["as_org"] if found["asn"] == asn else None,
        }

    @staticmethod
    def header(headers: list[dict[str, Any]], names: list[str | None], name: str) -> Any:
        return next((h.get("value") for h, n in zip(headers, names, strict=True) if n == name), None)

    @staticmethod
    def client_ip(value: Any) -> str | None:
        if not isinstance(value, str) or "%" in value:
            return None
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return None
        return value

    @staticmethod
    def counted(record: dict[str, Any], groups: list[dict[str, Any]]) -> bool:
        inner = any(
            _list(g.get("nonTerminatingMatchingRules")) or _list(g.get("excludedRules")) for g in groups
        )
        return bool(_list(record.get("nonTerminatingMatchingRules"))) or inner

    @staticmethod
    def rule_ids(record: dict[str, Any], groups: list[dict[str, Any]]) -> list[Any]:
        ids: list[Any] = []
        if record.get("terminatingRuleId") != "Default_Action":
            ids.append(record.get("terminatingRuleId"))
        ids += [_dict(g.get("terminatingRule")).get("ruleId") for g in groups]
        for key in ("nonTerminatingMatchingRules", "excludedRules"):
            ids += [_dict(r).get("ruleId") for g in groups for r in _list(g.get(key))]
        ids += [_dict(r).get("ruleId") for r in _list(record.get("nonTerminatingMatchingRules"))]
        ids += [_dict(r).get("rateBasedRuleName") for r in _list(record.get("rateBasedRuleList"))]
        return _unique(ids)

    @staticmethod
    def webacl(webacl_id: Any) -> dict[str, Any]:
        arn = _ARN.fullmatch(webacl_id) if isinstance(webacl_id, str) else None
        if arn:
            account = arn["account"]
            return {
                "kind": "wafv2",
                "partition": arn["partition"],
                "region": arn["region"],
                "account_id": account if account and _ACCOUNT.fullmatch(account) else None,
                "scope": {"global": "CLOUDFRONT", "regional": "REGIONAL"}[arn["scope"]],
                "name": arn["name"],
                "id": arn["id"],
            }
        classic = isinstance(webacl_id, str) and _CLASSIC.fullmatch(webacl_id)
        return {
            "kind": "classic" if classic else "unparsed",
            **dict.fromkeys(("partition", "region", "account_id", "scope", "name")),
            "id": webacl_id if classic else None,
        }

    def account(self, account_id: str | None) -> dict[str, Any]:
        tags = self.accounts.get(account_id or "", self.config.account_defaults)
        defaults = self.config.account_defaults
        values = {
            k: getattr(tags, k) if getattr(tags, k) is not None else getattr(defaults, k)
            for k in ACCOUNT_TAG_KEYS
        }
        return {"id": account_id, **values}

    @staticmethod
    def counted_rules(record: dict[str, Any], groups: list[dict[str, Any]]) -> list[Any]:
        def count_mode(rules: Any) -> list[Any]:
            return [_dict(r).get("ruleId") for r in _list(rules) if _dict(r).get("action") == "COUNT"]

        found = count_mode(record.get("nonTerminatingMatchingRules"))
        for group in groups:
            group_id = group.get("ruleGroupId")
            inside = count_mode(group.get("nonTerminatingMatchingRules")) + [
                _dict(r).get("ruleId") for r in _list(group.get("excludedRules"))
            ]
            if not inside or not isinstance(group_id, str):
                continue
            managed, in_arn = _MANAGED.match(group_id), _RULE_GROUP_NAME.search(group_id)
            name = managed[1] if managed else in_arn[1] if in_arn else group_id
            found += [f"{name} / {rule}" for rule in inside if rule is not None]
        return _unique([r for r in found if r is not None])

    def terminating(self, record: dict[str, Any], groups: list[dict[str, Any]]) -> dict[str, Any]:
        rule_id, rule_type = record.get("terminatingRuleId"), record.get("terminatingRuleType")
        acted = next((g for g in groups if g.get("terminatingRule") is not None), None)
        by_group = rule_type in GROUP_TYPES and rule_id != "Default_Action" and acted is not None
        group_id = acted.get("ruleGroupId") if by_group and acted else None
        group_rule = _dict(acted.get("terminatingRule")).get("ruleId") if by_group and acted else None
        managed = _MANAGED.match(group_id) if group_id else None
        in_arn = _RULE_GROUP_NAME.search(group_id) if group_id else None
        return {
            "rule_id": rule_id,
            "rule_type": rule_type,
            "rule_group_id": group_id,
            "rule_group_name": managed[1] if managed else in_arn[1] if in_arn else group_id,
            "group_rule_id": group_rule,
            "owner": self.owner(group_id, managed[1] if managed else None, rule_id),
        }

    def owner(self, group_id: str | None, managed: str | None, rule_id: Any) -> dict[str, Any]:
        found, how = None, "default"
        if group_id in self.exact:
            found, how = self.exact[group_id], "rule_group"
        elif managed in self.managed:
            found, how = self.managed[managed], "managed"
        elif group_id is not None and (
            hit := next((s for s in self.patterns if _glob(group_id, s.value)), None)
        ):
            found, how = hit, "rule_group_pattern"
        elif isinstance(rule_id, str) and (
            hit := next((s for s in self.rules if _glob(rule_id, s.value)), None)
        ):
            found, how = hit, "web_acl_rule"
        owner = found.owner if found else self.config.default_owner
        return {"team": owner.team, "layer": owner.layer, "oncall": owner.oncall, "matched_by": how}


def _glob(text: str, pattern: str) -> bool:
    return re.search(glob_regex(pattern), text) is not None
