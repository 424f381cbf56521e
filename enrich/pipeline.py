"""The enrichment as one pure, lazy composition: decoded WAF rows in, documents' columns out."""

from __future__ import annotations

from typing import Final

import polars as pl

from enrich import schema as S
from enrich.accounts import with_account
from enrich.config import EnrichConfig
from enrich.domain import domain_expr
from enrich.fields import flat_fields, with_counted_rules, with_event_time, with_header_fields
from enrich.geo import GeoLookup, found_expr, geo_expr
from enrich.owasp import categories_expr, rate_names_expr
from enrich.ownership import terminating_expr, with_owner, with_terminating_group
from enrich.redact import redaction_from
from enrich.useragent import parsed_expr, ua_expr
from enrich.webacl import with_webacl

# Columns of a decoded batch that are not part of a document but say where each record came from.
POSITION: Final = ("source", "line", "part")
_STEPS: Final = ("_webacl", "_account", "_group_id", "_group_rule", "_managed", "_owner")
# The flat fields become columns first (``_flat_<name>``) because the threat fields read them.
_FLAT: Final = "_flat_"
_THREATS: Final = ("owasp", "ua", "domain", "geo")


def _flat(name: str) -> pl.Expr:
    return pl.col(f"{_FLAT}{name}")


def with_flat_fields(frame: pl.LazyFrame, config: EnrichConfig) -> pl.LazyFrame:
    """Add the flat fields (``enrich.fields``: ``flat_fields`` and the two steps) as ``_flat_<name>``."""
    return (
        frame.with_columns(v.alias(f"{_FLAT}{k}") for k, v in flat_fields().items())
        .pipe(with_counted_rules, f"{_FLAT}counted_rules")
        .pipe(with_header_fields, redaction_from(config).sensitive, _FLAT)
    )


def with_threats(frame: pl.LazyFrame, config: EnrichConfig, geo: GeoLookup | None) -> pl.LazyFrame:
    """Add ``_owasp``, ``_ua``, ``_domain`` and ``_geo``, each library consulted once per distinct value.

    What the Python libraries answer becomes a column first (``_parsed``, ``_found``): an expression
    that read their fields directly would call them once per field.
    """
    owasp = categories_expr(
        config.owasp,
        rule_ids=_flat("rule_ids"),
        rule_group_ids=_flat("rule_group_ids"),
        labels=_flat("labels"),
        rate_names=rate_names_expr(),
    )
    return (
        frame.with_columns(
            owasp.alias("_owasp"),
            parsed_expr(_flat("user_agent")).alias("_parsed"),
            domain_expr(_flat("host")).alias("_domain"),
            found_expr(_flat("client_ip"), geo).alias("_found"),
        )
        .with_columns(
            ua_expr(pl.col("_parsed"), _flat("labels")).alias("_ua"),
            geo_expr(pl.col("_found")).alias("_geo"),
        )
        .drop("_parsed", "_found")
    )


def _pack(frame: pl.LazyFrame) -> pl.LazyFrame:
    flat = [name for name in S.ENRICHMENT_FIELDS.to_schema() if f"{_FLAT}{name}" in frame.collect_schema()]
    enrichment = pl.struct(
        _flat("blocked").alias("blocked"),
        _flat("counted").alias("counted"),
        pl.col("_webacl").alias("webacl"),
        pl.col("_account").alias("account"),
        terminating_expr().alias("terminating"),
        *(_flat(name).alias(name) for name in flat if name not in ("blocked", "counted")),
        *(pl.col(f"_{name}").alias(name) for name in _THREATS),
    ).cast(S.ENRICHMENT_FIELDS)
    temporary = [*_STEPS, *(f"{_FLAT}{name}" for name in flat), *(f"_{name}" for name in _THREATS)]
    return frame.with_columns(enrichment.alias(S.ENRICHMENT)).drop(temporary)


def enrich(frame: pl.LazyFrame, config: EnrichConfig, *, geo: GeoLookup | None = None) -> pl.LazyFrame:
    """Add ``@timestamp``, ``_index`` and the ``waflens`` struct; WAF's own columns are left as they are.

    ``frame`` holds ``_id``, ``event_original`` and WAF columns decoded with at least
    ``schema.ENRICH_INPUT``. ``geo`` looks client IPs up in the user's GeoIP databases (opened at the
    edge); without it, ``waflens.geo`` carries what WAF itself logged. The result's columns are ordered
    as ``schema.ENRICHED`` (restricted to the WAF columns present), followed by the position columns
    (``POSITION``) it has.
    """
    columns = frame.collect_schema()
    waf_columns = [c for c in S.WAF_FIELDS if c in columns]
    position = [c for c in POSITION if c in columns]
    order = [S.DOC_ID, S.DOC_INDEX, S.TIMESTAMP, *waf_columns, S.ENRICHMENT, S.EVENT_ORIGINAL, *position]
    return (
        frame.pipe(with_event_time, config)
        .pipe(with_webacl)
        .pipe(with_terminating_group)
        .pipe(with_owner, config)
        .pipe(with_account, config)
        .pipe(with_flat_fields, config)
        .pipe(with_threats, config, geo)
        .pipe(_pack)
        .select(order)
    )
