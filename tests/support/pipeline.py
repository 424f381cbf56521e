"""Enriched frames from record texts, the way the pipeline builds them, for tests of later stages."""

from __future__ import annotations

from collections.abc import Iterable

import orjson
import polars as pl

from enrich import schema as S
from enrich.config import EnrichConfig
from enrich.documents import bulk_lines
from enrich.pipeline import enrich
from enrich.redact import redaction_for
from ingest.decode import decode
from ingest.framing import FramedBatch


def enriched(
    texts: Iterable[str], *, config: EnrichConfig | None = None, projection: pl.Schema = S.WAF_RECORD
) -> pl.DataFrame:
    """Decode and enrich ``texts`` (one record each); fails if any is rejected."""
    config = config or EnrichConfig()
    batch = FramedBatch()
    for line, text in enumerate(texts, start=1):
        batch.add(text.encode(), line)
    decoded = decode(
        batch,
        source="test",
        redaction=redaction_for(config.redacted_headers, config.redaction_marker),
        projection=projection,
    )
    assert decoded.rejected == [], [r.describe() for r in decoded.rejected]
    return enrich(decoded.frame.lazy(), config).collect()


def documents_by_id(frame: pl.DataFrame) -> dict[str, tuple[str, dict[str, object]]]:
    """``_id`` -> (``_index``, parsed document), read back from the bulk lines the sink sends."""
    out: dict[str, tuple[str, dict[str, object]]] = {}
    for doc_id, lines in bulk_lines(frame.lazy()).collect().iter_rows():
        action, document, _ = lines.split("\n")  # not splitlines(): U+2028 may sit raw inside a JSON string
        out[doc_id] = (orjson.loads(action)["index"]["_index"], orjson.loads(document))
    return out
