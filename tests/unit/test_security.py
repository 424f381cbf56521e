"""Security as code: roles, mappings and the tenant are least privilege, golden and accepted by the spec."""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from dashboards.cluster import ClusterRequest, digest
from dashboards.mappings import document_mappings
from dashboards.security import (
    ROLE_NAMES,
    AccessConfig,
    Principals,
    role_name,
    security_requests,
    team_dls,
    team_query,
    teams,
)
from dashboards.security.roles import ANALYST_HIDDEN
from dashboards.settings import ClusterSettings
from devtools.generate import iter_records
from enrich.config import ConfigError, EnrichConfig
from enrich.documents import BULK_LINES, bulk_lines
from tests.support.dls import dls_filter, field
from tests.support.opensearch_spec import (
    mapping_field_rules,
    role_mapping_rules,
    role_rules,
    spec_validator,
)
from tests.support.pipeline import enriched

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "dashboards" / "golden"
UPDATE = os.environ.get("WAFLENS_UPDATE_GOLDEN") == "1"  # regenerate after a deliberate change
SPEC_GROUP = {
    "tenant": "security.create_tenant",
    "role": "security.create_role",
    "role-mapping": "security.create_role_mapping",
}
_DIGEST = re.compile(r"^(?P<text>.*) \[digest (?P<digest>[0-9a-f]{16})\]$")


@cache
def example() -> Mapping[str, Any]:
    with (ROOT / "examples" / "waflens.toml").open("rb") as handle:
        return tomllib.load(handle)


def example_requests() -> list[ClusterRequest]:
    doc = example()
    return security_requests(
        AccessConfig.from_mapping(doc), EnrichConfig.from_mapping(doc), ClusterSettings.from_mapping(doc)
    )


def golden_path(request_: ClusterRequest) -> Path:
    return GOLDEN / f"{request_.name.replace(':', '-')}.json"


def role_body(name: str) -> dict[str, Any]:
    return next(r.body for r in example_requests() if r.name == f"role:{name}")


def actions(body: Mapping[str, Any]) -> list[str]:
    index = [a for p in body.get("index_permissions", []) for a in p["allowed_actions"]]
    tenant = [a for p in body.get("tenant_permissions", []) for a in p["allowed_actions"]]
    return [*body.get("cluster_permissions", []), *index, *tenant]


# -- rendering -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("request_", example_requests(), ids=lambda r: r.name)
def test_rendered_requests_match_their_golden_files(request_: ClusterRequest) -> None:
    golden = golden_path(request_)
    if UPDATE:
        golden.write_text(request_.render(), encoding="utf-8")
    assert request_.render() == golden.read_text(encoding="utf-8"), (
        "run with WAFLENS_UPDATE_GOLDEN=1 if intended"
    )


def test_no_golden_file_is_left_from_a_role_that_is_gone() -> None:
    on_disk = {p.name for kind in SPEC_GROUP for p in GOLDEN.glob(f"{kind}-*.json")}
    assert on_disk == {golden_path(r).name for r in example_requests()}


def test_requests_come_tenant_first_then_roles_then_mappings_and_render_the_same_twice() -> None:
    requests = example_requests()
    kinds = [r.kind for r in requests]
    assert kinds == sorted(kinds, key=["tenant", "role", "role-mapping"].index)
    assert [r.name for r in requests[:6]] == [
        "tenant:waflens",
        "role:waflens-analyst",
        "role:waflens-responder",
        "role:waflens-oncall",
        "role:waflens-admin",
        "role:waflens-writer",
    ]
    assert [r.render() for r in requests] == [r.render() for r in example_requests()]
    for r in requests:
        assert (
            r.path
            == {
                "tenant": "/_plugins/_security/api/tenants/waflens",
                "role": f"/_plugins/_security/api/roles/{r.name.split(':', 1)[1]}",
                "role-mapping": f"/_plugins/_security/api/rolesmapping/{r.name.split(':', 1)[1]}",
            }[r.kind]
        )
        assert r.method == "PUT"


