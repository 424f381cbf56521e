"""Synthetic WAF logs: deterministic, distinct, real-shaped, secrets only in sensitive headers."""

from __future__ import annotations

import gzip
import itertools
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.generate import PLANTED_SECRET_PREFIX, iter_records, write_logs

Record = dict[str, Any]  # decoded JSON
SAMPLE = 20_000
# The top-level key order of real records (waf-log-format.md §1); a record has a subsequence of it.
WAF_KEY_ORDER = (
    "timestamp", "formatVersion", "webaclId", "terminatingRuleId", "terminatingRuleType", "action",
    "terminatingRuleMatchDetails", "httpSourceName", "httpSourceId", "ruleGroupList", "rateBasedRuleList",
    "nonTerminatingMatchingRules", "requestHeadersInserted", "responseCodeSent", "httpRequest", "labels",
    "captchaResponse", "challengeResponse", "ja3Fingerprint", "ja4Fingerprint", "requestBodySize",
    "requestBodySizeInspectedByWAF",
)  # fmt: skip
HTTP_REQUEST_KEY_ORDER = (
    "clientIp", "country", "headers", "uri", "args", "httpVersion", "httpMethod", "requestId", "fragment",
    "scheme", "host",
)  # fmt: skip
SENSITIVE_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key"}
REQUEST_ID_FORMATS = {
    "CF": re.compile(r"[A-Za-z0-9_-]{54}=="),
    "ALB": re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}"),
    "APIGW": re.compile(r"[A-Za-z0-9_-]{15}="),
    "APPSYNC": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"),
}


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return list(iter_records(SAMPLE, seed=0))


@pytest.fixture(scope="module")
def records(lines: list[bytes]) -> list[Record]:
    return [orjson.loads(line) for line in lines]


def _request(record: Record) -> dict[str, Any]:
    request: dict[str, Any] = record["httpRequest"]
    return request


