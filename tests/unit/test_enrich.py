"""Enrichment: pure Polars transforms, specified as input records and expected fields."""

from __future__ import annotations

import ipaddress

import orjson
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enrich import schema as S
from enrich.config import ConfigError, EnrichConfig
from enrich.fields import IP_ADDRESS
from enrich.pipeline import POSITION, enrich
from enrich.redact import Redaction
from enrich.webacl import webacl_expr
from ingest.decode.framing import FramedBatch
from ingest.decode.records import decode

ARN = "arn:aws:wafv2:eu-west-1:111111111111:regional/webacl/payments-api_prod/5933d6d9"
BASE = {
    "timestamp": 1767571200123,  # 2026-01-05T00:00:00.123Z
    "webaclId": ARN,
    "terminatingRuleId": "Default_Action",
    "terminatingRuleType": "REGULAR",
    "action": "ALLOW",
    "ruleGroupList": [],
    "httpRequest": {
        "clientIp": "203.0.113.9",
        "headers": [{"name": "User-Agent", "value": "curl/8"}, {"name": "Host", "value": "api.example.com"}],
    },
}
CONFIG = EnrichConfig.from_mapping(
    {
        "owners": [
            {
                "team": "payments-eng",
                "layer": "first",
                "oncall": "#pay",
                "rule_group": [
                    "arn:aws:wafv2:eu-west-1:111111111111:regional/rulegroup/eng-payments-allowlist/1"
                ],
            },
            {
                "team": "security",
                "layer": "last",
                "managed": ["AWSManagedRulesSQLiRuleSet"],
                "rule_group_pattern": ["*/rulegroup/sec-*"],
            },
            {"team": "platform", "layer": "first", "web_acl_rule": ["PREFMManaged*", "Default_Action"]},
        ],
        "accounts": {"111111111111": {"team": "payments", "environment": "prod", "cost_centre": "CC-1"}},
        "account_defaults": {"team": "unknown-team"},
        "index": {"prefix": "waf"},
    }
)


def enriched(*records: dict[str, object], config: EnrichConfig = CONFIG) -> pl.DataFrame:
    batch = FramedBatch()
    for i, record in enumerate(records, start=1):
        batch.add(orjson.dumps(record), i)
    decoded = decode(batch, redaction=Redaction(config.redacted_headers), projection=S.WAF_RECORD)
    assert decoded.rejected == []
    return enrich(decoded.frame.lazy(), config).collect()


def waflens(frame: pl.DataFrame, *path: str) -> list[object]:
    expr = pl.col(S.ENRICHMENT)
    for name in path:
        expr = expr.struct.field(name)
    return frame.select(expr)[:, 0].to_list()


def test_the_enriched_frame_has_exactly_the_declared_schema() -> None:
    assert enriched(BASE).drop(POSITION).schema == S.ENRICHED


def test_event_time_and_index_come_from_the_event_not_the_clock() -> None:
    frame = enriched(BASE)
    assert frame[S.TIMESTAMP].dt.to_string("%Y-%m-%dT%H:%M:%S%.3f").to_list() == ["2026-01-05T00:00:00.123"]
    assert frame[S.DOC_INDEX].to_list() == ["waf-2026.01.05"]


@pytest.mark.parametrize(
    ("webacl_id", "expected"),
    [
        (ARN, ("wafv2", "aws", "eu-west-1", "111111111111", "REGIONAL", "payments-api_prod", "5933d6d9")),
        (
            "arn:aws:wafv2:us-east-1:123456789012:global/webacl/hello-world/59",
            ("wafv2", "aws", "us-east-1", "123456789012", "CLOUDFRONT", "hello-world", "59"),
        ),
        (
            "arn:aws:wafv2:us-east-1:XXXXXXXXXXXX:global/webacl/acme/41f0",
            ("wafv2", "aws", "us-east-1", None, "CLOUDFRONT", "acme", "41f0"),
        ),
        (
            "arn:aws:wafv2:eu-east-1:global/webacl/no-account/9",
            ("wafv2", "aws", "eu-east-1", None, "CLOUDFRONT", "no-account", "9"),
        ),
        (
            "arn:aws-us-gov:wafv2:us-gov-west-1:123456789012:regional/webacl/gov/1",
            ("wafv2", "aws-us-gov", "us-gov-west-1", "123456789012", "REGIONAL", "gov", "1"),
        ),
        (
            "2668f4a5-da32-4d63-bea8-1ed02607da4f",
            ("classic", None, None, None, None, None, "2668f4a5-da32-4d63-bea8-1ed02607da4f"),
        ),
        ("garbage", ("unparsed", None, None, None, None, None, None)),
    ],
)
def test_web_acl_ids_are_parsed_leniently(webacl_id: str, expected: tuple[object, ...]) -> None:
    row = pl.select(webacl_expr(pl.lit(webacl_id)).alias("w")).item(0, "w")
    assert tuple(row.values()) == expected


