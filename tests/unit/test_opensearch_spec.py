"""The offline OpenSearch checks can fail: realistic WAF bodies pass, every known mistake is caught.

Each artifact kind has one realistic valid sample (accepted by the spec in strict and plain mode and by
the project rules) and the deliberately invalid variants of reference §3.3, each caught either by the
spec in strict mode or by a project rule. ``plain`` records whether the published (open) spec alone
would have caught it, which is why strict mode is used.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from tests.support import opensearch_spec as osv
from tests.support import shared
from tests.support.opensearch_spec import SpecValidator, spec_validator

# ---------------------------------------------------------------------------------------------------
# Valid samples
# ---------------------------------------------------------------------------------------------------

KEYWORD = {"type": "keyword"}
TEXT_WITH_KEYWORD = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 2048}}}
RULE_MATCH = {"type": "nested", "properties": {"ruleId": KEYWORD, "action": KEYWORD}}

TEMPLATE: dict[str, Any] = {
    "index_patterns": ["waflens-waf-*"],
    "priority": 200,
    "version": 3,
    "_meta": {"managed_by": "waflens", "schema_version": 3},
    "template": {
        "settings": {
            "index.number_of_shards": 2,
            "index.number_of_replicas": 1,
            "index.refresh_interval": "30s",
            "index.codec": "best_compression",
            "index.mapping.total_fields.limit": 2000,
            "index.mapping.nested_fields.limit": 100,
            "index.mapping.ignore_malformed": True,
            "index.routing.allocation.require.box_type": "hot",
            "plugins.index_state_management.rollover_alias": "waflens-waf",
            "analysis": {
                "analyzer": {
                    "uri_path": {"type": "custom", "tokenizer": "path_hierarchy", "filter": ["lowercase"]}
                }
            },
        },
        "mappings": {
            "dynamic": False,
            "_source": {"enabled": True},
            "properties": {
                "@timestamp": {"type": "date"},
                "timestamp": {"type": "date", "format": "epoch_millis"},
                "formatVersion": {"type": "short"},
                "webaclId": {"type": "keyword", "ignore_above": 2048},
                "action": KEYWORD,
                "terminatingRuleId": KEYWORD,
                "terminatingRuleType": KEYWORD,
                "httpSourceName": KEYWORD,
                "httpRequest": {
                    "properties": {
                        "clientIp": {"type": "ip", "ignore_malformed": True},
                        "country": KEYWORD,
                        "uri": {**TEXT_WITH_KEYWORD, "analyzer": "uri_path"},
                        "args": {"type": "keyword", "ignore_above": 2048},
                        "httpVersion": KEYWORD,
                        "httpMethod": KEYWORD,
                        "requestId": KEYWORD,
                        "headers": {
                            "type": "nested",
                            "properties": {
                                "name": KEYWORD,
                                "value": {"type": "keyword", "ignore_above": 1024},
                            },
                        },
                    }
                },
                "ruleGroupList": {
                    "type": "nested",
                    "properties": {
                        "ruleGroupId": KEYWORD,
                        "terminatingRule": {"properties": {"ruleId": KEYWORD, "action": KEYWORD}},
                        "nonTerminatingMatchingRules": RULE_MATCH,
                    },
                },
                "nonTerminatingMatchingRules": RULE_MATCH,
                "rateBasedRuleList": {
                    "type": "nested",
                    "properties": {
                        "rateBasedRuleId": KEYWORD,
                        "limitKey": KEYWORD,
                        "maxRateAllowed": {"type": "long"},
                    },
                },
                "labels": {"type": "nested", "properties": {"name": KEYWORD}},
                "waflens": {
                    "properties": {
                        "blocked": {"type": "boolean"},
                        "client_ip": {"type": "ip"},
                        "rule_ids": KEYWORD,
                        "label_names": KEYWORD,
                        "user_agent": TEXT_WITH_KEYWORD,
                        "account": {
                            "properties": {
                                "id": KEYWORD,
                                "team": KEYWORD,
                                "environment": KEYWORD,
                                "cost_centre": KEYWORD,
                            }
                        },
                        "tags": {"type": "flat_object"},
                    }
                },
            },
        },
    },
}

ISM_POLICY: dict[str, Any] = {
    "policy": {
        "description": "waflens WAF logs: hot 7 days, warm until 90 days, then delete",
        "default_state": "hot",
        "states": [
            {
                "name": "hot",
                "actions": [
                    {
                        "retry": {"count": 3, "backoff": "exponential", "delay": "1m"},
                        "rollover": {"min_primary_shard_size": "30gb", "min_index_age": "1d"},
                    }
                ],
                "transitions": [{"state_name": "warm", "conditions": {"min_index_age": "7d"}}],
            },
            {
                "name": "warm",
                "actions": [
                    {"force_merge": {"max_num_segments": 1}},
                    {"replica_count": {"number_of_replicas": 0}},
                ],
                "transitions": [{"state_name": "delete", "conditions": {"min_index_age": "90d"}}],
            },
            {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
        ],
        "ism_template": [{"index_patterns": ["waflens-waf-*"], "priority": 100}],
    }
}

PAYMENTS_DLS = {"bool": {"filter": [{"term": {"waflens.account.team": "payments"}}]}}
ROLE: dict[str, Any] = {
    "description": "Payments analysts: their own WAF events, secrets in URIs masked",
    "cluster_permissions": ["cluster_composite_ops_ro"],
    "index_permissions": [
        {
            "index_patterns": ["waflens-waf-*"],
            "dls": json.dumps(PAYMENTS_DLS),
            "fls": ["~httpRequest.headers", "~waflens.account.cost_centre"],
            "masked_fields": [
                "httpRequest.args::SHA-256",
                "httpRequest.uri::/token=[^&]*/::token=REDACTED",
                "waflens.account.id",
            ],
            "allowed_actions": ["read", "search", "indices:admin/mappings/get"],
        }
    ],
    "tenant_permissions": [{"tenant_patterns": ["payments"], "allowed_actions": ["kibana_all_read"]}],
}

ROLE_MAPPING: dict[str, Any] = {
    "description": "Okta SAML group and the AWS IAM role of the payments analysts",
    "backend_roles": ["waf-analysts-payments", "arn:aws:iam::123456789012:role/WafAnalystsPayments"],
    "users": [],
    "hosts": [],
}

SEARCH: dict[str, Any] = {
    "size": 0,
    "track_total_hits": True,
    "query": {
        "bool": {
            "filter": [{"term": {"action": "BLOCK"}}, {"range": {"@timestamp": {"gte": "now-24h"}}}],
            "must_not": [{"terms": {"waflens.account.environment": ["sandbox"]}}],
        }
    },
    "aggs": {
        "top_client_ips": {
            "terms": {"field": "httpRequest.clientIp", "size": 20},
            "aggs": {"per_hour": {"date_histogram": {"field": "@timestamp", "fixed_interval": "1h"}}},
        },
        "rule_groups": {
            "nested": {"path": "ruleGroupList"},
            "aggs": {"ids": {"terms": {"field": "ruleGroupList.ruleGroupId", "size": 10}}},
        },
    },
}

MONITOR: dict[str, Any] = {
    "type": "monitor",
    "monitor_type": "bucket_level_monitor",
    "name": "waflens blocked-request spike per client IP",
    "enabled": True,
    "schedule": {"period": {"interval": 5, "unit": "MINUTES"}},
    "inputs": [
        {
            "search": {
                "indices": ["waflens-waf-*"],
                "query": {
                    "size": 0,
                    "query": {
                        "bool": {
                            "filter": [
                                {"term": {"action": "BLOCK"}},
                                {
                                    "range": {
                                        "@timestamp": {
                                            "gte": "{{period_end}}||-10m",
                                            "lte": "{{period_end}}",
                                            "format": "epoch_millis",
                                        }
                                    }
                                },
                            ]
                        }
                    },
                    "aggregations": {
                        "by_client_ip": {
                            "composite": {
                                "size": 50,
                                "sources": [{"client_ip": {"terms": {"field": "httpRequest.clientIp"}}}],
                            },
                            "aggs": {"blocked": {"value_count": {"field": "httpRequest.requestId"}}},
                        }
                    },
                },
            }
        }
    ],
    "triggers": [
        {
            "bucket_level_trigger": {
                "id": "blocked-spike",
                "name": "More than 500 blocked requests from one IP in 10 minutes",
                "severity": "2",
                "condition": {
                    "buckets_path": {"blocked": "blocked"},
                    "parent_bucket_path": "by_client_ip",
                    "script": {"source": "params.blocked > 500", "lang": "painless"},
                    "gap_policy": "skip",
                },
                "actions": [
                    {
                        "name": "page on-call",
                        "destination_id": "waflens-oncall-sns",
                        "subject_template": {"source": "WAF: blocked spike on {{ctx.monitor.name}}"},
                        "message_template": {
                            "source": "{{#ctx.newAlerts}}{{bucket_keys}} {{/ctx.newAlerts}}",
                            "lang": "mustache",
                        },
                        "throttle_enabled": True,
                        "throttle": {"value": 30, "unit": "MINUTES"},
                        "action_execution_policy": {
                            "action_execution_scope": {"per_alert": {"actionable_alerts": ["DEDUPED", "NEW"]}}
                        },
                    }
                ],
            }
        }
    ],
}


def ndjson(*lines: object) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)


INDEX_NAME = "waflens-waf-2026.08.21"
WAF_DOC = {
    "@timestamp": "2026-08-21T10:15:00.123Z",
    "timestamp": 1787307300123,
    "formatVersion": 1,
    "webaclId": "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/shop/0a1b2c3d",
    "action": "BLOCK",
    "terminatingRuleId": "AWS-AWSManagedRulesSQLiRuleSet",
    "terminatingRuleType": "MANAGED_RULE_GROUP",
    "httpSourceName": "ALB",
    "httpRequest": {
        "clientIp": "198.51.100.7",
        "country": "NL",
        "headers": [
            {"name": "Host", "value": "shop.example.com"},
            {"name": "Authorization", "value": "REDACTED"},
        ],
        "uri": "/search",
        "args": "q=1%27%20OR%201%3D1",
        "httpVersion": "HTTP/2.0",
        "httpMethod": "GET",
        "requestId": "1-66c5b3c4-5f2d0a1b2c3d4e5f6a7b8c9d",
    },
    "labels": [{"name": "awswaf:managed:aws:sql-database:SQLi_QueryArguments"}],
    "waflens": {
        "blocked": True,
        "client_ip": "198.51.100.7",
        "account": {"id": "123456789012", "team": "shop"},
    },
}
BULK = ndjson(
    {"index": {"_index": INDEX_NAME, "_id": "9f2c4e0d8a7b6c5d"}},
    WAF_DOC,
    {"create": {"_index": INDEX_NAME, "_id": "0b1c2d3e4f5a6b7c"}},
    {**WAF_DOC, "action": "COUNT"},
    {"update": {"_index": INDEX_NAME, "_id": "9f2c4e0d8a7b6c5d", "retry_on_conflict": 3}},
    {"doc": {"waflens": {"account": {"environment": "prod"}}}},
    {"delete": {"_index": INDEX_NAME, "_id": "1a2b3c4d5e6f7a8b"}},
)

# ---------------------------------------------------------------------------------------------------
# How each kind is checked
# ---------------------------------------------------------------------------------------------------

Kind = Literal["template", "ism", "role", "role_mapping", "search", "monitor", "bulk"]
SPEC_GROUP: dict[Kind, str] = {
    "template": "indices.put_index_template",
    "ism": "ism.put_policy",
    "role": "security.create_role",
    "role_mapping": "security.create_role_mapping",
    "search": "search",
    "monitor": "alerting.create_monitor",
}
VALID: dict[Kind, Any] = {
    "template": TEMPLATE,
    "ism": ISM_POLICY,
    "role": ROLE,
    "role_mapping": ROLE_MAPPING,
    "search": SEARCH,
    "monitor": MONITOR,
    "bulk": BULK,
}


@dataclass(frozen=True)
class Validators:
    strict: SpecValidator
    plain: SpecValidator
    strict_alerting: SpecValidator
    plain_alerting: SpecValidator

    def spec_errors(self, kind: Kind, body: Any, *, strict: bool = True) -> list[str]:
        if kind == "monitor":
            validator = self.strict_alerting if strict else self.plain_alerting
        else:
            validator = self.strict if strict else self.plain
        return validator.bulk_body(body) if kind == "bulk" else validator.body(SPEC_GROUP[kind], body)

    def rule_errors(self, kind: Kind, body: Any) -> list[str]:
        rules: dict[Kind, Callable[[Any], list[str]]] = {
            "template": osv.index_template_rules,
            "ism": osv.ism_policy_rules,
            "role": lambda b: osv.role_rules(b, validator=self.strict),
            "role_mapping": osv.role_mapping_rules,
            "monitor": lambda b: osv.monitor_rules(b, validator=self.strict),
        }
        return rules[kind](body) if kind in rules else []


@pytest.fixture(scope="module")
def validators() -> Validators:
    spec_dir = shared.require_shared(shared.shared_dir() / "opensearch-openapi")
    return Validators(
        strict=spec_validator(),
        plain=SpecValidator(spec_dir / osv.SPEC_FILE, strict=False),
        strict_alerting=spec_validator(alerting=True),
        plain_alerting=SpecValidator(spec_dir / osv.ALERTING_SPEC_FILE, strict=False),
    )


DELETE = object()


def changed(base: Any, *edits: tuple[tuple[str | int, ...], Any]) -> Any:
    """A deep copy of ``base`` with each ``(path, value)`` set (``DELETE`` removes the key)."""
    doc = json.loads(json.dumps(base))  # not deepcopy: samples share sub-dicts like KEYWORD
    for path, value in edits:
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if value is DELETE:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return doc


def renamed(base: Any, path: tuple[str | int, ...], new_key: str) -> Any:
    parent = base
    for key in path[:-1]:
        parent = parent[key]
    return changed(base, (path, DELETE), ((*path[:-1], new_key), parent[path[-1]]))


# ---------------------------------------------------------------------------------------------------
# Invalid variants (reference §3.3, plus project-rule cases)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invalid:
    kind: Kind
    body: Any
    caught_by: Literal["spec", "rule"]  # "spec": SpecValidator (incl. bulk_body's line structure)
    plain: bool | None = None  # does the open (plain) spec catch it too? (§3.3 table cases only)


PROPS = ("template", "mappings", "properties")
HOT = ("policy", "states", 0)
PERM = ("index_permissions", 0)
BUCKET = ("triggers", 0, "bucket_level_trigger")
MONITOR_QUERY = ("inputs", 0, "search", "query")
ACTION = {"index": {"_index": INDEX_NAME, "_id": "9f2c4e0d8a7b6c5d"}}

INVALID = [
    # composable index template
    pytest.param(
        Invalid("template", changed(TEMPLATE, ((*PROPS, "action", "type"), "keywrd")), "spec", True),
        id="template-type-keywrd",
    ),
    pytest.param(
        Invalid(
            "template", changed(TEMPLATE, ((*PROPS, "webaclId", "ignore_above"), "2048 chars")), "spec", True
        ),
        id="template-ignore_above-string",
    ),
    pytest.param(
        Invalid("template", changed(TEMPLATE, (("priority",), "high")), "spec", True),
        id="template-priority-high",
    ),
    pytest.param(
        Invalid("template", renamed(TEMPLATE, ("index_patterns",), "index_pattern"), "spec", False),
        id="template-index_pattern-typo",
    ),
    pytest.param(
        Invalid(
            "template",
            changed(TEMPLATE, ((*PROPS, "httpRequest", "properties", "clientIp"), {"tpye": "ip"})),
            "spec",
            False,
        ),
        id="template-tpye-ip",
    ),
    pytest.param(
        Invalid("template", renamed(TEMPLATE, (*PROPS, "timestamp", "format"), "formt"), "spec", False),
        id="template-formt",
    ),
    pytest.param(
        Invalid(
            "template", changed(TEMPLATE, (("template", "mappings", "dynamic"), "sometimes")), "spec", True
        ),
        id="template-dynamic-sometimes",
    ),
    pytest.param(
        Invalid("template", changed(TEMPLATE, (("index_patterns",), DELETE)), "rule"),
        id="template-no-index_patterns",
    ),
    pytest.param(
        Invalid("template", changed(TEMPLATE, (("template", "mappings"), DELETE)), "rule"),
        id="template-no-mappings",
    ),
    # ISM policy
    pytest.param(
        Invalid(
            "ism", changed(ISM_POLICY, (("policy", "states", 2, "actions"), [{"delet": {}}])), "spec", False
        ),
        id="ism-action-delet",
    ),
    pytest.param(
        Invalid(
            "ism",
            changed(
                ISM_POLICY, (("policy", "states"), {s["name"]: s for s in ISM_POLICY["policy"]["states"]})
            ),
            "spec",
            True,
        ),
        id="ism-states-object",
    ),
    pytest.param(
        Invalid(
            "ism",
            changed(ISM_POLICY, ((*HOT, "actions", 0, "rollover", "min_doc_count"), "lots")),
            "spec",
            True,
        ),
        id="ism-min_doc_count-lots",
    ),
    pytest.param(
        Invalid(
            "ism", renamed(ISM_POLICY, (*HOT, "transitions", 0, "conditions"), "condition"), "spec", False
        ),
        id="ism-transition-condition-key",
    ),
    pytest.param(Invalid("ism", ISM_POLICY["policy"], "spec", False), id="ism-missing-envelope"),
    pytest.param(
        Invalid(
            "ism",
            renamed(ISM_POLICY, (*HOT, "transitions", 0, "conditions", "min_index_age"), "min_index_agee"),
            "rule",
        ),
        id="ism-condition-min_index_agee",
    ),
    pytest.param(
        Invalid("ism", changed(ISM_POLICY, ((*HOT, "transitions", 0, "state_name"), "cold")), "rule"),
        id="ism-transition-undefined-state",
    ),
    pytest.param(
        Invalid("ism", changed(ISM_POLICY, (("policy", "default_state"), "hott")), "rule"),
        id="ism-default_state-undefined",
    ),
    pytest.param(
        Invalid(
            "ism",
            changed(ISM_POLICY, (("policy", "states", 2, "actions"), [{"delete": {}}, {"read_only": {}}])),
            "rule",
        ),
        id="ism-delete-not-last",
    ),
    pytest.param(
        Invalid(
            "ism",
            changed(
                ISM_POLICY,
                ((*HOT, "transitions", 0, "conditions"), {"min_index_age": "7d", "min_doc_count": 1000}),
            ),
            "rule",
        ),
        id="ism-two-conditions",
    ),
    pytest.param(
        Invalid(
            "ism", changed(ISM_POLICY, ((*HOT, "transitions", 0, "conditions"), {"min_size": "0gb"})), "rule"
        ),
        id="ism-min_size-zero",
    ),
    # security role
    pytest.param(
        Invalid("role", changed(ROLE, ((*PERM, "dls"), PAYMENTS_DLS)), "spec", True), id="role-dls-object"
    ),
    pytest.param(
        Invalid("role", changed(ROLE, ((*PERM, "allowed_actions"), "read")), "spec", True),
        id="role-allowed_actions-string",
    ),
    pytest.param(
        Invalid("role", renamed(ROLE, (*PERM, "index_patterns"), "index_pattern"), "spec", False),
        id="role-index_pattern-typo",
    ),
    pytest.param(
        Invalid("role", renamed(ROLE, ("cluster_permissions",), "cluster_permission"), "spec", False),
        id="role-cluster_permission-typo",
    ),
    pytest.param(
        Invalid("role", changed(ROLE, ((*PERM, "dls"), '{"bool": {"filter": [{"term": ')), "rule"),
        id="role-dls-not-json",
    ),
    pytest.param(
        Invalid("role", changed(ROLE, ((*PERM, "dls"), json.dumps({"bol": PAYMENTS_DLS["bool"]}))), "rule"),
        id="role-dls-bol",
    ),
    pytest.param(
        Invalid("role", changed(ROLE, ((*PERM, "masked_fields"), ["httpRequest.uri::token=.*::x"])), "rule"),
        id="role-masked_fields-regex-unwrapped",
    ),
    pytest.param(
        Invalid("role", changed(ROLE, ((*PERM, "masked_fields"), ["httpRequest.args::SHA-257"])), "rule"),
        id="role-masked_fields-unknown-algorithm",
    ),
    pytest.param(
        Invalid("role", changed(ROLE, ((*PERM, "allowed_actions"), ["reed"])), "rule"),
        id="role-allowed_actions-unknown-group",
    ),
    pytest.param(
        Invalid("role", changed(ROLE, ((*PERM, "allowed_actions"), ["cluster_all"])), "rule"),
        id="role-cluster-group-in-index-permissions",
    ),
    pytest.param(Invalid("role", changed(ROLE, (("hidden",), True)), "rule"), id="role-hidden-key"),
    # role mapping
    pytest.param(
        Invalid("role_mapping", changed(ROLE_MAPPING, (("backend_roles",), "waf-analysts")), "spec", True),
        id="mapping-backend_roles-string",
    ),
    pytest.param(
        Invalid("role_mapping", renamed(ROLE_MAPPING, ("backend_roles",), "backendroles"), "spec", False),
        id="mapping-backendroles-typo",
    ),
    pytest.param(
        Invalid(
            "role_mapping",
            changed(ROLE_MAPPING, (("backend_roles",), [{"name": "waf-analysts"}])),
            "spec",
            True,
        ),
        id="mapping-backend_roles-objects",
    ),
    pytest.param(
        Invalid("role_mapping", changed(ROLE_MAPPING, (("reserved",), False)), "rule"),
        id="mapping-reserved-key",
    ),
    # search body
    pytest.param(
        Invalid("search", renamed(SEARCH, ("aggs", "top_client_ips", "terms"), "termz"), "spec", True),
        id="search-agg-termz",
    ),
    pytest.param(
        Invalid(
            "search",
            changed(SEARCH, (("query", "bool", "filter", 0), {"trem": {"action": "BLOCK"}})),
            "spec",
            False,
        ),
        id="search-trem-in-bool-filter",
    ),
    pytest.param(
        Invalid("search", changed(SEARCH, (("size",), "zero")), "spec", True), id="search-size-zero"
    ),
    pytest.param(
        Invalid(
            "search", renamed(SEARCH, ("aggs", "top_client_ips", "terms", "size"), "sizee"), "spec", False
        ),
        id="search-terms-sizee",
    ),
    pytest.param(
        Invalid(
            "search",
            changed(
                SEARCH,
                (("aggs", "top_client_ips", "aggs", "per_hour", "date_histogram", "fixed_interval"), 60),
            ),
            "spec",
            True,
        ),
        id="search-fixed_interval-int",
    ),
    # alerting monitor (PR #1186 spec)
    pytest.param(
        Invalid("monitor", changed(MONITOR, (("monitor_type",), "bucket_monitor")), "spec", True),
        id="monitor-type-bucket_monitor",
    ),
    pytest.param(
        Invalid(
            "monitor", changed(MONITOR, ((*BUCKET, "condition", "parent_bucket_path"), DELETE)), "spec", True
        ),
        id="monitor-no-parent_bucket_path",
    ),
    pytest.param(
        Invalid("monitor", changed(MONITOR, (("schedule", "period", "unit"), "minutes")), "spec", True),
        id="monitor-unit-lowercase",
    ),
    pytest.param(
        Invalid(
            "monitor", changed(MONITOR, ((*BUCKET, "actions", 0, "throttle", "unit"), "MINUTE")), "spec", True
        ),
        id="monitor-throttle-MINUTE",
    ),
    pytest.param(
        Invalid(
            "monitor",
            changed(MONITOR, (("schedule",), {"cron": {"expression": "*/5 * * * *"}})),
            "spec",
            True,
        ),
        id="monitor-cron-no-timezone",
    ),
    pytest.param(
        Invalid(
            "monitor",
            renamed(
                MONITOR,
                (*MONITOR_QUERY, "aggregations", "by_client_ip", "aggs", "blocked", "value_count"),
                "termz",
            ),
            "rule",
        ),
        id="monitor-query-agg-termz",
    ),
    pytest.param(
        Invalid("monitor", changed(MONITOR, ((*MONITOR_QUERY, "aggregations"), DELETE)), "rule"),
        id="monitor-bucket-query-without-aggregation",
    ),
    pytest.param(
        Invalid(
            "monitor",
            changed(
                MONITOR,
                (
                    ("triggers", 0),
                    MONITOR["triggers"][0]["bucket_level_trigger"]
                    | {"condition": {"script": {"source": "true"}}},
                ),
            ),
            "rule",
        ),
        id="monitor-query-trigger-on-bucket-monitor",
    ),
    pytest.param(
        Invalid("monitor", changed(MONITOR, (("triggers",), MONITOR["triggers"] * 2)), "rule"),
        id="monitor-duplicate-trigger-id",
    ),
    pytest.param(
        Invalid("monitor", changed(MONITOR, ((*BUCKET, "condition", "parent_bucket_path"), "by_ip")), "rule"),
        id="monitor-parent_bucket_path-unknown-agg",
    ),
    # _bulk ndjson
    pytest.param(
        Invalid("bulk", ndjson({"indx": {"_index": INDEX_NAME}}, WAF_DOC), "spec", False),
        id="bulk-action-indx",
    ),
    pytest.param(
        Invalid(
            "bulk",
            ndjson({"index": {"_index": INDEX_NAME}, "delete": {"_index": INDEX_NAME, "_id": "1"}}, WAF_DOC),
            "spec",
            True,
        ),
        id="bulk-two-actions-one-line",
    ),
    pytest.param(
        Invalid(
            "bulk", ndjson({"index": {"_index": INDEX_NAME, "_id": {"sha": "9f2c"}}}, WAF_DOC), "spec", True
        ),
        id="bulk-_id-object",
    ),
    pytest.param(
        Invalid("bulk", ndjson({"index": {"_indx": INDEX_NAME}}, WAF_DOC), "spec", False),
        id="bulk-_indx-typo",
    ),
    pytest.param(Invalid("bulk", ndjson(ACTION, ACTION, WAF_DOC), "spec"), id="bulk-missing-source-line"),
    pytest.param(
        Invalid("bulk", ndjson(ACTION, WAF_DOC).rstrip("\n"), "spec"), id="bulk-no-trailing-newline"
    ),
    pytest.param(Invalid("bulk", ndjson(ACTION), "spec"), id="bulk-source-missing-at-end"),
    pytest.param(
        Invalid("bulk", ndjson({"delete": {"_index": INDEX_NAME, "_id": "1"}}, WAF_DOC), "spec"),
        id="bulk-delete-with-source",
    ),
    pytest.param(
        Invalid("bulk", ndjson({"update": {"_index": INDEX_NAME, "_id": "1"}}, {"waflens": {}}), "spec"),
        id="bulk-update-without-doc",
    ),
    pytest.param(
        Invalid("bulk", ndjson(ACTION) + '{"action": "BLOCK",\n', "spec"), id="bulk-source-not-json"
    ),
]


# ---------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(VALID))
def test_valid_sample_is_accepted_in_strict_and_plain_mode(validators: Validators, kind: Kind) -> None:
    body = VALID[kind]
    assert validators.spec_errors(kind, body, strict=True) == []
    assert validators.spec_errors(kind, body, strict=False) == []
    assert validators.rule_errors(kind, body) == []


@pytest.mark.parametrize("case", INVALID)
def test_invalid_variant_is_caught(validators: Validators, case: Invalid) -> None:
    strict = validators.spec_errors(case.kind, case.body)
    rules = validators.rule_errors(case.kind, case.body)
    assert strict + rules, "neither the strict spec nor a project rule caught this variant"
    if case.caught_by == "spec":
        assert strict, f"strict mode should catch this (rules said: {rules})"
        if case.plain is not None:
            plain = validators.spec_errors(case.kind, case.body, strict=False)
            assert bool(plain) is case.plain, f"plain mode: {plain}"
    else:
        assert rules, f"the project rule should catch this (strict spec said: {strict})"


def test_invalid_variants_cover_every_kind() -> None:
    kinds = {p.values[0].kind for p in INVALID}
    assert kinds == set(VALID)


def test_field_types_match_the_spec(validators: Validators) -> None:
    schemas = validators.strict.spec["components"]["schemas"]

    def type_enum(schema: dict[str, Any]) -> list[str]:
        if "type" in schema.get("properties", {}):
            return list(schema["properties"]["type"].get("enum", []))
        for member in schema.get("allOf", []):
            target = schemas[member["$ref"].rsplit("/", 1)[-1]] if "$ref" in member else member
            if found := type_enum(target):
                return found
        return []

    branches = schemas["_common.mapping___Property"]["oneOf"]
    spec_types = {t for b in branches for t in type_enum(schemas[b["$ref"].rsplit("/", 1)[-1]])}
    assert spec_types == osv.FIELD_TYPES


def test_strict_error_names_the_cause_of_a_failed_branch(validators: Validators) -> None:
    body = changed(MONITOR, ((*BUCKET, "condition", "parent_bucket_path"), DELETE))
    [error] = validators.spec_errors("monitor", body)
    assert "'bucket_level_trigger' was unexpected" in error
    assert "cause: /triggers/0/bucket_level_trigger/condition" in error
    assert '"parent_bucket_path" is a required property' in error


def test_unknown_field_type_error_suggests_the_right_one(validators: Validators) -> None:
    body = changed(TEMPLATE, ((*PROPS, "action", "type"), "keywrd"))
    [error] = validators.spec_errors("template", body)
    assert "/template/mappings/properties/action/type" in error
    assert "did you mean 'keyword'?" in error


def test_plain_mode_error_is_added_when_it_differs(validators: Validators) -> None:
    body = changed(
        renamed(ROLE, ("cluster_permissions",), "cluster_permission"), ((*PERM, "allowed_actions"), "read")
    )
    errors = validators.spec_errors("role", body)
    assert len(errors) == 2, errors
    assert "'cluster_permission' was unexpected" in errors[0]
    assert errors[1].startswith(osv.PLAIN + "/index_permissions/0/allowed_actions:")


def test_nested_errors_name_the_embedded_document(validators: Validators) -> None:
    role = changed(ROLE, ((*PERM, "dls"), json.dumps({"bol": PAYMENTS_DLS["bool"]})))
    assert any(
        e.startswith("/index_permissions/0/dls(parsed)")
        for e in osv.role_rules(role, validator=validators.strict)
    )


def test_dls_attribute_placeholders_inside_strings_are_accepted(validators: Validators) -> None:
    dls = {
        "bool": {"filter": [{"terms": {"waflens.account.team": ["${attr.jwt.team}", "${attr.saml.team}"]}}]}
    }
    role = changed(ROLE, ((*PERM, "dls"), json.dumps(dls)))
    assert osv.role_rules(role, validator=validators.strict) == []


def test_bulk_errors_report_line_numbers(validators: Validators) -> None:
    body = ndjson(ACTION, WAF_DOC, {"index": {"_indx": INDEX_NAME}}, WAF_DOC, ACTION)
    errors = validators.strict.bulk_body(body.encode())
    assert any(e.startswith("line 3: ") and "_indx" in e for e in errors), errors
    assert any(e.startswith("line 5: ") and "no source line" in e for e in errors), errors


def test_legacy_flat_query_level_trigger_is_accepted(validators: Validators) -> None:
    trigger = {
        "id": "t1",
        "name": "any block",
        "severity": "3",
        "actions": [],
        "condition": {"script": {"source": "ctx.results[0].hits.total.value > 0", "lang": "painless"}},
    }
    query_monitor = changed(MONITOR, (("monitor_type",), "query_level_monitor"), (("triggers",), [trigger]))
    assert validators.spec_errors("monitor", query_monitor) == []
    assert validators.rule_errors("monitor", query_monitor) == []


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param({"index.number_of_shard": 2}, ["number_of_shards"], id="flat-typo"),
        pytest.param({"index": {"refresh_intervall": "30s"}}, ["refresh_interval"], id="nested-typo"),
        pytest.param(
            {"index": {"mapping": {"total_feilds": {"limit": 2000}}}},
            ["mapping.total_fields.limit"],
            id="nested-deep-typo",
        ),
        pytest.param(
            {"index.routing.allocation.requires.box_type": "hot"},
            ["routing.allocation.require"],
            id="allocation-prefix-typo",
        ),
        pytest.param(
            {
                "number_of_shards": 2,
                "index": {"number_of_replicas": 1, "codec": "zstd"},
                "index.routing.allocation.require.box_type": "warm",
                "index.knn": True,
                "index.max_inner_result_window": 100,
            },
            [],
            id="known-and-unrelated-names",
        ),
    ],
)
def test_setting_name_typos_are_warnings(settings: dict[str, Any], expected: list[str]) -> None:
    warnings = osv.settings_typo_warnings(settings)
    assert len(warnings) == len(expected), warnings
    assert all(name in w for name, w in zip(expected, warnings, strict=True))
    template = changed(TEMPLATE, (("template", "settings"), settings))
    assert all(m.startswith(osv.WARNING) for m in osv.index_template_rules(template))


MAPPINGS = TEMPLATE["template"]["mappings"]


@pytest.mark.parametrize(
    ("field", "aggregatable", "problem"),
    [
        pytest.param("httpRequest.clientIp", True, None, id="ip"),
        pytest.param("httpRequest.uri.keyword", True, None, id="multi-field"),
        pytest.param("ruleGroupList.terminatingRule.ruleId", True, None, id="object-inside-nested"),
        pytest.param("@timestamp", True, None, id="date"),
        pytest.param("waflens.blocked", True, None, id="boolean"),
        pytest.param("httpRequest.uri", False, None, id="text-searchable"),
        pytest.param("waflens.tags.owner", False, None, id="flat_object-subfield-searchable"),
        pytest.param("httpRequest.uri", True, "httpRequest.uri.keyword", id="text-not-aggregatable"),
        pytest.param(
            "waflens.tags.owner", True, "cannot be aggregated", id="flat_object-subfield-not-aggregatable"
        ),
        pytest.param("httpRequest.clientIP", False, "httpRequest.clientIp", id="missing-with-hint"),
        pytest.param("waflens.acount.team", True, "not in the mappings", id="missing-object"),
    ],
)
def test_mapping_field_rules(field: str, aggregatable: bool, problem: str | None) -> None:
    errors = osv.mapping_field_rules(MAPPINGS, [field], aggregatable=aggregatable)
    if problem is None:
        assert errors == []
    else:
        assert len(errors) == 1
        assert problem in errors[0]


def test_mapping_field_rules_resolve_dotted_names_and_doc_values() -> None:
    mappings = {
        "properties": {"waflens.rule": {"properties": {"id": {"type": "keyword", "doc_values": False}}}}
    }
    assert osv.mapping_field_rules(mappings, ["waflens.rule.id"], aggregatable=False) == []
    assert "doc_values" in osv.mapping_field_rules(mappings, ["waflens.rule.id"], aggregatable=True)[0]


def test_fields_used_by_search_and_monitor_are_aggregatable_in_the_template() -> None:
    aggregated = ["httpRequest.clientIp", "@timestamp", "ruleGroupList.ruleGroupId", "httpRequest.requestId"]
    filtered = ["action", "waflens.account.environment", "waflens.account.team"]
    assert osv.mapping_field_rules(MAPPINGS, aggregated + filtered, aggregatable=True) == []


def test_spec_validator_is_shared_per_process() -> None:
    assert spec_validator() is spec_validator()
    assert spec_validator(alerting=True) is not spec_validator()


def test_unknown_operation_group_names_close_matches(validators: Validators) -> None:
    with pytest.raises(KeyError, match=r"indices\.put_index_template"):
        validators.strict.body("indices.put_index_templat", TEMPLATE)


def test_missing_shared_dir_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(shared.SHARED_DIR_ENV, str(tmp_path / "absent"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        shared.shared_dir()


def test_missing_shared_dir_skips_locally(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(shared.SHARED_DIR_ENV, str(tmp_path / "absent"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=shared.SHARED_DIR_ENV):
        shared.shared_dir()


def test_shared_dir_override_is_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(shared.SHARED_DIR_ENV, str(tmp_path))
    assert shared.shared_dir() == tmp_path.resolve()
