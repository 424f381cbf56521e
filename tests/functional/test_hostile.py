"""Hostile input, secrets in otherwise valid records: each is delivered and no piece of its secret is written.

Every case is one file holding one valid WAF record (``records_in`` 1, delivered 1, exit 0) with a
planted ``hx…`` value where a secret sits in real traffic. The checks shared by every hostile case
(summary, secret pieces, traceback, memory, exit code) are in ``tests.support.hostile.check``.
Other themes: ``test_hostile_cutoff.py``, ``test_hostile_crash.py``, ``test_hostile_loss.py``,
``test_hostile_size.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from tests.support.hostile import Expect, Json, check, lake_frame, raw, record, run_ingest, secret

Build = Callable[[str], str]  # planted secret -> the record's JSON text
Inspect = Callable[[pl.DataFrame], list[str]]  # the lake's rows -> problems found in them


def _run_one(
    tmp_path: Path, case: str, build: Build, *, more: tuple[str, ...] = (), inspect: Inspect | None = None
) -> None:
    """Ingest one record built around ``case``'s secret (and ``more``); it is delivered, no secret written."""
    planted = secret(case)
    source = tmp_path / "in.log"
    source.write_text(build(planted) + "\n", encoding="utf-8")
    run = run_ingest(tmp_path, [source])
    found = inspect(lake_frame(run.lake)) if inspect else []
    check(run, Expect(records_in=1, delivered=1, secrets=[planted, *more], also=found))


def _first(lake: pl.DataFrame, struct: str, member: str) -> object:
    """``struct.member`` of the lake's first row (None when the lake is empty)."""
    if lake.is_empty():
        return None
    return lake.select(pl.col(struct).struct.field(member)).to_series().to_list()[0]


# --- matchedData ----------------------------------------------------------------------------------

DETAILS: dict[str, Callable[[str], Json]] = {
    "cookie": lambda s: {
        "conditionType": "XSS",
        "location": "COOKIE",
        "matchedFieldName": "session",
        "matchedData": ["<script>", s],
    },
    "authorization-header": lambda s: {
        "conditionType": "SQL_INJECTION",
        "location": "HEADER",
        "matchedFieldName": "authorization",
        "matchedData": ["Bearer", s],
    },
    "unnamed-header": lambda s: {"conditionType": "XSS", "location": "HEADER", "matchedData": [s]},
}
PLACES: dict[str, Callable[[Json], Json]] = {
    "terminating": lambda d: record(
        "m-1", action="BLOCK", terminatingRuleId="XSS_Rule", terminatingRuleMatchDetails=[d]
    ),
    "group-terminating": lambda d: record(
        "m-2",
        action="BLOCK",
        terminatingRuleId="AWS-AWSManagedRulesCommonRuleSet",
        terminatingRuleType="MANAGED_RULE_GROUP",
        ruleGroupList=[
            {
                "ruleGroupId": "AWS#AWSManagedRulesCommonRuleSet",
                "terminatingRule": {
                    "ruleId": "CrossSiteScripting_COOKIE",
                    "action": "BLOCK",
                    "ruleMatchDetails": [d],
                },
                "nonTerminatingMatchingRules": [],
                "excludedRules": None,
            }
        ],
    ),
    "non-terminating": lambda d: record(
        "m-3",
        nonTerminatingMatchingRules=[{"ruleId": "count-sqli", "action": "COUNT", "ruleMatchDetails": [d]}],
    ),
    "group-excluded": lambda d: record(
        "m-4",
        ruleGroupList=[
            {
                "ruleGroupId": "AWS#AWSManagedRulesSQLiRuleSet",
                "terminatingRule": None,
                "nonTerminatingMatchingRules": [],
                "excludedRules": [
                    {"exclusionType": "EXCLUDED_AS_COUNT", "ruleId": "SQLi_COOKIE", "ruleMatchDetails": [d]}
                ],
            }
        ],
    ),
}


def _matched(detail: Callable[[str], Json], place: Callable[[Json], Json]) -> Build:
    return lambda s: json.dumps(place(detail(s)))


MATCHED_DATA: dict[str, Build] = {
    f"{detail}-in-{place}": _matched(make_detail, make_place)
    for detail, make_detail in DETAILS.items()
    for place, make_place in PLACES.items()
}
MATCHED_DATA["single-query-arg-api_key"] = lambda s: json.dumps(
    PLACES["terminating"](
        {
            "conditionType": "SQL_INJECTION",
            "location": "SINGLE_QUERY_ARG",
            "matchedFieldName": "api_key",
            "matchedData": [s, "OR", "1"],
        }
    )
)


@pytest.mark.parametrize("case", sorted(MATCHED_DATA))
def test_matched_data_of_a_secret_location_is_redacted(tmp_path: Path, case: str) -> None:
    _run_one(tmp_path, case, MATCHED_DATA[case])


# --- header names that only look different ----------------------------------------------------------

HEADER_NAMES = {
    "escaped-first-letter": r"\u0041uthorization",
    "escaped-last-letter": r"authorizatio\u006e",
    "escaped-whole-name": "".join(f"\\u{ord(c):04x}" for c in "Authorization"),
    "leading-space": " Authorization",
    "trailing-space": "Authorization ",
    "tab": r"\tAuthorization",
    "nul": r"Authorization\u0000",
    "upper-case-padded": "  AUTHORIZATION  ",
}


def _with_header(name_json: str) -> Build:
    def build(s: str) -> str:
        headers = [{"name": "Host", "value": "api.example.com"}, "@h@"]
        return raw(
            record("h-1", http={"headers": headers}), h=f'{{"name":"{name_json}","value":"Bearer {s}"}}'
        )

    return build


