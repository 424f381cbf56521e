"""The lean per-record ingester the bench holds waflens to does the same work as the heavy reference.

Its ``waflens`` objects, ``@timestamp``, index and document id equal the heavy reference's (which
``test_bench_reference.py`` holds to the pipeline's documents) on generated records; only its redaction
is lighter, and it still hides the values of sensitive headers.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from devtools.bench_lean import LeanIngester, ingest_file
from devtools.bench_process import BENCH_CONFIG
from devtools.bench_reference import Reference
from devtools.generate import PLANTED_SECRET_PREFIX, iter_records
from enrich.config import EnrichConfig
from enrich.redact import normalize_name
from tests.support.hostile import authorized, line, secret

CONFIG = EnrichConfig.from_mapping(BENCH_CONFIG)


def _parts(bulk: bytes) -> tuple[dict[str, str], dict[str, object]]:
    action, document = bulk.splitlines()
    return orjson.loads(action)["index"], orjson.loads(document)


def test_lean_and_heavy_reference_agree_on_what_they_add_to_each_record(tmp_path: Path) -> None:
    records = list(iter_records(3000, seed=17))
    lean, heavy = LeanIngester(CONFIG), Reference(CONFIG)
    for record in records:
        lean_action, lean_doc = _parts(lean.bulk_lines(record))
        heavy_action, heavy_doc = _parts(heavy.bulk_lines(record))
        assert lean_action == heavy_action, record[:120]  # the same _index and _id
        assert lean_doc["@timestamp"] == heavy_doc["@timestamp"], record[:120]
        assert lean_doc["waflens"] == heavy_doc["waflens"], record[:120]
    enrichments = [_parts(heavy.bulk_lines(r))[1]["waflens"] for r in records[:500]]
    assert len({e["terminating"]["owner"]["matched_by"] for e in enrichments}) >= 3  # the config does work
    assert any(e["redacted_headers"] for e in enrichments)

    source = tmp_path / "records.log.gz"
    source.write_bytes(gzip.compress(b"".join(r + b"\n\n" for r in records)))  # blank lines are no records
    assert ingest_file(source)[:2] == (3000, 3000)  # records read and documents written


def test_lean_ingester_hides_planted_secrets_in_sensitive_headers() -> None:
    lean = LeanIngester(CONFIG)
    marker = lean.marker
    with_secret = [
        r
        for r in iter_records(3000, seed=19)
        if b'"name":"Authorization","value":"Bearer ' + PLANTED_SECRET_PREFIX.encode() in r
        or b'"name":"Cookie","value":"' in r
    ]
    assert len(with_secret) >= 20
    for record in with_secret:
        _, document = _parts(lean.bulk_lines(record))
        headers = document["httpRequest"]["headers"]  # type: ignore[index]
        sensitive = [h for h in headers if normalize_name(h["name"]) in ("authorization", "cookie")]
        assert sensitive, record[:120]
        assert all(h["value"] == marker for h in sensitive), record[:120]

    token = secret("lean-authorization")
    record = authorized("lean-1", token)
    record["httpRequest"]["headers"].append({"name": "cookie", "value": f"session={token}"})  # type: ignore[index]
    written = lean.bulk_lines(line(record))
    assert token not in written.decode()
    assert written.count(marker.encode()) == 2
