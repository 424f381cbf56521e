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


_UNIT: Final = "\x1f"  # between packed rule ids; WAF rule and group names are [A-Za-z0-9_-]


def counted_rules_expr() -> pl.Expr:
    """The rules that matched in COUNT mode (or were excluded as count), without duplicates.

    A web ACL rule is its id, a rule group's rule ``group / rule``. Each group's rules are packed into
    one string inside the group's own list element and split afterwards, so the nested list is walked
    once and never exploded.
    """
    el = pl.element().struct
    count_mode = el.field("ruleId").filter(el.field("action") == "COUNT")
    empty = pl.lit([], dtype=pl.List(pl.String))
    group = pl.element().struct
    name = rule_group_name(group.field("ruleGroupId"))
    rules = pl.concat_list(
        group.field("nonTerminatingMatchingRules").list.eval(count_mode).fill_null(empty),
        group.field("excludedRules").list.eval(el.field("ruleId")).fill_null(empty),
    )
    prefix = pl.concat_str(name, pl.lit(" / "))
    packed = pl.when(rules.list.len() > 0).then(
        pl.concat_str(
            prefix,
            rules.list.join(_UNIT).str.replace_all(_UNIT, pl.concat_str(pl.lit(_UNIT), prefix), literal=True),
        )
    )
    in_groups = (
        pl.col("ruleGroupList")
        .list.eval(packed.str.split(_UNIT))
        .list.eval(pl.element().explode(empty_as_null=False, keep_nulls=False))
        .fill_null(empty)
    )
    top = pl.col("nonTerminatingMatchingRules").list.eval(count_mode).fill_null(empty)
    return pl.concat_list(top, in_groups).list.drop_nulls().list.unique(maintain_order=True)


def header_value_expr(name: str) -> pl.Expr:
    """The first value of a request header, whatever the case of its name."""
    headers = pl.col("httpRequest").struct.field("headers")
    el = pl.element().struct
    return headers.list.eval(
        el.field("value").filter(el.field("name").str.to_lowercase() == name)
    ).list.first()


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


def flat_fields(redacted_names: Iterable[str]) -> dict[str, pl.Expr]:
    """The flat enrichment fields by name (see ``schema.ENRICHMENT_FIELDS``).

    ``redacted_names`` are the normalized names whose values redaction replaces; ``redacted_headers``
    lists the request's headers among them, normalized the same way.
    """
    headers = pl.col("httpRequest").struct.field("headers")
    names = headers.list.eval(pl.element().struct.field("name").str.to_lowercase())
    normalized = headers.list.eval(normalized_name_expr(pl.element().struct.field("name")))
    return {
        "blocked": pl.col("action").eq("BLOCK"),
        "counted": counted_expr(),
        "rule_ids": rule_ids_expr(),
        "rule_group_ids": matched_groups_expr(),
        "counted_rules": counted_rules_expr(),
        "labels": _ids("labels", "name"),
        "client_ip": client_ip_expr(),
        "user_agent": header_value_expr("user-agent"),
        "host": pl.coalesce(pl.col("httpRequest").struct.field("host"), header_value_expr("host")),
        "header_names": names.list.unique(maintain_order=True).fill_null([]),
        "redacted_headers": normalized.list.eval(
            pl.element().filter(pl.element().is_in(sorted(redacted_names)))
        )
        .list.unique(maintain_order=True)
        .fill_null([]),
    }
