"""Threat fields: OWASP API Top 10 categories, the parsed user agent and the registered domain."""

from __future__ import annotations

import copy
import re
from typing import Any

import orjson
import polars as pl
import pytest

from enrich import schema as S
from enrich.config import ConfigError, EnrichConfig
from enrich.domain import registered_domain
from enrich.owasp import CATEGORIES, default_rules
from enrich.useragent import parse_user_agent
from tests.support.pipeline import enriched
from tests.support.samples import samples_dir

API1, API2, _, API4, API5, API6, API7, API8, API9, API10 = CATEGORIES
IP_LISTS = "AWS#AWSManagedRulesAmazonIpReputationList"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
PAYMENTS_GROUP = "arn:aws:wafv2:eu-west-1:111111111111:regional/rulegroup/eng-payments-allowlist/1"
BASE: dict[str, Any] = {
    "timestamp": 1767571200123,
    "webaclId": "arn:aws:wafv2:eu-west-1:111111111111:regional/webacl/payments-api_prod/5933d6d9",
    "terminatingRuleId": "Default_Action",
    "terminatingRuleType": "REGULAR",
    "action": "ALLOW",
    "ruleGroupList": [],
    "httpRequest": {
        "clientIp": "203.0.113.9",
        "country": "US",
        "headers": [{"name": "User-Agent", "value": CHROME}, {"name": "Host", "value": "api.example.com"}],
    },
}


def record(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(BASE)
    request = changes.pop("httpRequest", None)
    out.update(changes)
    if request is not None:
        out["httpRequest"].update(request)
    return out


def group(group_id: str, *, terminating: str | None = None, counted: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "ruleGroupId": group_id,
        "terminatingRule": {"ruleId": terminating, "action": "BLOCK"} if terminating else None,
        "nonTerminatingMatchingRules": [{"ruleId": r, "action": "COUNT"} for r in counted],
        "excludedRules": None,
    }


def blocked_by(group_id: str, rule: str) -> dict[str, Any]:
    return record(
        action="BLOCK",
        terminatingRuleId=rule,
        terminatingRuleType="MANAGED_RULE_GROUP",
        ruleGroupList=[group(group_id, terminating=rule)],
    )


def threats(*records: dict[str, Any], config: EnrichConfig | None = None) -> list[dict[str, Any]]:
    frame = enriched([orjson.dumps(r).decode() for r in records], config=config)
    fields = pl.col(S.ENRICHMENT).struct.field
    return frame.select(fields("owasp"), fields("ua"), fields("domain")).to_dicts()


def owasp_of(*records: dict[str, Any], config: EnrichConfig | None = None) -> list[list[str]]:
    return [t["owasp"] for t in threats(*records, config=config)]


def sample_line(name: str, line: int) -> dict[str, Any]:
    text = (samples_dir() / name).read_text(encoding="utf-8").splitlines()[line - 1]
    parsed: dict[str, Any] = orjson.loads(text)
    return parsed


# --- OWASP API Security Top 10 2023 -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "line", "expected"),
    [
        ("onug-csnf-doc.ndjson", 1, [API7]),  # CRS GenericRFI_URIPATH: the server fetches a URL
        ("ahera1-awswaflogtocsv.ndjson", 1, [API8]),  # Windows rule set, WindowsShellCommands_BODY
        ("sekoia-intake-formats.ndjson", 7, [API6]),  # anonymous IP list, HostingProviderIPList (counted)
        ("otel-collector-contrib.ndjson", 1, [API4]),  # a rate-based rule in rateBasedRuleList
        ("panther.ndjson", 5, [API4]),  # terminated by a RATE_BASED rule
        ("panther.ndjson", 6, [API8]),  # the SQLi managed rule group
        ("aws-samples-waf-agentcore.ndjson", 1, [API4, API6]),  # rate-based, and Bot Control labels
        ("aws-docs-examples.ndjson", 2, []),  # Default_Action, nothing matched
    ],
)
def test_real_records_get_the_categories_of_what_matched(name: str, line: int, expected: list[str]) -> None:
    assert owasp_of(sample_line(name, line)) == [expected]