def test_every_description_ends_with_the_digest_of_the_body_without_it() -> None:
    for r in example_requests():
        match = _DIGEST.match(str(r.body["description"]))
        assert match is not None, r.name
        assert match["digest"] == digest({**r.body, "description": match["text"]}), r.name


def test_a_changed_mapping_changes_only_that_mapping_and_its_digest() -> None:
    doc = dict(example())
    before = {r.name: r.body for r in example_requests()}
    doc["access"] = {**doc["access"], "roles": {**doc["access"]["roles"], "analyst": {"users": ["ana"]}}}
    after = {
        r.name: r.body
        for r in security_requests(
            AccessConfig.from_mapping(doc), EnrichConfig.from_mapping(doc), ClusterSettings.from_mapping(doc)
        )
    }
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"role-mapping:waflens-analyst"}
    assert after["role-mapping:waflens-analyst"]["users"] == ["ana"]
    assert "backend_roles" not in after["role-mapping:waflens-analyst"]


def test_only_roles_someone_is_mapped_to_get_a_mapping() -> None:
    requests = security_requests(AccessConfig(), EnrichConfig(), ClusterSettings())
    assert [r.name for r in requests] == ["tenant:waflens"] + [f"role:{role_name(r)}" for r in ROLE_NAMES]
    mapped = {r.name for r in example_requests() if r.kind == "role-mapping"}
    assert "role-mapping:waflens-team-identity" not in mapped  # a team the example does not map
    assert "role:waflens-team-identity" in {r.name for r in example_requests()}


def test_the_example_maps_the_idp_groups_and_the_ingesters_iam_role() -> None:
    bodies = {r.name: r.body for r in example_requests() if r.kind == "role-mapping"}
    assert {name: body.get("backend_roles") for name, body in bodies.items()} == {
        "role-mapping:waflens-analyst": ["waf-analysts"],
        "role-mapping:waflens-responder": ["secops-incident-response"],
        "role-mapping:waflens-oncall": ["waf-oncall"],
        "role-mapping:waflens-admin": ["waf-admins"],
        "role-mapping:waflens-writer": ["arn:aws:iam::123456789012:role/waflens-ingest"],
        "role-mapping:waflens-team-payments": ["waf-team-payments"],
        "role-mapping:waflens-team-payments-eng": ["waf-team-payments-eng"],
        "role-mapping:waflens-team-search": ["waf-team-search"],
        "role-mapping:waflens-team-security": ["secops-waf-owners"],
    }


def test_the_index_prefix_and_tenant_are_followed() -> None:
    requests = security_requests(
        AccessConfig(), EnrichConfig(), ClusterSettings(index_prefix="waf"), tenant="secops"
    )
    assert requests[0].path == "/_plugins/_security/api/tenants/secops"
    for r in requests[1:]:
        assert [p["index_patterns"] for p in r.body["index_permissions"]] == [["waf-*"]]  # type: ignore[union-attr]
        for tenant in r.body.get("tenant_permissions", []):  # type: ignore[attr-defined]
            assert tenant["tenant_patterns"] == ["secops"]
    with pytest.raises(ConfigError, match="tenant 'sec/ops' must be letters"):
        security_requests(AccessConfig(), EnrichConfig(), ClusterSettings(), tenant="sec/ops")


# -- the spec and the plugin's own rules ---------------------------------------------------------------


@pytest.mark.parametrize("request_", example_requests(), ids=lambda r: r.name)
def test_every_body_passes_the_strict_spec_and_the_plugins_rules(request_: ClusterRequest) -> None:
    validator = spec_validator()
    assert validator.body(SPEC_GROUP[request_.kind], request_.body) == []
    if request_.kind == "role":
        assert role_rules(request_.body, validator=validator) == []
    if request_.kind == "role-mapping":
        assert role_mapping_rules(request_.body) == []


def test_the_validators_would_catch_a_broken_role_and_mapping() -> None:
    broken = role_body("waflens-team-payments")
    permission = {**broken["index_permissions"][0], "dls": '{"bool":{"shuld":[]}}'}
    assert role_rules({**broken, "index_permissions": [permission]}) != []
    assert spec_validator().body("security.create_role", {**broken, "index_pattern": ["x"]}) != []
    assert spec_validator().body("security.create_role_mapping", {"backendroles": ["waf-analysts"]}) != []