def _strings(
    value: object, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], dict[str, object], str]]:
    """Every string in a decoded record with its path and the object holding it (keys included)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), value, key
            if isinstance(item, str):
                yield (*path, key), value, item
            else:
                yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, (*path, "[]"))


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not() -> None:
    assert list(iter_records(2_000, seed=7)) == list(iter_records(2_000, seed=7))
    assert list(iter_records(200, seed=7)) != list(iter_records(200, seed=8))


def test_the_first_records_do_not_depend_on_how_many_were_asked_for() -> None:
    assert list(iter_records(1_000, seed=3)) == list(itertools.islice(iter_records(10_000, seed=3), 1_000))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**64), count=st.integers(0, 300))
def test_any_run_is_a_prefix_of_a_longer_run(seed: int, count: int) -> None:
    assert list(iter_records(count, seed=seed)) == list(
        itertools.islice(iter_records(count + 50, seed=seed), count)
    )


def test_every_line_is_one_compact_json_object_with_the_required_fields(
    lines: list[bytes], records: list[Record]
) -> None:
    for line, record in zip(lines, records, strict=True):
        assert b"\n" not in line
        assert orjson.dumps(record) == line  # compact, and nothing orjson would not round-trip
        assert type(record["timestamp"]) is int
        assert record["formatVersion"] == 1
        assert isinstance(record["webaclId"], str)
        assert record["action"] in {"ALLOW", "BLOCK", "CAPTCHA", "CHALLENGE"}
        assert {"clientIp", "country", "headers", "uri", "args", "httpMethod"} <= _request(record).keys()


def test_keys_follow_the_order_of_real_waf_records(records: list[Record]) -> None:
    for record in records:
        assert [k for k in WAF_KEY_ORDER if k in record] == list(record)
        request = _request(record)
        assert [k for k in HTTP_REQUEST_KEY_ORDER if k in request] == list(request)


def test_no_two_records_are_identical_and_request_ids_are_unique(
    lines: list[bytes], records: list[Record]
) -> None:
    assert len(set(lines)) == len(lines)
    ids = [_request(r)["requestId"] for r in records]
    real_ids = [i for i in ids if i not in (None, "null")]
    assert len(set(real_ids)) == len(real_ids)
    assert None in ids
    assert "null" in ids


def test_request_ids_have_the_format_of_their_source(records: list[Record]) -> None:
    for record in records:
        request_id, pattern = (
            _request(record)["requestId"],
            REQUEST_ID_FORMATS.get(str(record["httpSourceName"])),
        )
        if isinstance(request_id, str) and request_id != "null" and pattern is not None:
            assert pattern.fullmatch(request_id), (record["httpSourceName"], request_id)


@pytest.mark.parametrize("count", [300, SAMPLE])
def test_timestamps_cover_exactly_the_three_utc_days_from_2026_01_05(count: int) -> None:
    stamps = [orjson.loads(line)["timestamp"] for line in iter_records(count, seed=1)]
    days = {datetime.fromtimestamp(ms / 1000, UTC).date().isoformat() for ms in stamps}
    assert days == {"2026-01-05", "2026-01-06", "2026-01-07"}


def test_records_are_not_sorted_but_step_back_at_most_ten_seconds_within_a_file_chunk(
    records: list[Record],
) -> None:
    stamps = [int(str(r["timestamp"])) for r in records]
    back = [a - b for a, b in itertools.pairwise(stamps) if b < a]
    assert 0.25 < len(back) / (len(stamps) - 1) < 0.35
    assert sum(step > 10_000 for step in back) <= len(stamps) // 64  # only where a new 64-record chunk starts
    assert sum(a == b for a, b in itertools.pairwise(stamps)) > 0  # several records in one millisecond


def test_every_source_and_every_action_appears(records: list[Record]) -> None:
    assert {r["httpSourceName"] for r in records} == {
        "CF",
        "ALB",
        "APIGW",
        "APPSYNC",
        "COGNITOIDP",
        "APPRUNNER",
    }
    actions = Counter(r["action"] for r in records)
    assert set(actions) == {"ALLOW", "BLOCK", "CAPTCHA", "CHALLENGE"}
    assert 0.75 < actions["ALLOW"] / len(records) < 0.85
    assert 0.11 < actions["BLOCK"] / len(records) < 0.19


def test_records_come_from_the_five_known_accounts_and_cloudfront_uses_global_web_acls(
    records: list[Record],
) -> None:
    arns = [str(r["webaclId"]).split(":") for r in records if str(r["webaclId"]).startswith("arn:")]
    assert {a[4] for a in arns} == {
        "111111111111",
        "222222222222",
        "333333333333",
        "444444444444",
        "555555555555",
    }
    for record in records:
        if record["httpSourceName"] == "CF" and str(record["webaclId"]).startswith("arn:"):
            assert str(record["webaclId"]).startswith("arn:aws:wafv2:us-east-1:")
            assert ":global/webacl/" in str(record["webaclId"])
    assert any("/webacl/FMManagedWebACLV2-" in str(r["webaclId"]) for r in records)


def test_planted_secrets_are_only_in_sensitive_header_values(records: list[Record]) -> None:
    places: Counter[tuple[str, ...]] = Counter()
    for record in records:
        for path, holder, text in _strings(record):
            if PLANTED_SECRET_PREFIX not in text:
                continue
            assert path[-1] == "value", path  # never a key, a name or any other field
            assert holder["value"] == text, path
            assert str(holder["name"]).lower() in SENSITIVE_HEADERS, holder
            places[path] += 1
    assert set(places) == {
        ("httpRequest", "headers", "[]", "value"),
        ("requestHeadersInserted", "[]", "value"),
        ("rateBasedRuleList", "[]", "customValues", "[]", "value"),
    }


def test_about_a_third_of_records_carry_a_planted_secret_in_every_spelling(
    lines: list[bytes], records: list[Record]
) -> None:
    share = sum(PLANTED_SECRET_PREFIX.encode() in line for line in lines) / len(lines)
    assert 0.25 < share < 0.35
    names = {
        str(h["name"])
        for r in records
        for h in _request(r)["headers"]
        if PLANTED_SECRET_PREFIX in str(h["value"])
    }
    assert {
        "Authorization",
        "authorization",
        "AUTHORIZATION",
        "Cookie",
        "x-api-key",
        "Proxy-Authorization",
    } <= names


def test_clients_include_ipv6_masked_and_private_addresses(records: list[Record]) -> None:
    ips = [(str(_request(r)["clientIp"]), _request(r)["country"]) for r in records]
    assert 0.07 < sum(":" in ip for ip, _ in ips) / len(ips) < 0.13
    assert {"X.X.X.X", "85.90.*.*"} & {ip for ip, _ in ips}
    assert all(country == "-" for ip, country in ips if ip.startswith("10."))
    assert any(ip.startswith("10.") for ip, _ in ips)


def test_rate_based_results_show_type_drift_and_custom_keys(records: list[Record]) -> None:
    entries = [e for r in records for e in r["rateBasedRuleList"]]
    assert {type(e["evaluationWindowSec"]) for e in entries if "evaluationWindowSec" in e} == {int, str}
    assert {e["limitKey"] for e in entries} == {"IP", "FORWARDED_IP", "CUSTOMKEYS"}
    assert all("_MANAGED:" in e["rateBasedRuleId"] for e in entries if "rateBasedRuleName" in e)
    assert {"key": "HEADER", "name": "x-tenant", "value": "acme"} in [
        c for e in entries for c in e.get("customValues", [])
    ]


def test_terminating_rule_groups_are_named_by_the_web_acl_rule(records: list[Record]) -> None:
    ended_by_group = [r for r in records if r["terminatingRuleType"] in ("GROUP", "MANAGED_RULE_GROUP")]
    for record in ended_by_group:
        last = record["ruleGroupList"][-1]
        assert last["terminatingRule"]["action"] == record["action"]
    rule_ids = {str(r["terminatingRuleId"]) for r in ended_by_group}
    assert {"AWS-AWSManagedRulesSQLiRuleSet", "eng-payments-allowlist", "sec-baseline-blocklist"} <= rule_ids
    assert any(i.startswith("PREFMManaged") for i in rule_ids)
    assert any(i.startswith("POSTFMManaged") for i in rule_ids)
    sqli = [r for r in records if r["terminatingRuleId"] == "AWS-AWSManagedRulesSQLiRuleSet"]
    assert all(r["terminatingRuleMatchDetails"][0]["sensitivityLevel"] in ("LOW", "HIGH") for r in sqli)


def test_overrides_exclusions_and_token_challenges_have_their_real_shapes(lines: list[bytes]) -> None:
    text = b"\n".join(lines)
    assert b'"action":"COUNT","overriddenAction":"BLOCK"' in text
    assert b'"exclusionType":"EXCLUDED_AS_COUNT"' in text
    assert b'"customerConfig":[{"name":"EnableMachineLearning","value":"null"}]' in text
    assert b'"responseCodeSent":405,' in text
    assert (
        b'"captchaResponse":{"responseCode":405,"solveTimestamp":0,"failureReason":"TOKEN_MISSING"}' in text
    )
    assert (
        b'"challengeResponse":{"responseCode":202,"solveTimestamp":0,"failureReason":"TOKEN_MISSING"}' in text
    )
    assert b'"action":"CAPTCHA","ruleMatchDetails":[],"captchaResponse":{"responseCode":0' in text


def test_classic_records_have_a_guid_web_acl_a_null_request_id_and_no_match_details(
    records: list[Record],
) -> None:
    classic = [r for r in records if not str(r["webaclId"]).startswith("arn:")]
    assert 0.002 < len(classic) / len(records) < 0.01
    for record in classic:
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", str(record["webaclId"])
        )
        assert "terminatingRuleMatchDetails" not in record
        assert _request(record)["requestId"] is None


def test_labels_are_absent_rather_than_empty_and_ja3_comes_only_from_cloudfront_and_alb(
    records: list[Record],
) -> None:
    assert all(r["labels"] for r in records if "labels" in r)
    assert any(
        str(n["name"]).startswith("awswaf:clientip:geo:country:")
        for r in records
        for n in r.get("labels", [])
    )
    assert {r["httpSourceName"] for r in records if "ja3Fingerprint" in r} == {"CF", "ALB"}


def test_adversarial_names_paths_and_agents_are_present(records: list[Record]) -> None:
    names = {str(h["name"]) for r in records for h in _request(r)["headers"]}
    assert {"x.forwarded.host", "$where", "X Custom Header"} <= names
    assert any(len(n) >= 300 for n in names)
    assert any("}{" in str(_request(r)["uri"]) for r in records)
    assert any(len(str(_request(r)["args"])) >= 4096 for r in records)


@pytest.mark.parametrize(("name", "gzipped"), [("waf.ndjson.gz", True), ("waf.ndjson", False)])
def test_write_logs_writes_one_record_per_line_gzipped_only_for_gz(
    tmp_path: Path, name: str, gzipped: bool
) -> None:
    path = tmp_path / name
    assert write_logs(path, 5_000, seed=4) == 5_000
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") is gzipped
    body = gzip.decompress(raw) if gzipped else raw
    assert body.endswith(b"\n")
    assert body.split(b"\n")[:-1] == list(iter_records(5_000, seed=4))
