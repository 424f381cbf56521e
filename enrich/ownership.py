"""Who owns the rule or rule group that acted on a request, and in which layer of the web ACL it sits.

The model: engineering teams own the first rule groups a web ACL evaluates (their allow lists and
API guards), security owns the last ones (baselines, managed rule sets). ``EnrichConfig.selectors``
say which group belongs to whom; see ``enrich.config.Selector`` for the kinds and their precedence.
Exact ids and managed names are joins; globs are a ``when`` chain (a handful per deployment).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

from enrich import schema as S
from enrich.config import EnrichConfig, Owner, Selector, SelectorKind
from enrich.patterns import glob_regex

# Types of terminating rule that mean a rule group (not a web ACL rule) decided the action.
GROUP_TYPES: Final = ("GROUP", "MANAGED_RULE_GROUP", "MANAGEDRULEGROUP")
_RULE_GROUP_NAME: Final = r"/rulegroup/([^/]+)/"


def _owner_struct(owner: Owner, matched_by: str) -> pl.Expr:
    return pl.struct(
        team=pl.lit(owner.team, pl.String),
        layer=pl.lit(owner.layer, pl.String),
        oncall=pl.lit(owner.oncall, pl.String),
        matched_by=pl.lit(matched_by, pl.String),
    )


def _glob_owner(subject: pl.Expr, selectors: Sequence[Selector], kind: SelectorKind) -> pl.Expr:
    chosen = [s for s in selectors if s.kind == kind]
    if not chosen:
        return pl.lit(None, S.OWNER)
    owner = pl.lit(None, S.OWNER)
    for sel in reversed(chosen):  # built from the last, so the first selector in the file wins
        matches = subject.str.contains(glob_regex(sel.value))
        owner = pl.when(matches).then(_owner_struct(sel.owner, kind)).otherwise(owner)
    return owner


def _selector_table(selectors: Sequence[Selector], kind: SelectorKind, key: str) -> pl.LazyFrame:
    chosen = [s for s in selectors if s.kind == kind]
    return pl.LazyFrame(
        {
            key: [s.value for s in chosen],
            f"{key}_owner": [
                {"team": s.owner.team, "layer": s.owner.layer, "oncall": s.owner.oncall, "matched_by": kind}
                for s in chosen
            ],
        },
        schema={key: pl.String, f"{key}_owner": S.OWNER},
    )


def with_terminating_group(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``_group_id``, ``_group_rule`` and ``_managed``: the rule group that terminated, if one did."""
    acted = (
        pl.col("ruleGroupList")
        .list.eval(pl.element().filter(pl.element().struct.field("terminatingRule").is_not_null()))
        .list.first()
    )
    # A group can report a terminating rule while a COUNT override let the request through
    # (waf-log-format.md §6.5): only the top-level terminating rule type is authoritative.
    by_group = pl.col("terminatingRuleType").is_in(GROUP_TYPES) & pl.col("terminatingRuleId").ne(
        "Default_Action"
    )
    group_id = pl.when(by_group).then(acted.struct.field("ruleGroupId"))
    return frame.with_columns(
        group_id.alias("_group_id"),
        pl.when(by_group)
        .then(acted.struct.field("terminatingRule").struct.field("ruleId"))
        .alias("_group_rule"),
        group_id.str.extract(r"^AWS#([^#]+)").alias("_managed"),
    )


def with_owner(frame: pl.LazyFrame, config: EnrichConfig) -> pl.LazyFrame:
    """Add ``_owner`` (``schema.OWNER``): the first selector that recognises the acting group or rule."""
    sel = config.selectors
    joined = frame.join(
        _selector_table(sel, "rule_group", "_group_id"),
        on="_group_id",
        how="left",
        validate="m:1",
        maintain_order="left",
    ).join(
        _selector_table(sel, "managed", "_managed"),
        on="_managed",
        how="left",
        validate="m:1",
        maintain_order="left",
    )
    return joined.with_columns(
        pl.coalesce(
            pl.col("_group_id_owner"),
            pl.col("_managed_owner"),
            _glob_owner(pl.col("_group_id"), sel, "rule_group_pattern"),
            _glob_owner(pl.col("terminatingRuleId"), sel, "web_acl_rule"),
            _owner_struct(config.default_owner, "default"),
        ).alias("_owner")
    ).drop("_group_id_owner", "_managed_owner")


def rule_group_name(group_id: pl.Expr) -> pl.Expr:
    """A readable rule group name: the managed name of ``AWS#Name#Version``, the name inside an ARN."""
    return pl.coalesce(
        group_id.str.extract(r"^AWS#([^#]+)"), group_id.str.extract(_RULE_GROUP_NAME), group_id
    )


def terminating_expr() -> pl.Expr:
    """The ``schema.TERMINATING`` struct, from the columns the two steps above add."""
    return pl.struct(
        rule_id=pl.col("terminatingRuleId"),
        rule_type=pl.col("terminatingRuleType"),
        rule_group_id=pl.col("_group_id"),
        rule_group_name=rule_group_name(pl.col("_group_id")),
        group_rule_id=pl.col("_group_rule"),
        owner=pl.col("_owner"),
    )