@pytest.mark.parametrize("case", sorted(HEADER_NAMES))
def test_an_authorization_header_however_its_name_is_written_is_redacted(tmp_path: Path, case: str) -> None:
    def inspect(lake: pl.DataFrame) -> list[str]:
        redacted = _first(lake, "waflens", "redacted_headers")
        if isinstance(redacted, list) and "authorization" in redacted:
            return []
        return [f"waflens.redacted_headers is {redacted!r}, not one holding 'authorization'"]

    _run_one(tmp_path, case, _with_header(HEADER_NAMES[case]), inspect=inspect)


# --- query strings --------------------------------------------------------------------------------

QUERY: dict[str, tuple[str, str, tuple[str, ...]]] = {  # case -> (field, template, names that must remain)
    "args-api_key": ("args", "a=1&api_key={s}", ("api_key",)),
    "args-token": ("args", "token={s}", ("token",)),
    "uri-jsessionid": ("uri", "/x;jsessionid={s}", ("jsessionid",)),
    "uri-userinfo": ("uri", "//user:{s}@host/p", ("user",)),
    "args-presigned": (
        "args",
        "X-Amz-Signature={s}&X-Amz-Security-Token={s2}",
        ("X-Amz-Signature", "X-Amz-Security-Token"),
    ),
}


@pytest.mark.parametrize("case", sorted(QUERY))
def test_a_sensitive_query_argument_is_redacted_and_its_name_kept(tmp_path: Path, case: str) -> None:
    member, template, names = QUERY[case]
    second = secret(case + "-2")

    def build(s: str) -> str:
        return json.dumps(record("q-1", http={member: template.format(s=s, s2=second)}))

    def inspect(lake: pl.DataFrame) -> list[str]:
        kept = _first(lake, "httpRequest", member)
        if isinstance(kept, str) and all(name in kept for name in names):
            return []
        return [f"httpRequest.{member} is {kept!r}: the name(s) {names} should remain"]

    _run_one(tmp_path, case, build, more=(second,), inspect=inspect)


# --- rate-based custom keys, inserted headers, duplicate values, other header shapes ----------------

CUSTOM_KEYS: dict[str, Json] = {
    "key-COOKIE": {"key": "COOKIE", "name": "session"},
    "key-cookie": {"key": "cookie", "name": "session"},
    "key-Cookie": {"key": "Cookie", "name": "session"},
    "key-HEADER-authorization": {"key": "HEADER", "name": "authorization"},
    "key-QUERY_ARGUMENT-api_key": {"key": "QUERY_ARGUMENT", "name": "api_key"},
}


@pytest.mark.parametrize("case", sorted(CUSTOM_KEYS))
def test_a_rate_based_custom_value_of_a_secret_key_is_redacted(tmp_path: Path, case: str) -> None:
    def build(s: str) -> str:
        rule = {
            "rateBasedRuleId": "arn:aws:wafv2:us-east-1:111122223333:regional/ratebasedstatement/api/abc/rk",
            "rateBasedRuleName": "per-key",
            "limitKey": "CUSTOMKEYS",
            "maxRateAllowed": 100,
            "evaluationWindowSec": "300",
            "customValues": [
                {"key": "IP", "name": "", "value": "203.0.113.7"},
                {**CUSTOM_KEYS[case], "value": s},
            ],
        }
        return json.dumps(
            record("r-1", action="BLOCK", terminatingRuleId="per-key", rateBasedRuleList=[rule])
        )

    _run_one(tmp_path, case, build)


def test_an_inserted_header_with_the_prefix_twice_is_redacted(tmp_path: Path) -> None:
    def build(s: str) -> str:
        inserted = [{"name": "x-amzn-waf-x-amzn-waf-authorization", "value": f"Bearer {s}"}]
        return json.dumps(record("i-1", requestHeadersInserted=inserted))

    _run_one(tmp_path, "inserted-double-prefix", build)


DUPLICATE_VALUE = {
    "secret-last": '{{"name":"Authorization","value":"a","value":"Bearer {s}"}}',
    "secret-first": '{{"name":"Authorization","value":"Bearer {s}","value":"a"}}',
}


@pytest.mark.parametrize("case", sorted(DUPLICATE_VALUE))
def test_a_sensitive_header_with_two_value_keys_has_both_redacted(tmp_path: Path, case: str) -> None:
    def build(s: str) -> str:
        headers = [{"name": "Host", "value": "api.example.com"}, "@h@"]
        return raw(record("d-1", http={"headers": headers}), h=DUPLICATE_VALUE[case].format(s=s))

    _run_one(tmp_path, f"duplicate-value-{case}", build)


HEADER_SHAPES: dict[str, Callable[[str], object]] = {
    "map": lambda s: {"Host": "api.example.com", "Authorization": f"Bearer {s}"},
    "pairs": lambda s: [["Host", "api.example.com"], ["Authorization", f"Bearer {s}"]],
    "string": lambda s: f"Host: api.example.com\r\nAuthorization: Bearer {s}",
}


@pytest.mark.parametrize("case", sorted(HEADER_SHAPES))
def test_headers_logged_in_another_shape_are_delivered_without_the_secret(tmp_path: Path, case: str) -> None:
    def build(s: str) -> str:
        return json.dumps(record("s-1", http={"headers": HEADER_SHAPES[case](s)}))

    _run_one(tmp_path, f"headers-as-{case}", build)