@pytest.mark.parametrize(
    ("matched", "expected"),
    [
        (blocked_by("AWS#AWSManagedRulesCommonRuleSet", "SizeRestrictions_BODY"), [API4]),
        (blocked_by("AWS#AWSManagedRulesCommonRuleSet", "EC2MetaDataSSRF_QUERYARGUMENTS"), [API7]),
        (blocked_by("AWS#AWSManagedRulesCommonRuleSet", "CrossSiteScripting_BODY"), [API8]),
        (blocked_by("AWS#AWSManagedRulesCommonRuleSet", "NoUserAgent_HEADER"), [API6]),
        (blocked_by("AWS#AWSManagedRulesKnownBadInputsRuleSet", "Log4JRCE_HEADER"), [API8]),
        (blocked_by("AWS#AWSManagedRulesSQLiRuleSet#Version_2.0", "SQLi_BODY"), [API8]),
        (blocked_by("AWS#AWSManagedRulesAdminProtectionRuleSet", "AdminProtection_URIPATH"), [CATEGORIES[4]]),
        (
            blocked_by("AWS#AWSManagedRulesAmazonIpReputationList", "AWSManagedReconnaissanceList"),
            [CATEGORIES[8]],
        ),
        (blocked_by("AWS#AWSManagedRulesAmazonIpReputationList", "AWSManagedIPDDoSList"), [API4]),
        (record(labels=[{"name": "awswaf:managed:aws:atp:signal:credential_compromised"}]), [API2]),
        (record(labels=[{"name": "awswaf:managed:aws:acfp:signal:form_detected"}]), [API2, API6]),
        (record(labels=[{"name": "awswaf:managed:aws:anti-ddos:challengeable-request"}]), []),
        (record(labels=[{"name": "awswaf:managed:aws:anti-ddos:high-suspicion-ddos-request"}]), [API4]),
        (
            blocked_by("arn:aws:wafv2:us-east-1:1:global/rulegroup/ShieldMitigationRuleGroup_1_a/b", "r"),
            [API4],
        ),
        (record(labels=[{"name": "awswaf:clientip:geo:country:NL"}]), []),
    ],
)
def test_the_built_in_table_maps_aws_managed_rules(matched: dict[str, Any], expected: list[str]) -> None:
    assert owasp_of(matched) == [expected]


def test_categories_are_unique_and_in_the_top_10_order() -> None:
    many = record(
        action="BLOCK",
        terminatingRuleId="login-rate-limit",
        terminatingRuleType="RATE_BASED",
        ruleGroupList=[
            group("AWS#AWSManagedRulesSQLiRuleSet", counted=("SQLi_BODY", "SQLi_QUERYARGUMENTS")),
            group("AWS#AWSManagedRulesCommonRuleSet", counted=("CrossSiteScripting_BODY", "GenericRFI_BODY")),
        ],
    )
    assert owasp_of(many) == [[API4, API7, API8]]


def test_the_config_file_extends_the_table_and_overrides_it_for_what_its_entries_match() -> None:
    config = EnrichConfig.from_mapping(
        {
            "owasp": {
                "map": [
                    {"rule_group_pattern": "arn:*/rulegroup/eng-payments-*", "category": API1},
                    {"rule_id": "SQLi_BODY", "category": [API10]},
                    {"label": "awswaf:managed:aws:bot-control:bot:verified", "category": []},
                ]
            }
        }
    )
    payments = record(action="BLOCK", ruleGroupList=[group(PAYMENTS_GROUP, counted=("deny-bulk-export",))])
    sqli = blocked_by("AWS#AWSManagedRulesSQLiRuleSet", "SQLi_BODY")
    verified = record(labels=[{"name": "awswaf:managed:aws:bot-control:bot:verified"}])
    named = record(labels=[{"name": "awswaf:managed:aws:bot-control:bot:name:googlebot"}])
    # the group still maps through the table; only the subject the entry names changes
    assert owasp_of(payments, sqli, verified, named, config=config) == [[API1], [API8, API10], [], [API6]]


