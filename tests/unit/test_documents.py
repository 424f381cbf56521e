"""OpenSearch documents: the record as WAF wrote it, plus @timestamp and waflens, fitting the mapping."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import orjson
import polars as pl

from dashboards.mappings import document_mappings
from devtools.generate import iter_records
from enrich import schema as S
from enrich.documents import BULK_LINES, bulk_lines
from tests.support.opensearch_spec import spec_validator
from tests.support.pipeline import documents_by_id, enriched
from tests.support.samples import samples_dir


def corpus() -> list[str]:
    lines = [
        line
        for p in sorted(samples_dir().glob("*.ndjson"))
        for line in p.read_text(encoding="utf-8").splitlines()
    ]
    return lines + [r.decode() for r in iter_records(3000, seed=9)]


def test_a_document_is_the_record_plus_timestamp_and_enrichment_even_with_unknown_fields() -> None:
    record = orjson.loads(corpus()[0]) | {"futureField": {"nested": [1, "two"]}, "anotherNewOne": None}
    frame = enriched([orjson.dumps(record).decode()])
    ((_, doc),) = documents_by_id(frame).values()
    waflens = doc.pop(S.ENRICHMENT)
    timestamp = doc.pop(S.TIMESTAMP)
    assert doc == record
    assert (
        timestamp
        == datetime.fromtimestamp(record["timestamp"] / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    )
    assert waflens == frame.select(S.ENRICHMENT).to_series().to_list()[0]


def test_duplicate_events_in_a_batch_become_one_document() -> None:
    line = corpus()[0]
    assert len(documents_by_id(enriched([line, line]))) == 1


def test_every_bulk_action_line_passes_the_strict_spec() -> None:
    body = "".join(bulk_lines(enriched(corpus()).lazy()).collect()[BULK_LINES])
    assert spec_validator().bulk_body(body) == []
    assert spec_validator().bulk_body(body.replace('"_index"', '"_indx"', 1)) != []  # the check can fail


def _is_ip(value: object) -> bool:
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


# mapped scalar types whose wrong values ignore_malformed does NOT absorb: they would fail the document
_STRICT_SCALARS = {"ip": _is_ip, "boolean": lambda v: isinstance(v, bool)}


def _conforms(value: object, mapping: dict[str, object], path: str) -> list[str]:
    """Where a document value would be refused by the mapping even with ignore_malformed."""
    kind = str(mapping.get("type", "object"))
    if isinstance(value, list):
        return [e for item in value for e in _conforms(item, mapping, path)]
    problem = None
    if value is None:
        pass
    elif kind in ("object", "nested"):
        if isinstance(value, dict):
            props = mapping.get("properties", {})
            assert isinstance(props, dict)
            return [e for k, v in value.items() if k in props for e in _conforms(v, props[k], f"{path}.{k}")]
        problem = f"{type(value).__name__} where an object is mapped"
    elif isinstance(value, dict):
        problem = f"an object where {kind} is mapped"
    elif kind in _STRICT_SCALARS and not _STRICT_SCALARS[kind](value):
        problem = f"{value!r} is not {kind}"
    return [] if problem is None else [f"{path}: {problem}"]


def test_documents_from_the_corpus_fit_the_generated_mapping() -> None:
    mapping = document_mappings()
    docs = [doc for _, doc in documents_by_id(enriched(corpus())).values()]
    problems = [e for doc in docs for e in _conforms(doc, mapping, "")]
    assert problems == []
    assert _conforms({"labels": "x"}, mapping, "") == [".labels: str where an object is mapped"]


def test_document_text_survives_hostile_strings() -> None:
    record = orjson.loads(corpus()[0])
    record["httpRequest"]["uri"] = '/"}{\\u0000\u2028\\"'
    record["httpRequest"]["headers"] = [{"name": 'x"\\\n\t}', "value": "\u00e9\U0001f600"}]
    frame = enriched([orjson.dumps(record).decode()])
    ((_, doc),) = documents_by_id(frame).values()
    assert doc["httpRequest"]["uri"] == record["httpRequest"]["uri"]
    assert doc[S.ENRICHMENT]["header_names"] == ['x"\\\n\t}']
    assert pl.Series([doc[S.TIMESTAMP]]).str.to_datetime().dtype == pl.Datetime("us", "UTC")
