"""Expressions the report's aggregations share: enrichment fields, the web ACL label, the time range."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from enrich import schema as S


def waflens_field(*path: str) -> pl.Expr:
    """``waflens.<path>``: a field of the enrichment struct."""
    expr = pl.col(S.ENRICHMENT)
    for name in path:
        expr = expr.struct.field(name)
    return expr


def web_acl_label(name: pl.Expr, account: pl.Expr) -> pl.Expr:
    """How the page names a web ACL: ``name (account)``, since one name can exist in many accounts."""
    return pl.concat_str(
        name.fill_null("(no web ACL)"), pl.lit(" ("), account.fill_null(S.UNKNOWN_ACCOUNT), pl.lit(")")
    )


def in_range(events: pl.LazyFrame, since: datetime, until: datetime) -> pl.LazyFrame:
    """The events with ``since <= @timestamp < until``."""
    return events.filter(pl.col(S.TIMESTAMP) >= since, pl.col(S.TIMESTAMP) < until)
