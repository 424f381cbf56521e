"""The CDK app synthesized once per test session, in the deployments the infra tests read.

Each synthesis starts jsii (Node.js), about 7 s, so every stack is built in one ``App`` by one fixture and
the tests read the templates. ``aws_cdk`` is imported inside the fixture: collecting other tests never
starts Node.js.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.settings import ROOT

SAML_METADATA = """<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor entityID="https://idp.example.com" xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
      Location="https://idp.example.com/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""
EXISTING_ARN = "arn:aws:es:eu-west-1:123456789012:domain/central-waf"


@dataclass(frozen=True)
class Synthesized:
    """One deployment: its context, its template (CDK's ``Template``, and as JSON) and its notices."""

    context: Mapping[str, object]
    template: Any  # aws_cdk.assertions.Template
    json: dict[str, Any]
    notices: list[str]

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        """The template's resources of CloudFormation type ``kind``, by logical id."""
        return {k: r for k, r in self.json["Resources"].items() if r["Type"] == kind}


def _mapped_config(folder: Path) -> Path:
    """The example config with the ``wafall`` stack's ingest roles mapped to the writer role."""
    text = (ROOT / "examples" / "waflens.toml").read_text(encoding="utf-8")
    roles = ", ".join(
        f'"arn:aws:iam::123456789012:role/wafall-ingest-{kind}"' for kind in ("firehose", "s3", "cloudwatch")
    )
    old = 'backend_roles = ["arn:aws:iam::123456789012:role/waflens-ingest"]'
    assert old in text, "the example's writer mapping changed; update this fixture"
    path = folder / "waflens.toml"
    path.write_text(text.replace(old, f"backend_roles = [{roles}]"), encoding="utf-8")
    return path


def deployments(folder: Path) -> dict[str, dict[str, object]]:
    """The contexts synthesized: the defaults, everything optional turned on, and a given domain."""
    metadata = folder / "idp-metadata.xml"
    metadata.write_text(SAML_METADATA, encoding="utf-8")
    return {
        "default": {},
        "full": {
            "stack_name": "wafall",
            "config": str(_mapped_config(folder)),
            "accounts": "111111111111,012345678901",
            "saml_entity_id": "https://idp.example.com",
            "saml_metadata": str(metadata),
            "saml_roles_key": "groups",
            "saml_master_group": "waf-admins",
            "dashboards_cidrs": "203.0.113.0/24",
            "cloudwatch_log_group": "aws-waf-logs-edge",
            "account_tags": "organizations",
            "backfill_buckets": "old-waf-logs",
            "web_acls": "111111111111/prod-api,012345678901/admin",
            "alarm_email": "secops@example.com",
            "instance_count": "3",
        },
        "existing": {
            "stack_name": "wafbyo",
            "opensearch": "existing",
            "opensearch_endpoint": "https://search-central-waf-abc.eu-west-1.es.amazonaws.com",
            "opensearch_domain_arn": EXISTING_ARN,
        },
        "lake-only": {"stack_name": "waflake", "opensearch": "none"},
    }


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    """Every deployment of ``deployments``, synthesized in one app."""
    import aws_cdk as cdk  # noqa: PLC0415  # starts Node.js: only the infra tests ask for it
    from aws_cdk.assertions import Template  # noqa: PLC0415

    from infra.app import build, stage_image  # noqa: PLC0415

    folder = tmp_path_factory.mktemp("infra")
    contexts = deployments(folder)
    image = stage_image({}, tmp_path_factory.mktemp("image"))
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("cdk.out")), analytics_reporting=False)
    stacks = {name: build(app, context, image) for name, context in contexts.items()}
    out = {}
    for name, stack in stacks.items():
        template = Template.from_stack(stack)
        out[name] = Synthesized(contexts[name], template, template.to_json(), stack.notices)
    return out


# pseudo parameters as plain words, so a resource reads arn:aws:es:region:account:domain/...
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "region",
    "AWS::AccountId": "account",
    "AWS::URLSuffix": "url",
}


def text(value: object) -> str:
    """A policy value with references written as the stem of their logical id (``LakeBucket``)."""
    if isinstance(value, str):
        return value
    assert isinstance(value, Mapping), value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(text(p) for p in parts)
    if "Ref" in value:
        return PSEUDO.get(value["Ref"], stem(value["Ref"]))
    if "Fn::GetAtt" in value:
        target, attribute = value["Fn::GetAtt"]
        return stem(target) if attribute == "Arn" else f"{stem(target)}.{attribute}"
    raise AssertionError(f"unexpected value {value}")


def stem(logical_id: str) -> str:
    """A logical id without the hash CDK appends (``LakeBucket9CD7BBD2`` -> ``LakeBucket``)."""
    return re.sub(r"[0-9A-F]{8}$", "", logical_id)


def listed(value: object) -> list[Any]:
    """A policy field that may be one value or a list, as a list."""
    return value if isinstance(value, list) else [value]


def grants(deployment: Synthesized, role_stem: str) -> set[tuple[str, str]]:
    """(action, resource) pairs the IAM policies attached to a role allow."""
    found = set()
    for resource in deployment.resources("AWS::IAM::Policy").values():
        props = resource["Properties"]
        if role_stem not in [text(r) for r in props.get("Roles", [])]:
            continue
        for statement in listed(props["PolicyDocument"]["Statement"]):
            assert statement["Effect"] == "Allow"
            for action in listed(statement["Action"]):
                found |= {(action, text(r)) for r in listed(statement["Resource"])}
    return found
