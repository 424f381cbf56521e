"""The report's numbers, computed in Polars over the lake: compact aggregates the page sums in the browser.

The page filters by time range and web ACL without raw rows. Every figure is precomputed per cell:
the time series per (fine bucket, web ACL, action); each top-N list per (coarse bucket, web ACL, key)
for the ``TOP_K`` keys most frequent over the whole range, plus one "other" key holding the rest of
each cell, so a selection's totals stay exact and only the choice of keys is global. With
``TOP_K = 25``, at most 40 coarse buckets and the 1M-event demo lake the page is 648 KB
(README, "The report").

Events are narrowed to the columns the report reads before each ``_id`` is counted once, as the alert
evaluation does (a lake may hold one event in two files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import polars as pl

from dashboards.alerts.evaluate import evaluate_narrow, history
from dashboards.alerts.rules import AlertRules
from dashboards.report.buckets import Grid, epoch_ms, grid
from dashboards.report.counted import counted_rules
from dashboards.report.fields import in_range, waflens_field, web_acl_label
from enrich import schema as S

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


def narrow(events: pl.LazyFrame, since: datetime, until: datetime) -> pl.LazyFrame:
    """One row per distinct event in [since, until) with only what the report reads: the lake is read
    once, for the aggregates, the COUNT-mode rules (the flat ``waflens.counted_rules``) and the alerts."""
    term = waflens_field("terminating")
    http = pl.col("httpRequest").struct
    rule = pl.when(term.struct.field("group_rule_id").is_not_null()).then(
        pl.concat_str(term.struct.field("rule_group_name"), pl.lit(" / "), term.struct.field("group_rule_id"))
    )
    owner = term.struct.field("owner").struct
    return (
        in_range(events, since, until)
        .select(
            pl.col(S.DOC_ID),
            pl.col(S.TIMESTAMP).alias("ts"),
            web_acl_label(waflens_field("webacl", "name"), waflens_field("webacl", "account_id")).alias(
                "acl"
            ),
            pl.col("action").fill_null("(none)"),
            waflens_field("blocked").fill_null(False).alias("blocked"),
            (pl.col("terminatingRuleId").fill_null(DEFAULT_ACTION) != DEFAULT_ACTION).alias("acted"),
            rule.otherwise(pl.col("terminatingRuleId")).alias("rule"),
            owner.field("team").alias("team"),
            owner.field("layer").alias("layer"),
            owner.field("oncall").alias("oncall"),
            waflens_field("webacl", "name").alias("webacl"),
            waflens_field("webacl", "account_id").alias("account_id"),
            waflens_field("counted").fill_null(False).alias("counted"),
            waflens_field("counted_rules").alias("counted_rules"),
            waflens_field("account", "team").alias("account_team"),
            waflens_field("account", "environment").alias("environment"),
            waflens_field("account", "cost_centre").alias("cost_centre"),
            waflens_field("client_ip").alias("client_ip"),
            pl.coalesce(waflens_field("geo", "country"), http.field("country")).alias("country"),
            # the path only: query strings and matrix parameters are where secrets ride
            http.field("uri").str.replace(r"[?;#].*$", "").alias("uri"),
            waflens_field("user_agent").alias("user_agent"),
            pl.col("ja3Fingerprint").alias("ja3"),
            pl.col("ja4Fingerprint").alias("ja4"),
        )
        # each id once; a filter on is_first_distinct is ~6x cheaper than unique() over wide rows
        .filter(pl.col(S.DOC_ID).is_first_distinct())
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
    read: pl.DataFrame, rules: AlertRules, since: datetime, until: datetime, acls: list[str]
) -> dict[str, Any]:
    alert_rows = (
        read.lazy()
        .select("ts", "webacl", "account_id", pl.col("account_team").alias("team"), "blocked")
        .drop_nulls(["webacl", "account_id"])
    )  # as web_acl_events: the monitors' buckets need both keys
    fired = evaluate_narrow(alert_rows, rules, since=since, until=until)
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
    read = narrow(events, since - history(rules), until).collect(engine="streaming")
    found = read.filter(pl.col("ts") >= since)
    acl_names = sorted(found["acl"].unique().drop_nulls().to_list())
    aggregated = found.lazy().drop("webacl", "account_id", "counted", "counted_rules")
    rows = _indexed(aggregated, acl_names, g).collect().lazy()
    counted = _indexed(_counted(events, found, since, until), acl_names, g).collect(engine="streaming").lazy()
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
        "alerts": _alerts(read, rules, since, until, acl_names),
    }


def _counted(events: pl.LazyFrame, found: pl.DataFrame, since: datetime, until: datetime) -> pl.LazyFrame:
    """(ts, acl, blocked, rule) per COUNT-mode rule of each event, from ``waflens.counted_rules``.

    Files written before that field existed hold it as null on counted events: only then is WAF's
    nested rule group list read again (``counted.counted_rules``), which costs a second pass.
    """
    if found.filter(pl.col("counted") & pl.col("counted_rules").is_null()).height:
        return counted_rules(events, since, until)
    return (
        found.lazy()
        .filter(pl.col("counted_rules").list.len() > 0)
        .select("ts", "acl", "blocked", pl.col("counted_rules").alias("rule"))
        .explode("rule")
    )


def _indexed(rows: pl.LazyFrame, acl_names: list[str], g: Grid) -> pl.LazyFrame:
    """``rows`` with the web ACL's index ``w`` and the coarse bucket ``c`` in place of the label and ids."""
    w = pl.col("acl").replace_strict(acl_names, list(range(len(acl_names))), return_dtype=pl.Int32)
    return rows.with_columns(w.alias("w"), g.coarse(pl.col("ts")).alias("c")).drop("acl", "_id", strict=False)
