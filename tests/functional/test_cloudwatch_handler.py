"""The CloudWatch Logs subscription handler: log events in, the invocation's fate as the contract."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from devtools.fake_opensearch import FakeOpenSearch, Faults
from enrich.config import ConfigError
from ingest import telemetry
from ingest.environment import (
    ENV_DEAD_LETTER,
    ENV_DEADLINE_MARGIN,
    ENV_FIREHOSE_MODE,
    ENV_LAKE,
    ENV_METRICS,
    ENV_OPENSEARCH_URL,
    ENV_RETRY_SECONDS,
)
from ingest.handlers import cloudwatch, runtime
from ingest.sinks.lake import scan_lake
from tests.support.lambda_events import (
    Context,
    awslogs,
    cloudwatch_event,
    cut_inside_secret,
    event_file,
    leaks,
    waf_lines,
    with_secrets,
)


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh cold start per test: the lake and dead letters in tmp_path, metrics off."""
    for name in (ENV_OPENSEARCH_URL, ENV_FIREHOSE_MODE, ENV_RETRY_SECONDS, ENV_DEADLINE_MARGIN):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(ENV_LAKE, str(tmp_path / "lake"))
    monkeypatch.setenv(ENV_DEAD_LETTER, str(tmp_path / "dead"))
    monkeypatch.setenv(ENV_METRICS, "off")
    runtime.reset()
    yield tmp_path
    runtime.reset()
    telemetry.configure_metrics("off")
    telemetry.logger().clear_state()


