"""Decode: lenient on WAF's type drift, exact about what it cannot use, and ids from content."""

from __future__ import annotations

import hashlib
import re

import orjson
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrich import schema as S
from enrich.config import DEFAULT_REDACTED_HEADERS
from enrich.redact import Redaction
from ingest.decode.framing import FramedBatch
from ingest.decode.records import decode, record_id, record_ids
from ingest.decode.slices import decode_unreserved

BASE = {
    "timestamp": 1682374606245,
    "formatVersion": 1,
    "webaclId": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/acl/1",
    "terminatingRuleId": "Default_Action",
    "terminatingRuleType": "REGULAR",
    "action": "ALLOW",
    "httpRequest": {"clientIp": "1.2.3.4", "headers": [{"name": "Host", "value": "h"}]},
}


def run(*records: object, projection: pl.Schema = S.WAF_RECORD):  # type: ignore[no-untyped-def]
    batch = FramedBatch()
    for i, record in enumerate(records, start=1):
        batch.add(record.encode() if isinstance(record, str) else orjson.dumps(record), i, source="t")
    return decode(batch, redaction=Redaction(DEFAULT_REDACTED_HEADERS), projection=projection)


def test_type_drift_becomes_typed_values_and_the_raw_text_is_kept() -> None:
    record = {
        **BASE,
        "rateBasedRuleList": [
            {"rateBasedRuleName": "r", "evaluationWindowSec": "120", "maxRateAllowed": 100}
        ],
        "httpRequest": {**BASE["httpRequest"], "requestId": None},
        "oversizeFields": "REQUEST_BODY",
    }
    out = run(record)
    assert out.rejected == []
    row = out.frame.row(0, named=True)
    assert row["rateBasedRuleList"][0]["evaluationWindowSec"] == 120
    assert row["oversizeFields"] == ["REQUEST_BODY"]
    assert orjson.loads(row[S.EVENT_ORIGINAL]) == record


def test_a_structure_where_a_list_belongs_is_kept_raw_and_null_in_the_typed_column() -> None:
    record = {**BASE, "labels": {"name": "not-a-list"}}
    out = run(BASE, record, BASE | {"timestamp": 1682374606246})
    assert out.rejected == []
    assert out.frame["labels"].to_list()[1] is None
    assert orjson.loads(out.frame[S.EVENT_ORIGINAL][1]) == record
    assert out.frame["line"].to_list() == [1, 2, 3]


def test_missing_and_invalid_required_fields_are_rejected_with_the_field_named() -> None:
    missing = {k: v for k, v in BASE.items() if k not in ("webaclId", "action")}
    seconds = {**BASE, "timestamp": 1682374606}
    out = run(missing, seconds, BASE)
    assert out.frame.height == 1
    assert [(r.kind, r.describe()) for r in out.rejected] == [
        ("missing_field", "t line 1: missing required field(s): webaclId, action"),
        ("invalid_field", "t line 2: timestamp is not epoch milliseconds between 2000 and 2100"),
    ]


def test_a_record_carrying_a_field_waflens_adds_is_rejected() -> None:
    out = run({**BASE, "waflens": {"blocked": True}}, {**BASE, "uri": '"waflens" is fine inside a value'})
    assert [r.kind for r in out.rejected] == ["reserved_field"]
    assert out.frame.height == 1


@pytest.mark.parametrize("key", S.RESERVED_TOP_LEVEL)
@pytest.mark.parametrize("value", [None, {}, [], 1, "x", "\u0000", {"a": [1, {"b": None}]}])
def test_a_reserved_top_level_key_is_rejected_whatever_its_value(key: str, value: object) -> None:
    text = _text(BASE)[:-1] + f',"{key}":{orjson.dumps(value).decode()}}}'
    out = run(text, _text(BASE), text.replace("{", f'{{"{key}":null,', 1))
    assert [(r.position, r.kind) for r in out.rejected] == [
        ("line 1", "reserved_field"),
        ("line 3", "reserved_field"),
    ]
    assert out.frame["line"].to_list() == [2]


def test_a_reserved_key_with_the_probes_own_value_is_still_found() -> None:
    # needs_exact sends such a record (an escape) to the exact path first; the check holds without it
    texts = pl.Series(
        [_text({**BASE, "waflens": "\u0000"}), _text({**BASE, "x": "\u0000 waflens"}), _text(BASE)]
    )
    _, failed = decode_unreserved(texts, S.decode_dtype(S.ENRICH_INPUT))
    assert failed.to_list() == [True, False, False]


def test_reserved_names_below_the_top_level_keep_a_record_on_the_fast_path() -> None:
    # the exact path would store orjson's normalized text; the fast path stores the record as WAF wrote it
    headers = [{"name": "waflens", "value": '"@timestamp"'}, {"name": "x", "value": 'say "waflens"'}]
    record = {**BASE, "httpRequest": {**BASE["httpRequest"], "headers": headers}, "x": {"@timestamp": None}}
    text = _text(record).replace('"action":', '"action": ')
    out = run(text, projection=S.ENRICH_INPUT)
    assert out.rejected == []
    assert out.frame[S.EVENT_ORIGINAL].to_list() == [text]
    assert out.frame["httpRequest"][0]["headers"] == headers