def test_replace_defaults_leaves_only_the_config_files_entries() -> None:
    config = EnrichConfig.from_mapping(
        {
            "owasp": {
                "replace_defaults": True,
                "map": [{"managed": "AWSManagedRulesSQLiRuleSet", "category": API10}],
            }
        }
    )
    rfi = blocked_by("AWS#AWSManagedRulesCommonRuleSet", "GenericRFI_BODY")
    sqli = blocked_by("AWS#AWSManagedRulesSQLiRuleSet#Version_2.0", "SQLi_BODY")
    assert owasp_of(rfi, sqli, config=config) == [[], [API10]]
    assert EnrichConfig.from_mapping({"owasp": {"replace_defaults": True}}).owasp.defaults == ()


def test_the_built_in_table_parses_and_names_only_the_ten_categories() -> None:
    rules = default_rules()
    assert len(rules) >= 30
    assert {c for r in rules for c in r.categories} <= set(CATEGORIES)
    assert EnrichConfig().owasp.defaults == rules


@pytest.mark.parametrize(
    ("owasp", "message"),
    [
        ({"mapping": []}, "unknown key owasp.mapping"),
        ({"replace_defaults": "yes"}, "owasp.replace_defaults must be true or false"),
        ({"map": {"rule_id": "x"}}, "owasp.map must be a list"),
        ({"map": [{"rule_id": "x"}]}, "owasp.map[0] needs a category"),
        ({"map": [{"category": API4}]}, "owasp.map[0] matches nothing: give one of rule_id, managed"),
        (
            {"map": [{"rule_id": "x", "category": "API4:2023"}]},
            "owasp.map[0].category 'API4:2023' is not an OWASP",
        ),
        ({"map": [{"rule_id": "x", "category": [API4, "API11"]}]}, "owasp.map[0].category[1] 'API11' is not"),
        ({"map": [{"rule_id": "", "category": API4}]}, "owasp.map[0].rule_id[0] must not be empty"),
        (
            {"map": [{"rule_id": 7, "category": API4}]},
            "owasp.map[0].rule_id must be a string or a list of strings",
        ),
        ({"map": [{"rule_id": ["x", 7], "category": API4}]}, "owasp.map[0].rule_id[1] must be a string"),
        ({"map": [{"rule": "x", "category": API4}]}, "unknown key owasp.map[0].rule"),
        ("all", "owasp must be a table"),
    ],
)
def test_a_bad_owasp_table_is_one_sentence_naming_the_key(owasp: object, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(message)) as caught:
        EnrichConfig.from_mapping({"owasp": owasp})
    assert "\n" not in str(caught.value)


def test_a_wrong_category_sentence_lists_the_ten() -> None:
    with pytest.raises(ConfigError) as caught:
        EnrichConfig.from_mapping({"owasp": {"map": [{"label": "x", "category": "Injection"}]}})
    assert all(c in str(caught.value) for c in CATEGORIES)


# --- user agent -------------------------------------------------------------------------------------


def with_agent(agent: str | None, **changes: Any) -> dict[str, Any]:
    headers = [{"name": "Host", "value": "api.example.com"}]
    if agent is not None:
        headers.append({"name": "user-agent", "value": agent})
    return record(httpRequest={"headers": headers}, **changes)


def test_user_agents_are_parsed_into_browser_version_os_and_device() -> None:
    chrome, curl, bot, missing = (
        t["ua"] for t in threats(*map(with_agent, (CHROME, "curl/8.5.0", GOOGLEBOT, None)))
    )
    assert chrome == {
        "browser": "Chrome",
        "browser_version": "131.0.0.0",
        "os": "Windows",
        "device": None,
        "bot": False,
    }
    assert curl == {"browser": "curl", "browser_version": "8.5.0", "os": None, "device": None, "bot": False}
    assert bot["browser"] == "Googlebot"
    assert bot["device"] == "Spider"
    assert bot["bot"] is True
    assert missing == {"browser": None, "browser_version": None, "os": None, "device": None, "bot": False}


