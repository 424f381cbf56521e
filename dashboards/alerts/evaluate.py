"""The alert rules evaluated over enriched documents (the lake), in Polars: what the monitors would have
fired, so the embedded default alerts too and every rule is tested offline.

Windowed rules use tumbling windows aligned to the window (epoch-aligned, as the monitors' cron is);
every web ACL seen in the evaluated range gets every window, zero-filled, so a quiet hour counts as a
low baseline instead of being skipped (computed as rolling sums over the windows that hold events, which
is the same number). The freshness rule looks at each web ACL's gaps between consecutive events. No row
loops: group-bys, rolling sums by time per web ACL, and the same formulas as the monitors' trigger
scripts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

import polars as pl

from dashboards.alerts.rules import AlertRules, BlockedSpike, BlockRatioJump, NoLogs, WindowedRule
from enrich import schema as S

KEYS: Final = ("webacl", "account_id")
_ALERT_FIELDS: dict[str, pl.DataType] = {
    "rule": pl.String(),
    "webacl": pl.String(),
    "account_id": pl.String(),
    "team": pl.String(),
    "channel": pl.String(),
    "window_start": pl.Datetime("ms", "UTC"),
    "window_end": pl.Datetime("ms", "UTC"),
    "value": pl.Float64(),  # blocked requests, block ratio, or minutes without an event
    "baseline": pl.Float64(),  # mean blocked per baseline window, baseline block ratio, or null
    "threshold": pl.Float64(),  # what ``value`` had to reach (spike: exceed)
}
ALERTS: Final = pl.Schema(_ALERT_FIELDS)


def history(rules: AlertRules) -> timedelta:
    """How far before ``since`` the rules look (baselines, freshness lookback)."""
    spans = [
        r.lookback if isinstance(r, NoLogs) else r.window * (r.baseline_windows + 1) for r in rules.rules
    ]
    return max(spans, default=timedelta(0))


def web_acl_events(events: pl.LazyFrame, start: datetime, until: datetime) -> pl.LazyFrame:
    """One narrow row per event in [start, until) that names its web ACL and account.

    With an ``_id`` column each id counts once (a lake may hold an event in two files); the narrow
    columns are picked first, so the de-duplication never reads the rest of the documents.
    """
    waflens = pl.col(S.ENRICHMENT)
    has_id = S.DOC_ID in events.collect_schema().names()
    narrow = (
        events.filter(pl.col(S.TIMESTAMP) >= start, pl.col(S.TIMESTAMP) < until)
        .select(
            *([pl.col(S.DOC_ID)] if has_id else []),
            pl.col(S.TIMESTAMP).alias("ts"),
            waflens.struct.field("webacl").struct.field("name").alias("webacl"),
            waflens.struct.field("webacl").struct.field("account_id").alias("account_id"),
            waflens.struct.field("account").struct.field("team").alias("team"),
            waflens.struct.field("blocked").fill_null(False).alias("blocked"),
        )
        .drop_nulls(list(KEYS))  # the monitors' composite buckets skip documents missing either key
    )
    return narrow.filter(pl.col(S.DOC_ID).is_first_distinct()).drop(S.DOC_ID) if has_id else narrow


def evaluate(events: pl.LazyFrame, rules: AlertRules, *, since: datetime, until: datetime) -> pl.DataFrame:
    """One row per (rule, web ACL, account, window) that would have fired in [since, until), in time order.

    ``events`` holds enriched documents (``@timestamp``, the ``waflens`` struct); events before ``since``
    are read as far back as the baselines and the freshness lookback need.
    """
    since, until = _utc(since), _utc(until)
    narrow = web_acl_events(events, since - history(rules), until).collect().lazy()
    return evaluate_narrow(narrow, rules, since=since, until=until)


def evaluate_narrow(
    narrow: pl.LazyFrame, rules: AlertRules, *, since: datetime, until: datetime
) -> pl.DataFrame:
    """``evaluate`` over events already narrowed as ``web_acl_events`` does (``ts``, ``webacl``,
    ``account_id``, ``team``, ``blocked``; each event once, from ``since - history(rules)`` on)."""
    since, until = _utc(since), _utc(until)
    teams = narrow.group_by(KEYS).agg(pl.col("team").sort_by("ts").drop_nulls().last())
    found = [
        _silences(narrow, rule, since, until)
        if isinstance(rule, NoLogs)
        else _windowed(narrow, rule, since, until)
        for rule in rules.rules
    ]
    if not found:
        return ALERTS.to_frame()
    channels = pl.LazyFrame(
        {"team": [t for t, _ in rules.channels], "channel": [c for _, c in rules.channels]},
        schema={"team": pl.String(), "channel": pl.String},
    )
    return (
        pl.concat(found)
        .join(teams, on=KEYS, how="left", validate="m:1")
        .join(channels, on="team", how="left", validate="m:1")
        .with_columns(pl.col("channel").fill_null(pl.lit(rules.default_channel, dtype=pl.String)))
        .select(ALERTS.names())
        .sort("window_start", "rule", *KEYS)
        .collect()
        .cast(ALERTS)
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _align_up(moment: datetime, step: timedelta) -> datetime:
    return _EPOCH + -(-(moment - _EPOCH) // step) * step


def _align_down(moment: datetime, step: timedelta) -> datetime:
    return _EPOCH + ((moment - _EPOCH) // step) * step


def _windowed(narrow: pl.LazyFrame, rule: WindowedRule, since: datetime, until: datetime) -> pl.LazyFrame:
    first = _align_up(since, rule.window)
    end = _align_down(until, rule.window)  # complete windows only
    start = first - rule.window * rule.baseline_windows
    if end <= first:
        return _empty()
    counts = (
        narrow.filter(pl.col("ts") >= start, pl.col("ts") < end)
        .group_by(
            *KEYS, pl.col("ts").dt.truncate(f"{int(rule.window.total_seconds())}s").alias("window_start")
        )
        .agg(pl.len().cast(pl.Float64).alias("total"), pl.col("blocked").sum().cast(pl.Float64))
    )
    # Only windows with events can fire (both rules need blocked or total above zero), and an empty
    # window adds zero to a baseline sum, so the rolling sums over the sparse windows equal those over a
    # zero-filled grid; a grid of every window would grow with the span (years of samples: minutes).
    seconds = int(rule.window.total_seconds())
    baselines = (
        counts.sort(*KEYS, "window_start")
        .rolling(
            index_column="window_start",
            period=f"{seconds * rule.baseline_windows}s",
            closed="left",
            group_by=list(KEYS),
        )
        .agg(pl.col(name).sum().alias(f"baseline_{name}") for name in ("total", "blocked"))
    )
    windows = counts.join(baselines, on=[*KEYS, "window_start"], how="left", validate="1:1").filter(
        pl.col("window_start") >= first
    )
    fired = windows.filter(_condition(rule)).with_columns(
        pl.lit(rule.name).alias("rule"), (pl.col("window_start") + rule.window).alias("window_end")
    )
    return fired.select("rule", *KEYS, "window_start", "window_end", *_measures(rule))


def _condition(rule: WindowedRule) -> pl.Expr:
    """The trigger scripts' tests (monitors.script_source), over the same numbers."""
    p = rule.params()
    blocked, total = pl.col("blocked"), pl.col("total")
    baseline_blocked, baseline_total = pl.col("baseline_blocked"), pl.col("baseline_total")
    if isinstance(rule, BlockedSpike):
        return (blocked >= p["floor"]) & (blocked > p["factor"] * baseline_blocked / p["baseline_windows"])
    return (
        (total >= p["min_requests"])
        & (baseline_total > 0)
        & (blocked / total - baseline_blocked / baseline_total >= p["jump"])
    )


