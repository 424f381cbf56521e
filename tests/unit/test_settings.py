"""Settings: loaded once from the environment or the command line, each mistake one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from enrich.config import ConfigError
from ingest.compose import Clients, Settings, build_pipeline
from ingest.environment import (
    ENV_BATCH_RECORDS,
    ENV_BULK_CONCURRENCY,
    ENV_DEADLINE_MARGIN,
    ENV_LAKE,
    ENV_METRICS,
    ENV_OPENSEARCH_AUTH,
    ENV_OPENSEARCH_URL,
    ENV_PASSWORD,
    ENV_RETRY_SECONDS,
    ENV_USERNAME,
    lambda_deadline,
    settings_from_environ,
)
from ingest.sinks.lake import ParquetLake
from ingest.sinks.opensearch.client import Endpoint, make_client
from ingest.sinks.opensearch.service import OpenSearchSink


def test_the_environment_gives_frozen_settings_with_lambda_defaults(tmp_path: Path) -> None:
    settings = settings_from_environ({ENV_LAKE: str(tmp_path / "lake"), ENV_RETRY_SECONDS: "45"})
    assert settings.lake == str(tmp_path / "lake")
    assert settings.dead_letter_folder == str(tmp_path / "lake" / "_dead_letter")
    assert settings.bulk.retry_seconds == 45
    assert settings.metrics == "emf"
    assert settings.deadline_margin_seconds == 10
    with pytest.raises(AttributeError):
        settings.lake = None  # type: ignore[misc]


@pytest.mark.parametrize(
    ("environ", "sentence"),
    [
        ({}, f"name a target: {ENV_LAKE} DIR, {ENV_OPENSEARCH_URL} URL, or both"),
        (
            {ENV_LAKE: "l", ENV_BATCH_RECORDS: "many"},
            f"{ENV_BATCH_RECORDS} must be a whole number, not 'many'",
        ),
        ({ENV_LAKE: "l", ENV_BATCH_RECORDS: "0"}, f"{ENV_BATCH_RECORDS} must be at least 1"),
        ({ENV_LAKE: "l", ENV_BULK_CONCURRENCY: "-2"}, f"{ENV_BULK_CONCURRENCY} must be at least 1"),
        (
            {ENV_LAKE: "l", ENV_RETRY_SECONDS: "nan"},
            f"{ENV_RETRY_SECONDS} must be a number of seconds, not 'nan'",
        ),
        (
            {ENV_LAKE: "l", ENV_DEADLINE_MARGIN: "-1"},
            f"{ENV_DEADLINE_MARGIN} must be a number of seconds, not '-1'",
        ),
        ({ENV_LAKE: "l", ENV_METRICS: "stdout"}, f"{ENV_METRICS} must be emf or off, not 'stdout'"),
        (
            {ENV_OPENSEARCH_URL: "http://h:9200", ENV_OPENSEARCH_AUTH: "kerberos"},
            f"{ENV_OPENSEARCH_AUTH} must be one of auto, none, basic, sigv4, not 'kerberos'",
        ),
        ({ENV_OPENSEARCH_URL: "ftp://h"}, "--opensearch 'ftp://h' is not an http(s) URL"),
    ],
)
def test_each_mistake_in_the_environment_is_one_sentence_naming_the_variable(
    environ: dict[str, str], sentence: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from_environ(environ)
    assert str(raised.value) == sentence


def test_a_password_is_never_quoted_back() -> None:
    environ = {ENV_OPENSEARCH_URL: "https://h:9200", ENV_USERNAME: "", ENV_PASSWORD: "wlsecret-pw"}
    environ[ENV_OPENSEARCH_AUTH] = "basic"
    with pytest.raises(ConfigError) as raised:
        settings_from_environ(environ)
    assert "wlsecret" not in str(raised.value)
    assert "OPENSEARCH_USERNAME" in str(raised.value)


def test_build_pipeline_makes_the_sinks_the_settings_name_and_uses_a_client_it_is_handed(
    tmp_path: Path,
) -> None:
    endpoint = Endpoint(url="http://127.0.0.1:9")
    client = make_client(endpoint)
    settings = Settings(lake=str(tmp_path / "lake"), opensearch=endpoint)
    pipeline = build_pipeline(settings, clients=Clients(opensearch=client))
    lake, cluster = pipeline.sinks
    assert isinstance(lake, ParquetLake)
    assert lake.location.local
    assert lake.location.uri == str(tmp_path / "lake")
    assert isinstance(cluster, OpenSearchSink)
    assert cluster.client is client


def test_build_pipeline_refuses_an_unwritable_target_before_any_work(tmp_path: Path) -> None:
    occupied = tmp_path / "file"
    occupied.write_text("")
    with pytest.raises(ConfigError, match=f"^{ENV_LAKE} {occupied}/lake: cannot write there"):
        build_pipeline(settings_from_environ({ENV_LAKE: str(occupied / "lake")}))


class Context:
    def __init__(self, millis: int) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


def test_a_lambda_deadline_is_the_remaining_time_minus_the_margin() -> None:
    settings = settings_from_environ({ENV_LAKE: "l", ENV_DEADLINE_MARGIN: "5"})
    now = [100.0]
    deadline = lambda_deadline(Context(60_000), settings, clock=lambda: now[0])
    assert deadline.remaining() == 55
    assert lambda_deadline(Context(3_000), settings, clock=lambda: now[0]).passed()
