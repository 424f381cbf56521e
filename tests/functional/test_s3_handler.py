"""The S3/SQS handler against S3 and SQS on loopback (moto) and a fault-injecting cluster.

Messages come from moto's own plumbing where it can make them (S3 → SQS, S3 → SNS → SQS, S3 →
EventBridge → SQS, the test event S3 sends when notifications are configured), and from the event files
where a test needs a shape moto does not write (encoded keys in EventBridge events, broken bodies).
"""

from __future__ import annotations

import gzip
import io
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from devtools.fake_opensearch import FakeOpenSearch, Faults
from devtools.generate import iter_records
from enrich import schema as S
from enrich.config import ConfigError
from ingest import telemetry
from ingest.decode.records import record_id
from ingest.environment import (
    ENV_BATCH_RECORDS,
    ENV_DEAD_LETTER,
    ENV_DEADLINE_MARGIN,
    ENV_FIREHOSE_MODE,
    ENV_LAKE,
    ENV_METRICS,
    ENV_OPENSEARCH_URL,
    ENV_RETRY_SECONDS,
)
from ingest.handlers import s3 as s3_handler
from ingest.sinks.lake import scan_lake
from tests.support.lambda_events import Context, cut_inside_secret, leaks, waf_lines, with_secrets
from tests.support.moto import Aws
from tests.support.s3_events import (
    BUCKET,
    eventbridge,
    failed_ids,
    from_queue,
    message_id,
    notification,
    s3_test_event,
    sns,
    sqs_event,
)

PREFIX = "AWSLogs/111122223333/WAFLogs/us-east-1/shop/2026/01/05/10/05/"


@dataclass
class SlowBody:
    """A GetObject body whose every read waits first, like a slow connection."""

    body: Any
    seconds: float

    def read(self, amt: int | None = None) -> bytes:
        time.sleep(self.seconds)
        data: bytes = self.body.read(amt)
        return data

    def close(self) -> None:
        self.body.close()


@dataclass
class Bucket:
    """The log bucket on loopback, and a client that can run a hook or slow the reads of a key."""

    client: Any
    hooks: dict[str, Callable[[], None]] = field(default_factory=dict)
    read_seconds: dict[str, float] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)

    def put(self, key: str, lines: list[bytes]) -> str:
        self.client.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(b"\n".join(lines) + b"\n"))
        return key

    def get_object(self, **kwargs: Any) -> Mapping[str, Any]:
        self.reads.append(kwargs["Key"])
        if hook := self.hooks.get(kwargs["Key"]):
            hook()
        response: dict[str, Any] = self.client.get_object(**kwargs)
        if seconds := self.read_seconds.get(kwargs["Key"]):
            response["Body"] = SlowBody(response["Body"], seconds)
        return response


@pytest.fixture
def bucket(aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bucket]:
    """A fresh cold start per test: the log bucket in moto, the lake and dead letters in tmp_path."""
    for name in (
        ENV_OPENSEARCH_URL,
        ENV_FIREHOSE_MODE,
        ENV_RETRY_SECONDS,
        ENV_DEADLINE_MARGIN,
        ENV_BATCH_RECORDS,
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(ENV_LAKE, str(tmp_path / "lake"))
    monkeypatch.setenv(ENV_DEAD_LETTER, str(tmp_path / "dead"))
    monkeypatch.setenv(ENV_METRICS, "off")
    client: Any = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    s3_handler.reset()
    yield Bucket(client)
    s3_handler.reset()
    telemetry.configure_metrics("off")
    telemetry.logger().clear_state()


def handle(bucket: Bucket, event: dict[str, Any], context: Context | None = None) -> list[str]:
    """The messageIds the handler reports failed (checking the response's shape)."""
    return failed_ids(s3_handler.process(event, context or Context(), s3=bucket))


def lake_ids(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(scan_lake(root).select(S.DOC_ID).collect()[S.DOC_ID].to_list())


def dead_letters(folder: Path) -> list[dict[str, Any]]:
    return [
        orjson.loads(line) for f in sorted(folder.glob("*.ndjson")) for line in f.read_bytes().splitlines()
    ]


def queue(aws: Aws, name: str = "waflens-s3") -> tuple[Any, str, str]:
    sqs: Any = aws.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, arn


def drain(sqs: Any, url: str, arn: str) -> dict[str, Any]:
    """Everything on the queue, as the event an SQS event source mapping hands the function."""
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600, AttributeNames=["All"]
    ).get("Messages", []):
        messages += batch
    return from_queue(messages, arn)


# --- shapes --------------------------------------------------------------------------------------------


def test_objects_s3_announces_directly_and_through_sns_are_each_read_once_and_delivered(
    aws: Aws, bucket: Bucket, tmp_path: Path
) -> None:
    sqs, url, arn = queue(aws)
    sns_client: Any = aws.client("sns")
    topic = sns_client.create_topic(Name="waf-logs-created")["TopicArn"]
    sns_client.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    bucket.client.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}],
            "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}],
        },
    )
    keys = [
        bucket.put(PREFIX + "plain.log.gz", waf_lines()),
        bucket.put(PREFIX + "a space, a+plus & 100% €uro/ünïcode.log.gz", waf_lines("panther.ndjson")),
    ]
    event = drain(sqs, url, arn)
    bodies = [json.loads(r["body"]) for r in event["Records"]]
    assert sum("Records" in b for b in bodies) == 2  # both objects straight from S3
    assert sum(b.get("Event") == "s3:TestEvent" for b in bodies) == 1  # and S3's test event
    assert sum(b.get("Type") == "Notification" for b in bodies) == 3  # the same three, through SNS

    assert handle(bucket, event) == []
    assert sorted(bucket.reads) == sorted(keys)  # each object once, though announced twice
    assert len(lake_ids(tmp_path / "lake")) == 12
    assert not (tmp_path / "dead").exists()