def test_hidden_and_filtered_fields_exist_in_the_index_mapping() -> None:
    mappings = document_mappings()
    assert mapping_field_rules(mappings, ANALYST_HIDDEN, aggregatable=False) == []
    query = team_query(teams(AccessConfig(), EnrichConfig.from_mapping(example()))[0])
    fields = [next(iter(clause[kind])) for clause in query["bool"]["should"] for kind in clause]  # type: ignore[index]
    assert mapping_field_rules(mappings, fields, aggregatable=True) == []  # term queries need keywords


# -- least privilege -----------------------------------------------------------------------------------

FORBIDDEN = {"*", "unlimited", "indices_all", "cluster_all", "data_access", "manage_snapshots"}
READ_GROUPS = {"read", "search", "get", "crud", "suggest", "manage_point_in_time", "cluster_composite_ops_ro"}


@pytest.mark.parametrize(
    "request_", [r for r in example_requests() if r.kind == "role"], ids=lambda r: r.name
)
def test_no_role_holds_everything_or_the_security_api(request_: ClusterRequest) -> None:
    granted = actions(request_.body)
    assert FORBIDDEN.isdisjoint(granted)
    assert not [a for a in granted if a.startswith(("restapi:", "cluster:admin/opendistro/security"))]
    assert not [a for a in granted if a.endswith(":*") or a in ("cluster:*", "indices:*")]
    patterns = [p for perm in request_.body["index_permissions"] for p in perm["index_patterns"]]  # type: ignore[union-attr]
    assert patterns == ["waflens-events-*"]


def test_the_writer_can_only_bulk_index_into_daily_indices_it_may_create() -> None:
    writer = role_body("waflens-writer")
    assert writer["cluster_permissions"] == ["indices:data/write/bulk"]
    assert writer["index_permissions"] == [
        {
            "index_patterns": ["waflens-events-*"],
            "allowed_actions": [
                "indices:data/write/bulk*",
                "indices:data/write/index",
                "indices:admin/create",
            ],
        }
    ]
    assert "tenant_permissions" not in writer
    granted = actions(writer)
    assert READ_GROUPS.isdisjoint(granted)
    assert not [a for a in granted if "/read" in a]


def test_the_sink_sends_only_index_actions_that_the_writer_is_granted() -> None:
    frame = enriched([r.decode() for r in iter_records(20, seed=1)])
    lines = bulk_lines(frame.lazy()).collect()[BULK_LINES].to_list()
    operations = {next(iter(json.loads(text.split("\n", 1)[0]))) for text in lines}
    assert operations == {"index"}  # covered by indices:data/write/index; "create" would be too


def test_analysts_and_oncall_see_no_request_content_but_responders_see_everything() -> None:
    for name in ("waflens-analyst", "waflens-oncall", "waflens-team-payments"):
        permission = role_body(name)["index_permissions"][0]
        assert permission["fls"] == [f"~{f}" for f in ANALYST_HIDDEN]
        assert "read" not in permission["allowed_actions"]  # no point-in-time, no term vectors
    responder = role_body("waflens-responder")
    assert "fls" not in responder["index_permissions"][0]
    assert "read" in responder["index_permissions"][0]["allowed_actions"]
    assert "cluster:admin/opendistro/reports/menu/download" in responder["cluster_permissions"]
    assert not [a for a in actions(role_body("waflens-analyst")) if "reports" in a]
    assert "httpRequest.clientIp" not in ANALYST_HIDDEN  # analysts decide on IP blocks (README)


def test_oncall_reads_and_acknowledges_alerts_but_cannot_change_monitors() -> None:
    cluster = role_body("waflens-oncall")["cluster_permissions"]
    assert {
        "cluster:admin/opendistro/alerting/alerts/get",
        "cluster:admin/opendistro/alerting/alerts/ack",
        "cluster:admin/opendistro/alerting/monitor/get",
        "cluster:admin/opendistro/alerting/monitor/search",
    } <= set(cluster)
    assert not [a for a in cluster if a.endswith(("/write", "/delete", "/*"))]


