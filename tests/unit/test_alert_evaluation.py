"""The alert rules over the lake: planted spikes, jumps and silences fire where they are, and only there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from dashboards.alerts.evaluate import ALERTS, evaluate
from dashboards.alerts.rules import AlertRules, BlockedSpike, BlockRatioJump, NoLogs
from enrich import schema as S

T0 = datetime(2026, 1, 5, tzinfo=UTC)
W = timedelta(minutes=5)
Row = tuple[str, str, str | None, datetime, bool]
ROUTED = {"channels": (("payments", "pay-channel"),), "default_channel": "secops"}


def traffic(
    webacl: str, account: str, team: str | None, *, start: datetime, windows: int, total: int, blocked: int
) -> list[Row]:
    """``total`` requests spread over each 5-minute window from ``start``, the first ``blocked`` blocked."""
    step = W / total
    return [
        (webacl, account, team, start + w * W + i * step, i < blocked)
        for w in range(windows)
        for i in range(total)
    ]


def lake(rows: list[Row]) -> pl.LazyFrame:
    """Enriched documents reduced to what the rules read, shaped as the lake stores them."""
    frame = pl.DataFrame(
        rows,
        schema={
            "name": pl.String,
            "account_id": pl.String,
            "team": pl.String,
            "ts": pl.Datetime("ms", "UTC"),
            "blocked": pl.Boolean,
        },
        orient="row",
    )
    return frame.lazy().select(
        pl.col("ts").alias(S.TIMESTAMP),
        pl.struct(
            pl.col("blocked"),
            pl.struct("name", "account_id").alias("webacl"),
            pl.struct("team").alias("account"),
        ).alias(S.ENRICHMENT),
    )


def fired(
    rows: list[Row], *rules: BlockedSpike | BlockRatioJump | NoLogs, since: datetime, until: datetime
) -> pl.DataFrame:
    return evaluate(lake(rows), AlertRules(rules=rules, **ROUTED), since=since, until=until)  # type: ignore[arg-type]


def test_a_planted_spike_fires_for_its_web_acl_in_its_window_only() -> None:
    steady = traffic("shop", "111111111111", "payments", start=T0, windows=36, total=40, blocked=10)
    quiet = traffic("blog", "222222222222", "search", start=T0, windows=36, total=5, blocked=1)
    spike_at = T0 + 2 * timedelta(hours=1)
    spike = traffic("shop", "111111111111", "payments", start=spike_at, windows=1, total=200, blocked=200)
    small = traffic(
        "blog", "222222222222", "search", start=spike_at, windows=1, total=30, blocked=30
    )  # 31x, < floor

    alerts = fired(
        steady + quiet + spike + small,
        BlockedSpike(),
        since=T0 + timedelta(hours=1),
        until=T0 + timedelta(hours=3),
    )

    assert alerts.select(
        "rule", "webacl", "account_id", "window_start", "window_end", "value", "baseline"
    ).rows() == [("blocked-spike", "shop", "111111111111", spike_at, spike_at + W, 210.0, 10.0)]
    assert alerts.row(0, named=True)["threshold"] == 50.0  # max(floor 50, 3 x 10)
    assert alerts.row(0, named=True)["channel"] == "pay-channel"


def test_steady_traffic_never_fires() -> None:
    steady = traffic("shop", "111111111111", "payments", start=T0, windows=60, total=400, blocked=300)
    since = T0 + timedelta(hours=1)  # a full baseline before the first window evaluated
    assert fired(
        steady, BlockedSpike(), BlockRatioJump(), since=since, until=T0 + timedelta(hours=5)
    ).is_empty()


def test_a_web_acl_with_no_history_counts_its_missing_baseline_as_zero_like_the_monitor() -> None:
    new = traffic("new", "111111111111", "payments", start=T0, windows=1, total=60, blocked=60)
    assert fired(new, BlockedSpike(), since=T0, until=T0 + W)["value"].to_list() == [60.0]


def test_missing_windows_count_as_zero_in_the_baseline() -> None:
    # 20 blocked in every other window of the hour before: mean 10 over 12 windows (20 if gaps were skipped)
    sparse = [
        row
        for w in range(0, 12, 2)
        for row in traffic("api", "333333333333", None, start=T0 + w * W, windows=1, total=20, blocked=20)
    ]
    current = traffic("api", "333333333333", None, start=T0 + 12 * W, windows=1, total=55, blocked=55)

    alerts = fired(sparse + current, BlockedSpike(), since=T0 + 12 * W, until=T0 + 13 * W)

    assert alerts.select("webacl", "value", "baseline", "threshold", "team", "channel").rows() == [
        ("api", 55.0, 10.0, 50.0, None, "secops")  # no team: the default channel
    ]


def test_only_complete_windows_inside_the_range_are_evaluated() -> None:
    steady = traffic("shop", "111111111111", "payments", start=T0, windows=12, total=10, blocked=0)
    spike = traffic("shop", "111111111111", "payments", start=T0 + 12 * W, windows=1, total=100, blocked=100)
    rows = steady + spike
    assert fired(rows, BlockedSpike(), since=T0, until=T0 + 12 * W + timedelta(minutes=4)).is_empty()
    assert fired(rows, BlockedSpike(), since=T0 + 13 * W, until=T0 + 20 * W).is_empty()
    assert fired(rows, BlockedSpike(), since=T0 + 12 * W, until=T0 + 13 * W).height == 1


def test_a_block_ratio_jump_fires_and_a_smaller_rise_does_not() -> None:
    base = traffic("auth", "333333333333", "identity", start=T0, windows=12, total=150, blocked=15)  # 0.1
    jump = traffic(
        "auth", "333333333333", "identity", start=T0 + 12 * W, windows=1, total=150, blocked=60
    )  # 0.4
    rise = traffic("auth", "333333333333", "identity", start=T0 + 13 * W, windows=1, total=150, blocked=35)
    few = traffic("tiny", "444444444444", "platform", start=T0 + 12 * W, windows=1, total=50, blocked=50)

    alerts = fired(base + jump + rise + few, BlockRatioJump(), since=T0 + 12 * W, until=T0 + 14 * W)

    assert alerts.select("rule", "webacl", "window_start", "value", "baseline").rows() == [
        ("block-ratio-jump", "auth", T0 + 12 * W, 0.4, 0.1)
    ]
    assert alerts["threshold"].to_list() == [pytest.approx(0.3)]
    assert alerts["channel"].to_list() == ["secops"]  # identity has no channel of its own here


def test_freshness_fires_after_a_planted_silence_and_not_before() -> None:
    before = traffic("legacy", "555555555555", None, start=T0, windows=12, total=5, blocked=0)  # until 01:00
    after = traffic(
        "legacy", "555555555555", None, start=T0 + timedelta(hours=2), windows=6, total=5, blocked=0
    )
    last = max(r[3] for r in before)
    rows = before + after

    silent_21_minutes = fired(rows, NoLogs(), since=T0, until=T0 + timedelta(minutes=80))
    assert silent_21_minutes.is_empty()
    alerts = fired(rows, NoLogs(), since=T0, until=T0 + timedelta(minutes=175))  # before 02:29 + 30m
    assert alerts.select("rule", "webacl", "window_start", "window_end", "threshold").rows() == [
        ("no-logs", "legacy", last, T0 + timedelta(hours=2), 30.0)
    ]
    assert alerts["value"].to_list() == [pytest.approx(61.0)]
    ongoing = fired(before, NoLogs(), since=T0, until=T0 + timedelta(minutes=95))
    assert ongoing["window_end"].to_list() == [T0 + timedelta(minutes=95)]  # still silent at the end


def test_a_web_acl_silent_longer_than_the_lookback_is_forgotten() -> None:
    old = traffic("gone", "555555555555", None, start=T0, windows=1, total=5, blocked=0)
    assert fired(old, NoLogs(), since=T0 + timedelta(days=2), until=T0 + timedelta(days=3)).is_empty()


def test_the_result_has_the_declared_schema_even_when_nothing_fires() -> None:
    alerts = fired([], BlockedSpike(), NoLogs(), since=T0, until=T0 + timedelta(hours=1))
    assert alerts.schema == ALERTS
    assert evaluate(lake([]), AlertRules(rules=()), since=T0, until=T0 + W).schema == ALERTS


def test_an_event_stored_twice_counts_once() -> None:
    rows = traffic("shop", "111111111111", "payments", start=T0, windows=1, total=60, blocked=60)
    once = lake(rows).with_row_index(S.DOC_ID).with_columns(pl.col(S.DOC_ID).cast(pl.String))
    twice = pl.concat([once, once])
    alerts = evaluate(twice, AlertRules(rules=(BlockedSpike(),), **ROUTED), since=T0, until=T0 + W)  # type: ignore[arg-type]
    assert alerts["value"].to_list() == [60.0]
