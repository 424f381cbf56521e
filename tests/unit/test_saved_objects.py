"""Dashboards saved objects: golden, deterministic, accepted by the §4.3 checker, and on mapped fields."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dashboards.mappings import document_mappings, mapped_paths
from dashboards.saved_objects import (
    DashboardSettings,
    SavedObject,
    fields_used,
    query_fields,
    saved_objects,
    to_ndjson,
)
from dashboards.saved_objects.index_pattern import field_specs
from dashboards.saved_objects.model import Dashboard, Metric, Panel, Terms, TopTerms
from enrich.config import ConfigError
from tests.support.saved_objects_check import check_ndjson, panel_errors

GOLDEN = Path(__file__).resolve().parents[2] / "dashboards" / "golden" / "saved-objects.ndjson"
UPDATE = os.environ.get("WAFLENS_UPDATE_GOLDEN") == "1"  # regenerate after a deliberate change
JSON = dict[str, Any]


def _bundle() -> tuple[SavedObject, ...]:
    return saved_objects(DashboardSettings())


def _of(kind: str, objects: tuple[SavedObject, ...] | None = None) -> list[SavedObject]:
    return [o for o in objects or _bundle() if o.type == kind]


def _decoded(o: SavedObject, name: str) -> Any:
    value = o.attributes[name] if name != "searchSourceJSON" else o.attributes["kibanaSavedObjectMeta"]
    return json.loads(value[name] if name == "searchSourceJSON" else value)  # type: ignore[index]


def test_the_bundle_matches_its_golden_file_and_renders_the_same_every_time() -> None:
    rendered = to_ndjson(_bundle())
    if UPDATE:
        GOLDEN.write_text(rendered, encoding="utf-8")
    assert rendered == GOLDEN.read_text(encoding="utf-8"), "run with WAFLENS_UPDATE_GOLDEN=1 if intended"
    assert to_ndjson(saved_objects(DashboardSettings())) == rendered
    assert all(line == json.dumps(json.loads(line), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
               for line in rendered.splitlines())  # fmt: skip


def test_the_bundle_passes_every_rule_of_the_checker() -> None:
    assert check_ndjson(to_ndjson(_bundle())) == []


def test_the_bundle_holds_the_promised_content_in_import_order() -> None:
    objects = _bundle()
    assert [o.type for o in objects][:2] == ["index-pattern", "search"]
    assert len(_of("index-pattern")) == 1
    assert len(_of("search")) >= 1
    assert len(_of("visualization")) >= 12
    assert len(_of("dashboard")) >= 4
    assert len({o.key for o in objects}) == len(objects)
    assert all(o.id.startswith("waflens-") for o in objects)
    assert {o.type: o.migration_version for o in objects} == {
        "index-pattern": "7.6.0",
        "search": "7.9.3",
        "visualization": "7.10.0",
        "dashboard": "7.9.3",
    }


def test_every_field_the_objects_name_is_in_the_index_mapping() -> None:
    used = fields_used(_bundle())
    assert used - mapped_paths(document_mappings()) == set()
    assert {"waflens.terminating.owner.team", "waflens.counted", "waflens.labels", "ja4Fingerprint"} <= used


@pytest.mark.parametrize("board", _of("dashboard"), ids=lambda o: o.id)
def test_each_dashboards_panels_fit_the_grid_without_overlap(board: SavedObject) -> None:
    panels = _decoded(board, "panelsJSON")
    assert panel_errors(panels) == []
    assert all(p["version"] == "2.11.0" for p in panels)
    assert [r.name for r in board.references] == [f"panel_{n}" for n in range(len(panels))]


def test_the_saved_search_lists_the_investigation_columns_newest_first() -> None:
    [events] = _of("search")
    assert events.attributes["columns"] == [
        "@timestamp",
        "action",
        "httpRequest.clientIp",
        "httpRequest.country",
        "httpRequest.httpMethod",
        "httpRequest.uri",
        "httpRequest.host",
        "terminatingRuleId",
        "waflens.terminating.owner.team",
        "httpRequest.requestId",
    ]
    assert events.attributes["sort"] == [["@timestamp", "desc"]]
    assert document_mappings()["properties"]["@timestamp"]["type"] == "date"  # type: ignore[index]
    investigation = next(o for o in _of("dashboard") if o.id == "waflens-dashboard-investigation")
    assert {(r.type, r.id) for r in investigation.references} >= {
        ("search", events.id),
        ("visualization", "waflens-vis-top-client-ips"),
    }


@pytest.mark.parametrize("o", [o for o in _bundle() if o.type != "index-pattern"], ids=lambda o: o.id)
def test_search_sources_parse_and_query_mapped_fields(o: SavedObject) -> None:
    source = _decoded(o, "searchSourceJSON")
    assert source["query"]["language"] == "kuery"
    assert isinstance(source["query"]["query"], str)
    assert source["query"]["query"].count("(") == source["query"]["query"].count(")")
    assert source["filter"] == []
    assert query_fields(source["query"]["query"]) <= mapped_paths(document_mappings())
    if o.type != "dashboard":
        assert source["indexRefName"] == "kibanaSavedObjectMeta.searchSourceJSON.index"
        assert [r.as_dict() for r in o.references] == [
            {"name": source["indexRefName"], "type": "index-pattern", "id": "waflens-events"}
        ]


def test_query_fields_reads_field_names_not_escaped_or_quoted_values() -> None:
    assert query_fields("waflens.labels:awswaf\\:managed\\:aws\\:atp*") == {"waflens.labels"}
    assert query_fields('action:BLOCK and not (httpRequest.uri:"/a:b" or responseCodeSent >= 500)') == {
        "action",
        "httpRequest.uri",
        "responseCodeSent",
    }


def test_the_label_views_keep_only_their_rule_groups_labels() -> None:
    bots = next(o for o in _of("visualization") if o.id == "waflens-vis-bot-labels")
    [_, labels, _] = _decoded(bots, "visState")["aggs"]
    assert labels["params"]["field"] == "waflens.labels"
    assert labels["params"]["include"] == "awswaf:managed:aws:bot-control:.*"
    assert _decoded(bots, "searchSourceJSON")["query"]["query"] == (
        "waflens.labels:awswaf\\:managed\\:aws\\:bot-control*"
    )


def test_the_index_pattern_lists_mapped_fields_with_what_dashboards_can_do_with_them() -> None:
    [pattern] = _of("index-pattern")
    assert pattern.attributes["title"] == "waflens-events-*"
    assert pattern.attributes["timeFieldName"] == "@timestamp"
    specs = {s["name"]: s for s in json.loads(str(pattern.attributes["fields"]))}
    assert specs == {str(s["name"]): s for s in field_specs()}
    assert specs["httpRequest.uri.text"]["aggregatable"] is False
    assert specs["httpRequest.uri.text"]["subType"] == {"multi": {"parent": "httpRequest.uri"}}
    assert specs["ruleGroupList.ruleGroupId"]["subType"] == {"nested": {"path": "ruleGroupList"}}
    assert specs["waflens.client_ip"]["type"] == "ip"
    assert specs["waflens.ua.bot"]["type"] == "boolean"
    leaves = {p for p in mapped_paths(document_mappings()) if p in specs}
    assert {"@timestamp", "waflens.owasp", "waflens.geo.asn", "ja3Fingerprint"} <= leaves


# --- the checker catches what Dashboards would reject or fail to render -----------------------------


def _objects() -> list[JSON]:
    return [copy.deepcopy(o.as_dict()) for o in _bundle()]


def _first(objects: list[JSON], kind: str) -> JSON:
    return next(o for o in objects if o["type"] == kind)


def _rename(attributes: JSON, old: str, new: str) -> None:
    attributes[new] = attributes.pop(old)


def _edit_panels(objects: list[JSON], edit: Callable[[list[JSON]], None]) -> None:
    board = _first(objects, "dashboard")["attributes"]
    panels = json.loads(board["panelsJSON"])
    edit(panels)
    board["panelsJSON"] = json.dumps(panels)


def _set_terms_field(objects: list[JSON], field: str) -> None:
    vis = next(o for o in objects if o["id"] == "waflens-vis-top-blocked-uris")["attributes"]
    state = json.loads(vis["visState"])
    state["aggs"][1]["params"]["field"] = field
    vis["visState"] = json.dumps(state)


MUTATIONS: dict[str, tuple[Callable[[list[JSON]], None], str]] = {
    "typo attribute visstate": (
        lambda objs: _rename(_first(objs, "visualization")["attributes"], "visState", "visstate"),
        "attribute 'visstate' is not in the type's mapping",
    ),
    "truncated visState": (
        lambda objs: _first(objs, "visualization")["attributes"].update(
            visState=_first(objs, "visualization")["attributes"]["visState"][:40]
        ),
        "visState is not valid JSON",
    ),
    "opensearchDashboardsSavedObjectMeta": (
        lambda objs: _rename(
            _first(objs, "visualization")["attributes"],
            "kibanaSavedObjectMeta",
            "opensearchDashboardsSavedObjectMeta",
        ),
        "attribute 'opensearchDashboardsSavedObjectMeta' is not in the type's mapping",
    ),
    "panelRefName without reference": (
        lambda objs: _first(objs, "dashboard")["references"].pop(0),
        "'panel_0' has no matching reference",
    ),
    "migrationVersion 8.0.0": (
        lambda objs: _first(objs, "dashboard").update(migrationVersion={"dashboard": "8.0.0"}),
        "newer than the last known migration 7.9.3",
    ),
    "duplicate type:id": (lambda objs: objs.append(copy.deepcopy(objs[3])), "duplicate type:id"),
    "missing index pattern": (
        lambda objs: objs.pop(0),
        "-> index-pattern:waflens-events is not in the bundle",
    ),
    "gridData.w as a string": (
        lambda objs: _edit_panels(objs, lambda panels: panels[0]["gridData"].update(w="24")),
        "gridData needs integer x, y, w, h",
    ),
    'timeRestore "false"': (
        lambda objs: _first(objs, "dashboard")["attributes"].update(timeRestore="false"),
        "attribute 'timeRestore' must be boolean, not str",
    ),
    "type dashbaord": (
        lambda objs: _first(objs, "dashboard").update(type="dashbaord"),
        "type 'dashbaord' is not importable",
    ),
    "terms agg on a text field": (
        lambda objs: _set_terms_field(objs, "httpRequest.uri.text"),
        "httpRequest.uri.text: type 'text' cannot be aggregated",
    ),
    "terms agg on an unmapped field": (
        lambda objs: _set_terms_field(objs, "waflens.terminating.owner.teem"),
        "waflens.terminating.owner.teem: not in the mappings",
    ),
    "panels overlapping": (
        lambda objs: _edit_panels(objs, lambda panels: panels[1]["gridData"].update(x=0, y=0)),
        "overlaps panel 0",
    ),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_the_checker_catches_each_mutation(name: str) -> None:
    mutate, expected = MUTATIONS[name]
    objects = _objects()
    mutate(objects)
    errors = check_ndjson("".join(json.dumps(o) + "\n" for o in objects))
    assert errors, "the checker missed the mutation"
    assert all(expected in e for e in errors), errors  # caught by the rule meant for it, nothing else


def test_the_checker_reads_lines_the_way_the_import_does() -> None:
    bundle = to_ndjson(_bundle())
    summary = '{"exportedCount": 33, "missingRefCount": 0, "missingReferences": []}\n'
    assert check_ndjson(bundle + "\n" + summary) == []
    assert check_ndjson(bundle + '{"type": "visualization"\n') == [
        f"line {len(bundle.splitlines()) + 1}: not JSON (Expecting ',' delimiter)"
    ]


# --- builders and settings ---------------------------------------------------------------------------


def test_panels_flow_left_to_right_and_wrap_below_the_tallest_of_the_row() -> None:
    metric = Metric("waflens-vis-m", "m", "Requests")
    board = Dashboard("d", "d", "d", (Panel(metric, 12, 8), Panel(metric, 24, 15), Panel(metric, 24, 5)))
    assert [(p.x, p.y) for p in board.layout()] == [(0, 0), (12, 0), (0, 15)]


def test_builders_refuse_what_cannot_be_drawn() -> None:
    with pytest.raises(ValueError, match="w must be 1-48"):
        Panel(Metric("waflens-vis-m", "m", "Requests"), w=49)
    with pytest.raises(ValueError, match="at most one to stack"):
        TopTerms("waflens-vis-t", "t", "horizontal_bar", (Terms("a"), Terms("b"), Terms("c")))


def test_to_ndjson_refuses_a_bundle_the_import_would_reject() -> None:
    first = _bundle()[1]
    with pytest.raises(ValueError, match="search:waflens-search-events appears twice"):
        to_ndjson([first, first])


def test_settings_follow_the_index_prefix_and_move_every_reference() -> None:
    settings = DashboardSettings.from_mapping(
        {
            "index": {"prefix": "edge-waf"},
            "dashboards": {"index_pattern_id": "waflens-edge", "tenant": "secops"},
        }
    )
    assert settings == DashboardSettings(
        index_pattern_id="waflens-edge", tenant="secops", index_pattern="edge-waf-*"
    )
    objects = saved_objects(settings)
    assert objects[0].id == "waflens-edge"
    assert objects[0].attributes["title"] == "edge-waf-*"
    assert check_ndjson(to_ndjson(objects)) == []
    assert DashboardSettings.from_mapping({}) == DashboardSettings()
    assert DashboardSettings().tenant == "waflens"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"dashboards": {"tenat": "x"}}, "unknown key dashboards.tenat"),
        ({"dashboards": {"tenant": 3}}, "dashboards.tenant must be a string"),
        ({"dashboards": {"tenant": ""}}, "dashboards.tenant '' must be"),
        ({"dashboards": {"tenant": "sec ops"}}, "dashboards.tenant 'sec ops' must be"),
        ({"dashboards": {"tenant": "global"}}, "dashboards.tenant 'global' is built into the security"),
        ({"dashboards": {"index_pattern_id": "a/b"}}, "dashboards.index_pattern_id 'a/b' must be"),
        ({"dashboards": []}, "dashboards must be a table"),
    ],
)
def test_dashboard_settings_errors_name_the_key(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DashboardSettings.from_mapping(doc)