def lake_ids(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(scan_lake(root).select("_id").collect()["_id"].to_list())


def dead_letters(folder: Path) -> list[dict[str, Any]]:
    return [
        orjson.loads(line) for f in sorted(folder.glob("*.ndjson")) for line in f.read_bytes().splitlines()
    ]


def messages(name: str = "aws-docs-examples.ndjson") -> list[str]:
    return [line.decode() for line in waf_lines(name)]


def test_the_event_file_is_delivered(environment: Path) -> None:
    payload = json.dumps(event_file("cloudwatch_logs.json")).encode()
    summary = cloudwatch.handler(awslogs(payload), Context())
    assert (summary["records_in"], summary["delivered"]) == (1, 1)
    assert len(lake_ids(environment / "lake")) == 1


def test_each_log_event_is_one_record_delivered_once_even_when_the_event_comes_again(
    environment: Path,
) -> None:
    event = cloudwatch_event(messages() + messages("elastic-integrations.ndjson"))
    first = cloudwatch.handler(event, Context())
    stored = lake_ids(environment / "lake")
    again = cloudwatch.handler(event, Context())
    assert (first["records_in"], first["delivered"], first["rejected"]) == (10, 10, 0)
    assert again["already_present"] == 10
    assert lake_ids(environment / "lake") == stored
    assert len(stored) == 10


def test_rejected_records_are_dead_lettered_and_do_not_fail_the_invocation(environment: Path) -> None:
    good = messages()
    summary = cloudwatch.handler(
        cloudwatch_event(
            [good[0], "not json", '{"timestamp":1}', "[1,2]", good[1], good[2].replace("GET", "\ud800")]
        ),
        Context(),
    )
    assert (summary["delivered"], summary["rejected"]) == (2, 4)
    kinds = sorted(d["kind"] for d in dead_letters(environment / "dead"))
    assert kinds == ["invalid_json", "invalid_utf8", "missing_field", "not_an_object"]
    assert {d["source"] for d in dead_letters(environment / "dead")} == {
        "cloudwatch:aws-waf-logs-shop/us-east-1_shop-acl_0"
    }


def test_a_control_message_is_skipped_and_logged_once(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = json.dumps(event_file("cloudwatch_logs_control.json")).encode()
    assert cloudwatch.handler(awslogs(payload), Context()) == {"skipped": "CONTROL_MESSAGE"}
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert [x["message"] for x in lines] == ["control message skipped"]
    assert not (environment / "lake").exists()
    assert not (environment / "dead").exists()


def test_retryable_records_fail_the_invocation_and_a_retry_converges(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = cloudwatch_event(messages())
    monkeypatch.setenv(ENV_RETRY_SECONDS, "1.5")
    with FakeOpenSearch(Faults(item_429=1.0)) as throttled:
        monkeypatch.setenv(ENV_OPENSEARCH_URL, throttled.url)
        with pytest.raises(cloudwatch.RetryableRecords) as failed:
            cloudwatch.handler(event, Context())
    assert str(failed.value) == (
        "6 of 6 log events are retryable; failing the invocation so that Lambda retries it"
    )
    written = lake_ids(environment / "lake")  # the lake took them: a retry must not duplicate them
    assert len(written) == 6

    runtime.reset()  # Lambda's retry, after the cluster recovered
    with FakeOpenSearch() as healthy:
        monkeypatch.setenv(ENV_OPENSEARCH_URL, healthy.url)
        summary = cloudwatch.handler(event, Context())
    assert (summary["delivered"], summary["already_present"]) == (6, 6)
    assert lake_ids(environment / "lake") == written
    assert sorted(doc_id for _, doc_id in healthy.documents) == written


def test_no_time_left_fails_the_invocation_naming_the_unfinished_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_DEADLINE_MARGIN, "5")
    with pytest.raises(
        cloudwatch.RetryableRecords,
        match=r"^the payload is unfinished: the deadline came before it was read; failing the invocation",
    ):
        cloudwatch.handler(cloudwatch_event(messages()), Context(millis=4_000))


@pytest.mark.parametrize(
    ("event", "sentence"),
    [
        ({"awslogs": {"data": "%%% not base64 %%%"}}, "the CloudWatch Logs payload is not base64"),
        (awslogs(b"plain text, not gzip", compress=False), "the CloudWatch Logs payload is not gzip"),
        (awslogs(b"\x1f\x8b\x08\x00garbage", compress=False), "the CloudWatch Logs payload is not gzip"),
        (awslogs(b"{not json"), "the CloudWatch Logs payload is not JSON"),
        (awslogs(b"\xff\xfe not UTF-8"), "the CloudWatch Logs payload is not JSON"),
        (awslogs(b'{"messageType": "DATA_MESSAGE"}'), "the CloudWatch Logs event has no logGroup field"),
        (
            awslogs(b'{"messageType": "DATA_MESSAGE", "logGroup": "g", "logStream": "s", "logEvents": 7}'),
            "the CloudWatch Logs event is not shaped as a subscription's",
        ),
        (
            awslogs(b'{"messageType": "PING", "logGroup": "g", "logStream": "s", "logEvents": []}'),
            "the CloudWatch Logs payload has an unknown messageType",
        ),
        ({"Records": []}, "the CloudWatch Logs event has no awslogs field"),
    ],
)
def test_a_payload_that_cannot_be_read_fails_the_invocation_with_one_sentence(
    event: dict[str, Any], sentence: str, environment: Path
) -> None:
    with pytest.raises(cloudwatch.MalformedPayload) as failed:
        cloudwatch.handler(event, Context())
    assert str(failed.value) == sentence
    assert failed.value.__cause__ is None  # the parser's own error, which may quote data, is not chained
    assert failed.value.__context__ is None or failed.value.__suppress_context__
    assert not (environment / "lake").exists()


def test_an_empty_data_message_delivers_nothing_and_succeeds() -> None:
    summary = cloudwatch.handler(cloudwatch_event([]), Context())
    assert (summary["records_in"], summary["retryable"]) == (0, 0)


def test_no_planted_secret_leaves_in_a_log_line_an_error_or_what_is_written(
    environment: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    lines = [with_secrets(line, i) for i, line in enumerate(waf_lines())]
    texts = [x.decode() for x in lines] + [cut_inside_secret(lines[0]).decode()]
    assert leaks(texts)  # the check can fail
    monkeypatch.setenv(ENV_RETRY_SECONDS, "1.5")
    with FakeOpenSearch(Faults(item_500=1.0)) as fake:
        monkeypatch.setenv(ENV_OPENSEARCH_URL, fake.url)
        with pytest.raises(cloudwatch.RetryableRecords) as failed:
            cloudwatch.handler(cloudwatch_event(texts), Context())
    out, err = capfd.readouterr()
    lake = scan_lake(environment / "lake").collect()
    assert lake.height == len(lines)
    written = [f.read_bytes() for f in (environment / "dead").glob("*")] + [lake.write_ndjson()]
    written += [r.decompressed_body for r in fake.requests]
    assert leaks([str(failed.value), out, err, *written]) == set()


def test_a_firehose_mode_is_refused_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_FIREHOSE_MODE, "transform")  # its capture sink would deliver to nobody
    with pytest.raises(ConfigError, match=r"^WAFLENS_FIREHOSE_MODE is for a Firehose function"):
        cloudwatch.handler(cloudwatch_event(messages()), Context())
