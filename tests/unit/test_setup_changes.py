"""What setup decides for each piece of content: digests, stamps, and new / stale / edited objects."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opensearchpy import ConnectionError as OpenSearchConnectionError
from opensearchpy import TransportError

from dashboards.cluster import ClusterRequest
from ingest.setup.apply import describe
from ingest.setup.changes import (
    ChangedObject,
    SetupReport,
    classify,
    content_digest,
    described_digest,
    stamped,
    stored_marker,
)
from ingest.setup.opensearch import KIND_ORDER, ordered
from tests.support.setup_content import saved_objects, synthetic_content

SECRET = "Authorization: Bearer wlsecret-7f3a9c"


def _vis(**version: int) -> dict[str, Any]:
    return saved_objects(version)[1].as_dict()


def _edit(obj: dict[str, Any], **attributes: object) -> dict[str, Any]:
    return {**obj, "attributes": {**obj["attributes"], **attributes}}


def test_a_stamped_description_ends_with_the_digest_of_the_content() -> None:
    obj = stamped(_vis())

    description = obj["attributes"]["description"]  # type: ignore[index]
    assert description == f"[waflens {content_digest(obj)}]"
    assert stored_marker(obj) == content_digest(_vis())
    assert stamped(obj) == obj  # stamping twice changes nothing


def test_a_description_keeps_its_text_before_the_marker() -> None:
    dashboard = stamped(saved_objects({})[2].as_dict())

    assert dashboard["attributes"]["description"].startswith("What WAF blocked, and why [waflens ")  # type: ignore[index]


def test_the_digest_ignores_json_spacing_key_order_reference_order_and_unmapped_keys() -> None:
    obj = stamped(_vis())
    vis_state = json.loads(obj["attributes"]["visState"])  # type: ignore[index]
    respaced = _edit(obj, visState=json.dumps(vis_state, indent=4, sort_keys=True), serverAdded=1)

    assert content_digest(respaced) == content_digest(obj)


@pytest.mark.parametrize(
    "edit",
    [
        {"title": "Mine now"},
        {"visState": json.dumps({"type": "pie", "params": {}})},
        {"kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({"query": {"query": "action:ALLOW"}})}},
        {"savedSearchRefName": "search_0"},  # a mapped key waflens did not write
    ],
    ids=["title", "visState", "searchSource", "added-key"],
)
def test_any_edit_of_what_waflens_wrote_changes_the_digest(edit: dict[str, object]) -> None:
    obj = stamped(_vis())

    assert content_digest(_edit(obj, **edit)) != content_digest(obj)


def test_an_object_not_on_the_cluster_is_created() -> None:
    assert classify(stamped(_vis()), None) == "created"


def test_an_untouched_object_is_unchanged_when_equal_and_updated_when_waflens_changed_it() -> None:
    on_cluster = stamped(_vis())

    assert classify(stamped(_vis()), on_cluster) == "unchanged"
    assert classify(stamped(_vis(visualization=2)), on_cluster) == "updated"
    assert classify(_vis(visualization=2), on_cluster) == "updated"  # stamping is setup's job


def test_an_object_edited_on_the_cluster_is_reported_whatever_waflens_wants() -> None:
    edited = _edit(stamped(_vis()), title="Blocked (mine)")

    assert classify(stamped(_vis()), edited) == "changed on the cluster"
    assert classify(stamped(_vis(visualization=2)), edited) == "changed on the cluster"


def test_an_object_waflens_never_wrote_is_reported_not_overwritten() -> None:
    foreign = _vis()  # same type and id, no marker

    assert classify(stamped(_vis()), foreign) == "changed on the cluster"


def test_index_patterns_compare_title_and_time_field() -> None:
    pattern = saved_objects({})[0].as_dict()
    refreshed = _edit(pattern, fields="[...]")  # Dashboards refreshes the field list itself

    assert classify(pattern, refreshed) == "unchanged"
    assert classify(pattern, _edit(pattern, timeFieldName="timestamp")) == "changed on the cluster"
    assert classify(pattern, _edit(pattern, title="waf-*")) == "changed on the cluster"


def test_the_digest_at_the_end_of_a_description_is_read() -> None:
    assert described_digest("waflens analysts [digest 0123abcd]") == "0123abcd"
    assert described_digest("a [digest 0123abcd] then more") is None
    assert described_digest(None) is None


def test_the_report_lists_changes_then_changed_objects() -> None:
    report = SetupReport(changes={"index-template": "created", "visualization:v": "changed on the cluster"})
    report.changed_on_cluster.append(ChangedObject("visualization", "v", "Blocked"))

    assert report.kept_user_changes
    assert report.as_dict() == {
        "index-template": "created",
        "visualization:v": "changed on the cluster",
        "changed_on_cluster": [{"type": "visualization", "id": "v", "title": "Blocked"}],
    }


def test_requests_are_applied_in_kind_order_and_unknown_kinds_refused() -> None:
    shuffled = list(reversed(synthetic_content().requests))

    assert [r.kind for r in ordered(shuffled)] == list(KIND_ORDER)
    with pytest.raises(ValueError, match="no apply step for widget"):
        ordered([*shuffled, ClusterRequest("widget:x", "PUT", "/x", {})])


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (TransportError(400, f"bad {SECRET}", {"error": {"reason": SECRET}}), "HTTP 400"),
        (
            TransportError(409, "version_conflict_engine_exception", {}),
            "HTTP 409 version_conflict_engine_exception",
        ),
        (
            OpenSearchConnectionError("N/A", SECRET, OSError(SECRET)),
            "no answer from OpenSearch (ConnectionError)",
        ),
    ],
    ids=["reason-quoting-the-body", "type", "connection"],
)
def test_an_opensearch_error_is_described_without_its_reason(error: TransportError, expected: str) -> None:
    assert describe(error) == expected
