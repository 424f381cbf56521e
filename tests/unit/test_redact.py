"""Redaction: the policy (the exact walk), the vectorized pass held equal to it, and broken bytes."""

from __future__ import annotations

import gzip
import re
import zlib

import orjson
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.generate import PLANTED_SECRET_PREFIX, iter_records
from enrich.config import DEFAULT_REDACTED_HEADERS
from enrich.redact import MAX_DEPTH, Redaction, TooDeep, normalize_name
from enrich.redact_bytes import redact_bytes
from enrich.redact_text import ESCAPE, TextRedaction

REDACTION = Redaction(DEFAULT_REDACTED_HEADERS)
PASS = TextRedaction(REDACTION)
SECRET = "s3cr3tValue"


def fast(texts: list[str]) -> tuple[list[str], list[bool]]:
    """The vectorized pass as decode runs it: prefiltered rows redacted and checked, match details walked."""
    frame = pl.DataFrame({"t": texts}).with_columns(
        pl.col("t").str.contains(PASS.prefilter).alias("p"), PASS.redact(pl.col("t")).alias("r")
    )
    frame = frame.with_columns(
        PASS.needs_exact(pl.col("t"), pl.col("r")).alias("exact"), PASS.match_details(pl.col("t")).alias("m")
    )
    out: list[str] = []
    exact: list[bool] = []
    for text, prefiltered, redacted, needs_exact, details in frame.iter_rows():
        if not prefiltered:
            out.append(text)
            exact.append(False)
            continue
        walked = PASS.hide_matched_data([redacted])[0] if details and not needs_exact else redacted
        out.append(walked or redacted)
        exact.append(needs_exact or walked is None)
    return out, exact


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
        '{"d":[{"location":"HEADER","matchedData":["K"]}],"u":"/p?token=K"',  # not JSON: the walk fails
        '{"d":[{"location":"HEADER?token=x","matchedData":["K"]}]}',  # a location the pass changed
        '{"d":[{"location":"URI","matchedFieldName":"a&token=1","matchedData":["K"]}]}',
    ],
)
def test_shapes_the_pass_cannot_prove_take_the_exact_path(text: str) -> None:
    _, (exact,) = fast([text])
    assert exact


@pytest.mark.parametrize(
    "details",
    [
        [{"location": "COOKIE", "matchedData": [SECRET]}],
        [{"conditionType": "XSS", "location": "HEADER", "matchedData": [SECRET, "<svg>"]}],
        [{"location": "HEADER", "matchedData": [SECRET], "matchedFieldName": "Authorization"}],
        [{"location": "SINGLE_QUERY_ARG", "matchedData": [SECRET], "matchedFieldName": "token"}],
        [{"location": "HEADER", "matchedData": [SECRET], "matchedFieldName": "x-amzn-waf-x-api-key"}],
        [{"location": "HEADER", "matchedData": [SECRET], "matchedFieldName": " "}],
    ],
)
def test_match_details_are_hidden_without_the_exact_path(details: list[dict[str, object]]) -> None:
    record = {
        "terminatingRuleMatchDetails": details,
        "ruleGroupList": [
            {"terminatingRule": {"ruleId": "r", "ruleMatchDetails": details}, "excludedRules": None}
        ],
        "httpRequest": {"headers": [{"name": "Cookie", "value": SECRET}], "args": "a=1&token=K"},
    }
    (text,), (exact,) = fast([orjson.dumps(record).decode()])
    assert not exact
    assert SECRET not in text
    assert orjson.loads(text) == REDACTION.redact_object(record)


def test_match_details_on_other_fields_keep_their_matched_data() -> None:
    details = [{"location": "HEADER", "matchedData": ["<script>"], "matchedFieldName": "user-agent"}]
    record = {"terminatingRuleMatchDetails": details, "labels": [{"name": "x"}]}
    (text,), (exact,) = fast([orjson.dumps(record).decode()])
    assert not exact
    assert orjson.loads(text) == record


def test_duplicate_match_detail_members_are_read_last_wins_and_stored_once() -> None:
    text = (
        '{"d":[{"location":"URI","matchedData":["a"],"location":"COOKIE","matchedData":["'
        + SECRET
        + '"]}],"h":[{"name":"cookie","value":"v"}]}'
    )
    (out,), (exact,) = fast([text])
    assert not exact
    hidden = '{"d":[{"location":"COOKIE","matchedData":["REDACTED"]}]'
    assert out == hidden + ',"h":[{"name":"cookie","value":"REDACTED"}]}'
    assert orjson.loads(out) == REDACTION.redact_object(orjson.loads(text))