def test_ids_are_stable_and_distinct_events_never_share_one() -> None:
    a, b = orjson.dumps(BASE).decode(), orjson.dumps({**BASE, "timestamp": BASE["timestamp"] + 1}).decode()
    out = run(a, b, a)
    assert out.frame[S.DOC_ID].to_list() == [record_id(a), record_id(b), record_id(a)]
    assert record_id(a) != record_id(b)
    assert re.fullmatch(r"[0-9a-f]{32}", record_id(a))


def test_an_id_is_the_first_128_bits_of_the_sha_256_of_the_record_bytes() -> None:
    # standard SHA-256, so an id can be computed without waflens
    assert record_id("abc") == record_id(b"abc") == "ba7816bf8f01cfea414140de5dae2223"
    assert record_id("h\u00e9") == hashlib.sha256("h\u00e9".encode()).hexdigest()[:32]


@given(st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"])), max_size=20))
def test_ids_computed_in_polars_are_record_id_of_each_text(texts: list[str]) -> None:
    texts = [*texts, _text(BASE), '{"uri":"/caf\u00e9/\u2713/\U0001d11e"}', ""]
    assert record_ids(pl.Series(texts, dtype=pl.String)).to_list() == [record_id(t) for t in texts]


def test_redaction_happens_before_decoding_so_typed_columns_hold_no_secret() -> None:
    record = {
        **BASE,
        "httpRequest": {"clientIp": "1.2.3.4", "headers": [{"name": "Cookie", "value": "sid=s3cr3t"}]},
    }
    for projection in (S.WAF_RECORD, S.ENRICH_INPUT):
        out = run(record, projection=projection)
        assert "s3cr3t" not in str(out.frame.to_dicts())
        assert out.frame["httpRequest"][0]["headers"] == [{"name": "Cookie", "value": "REDACTED"}]


def _text(record: dict[str, object]) -> str:
    return orjson.dumps(record).decode()


def test_a_row_holding_two_values_is_rejected_alone_and_no_row_shifts() -> None:
    # framing never hands decode such a row (FramedBatch's contract); decode still must not shift
    a, b, c = ({**BASE, "action": action} for action in ("ALLOW", "BLOCK", "COUNT"))
    out = run(a, f"{_text(b)},{_text(c)}", c)
    assert out.frame["action"].to_list() == ["ALLOW", "COUNT"]
    assert out.frame["line"].to_list() == [1, 3]
    assert out.frame[S.DOC_ID].to_list() == [record_id(_text(a)), record_id(_text(c))]
    assert [(r.position, r.kind) for r in out.rejected] == [("line 2", "invalid_json")]


def test_duplicate_keys_resolve_last_wins_in_every_column_and_in_the_stored_text() -> None:
    duplicated = _text(BASE).replace('"action":"ALLOW"', '"action":"ALLOW","action":"BLOCK"')
    other_account = _text(BASE).replace(
        '"webaclId":', '"webaclId":"arn:aws:wafv2:us-east-1:999999999999:global/webacl/acl/1","webaclId":'
    )
    out = run(duplicated, other_account)
    assert out.rejected == []
    assert out.frame["action"].to_list() == ["BLOCK", "ALLOW"]
    assert out.frame["webaclId"].to_list()[1] == BASE["webaclId"]
    for stored, typed in zip(out.frame[S.EVENT_ORIGINAL], out.frame["action"], strict=True):
        assert stored.count('"action"') == 1
        assert orjson.loads(stored)["action"] == typed


def test_records_with_too_many_headers_or_too_deep_for_the_walk_are_rejected_with_the_field_named() -> None:
    many = {**BASE, "httpRequest": {"headers": [{"name": "x", "value": "y"}] * 1001}}
    deep: object = "secret"
    for _ in range(200):  # framing rejects these first; a record the walk must redact is refused too
        deep = [deep]
    with_cookie = {**BASE, "extra": deep, "httpRequest": {"headers": [{"name": "Cookie", "value": "s"}]}}
    out = run(many, with_cookie, BASE)
    assert out.frame.height == 1
    assert [(r.kind, r.reason) for r in out.rejected] == [
        ("too_deep", "not a WAF record: nested deeper than 128 levels"),
        ("oversize", "httpRequest.headers has 1001 headers, more than 1000"),
    ]


def test_a_reason_never_quotes_the_record() -> None:
    out = run({**BASE, "timestamp": "wlsecret-in-a-timestamp"}, '{"a":"wlsecret-in-bad-json"')
    assert len(out.rejected) == 2
    assert not any("wlsecret" in r.reason for r in out.rejected)
