"""``waflens backfill`` against S3 and SQS on loopback (moto): what it enqueues, how it batches, resumes
and reports, and that every message reads as the S3 event notification S3 itself would send."""

from __future__ import annotations

import errno
import gzip
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aws_lambda_powertools.utilities.data_classes import S3Event, SQSEvent

from ingest.backfill import Backfill, Checkpoint, Job
from ingest.cli.main import main
from tests.support.moto import Aws
from tests.unit.test_accounts import SECRETS, record

BUCKET = "aws-waf-logs-central"
ACCOUNT = "111122223333"
START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def key(minutes: int, acl: str = "shop", n: int = 0, account: str = ACCOUNT) -> str:
    t = START + timedelta(minutes=minutes)
    return (
        f"AWSLogs/{account}/WAFLogs/us-east-1/{acl}/{t:%Y/%m/%d/%H/%M}/"
        f"{account}_waflogs_us-east-1_{acl}_{t:%Y%m%dT%H%MZ}_{n:08x}.log.gz"
    )


def body() -> bytes:
    return gzip.compress(record(ACCOUNT) + b"\n")  # a real log object, with planted secrets


def bucket(aws: Aws, keys: list[str]) -> Any:
    s3: Any = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for k in keys:
        s3.put_object(Bucket=BUCKET, Key=k, Body=body())
    return s3