def _measures(rule: WindowedRule) -> list[pl.Expr]:
    if isinstance(rule, BlockedSpike):
        mean = pl.col("baseline_blocked") / rule.baseline_windows
        return [
            pl.col("blocked").alias("value"),
            mean.alias("baseline"),
            pl.max_horizontal(pl.lit(float(rule.floor)), rule.factor * mean).alias("threshold"),
        ]
    assert isinstance(rule, BlockRatioJump)
    baseline = pl.col("baseline_blocked") / pl.col("baseline_total")
    return [
        (pl.col("blocked") / pl.col("total")).alias("value"),
        baseline.alias("baseline"),
        (baseline + rule.jump).alias("threshold"),
    ]


def _silences(narrow: pl.LazyFrame, rule: NoLogs, since: datetime, until: datetime) -> pl.LazyFrame:
    """Each gap after an event longer than ``silence``, firing (at event + silence) inside [since, until)."""
    gaps = (
        narrow.select(*KEYS, "ts")
        .sort(*KEYS, "ts")
        .with_columns(
            pl.col("ts")
            .shift(-1)
            .over(KEYS)
            .fill_null(pl.lit(until, dtype=pl.Datetime("ms", "UTC")))
            .alias("next")
        )
        .filter(
            pl.col("next") - pl.col("ts") > rule.silence,
            pl.col("ts") + rule.silence >= since,
            pl.col("ts") + rule.silence < until,
        )
    )
    return gaps.select(
        pl.lit(rule.name).alias("rule"),
        *KEYS,
        pl.col("ts").alias("window_start"),
        pl.col("next").alias("window_end"),
        ((pl.col("next") - pl.col("ts")).dt.total_seconds() / 60).alias("value"),
        pl.lit(None, dtype=pl.Float64).alias("baseline"),
        pl.lit(rule.silence.total_seconds() / 60).alias("threshold"),
    )


def _empty() -> pl.LazyFrame:
    return pl.LazyFrame(
        schema={
            k: ALERTS[k]
            for k in ("rule", *KEYS, "window_start", "window_end", "value", "baseline", "threshold")
        }
    )
