"""What a search found, and how a responder sees it: a table, CSV, or one JSON line per event.

Both backends hand over the same thing: each event's ``_id`` and its document, the JSON text OpenSearch
stores (the record as WAF logged it, redacted at ingest, plus ``@timestamp`` and the ``waflens``
enrichment). So every format looks the same whichever backend answered.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final, Literal

import polars as pl

from enrich import schema as S

DOCUMENT: Final = "document"
Format = Literal["table", "json", "csv"]

_ROW: Final = pl.Struct(
    {
        S.TIMESTAMP: pl.String,
        "action": pl.String,
        "terminatingRuleId": pl.String,
        "httpRequest": pl.Struct(
            {
                "clientIp": pl.String,
                "country": pl.String,
                "httpMethod": pl.String,
                "host": pl.String,
                "uri": pl.String,
                "requestId": pl.String,
            }
        ),
        S.ENRICHMENT: pl.Struct(
            {
                "host": pl.String,
                "geo": pl.Struct({"country": pl.String}),
                "terminating": pl.Struct(
                    {"group_rule_id": pl.String, "owner": pl.Struct({"team": pl.String})}
                ),
            }
        ),
    }
)


@dataclass(frozen=True)
class Found:
    """The events found, newest first (columns ``_id`` and ``document``), and whether more matched."""

    hits: pl.DataFrame
    truncated: bool


def table_rows(hits: pl.DataFrame) -> pl.DataFrame:
    """The columns a responder scans first, one row per event, in the order found."""
    doc = pl.col(DOCUMENT).str.json_decode(_ROW)
    request = doc.struct.field("httpRequest").struct
    waflens = doc.struct.field(S.ENRICHMENT).struct
    terminating = waflens.field("terminating").struct
    rule = pl.concat_str(
        doc.struct.field("terminatingRuleId"),
        pl.lit("/") + terminating.field("group_rule_id"),
        ignore_nulls=True,
    )
    return hits.select(
        doc.struct.field(S.TIMESTAMP).alias("time"),
        doc.struct.field("action").alias("action"),
        request.field("clientIp").alias("client_ip"),
        pl.coalesce(waflens.field("geo").struct.field("country"), request.field("country")).alias("country"),
        request.field("httpMethod").alias("method"),
        pl.coalesce(request.field("host"), waflens.field("host")).alias("host"),
        request.field("uri").alias("uri"),
        rule.alias("terminating_rule"),
        terminating.field("owner").struct.field("team").alias("owner_team"),
        request.field("requestId").alias("request_id"),
    )


def render(found: Found, output: Format) -> str:
    """The events in ``output`` form; nothing at all when none were found (the summary says so)."""
    if found.hits.is_empty():
        return ""
    if output == "json":
        # {"_id": ..., <the document's members>}: the id first, then the event as stored
        lines = found.hits.select(
            pl.concat_str(pl.lit('{"_id":"'), pl.col(S.DOC_ID), pl.lit('",'), pl.col(DOCUMENT).str.slice(1))
        )
        return "\n".join(lines.to_series().to_list()) + "\n"
    rows = table_rows(found.hits)
    if output == "csv":
        buffer = io.StringIO()
        rows.write_csv(buffer)
        return buffer.getvalue()
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=65_000,  # one line per event (the limit is a u16)
        fmt_str_lengths=200,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_formatting="ASCII_MARKDOWN",
    ):
        return f"{rows}\n"
