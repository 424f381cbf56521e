"""Redaction: sensitive header values never survive, everything else is untouched."""

from __future__ import annotations

import orjson
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from enrich.config import DEFAULT_REDACTED_HEADERS
from enrich.redact import Redaction

REDACTION = Redaction(DEFAULT_REDACTED_HEADERS)


def fast(texts: list[str]) -> tuple[list[str], list[bool]]:
    frame = pl.DataFrame({"t": texts}).with_columns(REDACTION.redact_expr(pl.col("t")).alias("r"))
    frame = frame.with_columns(REDACTION.needs_exact_redaction(pl.col("t"), pl.col("r")).alias("exact"))
    return frame["r"].to_list(), frame["exact"].to_list()


def test_values_of_sensitive_headers_are_replaced_in_any_case_and_key_order() -> None:
    record = {
        "httpRequest": {
            "headers": [
                {"name": "Authorization", "value": 'Bearer a"b}c'},
                {"value": "session=s", "name": "COOKIE"},
                {"name": "Host", "value": "example.com"},
            ]
        },
        "requestHeadersInserted": [
            {"name": "x-api-key", "value": "k"},
            {"name": "x-amzn-waf-Authorization", "value": "t"},
        ],
        "rateBasedRuleList": [{"customValues": [{"key": "COOKIE", "name": "sid", "value": "c"}]}],
    }
    (text,), (exact,) = fast([orjson.dumps(record).decode()])
    assert not exact
    assert orjson.loads(text) == {
        "httpRequest": {
            "headers": [
                {"name": "Authorization", "value": "REDACTED"},
                {"value": "REDACTED", "name": "COOKIE"},
                {"name": "Host", "value": "example.com"},
            ]
        },
        "requestHeadersInserted": [
            {"name": "x-api-key", "value": "REDACTED"},
            {"name": "x-amzn-waf-Authorization", "value": "REDACTED"},
        ],
        "rateBasedRuleList": [{"customValues": [{"key": "COOKIE", "name": "sid", "value": "REDACTED"}]}],
    }
    assert REDACTION.redact_object(record) == orjson.loads(text)


def test_json_inside_a_string_is_not_mistaken_for_a_header() -> None:
    text = orjson.dumps({"ua": '{"name":"authorization","value":"x"}', "headers": []}).decode()
    (out,), (exact,) = fast([text])
    assert (out, exact) == (text, False)


def test_records_the_regex_cannot_prove_go_to_the_exact_path() -> None:
    nested_between = '{"headers":[{"name":"cookie","x":{"y":1},"value":"s"}]}'
    null_value = '{"headers":[{"name":"cookie","value":null}]}'
    _, exact = fast([nested_between, null_value])
    assert exact == [True, True]
    assert REDACTION.redact_object(orjson.loads(nested_between)) == {
        "headers": [{"name": "cookie", "x": {"y": 1}, "value": "REDACTED"}]
    }
    assert REDACTION.redact_object(orjson.loads(null_value)) == orjson.loads(null_value)


def test_bytes_that_are_not_json_are_still_redacted() -> None:
    broken = b'{"headers":[{"name":"Authorization","value":"Bearer t0ken"}, oops'
    assert b"t0ken" not in REDACTION.redact_bytes(broken)


header_names = st.sampled_from(
    [
        "Authorization",
        "authorization",
        "COOKIE",
        "Cookie",
        "X-Api-Key",
        "Host",
        "User-Agent",
        "x-amz-cf-id",
        "a.b$c",
    ]
)
values = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
headers = st.lists(st.fixed_dictionaries({"name": header_names, "value": values}), max_size=8)


@settings(max_examples=300, deadline=None)
@given(headers=headers, reverse=st.booleans())
def test_fast_path_agrees_with_the_exact_walk(headers: list[dict[str, str]], reverse: bool) -> None:
    if reverse:
        headers = [{"value": h["value"], "name": h["name"]} for h in headers]
    record = {"httpRequest": {"headers": headers, "uri": "/"}}
    (text,), (exact,) = fast([orjson.dumps(record).decode()])
    expected = REDACTION.redact_object(record)
    if not exact:
        assert orjson.loads(text) == expected
    for before, after in zip(headers, expected["httpRequest"]["headers"], strict=True):
        sensitive = before["name"].lower().removeprefix("x-amzn-waf-") in DEFAULT_REDACTED_HEADERS
        assert after == ({**before, "value": "REDACTED"} if sensitive else before)
