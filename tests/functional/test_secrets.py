"""Secrets never leave the ingester: not in the lake, the dead-letter store, stdout or the logs.

The inputs carry planted secrets in every place the redaction policy covers (counted per place, so a
generator change cannot quietly empty one), records cut off inside a secret, a gzip stream truncated
inside one and header names spelled with JSON escapes. No secret, and no 8-character piece of one, may
appear in any byte the run writes.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from devtools.generate import (
    PLANTED_SECRET_PREFIX,
    cut_inside_secret,
    iter_records,
    write_cut_off,
    write_logs,
)
from enrich import schema as S
from ingest.cli.main import main
from ingest.sinks.lake import scan_lake
from tests.support.samples import sample
from tests.unit.test_generate import (
    MATCH_DETAIL_LISTS,
    QUERY_PAIR,
    SENSITIVE_ARGS,
    SENSITIVE_HEADERS,
    matched_data_redacted,
    normalized_name,
    secret_places,
)

RECORDS = 6000
MARKER = "REDACTED"
PIECE = 8  # no run of this many characters of a secret may survive
PREFIX = PLANTED_SECRET_PREFIX.encode()
# Records (of RECORDS, seed 7) that carry a secret in each place, at least; seen: about twice these.
MIN_RECORDS_PER_PLACE = {
    "httpRequest.headers": 1000,
    "httpRequest.headers.value": 20,  # a token or a password in a Referer URL
    "httpRequest.args": 100,
    "httpRequest.uri": 5,
    "requestHeadersInserted": 30,
    "customValues": 14,
    "matchedData in terminatingRuleMatchDetails": 30,
    "matchedData in ruleGroupList.terminatingRule.ruleMatchDetails": 15,
    "matchedData in nonTerminatingMatchingRules.ruleMatchDetails": 8,
    "matchedData in ruleGroupList.nonTerminatingMatchingRules.ruleMatchDetails": 80,
    "matchedData in ruleGroupList.excludedRules.ruleMatchDetails": 20,
    "escaped name": 3,
}
MIN_RECORDS_PER_VARIANT = {
    ("httpRequest.headers", "padded"): 3,
    ("requestHeadersInserted", "doubled prefix"): 5,
    ("httpRequest.uri", "matrix"): 3,
    ("httpRequest.uri", "userinfo"): 1,
    ("httpRequest.headers.value", "userinfo"): 10,
    ("customValues", "COOKIE"): 3,
    ("customValues", "cookie"): 1,
    ("customValues", "Cookie"): 1,
    ("customValues", "HEADER"): 3,
    ("customValues", "QUERY_ARGUMENT"): 2,
    ("customValues", "QUERY_STRING"): 1,
    ("escaped name", "whole"): 1,
    ("escaped name", "first letter"): 1,
}
# The text a generated record has right before the secret to cut inside (one file per cut record).
CUT_AFTER = {
    "header": b'"name":"Authorization","value":"Bearer ',
    "matched-data": b'"matchedData":["',
    "custom-value": b'"key":"COOKIE","name":"session","value":"',
    "args": b'"args":"api_key=',
    "inserted": b'"name":"x-amzn-waf-authorization","value":"',
}
BROKEN_WITH_SECRET = (
    b'{"timestamp":1767571200000,"webaclId":"arn:aws:wafv2:us-east-1:111111111111:global/webacl/a/1",'
    b'"httpRequest":{"headers":[{"name":"X-Api-Key","value":"wlsecret-Zq7TbR2xKp9wLm4VdS3f"}, oops\n'
)
ESCAPED_NAMES = (  # names written with JSON escapes, padded with NUL, tab and space, a doubled prefix
    b'{"timestamp":1767571200123,"formatVersion":1,'
    b'"webaclId":"arn:aws:wafv2:us-east-1:111111111111:global/webacl/a/1","terminatingRuleId":"Default_Action",'
    b'"terminatingRuleType":"REGULAR","action":"ALLOW","requestHeadersInserted":'
    b'[{"name":"x-amzn-waf-x-amzn-waf-\\u0061uthorization","value":"wlsecret-Hq4Lw9TzXc2Bn7Rk"}],'
    b'"httpRequest":{"clientIp":"203.0.113.9","country":"NL","headers":['
    b'{"name":"\\u0041uthorization","value":"Bearer wlsecret-Pd8Vx3NmQa6Ys1Ju"},'
    b'{"name":"\\u0063\\u006f\\u006f\\u006b\\u0069\\u0065","value":"session=wlsecret-Ge5Kc0WbRt9Lh2Zo"},'
    b'{"name":"\\u0000X-Api-Key \\t","value":"wlsecret-Mf7Uy4DsJn1Qe8Cv"}],"uri":"/","args":"",'
    b'"httpVersion":"HTTP/1.1","httpMethod":"GET","requestId":"1-6773f000-0123456789abcdef01234567"}}\n'
)


def _published_jwt() -> str:
    """The bearer token the CLO sample carries as published (never printed)."""
    record = orjson.loads(sample("centralized-logging-with-opensearch.ndjson").read_bytes().splitlines()[0])
    value = next(h["value"] for h in record["httpRequest"]["headers"] if h["name"].lower() == "authorization")
    assert len(value) > 40
    return str(value)


def _decompressed(path: Path) -> bytes:
    """A file's bytes, gunzipped as far as they go (a truncated stream too)."""
    raw = path.read_bytes()
    return zlib.decompressobj(wbits=31).decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def _pieces(data: bytes) -> set[bytes]:
    """Every PIECE-character window of the random part of every planted secret in ``data``."""
    parts = re.findall(re.escape(PREFIX) + rb"([A-Za-z0-9_-]+)", data)
    return {part[i : i + PIECE] for part in parts for i in range(len(part) - PIECE + 1)}