def group(group_id: str, rule: str | None = None) -> dict[str, object]:
    return {
        "ruleGroupId": group_id,
        "terminatingRule": None
        if rule is None
        else {"ruleId": rule, "action": "BLOCK", "ruleMatchDetails": None},
        "nonTerminatingMatchingRules": [],
        "excludedRules": None,
    }


def blocked_by(web_acl_rule: str, *groups: dict[str, object], rule_type: str = "GROUP") -> dict[str, object]:
    return {
        **BASE,
        "action": "BLOCK",
        "terminatingRuleId": web_acl_rule,
        "terminatingRuleType": rule_type,
        "ruleGroupList": list(groups),
    }


def test_ownership_follows_the_precedence_of_selector_kinds() -> None:
    frame = enriched(
        blocked_by(
            "eng-allow",
            group("arn:aws:wafv2:eu-west-1:111111111111:regional/rulegroup/eng-payments-allowlist/1", "r1"),
        ),
        blocked_by(
            "AWS-SQLi",
            group("AWS#AWSManagedRulesCommonRuleSet"),
            group("AWS#AWSManagedRulesSQLiRuleSet#Version_2.0", "SQLi_BODY"),
            rule_type="MANAGED_RULE_GROUP",
        ),
        blocked_by(
            "sec",
            group("arn:aws:wafv2:eu-west-1:111111111111:regional/rulegroup/sec-baseline-blocklist/2", "deny"),
        ),
        blocked_by(
            "PREFMManaged1234",
            group("arn:aws:wafv2:eu-west-1:111111111111:regional/rulegroup/fms-pre/3", "x"),
            rule_type="MANAGED_RULE_GROUP",
        ),
        BASE,
        blocked_by("my-ip-block", rule_type="REGULAR"),
    )
    owners = [(o["team"], o["layer"], o["matched_by"]) for o in waflens(frame, "terminating", "owner")]
    assert owners == [
        ("payments-eng", "first", "rule_group"),
        ("security", "last", "managed"),
        ("security", "last", "rule_group_pattern"),
        ("platform", "first", "web_acl_rule"),
        ("platform", "first", "web_acl_rule"),
        ("unowned", "unassigned", "default"),
    ]
    assert waflens(frame, "terminating", "rule_group_name")[:3] == [
        "eng-payments-allowlist",
        "AWSManagedRulesSQLiRuleSet",
        "sec-baseline-blocklist",
    ]
    assert waflens(frame, "terminating", "group_rule_id")[:2] == ["r1", "SQLi_BODY"]


def test_a_group_overridden_to_count_did_not_act() -> None:
    counted = {
        **BASE,
        "ruleGroupList": [group("AWS#AWSManagedRulesSQLiRuleSet", "SQLi_BODY")],
        "nonTerminatingMatchingRules": [{"ruleId": "AWS-SQLi", "action": "COUNT", "ruleMatchDetails": []}],
    }
    frame = enriched(counted)
    assert waflens(frame, "terminating", "rule_group_id") == [None]
    assert waflens(frame, "counted") == [True]
    assert waflens(frame, "rule_ids") == [["SQLi_BODY", "AWS-SQLi"]]
    assert waflens(frame, "rule_group_ids") == [["AWS#AWSManagedRulesSQLiRuleSet"]]


