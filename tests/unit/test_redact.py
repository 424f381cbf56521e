"""Redaction: the policy (the exact walk), the vectorized pass held equal to it, and broken bytes."""

from __future__ import annotations

import gzip
import zlib

import orjson
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enrich.config import DEFAULT_REDACTED_HEADERS
from enrich.redact import MAX_DEPTH, Redaction, TooDeep, normalize_name
from enrich.redact_bytes import redact_bytes
from enrich.redact_text import TextRedaction

REDACTION = Redaction(DEFAULT_REDACTED_HEADERS)
PASS = TextRedaction(REDACTION)
SECRET = "s3cr3tValue"


def fast(texts: list[str]) -> tuple[list[str], list[bool]]:
    """The vectorized pass as decode runs it: prefiltered rows redacted and checked."""
    frame = pl.DataFrame({"t": texts}).with_columns(
        pl.col("t").str.contains(PASS.prefilter).alias("p"), PASS.redact(pl.col("t")).alias("r")
    )
    frame = frame.with_columns(PASS.needs_exact(pl.col("t"), pl.col("r")).alias("exact"))
    rows = frame.select(
        pl.when(pl.col("p")).then(pl.col("r")).otherwise(pl.col("t")), pl.col("p") & pl.col("exact")
    )
    return rows.to_series(0).to_list(), rows.to_series(1).to_list()


def leaks(value: object) -> bool:
    return SECRET in orjson.dumps(value).decode()


# --- the policy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "COOKIE",
        " authorization",
        "authorization\t",
        "\x00x-api-key",
        "X-AMZN-WAF-Cookie",
        "x-amzn-waf-x-amzn-waf-authorization",
        "\u212a".join(["x-api-", "ey"]),
        "token",
        "API_KEY",
    ],
)
def test_a_sensitive_name_hides_its_value_in_every_shape(name: str) -> None:
    record = {
        "headers": [{"name": name, "value": SECRET}],
        "map": {name: SECRET},
        "pairs": [[name, SECRET]],
        "custom": [{"key": "HEADER", "name": name, "value": SECRET}],
        "twice": {"value": SECRET, "name": name},
    }
    redacted = REDACTION.redact_object(record)
    assert not leaks(redacted)
    assert redacted["headers"] == [{"name": name, "value": "REDACTED"}]  # type: ignore[index]


def test_names_are_compared_unpadded_case_folded_and_without_the_insert_prefix() -> None:
    assert normalize_name(" X-Amzn-WAF-x-amzn-waf- Authorization\t") == "authorization"
    assert normalize_name("Host") == "host"


@pytest.mark.parametrize(
    ("detail", "secret"),
    [
        ({"location": "COOKIE", "matchedData": [SECRET]}, True),
        ({"location": "cookie", "matchedFieldName": "session", "matchedData": [SECRET]}, True),
        ({"location": "HEADER", "matchedData": [SECRET]}, True),  # which header? cannot say: hide
        ({"location": "HEADER", "matchedFieldName": "Authorization", "matchedData": [SECRET]}, True),
        ({"location": "SINGLE_QUERY_ARG", "matchedFieldName": "api_key", "matchedData": [SECRET]}, True),
        ({"location": "HEADER", "matchedFieldName": "user-agent", "matchedData": [SECRET]}, False),
        ({"location": "URI", "matchedData": [SECRET]}, False),
    ],
)
def test_match_details_hide_matched_data_on_cookies_and_sensitive_or_unnamed_headers(
    detail: dict[str, object], secret: bool
) -> None:
    record = {
        "terminatingRuleMatchDetails": [detail],
        "ruleGroupList": [{"excludedRules": [{"ruleId": "r", "ruleMatchDetails": [detail]}]}],
    }
    assert leaks(REDACTION.redact_object(record)) is not secret


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=1&api_key=K&b=2", "a=1&api_key=REDACTED&b=2"),
        ("token=K", "token=REDACTED"),
        ("/p?ACCESS_TOKEN=K#frag", "/p?ACCESS_TOKEN=REDACTED#frag"),
        ("/p;jsessionid=K?x=1", "/p;jsessionid=REDACTED"),  # a value runs to & ; or #
        ("api%5Fkey=K", "api%5Fkey=REDACTED"),
        (
            "X-Amz-Signature=K&X-Amz-Security-Token=K2",
            "X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED",
        ),
        ("https://user:K@host/p", "https://user:REDACTED@host/p"),
        ("Host: a\r\nAuthorization: Bearer K\r\nX: y", "Host: a\r\nAuthorization: REDACTED\r\nX: y"),
        ("mytoken=1&tokens=2&a=token", "mytoken=1&tokens=2&a=token"),  # only whole argument names
        ("https://host:8443/p", "https://host:8443/p"),
    ],
)
def test_strings_hide_sensitive_query_arguments_url_passwords_and_header_lines(
    text: str, expected: str
) -> None:
    assert REDACTION.redact_string(text) == expected


