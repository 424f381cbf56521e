"""Synthetic WAF logs: deterministic, distinct, real-shaped, secrets only where the policy redacts them."""

from __future__ import annotations

import gzip
import itertools
import json
import re
import zlib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.generate import (
    PLANTED_SECRET_PREFIX,
    _escape_name,
    cut_inside_secret,
    iter_records,
    write_cut_off,
    write_logs,
)

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
# The redaction policy (enrich/redact.py), written out here independently of that code.
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-amz-security-token",
     "x-auth-token", "x-csrf-token", "x-xsrf-token"}
)  # fmt: skip
SENSITIVE_ARGS = frozenset(
    {"access_token", "refresh_token", "id_token", "token", "auth_token", "api_key", "apikey", "api-key",
     "client_secret", "password", "passwd", "pwd", "secret", "signature", "sig", "x-amz-signature",
     "x-amz-security-token", "x-amz-credential", "jsessionid", "phpsessid", "sessionid"}
)  # fmt: skip
INSERTED_PREFIX = "x-amzn-waf-"
NAME_PADDING = " \t\x00"
SECRET = re.compile(re.escape(PLANTED_SECRET_PREFIX) + r"[A-Za-z0-9_-]*")
QUERY_PAIR = re.compile(r"(?:^|[?&;])([^=&;?#/]+)=([^&;#]*)")
USERINFO = re.compile(r"//[^/?#@:]*:([^/?#@]*)@")
MATCH_DETAIL_LISTS = (
    "terminatingRuleMatchDetails",
    "ruleGroupList.terminatingRule.ruleMatchDetails",
    "nonTerminatingMatchingRules.ruleMatchDetails",
    "ruleGroupList.nonTerminatingMatchingRules.ruleMatchDetails",
    "ruleGroupList.excludedRules.ruleMatchDetails",
)
ESCAPED_HEADER = re.compile(rb'\{"name":"([^"]*\\u00[2-7][0-9A-Fa-f][^"]*)","value":"([^"]*)"')
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


@pytest.fixture(scope="module")
def places(lines: list[bytes]) -> list[list[tuple[str, str]]]:
    """The policy place of every secret, per record."""
    return [secret_places(line) for line in lines]


def _request(record: Record) -> dict[str, Any]:
    request: dict[str, Any] = record["httpRequest"]
    return request


def normalized_name(name: str) -> str:
    """A header or argument name as the policy compares it: unpadded, lower case, no x-amzn-waf- prefix."""
    folded = name.strip(NAME_PADDING).lower()
    while folded.startswith(INSERTED_PREFIX):
        folded = folded[len(INSERTED_PREFIX) :]
    return folded


def _in_url_value(text: str, start: int, end: int) -> str | None:
    """``query`` or ``userinfo`` when text[start:end] lies in a value the URL rules redact."""
    for pair in QUERY_PAIR.finditer(text):
        if pair[1].lower() in SENSITIVE_ARGS and pair.start(2) <= start and end <= pair.end(2):
            return "query"
    if any(m.start(1) <= start and end <= m.end(1) for m in USERINFO.finditer(text)):
        return "userinfo"
    return None


def matched_data_redacted(detail: dict[str, object]) -> bool:
    """Whether the policy replaces this match detail's ``matchedData`` tokens."""
    location, field = str(detail.get("location", "")).upper(), detail.get("matchedFieldName")
    named = isinstance(field, str) and normalized_name(field) in SENSITIVE_HEADERS | SENSITIVE_ARGS
    return location == "COOKIE" or named or (location == "HEADER" and field is None)


def _custom_value_redacted(entry: dict[str, object], text: str, start: int, end: int) -> bool:
    key, name = str(entry.get("key")), normalized_name(str(entry.get("name")))
    return (
        key.upper() == "COOKIE"
        or (key == "HEADER" and name in SENSITIVE_HEADERS)
        or (key == "QUERY_ARGUMENT" and name in SENSITIVE_ARGS)
        or (key == "QUERY_STRING" and _in_url_value(text, start, end) is not None)
    )


def _named_variant(name: str) -> str:
    if name.lower().startswith(INSERTED_PREFIX):
        return "doubled prefix" if name.lower().count(INSERTED_PREFIX) > 1 else "prefixed"
    return "padded" if name != name.strip(NAME_PADDING) else "plain"


