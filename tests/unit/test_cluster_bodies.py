"""Everything waflens sends to set up a cluster: deterministic, golden, and accepted by the strict spec."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

from dashboards.cluster import ClusterRequest, index_template, ism_policy, setup_requests
from dashboards.mappings import NESTED, document_mappings, mapped_paths
from dashboards.settings import ClusterSettings
from enrich import schema as S
from enrich.config import ConfigError
from tests.support.opensearch_spec import index_template_rules, ism_policy_rules, spec_validator

GOLDEN = Path(__file__).resolve().parents[2] / "dashboards" / "golden"
UPDATE = os.environ.get("WAFLENS_UPDATE_GOLDEN") == "1"  # regenerate after a deliberate change


@pytest.mark.parametrize("request_", setup_requests(ClusterSettings()), ids=lambda r: r.name)
def test_rendered_requests_match_their_golden_files(request_: ClusterRequest) -> None:
    golden = GOLDEN / f"{request_.name}.json"
    if UPDATE:
        golden.write_text(request_.render(), encoding="utf-8")
    assert request_.render() == golden.read_text(encoding="utf-8"), (
        "run with WAFLENS_UPDATE_GOLDEN=1 if intended"
    )


def test_rendering_is_deterministic_and_settings_change_the_digest() -> None:
    assert [r.render() for r in setup_requests(ClusterSettings())] == [
        r.render() for r in setup_requests(ClusterSettings())
    ]
    other = index_template(ClusterSettings(replicas=2))
    assert other["_meta"]["digest"] != index_template(ClusterSettings())["_meta"]["digest"]  # type: ignore[index]


@pytest.mark.parametrize(
    "settings",
    [
        ClusterSettings(),
        ClusterSettings(warm_after_days=0, delete_after_days=90, index_prefix="waf", shards=3),
    ],
    ids=["default", "no-warm"],
)
def test_template_and_policy_pass_the_strict_spec_and_project_rules(settings: ClusterSettings) -> None:
    validator = spec_validator()
    template, policy = index_template(settings), ism_policy(settings)
    assert validator.body("indices.put_index_template", template) == []
    assert [e for e in index_template_rules(template) if not e.startswith("warning")] == []
    assert validator.body("ism.put_policy", policy) == []
    assert ism_policy_rules(policy) == []


def test_the_validator_would_catch_a_broken_template() -> None:
    broken = index_template(ClusterSettings())
    broken["template"]["mappings"]["properties"]["action"] = {"type": "keywrd"}  # type: ignore[index]
    assert spec_validator().body("indices.put_index_template", broken) != []


def _schema_paths(dtype: object, prefix: str) -> set[str]:
    if isinstance(dtype, pl.List):
        return _schema_paths(dtype.inner, prefix)
    if isinstance(dtype, pl.Struct):
        paths: set[str] = set()
        for f in dtype.fields:
            paths |= {f"{prefix}{f.name}"} | _schema_paths(f.dtype, f"{prefix}{f.name}.")
        return paths
    return set()


def test_the_mapping_covers_every_field_of_the_enriched_schema() -> None:
    expected = set()
    for name, dtype in S.ENRICHED.items():
        if name not in (S.DOC_ID, S.DOC_INDEX, S.EVENT_ORIGINAL):
            expected |= {name} | _schema_paths(dtype, f"{name}.")
    mapped = mapped_paths(document_mappings())
    assert expected <= mapped
    assert mapped - expected == {"httpRequest.uri.text", "httpRequest.args.text", "waflens.user_agent.text"}


def test_rule_lists_are_nested_headers_are_a_list_and_unknown_fields_are_not_indexed() -> None:
    mappings = document_mappings()
    properties = mappings["properties"]
    assert mappings["dynamic"] is False
    assert {name for name in NESTED if properties[name]["type"] == "nested"} == NESTED  # type: ignore[index]
    headers = properties["httpRequest"]["properties"]["headers"]  # type: ignore[index]
    assert headers == {
        "properties": {
            "name": {"type": "keyword", "ignore_above": 1024},
            "value": {"type": "keyword", "ignore_above": 1024},
        }
    }
    assert properties["waflens"]["properties"]["client_ip"] == {"type": "ip"}  # type: ignore[index]
    assert properties["httpRequest"]["properties"]["clientIp"]["type"] == "keyword"  # type: ignore[index]
    settings = index_template(ClusterSettings())["template"]["settings"]["index"]  # type: ignore[index]
    assert settings["mapping"]["ignore_malformed"] is True


def test_retention_goes_hot_warm_delete_and_attaches_to_the_daily_indices() -> None:
    policy = ism_policy(ClusterSettings(warm_after_days=7, delete_after_days=30))["policy"]
    states = {s["name"]: s for s in policy["states"]}  # type: ignore[index]
    assert list(states) == ["hot", "warm", "delete"]
    assert states["hot"]["transitions"] == [{"state_name": "warm", "conditions": {"min_index_age": "7d"}}]
    assert states["warm"]["transitions"] == [{"state_name": "delete", "conditions": {"min_index_age": "30d"}}]
    assert policy["ism_template"] == [{"index_patterns": ["waflens-events-*"], "priority": 100}]  # type: ignore[index]
    assert json.dumps(states["delete"]["actions"]).startswith('[{"delete": {}')


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"retention": {"warm_after_days": 30, "delete_after_days": 30}},
            "warm_after_days must be less than",
        ),
        ({"retention": {"delete_after_days": 0}}, "retention.delete_after_days must be a whole number >= 1"),
        ({"index": {"refresh_interval": "soon"}}, "is not a duration"),
        ({"index": {"shards": "two"}}, "index.shards must be a whole number >= 1"),
        ({"retention": {"keep": 1}}, "unknown key retention.keep"),
    ],
)
def test_cluster_settings_errors_name_the_key(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ClusterSettings.from_mapping(doc)
