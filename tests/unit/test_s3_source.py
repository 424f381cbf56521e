"""An S3 object as a source: streamed in blocks, each S3 failure an OSError naming a code, never a message."""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, ResponseStreamingError

from ingest.decode.framing import READ_SIZE
from ingest.environment import ENV_BATCH_RECORDS, ENV_LAKE, ENV_METRICS
from ingest.handlers import runtime
from ingest.sources.s3 import ObjectRef, S3Object
from tests.unit.test_outcomes import record
from tests.unit.test_runtime import Context


@dataclass
class Body:
    """A GetObject body that records each read and can break after ``fail_after`` bytes."""

    data: bytes
    fail_after: int | None = None
    reads: list[int] = field(default_factory=list)
    closed: bool = False
    offset: int = 0

    def read(self, amt: int | None = None) -> bytes:
        assert amt is not None, "the whole object must never be read at once"
        self.reads.append(amt)
        if self.fail_after is not None and self.offset >= self.fail_after:
            raise ResponseStreamingError(error="Connection broken: IncompleteRead(secret-bytes)")
        chunk = self.data[self.offset : self.offset + amt]
        self.offset += len(chunk)
        return chunk

    def close(self) -> None:
        self.closed = True


@dataclass
class Client:
    """The part of an S3 client a source calls; ``error`` is raised instead of answering."""

    body: Body | None = None
    error: Exception | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    def get_object(self, **kwargs: Any) -> Mapping[str, Any]:
        self.requests.append(kwargs)
        if self.error is not None:
            raise self.error
        return {"Body": self.body}


def client_error(code: str, status: int) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "Authorization: Bearer wlsecret-quoted-in-a-message"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "GetObject")


REF = ObjectRef("aws-waf-logs-central", "AWSLogs/111122223333/WAFLogs/a b.log.gz")


def test_the_body_is_read_in_blocks_and_closed() -> None:
    body = Body(gzip.compress(b"".join(record(i) + b"\n" for i in range(3)) * 2000))
    source = S3Object(REF, Client(body))
    with source.open() as stream:
        data = stream.read(READ_SIZE)
        while chunk := stream.read(READ_SIZE):
            data += chunk
    assert data == body.data
    assert max(body.reads) <= READ_SIZE
    assert body.closed
    assert source.missing is None


def test_a_version_is_asked_for_by_its_id() -> None:
    client = Client(Body(b""))
    S3Object(ObjectRef("b-1", "k", "v7"), client).open().close()
    S3Object(ObjectRef("b-1", "k"), client).open().close()
    assert client.requests == [
        {"Bucket": "b-1", "Key": "k", "VersionId": "v7"},
        {"Bucket": "b-1", "Key": "k"},
    ]


@pytest.mark.parametrize(
    ("code", "status"), [("NoSuchKey", 404), ("NoSuchVersion", 404), ("NoSuchBucket", 404)]
)
def test_an_object_that_does_not_exist_is_marked_missing(code: str, status: int) -> None:
    source = S3Object(REF, Client(error=client_error(code, status)))
    with pytest.raises(FileNotFoundError) as raised:
        source.open()
    assert raised.value.strerror == f"the object does not exist ({code})"
    assert source.missing == code


@pytest.mark.parametrize(
    ("error", "strerror"),
    [
        (client_error("AccessDenied", 403), "S3 refused GetObject (AccessDenied)"),
        (client_error("SlowDown", 503), "S3 refused GetObject (SlowDown)"),
        (
            ConnectTimeoutError(endpoint_url="https://s3.amazonaws.com"),
            "GetObject failed (ConnectTimeoutError)",
        ),
    ],
)
def test_other_failures_are_unreadable_naming_the_code_only(error: Exception, strerror: str) -> None:
    source = S3Object(REF, Client(error=error))
    with pytest.raises(OSError, match=r"^\[Errno 5\] ") as raised:
        source.open()
    assert raised.value.strerror == strerror
    assert raised.value.__cause__ is None  # botocore's message is not chained either
    assert raised.value.__suppress_context__
    assert source.missing is None


def test_a_body_that_breaks_mid_object_is_an_os_error_naming_its_type() -> None:
    body = Body(b"x" * (3 * READ_SIZE), fail_after=READ_SIZE)
    with S3Object(REF, Client(body)).open() as stream:
        assert len(stream.read(READ_SIZE)) == READ_SIZE
        with pytest.raises(OSError, match=r"ResponseStreamingError\)$") as raised:
            stream.read(READ_SIZE)
    assert raised.value.strerror == "reading the object failed (ResponseStreamingError)"
    assert body.closed


def test_the_pipeline_settles_a_broken_read_as_unreadable_after_the_batches_it_delivered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = b"".join(record(i) + b"\n" for i in range(12_000))
    assert len(lines) > 2 * READ_SIZE
    monkeypatch.setenv(ENV_LAKE, str(tmp_path / "lake"))
    monkeypatch.setenv(ENV_METRICS, "off")
    monkeypatch.setenv(ENV_BATCH_RECORDS, "1000")
    runtime.reset()
    try:
        result = runtime.run([S3Object(REF, Client(Body(lines, fail_after=2 * READ_SIZE)))], Context(60_000))
    finally:
        runtime.reset()
    (end,) = result.sources
    assert (end.source, end.status, end.redeliver) == (REF.name, "unreadable", True)
    assert end.problem == "reading the object failed (ResponseStreamingError)"
    assert 0 < result.summary.delivered < 12_000
    assert result.summary.retryable == 0