def _place(
    keys: tuple[str, ...], holder: dict[str, object], text: str, span: tuple[int, int]
) -> tuple[str, str]:
    """(place, variant) of one secret under the policy, or ("UNREDACTED", path) where no rule covers it."""
    name = holder.get("name")
    if keys[-2:] == ("customValues", "value") and _custom_value_redacted(holder, text, *span):
        return "customValues", str(holder["key"])
    if keys[-1] == "value" and isinstance(name, str) and normalized_name(name) in SENSITIVE_HEADERS:
        return ".".join(keys[:-1]), _named_variant(name)
    if keys[-1] == "matchedData" and matched_data_redacted(holder):
        field = f" {holder['matchedFieldName']}" if "matchedFieldName" in holder else ""
        return f"matchedData in {'.'.join(keys[:-1])}", f"{holder['location']}{field}"
    url = _in_url_value(text, *span)
    if url == "query" and ";jsessionid=" in text.lower():
        url = "matrix"
    return (".".join(keys), url) if url is not None else ("UNREDACTED", ".".join(keys))


def secret_places(line: bytes) -> list[tuple[str, str]]:
    """(place, variant) of every planted secret in one record, and ("escaped name", form) per escaped header.

    A secret no rule of the policy covers comes back as ("UNREDACTED", its path).
    """
    places: list[tuple[str, str]] = []
    if PLANTED_SECRET_PREFIX.encode() not in line:
        return places

    def visit(value: object, keys: tuple[str, ...], holder: dict[str, object]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if PLANTED_SECRET_PREFIX in key:
                    places.append(("UNREDACTED", f"a key in {'.'.join(keys)}"))
                visit(item, (*keys, key), value)
        elif isinstance(value, list):
            for item in value:
                visit(item, keys, holder)
        elif isinstance(value, str):
            places.extend(_place(keys, holder, value, m.span()) for m in SECRET.finditer(value))

    visit(orjson.loads(line), (), {})
    for escaped in ESCAPED_HEADER.finditer(line):
        name = json.loads(b'"' + escaped[1] + b'"')
        if normalized_name(name) in SENSITIVE_HEADERS and PLANTED_SECRET_PREFIX.encode() in escaped[2]:
            whole = escaped[1].count(b"\\u") == len(name)
            places.append(("escaped name", "whole" if whole else "first letter"))
    return places


def _unescaped(line: bytes) -> bytes:
    return re.sub(rb"\\u00([2-7][0-9A-Fa-f])", lambda m: bytes([int(m[1], 16)]), line)


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
    escaped = 0
    for line, record in zip(lines, records, strict=True):
        assert b"\n" not in line
        if orjson.dumps(record) != line:  # a header name spelled in JSON escapes, nothing else
            escaped += 1
            assert ESCAPED_HEADER.search(line)
        assert orjson.dumps(record) == _unescaped(line)  # compact, and nothing orjson would not round-trip
        assert type(record["timestamp"]) is int
        assert record["formatVersion"] == 1
        assert isinstance(record["webaclId"], str)
        assert record["action"] in {"ALLOW", "BLOCK", "CAPTCHA", "CHALLENGE"}
        assert {"clientIp", "country", "headers", "uri", "args", "httpMethod"} <= _request(record).keys()
    assert 0 < escaped <= 0.003 * len(lines)


def test_a_padded_header_name_spelled_in_escapes_is_still_json() -> None:
    # a padded name whose first letter is escaped: about one record in 150,000 (record 153,254 of seed 0),
    # too rare for the sample, so the writer is called directly
    header = {"name": "Cookie\t", "value": "session=x"}
    line = _escape_name(orjson.dumps({"headers": [header]}), header, False)
    assert line == b'{"headers":[{"name":"\\u0043ookie\\t","value":"session=x"}]}'
    assert orjson.loads(line) == {"headers": [header]}


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


def test_planted_secrets_are_only_where_the_redaction_policy_replaces_them(
    places: list[list[tuple[str, str]]],
) -> None:
    assert [where for record in places for place, where in record if place == "UNREDACTED"] == []
    assert {place for record in places for place, _ in record} == {
        "httpRequest.headers",
        "httpRequest.headers.value",  # a URL in a Referer
        "httpRequest.args",
        "httpRequest.uri",
        "requestHeadersInserted",
        "customValues",
        *(f"matchedData in {where}" for where in MATCH_DETAIL_LISTS),
        "escaped name",
    }


def test_each_kind_of_secret_is_planted_at_a_realistic_rate(
    lines: list[bytes], places: list[list[tuple[str, str]]]
) -> None:
    share = Counter(place for record in places for place in {p for p, _ in record})
    matched = sum(any(p.startswith("matchedData") for p, _ in record) for record in places)
    assert 0.30 < sum(PLANTED_SECRET_PREFIX.encode() in line for line in lines) / len(lines) < 0.42
    assert 0.25 < share["httpRequest.headers"] / len(lines) < 0.35
    assert 0.02 < share["httpRequest.args"] / len(lines) < 0.05  # a few percent
    assert 0.02 < matched / len(lines) < 0.08
    assert 0.005 < share["requestHeadersInserted"] / len(lines) < 0.03
    assert share["customValues"] >= 50
    assert 0 < share["escaped name"] <= 0.003 * len(lines)  # rare
    padded = sum(("httpRequest.headers", "padded") in record for record in places)
    assert 0 < padded <= 0.003 * len(lines)


def test_secrets_are_planted_in_every_spelling_and_shape_the_policy_covers(
    records: list[Record], places: list[list[tuple[str, str]]]
) -> None:
    variants = {variant for record in places for variant in record}
    assert {
        ("escaped name", "whole"),
        ("escaped name", "first letter"),
        ("httpRequest.headers", "padded"),
        ("requestHeadersInserted", "prefixed"),
        ("requestHeadersInserted", "doubled prefix"),
        ("httpRequest.headers.value", "query"),
        ("httpRequest.headers.value", "userinfo"),
        ("httpRequest.uri", "matrix"),
        ("httpRequest.uri", "userinfo"),
        ("matchedData in terminatingRuleMatchDetails", "COOKIE session"),
        ("matchedData in terminatingRuleMatchDetails", "HEADER"),  # no matchedFieldName
        ("matchedData in terminatingRuleMatchDetails", "HEADER authorization"),
        ("matchedData in terminatingRuleMatchDetails", "ALL_QUERY_ARGS api_key"),
        ("matchedData in ruleGroupList.excludedRules.ruleMatchDetails", "SINGLE_QUERY_ARG apikey"),
        ("matchedData in ruleGroupList.nonTerminatingMatchingRules.ruleMatchDetails", "COOKIE"),
    } <= variants
    assert {v for p, v in variants if p == "customValues"} == {
        "COOKIE", "cookie", "Cookie", "HEADER", "QUERY_ARGUMENT", "QUERY_STRING",
    }  # fmt: skip
    headers = [h for r in records for h in _request(r)["headers"] if PLANTED_SECRET_PREFIX in str(h["value"])]
    assert {"Authorization", "authorization", "AUTHORIZATION", "Cookie", "x-api-key"} <= {
        h["name"] for h in headers
    }
    assert {normalized_name(h["name"]) for h in headers} >= SENSITIVE_HEADERS - {
        "set-cookie"
    }  # a response header
    in_urls = {
        pair[1].lower()
        for r in records
        for text in (_request(r)["args"], _request(r)["uri"])
        for pair in QUERY_PAIR.finditer(str(text))
        if PLANTED_SECRET_PREFIX in pair[2]
    }
    assert in_urls == SENSITIVE_ARGS


def test_a_record_cut_inside_a_secret_ends_before_the_secret_does(lines: list[bytes]) -> None:
    record = next(line for line in lines if line.count(PLANTED_SECRET_PREFIX.encode()) >= 2)
    last, first = cut_inside_secret(record), cut_inside_secret(record, occurrence=0)
    for cut in (last, first):
        assert record.startswith(cut)
        random_part = cut.rsplit(PLANTED_SECRET_PREFIX.encode(), 1)[1]
        assert len(random_part) == 12
        assert re.fullmatch(rb"[A-Za-z0-9_-]{12}", random_part)  # no closing quote
    assert first.count(PLANTED_SECRET_PREFIX.encode()) == 1
    assert last.count(PLANTED_SECRET_PREFIX.encode()) == record.count(PLANTED_SECRET_PREFIX.encode())
    with pytest.raises(ValueError, match="no planted secret"):
        cut_inside_secret(b'{"timestamp":1}')


def test_write_cut_off_ends_a_file_or_a_truncated_gzip_stream_inside_a_secret(tmp_path: Path) -> None:
    plain, packed = tmp_path / "cut.log", tmp_path / "cut.log.gz"
    assert write_cut_off(plain, 40, seed=2) == write_cut_off(packed, 40, seed=2) == 39
    body = plain.read_bytes()
    *complete, last = body.split(b"\n")
    assert complete == list(iter_records(39, seed=2))
    assert re.search(re.escape(PLANTED_SECRET_PREFIX).encode() + rb"[A-Za-z0-9_-]{12}$", last)
    raw = packed.read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    with pytest.raises(EOFError):  # no end-of-stream marker
        gzip.decompress(raw)
    inflater = zlib.decompressobj(wbits=31)
    assert inflater.decompress(raw) == body
    assert not inflater.eof


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