def test_null_values_and_the_record_shape_are_kept() -> None:
    record = {"headers": [{"name": "cookie", "value": None}], "n": [1, {"name": "cookie", "value": 5}]}
    assert REDACTION.redact_object(record) == record


def test_records_nested_deeper_than_the_limit_are_refused() -> None:
    deep: object = "x"
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(TooDeep):
        REDACTION.redact_object({"a": deep})


# --- the vectorized pass ----------------------------------------------------------------------------


def test_waf_shaped_values_are_redacted_without_the_exact_path() -> None:
    record = {
        "httpRequest": {
            "headers": [{"name": "Authorization", "value": 'Bearer a"b}c'}, {"name": "Host", "value": "h"}],
            "args": "a=1&token=K",
            "uri": "/p;jsessionid=K",
        },
        "requestHeadersInserted": [{"name": "x-amzn-waf-Authorization", "value": "t"}],
        "rateBasedRuleList": [
            {
                "customValues": [
                    {"key": "COOKIE", "name": "sid", "value": "c"},
                    {"key": "QUERY_ARGUMENT", "name": "api_key", "value": "k"},
                ]
            }
        ],
    }
    (text,), (exact,) = fast([orjson.dumps(record).decode()])
    assert not exact
    assert orjson.loads(text) == REDACTION.redact_object(record)


@pytest.mark.parametrize(
    "text",
    [
        '{"h":[{"name":"\\u0041uthorization","value":"K"}]}',  # an escaped name
        '{"h":[{"name":"cookie","x":{"y":1},"value":"K"}]}',  # a member between
        '{"h":[{"name":"cookie","value":"a","value":"K"}]}',  # a second value
        '{"h":{"Authorization":"K"}}',  # a map
        '{"h":[["Authorization","K"]]}',  # pairs
        '{"h":"Authorization: K"}',  # a header line
        '{"d":[{"location":"HEADER","matchedData":["K"]}]}',  # match details
    ],
)
def test_shapes_the_pass_cannot_prove_take_the_exact_path(text: str) -> None:
    _, (exact,) = fast([text])
    assert exact


def test_json_inside_a_string_is_not_mistaken_for_a_header() -> None:
    text = orjson.dumps({"ua": '{"name":"authorization","value":"x"}', "headers": []}).decode()
    (out,), exact = fast([text])
    assert out == text
    assert REDACTION.redact_object(orjson.loads(text)) == orjson.loads(text)
    assert exact == [False]


