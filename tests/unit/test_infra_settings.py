"""Context values: defaults, and one sentence naming the key for each mistake (no CDK, no Node.js)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.deployment import ConfigFacts
from infra.settings import DEFAULT_CONFIG, ROOT, InfraConfigError, InfraSettings, WebAcl


def test_defaults_describe_a_complete_deployment() -> None:
    settings = InfraSettings.from_context({})

    assert settings.stack_name == "waflens"
    assert settings.config == ROOT / DEFAULT_CONFIG
    assert settings.accounts == ()  # the deploying account
    assert settings.domain.mode == "create"
    assert (settings.domain.instance_type, settings.domain.instance_count) == ("t3.medium.search", 2)
    assert settings.domain.saml is None
    assert settings.firehose_name == "aws-waf-logs-waflens"
    assert settings.glue_database == "waflens_lake"
    assert settings.cloudwatch_log_group is None
    assert settings.web_acls == ()


def test_lists_come_as_comma_separated_text_or_json_lists() -> None:
    from_cli = InfraSettings.from_context(
        {"accounts": "111111111111, 012345678901", "web_acls": "111111111111/a"}
    )
    from_json = InfraSettings.from_context({"accounts": ["111111111111", "012345678901"]})

    assert from_cli.accounts == from_json.accounts == ("111111111111", "012345678901")
    assert from_cli.web_acls == (WebAcl("111111111111", "a"),)


@pytest.mark.parametrize(
    ("context", "names"),
    [
        ({"acounts": "1"}, "unknown context key 'acounts'"),
        ({"accounts": "12345"}, "context accounts: '12345' is not a 12-digit AWS account id"),
        ({"stack_name": "Waf Lens"}, "context stack_name"),
        ({"config": "missing.toml"}, "context config"),
        ({"log_retention_days": "10"}, "context log_retention_days must be one of"),
        ({"firehose_name": "waf-logs"}, "context firehose_name must start with aws-waf-logs-"),
        (
            {"opensearch": "existing"},
            "opensearch=existing needs opensearch_endpoint and opensearch_domain_arn",
        ),
        ({"opensearch": "managed"}, "context opensearch must be one of create, existing, none"),
        ({"opensearch_endpoint": "http://x"}, "context opensearch_endpoint must be an https:// URL"),
        ({"saml_entity_id": "https://idp"}, "SAML needs both saml_entity_id and saml_metadata"),
        ({"instance_count": "two"}, "context instance_count must be a whole number of at least 1"),
        ({"web_acls": "prod-api"}, "context web_acls: 'prod-api' is not ACCOUNT/NAME"),
        ({"dashboards_cidrs": "office"}, "context dashboards_cidrs: 'office' is not an IP range"),
        ({"glue_database": "Waf-Lake"}, "context glue_database"),
    ],
)
def test_a_wrong_value_is_one_sentence_naming_its_key(context: dict[str, object], names: str) -> None:
    with pytest.raises(InfraConfigError, match="^" + names.replace("(", r"\(")) as raised:
        InfraSettings.from_context(context)

    assert "\n" not in str(raised.value)


def test_saml_reads_the_metadata_file_and_needs_the_group_attribute(tmp_path: Path) -> None:
    metadata = tmp_path / "idp.xml"
    metadata.write_text("<md:EntityDescriptor/>", encoding="utf-8")
    context = {"saml_entity_id": "https://idp", "saml_metadata": str(metadata)}

    with pytest.raises(InfraConfigError, match="saml_roles_key"):
        InfraSettings.from_context(context)
    saml = InfraSettings.from_context({**context, "saml_roles_key": "groups"}).domain.saml

    assert saml is not None
    assert (saml.metadata, saml.roles_key, saml.master_group) == ("<md:EntityDescriptor/>", "groups", None)


def test_the_config_file_gives_the_index_prefix_the_teams_and_the_writers() -> None:
    facts = ConfigFacts.load(ROOT / DEFAULT_CONFIG)

    assert facts.index_prefix == "waflens-events"
    assert facts.teams == ("payments-eng", "platform-eng", "search-eng", "security", "unowned")
    assert facts.maps_writer("waflens-ingest")
    assert not facts.maps_writer("waflens-ingest-s3")


def test_a_broken_config_file_fails_synthesis_naming_the_file(tmp_path: Path) -> None:
    config = tmp_path / "waflens.toml"
    config.write_text("[index]\nprefix = 'UPPER'\n", encoding="utf-8")

    with pytest.raises(InfraConfigError, match=r"^context config: .*waflens.toml: index.prefix 'UPPER'"):
        ConfigFacts.load(config)