def test_an_eventbridge_rule_with_the_queue_as_target_is_read_the_same_way(
    aws: Aws, bucket: Bucket, tmp_path: Path
) -> None:
    sqs, url, arn = queue(aws)
    events: Any = aws.client("events")
    events.put_rule(
        Name="waf-logs", EventPattern=json.dumps({"source": ["aws.s3"], "detail-type": ["Object Created"]})
    )
    events.put_targets(Rule="waf-logs", Targets=[{"Id": "waflens", "Arn": arn}])
    bucket.client.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    key = bucket.put(PREFIX + "via-eventbridge.log.gz", waf_lines())
    event = drain(sqs, url, arn)
    assert [json.loads(r["body"])["detail-type"] for r in event["Records"]] == ["Object Created"]
    assert handle(bucket, event) == []
    assert bucket.reads == [key]
    assert len(lake_ids(tmp_path / "lake")) == 6


@pytest.mark.parametrize("shape", ["notification", "sns", "eventbridge"])
def test_keys_s3_encodes_are_decoded_to_the_object_in_every_shape(
    shape: str, bucket: Bucket, tmp_path: Path
) -> None:
    keys = [PREFIX + k for k in ("a b.log.gz", "c++.log.gz", "50%/x?y#z.log.gz", "€é 🔥.log.gz")]
    for key in keys:
        bucket.put(key, waf_lines())
    made = {
        "notification": notification,
        "sns": lambda key: sns(notification(key=key)),
        "eventbridge": eventbridge,
    }[shape]
    assert handle(bucket, sqs_event([made(key=key) for key in keys])) == []
    assert bucket.reads == keys
    assert len(lake_ids(tmp_path / "lake")) == 6  # the same records in each object
    assert not (tmp_path / "dead").exists()  # none was missing


# --- the contract --------------------------------------------------------------------------------------