def _leaked(data: bytes, pieces: set[bytes]) -> set[bytes]:
    runs = set(re.findall(rb"[A-Za-z0-9_-]{%d,}" % PIECE, data))  # distinct: most runs repeat
    return {run[i : i + PIECE] for run in runs for i in range(len(run) - PIECE + 1)} & pieces


def _cut_after(lines: list[bytes], context: bytes) -> bytes:
    """The first record with ``context`` right before a secret, cut inside that secret."""
    line = next(line for line in lines if context + PREFIX in line)
    at = line.index(context + PREFIX) + len(context)
    return cut_inside_secret(line, occurrence=line[:at].count(PREFIX))


def _write_inputs(inputs: Path) -> tuple[int, int]:
    """Every kind of input that carries secrets; returns the records to deliver and to reject."""
    inputs.mkdir()
    write_logs(inputs / "generated.log.gz", RECORDS, seed=7)
    complete = write_cut_off(inputs / "cut.log", 30, seed=8) + write_cut_off(
        inputs / "cut.log.gz", 30, seed=9
    )
    lines = list(iter_records(RECORDS, seed=7))
    for name, context in CUT_AFTER.items():
        (inputs / f"cut-{name}.log").write_bytes(_cut_after(lines, context))
    (inputs / "broken.log").write_bytes(BROKEN_WITH_SECRET)
    (inputs / "escaped.log").write_bytes(ESCAPED_NAMES)
    return RECORDS + complete + 1, 2 + len(CUT_AFTER) + 1


def test_the_input_carries_secrets_in_every_place_the_policy_covers() -> None:
    places = [set(secret_places(line)) for line in iter_records(RECORDS, seed=7)]
    assert [where for record in places for place, where in record if place == "UNREDACTED"] == []
    per_place = Counter(place for record in places for place in {p for p, _ in record})
    per_variant = Counter(variant for record in places for variant in record)
    for place, minimum in MIN_RECORDS_PER_PLACE.items():
        assert per_place[place] >= minimum, (place, per_place[place])
    for variant, minimum in MIN_RECORDS_PER_VARIANT.items():
        assert per_variant[variant] >= minimum, (variant, per_variant[variant])