def test_the_admin_manages_content_and_saved_objects_without_the_security_api() -> None:
    admin = role_body("waflens-admin")
    assert admin["tenant_permissions"] == [
        {"tenant_patterns": ["waflens"], "allowed_actions": ["kibana_all_write"]}
    ]
    assert {"cluster_manage_index_templates", "cluster:admin/opendistro/alerting/*"} <= set(
        admin["cluster_permissions"]
    )
    assert admin["index_permissions"][0]["allowed_actions"] == ["crud", "manage"]
    others = [role_body(n) for n in ("waflens-analyst", "waflens-responder", "waflens-oncall")]
    assert all(t["allowed_actions"] == ["kibana_all_read"] for b in others for t in b["tenant_permissions"])


# -- teams and document-level security -----------------------------------------------------------------


def test_teams_come_from_owners_accounts_and_access_but_not_the_default_owner() -> None:
    found = teams(AccessConfig.from_mapping(example()), EnrichConfig.from_mapping(example()))
    assert [(t.name, t.role, t.account_ids) for t in found] == [
        ("identity", "waflens-team-identity", ("333333333333",)),
        ("payments", "waflens-team-payments", ("111111111111",)),
        ("payments-eng", "waflens-team-payments-eng", ()),
        ("platform", "waflens-team-platform", ("444444444444",)),
        ("platform-eng", "waflens-team-platform-eng", ()),
        ("search", "waflens-team-search", ("222222222222",)),
        ("search-eng", "waflens-team-search-eng", ()),
        ("security", "waflens-team-security", ()),
    ]
    extra = AccessConfig.from_mapping({"access": {"teams": {"Fraud Ops": {"users": ["fay"]}}}})
    assert [(t.name, t.role) for t in teams(extra, EnrichConfig())] == [
        ("Fraud Ops", "waflens-team-fraud-ops")
    ]


def test_two_teams_that_would_share_a_role_are_refused() -> None:
    access = AccessConfig.from_mapping({"access": {"teams": {"Fraud Ops": {}, "fraud-ops": {}}}})
    with pytest.raises(ConfigError, match="teams 'Fraud Ops' and 'fraud-ops' would share the role"):
        teams(access, EnrichConfig())


def test_a_team_query_is_its_accounts_or_its_account_tag_or_its_rule_groups() -> None:
    payments = next(
        t for t in teams(AccessConfig(), EnrichConfig.from_mapping(example())) if t.name == "payments"
    )
    assert json.loads(team_dls(payments)) == {
        "bool": {
            "minimum_should_match": 1,
            "should": [
                {"terms": {"waflens.account.id": ["111111111111"]}},
                {"term": {"waflens.account.team": "payments"}},
                {"term": {"waflens.terminating.owner.team": "payments"}},
            ],
        }
    }


def _doc(account: str | None, tag: str | None, owner: str) -> dict[str, object]:
    return {"account": {"id": account, "team": tag}, "terminating": {"owner": {"team": owner}}}


def test_team_dls_selects_exactly_the_teams_documents_on_hand_built_documents() -> None:
    frame = pl.DataFrame(
        {
            "_id": ["tagged", "untagged-yet", "org-tagged", "owned-elsewhere", "other", "no-account"],
            "waflens": [
                _doc("111111111111", "payments", "security"),
                _doc("111111111111", None, "unowned"),  # indexed before the account was tagged
                _doc("999999999999", "payments", "security"),  # tagged by AWS Organizations only
                _doc("222222222222", "search", "payments-eng"),  # payments-eng's rule group, search's account
                _doc("222222222222", "search", "security"),
                _doc(None, None, "unowned"),
            ],
        }
    )
    by_team = {t.name: t for t in teams(AccessConfig(), EnrichConfig.from_mapping(example()))}

    def selected(team: str) -> list[str]:
        return frame.filter(dls_filter(team_dls(by_team[team])))["_id"].to_list()

    assert selected("payments") == ["tagged", "untagged-yet", "org-tagged"]
    assert selected("payments-eng") == ["owned-elsewhere"]
    assert selected("search") == ["owned-elsewhere", "other"]
    assert selected("security") == ["tagged", "org-tagged", "other"]
    assert selected("identity") == []


