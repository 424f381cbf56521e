"""SQS batches announcing S3 objects, in each shape AWS delivers them, built from ``tests/events/``.

``sqs_s3_notification.json`` is a whole Lambda SQS event; ``sns_notification.json``,
``eventbridge_object_created.json`` and ``s3_test_event.json`` are message bodies. Keys are written the
way S3 writes them (form-encoded: a space is ``+``, ``/`` kept, other bytes percent-escaped).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus

from tests.support.lambda_events import event_file

QUEUE_ARN = "arn:aws:sqs:us-east-1:111122223333:waflens-s3"
BUCKET = "aws-waf-logs-central"
KEY = (
    "AWSLogs/111122223333/WAFLogs/us-east-1/shop/2026/01/05/10/05/"
    "111122223333_waflogs_us-east-1_shop_20260105T1005Z_0a1b2c3d.log.gz"
)

Body = str | Mapping[str, Any]


def message_id(i: int) -> str:
    """A messageId shaped like SQS's (a UUID)."""
    return f"059f36b4-87a3-44ab-83d2-{i:012d}"


def notification(
    bucket: str = BUCKET,
    key: str = KEY,
    *,
    version: str | None = None,
    event_name: str = "ObjectCreated:Put",
    encoded: str | None = None,
) -> dict[str, Any]:
    """S3's event notification for one object (the event file's body), its key as S3 encodes it."""
    body: dict[str, Any] = json.loads(event_file("sqs_s3_notification.json")["Records"][0]["body"])
    record = body["Records"][0]
    record["eventName"] = event_name
    record["s3"]["bucket"] |= {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}
    record["s3"]["object"]["key"] = encoded if encoded is not None else quote_plus(key, safe="/")
    if version is not None:
        record["s3"]["object"]["versionId"] = version
    return body


def notifications(*bodies: dict[str, Any]) -> dict[str, Any]:
    """One notification holding the records of several (S3 sends one each; the format allows more)."""
    return {"Records": [record for body in bodies for record in body["Records"]]}


def sns(inner: Body) -> dict[str, Any]:
    """``inner`` as SNS delivers it to an SQS subscription without raw message delivery."""
    envelope: dict[str, Any] = event_file("sns_notification.json")
    envelope["Message"] = inner if isinstance(inner, str) else json.dumps(inner)
    return envelope


def eventbridge(
    bucket: str = BUCKET,
    key: str = KEY,
    *,
    version: str | None = None,
    detail_type: str = "Object Created",
    encoded: str | None = None,
) -> dict[str, Any]:
    """An EventBridge event from S3 (the event file), delivered to an SQS target as it is."""
    event: dict[str, Any] = event_file("eventbridge_object_created.json")
    event["detail-type"] = detail_type
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    event["detail"]["bucket"]["name"] = bucket
    obj = event["detail"]["object"]
    obj["key"] = encoded if encoded is not None else quote_plus(key, safe="/")
    if version is None:
        del obj["version-id"]
    else:
        obj["version-id"] = version
    return event


def s3_test_event(bucket: str = BUCKET) -> dict[str, Any]:
    """The ``s3:TestEvent`` S3 sends when a notification configuration is saved."""
    event: dict[str, Any] = event_file("s3_test_event.json")
    event["Bucket"] = bucket
    return event


def sqs_event(bodies: Sequence[Body], *, queue_arn: str = QUEUE_ARN) -> dict[str, Any]:
    """A Lambda SQS event, one message per body (a str is sent as it is, anything else as JSON)."""
    template = event_file("sqs_s3_notification.json")["Records"][0]
    records = [
        template
        | {
            "messageId": message_id(i),
            "body": body if isinstance(body, str) else json.dumps(body),
            "eventSourceARN": queue_arn,
        }
        for i, body in enumerate(bodies)
    ]
    return {"Records": records}


def from_queue(messages: Sequence[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    """``ReceiveMessage``'s messages as the event an SQS event source mapping hands to Lambda."""
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": m.get("MessageAttributes", {}),
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": queue_arn.split(":")[3],
        }
        for m in messages
    ]
    return {"Records": records}


def failed_ids(response: Mapping[str, Any]) -> list[str]:
    """The messageIds a response lists as batch item failures, checking the contract's shape."""
    assert set(response) == {"batchItemFailures"}
    assert all(set(failure) == {"itemIdentifier"} for failure in response["batchItemFailures"])
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]