def test_no_planted_secret_nor_a_piece_of_one_appears_in_any_byte_written(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    inputs = tmp_path / "in"
    delivered, rejected = _write_inputs(inputs)
    originals = b"\n".join(_decompressed(p) for p in sorted(inputs.iterdir()))
    pieces = _pieces(originals)
    assert len(pieces) > 20_000  # the input really carries secrets
    assert _leaked(ESCAPED_NAMES, pieces) == _pieces(ESCAPED_NAMES)  # the check finds pieces where they are
    clo = sample("centralized-logging-with-opensearch.ndjson")

    exit_code = main(["ingest", str(inputs), str(clo), "--lake", str(tmp_path / "lake")])
    out, err = capfd.readouterr()

    assert exit_code in (0, 1)  # the truncated gzip stream may ask for a retry; nothing may crash
    summary = orjson.loads(out.splitlines()[-1])
    assert summary["delivered"] == delivered + 2
    assert summary["rejected"] >= rejected  # every cut record, and perhaps the damage as one more
    written = [p for p in tmp_path.rglob("*") if p.is_file() and inputs not in p.parents]
    assert any(p.suffix == ".parquet" for p in written)
    assert any(p.suffix == ".ndjson" for p in written)  # the dead-letter store
    leaks: dict[str, object] = {}  # where -> what: every leak at once, not just the first
    for path in written:
        data = path.read_bytes()
        if path.suffix == ".parquet":  # compressed pages: check the decoded values instead
            data = pl.read_parquet(path).write_ndjson().encode()
        leaks[str(path.relative_to(tmp_path))] = _secrets_in(data, pieces)
    leaks |= {"stdout": _secrets_in(out.encode(), pieces), "stderr": _secrets_in(err.encode(), pieces)}
    assert {where: found for where, found in leaks.items() if found} == {}


def _secrets_in(data: bytes, pieces: set[bytes]) -> list[str]:
    """What of the planted (and the published) secrets ``data`` holds: a few excerpts and the pieces."""
    found = [
        f"...{data[max(0, m.start() - 80) : m.end() + 16].decode(errors='replace')}"
        for m in re.finditer(re.escape(PREFIX), data)
    ][:3]
    if _published_jwt().encode() in data:
        found.append("the published JWT")
    pieces_found = _leaked(data, pieces)
    if pieces_found:
        found.append(f"{len(pieces_found)} pieces, e.g. {sorted(pieces_found)[:3]}")
    return found


def _match_details(lake: pl.DataFrame, path: str) -> list[dict[str, Any]]:
    """Every typed MatchDetail under a dotted path (``ruleGroupList.excludedRules.ruleMatchDetails``)."""
    first, *rest = path.split(".")
    column = lake.select(pl.col(first).alias("x"))
    for field in rest:
        if isinstance(column.schema["x"], pl.List):
            column = column.explode("x")
        column = column.select(pl.col("x").struct.field(field).alias("x"))
    return column.explode("x").drop_nulls().unnest("x").to_dicts()


def _sensitive_pairs(texts: list[str]) -> list[str]:
    """The value of every sensitive query argument in ``texts``."""
    return [
        pair[2] for text in texts for pair in QUERY_PAIR.finditer(text) if pair[1].lower() in SENSITIVE_ARGS
    ]


def test_typed_columns_hold_the_marker_not_the_secret(tmp_path: Path) -> None:
    logs = tmp_path / "generated.log"
    write_logs(logs, RECORDS, seed=3)
    assert main(["ingest", str(logs), "--lake", str(tmp_path / "lake")]) == 0
    lake = scan_lake(tmp_path / "lake").select(S.WAF_FIELDS).collect()

    request = lake.select(pl.col("httpRequest").struct.unnest())
    for column, minimum in ((request["headers"], 1000), (lake["requestHeadersInserted"], 20)):
        named = [h for h in column.explode().drop_nulls().to_list() if h["name"] is not None]
        values = {h["value"] for h in named if normalized_name(h["name"]) in SENSITIVE_HEADERS}
        assert sum(normalized_name(h["name"]) in SENSITIVE_HEADERS for h in named) > minimum, column.name
        assert values <= {MARKER}, column.name

    for path in MATCH_DETAIL_LISTS:
        redacted = [d for d in _match_details(lake, path) if matched_data_redacted(d)]
        assert len(redacted) >= 5, path
        assert {token for d in redacted for token in d["matchedData"]} == {MARKER}, path

    args, uris = request["args"].drop_nulls().to_list(), request["uri"].drop_nulls().to_list()
    assert len(_sensitive_pairs(args)) > 100
    assert set(_sensitive_pairs(args)) == {MARKER}
    assert set(_sensitive_pairs(uris)) == {MARKER}
    assert any(f";jsessionid={MARKER}" in uri for uri in uris)

    rates = lake["rateBasedRuleList"].explode().drop_nulls().to_list()
    custom = [c for rate in rates for c in rate["customValues"] or []]
    by_name = [
        c["value"]
        for c in custom
        if str(c["key"]).upper() == "COOKIE" or c["name"] in ("x-api-key", "api_key")
    ]
    assert len(by_name) >= 10
    assert set(by_name) == {MARKER}
    query_strings = [c["value"] for c in custom if c["key"] == "QUERY_STRING"]
    assert query_strings
    assert set(_sensitive_pairs(query_strings)) == {MARKER}

    assert PLANTED_SECRET_PREFIX not in lake.write_ndjson()  # nor anywhere else in a typed column
