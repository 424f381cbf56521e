"""Alert rules as cluster content: monitors and the detector are golden, accepted by the strict spec and
the project rules, name only mapped fields, route to the right channel, and carry the rules' numbers."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboards.alerts import alert_requests
from dashboards.alerts.detector import detector
from dashboards.alerts.monitors import monitor_requests, script_source
from dashboards.alerts.rules import AlertRules, AnomalyDetection, BlockedSpike, BlockRatioJump, NoLogs
from dashboards.cluster import ClusterRequest, digest
from dashboards.mappings import document_mappings, mapped_paths
from enrich.config import ConfigError
from tests.support.anomaly_detection_check import detector_rules
from tests.support.opensearch_spec import monitor_rules, spec_validator

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "dashboards" / "golden"
UPDATE = os.environ.get("WAFLENS_UPDATE_GOLDEN") == "1"  # regenerate after a deliberate change
EXAMPLE = AlertRules.from_mapping(tomllib.loads((ROOT / "examples" / "waflens.toml").read_text("utf-8")))
PATTERN = "waflens-events-*"
REQUESTS = alert_requests(EXAMPLE, PATTERN)
MONITORS = [r for r in REQUESTS if r.kind == "monitor"]


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: r.name)
def test_example_alerts_match_their_golden_files(request_: ClusterRequest) -> None:
    golden = GOLDEN / f"{request_.name}.json"
    if UPDATE:
        golden.write_text(request_.render(), encoding="utf-8")
    assert request_.render() == golden.read_text(encoding="utf-8"), (
        "run with WAFLENS_UPDATE_GOLDEN=1 if intended"
    )


@pytest.mark.parametrize("request_", MONITORS, ids=lambda r: r.name)
def test_monitors_pass_the_strict_alerting_spec_and_the_monitor_rules(request_: ClusterRequest) -> None:
    validator = spec_validator(alerting=True)
    assert request_.method == "POST"
    assert request_.path == "/_plugins/_alerting/monitors"
    assert validator.body("alerting.create_monitor", request_.body) == []
    assert monitor_rules(request_.body, validator=validator) == []  # includes the query as a search body


def _fields(node: Any) -> Iterator[str]:
    """Every field a query names: ``field`` values and the keys of term/terms/range/exists clauses."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "field" and isinstance(value, str):
                yield value
            elif key in ("term", "terms", "range") and isinstance(value, dict) and "field" not in value:
                yield from value  # a query clause keyed by field (an aggregation's terms has "field")
            yield from _fields(value)
    elif isinstance(node, list):
        for item in node:
            yield from _fields(item)


@pytest.mark.parametrize("request_", MONITORS, ids=lambda r: r.name)
def test_every_field_a_monitor_names_is_mapped(request_: ClusterRequest) -> None:
    fields = set(_fields(request_.body["inputs"]))
    assert {
        "@timestamp",
        "waflens.webacl.name",
        "waflens.webacl.account_id",
        "waflens.account.team",
    } <= fields
    assert fields <= mapped_paths(document_mappings())


def test_one_monitor_per_rule_and_team_with_a_channel_plus_a_catch_all_for_the_rest() -> None:
    names = [r.name for r in MONITORS]
    teams = ["identity", "payments", "platform", "search", "default"]
    assert names == [
        f"monitor:waflens-{rule}-{team}"
        for rule in ("blocked-spike", "block-ratio-jump", "no-logs")
        for team in teams
    ]
    payments = next(r.body for r in MONITORS if r.name == "monitor:waflens-blocked-spike-payments")
    catch_all = next(r.body for r in MONITORS if r.name == "monitor:waflens-blocked-spike-default")
    assert _query(payments)["bool"]["filter"][1] == {"term": {"waflens.account.team": "payments"}}
    assert _action(payments)["destination_id"] == "payments-oncall"
    assert _query(catch_all)["bool"]["must_not"] == [
        {"terms": {"waflens.account.team": ["identity", "payments", "platform", "search"]}}
    ]
    assert _action(catch_all)["destination_id"] == "waflens-secops"
    assert _action(catch_all)["action_execution_policy"] == {
        "action_execution_scope": {"per_alert": {"actionable_alerts": ["DEDUPED", "NEW"]}}
    }
    assert _action(catch_all)["throttle"] == {"value": 60, "unit": "MINUTES"}


def _query(body: dict[str, Any]) -> dict[str, Any]:
    query: dict[str, Any] = body["inputs"][0]["search"]["query"]["query"]
    return query


def _action(body: dict[str, Any]) -> dict[str, Any]:
    action: dict[str, Any] = body["triggers"][0]["bucket_level_trigger"]["actions"][0]
    return action


def _script_constants(source: str) -> dict[str, float]:
    return {name: float(value) for name, value in re.findall(r"double (\w+) = ([-\d.e]+);", source)}


