"""Sinks under an absolute deadline: no request outlives it, and what cannot be sent is retryable, unsent."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from enrich import schema as S
from ingest.deadline import Deadline
from ingest.sinks.lake import ParquetLake
from ingest.sinks.opensearch.service import BulkOptions, OpenSearchSink
from tests.support.pipeline import enriched

RECORD = {
    "timestamp": 1767571200000,
    "webaclId": "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/api/1",
    "action": "BLOCK",
    "httpRequest": {"clientIp": "192.0.2.1", "headers": [], "uri": "/"},
}


def frame(n: int) -> Any:
    return enriched(
        [orjson.dumps({**RECORD, "timestamp": 1767571200000 + i * 86_400_000}).decode() for i in range(n)]
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Client:
    """Answers every bulk item 201, or 503 while ``failing``; each request takes ``seconds`` of the clock."""

    def __init__(self, clock: Clock, *, seconds: float = 0.0, failing: bool = False) -> None:
        self.clock, self.seconds, self.failing = clock, seconds, failing
        self.timeouts: list[float] = []

    def bulk(self, *, body: bytes, request_timeout: float) -> dict[str, Any]:
        self.timeouts.append(request_timeout)
        self.clock.now += self.seconds
        actions = [orjson.loads(line) for line in body.splitlines()[::2]]
        status = 503 if self.failing else 201
        item = {"status": status} if status == 201 else {"status": status, "error": {"type": "unavailable"}}
        return {"errors": self.failing, "items": [{"index": dict(item)} for _ in actions]}


def sink(client: Client, **options: Any) -> OpenSearchSink:
    return OpenSearchSink(
        client,
        BulkOptions(**options),
        sleep=lambda s: setattr(client.clock, "now", client.clock.now + s),
        rng=random.Random(0),
    )  # type: ignore[arg-type]


def test_each_request_timeout_is_capped_by_the_time_left() -> None:
    clock = Clock()
    client = Client(clock, seconds=2)
    result = sink(client, max_bytes=1, concurrency=1, request_seconds=30).write(
        frame(3), Deadline.after(5, clock)
    )
    assert client.timeouts == [5, 3, 1]  # one document per request; each waits at most what is left
    assert not result.retryable


def test_requests_that_cannot_start_in_time_are_retryable_and_never_sent() -> None:
    clock = Clock()
    client = Client(clock, seconds=2)
    batch = frame(4)
    result = sink(client, max_bytes=1, concurrency=1).write(batch, Deadline.after(4.5, clock))
    assert client.timeouts == [4.5, 2.5]  # at t=4 half a second is left: below min_request_seconds
    assert len(result.retryable) == 2
    assert result.retry_reason is not None
    assert "the deadline came before it was sent" in result.retry_reason


def test_retries_stop_at_the_run_deadline_even_inside_the_retry_budget() -> None:
    clock = Clock()
    client = Client(clock, seconds=1, failing=True)
    result = sink(client, retry_seconds=120).write(frame(2), Deadline.after(10, clock))
    assert len(client.timeouts) > 1
    assert clock.now <= 10
    assert len(result.retryable) == 2


def test_the_lake_writes_nothing_after_the_deadline(tmp_path: Path) -> None:
    clock = Clock()
    batch = frame(3)  # three days: three partitions
    lake = ParquetLake(tmp_path)
    result = lake.write(batch, Deadline.after(0, clock))
    assert result.retryable == set(batch[S.DOC_ID].to_list())
    assert result.retry_reason == "the deadline came before the lake write"
    assert list(tmp_path.rglob("*.parquet")) == []


@pytest.mark.parametrize("seconds", [10.0, float("inf")])
def test_the_lake_writes_everything_before_the_deadline(tmp_path: Path, seconds: float) -> None:
    clock = Clock()
    result = ParquetLake(tmp_path).write(frame(3), Deadline(seconds, clock))
    assert not result.retryable
    assert len(list(tmp_path.rglob("*.parquet"))) == 3
