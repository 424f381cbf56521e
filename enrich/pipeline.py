"""The enrichment as one pure, lazy composition: decoded WAF rows in, documents' columns out."""

from __future__ import annotations

from typing import Final

import polars as pl

from enrich import schema as S
from enrich.accounts import with_account
from enrich.config import EnrichConfig
from enrich.fields import flat_fields, with_event_time
from enrich.ownership import terminating_expr, with_owner, with_terminating_group
from enrich.redact import redaction_from
from enrich.webacl import with_webacl

# Columns of a decoded batch that are not part of a document but say where each record came from.
POSITION: Final = ("line", "part")
_TEMPORARY: Final = ("_webacl", "_account", "_group_id", "_group_rule", "_managed", "_owner")


def _pack(frame: pl.LazyFrame, config: EnrichConfig) -> pl.LazyFrame:
    flat = flat_fields(redaction_from(config).sensitive)
    enrichment = pl.struct(
        flat["blocked"].alias("blocked"),
        flat["counted"].alias("counted"),
        pl.col("_webacl").alias("webacl"),
        pl.col("_account").alias("account"),
        terminating_expr().alias("terminating"),
        *(v.alias(k) for k, v in flat.items() if k not in ("blocked", "counted")),
        pl.lit([], dtype=pl.List(pl.String)).alias("owasp"),
        pl.lit(None, dtype=S.USER_AGENT).alias("ua"),
        pl.lit(None, dtype=pl.String).alias("domain"),
        pl.lit(None, dtype=S.GEO).alias("geo"),
    ).cast(S.ENRICHMENT_FIELDS)
    return frame.with_columns(enrichment.alias(S.ENRICHMENT)).drop(_TEMPORARY)


def enrich(frame: pl.LazyFrame, config: EnrichConfig) -> pl.LazyFrame:
    """Add ``@timestamp``, ``_index`` and the ``waflens`` struct; WAF's own columns are left as they are.

    ``frame`` holds ``_id``, ``event_original`` and WAF columns decoded with at least
    ``schema.ENRICH_INPUT``. The result's columns are ordered as ``schema.ENRICHED`` (restricted to the
    WAF columns present), followed by the position columns.
    """
    waf_columns = [c for c in S.WAF_FIELDS if c in frame.collect_schema()]
    order = [S.DOC_ID, S.DOC_INDEX, S.TIMESTAMP, *waf_columns, S.ENRICHMENT, S.EVENT_ORIGINAL, *POSITION]
    return (
        frame.pipe(with_event_time, config)
        .pipe(with_webacl)
        .pipe(with_terminating_group)
        .pipe(with_owner, config)
        .pipe(with_account, config)
        .pipe(_pack, config)
        .select(order)
    )
