"""Flat fields for dashboards: event time and index, rule ids, labels, client IP, user agent, host.

Rule lists stay nested in the WAF record; these flat keyword arrays sit beside them so a dashboard can
filter "any rule id = X" without nested queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import polars as pl

from enrich import schema as S
from enrich.config import EnrichConfig
from enrich.ownership import rule_group_name
from enrich.patterns import literal
from enrich.redact import INSERTED_PREFIX, NAME_PADDING

_OCTET: Final = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4: Final = rf"{_OCTET}(?:\.{_OCTET}){{3}}"


def _ipv6() -> str:
    """RFC 3986's IPv6address grammar as a regex (the same addresses ``ipaddress`` accepts, without zones)."""
    h16, ls32 = "[0-9a-fA-F]{1,4}", f"(?:[0-9a-fA-F]{{1,4}}:[0-9a-fA-F]{{1,4}}|{IPV4})"

    def before(n: int) -> str:  # up to n groups "h16:" then h16, or nothing
        return "" if n < 0 else f"(?:(?:{h16}:){{0,{n}}}{h16})?"

    forms = [
        f"(?:{h16}:){{6}}{ls32}",
        f"::(?:{h16}:){{5}}{ls32}",
        f"{before(0)}::(?:{h16}:){{4}}{ls32}",
        f"{before(1)}::(?:{h16}:){{3}}{ls32}",
        f"{before(2)}::(?:{h16}:){{2}}{ls32}",
        f"{before(3)}::{h16}:{ls32}",
        f"{before(4)}::{ls32}",
        f"{before(5)}::{h16}",
        f"{before(6)}::",
    ]
    return "(?:" + "|".join(forms) + ")"


IPV6: Final = _ipv6()
IP_ADDRESS: Final = f"^(?:{IPV4}|{IPV6})$"
DEFAULT_ACTION: Final = "Default_Action"


def _ids(list_col: str, *path: str) -> pl.Expr:
    """``list_col[*].path`` as a flat list of strings (an empty list for a null list)."""
    field = pl.element()
    for name in path:
        field = field.struct.field(name)
    return pl.col(list_col).list.eval(field).fill_null([])


def _group_ids(nested: str) -> pl.Expr:
    inner = pl.element().struct.field(nested).list.eval(pl.element().struct.field("ruleId"))
    return (
        pl.col("ruleGroupList")
        .list.eval(inner.list.explode(keep_nulls=False, empty_as_null=False))
        .fill_null([])
    )


def rule_ids_expr() -> pl.Expr:
    """Every rule id that matched the request, from every list WAF logs, without duplicates."""
    terminating = pl.when(pl.col("terminatingRuleId").ne(DEFAULT_ACTION)).then(pl.col("terminatingRuleId"))
    return (
        pl.concat_list(
            pl.concat_list(terminating).list.drop_nulls(),
            _ids("ruleGroupList", "terminatingRule", "ruleId"),
            _group_ids("nonTerminatingMatchingRules"),
            _group_ids("excludedRules"),
            _ids("nonTerminatingMatchingRules", "ruleId"),
            _ids("rateBasedRuleList", "rateBasedRuleName"),
        )
        .list.drop_nulls()
        .list.unique(maintain_order=True)
    )


def matched_groups_expr() -> pl.Expr:
    """Ids of the rule groups that matched (terminated, counted or excluded-as-count), not all evaluated."""
    g = pl.element().struct
    matched = (
        g.field("terminatingRule").is_not_null()
        | (g.field("nonTerminatingMatchingRules").list.len().fill_null(0) > 0)
        | (g.field("excludedRules").list.len().fill_null(0) > 0)
    )
    return (
        pl.col("ruleGroupList")
        .list.eval(pl.element().filter(matched).struct.field("ruleGroupId"))
        .fill_null([])
    )


def counted_expr() -> pl.Expr:
    """True when a rule matched without terminating (COUNT, or a CAPTCHA/CHALLENGE with a valid token)."""
    top = pl.col("nonTerminatingMatchingRules").list.len().fill_null(0) > 0
    in_groups = (
        _group_ids("nonTerminatingMatchingRules").list.len() + _group_ids("excludedRules").list.len()
    ) > 0
    return top | in_groups


def _count_mode(rules: pl.Expr) -> pl.Expr:
    """The ids of the rules in ``rules`` (a list of rule results) whose action is COUNT."""
    el = pl.element().struct
    return rules.list.eval(el.field("ruleId").filter(el.field("action") == "COUNT"))


