"""OWASP API Security Top 10 (2023) categories of the rules, rule groups and labels that matched a request.

The built-in table (``owasp_table.toml``, the same shape as the config file's ``[[owasp.map]]``) maps AWS
managed rule groups, rules and labels; the config file extends it, and overrides it for whatever its own
entries match (``replace_defaults = true`` drops it). What a request matched comes in four lists: rule
ids, rule group ids, labels and rate-based rule names. A batch holds few distinct values in each (190 in
all across 100,000 generated records), so the globs run over those once, each record's lists become a
bitmask of categories by lookup, and the few distinct masks (8) become category lists by a join. Per
100,000 records, running the globs over every record's values cost 0.85 s and building the lists with a
``when``/``then`` per category 0.38 s; this way the whole step costs about 0.15 s of CPU.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from importlib import resources
from typing import Final, Literal, get_args

import polars as pl

from enrich.config_values import ConfigError, boolean, only_keys, sequence, strings, table
from enrich.distinct import per_distinct
from enrich.patterns import glob_regex

CATEGORIES: Final = (
    "API1:2023 Broken Object Level Authorization",
    "API2:2023 Broken Authentication",
    "API3:2023 Broken Object Property Level Authorization",
    "API4:2023 Unrestricted Resource Consumption",
    "API5:2023 Broken Function Level Authorization",
    "API6:2023 Unrestricted Access to Sensitive Business Flows",
    "API7:2023 Server Side Request Forgery",
    "API8:2023 Security Misconfiguration",
    "API9:2023 Improper Inventory Management",
    "API10:2023 Unsafe Consumption of APIs",
)
# What an entry matches, each a glob (``*`` any run of characters, ``?`` one), case-sensitive:
# rule_id: any matched rule id (terminating, in a group, counted, excluded, rate-based name);
# managed: an AWS managed rule group's name, any version; rule_group_pattern: a matched rule group's id;
# label: a label on the request; rate_based: the name of a rate-based rule that acted.
OwaspSelector = Literal["rule_id", "managed", "rule_group_pattern", "label", "rate_based"]
SELECTORS: Final = get_args(OwaspSelector)
TABLE_FILE: Final = "owasp_table.toml"
# Which of a request's lists each selector reads.
Source = Literal["rule", "group", "label", "rate"]
SOURCE: Final[dict[OwaspSelector, Source]] = {
    "rule_id": "rule",
    "managed": "group",
    "rule_group_pattern": "group",
    "label": "label",
    "rate_based": "rate",
}
_MASK: Final = pl.Int32


@dataclass(frozen=True)
class OwaspRule:
    """One glob of one selector kind, and the categories a subject it matches belongs to (maybe none)."""

    kind: OwaspSelector
    pattern: str
    categories: tuple[str, ...]

    @property
    def source(self) -> Source:
        """The list of the request this rule reads."""
        return SOURCE[self.kind]

    @property
    def regex(self) -> str:
        """An anchored regex over the values of ``source`` (Polars and Python's ``re`` read it alike)."""
        if self.kind == "managed":  # AWS#Name or AWS#Name#Version_2.0
            return f"^AWS#{glob_regex(self.pattern)[1:-1]}(?:#.*)?$"
        return glob_regex(self.pattern)

    @property
    def mask(self) -> int:
        """The categories as bits, bit ``i`` for ``CATEGORIES[i]``."""
        return sum(1 << CATEGORIES.index(c) for c in self.categories)


@cache
def default_rules() -> tuple[OwaspRule, ...]:
    """The built-in table, read from the package once, on first use."""
    text = resources.files("enrich").joinpath(TABLE_FILE).read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    only_keys(doc, {"map"}, TABLE_FILE)
    return rules_from(sequence(doc["map"], f"{TABLE_FILE}: map"), f"{TABLE_FILE}: map")


@dataclass(frozen=True)
class OwaspMap:
    """The config file's entries (``custom``), which win for any subject they match, then the defaults."""

    custom: tuple[OwaspRule, ...] = ()
    defaults: tuple[OwaspRule, ...] = field(default_factory=default_rules)

    @classmethod
    def from_mapping(cls, owasp: Mapping[str, object]) -> OwaspMap:
        """Parse the ``[owasp]`` table; raise ConfigError naming the offending key."""
        only_keys(owasp, {"map", "replace_defaults"}, "owasp")
        replace = boolean(owasp.get("replace_defaults", False), "owasp.replace_defaults")
        custom = rules_from(sequence(owasp.get("map", []), "owasp.map"), "owasp.map")
        return cls(custom=custom, defaults=() if replace else default_rules())


def rules_from(entries: Sequence[object], where: str) -> tuple[OwaspRule, ...]:
    """``[[map]]`` entries as rules: a ``category`` (one or a list, ``[]`` for none) and selectors."""
    out: list[OwaspRule] = []
    for i, raw in enumerate(entries):
        at = f"{where}[{i}]"
        entry = table(raw, at)
        only_keys(entry, {"category", *SELECTORS}, at)
        if "category" not in entry:
            raise ConfigError(f"{at} needs a category (or category = [] to map what it matches to none)")
        named = strings(entry["category"], f"{at}.category")
        for j, category in enumerate(named):
            if category not in CATEGORIES:
                key = f"{at}.category" if isinstance(entry["category"], str) else f"{at}.category[{j}]"
                raise ConfigError(
                    f"{key} {category!r} is not an OWASP API Security Top 10 2023 category"
                    f" (expected one of: {'; '.join(CATEGORIES)})"
                )
        kinds = [k for k in SELECTORS if k in entry]
        if not kinds:
            raise ConfigError(f"{at} matches nothing: give one of {', '.join(SELECTORS)}")
        categories = tuple(c for c in CATEGORIES if c in named)
        for kind in kinds:
            for j, pattern in enumerate(strings(entry[kind], f"{at}.{kind}")):
                if not pattern:
                    raise ConfigError(f"{at}.{kind}[{j}] must not be empty")
                out.append(OwaspRule(kind=kind, pattern=pattern, categories=categories))
    return tuple(out)


def rate_names_expr() -> pl.Expr:
    """Names of the rate-based rules that acted: those WAF listed, and the one that terminated.

    Nulls are left in (the lookup skips them): ``list.drop_nulls`` here cost 0.06 s per 100,000 records.
    """
    listed = pl.col("rateBasedRuleList").list.eval(pl.element().struct.field("rateBasedRuleName"))
    terminated = pl.when(pl.col("terminatingRuleType").eq("RATE_BASED")).then(pl.col("terminatingRuleId"))
    return pl.concat_list(listed.fill_null([]), terminated)


def _layer(rules: Sequence[OwaspRule], value: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Whether any rule of a layer matches the value, and the union of their categories as bits."""
    if not rules:
        return pl.lit(False), pl.lit(0, _MASK)
    matched = value.str.contains("|".join(f"(?:{r.regex})" for r in rules))
    bits = [
        pl.when(value.str.contains("|".join(f"(?:{r.regex})" for r in rules if category in r.categories)))
        .then(1 << i)
        .otherwise(0)
        for i, category in enumerate(CATEGORIES)
        if any(category in r.categories for r in rules)
    ]
    return matched, pl.sum_horizontal(bits).cast(_MASK) if bits else pl.lit(0, _MASK)


def _value_masks(owasp: OwaspMap, source: Source, values: pl.Series) -> pl.DataFrame:
    """Each distinct value and its categories' bits; the config's entries win where they match."""
    custom_matched, custom = _layer([r for r in owasp.custom if r.source == source], pl.col("value"))
    _, default = _layer([r for r in owasp.defaults if r.source == source], pl.col("value"))
    return pl.DataFrame({"value": values}, schema={"value": pl.String}).with_columns(
        pl.when(custom_matched).then(custom).otherwise(default).cast(_MASK).alias("mask")
    )


def _masks(owasp: OwaspMap, source: Source, lists: pl.Series) -> pl.Series:
    masks = _value_masks(owasp, source, lists.explode().drop_nulls().unique())
    lookup = pl.element().replace_strict(masks["value"], masks["mask"], default=0, return_dtype=_MASK)
    mask = pl.col("lists").list.eval(lookup.bitwise_or()).list.first().fill_null(0)
    return lists.rename("lists").to_frame().select(mask).to_series()


def _named(mask: int) -> list[str]:
    return [c for i, c in enumerate(CATEGORIES) if mask >> i & 1]


def categories_expr(
    owasp: OwaspMap, *, rule_ids: pl.Expr, rule_group_ids: pl.Expr, labels: pl.Expr, rate_names: pl.Expr
) -> pl.Expr:
    """The request's categories, in the Top 10's order, each once (an empty list when nothing matched).

    The globs run once per distinct value of each list in the batch: whole-column functions, no
    per-row Python.
    """
    lists: dict[Source, pl.Expr] = {
        "rule": rule_ids,
        "group": rule_group_ids,
        "label": labels,
        "rate": rate_names,
    }
    mask = pl.lit(0, _MASK)
    for source, values in lists.items():
        mask = mask | values.map_batches(partial(_masks, owasp, source), return_dtype=_MASK)
    named = partial(per_distinct, compute=_named, dtype=pl.List(pl.String))
    return mask.map_batches(named, return_dtype=pl.List(pl.String))
