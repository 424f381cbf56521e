"""The shared corpus of real WAF records: everything valid is delivered, everything broken is explained."""

from __future__ import annotations

import re

import orjson
import polars as pl
import pytest

from enrich import schema as S
from ingest.decode.records import record_id
from ingest.sinks.lake import scan_lake
from tests.functional.conftest import Ingest
from tests.support.samples import MALFORMED, NDJSON_COUNTS, RAW_COUNTS, sample, samples_dir

SENSITIVE = {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}


def test_the_corpus_is_complete() -> None:
    names = {p.name for p in samples_dir().glob("*.ndjson")}
    assert names == set(NDJSON_COUNTS)
    assert sum(NDJSON_COUNTS.values()) == 323
    assert {p.name for p in (samples_dir() / "malformed").iterdir()} == set(MALFORMED)
    assert {p.name for p in (samples_dir() / "raw").iterdir()} == set(RAW_COUNTS)


@pytest.mark.parametrize(("name", "count"), sorted((NDJSON_COUNTS | RAW_COUNTS).items()))
def test_every_record_of_every_sample_file_is_delivered(
    ingest: Ingest, tmp_path, name: str, count: int
) -> None:  # type: ignore[no-untyped-def]
    path = sample(name) if name in NDJSON_COUNTS else sample("raw", name)
    summary = ingest([path])
    assert (summary.records_in, summary.delivered, summary.rejected, summary.retryable) == (
        count,
        count,
        0,
        0,
    )
    assert summary.damaged == []
    lake = scan_lake(tmp_path / "lake").collect()
    assert lake.height == lake[S.DOC_ID].n_unique() <= count


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_input_is_rejected_with_a_reason_and_nothing_else_is_lost(
    ingest: Ingest, tmp_path, name: str
) -> None:  # type: ignore[no-untyped-def]
    path = sample("malformed", name)
    summary = ingest([path])
    assert summary.delivered == 0
    assert summary.retryable == 0
    assert summary.rejected == summary.records_in >= 1
    entries = [
        orjson.loads(line)
        for f in sorted((tmp_path / "dead").glob("*.ndjson"))
        for line in f.read_bytes().splitlines()
    ]
    assert len(entries) == summary.rejected
    for entry in entries:
        assert entry["source"] == str(path)
        assert entry["position"].startswith("line")
        assert entry["reason"]
        assert entry["kind"] in {"invalid_json", "missing_field"}
    # every non-blank byte of the input is in some dead-letter original (sensitive values redacted)
    kept = "".join("".join(e["original"].split()) for e in entries)
    expected = re.sub(
        r'("name":"(?i:authorization|cookie|x-api-key)","value":")[^"]*"',
        r'\1REDACTED"',
        "".join(path.read_text(encoding="utf-8").split()),
    )
    # match details on a header that does not say which one: every matched token hidden
    expected = re.sub(
        r'("location":"HEADER","matchedData":\[)([^\]]*)\]',
        lambda m: m[1] + ",".join('"REDACTED"' for _ in re.findall(r'"[^"]*"', m[2])) + "]",
        expected,
    )
    assert kept == expected


def _expected_document(record: dict[str, object]) -> dict[str, object]:
    """The input as the redaction policy leaves it: written independently of enrich.redact.

    Sensitive header values; match details on cookies and on headers that are sensitive or unnamed;
    sensitive query-argument values in ``args`` and ``uri``.
    """
    doc = orjson.loads(orjson.dumps(record))
    for holder in (
        (doc.get("httpRequest") or {}).get("headers") or [],
        doc.get("requestHeadersInserted") or [],
    ):
        for header in holder:
            name = header.get("name")
            sensitive = isinstance(name, str) and name.lower().removeprefix("x-amzn-waf-") in SENSITIVE
            if sensitive and header.get("value") is not None:
                header["value"] = "REDACTED"
    for detail in _match_details(doc):
        location, field = str(detail.get("location")).upper(), detail.get("matchedFieldName")
        if "COOKIE" in location or ("HEADER" in location and (not field or str(field).lower() in SENSITIVE)):
            detail["matchedData"] = ["REDACTED" for _ in detail.get("matchedData") or []]
    request = doc.get("httpRequest") or {}
    for key in ("args", "uri"):
        if isinstance(request.get(key), str):
            request[key] = re.sub(
                r"(?i)((?:^|[?&;])(?:token|access_token|api_key|password)=)[^&;#]+",
                r"\1REDACTED",
                request[key],
            )
    return doc


def _match_details(doc: dict[str, object]) -> list[dict[str, object]]:
    rules = [*(doc.get("nonTerminatingMatchingRules") or [])]  # type: ignore[misc]
    for group in doc.get("ruleGroupList") or []:  # type: ignore[attr-defined]
        rules += [group.get("terminatingRule") or {}, *(group.get("nonTerminatingMatchingRules") or [])]
        rules += group.get("excludedRules") or []
    details = [*(doc.get("terminatingRuleMatchDetails") or [])]  # type: ignore[misc]
    for rule in rules:
        details += rule.get("ruleMatchDetails") or []
    return [d for d in details if isinstance(d, dict)]


def test_documents_read_back_from_the_lake_equal_the_input_but_for_redacted_values(
    ingest: Ingest, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    ingest(sorted(samples_dir().glob("*.ndjson")))
    lake = (
        scan_lake(tmp_path / "lake")
        .select(S.DOC_ID, S.EVENT_ORIGINAL, "timestamp", "action", "webaclId")
        .collect()
    )
    stored = {row[S.DOC_ID]: row for row in lake.iter_rows(named=True)}
    checked = 0
    for path in sorted(samples_dir().glob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = orjson.loads(line)
            row = stored[record_id(line.strip())]
            assert orjson.loads(row[S.EVENT_ORIGINAL]) == _expected_document(record), (
                f"{path.name}: {line[:80]}"
            )
            assert (row["timestamp"], row["action"], row["webaclId"]) == (
                record["timestamp"],
                record["action"],
                record["webaclId"],
            )
            checked += 1
    assert checked == 323


def test_the_lake_is_readable_by_duckdb_with_its_partitions(ingest: Ingest, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import duckdb  # noqa: PLC0415  # a test dependency, only this test reads the lake with it

    ingest(sorted(samples_dir().glob("*.ndjson")))
    glob = str(tmp_path / "lake" / "**" / "*.parquet")
    rows = duckdb.sql(
        f"select account, count(*) n, count(distinct _id) ids, sum(waflens.blocked::int) blocked "
        f"from read_parquet('{glob}', hive_partitioning=true) group by account order by account"
    ).fetchall()
    polars_view = scan_lake(tmp_path / "lake").group_by("account").agg(pl.len()).sort("account").collect()
    assert [(r[0], r[1]) for r in rows] == list(polars_view.iter_rows())
    assert all(r[1] == r[2] for r in rows)
    assert sum(r[3] for r in rows) > 0
