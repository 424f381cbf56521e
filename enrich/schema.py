"""The one home of waflens's schemas: WAF record fields, enrichment fields and the lake layout.

Three views of a WAF record are derived from the single declaration ``WAF_RECORD``:

* ``WAF_RECORD`` itself: the typed columns (numbers as ``Int64``), as stored in the lake;
* ``decode_dtype(...)``: the same shape with every scalar leaf as ``String``. Polars' JSON decoder
  turns numbers and booleans into their text when the target is ``String`` but raises when a string
  reaches an integer field, so waflens decodes leniently and casts afterwards with ``strict=False``:
  WAF's type drift (``evaluationWindowSec`` as ``"120"``) becomes a value, garbage becomes null, and
  the raw text stays in ``event_original``;
* ``ENRICH_INPUT``: the subset the enrichment reads, decoded when no sink needs the full record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import polars as pl

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

# --- WAF record -----------------------------------------------------------------------------------

MATCH_DETAIL: Final = pl.Struct(
    {
        "conditionType": pl.String,
        "location": pl.String,
        "matchedData": pl.List(pl.String),
        "sensitivityLevel": pl.String,
        "matchedFieldName": pl.String,
    }
)
CHALLENGE_RESULT: Final = pl.Struct(
    {"responseCode": pl.Int64, "solveTimestamp": pl.Int64, "failureReason": pl.String}
)
RULE_RESULT: Final = pl.Struct(
    {
        "ruleId": pl.String,
        "action": pl.String,
        "overriddenAction": pl.String,
        "ruleMatchDetails": pl.List(MATCH_DETAIL),
        "captchaResponse": CHALLENGE_RESULT,
        "challengeResponse": CHALLENGE_RESULT,
    }
)
EXCLUDED_RULE: Final = pl.Struct(
    {"exclusionType": pl.String, "ruleId": pl.String, "ruleMatchDetails": pl.List(MATCH_DETAIL)}
)
NAME_VALUE: Final = pl.Struct({"name": pl.String, "value": pl.String})
RULE_GROUP_RESULT: Final = pl.Struct(
    {
        "ruleGroupId": pl.String,
        "terminatingRule": RULE_RESULT,
        "nonTerminatingMatchingRules": pl.List(RULE_RESULT),
        "excludedRules": pl.List(EXCLUDED_RULE),
        "customerConfig": pl.List(NAME_VALUE),
    }
)
CUSTOM_VALUE: Final = pl.Struct({"key": pl.String, "name": pl.String, "value": pl.String})
RATE_BASED_RESULT: Final = pl.Struct(
    {
        "rateBasedRuleId": pl.String,
        "rateBasedRuleName": pl.String,
        "limitKey": pl.String,
        "maxRateAllowed": pl.Int64,
        "evaluationWindowSec": pl.Int64,
        "limitValue": pl.String,
        "customValues": pl.List(CUSTOM_VALUE),
    }
)
HTTP_REQUEST: Final = pl.Struct(
    {
        "clientIp": pl.String,
        "country": pl.String,
        "headers": pl.List(NAME_VALUE),
        "uri": pl.String,
        "args": pl.String,
        "httpVersion": pl.String,
        "httpMethod": pl.String,
        "requestId": pl.String,
        "fragment": pl.String,
        "scheme": pl.String,
        "host": pl.String,
    }
)
LABEL: Final = pl.Struct({"name": pl.String})

# Top-level WAF fields in WAF's own order (../shared/reference/waf-log-format.md §1.1).
_WAF_FIELDS: dict[str, PolarsDataType] = {
    "timestamp": pl.Int64,
    "formatVersion": pl.Int64,
    "webaclId": pl.String,
    "terminatingRuleId": pl.String,
    "terminatingRuleType": pl.String,
    "action": pl.String,
    "terminatingRuleMatchDetails": pl.List(MATCH_DETAIL),
    "httpSourceName": pl.String,
    "httpSourceId": pl.String,
    "ruleGroupList": pl.List(RULE_GROUP_RESULT),
    "rateBasedRuleList": pl.List(RATE_BASED_RESULT),
    "nonTerminatingMatchingRules": pl.List(RULE_RESULT),
    "requestHeadersInserted": pl.List(NAME_VALUE),
    "responseCodeSent": pl.Int64,
    "httpRequest": HTTP_REQUEST,
    "labels": pl.List(LABEL),
    "captchaResponse": CHALLENGE_RESULT,
    "challengeResponse": CHALLENGE_RESULT,
    "ja3Fingerprint": pl.String,
    "ja4Fingerprint": pl.String,
    "requestBodySize": pl.Int64,
    "requestBodySizeInspectedByWAF": pl.Int64,
    "oversizeFields": pl.List(pl.String),
    "clientAsn": pl.Int64,
    "forwardedAsn": pl.Int64,
    "cfDistributionTenantId": pl.String,
}
WAF_RECORD: Final = pl.Schema(_WAF_FIELDS)
WAF_FIELDS: Final = tuple(WAF_RECORD.names())

# A record is rejected when one of these is missing (waf-log-format.md §7, "Required keys").
REQUIRED_FIELDS: Final = ("timestamp", "webaclId", "action", "httpRequest")

# Epoch-ms bounds outside which a timestamp is not WAF's (seconds, or garbage): 2000-01-01, 2100-01-01.
MIN_TIMESTAMP_MS: Final = 946_684_800_000
MAX_TIMESTAMP_MS: Final = 4_102_444_800_000

# Top-level keys waflens adds to every document; a record that already carries one is rejected,
# because a document with a duplicate key is refused by OpenSearch and ambiguous everywhere else.
TIMESTAMP: Final = "@timestamp"
ENRICHMENT: Final = "waflens"
RESERVED_TOP_LEVEL: Final = (TIMESTAMP, ENRICHMENT)


def _project(dtype: PolarsDataType, spec: dict[str, object]) -> pl.DataType:
    """The sub-dtype of a (list of) struct keeping only the fields named in ``spec``."""
    if isinstance(dtype, pl.List):
        return pl.List(_project(dtype.inner, spec))
    assert isinstance(dtype, pl.Struct), dtype
    fields = {f.name: f.dtype for f in dtype.fields}
    return pl.Struct(
        {
            name: fields[name] if sub is None else _project(fields[name], sub)  # type: ignore[arg-type]  # sub is a nested spec
            for name, sub in spec.items()
        }
    )


# What the enrichment reads: enough for identity, ownership, flat and threat fields, and index naming.
_ENRICH_FIELDS: dict[str, PolarsDataType] = {
    "timestamp": pl.Int64,
    "webaclId": pl.String,
    "terminatingRuleId": pl.String,
    "terminatingRuleType": pl.String,
    "action": pl.String,
    "ruleGroupList": _project(
        WAF_RECORD["ruleGroupList"],
        {
            "ruleGroupId": None,
            "terminatingRule": {"ruleId": None},
            "nonTerminatingMatchingRules": {"ruleId": None, "action": None},
            "excludedRules": {"ruleId": None},
        },
    ),
    "rateBasedRuleList": _project(WAF_RECORD["rateBasedRuleList"], {"rateBasedRuleName": None}),
    "nonTerminatingMatchingRules": _project(
        WAF_RECORD["nonTerminatingMatchingRules"], {"ruleId": None, "action": None}
    ),
    "httpRequest": _project(
        WAF_RECORD["httpRequest"], {"clientIp": None, "country": None, "headers": None, "host": None}
    ),
    "labels": WAF_RECORD["labels"],
    "clientAsn": pl.Int64,
}
ENRICH_INPUT: Final = pl.Schema(_ENRICH_FIELDS)


def _lenient(dtype: PolarsDataType) -> pl.DataType:
    if isinstance(dtype, pl.List):
        return pl.List(_lenient(dtype.inner))
    if isinstance(dtype, pl.Struct):
        return pl.Struct({f.name: _lenient(f.dtype) for f in dtype.fields})
    return pl.String()


def decode_dtype(schema: pl.Schema) -> pl.Struct:
    """The struct to decode JSON text into: ``schema``'s shape with every scalar leaf as String."""
    return pl.Struct({name: _lenient(dtype) for name, dtype in schema.items()})