def queue(aws: Aws) -> tuple[Any, str]:
    sqs: Any = aws.client("sqs")
    return sqs, sqs.create_queue(QueueName="waflens-backfill")["QueueUrl"]


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message on the queue, as the SQS event a Lambda would get."""
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600).get(
        "Messages", []
    ):
        messages += batch
    return messages


def s3_events(messages: list[dict[str, Any]]) -> list[S3Event]:
    """The messages as Powertools reads them: an SQS event whose bodies are S3 event notifications."""
    records = [{"messageId": m["MessageId"], "body": m["Body"], "eventSource": "aws:sqs"} for m in messages]
    return [S3Event(json.loads(r.body)) for r in SQSEvent({"Records": records}).records]


def summary(out: str) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(out.strip().splitlines()[-1])
    return result


def calls(client: Any) -> list[int]:
    """Entries per SendMessageBatch call the client makes, from now on."""
    sizes: list[int] = []
    client.meta.events.register(
        "provide-client-params.sqs.SendMessageBatch", lambda params, **_: sizes.append(len(params["Entries"]))
    )
    return sizes


def test_backfill_enqueues_the_waf_objects_in_the_range_as_s3_notifications(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    in_range = [key(m, n=n) for m in range(5, 20, 5) for n in range(4)] + [key(5, acl="api")]
    outside = [key(0), key(20), key(25, acl="api")]
    strays = [
        "AWSLogs/111122223333/WAFLogs/README.txt",
        "AWSLogs/111122223333/WAFLogs/us-east-1/shop/x.log.gz",
    ]
    bucket(aws, in_range + outside + strays)
    sqs, url = queue(aws)
    checkpoint = tmp_path / "cp.json"

    since, until = "2026-01-05T10:05Z", "2026-01-05T11:20+01:00"
    window = ["--since", since, "--until", until]
    code = main(
        ["backfill", f"s3://{BUCKET}/AWSLogs/", "--queue", url, *window, "--checkpoint", str(checkpoint)]
    )

    out, err = capsys.readouterr()
    report = summary(out)
    assert code == 0
    assert {k: report[k] for k in ("listed", "enqueued", "outside_range", "skipped_count", "complete")} == {
        "listed": 18,
        "enqueued": 13,
        "outside_range": 3,
        "skipped_count": 2,
        "complete": True,
    }
    assert report["enqueued_bytes"] == 13 * len(body())
    assert (report["failed"], report["error"]) == ([], None)
    assert sorted(report["skipped"]) == [
        "AWSLogs/111122223333/WAFLogs/README.txt: not in a <region>/<web-acl>/YYYY/MM/dd/HH/mm/ folder",
        "AWSLogs/111122223333/WAFLogs/us-east-1/shop/x.log.gz:"
        " not in a <region>/<web-acl>/YYYY/MM/dd/HH/mm/ folder",
    ]
    assert "waflens: backfill: 13 objects (0.0 MB) enqueued" in err
    events = s3_events(drain(sqs, url))
    assert sorted(e.object_key for e in events) == sorted(in_range)
    assert {(e.record.event_source, e.record.event_name, e.bucket_name) for e in events} == {
        ("aws:s3", "ObjectCreated:Put", BUCKET)
    }
    assert {e.record.s3.get_object.size for e in events} == {len(body())}
    assert orjson.loads(checkpoint.read_bytes())["last_key"] == max(in_range + outside + strays)


def test_messages_go_ten_per_call(aws: Aws, tmp_path: Path) -> None:
    s3 = bucket(aws, [key(0, n=n) for n in range(23)])
    sqs, url = queue(aws)
    sizes = calls(sqs)
    job = Job(BUCKET, "", url)

    report = Backfill(job, s3, sqs, Checkpoint(tmp_path / "cp.json", job)).run()

    assert (report.enqueued, report.complete) == (23, True)
    assert sizes == [10, 10, 3]
    assert len(drain(sqs, url)) == 23


def test_keys_with_spaces_and_unicode_come_back_exactly_and_can_be_fetched(aws: Aws, tmp_path: Path) -> None:
    keys = [key(0, acl="my acl"), key(5, acl="ünïcødé+plus=%41"), f"waf logs/{key(10, acl='a&b?c')}"]
    s3 = bucket(aws, keys)
    sqs, url = queue(aws)
    job = Job(BUCKET, "", url)

    assert Backfill(job, s3, sqs, Checkpoint(tmp_path / "cp.json", job)).run().enqueued == 3

    events = s3_events(drain(sqs, url))
    assert sorted(e.object_key for e in events) == sorted(keys)
    for event in events:  # what the S3/SQS handler does with a notification: fetch the object
        fetched = s3.get_object(Bucket=event.bucket_name, Key=event.object_key)["Body"].read()
        assert gzip.decompress(fetched) == record(ACCOUNT) + b"\n"


def test_an_interrupted_backfill_resumes_after_its_checkpoint_enqueuing_each_object_once(
    aws: Aws, tmp_path: Path
) -> None:
    keys = [key(m, n=n) for m in range(0, 30, 5) for n in range(5)]  # 30 objects, three batches
    s3 = bucket(aws, keys)
    sqs, url = queue(aws)
    job = Job(BUCKET, "AWSLogs/", url)
    checkpoint = Checkpoint(tmp_path / "cp.json", job)
    sizes = calls(sqs)

    def interrupt(**_: Any) -> None:
        if len(sizes) == 2:  # Ctrl-C while the second batch is being sent
            raise KeyboardInterrupt

    sqs.meta.events.register("provide-client-params.sqs.SendMessageBatch", interrupt)
    stopped = Backfill(job, s3, sqs, checkpoint).run()
    sqs.meta.events.unregister("provide-client-params.sqs.SendMessageBatch", interrupt)

    assert (stopped.enqueued, stopped.complete, stopped.error) == (10, False, "interrupted")
    assert checkpoint.load() == sorted(keys)[9] == stopped.last_key
    resumed = Backfill(job, s3, sqs, checkpoint).run()
    assert (resumed.resumed_after, resumed.listed, resumed.enqueued, resumed.complete) == (
        sorted(keys)[9],
        20,
        20,
        True,
    )
    enqueued = [e.object_key for e in s3_events(drain(sqs, url))]
    assert sorted(enqueued) == sorted(keys)  # each once


def test_a_second_run_with_the_checkpoint_enqueues_only_what_is_new(
    aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = bucket(aws, [key(0, n=n) for n in range(12)])
    sqs, url = queue(aws)
    monkeypatch.chdir(tmp_path)  # the default checkpoint is written in the working folder
    argv = ["backfill", f"s3://{BUCKET}/AWSLogs/{ACCOUNT}/", "--queue", url]

    assert main(argv) == 0
    first = summary(capsys.readouterr().out)
    assert main(argv) == 0
    second = summary(capsys.readouterr().out)
    s3.put_object(Bucket=BUCKET, Key=key(60), Body=body())  # WAF wrote another object since
    assert main(argv) == 0
    third = summary(capsys.readouterr().out)

    assert (first["enqueued"], second["enqueued"], second["listed"], third["enqueued"]) == (12, 0, 0, 1)
    assert first["checkpoint"] == second["checkpoint"]
    assert Path(first["checkpoint"]).name.startswith(f"waflens-backfill-{BUCKET}-")
    assert len(drain(sqs, url)) == 13


class FlakySqs:
    """SQS that refuses some entries: ``refusals[key]`` more times for a key, with ``sender_fault``."""

    def __init__(self, sqs: Any, refusals: Mapping[str, int], *, sender_fault: bool = False) -> None:
        self.sqs, self.refusals, self.sender_fault = sqs, dict(refusals), sender_fault
        self.sends: list[int] = []

    def send_message_batch(self, **kwargs: Any) -> Mapping[str, Any]:
        self.sends.append(len(kwargs["Entries"]))
        keep, failed = [], []
        for entry in kwargs["Entries"]:
            name = S3Event(json.loads(entry["MessageBody"])).object_key
            if self.refusals.get(name, 0) > 0:
                self.refusals[name] -= 1
                code = "InvalidMessageContents" if self.sender_fault else "InternalError"
                failed.append(
                    {"Id": entry["Id"], "SenderFault": self.sender_fault, "Code": code, "Message": "x"}
                )
            else:
                keep.append(entry)
        response = (
            dict(self.sqs.send_message_batch(QueueUrl=kwargs["QueueUrl"], Entries=keep)) if keep else {}
        )
        return {**response, "Failed": failed}


def test_failed_entries_are_retried_with_backoff(aws: Aws, tmp_path: Path) -> None:
    keys = [key(0, n=n) for n in range(12)]
    s3 = bucket(aws, keys)
    sqs, url = queue(aws)
    flaky = FlakySqs(sqs, {keys[3]: 2})
    job = Job(BUCKET, "", url)
    pauses: list[float] = []

    report = Backfill(job, s3, flaky, Checkpoint(tmp_path / "cp.json", job), sleep=pauses.append).run()

    assert (report.enqueued, report.failed, report.complete) == (12, [], True)
    assert flaky.sends == [10, 1, 1, 2]
    assert len(pauses) == 2
    assert all(0 <= p <= 5 for p in pauses)
    assert len(drain(sqs, url)) == 12


@pytest.mark.parametrize(("sender_fault", "sends"), [(False, [10, 2, 2, 2, 2]), (True, [10])])
def test_entries_sqs_keeps_refusing_are_reported_and_the_checkpoint_stops_before_them(
    aws: Aws, tmp_path: Path, sender_fault: bool, sends: list[int]
) -> None:
    keys = [key(0, n=n) for n in range(25)]
    s3 = bucket(aws, keys)
    sqs, url = queue(aws)
    flaky = FlakySqs(sqs, {keys[3]: 99, keys[7]: 99}, sender_fault=sender_fault)
    job = Job(BUCKET, "", url)
    checkpoint = Checkpoint(tmp_path / "cp.json", job)

    report = Backfill(job, s3, flaky, checkpoint, sleep=lambda _: None).run()

    code = "InvalidMessageContents" if sender_fault else "InternalError"
    assert report.failed == [f"{keys[3]}: {code}", f"{keys[7]}: {code}"]
    assert (report.enqueued, report.complete) == (8, False)
    assert report.error == "SQS did not take 2 message(s)"
    assert flaky.sends == sends
    assert checkpoint.load() == keys[2] == report.last_key  # a rerun starts with the first refused key


def test_the_command_exits_1_when_the_queue_does_not_exist_and_2_for_usage_mistakes(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket(aws, [key(0)])
    _, url = queue(aws)
    checkpoint = str(tmp_path / "cp.json")
    missing = url.replace("waflens-backfill", "no-such-queue")

    assert main(["backfill", f"s3://{BUCKET}", "--queue", missing, "--checkpoint", checkpoint]) == 1
    report = summary(capsys.readouterr().out)
    assert report["failed"] == [f"{key(0)}: AWS.SimpleQueueService.NonExistentQueue"]
    assert main(["backfill", "s3://no-such-bucket/AWSLogs/", "--queue", url, "--checkpoint", checkpoint]) == 1
    assert (
        summary(capsys.readouterr().out)["error"]
        == "listing s3://no-such-bucket/AWSLogs/ failed: NoSuchBucket"
    )
    assert main(["backfill", f"s3://{BUCKET}", "--queue", url, "--checkpoint", checkpoint]) == 0
    capsys.readouterr()

    for argv, sentence in [
        (["s3:/x", "--queue", url], "'s3:/x' is not an s3://bucket/prefix URL"),
        ([f"s3://{BUCKET}", "--queue", "sqs"], "--queue 'sqs' is not an SQS queue URL"),
        (
            [f"s3://{BUCKET}", "--queue", url, "--since", "yesterday"],
            "--since 'yesterday' is not an ISO 8601 time",
        ),
        (
            [f"s3://{BUCKET}", "--queue", url, "--since", "2026-01-02", "--until", "2026-01-01"],
            "--since must be before",
        ),
        (
            [f"s3://{BUCKET}/AWSLogs/", "--queue", url, "--checkpoint", checkpoint],
            "belongs to another backfill",
        ),
    ]:
        assert main(["backfill", *argv]) == 2
        out, err = capsys.readouterr()
        assert (out, err.count("\n")) == ("", 1)
        assert sentence in err


def test_nothing_of_the_objects_content_reaches_any_output(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket(aws, [key(0, n=n) for n in range(3)])
    sqs, url = queue(aws)
    checkpoint = tmp_path / "cp.json"

    assert main(["backfill", f"s3://{BUCKET}/", "--queue", url, "--checkpoint", str(checkpoint)]) == 0

    out, err = capsys.readouterr()
    written = out + err + checkpoint.read_text() + "".join(m["Body"] for m in drain(sqs, url))
    assert all(secret not in written for secret in SECRETS)
    assert "wlsecret" not in written


def test_without_an_aws_region_the_command_says_so_in_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    argv = [
        "backfill",
        f"s3://{BUCKET}",
        "--queue",
        "https://sqs.example/1/q",
        "--checkpoint",
        str(tmp_path / "c"),
    ]
    assert main(argv) == 2
    assert capsys.readouterr().err == "waflens: cannot make the AWS clients: You must specify a region.\n"


def test_a_checkpoint_that_cannot_be_written_stops_the_backfill_with_a_reason(
    aws: Aws, tmp_path: Path
) -> None:
    class FullDisk(Checkpoint):
        def save(self, last_key: str) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    s3 = bucket(aws, [key(0, n=n) for n in range(15)])
    sqs, url = queue(aws)
    job = Job(BUCKET, "", url)

    report = Backfill(job, s3, sqs, FullDisk(tmp_path / "cp.json", job)).run()

    assert (report.enqueued, report.complete) == (10, False)
    assert report.error == f"checkpoint {tmp_path / 'cp.json'} cannot be written: No space left on device"