names = st.sampled_from(
    [
        "Authorization",
        "authorization",
        "COOKIE",
        " cookie",
        "x-amzn-waf-x-api-key",
        "Host",
        "User-Agent",
        "token",
        "api_key",
        "a.b$c",
        "x-amz-cf-id",
        "Referer",
    ]
)
plain_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
url_pieces = st.sampled_from(
    ["a=1", "token=K", "api%5Fkey=K", "x=&y", "//u:K@h", ";jsessionid=K", "?", "&", "/p", "#f", '"q"', "\\"]
)
urls = st.lists(url_pieces, max_size=6).map("".join)
values = st.one_of(plain_text, urls, st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1))
header = st.fixed_dictionaries({"name": names, "value": values})
detail = st.fixed_dictionaries(
    {
        "location": st.sampled_from(["HEADER", "COOKIE", "URI", "SINGLE_QUERY_ARG"]),
        "matchedData": st.lists(plain_text, max_size=2),
    },
    optional={"matchedFieldName": names},
)
custom = st.fixed_dictionaries(
    {
        "key": st.sampled_from(["COOKIE", "cookie", "HEADER", "QUERY_ARGUMENT", "IP"]),
        "name": names,
        "value": plain_text,
    }
)
record_strategy = st.fixed_dictionaries(
    {
        "httpRequest": st.fixed_dictionaries(
            {"headers": st.lists(header, max_size=5), "args": urls, "uri": urls}
        )
    },
    optional={
        "terminatingRuleMatchDetails": st.lists(detail, max_size=2),
        "rateBasedRuleList": st.lists(
            st.fixed_dictionaries({"customValues": st.lists(custom, max_size=3)}), max_size=1
        ),
        "map": st.dictionaries(names, plain_text, max_size=2),
        "pairs": st.lists(st.tuples(names, plain_text).map(list), max_size=2),
        "line": st.tuples(names, plain_text).map(lambda p: f"{p[0]}: {p[1]}"),
    },
)


@settings(max_examples=400, deadline=None)
@given(record=record_strategy, escape=st.booleans(), spaced=st.booleans())
def test_the_vectorized_pass_agrees_with_the_exact_walk(
    record: dict[str, object], escape: bool, spaced: bool
) -> None:
    text = orjson.dumps(record).decode()
    if escape:  # a JSON reader sees the same name; a regex does not
        text = text.replace('"Authorization"', '"\\u0041uthorization"').replace('"cookie"', '"c\\u006fokie"')
    if spaced:
        text = text.replace('":"', '": "')
    (out,), (exact,) = fast([text])
    expected = REDACTION.redact_object(orjson.loads(text))
    if not exact:
        assert orjson.loads(out) == expected


# --- bytes that are not JSON (dead letters) ---------------------------------------------------------


@pytest.mark.parametrize(
    "broken",
    [
        b'{"headers":[{"name":"Authorization","value":"Bearer ' + SECRET.encode(),
        b'{"headers":[{"value":"' + SECRET.encode(),  # cut before the name: the value still hides
        b"{'name':'Authorization','value':'" + SECRET.encode() + b"'}",
        "{\u201cname\u201d:\u201cCookie\u201d,\u201cvalue\u201d:\u201c".encode()
        + SECRET.encode()
        + "\u201d}".encode(),
        b"{name: Authorization, value: " + SECRET.encode() + b"}",
        b'{"value":"' + SECRET.encode() + b'","x":{"y":1},"name":"\\u0041uthorization"} trailing',
        b'{"args":"a=1&api_key=' + SECRET.encode(),
        b'{"h":"Host: a\\r\\nAuthorization: Bearer ' + SECRET.encode() + b'"} x',
        b'[{"location":"HEADER","matchedData":["' + SECRET.encode() + b'"]}, oops',
    ],
)
def test_broken_bytes_are_redacted_to_the_end_of_the_value_or_of_the_input(broken: bytes) -> None:
    assert SECRET.encode()[:8] not in redact_bytes(REDACTION, broken)


def test_a_record_cut_anywhere_inside_a_secret_keeps_no_piece_of_it() -> None:
    record = orjson.dumps(
        {
            "timestamp": 1,
            "httpRequest": {
                "headers": [
                    {"name": "Host", "value": "h"},
                    {"name": "Cookie", "value": f"sid={SECRET}{SECRET}"},
                ]
            },
        }
    )
    start = record.index(SECRET.encode())
    for cut in range(start, start + 2 * len(SECRET)):
        out = redact_bytes(REDACTION, record[:cut])
        assert not any(SECRET[i : i + 8].encode() in out for i in range(len(SECRET) - 7)), cut


def test_a_truncated_gzip_member_is_redacted_once_inflated() -> None:
    data = gzip.compress(b'{"name":"authorization","value":"' + SECRET.encode() * 4 + b'"}')
    partial = zlib.decompressobj(wbits=31).decompress(data[: len(data) - 12])
    assert SECRET.encode()[:8] not in redact_bytes(REDACTION, partial)
