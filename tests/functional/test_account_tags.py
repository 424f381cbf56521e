"""Account tags from AWS Organizations (moto on loopback) through the CLI, the composition root and
a Lambda's cold-start runtime: names and tags in the lake, the config file on top, answers cached."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from enrich import schema as S
from ingest import telemetry
from ingest.accounts import OrganizationsDirectory
from ingest.cli.main import main
from ingest.environment import ENV_ACCOUNT_TAGS, ENV_CONFIG, ENV_LAKE, ENV_METRICS
from ingest.handlers import runtime
from ingest.sinks.lake import scan_lake
from ingest.sources.local import LocalFile
from tests.support.moto import Aws
from tests.unit.test_accounts import record

STRANGER = "777788889999"  # in no organization


class Context:
    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def organization(aws: Aws) -> tuple[str, str]:
    """An organization with two accounts, tagged the way its owners chose to."""
    client: Any = aws.client("organizations")
    client.create_organization(FeatureSet="ALL")
    shop = client.create_account(
        Email="shop@example.com",
        AccountName="shop-prod",
        Tags=[
            {"Key": "Team", "Value": "payments"},
            {"Key": "env", "Value": "prod"},
            {"Key": "CostCenter", "Value": "CC-1100"},
            {"Key": "BusinessUnit", "Value": "commerce"},
        ],
    )["CreateAccountStatus"]["AccountId"]
    search = client.create_account(
        Email="search@example.com", AccountName="search-dev", Tags=[{"Key": "owner", "Value": "search"}]
    )["CreateAccountStatus"]["AccountId"]
    return shop, search


def logs(folder: Path, *accounts: str) -> Path:
    path = folder / "waf.log.gz"
    path.write_bytes(gzip.compress(b"\n".join(record(a) for a in accounts) + b"\n"))
    return path


def config_file(folder: Path, shop: str) -> Path:
    path = folder / "waflens.toml"
    path.write_text(
        '[organizations]\ntags = {team = ["Team", "owner"], environment = "env"}\n'
        f'[accounts."{shop}"]\nenvironment = "production"\n'
    )
    return path


def lake_accounts(lake: Path) -> list[tuple[str | None, ...]]:
    account = pl.col(S.ENRICHMENT).struct.field("account")
    frame = scan_lake(lake).select(account).unnest("account").sort("id").collect()
    return frame.select("id", "name", "team", "environment", "cost_centre", "business_unit").rows()


def test_the_cli_writes_names_and_tags_from_organizations_under_the_config_files_entries(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop, search = organization(aws)
    argv = ["ingest", str(logs(tmp_path, shop, search, STRANGER)), "--lake", str(tmp_path / "lake")]
    argv += ["--config", str(config_file(tmp_path, shop)), "--account-tags", "organizations"]

    assert main(argv) == 0

    assert lake_accounts(tmp_path / "lake") == sorted(
        [
            (shop, "shop-prod", "payments", "production", "CC-1100", "commerce"),
            (search, "search-dev", "search", None, None, None),
            (STRANGER, None, None, None, None, None),
        ]
    )
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1])["delivered"] == 3
    [line] = [json.loads(x) for x in err.splitlines() if "account tags unavailable" in x]
    assert (line["reason"], line["accounts"]) == ("not_in_organization", 1)
    assert "wlsecret" not in out + err


def test_without_the_flag_organizations_is_never_asked(aws: Aws, tmp_path: Path) -> None:
    shop, _ = organization(aws)
    assert main(["ingest", str(logs(tmp_path, shop)), "--lake", str(tmp_path / "lake")]) == 0
    assert lake_accounts(tmp_path / "lake") == [(shop, None, None, None, None, None)]


def test_a_warm_lambda_asks_organizations_once_per_ttl(
    aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop, search = organization(aws)
    for name, value in {
        ENV_LAKE: str(tmp_path / "lake"),
        ENV_CONFIG: str(config_file(tmp_path, shop)),
        ENV_ACCOUNT_TAGS: "organizations",
        ENV_METRICS: "off",
    }.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    try:
        directory = runtime.runtime().pipeline.accounts
        assert isinstance(directory, OrganizationsDirectory)
        calls: list[str] = []
        directory.client.meta.events.register(  # type: ignore[attr-defined]  # a boto3 client
            "before-call.organizations", lambda model, **_: calls.append(model.name)
        )
        first = runtime.run([LocalFile(logs(tmp_path, shop, search))], Context())
        assert calls == ["DescribeAccount", "ListTagsForResource"] * 2
        (tmp_path / "warm").mkdir()
        warm = runtime.run([LocalFile(logs(tmp_path / "warm", shop, search))], Context())
        assert len(calls) == 4  # answered from the cache
    finally:
        runtime.reset()
        telemetry.configure_metrics("off")
    assert first.summary.delivered == warm.summary.delivered == 2
    assert [row[:3] for row in lake_accounts(tmp_path / "lake")] == sorted(
        [(shop, "shop-prod", "payments"), (search, "search-dev", "search")]
    )
