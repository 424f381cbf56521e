"""The capture sink and the compact document a Firehose transformation returns."""

from __future__ import annotations

from typing import Any

import orjson
import polars as pl

from devtools.generate import iter_records
from enrich import schema as S
from enrich.documents import document_expr
from ingest.deadline import Deadline
from ingest.sinks.capture import CAPTURED, CaptureSink
from tests.support.pipeline import documents_by_id, enriched
from tests.support.samples import samples_dir


def corpus() -> list[str]:
    lines = [
        line
        for p in sorted(samples_dir().glob("*.ndjson"))
        for line in p.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return lines + [r.decode() for r in iter_records(2000, seed=11)]


def without_empty(value: Any) -> Any:
    """``value`` with null and empty-list members of every object left out, recursively."""
    if isinstance(value, dict):
        return {k: without_empty(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [without_empty(v) for v in value]
    return value


def test_a_compact_document_is_the_indexed_one_without_empty_enrichment_members() -> None:
    frame = enriched(corpus())
    full = documents_by_id(frame)
    compact = frame.select(
        S.DOC_ID, document_expr(compact=True).alias("doc"), document_expr().alias("indexed")
    ).unique(S.DOC_ID)
    assert compact.height == len(full) > 2000
    for doc_id, text, _ in compact.iter_rows():
        doc, (_, indexed) = orjson.loads(text), full[doc_id]
        enrichment = indexed.pop(S.ENRICHMENT)
        assert doc.pop(S.ENRICHMENT) == without_empty(enrichment)
        assert doc == indexed  # WAF's own fields, nulls included, and @timestamp untouched
    # every enrichment has some null or empty member, so every document shrinks
    assert compact.filter(pl.col("doc").str.len_bytes() >= pl.col("indexed").str.len_bytes()).is_empty()


def test_strings_that_look_like_null_members_are_kept() -> None:
    record = orjson.loads(corpus()[0])
    record["httpRequest"]["headers"] = [{"name": "User-Agent", "value": '{"a":null,"b":[]}, ,"c":null'}]
    frame = enriched([orjson.dumps(record).decode()])
    doc = orjson.loads(frame.select(document_expr(compact=True)).item())
    assert doc[S.ENRICHMENT]["user_agent"] == '{"a":null,"b":[]}, ,"c":null'


def test_capture_keeps_each_document_once_until_taken() -> None:
    frame = enriched(corpus()[:5])
    sink = CaptureSink()
    assert sink.write(frame, Deadline.never()).retryable == set()
    sink.write(frame.head(2), Deadline.never())  # a replay in the same run
    taken = sink.take()
    assert taken.schema == CAPTURED
    assert taken.sort(S.DOC_ID).equals(frame.select(CAPTURED.names()).sort(S.DOC_ID))
    assert sink.take().height == 0
