"""Account tags from AWS Organizations: tag keys, the cache, and failures that never fail ingestion.

The API's errors come from botocore's ``Stubber`` on a real client (the exact shapes boto3 raises);
cache behaviour is counted on a fake client and a fake clock.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import boto3
import orjson
import polars as pl
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from enrich import schema as S
from enrich.config import AccountTags, ConfigError, EnrichConfig
from ingest import telemetry
from ingest.accounts import OrganizationsDirectory, TagKeys, tag_keys_from_file
from ingest.config_file import load_config
from ingest.deadline import Deadline
from ingest.run import Pipeline
from ingest.sinks.base import SinkResult
from tests.unit.test_outcomes import FakeDeadLetter

SHOP, SEARCH, STRANGER = "111122223333", "444455556666", "777788889999"
SECRETS = ("Bearer wlsecret-orgs-header", "wlsecret-orgs-query", "session=wlsecret-orgs-cookie")


def record(account: str) -> bytes:
    """A BLOCK of ``account``'s web ACL carrying a planted secret in a header, a query arg and a cookie."""
    return orjson.dumps(
        {
            "timestamp": 1767571200000,
            "webaclId": f"arn:aws:wafv2:us-east-1:{account}:regional/webacl/api/1",
            "action": "BLOCK",
            "httpRequest": {
                "clientIp": "192.0.2.1",
                "uri": "/login",
                "args": f"token={SECRETS[1]}",
                "headers": [
                    {"name": "Authorization", "value": SECRETS[0]},
                    {"name": "Cookie", "value": SECRETS[2]},
                ],
            },
        }
    )


@dataclass
class Source:
    name: str
    data: bytes

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data)


@dataclass
class Capture:
    name: str = "capture"
    projection: pl.Schema = field(default_factory=lambda: S.ENRICH_INPUT)
    frames: list[pl.DataFrame] = field(default_factory=list)

    def write(self, batch: pl.DataFrame, deadline: Deadline) -> SinkResult:
        self.frames.append(batch)
        return SinkResult()

    def accounts(self) -> list[tuple[str | None, ...]]:
        account = pl.col(S.ENRICHMENT).struct.field("account")
        frame = pl.concat(self.frames).select(account).unnest("account")
        return frame.select("id", "name", "team", "environment", "cost_centre").rows()


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeOrganizations:
    """Accounts by id (name, tags); tags come on two pages; every call counted."""

    accounts: dict[str, tuple[str, list[dict[str, str]]]]
    calls: list[tuple[str, str]] = field(default_factory=list)

    def describe_account(self, *, AccountId: str) -> Mapping[str, Any]:
        self.calls.append(("DescribeAccount", AccountId))
        return {"Account": {"Id": AccountId, "Name": self.accounts[AccountId][0]}}

    def get_paginator(self, operation_name: str) -> FakeOrganizations:
        assert operation_name == "list_tags_for_resource"
        return self

    def paginate(self, **kwargs: str) -> Iterable[Mapping[str, Any]]:
        self.calls.append(("ListTagsForResource", kwargs["ResourceId"]))
        tags = self.accounts[kwargs["ResourceId"]][1]
        return [{"Tags": tags[:1]}, {"Tags": tags[1:]}]


@pytest.fixture(autouse=True)
def _metrics_off() -> Iterator[None]:
    telemetry.configure_metrics("off")
    yield
    telemetry.configure_metrics("off")