def with_counted_rules(frame: pl.LazyFrame, alias: str) -> pl.LazyFrame:
    """Add ``alias``: the rules that matched in COUNT mode (or were excluded as count), without duplicates.

    A web ACL rule is its id, a rule group's rule ``group / rule``. Only the records with such a rule
    (``counted_expr``, about a tenth of traffic) are unnested, one row per group and rule, and the
    lists are joined back by row: walking every record's nested group list inside list expressions cost
    seven times as much.
    """
    rows = frame.with_row_index("_row")
    counted = rows.filter(counted_expr()).select("_row", "ruleGroupList", "nonTerminatingMatchingRules")
    group = pl.col("ruleGroupList").struct
    in_groups = (
        counted.select("_row", "ruleGroupList")
        .explode("ruleGroupList")
        .select(
            "_row",
            rule_group_name(group.field("ruleGroupId")).alias("_group"),
            pl.concat_list(
                _count_mode(group.field("nonTerminatingMatchingRules")).fill_null([]),
                group.field("excludedRules").list.eval(pl.element().struct.field("ruleId")).fill_null([]),
            ).alias("_rule"),
        )
        .explode("_rule")
        .select("_row", pl.concat_str("_group", pl.lit(" / "), "_rule").alias("_rule"))
    )
    top = counted.select("_row", _count_mode(pl.col("nonTerminatingMatchingRules")).alias("_rule"))
    found = (
        pl.concat([top.explode("_rule"), in_groups])
        .filter(pl.col("_rule").is_not_null())
        .group_by("_row", maintain_order=True)
        .agg(pl.col("_rule").unique(maintain_order=True).alias(alias))
    )
    return (
        rows.join(found, on="_row", how="left", maintain_order="left")
        .with_columns(pl.col(alias).fill_null([]))
        .drop("_row")
    )


def client_ip_expr() -> pl.Expr:
    """``httpRequest.clientIp`` when it is an IPv4 or IPv6 address; null for masked values like X.X.X.X."""
    ip = pl.col("httpRequest").struct.field("clientIp")
    return pl.when(ip.str.contains(IP_ADDRESS)).then(ip)


def with_event_time(frame: pl.LazyFrame, config: EnrichConfig) -> pl.LazyFrame:
    """Add ``@timestamp`` and ``_index``: the event's own UTC day, never the time of ingest."""
    ts = (
        pl.from_epoch(pl.col("timestamp"), time_unit="ms").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    )
    return frame.with_columns(ts.alias(S.TIMESTAMP)).with_columns(
        pl.concat_str(pl.lit(f"{config.index_prefix}-"), pl.col(S.TIMESTAMP).dt.strftime("%Y.%m.%d")).alias(
            S.DOC_INDEX
        )
    )


def normalized_name_expr(name: pl.Expr) -> pl.Expr:
    """``enrich.redact.normalize_name`` as an expression (unpadded, lower case, no WAF insert prefix)."""
    return (
        name.str.strip_chars(NAME_PADDING)
        .str.to_lowercase()
        .str.replace(rf"^(?:{literal(INSERTED_PREFIX)}[\x00-\x20]*)+", "")
    )


def flat_fields() -> dict[str, pl.Expr]:
    """The flat enrichment fields by name (see ``schema.ENRICHMENT_FIELDS``) but those of the header
    names (``with_header_fields``) and ``counted_rules`` (``with_counted_rules``)."""
    return {
        "blocked": pl.col("action").eq("BLOCK"),
        "counted": counted_expr(),
        "rule_ids": rule_ids_expr(),
        "rule_group_ids": matched_groups_expr(),
        "labels": _ids("labels", "name"),
        "client_ip": client_ip_expr(),
    }


def _first_named(names: pl.Expr, name: str) -> pl.Expr:
    """Where the first header called ``name`` (any case) is in ``names``; null when there is none."""
    found = names.list.eval(pl.element().str.to_lowercase() == name)
    return pl.when(found.list.any()).then(found.list.arg_max())


def with_header_fields(frame: pl.LazyFrame, redacted_names: Iterable[str], prefix: str) -> pl.LazyFrame:
    """Add ``header_names``, ``redacted_headers``, ``user_agent`` and ``host`` (each after ``prefix``).

    Clients send the same headers in the same order, so a batch holds few distinct lists of header
    names: each is read once (lower-cased, normalized, searched for User-Agent and Host) and joined
    back, and each row only picks its values at the positions found. ``redacted_names`` are the
    normalized names whose values redaction replaces; ``redacted_headers`` lists the request's headers
    among them, normalized the same way.
    """
    headers = pl.col("httpRequest").struct.field("headers")
    names = pl.col("_names")
    lower = names.list.eval(pl.element().str.to_lowercase())
    normalized = names.list.eval(normalized_name_expr(pl.element()))
    per_list = frame.select(
        headers.list.eval(pl.element().struct.field("name")).unique().alias("_names")
    ).with_columns(
        lower.list.unique(maintain_order=True).fill_null([]).alias(f"{prefix}header_names"),
        normalized.list.eval(pl.element().filter(pl.element().is_in(sorted(redacted_names))))
        .list.unique(maintain_order=True)
        .fill_null([])
        .alias(f"{prefix}redacted_headers"),
        _first_named(names, "user-agent").alias("_ua_at"),
        _first_named(names, "host").alias("_host_at"),
    )
    return (
        frame.with_columns(headers.list.eval(pl.element().struct.field("name")).alias("_names"))
        .join(per_list, on="_names", how="left", maintain_order="left", nulls_equal=True)
        .with_columns(
            headers.list.get(pl.col("_ua_at"), null_on_oob=True)
            .struct.field("value")
            .alias(f"{prefix}user_agent"),
            pl.coalesce(
                pl.col("httpRequest").struct.field("host"),
                headers.list.get(pl.col("_host_at"), null_on_oob=True).struct.field("value"),
            ).alias(f"{prefix}host"),
        )
        .drop("_names", "_ua_at", "_host_at")
    )
