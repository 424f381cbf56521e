"""Enriched frames from record texts, built the way the pipeline builds them, for benchmarks and tests."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from enrich import schema as S
from enrich.config import EnrichConfig
from enrich.geo import GeoLookup
from enrich.pipeline import enrich
from enrich.redact import redaction_for
from ingest.decode.framing import FramedBatch
from ingest.decode.records import decode


def enriched(
    texts: Iterable[str],
    *,
    config: EnrichConfig | None = None,
    projection: pl.Schema = S.WAF_RECORD,
    geo: GeoLookup | None = None,
) -> pl.DataFrame:
    """Decode and enrich ``texts`` (one record each); fails if any is rejected."""
    config = config or EnrichConfig()
    batch = FramedBatch()
    for line, text in enumerate(texts, start=1):
        batch.add(text.encode(), line)
    decoded = decode(
        batch,
        redaction=redaction_for(config.redacted_headers, config.redaction_marker),
        projection=projection,
    )
    assert decoded.rejected == [], [r.describe() for r in decoded.rejected]
    return enrich(decoded.frame.lazy(), config, geo=geo).collect()