def stubbed() -> tuple[Any, Stubber]:
    client = boto3.client(
        "organizations", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def answer(stubber: Stubber, account: str, name: str, tags: list[dict[str, str]]) -> None:
    stubber.add_response(
        "describe_account", {"Account": {"Id": account, "Name": name}}, {"AccountId": account}
    )
    stubber.add_response("list_tags_for_resource", {"Tags": tags}, {"ResourceId": account})


def log_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


# --- tag keys --------------------------------------------------------------------------------------


def test_default_tag_keys_match_in_any_case_and_the_first_listed_key_wins() -> None:
    tags = [
        {"Key": "TEAM", "Value": "payments"},
        {"Key": "Env", "Value": "staging"},
        {"Key": "Environment", "Value": "prod"},
        {"Key": "CostCenter", "Value": "CC-1100"},
        {"Key": "Business-Unit", "Value": "commerce"},
        {"Key": "Unrelated", "Value": "x"},
    ]
    assert TagKeys().read(SHOP, "shop-prod", tags) == AccountTags(
        SHOP,
        name="shop-prod",
        team="payments",
        environment="prod",
        cost_centre="CC-1100",
        business_unit="commerce",
    )


def test_configured_tag_keys_replace_the_defaults_field_by_field() -> None:
    keys = TagKeys.from_mapping(
        {"organizations": {"tags": {"team": "Owner", "cost_centre": ["cc", "Budget"]}}}
    )
    tags = [
        {"Key": "owner", "Value": "search"},
        {"Key": "team", "Value": "ignored"},
        {"Key": "BUDGET", "Value": "B7"},
    ]
    read = keys.read(SEARCH, None, [*tags, {"Key": "env", "Value": "dev"}])
    assert (read.team, read.cost_centre, read.environment, read.name) == ("search", "B7", "dev", None)


def test_an_empty_tag_value_counts_as_missing_so_the_next_key_is_tried() -> None:
    tags = [{"Key": "environment", "Value": ""}, {"Key": "env", "Value": "prod"}]
    assert TagKeys().read(SHOP, "", tags).environment == "prod"


@pytest.mark.parametrize(
    ("table", "sentence"),
    [
        ({"organizations": []}, "organizations must be a table"),
        ({"organizations": {"tag": {}}}, "unknown key organizations.tag (expected one of: tags)"),
        (
            {"organizations": {"tags": {"owner": "Owner"}}},
            "unknown key organizations.tags.owner"
            " (expected one of: business_unit, cost_centre, environment, team)",
        ),
        (
            {"organizations": {"tags": {"team": []}}},
            "organizations.tags.team must be a tag key or a non-empty list of tag keys",
        ),
        (
            {"organizations": {"tags": {"team": 7}}},
            "organizations.tags.team must be a tag key or a non-empty list of tag keys",
        ),
        ({"organizations": {"tags": {"team": ["a", 7]}}}, "organizations.tags.team[1] must be a string"),
        (
            {"organizations": {"tags": {"environment": " env"}}},
            "organizations.tags.environment: ' env' is not an AWS tag key"
            " (1-128 characters, no outer spaces)",
        ),
        (
            {"organizations": {"tags": {"environment": "e" * 129}}},
            f"organizations.tags.environment: {'e' * 129!r} is not an AWS tag key"
            " (1-128 characters, no outer spaces)",
        ),
    ],
)
def test_each_mistake_in_the_organizations_table_is_one_sentence(
    table: dict[str, Any], sentence: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        TagKeys.from_mapping(table)
    assert str(raised.value) == sentence


def test_the_config_file_may_hold_the_table_and_a_mistake_names_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[organizations]\ntags = {team = "Owner"}\n[accounts."111122223333"]\nteam = "shop"\n')
    config, _ = load_config(good)  # the enrichment config accepts the table it does not read
    assert config.accounts[0].team == "shop"
    assert tag_keys_from_file(good).team == ("Owner",)
    assert tag_keys_from_file(None) == TagKeys()
    bad = tmp_path / "bad.toml"
    bad.write_text('[organizations]\ntags = {team = ""}\n')
    with pytest.raises(ConfigError, match=f"^{bad}: organizations.tags.team: '' is not an AWS tag key"):
        tag_keys_from_file(bad)


# --- the cache -------------------------------------------------------------------------------------


def test_an_answer_is_kept_for_the_ttl_and_asked_again_after_it() -> None:
    client = FakeOrganizations(
        {SHOP: ("shop-prod", [{"Key": "team", "Value": "payments"}, {"Key": "env", "Value": "prod"}])}
    )
    clock = Clock()
    directory = OrganizationsDirectory(client, ttl=600, clock=clock)

    first = directory.tags([SHOP])
    clock.now += 599
    again = directory.tags([SHOP, SHOP])

    assert first == again == [AccountTags(SHOP, name="shop-prod", team="payments", environment="prod")]
    assert client.calls == [("DescribeAccount", SHOP), ("ListTagsForResource", SHOP)]
    clock.now += 1
    directory.tags([SHOP])
    assert len(client.calls) == 4


def test_ids_that_are_not_account_ids_are_never_asked_about() -> None:
    client = FakeOrganizations({})
    assert OrganizationsDirectory(client).tags(["unknown", "12345", "", "1111222233334"]) == []
    assert client.calls == []


def test_an_account_outside_the_organization_is_remembered_for_a_shorter_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, stubber = stubbed()
    clock = Clock()
    directory = OrganizationsDirectory(client, ttl=3600, not_found_seconds=300, clock=clock)
    answer(stubber, SHOP, "shop-prod", [{"Key": "team", "Value": "payments"}])
    stubber.add_client_error(
        "describe_account", "AccountNotFoundException", expected_params={"AccountId": STRANGER}
    )
    with stubber:
        assert directory.tags([SHOP, STRANGER]) == [AccountTags(SHOP, name="shop-prod", team="payments")]
        clock.now += 299
        assert directory.tags([SHOP, STRANGER]) == [AccountTags(SHOP, name="shop-prod", team="payments")]
        stubber.assert_no_pending_responses()
        clock.now += 1
        stubber.add_client_error("describe_account", "AccountNotFoundException")
        directory.tags([STRANGER])
        stubber.assert_no_pending_responses()
    lines = [
        line for line in log_lines(capsys.readouterr().err) if line["message"] == "account tags unavailable"
    ]
    assert [(line["reason"], line["accounts"]) for line in lines] == [("not_in_organization", 1)] * 2


def test_an_account_that_left_the_organization_loses_its_tags_when_asked_again() -> None:
    client, stubber = stubbed()
    clock = Clock()
    directory = OrganizationsDirectory(client, ttl=60, clock=clock)
    answer(stubber, SHOP, "shop-prod", [{"Key": "team", "Value": "payments"}])
    stubber.add_response("describe_account", {"Account": {"Id": SHOP, "Name": "shop-prod"}})
    stubber.add_client_error("list_tags_for_resource", "TargetNotFoundException")
    with stubber:
        assert directory.tags([SHOP]) != []
        clock.now += 60
        assert directory.tags([SHOP]) == []
        stubber.assert_no_pending_responses()


# --- failures never fail ingestion -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("TooManyRequestsException", "throttled"),
        ("AccessDeniedException", "denied"),
        ("AWSOrganizationsNotInUseException", "denied"),
        ("ServiceException", "unavailable"),
    ],
)
def test_a_failed_call_keeps_the_last_answer_and_pauses_calls(
    code: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client, stubber = stubbed()
    clock = Clock()
    directory = OrganizationsDirectory(client, ttl=60, pause_seconds=30, clock=clock)
    answer(stubber, SHOP, "shop-prod", [{"Key": "team", "Value": "payments"}])
    stubber.add_client_error("describe_account", code, http_status_code=400)
    with stubber:
        directory.tags([SHOP])
        clock.now += 61  # the answer expired: SHOP is asked again, and the call fails
        assert directory.tags([SHOP, SEARCH]) == [AccountTags(SHOP, name="shop-prod", team="payments")]
        clock.now += 29  # paused: no call (the stubber has no response left, so a call would fail otherwise)
        assert directory.tags([SEARCH]) == []
        stubber.assert_no_pending_responses()
        clock.now += 1
        answer(stubber, SEARCH, "search", [])
        assert directory.tags([SEARCH]) == [AccountTags(SEARCH, name="search")]
        stubber.assert_no_pending_responses()
    lines = [
        line for line in log_lines(capsys.readouterr().err) if line["message"] == "account tags unavailable"
    ]
    assert [(line["reason"], line["accounts"]) for line in lines] == [(reason, 2), (reason, 1)]


def test_no_connection_is_unavailable_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    class Unreachable(FakeOrganizations):
        def describe_account(self, *, AccountId: str) -> Mapping[str, Any]:
            raise EndpointConnectionError(endpoint_url="https://organizations.us-east-1.amazonaws.com")

    reported: list[tuple[str, int]] = []
    monkeypatch.setattr(telemetry, "account_tags_unavailable", lambda reason, n: reported.append((reason, n)))
    assert OrganizationsDirectory(Unreachable({})).tags([SHOP, SEARCH]) == []
    assert reported == [("unavailable", 2)]


def test_a_denied_directory_falls_back_to_the_config_file_counts_a_metric_and_leaks_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, stubber = stubbed()
    stubber.add_client_error("describe_account", "AccessDeniedException", http_status_code=403)
    config = EnrichConfig(accounts=(AccountTags(SHOP, team="from-the-file", environment="prod"),))
    sink = Capture()
    metrics = tmp_path / "metrics.ndjson"
    telemetry.configure_metrics(metrics)
    pipeline = Pipeline(
        config=config, sinks=[sink], dead_letter=FakeDeadLetter(), accounts=OrganizationsDirectory(client)
    )
    with stubber:
        result = pipeline.run([Source("a.log", b"\n".join([record(SHOP), record(SEARCH)]))])
    telemetry.flush_metrics()

    assert result.summary.delivered == 2
    assert sink.accounts() == [(SHOP, None, "from-the-file", "prod", None), (SEARCH, None, None, None, None)]
    [run] = [d for d in map(json.loads, metrics.read_text().splitlines()) if "service" in d]
    assert run["AccountTagLookupsFailed"] == [2.0]
    assert {"Name": "AccountTagLookupsFailed", "Unit": "Count"} in run["_aws"]["CloudWatchMetrics"][0][
        "Metrics"
    ]
    err = capsys.readouterr().err
    [line] = [line for line in log_lines(err) if line["message"] == "account tags unavailable"]
    assert (line["reason"], line["accounts"], line["level"]) == ("denied", 2, "WARNING")
    assert "wlsecret" not in err
    assert "wlsecret" not in metrics.read_text()


def test_the_config_file_overrides_organizations_tag_by_tag() -> None:
    client, stubber = stubbed()
    answer(
        stubber,
        SHOP,
        "shop-prod",
        [{"Key": "Team", "Value": "payments"}, {"Key": "Environment", "Value": "prod"}],
    )
    config = EnrichConfig(accounts=(AccountTags(SHOP, team="checkout"),))
    sink = Capture()
    pipeline = Pipeline(
        config=config, sinks=[sink], dead_letter=FakeDeadLetter(), accounts=OrganizationsDirectory(client)
    )
    with stubber:
        pipeline.run([Source("a.log", record(SHOP))])
    assert sink.accounts() == [(SHOP, "shop-prod", "checkout", "prod", None)]


def test_without_failures_no_lookup_metric_is_written(tmp_path: Path) -> None:
    client, stubber = stubbed()
    answer(stubber, SHOP, "shop-prod", [])
    metrics = tmp_path / "metrics.ndjson"
    telemetry.configure_metrics(metrics)
    pipeline = Pipeline(
        config=EnrichConfig(),
        sinks=[Capture()],
        dead_letter=FakeDeadLetter(),
        accounts=OrganizationsDirectory(client),
    )
    with stubber:
        pipeline.run([Source("a.log", record(SHOP))])
    telemetry.flush_metrics()
    [run] = [d for d in map(json.loads, metrics.read_text().splitlines()) if "service" in d]
    assert "AccountTagLookupsFailed" not in run
