"""The report's numbers, computed in Polars over the lake: compact aggregates the page sums in the browser.

The page filters by time range and web ACL without raw rows. Every figure is precomputed per cell:
the time series per (fine bucket, web ACL, action); each top-N list per (coarse bucket, web ACL, key)
for the ``TOP_K`` keys most frequent over the whole range, plus one "other" key holding the rest of
each cell, so a selection's totals stay exact and only the choice of keys is global. With
``TOP_K = 25``, at most 40 coarse buckets and the 1M-event demo lake this is about 1.2 MB of JSON
(README, "The report").

Events are narrowed to the columns the report reads before each ``_id`` is counted once, as the alert
evaluation does (a lake may hold one event in two files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import polars as pl

from dashboards.alerts.evaluate import evaluate
from dashboards.alerts.rules import AlertRules
from dashboards.report.buckets import Grid, epoch_ms, grid
from enrich import schema as S
from enrich.ownership import rule_group_name

TOP_K: Final = 25
MAX_ALERTS: Final = 200  # the newest; the total is reported beside them
DEFAULT_ACTION: Final = "Default_Action"
ACTION_ORDER: Final = ("ALLOW", "BLOCK", "COUNT", "CAPTCHA", "CHALLENGE")
OTHER: Final = "(other)"
Where = Literal["all", "blocked", "acted"]


@dataclass(frozen=True)
class Facet:
    """One top-N list: the events it counts (``where``), the column keyed on, and per-key label columns."""

    name: str
    title: str
    key: str
    where: Where
    labels: tuple[str, ...] = field(default=())


FACETS: Final = (
    Facet("rules", "Top terminating rules", "rule", "acted", ("team", "layer", "oncall")),
    Facet("owner_teams", "Blocked by owning team (of the rule)", "team", "blocked"),
    Facet("account_teams", "Blocked by account team", "account_team", "blocked"),
    Facet("environments", "Blocked by environment", "environment", "blocked"),
    Facet("cost_centres", "Blocked by cost centre", "cost_centre", "blocked"),
    Facet("client_ips", "Top client IPs", "client_ip", "all"),
    Facet("countries", "Top countries", "country", "all"),
    Facet("uris", "Top URIs (path)", "uri", "all"),
    Facet("user_agents", "Top user agents", "user_agent", "all"),
    Facet("ja3", "Top JA3 fingerprints", "ja3", "all"),
    Facet("ja4", "Top JA4 fingerprints", "ja4", "all"),
)
COUNTED: Final = Facet("counted", "COUNT-mode rules that would have blocked", "rule", "all")


def _w(*path: str) -> pl.Expr:
    expr = pl.col(S.ENRICHMENT)
    for name in path:
        expr = expr.struct.field(name)
    return expr


def web_acl_label(name: pl.Expr, account: pl.Expr) -> pl.Expr:
    """How the page names a web ACL: ``name (account)``, since one name can exist in many accounts."""
    return pl.concat_str(
        name.fill_null("(no web ACL)"), pl.lit(" ("), account.fill_null(S.UNKNOWN_ACCOUNT), pl.lit(")")
    )


def _in_range(events: pl.LazyFrame, since: datetime, until: datetime) -> pl.LazyFrame:
    return events.filter(pl.col(S.TIMESTAMP) >= since, pl.col(S.TIMESTAMP) < until)


def narrow(events: pl.LazyFrame, since: datetime, until: datetime) -> pl.LazyFrame:
    """One row per distinct event in [since, until) with only what the report reads."""
    term = _w("terminating")
    http = pl.col("httpRequest").struct
    rule = pl.when(term.struct.field("group_rule_id").is_not_null()).then(
        pl.concat_str(term.struct.field("rule_group_name"), pl.lit(" / "), term.struct.field("group_rule_id"))
    )
    owner = term.struct.field("owner").struct
    return (
        _in_range(events, since, until)
        .select(
            pl.col(S.DOC_ID),
            pl.col(S.TIMESTAMP).alias("ts"),
            web_acl_label(_w("webacl", "name"), _w("webacl", "account_id")).alias("acl"),
            pl.col("action").fill_null("(none)"),
            _w("blocked").fill_null(False).alias("blocked"),
            (pl.col("terminatingRuleId").fill_null(DEFAULT_ACTION) != DEFAULT_ACTION).alias("acted"),
            rule.otherwise(pl.col("terminatingRuleId")).alias("rule"),
            owner.field("team").alias("team"),
            owner.field("layer").alias("layer"),
            owner.field("oncall").alias("oncall"),
            _w("account", "team").alias("account_team"),
            _w("account", "environment").alias("environment"),
            _w("account", "cost_centre").alias("cost_centre"),
            _w("client_ip").alias("client_ip"),
            pl.coalesce(_w("geo", "country"), http.field("country")).alias("country"),
            # the path only: query strings and matrix parameters are where secrets ride
            http.field("uri").str.replace(r"[?;#].*$", "").alias("uri"),
            _w("user_agent").alias("user_agent"),
            pl.col("ja3Fingerprint").alias("ja3"),
            pl.col("ja4Fingerprint").alias("ja4"),
        )
        .unique(S.DOC_ID, keep="any")
    )


_GROUP_MARK: Final = "\x1f"  # between a group's name and its rules; WAF names are [A-Za-z0-9_-]


def counted_expr() -> pl.Expr:
    """The rules that matched in COUNT mode (or were excluded as count), packed small per event.

    A web ACL rule is its id; a rule group's rules are ``group<US>rule|rule``, built inside the group's
    own list element, so the wide ``ruleGroupList`` is read once and never exploded (exploding it for
    the 1M-event lake took 107 s and 6.8 GB). ``counted_rules`` unpacks them.
    """
    el = pl.element().struct
    count_mode = el.field("ruleId").filter(el.field("action") == "COUNT")
    empty = pl.lit([], dtype=pl.List(pl.String))
    g = pl.element().struct
    inside = pl.concat_list(
        g.field("nonTerminatingMatchingRules").list.eval(count_mode).fill_null(empty),
        g.field("excludedRules").list.eval(pl.element().struct.field("ruleId")).fill_null(empty),
    )
    packed = pl.when(inside.list.len() > 0).then(
        pl.concat_str(rule_group_name(g.field("ruleGroupId")), pl.lit(_GROUP_MARK), inside.list.join("|"))
    )
    return pl.concat_list(
        pl.col("nonTerminatingMatchingRules").list.eval(count_mode).fill_null(empty),
        pl.col("ruleGroupList").list.eval(packed).list.drop_nulls().fill_null(empty),
    )


def counted_rules(events: pl.LazyFrame, since: datetime, until: datetime) -> pl.LazyFrame:
    """One row per (event, rule) a rule matched in COUNT mode: ts, acl, blocked, rule (``group / rule``
    for a rule inside a rule group). Only events flagged ``counted`` are unpacked (about 10%)."""
    packed = (
        _in_range(events, since, until)
        .filter(_w("counted").fill_null(False))
        .select(
            pl.col(S.DOC_ID),
            pl.col(S.TIMESTAMP).alias("ts"),
            web_acl_label(_w("webacl", "name"), _w("webacl", "account_id")).alias("acl"),
            _w("blocked").fill_null(False).alias("blocked"),
            counted_expr().alias("packed"),
        )
        .unique(S.DOC_ID, keep="any")
    )
    parts = pl.col("packed").str.split(_GROUP_MARK)
    grouped = parts.list.len() == 2
    return (
        packed.explode("packed")
        .with_columns(
            pl.when(grouped).then(parts.list.get(0, null_on_oob=True)).alias("group"),
            pl.when(grouped)
            .then(parts.list.get(1, null_on_oob=True).str.split("|"))
            .otherwise(pl.concat_list("packed"))
            .alias("rule"),
        )
        .explode("rule")
        .select(
            "_id",
            "ts",
            "acl",
            "blocked",
            pl.when(pl.col("group").is_not_null())
            .then(pl.concat_str("group", pl.lit(" / "), "rule"))
            .otherwise("rule")
            .alias("rule"),
        )
        .drop_nulls("rule")
        .unique(["_id", "rule"], keep="any")
        .drop("_id")
    )


def _population(rows: pl.LazyFrame, facet: Facet) -> pl.LazyFrame:
    if facet.where == "blocked":
        rows = rows.filter(pl.col("blocked"))
    elif facet.where == "acted":
        rows = rows.filter(pl.col("acted"))
    return rows.drop_nulls(facet.key)


def _top(rows: pl.LazyFrame, facet: Facet) -> pl.LazyFrame:
    labels = [pl.col(name).drop_nulls().first() for name in facet.labels]
    return (
        _population(rows, facet)
        .group_by(facet.key)
        .agg(pl.len().alias("total"), *labels)
        .sort(["total", facet.key], descending=[True, False])
        .head(TOP_K)
    )


def _cells(rows: pl.LazyFrame, facet: Facet, keys: list[str]) -> pl.LazyFrame:
    """(coarse bucket, web ACL, key index, requests, blocked); keys outside the top share index TOP_K."""
    k = pl.col(facet.key).replace_strict(keys, list(range(len(keys))), default=TOP_K, return_dtype=pl.Int32)
    return (
        _population(rows, facet)
        .group_by("c", "w", k.alias("k"))
        .agg(pl.len().alias("n"), pl.col("blocked").sum().alias("x"))
        .sort("c", "w", "k")
    )


def _columns(frame: pl.DataFrame, names: tuple[str, ...]) -> dict[str, list[Any]]:
    return {name: frame[name].to_list() for name in names}


def facets(rows: pl.LazyFrame, counted: pl.LazyFrame) -> list[dict[str, Any]]:
    """Every top-N list: the keys, their labels and the cells (rows carry ``c`` and ``w`` already)."""
    sources = [*((rows, f) for f in FACETS), (counted, COUNTED)]
    tops = pl.collect_all([_top(frame, f) for frame, f in sources])
    keys = [top[f.key].to_list() for top, (_, f) in zip(tops, sources, strict=True)]
    cells = pl.collect_all([_cells(frame, f, k) for (frame, f), k in zip(sources, keys, strict=True)])
    return [
        {
            "name": f.name,
            "title": f.title,
            "keys": [*k, OTHER],
            "labels": {name: top[name].to_list() for name in f.labels},
            "events": f.where,
            **_columns(cell, ("c", "w", "k", "n", "x")),
        }
        for (_, f), k, top, cell in zip(sources, keys, tops, cells, strict=True)
    ]


def _action_rank(action: pl.Expr) -> pl.Expr:
    return action.replace_strict(list(ACTION_ORDER), list(range(len(ACTION_ORDER))), default=99)


def series(rows: pl.LazyFrame, g: Grid, actions: list[str]) -> dict[str, list[Any]]:
    """Requests per (fine bucket, web ACL index, action index)."""
    index = pl.LazyFrame(
        {"action": actions, "a": list(range(len(actions)))}, schema={"action": pl.String, "a": pl.Int64}
    )
    frame = (
        rows.join(index, on="action", how="left", validate="m:1")
        .group_by(g.fine(pl.col("ts")).alias("b"), "w", "a")
        .agg(pl.len().alias("n"))
        .sort("b", "w", "a")
        .collect()
    )
    return _columns(frame, ("b", "w", "a", "n"))


def lake_span(events: pl.LazyFrame) -> tuple[datetime, datetime] | None:
    """[first event, last event + 1 ms) of ``events``; None when there are none."""
    bounds = events.select(
        pl.col(S.TIMESTAMP).min().alias("a"), pl.col(S.TIMESTAMP).max().alias("b")
    ).collect()
    first, last = bounds.row(0)
    if first is None:
        return None
    return first, last + timedelta(milliseconds=1)


def _alerts(
    events: pl.LazyFrame, rules: AlertRules, since: datetime, until: datetime, acls: list[str]
) -> dict[str, Any]:
    fired = evaluate(events, rules, since=since, until=until)
    newest = fired.sort("window_start", descending=True, maintain_order=True).head(MAX_ALERTS)
    index = {name: i for i, name in enumerate(acls)}
    labelled = newest.with_columns(
        web_acl_label(pl.col("webacl"), pl.col("account_id")).alias("acl"),
        pl.col("window_start", "window_end").dt.epoch("ms"),
    )
    rows = labelled.select(
        "rule", "acl", "team", "channel", "window_start", "window_end", "value", "threshold"
    ).to_dicts()
    for row in rows:  # at most MAX_ALERTS rows
        row["w"] = index.get(row["acl"], -1)
    return {"total": fired.height, "rows": rows}


def report_data(
    events: pl.LazyFrame,
    *,
    rules: AlertRules,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Everything the page shows, as one JSON-ready mapping; ``since``/``until`` default to the lake's span.

    ``events`` holds enriched documents as the lake stores them (each ``_id`` is counted once here).
    """
    span = lake_span(events) if since is None or until is None else None
    since = since or (span[0] if span else datetime.now(UTC))
    until = until or (span[1] if span else since + timedelta(hours=1))
    g = grid(since, until)
    found = narrow(events, since, until).collect(engine="streaming")
    acl_names = sorted(found["acl"].unique().drop_nulls().to_list())
    rows = _indexed(found.lazy(), acl_names, g).collect().lazy()
    counted = _indexed(counted_rules(events, since, until), acl_names, g).collect(engine="streaming").lazy()
    present = found["action"].unique()
    actions = pl.DataFrame({"action": present}).sort(_action_rank(pl.col("action")), "action")["action"]
    return {
        "events": found.height,
        "since_ms": epoch_ms(since),
        "until_ms": epoch_ms(until),
        "grid": g.as_dict(),
        "webacls": acl_names,
        "actions": actions.to_list(),
        "series": series(rows, g, actions.to_list()),
        "facets": facets(rows, counted),
        "alerts": _alerts(events, rules, since, until, acl_names),
    }


def _indexed(rows: pl.LazyFrame, acl_names: list[str], g: Grid) -> pl.LazyFrame:
    """``rows`` with the web ACL's index ``w`` and the coarse bucket ``c`` in place of the label and ids."""
    w = pl.col("acl").replace_strict(acl_names, list(range(len(acl_names))), return_dtype=pl.Int32)
    return rows.with_columns(w.alias("w"), g.coarse(pl.col("ts")).alias("c")).drop("acl", "_id", strict=False)
