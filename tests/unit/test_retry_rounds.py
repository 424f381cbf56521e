"""A failing sink says so once per retry round, with counts and HTTP statuses and nothing of the documents."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from ingest import telemetry
from ingest.deadline import Deadline
from ingest.sinks.opensearch.retry import MISMATCHED, UNSENT, failure_summary
from ingest.sinks.opensearch.service import BulkOptions, OpenSearchSink
from ingest.telemetry import RetryRound
from tests.support.pipeline import enriched

SECRET = "wlsecret-retry-9f2"
RECORD = {
    "timestamp": 1767571200000,
    "webaclId": "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/api/1",
    "action": "BLOCK",
    "httpRequest": {"clientIp": "192.0.2.1", "headers": [], "uri": "/", "args": f"token={SECRET}"},
}


@pytest.mark.parametrize(
    ("reasons", "summary"),
    [
        (
            ["HTTP 429 rejected_execution_exception: rejected execution of coordinating operation"] * 3,
            "429 Too Many Requests",
        ),
        (
            ["HTTP 503 unavailable: x"] + ["HTTP 429"] * 2,
            "429 Too Many Requests: 2, 503 Service Unavailable: 1",
        ),
        (["HTTP N/A ConnectionError: ('Connection aborted.')"], "connection failed"),
        (["HTTP TIMEOUT ConnectionTimeout: read timed out"], "timed out"),
        (["HTTP 599 custom"], "HTTP 599"),
        ([UNSENT, MISMATCHED, MISMATCHED], f"{MISMATCHED}: 2, {UNSENT}: 1"),
        ([f"mapper_parsing_exception: value '{SECRET}'"], "failed"),  # not a status: nothing of it is kept
    ],
)
def test_a_rounds_failures_are_summarized_by_status_only(reasons: list[str], summary: str) -> None:
    assert failure_summary(reasons) == summary


class Flaky:
    """Answers each bulk item 429 (with a reason quoting the document, as OpenSearch's can) ``failures``
    times, then 201."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    def bulk(self, *, body: bytes, request_timeout: float) -> dict[str, Any]:
        actions = body.splitlines()[::2]
        failing = self.failures > 0
        self.failures -= 1
        item: dict[str, Any] = {"status": 201}
        if failing:
            item = {"status": 429, "error": {"type": "rejected_execution_exception", "reason": f"[{SECRET}]"}}
        return {"errors": failing, "items": [{"index": dict(item)} for _ in actions]}


class Watcher:
    def __init__(self) -> None:
        self.rounds: list[RetryRound] = []
        self.batches: list[tuple[int, int]] = []

    def batch_settled(self, records: int, bytes_in: int) -> None:
        self.batches.append((records, bytes_in))

    def sink_retrying(self, retry: RetryRound) -> None:
        self.rounds.append(retry)


def write(client: Flaky, records: int = 3) -> list[float]:
    """Index ``records`` documents through ``client``; the backoff waits the sink slept."""
    lines = [orjson.dumps({**RECORD, "timestamp": 1767571200000 + i}).decode() for i in range(records)]
    waits: list[float] = []
    sink = OpenSearchSink(client, BulkOptions(), sleep=waits.append, rng=random.Random(1))  # type: ignore[arg-type]
    assert not sink.write(enriched(lines), Deadline.never()).retryable
    return waits


def test_each_retry_round_reaches_the_watchers_once() -> None:
    watcher = Watcher()
    with telemetry.watched_by(watcher):
        waits = write(Flaky(failures=2))
    assert [(r.sink, r.round, r.items, r.why) for r in watcher.rounds] == [
        ("OpenSearch", 1, 3, "429 Too Many Requests"),
        ("OpenSearch", 2, 3, "429 Too Many Requests"),
    ]
    assert [r.wait_seconds for r in watcher.rounds] == waits  # the wait announced is the wait slept
    assert SECRET not in repr(watcher.rounds)


def test_without_watchers_each_round_is_one_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    write(Flaky(failures=1))
    lines = [orjson.loads(line) for line in capsys.readouterr().err.splitlines()]
    rounds = [line for line in lines if line["message"] == "sink retrying"]
    assert len(rounds) == 1
    assert {k: rounds[0][k] for k in ("level", "sink", "round", "items", "why")} == {
        "level": "WARNING",
        "sink": "OpenSearch",
        "round": 1,
        "items": 3,
        "why": "429 Too Many Requests",
    }
    assert SECRET not in str(lines)


def test_a_watcher_is_told_nothing_once_its_block_ends() -> None:
    watcher = Watcher()
    with telemetry.watched_by(watcher):
        pass
    write(Flaky(failures=1))
    assert watcher.rounds == []