def test_team_dls_selects_exactly_its_accounts_and_owned_rule_groups_in_enriched_logs() -> None:
    config = EnrichConfig.from_mapping(example())
    frame = enriched([r.decode() for r in iter_records(3000, seed=3)], config=config)
    account = field("waflens.webacl.account_id")  # from the web ACL's ARN, not from the account tags
    owner = field("waflens.terminating.owner.team")
    for team in teams(AccessConfig.from_mapping(example()), config):
        got = set(frame.filter(dls_filter(team_dls(team)))["_id"])
        expected = set(
            frame.filter(account.is_in(list(team.account_ids)).fill_null(False) | (owner == team.name))["_id"]
        )
        assert got == expected, team.name
        assert got < set(frame["_id"]), f"{team.name} sees every document"
    payments_eng = next(t for t in teams(AccessConfig(), config) if t.name == "payments-eng")
    assert frame.filter(dls_filter(team_dls(payments_eng))).height > 0  # the generator uses its rule group


# -- configuration ---------------------------------------------------------------------------------------


def test_the_access_table_parses_into_principals() -> None:
    access = AccessConfig.from_mapping(example())
    assert access.principals("writer") == Principals(
        backend_roles=("arn:aws:iam::123456789012:role/waflens-ingest",)
    )
    assert access.team("security") == Principals(backend_roles=("secops-waf-owners",))
    assert not access.team("identity")
    assert AccessConfig.from_mapping({}) == AccessConfig()
    service_role = {"backend_roles": ["arn:aws:iam::123456789012:role/service-role/ingest"]}
    assert AccessConfig.from_mapping({"access": {"roles": {"writer": service_role}}}).writer


@pytest.mark.parametrize(
    ("access", "message"),
    [
        (
            {"roles": {"viewer": {}}},
            r"unknown role access.roles.viewer \(the built-in roles are: analyst, responder, oncall, admin, "
            r"writer\)",
        ),
        ({"groups": {}}, r"unknown key access.groups \(expected one of: roles, teams\)"),
        ({"roles": {"analyst": {"groups": []}}}, "unknown key access.roles.analyst.groups"),
        ({"roles": {"analyst": {"backend_roles": "waf-analysts"}}}, "backend_roles must be a list of names"),
        (
            {"roles": {"analyst": {"users": [""]}}},
            r"access.roles.analyst.users\[0\] must be a non-empty name",
        ),
        ({"roles": {"analyst": {"users": ["ana", "ana"]}}}, r"users\[1\] 'ana' is listed twice"),
        (
            {"roles": {"writer": {"backend_roles": ["arn:aws:iam::1234:role/x"]}}},
            r"backend_roles\[0\] 'arn:aws:iam::1234:role/x' is not an IAM ARN like",
        ),
        (
            {"roles": {"writer": {"backend_roles": ["arn:aws:sts::123456789012:assumed-role/ingest/fn"]}}},
            "is an STS session; map the IAM role ARN",
        ),
        (
            {"roles": {"writer": {"backend_roles": ["arn:aws:iam::123456789012:user/ci"]}}},
            "is an IAM user; list it under users",
        ),
        (
            {"roles": {"writer": {"users": ["arn:aws:iam::123456789012:role/waflens-ingest"]}}},
            "is an IAM role; list it under backend_roles",
        ),
        ({"teams": {"payments": []}}, 'access.teams."payments" must be a table'),
        ({"teams": {" ": {}}}, "access.teams: a team name must not be empty"),
        ("everyone", "access must be a table"),
    ],
)
def test_access_config_errors_name_the_key(access: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AccessConfig.from_mapping({"access": access})


def test_the_example_config_is_still_a_valid_enrichment_config() -> None:
    assert EnrichConfig.from_mapping(example()).accounts  # [access] is read by dashboards.security only