@pytest.mark.parametrize(
    "rule",
    [
        BlockedSpike(),
        BlockedSpike(factor=4.5, floor=20, baseline_windows=6),
        BlockRatioJump(jump=0.35, min_requests=500),
    ],
    ids=repr,
)
def test_the_trigger_script_declares_exactly_the_rule_numbers(rule: BlockedSpike | BlockRatioJump) -> None:
    rules = AlertRules(rules=(rule,), default_channel="c")
    (request,) = monitor_requests(rules, PATTERN)
    condition = request.body["triggers"][0]["bucket_level_trigger"]["condition"]  # type: ignore[index]
    assert _script_constants(condition["script"]["source"]) == rule.params()
    assert monitor_requests(rules, PATTERN) == [request]  # the same definition renders the same body
    window_minutes = int(rule.window.total_seconds() // 60)
    baseline = request.body["inputs"][0]["search"]["query"]["aggregations"]["webacls"]["aggregations"][
        "baseline"
    ]  # type: ignore[index]
    start = 5 + window_minutes * (rule.baseline_windows + 1)
    assert baseline["filter"]["range"]["@timestamp"]["gte"] == f"{{{{period_end}}}}||-{start}m"


def test_a_changed_number_changes_the_script_and_the_digest() -> None:
    one, two = (
        monitor_requests(AlertRules(rules=(BlockedSpike(floor=floor),), default_channel="c"), PATTERN)[0].body
        for floor in (50, 51)
    )
    assert script_source(BlockedSpike(floor=51)) != script_source(BlockedSpike(floor=50))
    assert one["ui_metadata"] != two["ui_metadata"]
    stored = dict(one)
    meta = stored.pop("ui_metadata")
    assert meta == {"waflens": {"digest": digest(stored), "rule": "blocked-spike", "team": "default"}}


def test_without_channels_the_monitors_still_run_and_keep_their_alerts_for_on_call() -> None:
    requests = monitor_requests(AlertRules(), PATTERN)
    assert requests  # every rule, for everyone
    for request in requests:
        assert request.body["triggers"][0]["bucket_level_trigger"]["actions"] == []  # type: ignore[index]
        assert monitor_rules(request.body, validator=spec_validator(alerting=True)) == []


def test_the_detector_passes_the_documented_detector_rules() -> None:
    (request,) = [r for r in REQUESTS if r.kind == "detector"]
    assert (request.method, request.path) == ("POST", "/_plugins/_anomaly_detection/detectors")
    assert detector_rules(request.body, document_mappings(), validator=spec_validator()) == []
    description = request.body["description"]
    assert isinstance(description, str)
    assert re.search(r" \[digest [0-9a-f]{16}\]$", description)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b.update(detector_interval=b.pop("detection_interval")), "/detector_interval: unknown"),
        (lambda b: b.pop("time_field"), "/time_field: required"),
        (lambda b: b.update(category_field=["httpRequest.uri.text"]), "not a keyword or ip field"),
        (lambda b: b.update(shingle_size=61), "/shingle_size"),
        (
            lambda b: b["feature_attributes"][0]["aggregation_query"].update(x={"stats": {"field": "a"}}),
            "exactly one",
        ),
        (
            lambda b: b["feature_attributes"][0].update(
                aggregation_query={"r": {"stats": {"field": "responseCodeSent"}}}
            ),
            "must be one of",
        ),
        (
            lambda b: b["feature_attributes"][0].update(aggregation_query={"r": {"avg": {"feild": "x"}}}),
            "aggregation_query/r",
        ),
        (lambda b: b["window_delay"]["period"].update(unit="MINUTES"), "Minutes"),
    ],
    ids=["typo", "required", "category-type", "shingle", "two-aggs", "multi-metric", "agg-typo", "unit"],
)
def test_the_detector_check_catches_broken_bodies(change: Any, message: str) -> None:
    body = detector(AnomalyDetection(), PATTERN)
    change(body)
    errors = detector_rules(body, document_mappings(), validator=spec_validator())
    assert any(message in e for e in errors), errors


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        ({"blocked_spike": {"windw": "5m"}}, "unknown key alerts.blocked_spike.windw"),
        ({"blocked_spike": {"window": "7m"}}, "alerts.blocked_spike.window must divide an hour or a day"),
        (
            {"blocked_spike": {"window": "5 minutes"}},
            "alerts.blocked_spike.window '5 minutes' is not a duration",
        ),
        ({"blocked_spike": {"factor": 0.5}}, "alerts.blocked_spike.factor must be a number above 1"),
        ({"block_ratio": {"jump": 2}}, "alerts.block_ratio.jump must be a number above 0 and at most 1"),
        ({"block_ratio": {"min_requests": 0}}, "alerts.block_ratio.min_requests must be a whole number >= 1"),
        (
            {"no_logs": {"silence": "2d"}},
            "alerts.no_logs.silence must be shorter than alerts.no_logs.lookback",
        ),
        ({"channels": {"payments": "x"}}, "alerts.channels.default is required"),
        ({"channels": {"default": "a b"}}, "alerts.channels.default 'a b' is not a Notifications channel id"),
        ({"channels": {"default": "c", "bad team": "d"}}, "alerts.channels.bad team: a team name"),
        (
            {"anomaly_detection": {"shingle_size": 99}},
            "alerts.anomaly_detection.shingle_size must be at most 60",
        ),
        ({"blocked_spike": {"enabled": "no"}}, "alerts.blocked_spike.enabled must be true or false"),
    ],
)
def test_config_mistakes_are_one_sentence_naming_the_key(alerts: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        AlertRules.from_mapping({"alerts": alerts})


def test_defaults_suit_a_real_waf_and_rules_can_be_switched_off() -> None:
    defaults = AlertRules.from_mapping({})
    assert defaults.rules == (BlockedSpike(), BlockRatioJump(), NoLogs())
    assert BlockedSpike().params() == {"baseline_windows": 12, "factor": 3.0, "floor": 50}
    off = AlertRules.from_mapping(
        {"alerts": {"no_logs": {"enabled": False}, "anomaly_detection": {"enabled": False}}}
    )
    assert [r.name for r in off.rules] == ["blocked-spike", "block-ratio-jump"]
    assert off.anomaly_detection is None
    assert EXAMPLE.channel_for("payments") == "payments-oncall"
    assert EXAMPLE.channel_for("unknown") == EXAMPLE.channel_for(None) == "waflens-secops"
