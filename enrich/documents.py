"""OpenSearch documents as JSON text, built in Polars without a Python dict per record.

A document is the record's own (redacted) JSON text with ``@timestamp`` and the ``waflens`` object
spliced in before its closing brace. Splicing keeps every field WAF wrote exactly as written, including
fields this version does not know; the framing guarantees each text is one object ending in ``}``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from enrich import schema as S

DOCUMENT: Final = "_document"
ISO_MILLIS: Final = "%Y-%m-%dT%H:%M:%S%.3fZ"


def document_expr() -> pl.Expr:
    """The document text of each row of an enriched frame."""
    original = pl.col(S.EVENT_ORIGINAL).str.strip_chars_end()
    return pl.concat_str(
        original.str.head(-1),  # everything but the closing brace
        pl.lit(f',"{S.TIMESTAMP}":"'),
        pl.col(S.TIMESTAMP).dt.strftime(ISO_MILLIS),
        pl.lit(f'","{S.ENRICHMENT}":'),
        pl.col(S.ENRICHMENT).struct.json_encode(),
        pl.lit("}"),
    )


def documents(frame: pl.LazyFrame) -> pl.LazyFrame:
    """``_index``, ``_id`` and the document text, one row per distinct ``_id``."""
    return frame.select(S.DOC_INDEX, S.DOC_ID, document_expr().alias(DOCUMENT)).unique(
        S.DOC_ID, keep="first", maintain_order=True
    )
