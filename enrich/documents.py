"""OpenSearch documents as JSON text, built in Polars without a Python dict per record.

A document is the record's own (redacted) JSON text with ``@timestamp`` and the ``waflens`` object
spliced in before its closing brace. Splicing keeps every field WAF wrote exactly as written, including
fields this version does not know; the framing guarantees each text is one object ending in ``}``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from enrich import schema as S

BULK_LINES: Final = "_bulk_lines"
ISO_MILLIS: Final = "%Y-%m-%dT%H:%M:%S%.3fZ"
# A member of an object whose value is null or [] (enrichment keys are plain identifiers). An unescaped
# quote right after "{" or "," starts a key: inside a string every quote is escaped, and a string's
# closing quote is followed by ":", "," or "}", never by a key's characters.
_EMPTY_AFTER_COMMA: Final = r',"[A-Za-z0-9_]+":(?:null|\[\])'
_EMPTY_FIRST: Final = r'\{"[A-Za-z0-9_]+":(?:null|\[\]),?'


def document_expr(*, compact: bool = False) -> pl.Expr:
    """The document text of each row of an enriched frame.

    ``compact`` leaves out the enrichment's null and empty-list members, which OpenSearch indexes as
    absent anyway (a Firehose response has a size limit); WAF's own fields are never touched.
    """
    original = pl.col(S.EVENT_ORIGINAL).str.strip_chars_end()
    enrichment = pl.col(S.ENRICHMENT).struct.json_encode()
    if compact:
        enrichment = enrichment.str.replace_all(_EMPTY_AFTER_COMMA, "").str.replace_all(_EMPTY_FIRST, "{")
    return pl.concat_str(
        original.str.head(-1),  # everything but the closing brace
        pl.lit(f',"{S.TIMESTAMP}":"'),
        pl.col(S.TIMESTAMP).dt.strftime(ISO_MILLIS),
        pl.lit(f'","{S.ENRICHMENT}":'),
        enrichment,
        pl.lit("}"),
    )


def bulk_lines(frame: pl.LazyFrame) -> pl.LazyFrame:
    """``_id`` and its two ``_bulk`` lines (action and document, each ending in a newline), per distinct id.

    One concatenation from the enriched columns: the document is never materialized on its own.
    ``_index`` (a validated prefix and a date) and ``_id`` (hex) never need JSON escaping.
    """
    action = pl.concat_str(
        pl.lit('{"index":{"_index":"'),
        pl.col(S.DOC_INDEX),
        pl.lit('","_id":"'),
        pl.col(S.DOC_ID),
        pl.lit('"}}\n'),
    )
    return frame.select(
        S.DOC_ID, pl.concat_str(action, document_expr(), pl.lit("\n")).alias(BULK_LINES)
    ).unique(S.DOC_ID, keep="first", maintain_order=True)
