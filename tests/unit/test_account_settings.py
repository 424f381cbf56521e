"""Account tag settings: off by default, AWS Organizations when asked, each mistake one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from enrich.config import ConfigError
from ingest.accounts import OrganizationsDirectory
from ingest.cli.main import _parser, settings_from_args
from ingest.compose import Clients, Settings, build_pipeline
from ingest.environment import ENV_ACCOUNT_TAGS, ENV_ACCOUNT_TAGS_TTL, ENV_LAKE, settings_from_environ
from tests.unit.test_accounts import FakeOrganizations


def test_account_tags_are_off_unless_the_environment_asks_for_organizations(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    off = settings_from_environ({ENV_LAKE: lake})
    assert (off.account_tags, off.account_tags_ttl_seconds) == ("off", 3600)
    assert build_pipeline(off).accounts is None

    on = settings_from_environ(
        {ENV_LAKE: lake, ENV_ACCOUNT_TAGS: "organizations", ENV_ACCOUNT_TAGS_TTL: "120"}
    )
    client = FakeOrganizations({})
    directory = build_pipeline(on, clients=Clients(organizations=client)).accounts
    assert isinstance(directory, OrganizationsDirectory)
    assert (directory.client, directory.ttl) == (client, 120)


def test_the_directory_builds_its_own_client_with_few_standard_retries(tmp_path: Path) -> None:
    settings = Settings(lake=str(tmp_path / "lake"), account_tags="organizations")
    directory = build_pipeline(settings).accounts
    assert isinstance(directory, OrganizationsDirectory)
    config = directory.client.meta.config  # type: ignore[attr-defined]  # a boto3 client
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}  # the first call and two retries
    assert (config.connect_timeout, config.read_timeout) == (2, 5)


@pytest.mark.parametrize(
    ("environ", "sentence"),
    [
        ({ENV_ACCOUNT_TAGS: "ldap"}, f"{ENV_ACCOUNT_TAGS} must be organizations or off, not 'ldap'"),
        ({ENV_ACCOUNT_TAGS_TTL: "-5"}, f"{ENV_ACCOUNT_TAGS_TTL} must be a number of seconds, not '-5'"),
        ({ENV_ACCOUNT_TAGS_TTL: "inf"}, f"{ENV_ACCOUNT_TAGS_TTL} must be a number of seconds, not 'inf'"),
    ],
)
def test_each_account_tags_mistake_in_the_environment_is_one_sentence(
    environ: dict[str, str], sentence: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from_environ({ENV_LAKE: "l", **environ})
    assert str(raised.value) == sentence


def test_settings_made_in_code_are_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"^account tags source must be off or organizations, not 'ldap'$"):
        Settings(lake="l", account_tags="ldap")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^account tags TTL must be a number of seconds, at least 0$"):
        Settings(lake="l", account_tags_ttl_seconds=-1)


def test_a_bad_organizations_table_stops_the_pipeline_even_with_account_tags_off(tmp_path: Path) -> None:
    config = tmp_path / "waflens.toml"
    config.write_text('[organizations]\ntags = {teams = "Team"}\n')
    with pytest.raises(ConfigError, match=f"^{config}: unknown key organizations.tags.teams"):
        build_pipeline(Settings(lake=str(tmp_path / "lake"), config=config))


def test_the_command_line_flag_turns_organizations_on(tmp_path: Path) -> None:
    args = _parser().parse_args(
        ["ingest", "x.log", "--lake", str(tmp_path), "--account-tags", "organizations"]
    )
    assert settings_from_args(args).account_tags == "organizations"
    default = _parser().parse_args(["ingest", "x.log", "--lake", str(tmp_path)])
    assert settings_from_args(default).account_tags == "off"