def test_one_missing_one_good_one_retryable_fails_only_the_retryable_message(
    bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = bucket.put(PREFIX + "good.log.gz", waf_lines())
    faulty = bucket.put(PREFIX + "faulty.log.gz", waf_lines("panther.ndjson"))
    event = sqs_event(
        [notification(key=PREFIX + "gone.log.gz"), notification(key=good), notification(key=faulty)]
    )
    monkeypatch.setenv(ENV_RETRY_SECONDS, "1.5")
    # the objects share a batch: the cluster throttles the faulty object's documents only
    throttled = frozenset(record_id(line) for line in waf_lines("panther.ndjson"))
    with FakeOpenSearch(faults=Faults(throttled_ids=throttled)) as cluster:
        monkeypatch.setenv(ENV_OPENSEARCH_URL, cluster.url)
        assert handle(bucket, event) == [message_id(2)]
    letters = dead_letters(tmp_path / "dead")
    assert letters == [
        {
            "source": f"s3://{BUCKET}/{PREFIX}gone.log.gz",
            "position": "whole object",
            "kind": "missing_object",
            "reason": "the object does not exist (NoSuchKey): it was deleted or never written; not retried",
            "original": "",
        }
    ]
    assert len({doc_id for _, doc_id in cluster.documents}) == 6  # the good object's records only
    assert len(lake_ids(tmp_path / "lake")) == 12  # the lake took both: the retry must not duplicate them


def test_a_redelivered_batch_leaves_the_same_documents_in_the_lake_and_the_cluster(
    bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [
        bucket.put(PREFIX + "one.log.gz", waf_lines()),
        bucket.put(PREFIX + "two.log.gz", waf_lines("opensearch-dashboards-observability.ndjson")),
    ]
    gone = notification(key=PREFIX + "gone.log.gz")
    event = sqs_event([notification(key=keys[0]), sns(notification(key=keys[1])), "not json", gone])
    with FakeOpenSearch() as cluster:
        monkeypatch.setenv(ENV_OPENSEARCH_URL, cluster.url)
        assert handle(bucket, event) == []
        lake, documents = lake_ids(tmp_path / "lake"), dict(cluster.documents)
        letters = sorted((tmp_path / "dead").iterdir())
        s3_handler.reset()  # SQS delivers the batch again, to another cold start
        assert handle(bucket, event) == []
        assert handle(bucket, {"Records": event["Records"][1:]}) == []  # and its messages in another batch
    assert lake_ids(tmp_path / "lake") == lake
    assert len(lake) == len(set(lake)) == 6 + 38
    assert cluster.documents == documents
    writes = sorted(Counter(cluster.index_count_by_key.values()).items())
    assert writes == [(2, 6), (3, 38)]  # each delivery overwrote its documents in place
    assert sorted((tmp_path / "dead").iterdir()) == letters  # the same entries, not a second copy
    assert sorted(e["kind"] for e in dead_letters(tmp_path / "dead")) == ["invalid_json", "missing_object"]


def test_an_object_whose_gzip_breaks_off_is_settled_not_sent_back(bucket: Bucket, tmp_path: Path) -> None:
    whole = gzip.compress(b"\n".join(waf_lines()) + b"\n")
    key = PREFIX + "cut.log.gz"
    bucket.client.put_object(Bucket=BUCKET, Key=key, Body=whole[: len(whole) * 2 // 3])
    assert handle(bucket, sqs_event([notification(key=key)])) == []  # the same bytes would break again
    assert 0 < len(lake_ids(tmp_path / "lake")) < 6
    (letter,) = dead_letters(tmp_path / "dead")
    assert (letter["source"], letter["kind"]) == (f"s3://{BUCKET}/{key}", "truncated_input")


# --- the deadline --------------------------------------------------------------------------------------


def test_no_time_left_fails_every_message_with_an_object_and_settles_the_rest(
    bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_DEADLINE_MARGIN, "5")
    key = bucket.put(PREFIX + "late.log.gz", waf_lines())
    event = sqs_event([notification(key=key), s3_test_event(), "{broken", eventbridge(key=key)])
    assert handle(bucket, event, Context(millis=4_000)) == [message_id(0), message_id(3)]
    assert bucket.reads == []  # nothing was started
    assert not (tmp_path / "lake").exists()
    assert [entry["kind"] for entry in dead_letters(tmp_path / "dead")] == ["invalid_json"]


def test_an_object_the_deadline_cuts_short_fails_with_those_not_started_and_a_retry_converges(
    bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = list(iter_records(1_200, seed=5))  # about 2.9 MB: three read blocks, a batch each
    first = PREFIX + "first.log"
    bucket.client.put_object(Bucket=BUCKET, Key=first, Body=b"\n".join(records) + b"\n")
    second = bucket.put(PREFIX + "second.log.gz", waf_lines())
    event = sqs_event([notification(key=first), notification(key=second)])
    monkeypatch.setenv(ENV_BATCH_RECORDS, "100")
    monkeypatch.setenv(ENV_DEADLINE_MARGIN, "0")
    bucket.read_seconds[first] = 0.6  # a slow connection: the second block arrives after the deadline
    assert handle(bucket, event, Context(millis=1_000)) == [message_id(0), message_id(1)]
    assert bucket.reads == [first]  # the second object was never started
    assert 0 < len(lake_ids(tmp_path / "lake")) < len(records)

    bucket.read_seconds.clear()
    s3_handler.reset()
    assert handle(bucket, event) == []
    stored = lake_ids(tmp_path / "lake")
    assert len(stored) == len(set(stored)) == len(set(records)) + 6


# --- bodies that cannot be read ------------------------------------------------------------------------


def test_bodies_that_cannot_be_read_are_dead_lettered_whole_and_their_messages_succeed(
    bucket: Bucket, tmp_path: Path
) -> None:
    bodies: list[Any] = ["not json", {"unknown": "shape"}, "[1, 2, 3]", sns("{still not json")]
    assert handle(bucket, sqs_event(bodies)) == []
    letters = {e["source"]: e for e in dead_letters(tmp_path / "dead")}
    kinds = ["invalid_json", "missing_field", "not_an_object", "invalid_json"]
    assert {source: e["kind"] for source, e in letters.items()} == {
        f"sqs:waflens-s3/{message_id(i)}": kind for i, kind in enumerate(kinds)
    }
    originals = [letters[f"sqs:waflens-s3/{message_id(i)}"]["original"] for i in range(len(bodies))]
    assert originals[0] == "not json"
    wrapped = bodies[3] | {"Signature": "REDACTED"}  # "signature" names a secret in the redaction policy
    assert [json.loads(o) for o in originals[1:]] == [bodies[1], [1, 2, 3], wrapped]
    assert not (tmp_path / "lake").exists()


def test_an_empty_batch_and_a_test_event_succeed_with_nothing_written(bucket: Bucket, tmp_path: Path) -> None:
    assert handle(bucket, {"Records": []}) == []
    assert handle(bucket, sqs_event([s3_test_event(), sns(s3_test_event())])) == []
    assert handle(bucket, sqs_event([notification(event_name="ObjectRemoved:Delete")])) == []
    assert bucket.reads == []
    assert not (tmp_path / "lake").exists()
    assert not (tmp_path / "dead").exists()


def test_what_cannot_be_dead_lettered_is_failed_so_that_sqs_keeps_it(
    aws: Aws, bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket.client.create_bucket(Bucket="waflens-dead")
    monkeypatch.setenv(ENV_DEAD_LETTER, "s3://waflens-dead/letters")
    good = bucket.put(PREFIX + "good.log.gz", waf_lines())
    assert handle(bucket, sqs_event([notification(key=good)])) == []  # the cold start checked the store
    for obj in bucket.client.list_objects_v2(Bucket="waflens-dead").get("Contents", []):
        bucket.client.delete_object(Bucket="waflens-dead", Key=obj["Key"])
    bucket.client.delete_bucket(Bucket="waflens-dead")  # the store goes away while the function is warm
    event = sqs_event(["not json", notification(key=PREFIX + "gone.log.gz"), notification(key=good)])
    assert handle(bucket, event) == [message_id(0), message_id(1)]


def test_an_event_that_is_not_an_sqs_batch_fails_in_one_sentence(bucket: Bucket) -> None:
    with pytest.raises(s3_handler.NotAnSqsBatch, match=r"^the event is not an SQS batch \(Records\[\] with"):
        handle(bucket, notification())  # S3 wired straight to the function
    with pytest.raises(s3_handler.NotAnSqsBatch):
        handle(bucket, {"hello": "world"})


def test_a_firehose_mode_is_refused_here(bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_FIREHOSE_MODE, "transform")
    with pytest.raises(ConfigError, match=r"^WAFLENS_FIREHOSE_MODE is for a Firehose function"):
        handle(bucket, sqs_event([notification()]))


# --- secrets -------------------------------------------------------------------------------------------


def test_no_planted_secret_reaches_an_s3_object_the_pipeline_writes_a_log_line_or_the_response(
    aws: Aws, bucket: Bucket, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    bucket.client.create_bucket(Bucket="waflens-lake")
    monkeypatch.setenv(ENV_LAKE, "s3://waflens-lake/lake")
    monkeypatch.setenv(ENV_DEAD_LETTER, "s3://waflens-lake/dead")
    lines = [with_secrets(line, i) for i, line in enumerate(waf_lines())]
    cut = cut_inside_secret(lines[0])
    key = bucket.put(PREFIX + "secrets.log.gz", [*lines, cut, lines[1].replace(b'"action"', b'"action":,')])
    body = f"Authorization: {lines[2].decode()} ?token={lines[3].decode()}"  # a body that is not JSON
    event = sqs_event([notification(key=key), body, sns(body), {"Records": [orjson.loads(lines[4])]}])
    assert all(leaks([text]) for text in (*lines, cut, body))  # the checks below could fail
    monkeypatch.setenv(ENV_RETRY_SECONDS, "1.5")
    with FakeOpenSearch(Faults(item_500=1.0)) as cluster:  # retryable: reasons reach the log line too
        monkeypatch.setenv(ENV_OPENSEARCH_URL, cluster.url)
        response = s3_handler.process(event, Context(), s3=bucket)
    out, err = capfd.readouterr()
    assert failed_ids(response) == [message_id(0)]
    listed = bucket.client.list_objects_v2(Bucket="waflens-lake").get("Contents", [])
    stored = {
        o["Key"]: bucket.client.get_object(Bucket="waflens-lake", Key=o["Key"])["Body"].read() for o in listed
    }
    assert any(k.startswith("dead/") for k in stored)
    assert sum(k.endswith(".parquet") for k in stored) >= 1
    written: list[str | bytes] = [*stored, *stored.values(), json.dumps(response), out, err]
    written += [
        pl.read_parquet(io.BytesIO(v)).write_ndjson() for k, v in stored.items() if k.endswith(".parquet")
    ]
    written += [r.decompressed_body for r in cluster.requests]
    assert leaks(written) == set()
