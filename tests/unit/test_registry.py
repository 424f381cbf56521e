"""The registry: one config document gives every request and saved object ``waflens setup`` applies."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from dashboards.registry import setup_content
from enrich.config import ConfigError
from ingest.config_file import load_document

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "waflens.toml"


def test_the_example_config_registers_every_kind_of_content() -> None:
    content = setup_content(load_document(EXAMPLE))
    kinds = Counter(request.kind for request in content.requests)
    assert kinds["index-template"] == 1
    assert kinds["ism-policy"] == 1
    assert kinds["tenant"] == 1
    assert kinds["role"] >= 5  # the five built-in roles, then one per team
    assert kinds["role-mapping"] >= 5
    assert kinds["monitor"] >= 3  # each rule, per team with a channel and for the rest
    assert kinds["detector"] == 1
    assert len({request.name for request in content.requests}) == len(content.requests)
    assert {o.type for o in content.saved_objects} == {
        "index-pattern",
        "search",
        "visualization",
        "dashboard",
    }
    assert content.tenant == "waflens"


def test_the_tenant_of_the_saved_objects_is_the_tenant_the_roles_grant() -> None:
    content = setup_content({"dashboards": {"tenant": "secops"}})
    assert content.tenant == "secops"
    assert [r.path for r in content.requests if r.kind == "tenant"] == [
        "/_plugins/_security/api/tenants/secops"
    ]
    analyst = next(r for r in content.requests if r.name == "role:waflens-analyst")
    assert analyst.body["tenant_permissions"][0]["tenant_patterns"] == ["secops"]  # type: ignore[index]


def test_a_mistake_in_any_table_fails_the_whole_registry() -> None:
    with pytest.raises(ConfigError, match="access"):
        setup_content({"access": {"roles": {"auditor": {"backend_roles": ["x"]}}}})