# --- enrichment -----------------------------------------------------------------------------------

OWNER: Final = pl.Struct(
    {"team": pl.String, "layer": pl.String, "oncall": pl.String, "matched_by": pl.String}
)
WEBACL: Final = pl.Struct(
    {
        "kind": pl.String,  # "wafv2", "classic" or "unparsed"
        "partition": pl.String,
        "region": pl.String,
        "account_id": pl.String,
        "scope": pl.String,  # "CLOUDFRONT" or "REGIONAL"
        "name": pl.String,
        "id": pl.String,
    }
)
TERMINATING: Final = pl.Struct(
    {
        "rule_id": pl.String,
        "rule_type": pl.String,
        "rule_group_id": pl.String,
        "rule_group_name": pl.String,
        "group_rule_id": pl.String,
        "owner": OWNER,
    }
)
ACCOUNT: Final = pl.Struct(
    {
        "id": pl.String,
        "name": pl.String,
        "team": pl.String,
        "environment": pl.String,
        "cost_centre": pl.String,
        "business_unit": pl.String,
    }
)
USER_AGENT: Final = pl.Struct(
    {
        "browser": pl.String,
        "browser_version": pl.String,
        "os": pl.String,
        "device": pl.String,
        "bot": pl.Boolean,
    }
)
# WAF's own ``httpRequest.country`` and ``clientAsn`` win; a GeoIP database the user owns fills the rest.
GEO: Final = pl.Struct({"country": pl.String, "city": pl.String, "asn": pl.Int64, "as_org": pl.String})
ENRICHMENT_FIELDS: Final = pl.Struct(
    {
        "blocked": pl.Boolean,
        "counted": pl.Boolean,
        "webacl": WEBACL,
        "account": ACCOUNT,
        "terminating": TERMINATING,
        "rule_ids": pl.List(pl.String),
        "rule_group_ids": pl.List(pl.String),
        # rules that matched in COUNT mode (or were excluded as count): a web ACL rule's id, a rule group's
        # rule as ``group / rule``; the tuning signal ("would block if enforced")
        "counted_rules": pl.List(pl.String),
        "labels": pl.List(pl.String),
        "client_ip": pl.String,
        "user_agent": pl.String,
        "host": pl.String,
        "header_names": pl.List(pl.String),
        "redacted_headers": pl.List(pl.String),
        "owasp": pl.List(pl.String),  # OWASP API Security Top 10 2023 categories of the matched rules/labels
        "ua": USER_AGENT,
        "domain": pl.String,  # the registered domain of ``host`` (public suffix + one label)
        "geo": GEO,
    }
)

# --- documents and the lake ------------------------------------------------------------------------

DOC_ID: Final = "_id"
DOC_INDEX: Final = "_index"
EVENT_ORIGINAL: Final = "event_original"  # the WAF record as WAF wrote it, headers redacted
EVENT_DATE: Final = "event_date"
ACCOUNT_PARTITION: Final = "account"
UNKNOWN_ACCOUNT: Final = "unknown"

# The enriched frame every sink receives (decode ``full``); the lake stores it as is.
_ENRICHED_FIELDS: dict[str, PolarsDataType] = {
    DOC_ID: pl.String,
    DOC_INDEX: pl.String,
    TIMESTAMP: pl.Datetime("ms", "UTC"),
    **WAF_RECORD,
    ENRICHMENT: ENRICHMENT_FIELDS,
    EVENT_ORIGINAL: pl.String,
}
ENRICHED: Final = pl.Schema(_ENRICHED_FIELDS)
LAKE_PARTITIONS: Final = (EVENT_DATE, ACCOUNT_PARTITION)
LAKE_FILE: Final = pl.Schema({k: v for k, v in ENRICHED.items() if k != DOC_INDEX})