def test_generated_records_take_the_exact_path_only_for_escaped_names() -> None:
    texts = [record.decode() for record in iter_records(3_000, seed=7)]
    out, exact = fast(texts)
    details = sum('"matchedData":["' in t for t in texts)
    escaped = [re.search(ESCAPE, t) is not None for t in texts]
    assert details > 50  # the sample holds match details: the check below is about them
    assert exact == escaped
    assert not any(PLANTED_SECRET_PREFIX in o for o, e in zip(out, exact, strict=True) if not e)


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
        "location": st.sampled_from(
            ["HEADER", "COOKIE", "cookie", "URI", "SINGLE_QUERY_ARG", "?token=HEADER"]
        ),
        "matchedData": st.one_of(st.lists(st.one_of(plain_text, urls), max_size=2), st.none()),
    },
    optional={
        "matchedFieldName": st.one_of(names, st.sampled_from(["", " ", "a=1&token=Cookie"]), st.none())
    },
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
        "ruleGroupList": st.lists(
            st.fixed_dictionaries(
                {"ruleGroupId": names},
                optional={
                    "terminatingRule": st.fixed_dictionaries(
                        {"ruleId": names, "ruleMatchDetails": st.lists(detail, max_size=2)}
                    ),
                    "excludedRules": st.lists(
                        st.fixed_dictionaries({"ruleMatchDetails": st.lists(detail, max_size=1)}), max_size=1
                    ),
                },
            ),
            max_size=2,
        ),
        "rateBasedRuleList": st.lists(
            st.fixed_dictionaries({"customValues": st.lists(custom, max_size=3)}), max_size=1
        ),
        "map": st.dictionaries(names, plain_text, max_size=2),
        "pairs": st.lists(st.tuples(names, plain_text).map(list), max_size=2),
        "line": st.tuples(names, plain_text).map(lambda p: f"{p[0]}: {p[1]}"),
    },
)


@settings(max_examples=400, deadline=None)
@given(record=record_strategy, escape=st.booleans(), spaced=st.booleans(), twice=st.booleans())
def test_the_vectorized_pass_agrees_with_the_exact_walk(
    record: dict[str, object], escape: bool, spaced: bool, twice: bool
) -> None:
    text = orjson.dumps(record).decode()
    if escape:  # a JSON reader sees the same name; a regex does not
        text = text.replace('"Authorization"', '"\\u0041uthorization"').replace('"cookie"', '"c\\u006fokie"')
    if spaced:
        text = text.replace('":"', '": "')
    if twice:  # duplicate keys: a second location or matchedData that a last-wins reader keeps
        text = text.replace('"location":', '"location":"URI","location":').replace(
            '"matchedData":', '"matchedData":null,"matchedData":'
        )
    (out,), (exact,) = fast([text])
    expected = REDACTION.redact_object(orjson.loads(text))
    if not exact:
        assert orjson.loads(out) == expected


# Records whose only shapes the pass cannot do by regex are match details: each must be walked.
clean_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("é✓")
).filter(lambda text: not any(name in text.casefold() for name in REDACTION.sensitive))
clean_detail = st.fixed_dictionaries(
    {
        "conditionType": st.sampled_from(["XSS", "SQL_INJECTION"]),
        "location": st.sampled_from(["HEADER", "COOKIE", "cookie", "URI", "SINGLE_QUERY_ARG", "BODY"]),
        "matchedData": st.one_of(st.lists(st.one_of(clean_text, urls), max_size=3), st.none(), clean_text),
    },
    optional={"matchedFieldName": st.one_of(names, st.sampled_from(["", " ", "q"]), st.none())},
)
detail_lists = st.lists(clean_detail, max_size=2)
clean_record = st.fixed_dictionaries(
    {
        "terminatingRuleMatchDetails": detail_lists,
        "ruleGroupList": st.lists(
            st.fixed_dictionaries(
                {
                    "ruleGroupId": clean_text,
                    "terminatingRule": st.one_of(
                        st.none(),
                        st.fixed_dictionaries({"ruleId": clean_text, "ruleMatchDetails": detail_lists}),
                    ),
                    "nonTerminatingMatchingRules": st.lists(
                        st.fixed_dictionaries({"ruleMatchDetails": detail_lists}), max_size=2
                    ),
                }
            ),
            max_size=3,
        ),
        "httpRequest": st.fixed_dictionaries(
            {
                "headers": st.lists(
                    st.builds(lambda n, v: {"name": n, "value": v}, names, clean_text), max_size=4
                ),
                "args": urls,
            }
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(record=clean_record, spaced=st.booleans(), twice=st.booleans())
def test_match_details_are_walked_and_agree_with_the_exact_walk(
    record: dict[str, object], spaced: bool, twice: bool
) -> None:
    text = orjson.dumps(record).decode()
    if spaced:  # whitespace JSON allows around a detail's members (not in headers: those need the walk)
        for key in ("location", "matchedData", "matchedFieldName"):
            text = text.replace(f'"{key}":', f'"{key}" :\t')
    if twice:
        text = text.replace('"location":', '"location":"URI","location":').replace(
            '"matchedData":', '"matchedData":null,"matchedData":'
        )
    (out,), (exact,) = fast([text])
    assert not exact
    assert orjson.loads(out) == REDACTION.redact_object(orjson.loads(text))


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