def test_bot_control_labels_make_a_browser_looking_request_a_bot() -> None:
    labelled = with_agent(CHROME, labels=[{"name": "awswaf:managed:aws:bot-control:bot:category:scraping"}])
    signal_only = with_agent(
        CHROME, labels=[{"name": "awswaf:managed:aws:bot-control:signal:automated_browser"}]
    )
    assert [t["ua"]["bot"] for t in threats(labelled, signal_only)] == [True, False]


def test_each_distinct_user_agent_is_parsed_once_and_parses_are_kept_across_batches() -> None:
    agents = [CHROME, "curl/8.5.0", "okhttp/4.12.0 unique-to-this-test"]
    batch = [with_agent(agents[i % 3]) for i in range(300)]
    parse_user_agent.cache_clear()
    threats(*batch)
    first = parse_user_agent.cache_info()
    threats(*batch)  # a warm Lambda's next batch
    second = parse_user_agent.cache_info()
    assert (first.misses, first.hits) == (3, 0)  # three calls for 300 records
    assert (second.misses, second.hits) == (3, 3)  # none parsed again


def test_a_hostile_user_agent_is_parsed_within_bounds_and_kept_as_sent() -> None:
    controls = "".join(map(chr, range(1, 32)))
    huge = "Mozilla/5.0 (" * 80_000 + controls + "\u2028\U0001f600"
    frame = enriched([orjson.dumps(with_agent(huge)).decode(), orjson.dumps(with_agent(controls)).decode()])
    ua = frame.select(pl.col(S.ENRICHMENT).struct.field("ua")).to_series().to_list()
    kept = frame.select(pl.col(S.ENRICHMENT).struct.field("user_agent")).to_series().to_list()
    assert kept == [huge, controls]  # the flat field keeps the value; only the parse input is cut
    assert all(set(u) == {"browser", "browser_version", "os", "device", "bot"} for u in ua)
    assert parse_user_agent.cache_info().maxsize is not None  # a bounded cache, whatever is sent


# --- registered domain ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("api.example.co.uk:443", "example.co.uk"),
        ("API.Example.COM.", "example.com"),
        ("example.com", "example.com"),
        ("d111abcdef8.cloudfront.net", "d111abcdef8.cloudfront.net"),  # a private suffix counts
        ("co.uk", None),  # a public suffix on its own
        ("localhost:1989", None),
        ("203.0.113.9", None),
        ("203.0.113.9:8080", None),
        ("2001:db8::1", None),
        ("[2001:db8::1]:443", None),
        ("exa mple.com", None),
        ("example.com\nx", None),
        ("a" * 250 + ".example.com", None),
        (None, None),
    ],
)
def test_the_registered_domain_of_the_host(host: str | None, domain: str | None) -> None:
    assert [t["domain"] for t in threats(record(httpRequest={"host": host, "headers": []}))] == [domain]


def test_without_httprequest_host_the_host_header_names_the_domain() -> None:
    assert [t["domain"] for t in threats(record())] == ["example.com"]


def test_each_distinct_host_is_looked_up_once() -> None:
    hosts = ["api.example.co.uk:443", "www.example.org"]
    batch = [record(httpRequest={"host": hosts[i % 2], "headers": []}) for i in range(200)]
    registered_domain.cache_clear()
    assert {t["domain"] for t in threats(*batch)} == {"example.co.uk", "example.org"}
    assert (registered_domain.cache_info().misses, registered_domain.cache_info().hits) == (2, 0)


def test_a_batch_with_no_records_enriches_to_the_declared_schema() -> None:
    frame = enriched([])
    assert frame.height == 0
    assert frame.schema[S.ENRICHMENT] == S.ENRICHMENT_FIELDS
