"""The filter model as Polars expressions over the lake: pure, vectorized, pushed down to the scan.

Addresses are compared in one form for IPv4 and IPv6: the 32 hex digits of the 128-bit address
(IPv4 as ``::ffff:a.b.c.d``, as OpenSearch's ``ip`` type stores it), built with string expressions, so
a CIDR block is a closed range of fixed-width strings and no row reaches Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import polars as pl

from enrich import schema as S
from enrich.config import ConfigError
from enrich.documents import document_expr
from ingest.query.filters import Filters, address_range, milliseconds
from ingest.query.hits import DOCUMENT, Found
from ingest.sinks.lake import scan_lake

_HEX_OCTET: Final = {str(i): f"{i:02x}" for i in range(256)}
_MAPPED_PREFIX: Final = "0" * 20 + "ffff"  # ::ffff:0:0/96, where IPv4 lives in the 128-bit space
_ZERO_GROUPS: Final = ":0" * 8 + ":"  # its first 2n+1 characters are ":" and n groups "0:"
_ORDER: Final = [S.TIMESTAMP, S.DOC_ID]  # newest first, ties by _id, as the OpenSearch search sorts
_DESCENDING: Final = [True, False]
_HITS: Final = pl.Schema({S.DOC_ID: pl.String, DOCUMENT: pl.String})


def _waflens(*path: str) -> pl.Expr:
    expr = pl.col(S.ENRICHMENT)
    for name in path:
        expr = expr.struct.field(name)
    return expr


def _request(name: str) -> pl.Expr:
    return pl.col("httpRequest").struct.field(name)


def normalized_ip(ip: pl.Expr) -> pl.Expr:
    """A valid IPv4 or IPv6 address (``waflens.client_ip``) as the 32 lower-case hex digits of its
    128-bit form; an IPv6 address may end in a dotted quad (``::ffff:1.2.3.4``, ``64:ff9b::1.2.3.4``).

    Each intermediate is used once: without common-subexpression elimination (filters get none) a
    reused one is computed again, and an earlier version that reused them took 8 s for 300k addresses.
    """
    quad_hex = (  # a trailing dotted quad as two groups of 4 hex digits, "0102:0304"
        ip.str.extract(r"(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$")
        .str.split(".")
        .list.eval(pl.element().replace_strict(_HEX_OCTET, default=None, return_dtype=pl.String))
        .list.join("")
        .str.replace(r"^(....)", "$1:")
    )
    dotted = ip.str.contains(".", literal=True)
    # groups written: hex runs, where a dotted quad's four runs are two groups
    written = ip.str.count_matches(r"[0-9A-Fa-f]+") - 2 * dotted.cast(pl.Int32)
    ipv6 = (
        pl.concat_str(ip.str.replace(r"[0-9.]+$", ""), quad_hex)
        .fill_null(ip)  # no dotted quad: the text as written
        .str.to_lowercase()
        .str.replace("::", pl.lit(_ZERO_GROUPS).str.head(2 * (8 - written) + 1), literal=True)
        .str.strip_chars(":")
        .str.split(":")
        .list.eval(pl.element().str.zfill(4))
        .list.join("")
    )
    ipv4 = pl.lit(_MAPPED_PREFIX) + quad_hex.str.replace(":", "", literal=True)
    return pl.when(ip.str.contains(":", literal=True)).then(ipv6).otherwise(ipv4)


def predicate(filters: Filters) -> pl.Expr:
    """True for the enriched rows (``enrich.schema.LAKE_FILE``) that every set filter admits."""
    f = filters
    kept: list[pl.Expr] = []
    if f.ip is not None:
        first, last = address_range(f.ip)
        kept.append(normalized_ip(_waflens("client_ip")).is_between(pl.lit(first), pl.lit(last)))
    if f.rule is not None:
        kept.append(pl.col("terminatingRuleId").eq(f.rule) | _waflens("rule_ids").list.contains(f.rule))
    if f.request_id is not None:
        kept.append(_request("requestId").eq(f.request_id))
    if f.actions:
        kept.append(pl.col("action").is_in(f.actions))
    if f.web_acl is not None:
        kept.append(_waflens("webacl", "name").eq(f.web_acl))
    if f.account is not None:
        kept.append(_waflens("webacl", "account_id").eq(f.account))
    if f.team is not None:
        kept.append(
            _waflens("account", "team").eq(f.team) | _waflens("terminating", "owner", "team").eq(f.team)
        )
    if f.since is not None:
        kept.append(pl.col(S.TIMESTAMP).ge(milliseconds(f.since)))
    if f.until is not None:
        kept.append(pl.col(S.TIMESTAMP).lt(milliseconds(f.until)))
    if f.text is not None:
        needle = f.text.lower()
        places = (_request("uri"), _request("args"), _waflens("user_agent"))
        kept.append(
            pl.any_horizontal(p.str.to_lowercase().str.contains(needle, literal=True) for p in places)
        )
    return pl.all_horizontal(kept) if kept else pl.lit(True)


def partitions(filters: Filters) -> pl.Expr:
    """The lake folders (``event_date``, ``account``) that can hold a match: the scan skips the others."""
    kept: list[pl.Expr] = []
    if filters.since is not None:
        kept.append(pl.col(S.EVENT_DATE).ge(milliseconds(filters.since).date()))
    if filters.until is not None:
        kept.append(pl.col(S.EVENT_DATE).le(milliseconds(filters.until).date()))
    if filters.account is not None:
        kept.append(pl.col(S.ACCOUNT_PARTITION).eq(filters.account))
    return pl.all_horizontal(kept) if kept else pl.lit(True)


def search_lake(root: Path, filters: Filters, *, limit: int) -> Found:
    """The newest ``limit`` events of a local lake that ``filters`` admits, each ``_id`` once.

    Two passes: the ids and times of the matches first, then the documents of the ``limit`` kept, so
    the large ``event_original`` column is read for those rows only.
    """
    if not root.is_dir():
        raise ConfigError(f"--lake {str(root)!r} is not a folder")
    if next(root.rglob("*.parquet"), None) is None:
        return Found(hits=pl.DataFrame(schema=_HITS), truncated=False)
    files = scan_lake(root, each_id_once=False).filter(partitions(filters))
    newest = (
        files.filter(predicate(filters))
        .select(S.DOC_ID, S.TIMESTAMP)
        .filter(pl.col(S.DOC_ID).is_first_distinct())
        .sort(_ORDER, descending=_DESCENDING)
        .head(limit + 1)
        .collect()
    )
    kept = newest.head(limit)
    if kept.is_empty():
        return Found(hits=pl.DataFrame(schema=_HITS), truncated=False)
    # the second pass filters on _id alone, which the scan can use to skip row groups
    documents = (
        files.filter(pl.col(S.DOC_ID).is_in(kept[S.DOC_ID].implode()))
        .filter(pl.col(S.DOC_ID).is_first_distinct())
        .sort(_ORDER, descending=_DESCENDING)
        .select(S.DOC_ID, document_expr().alias(DOCUMENT))
        .collect()
    )
    return Found(hits=documents, truncated=newest.height > limit)