def test_rule_ids_come_from_every_list_once() -> None:
    record = blocked_by(
        "rate-limit",
        {
            **group("AWS#AWSManagedRulesBotControlRuleSet#Version_5.0"),
            "nonTerminatingMatchingRules": [{"ruleId": "CategoryHttpLibrary", "action": "COUNT"}],
            "excludedRules": [{"exclusionType": "EXCLUDED_AS_COUNT", "ruleId": "SignalNonBrowserUserAgent"}],
        },
        rule_type="RATE_BASED",
    ) | {
        "rateBasedRuleList": [{"rateBasedRuleName": "rate-limit", "limitKey": "IP"}],
        "nonTerminatingMatchingRules": [{"ruleId": "geo-count", "action": "COUNT"}],
        "labels": [{"name": "awswaf:managed:aws:bot-control:bot:category:http_library"}],
    }
    frame = enriched(record)
    assert waflens(frame, "rule_ids") == [
        ["rate-limit", "CategoryHttpLibrary", "SignalNonBrowserUserAgent", "geo-count"]
    ]
    assert waflens(frame, "labels") == [["awswaf:managed:aws:bot-control:bot:category:http_library"]]
    assert waflens(frame, "blocked") == [True]


def test_account_tags_are_joined_and_unknown_accounts_get_the_defaults() -> None:
    other = {**BASE, "webaclId": ARN.replace("111111111111", "999999999999")}
    frame = enriched(BASE, other, {**BASE, "webaclId": "2668f4a5-da32-4d63-bea8-1ed02607da4f"})
    assert waflens(frame, "account") == [
        {
            "id": "111111111111",
            "name": None,
            "team": "payments",
            "environment": "prod",
            "cost_centre": "CC-1",
            "business_unit": None,
        },
        {
            "id": "999999999999",
            "name": None,
            "team": "unknown-team",
            "environment": None,
            "cost_centre": None,
            "business_unit": None,
        },
        {
            "id": None,
            "name": None,
            "team": "unknown-team",
            "environment": None,
            "cost_centre": None,
            "business_unit": None,
        },
    ]


def test_flat_request_fields() -> None:
    masked = {
        **BASE,
        "httpRequest": {
            "clientIp": "X.X.X.X",
            "host": "h.example",
            "headers": [
                {"name": "user-agent", "value": "a"},
                {"name": "USER-AGENT", "value": "b"},
                {"name": "Cookie", "value": "s"},
            ],
        },
    }
    frame = enriched(BASE, masked)
    assert waflens(frame, "client_ip") == ["203.0.113.9", None]
    assert waflens(frame, "user_agent") == ["curl/8", "a"]
    assert waflens(frame, "host") == ["api.example.com", "h.example"]
    assert waflens(frame, "header_names") == [["user-agent", "host"], ["user-agent", "cookie"]]
    assert waflens(frame, "redacted_headers") == [[], ["cookie"]]


@settings(max_examples=400, deadline=None)
@given(
    candidate=st.one_of(
        st.ip_addresses().map(str),
        st.ip_addresses(v=6).map(lambda a: a.exploded),
        st.text(alphabet="0123456789abcdefABCDEF.:", max_size=45),
    )
)
def test_client_ip_validation_agrees_with_the_ipaddress_module(candidate: str) -> None:
    try:
        ipaddress.ip_address(candidate)
        valid = "%" not in candidate
    except ValueError:
        valid = False
    assert pl.select(pl.lit(candidate).str.contains(IP_ADDRESS)).item() == valid


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"owners": [{"layer": "first"}]}, "owners[0].team must be a non-empty string"),
        (
            {"owners": [{"team": "a", "layer": "middle"}]},
            "owners[0].layer must be one of first, last, unassigned",
        ),
        (
            {"owners": [{"team": "a", "managed": ["X"]}, {"team": "b", "managed": "X"}]},
            "owners[1].managed: 'X' is already owned by owners[0]",
        ),
        ({"accounts": {"1234": {"team": "a"}}}, "accounts.1234: an AWS account id is 12 digits"),
        ({"accounts": {"111111111111": {"teem": "a"}}}, "unknown key accounts.111111111111.teem"),
        (
            {"index": {"prefix": "Bad Prefix"}},
            "index.prefix 'Bad Prefix' is not a valid OpenSearch index name prefix",
        ),
        ({"redaction": {"headers": "x-secret", "marker": 3}}, "redaction.marker must be a string"),
    ],
)
def test_config_errors_name_the_key(doc: dict[str, object], message: str) -> None:
    with pytest.raises(
        ConfigError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")
    ):
        EnrichConfig.from_mapping(doc)


def test_configured_redaction_extends_the_defaults() -> None:
    config = EnrichConfig.from_mapping({"redaction": {"headers": ["X-Session"]}})
    assert "x-session" in config.redacted_headers
    assert "authorization" in config.redacted_headers
