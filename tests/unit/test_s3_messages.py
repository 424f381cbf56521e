"""Reading SQS messages that announce S3 objects: every shape AWS sends, keys decoded, bad bodies named."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import SQSEvent

from ingest.handlers.s3_messages import Message, read_message
from ingest.sources.s3 import ObjectRef
from tests.support.lambda_events import event_file
from tests.support.s3_events import (
    BUCKET,
    KEY,
    QUEUE_ARN,
    Body,
    eventbridge,
    notification,
    notifications,
    s3_test_event,
    sns,
    sqs_event,
)


def read(body: Body) -> Message:
    (record,) = SQSEvent(sqs_event([body], queue_arn=QUEUE_ARN)).records
    return read_message(record)


def test_the_event_file_names_one_object_and_its_message() -> None:
    (record,) = SQSEvent(event_file("sqs_s3_notification.json")).records
    message = read_message(record)
    assert message.objects == (ObjectRef(BUCKET, KEY),)
    assert message.message_id == "059f36b4-87a3-44ab-83d2-661975830a7d"
    assert message.source == "sqs:waflens-s3/059f36b4-87a3-44ab-83d2-661975830a7d"
    assert (message.skipped, message.problem, message.dead_letter()) == ((), None, None)


@pytest.mark.parametrize(
    ("encoded", "key"),
    [
        ("logs/a+b.log.gz", "logs/a b.log.gz"),  # S3 writes a space as +
        ("logs/c%2B%2B.log.gz", "logs/c++.log.gz"),  # and a + as %2B
        ("logs%2F2026%2F01%2Fa.log.gz", "logs/2026/01/a.log.gz"),  # / escaped
        ("logs/%E2%82%AC%C3%A9%F0%9F%94%A5.log", "logs/€é🔥.log"),  # UTF-8 percent-escapes
        ("logs/100%25+done%3F%23.log", "logs/100% done?#.log"),
        ("logs/a%20b.log", "logs/a b.log"),  # %20 for a space decodes the same
    ],
)
def test_keys_are_decoded_in_every_shape(encoded: str, key: str) -> None:
    for body in (
        notification(encoded=encoded),
        sns(notification(encoded=encoded)),
        eventbridge(encoded=encoded),
    ):
        assert read(body).objects == (ObjectRef(BUCKET, key),)


def test_a_version_is_read_from_a_notification_and_an_eventbridge_event() -> None:
    assert read(notification(version="3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")).objects == (
        ObjectRef(BUCKET, KEY, "3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"),
    )
    assert read(eventbridge(version="IYV3p45BT0ac8hjHg1houSdS1a.Mro8e")).objects == (
        ObjectRef(BUCKET, KEY, "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"),
    )
    assert ObjectRef(BUCKET, KEY, "v1").name == f"s3://{BUCKET}/{KEY}?versionId=v1"
    assert ObjectRef(BUCKET, KEY, "null").name == ObjectRef(BUCKET, KEY).name == f"s3://{BUCKET}/{KEY}"


def test_a_notification_with_several_records_names_each_object() -> None:
    body = notifications(notification(key="a.log"), notification(key="b.log"))
    assert read(body).objects == (ObjectRef(BUCKET, "a.log"), ObjectRef(BUCKET, "b.log"))


@pytest.mark.parametrize(
    ("body", "skipped"),
    [
        (s3_test_event(), "s3:TestEvent"),
        (sns(s3_test_event()), "s3:TestEvent"),
        (notification(event_name="ObjectRemoved:Delete"), "ObjectRemoved:Delete"),
        (eventbridge(detail_type="Object Deleted"), "Object Deleted"),
    ],
)
def test_test_events_and_other_notifications_are_skipped(body: dict[str, Any], skipped: str) -> None:
    message = read(body)
    assert (message.objects, message.skipped, message.problem) == ((), (skipped,), None)


@pytest.mark.parametrize(
    ("body", "kind", "problem"),
    [
        ("not json at all", "invalid_json", "the message body is not JSON"),
        ("", "invalid_json", "the message body is not JSON"),
        ("[1, 2]", "not_an_object", "the message body is JSON but not an object"),
        (
            {"hello": "world"},
            "missing_field",
            "the message body is not an S3 event notification, an SNS notification or an EventBridge "
            "event from S3",
        ),
        (sns("{not json"), "invalid_json", "the SNS notification's Message is not JSON"),
        (
            sns(sns(notification())),
            "missing_field",
            "the SNS notification's Message is not an S3 event "
            "notification, an SNS notification or an EventBridge event from S3",
        ),
        ({"Type": "Notification"}, "invalid_field", "the SNS notification's Message is not a string"),
        ({"Records": {"s3": 1}}, "invalid_field", "the S3 event notification's Records is not a list"),
        ({"Records": [7]}, "invalid_field", "record 1 of the S3 event notification is not an object"),
        (
            {"Records": [{"s3": {}}]},
            "missing_field",
            "record 1 of the S3 event notification has no eventName field",
        ),
        (
            {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}}}]},
            "missing_field",
            "record 1 of the S3 event notification has no object field",
        ),
        (
            notification(encoded=""),
            "invalid_field",
            "record 1 of the S3 event notification has an object key that is not a non-empty string",
        ),
        (
            notification(bucket="no such/bucket"),
            "invalid_field",
            "record 1 of the S3 event notification has a bucket name S3 would not accept",
        ),
        (
            eventbridge() | {"detail": {"bucket": {"name": BUCKET}}},
            "missing_field",
            "the EventBridge event has no object field",
        ),
        ("[" * 100_000, "too_deep", "the message body is nested too deeply"),
    ],
)
def test_a_body_that_cannot_be_read_is_named_in_one_sentence_and_kept_whole(
    body: Body, kind: str, problem: str
) -> None:
    message = read(body)
    assert (message.objects, message.kind, message.problem) == ((), kind, problem)
    letter = message.dead_letter()
    assert letter is not None
    assert (letter.source, letter.position, letter.kind, letter.reason) == (
        message.source,
        "line 1",
        kind,
        problem,
    )
    assert letter.original == (body if isinstance(body, str) else json.dumps(body)).encode()


def test_a_broken_record_does_not_hide_the_good_ones_of_the_same_notification() -> None:
    broken = notification(key="b.log")
    del broken["Records"][0]["s3"]["bucket"]
    message = read(notifications(notification(key="a.log"), broken, notification(key="c.log")))
    assert message.objects == (ObjectRef(BUCKET, "a.log"), ObjectRef(BUCKET, "c.log"))
    assert (message.kind, message.problem) == (
        "missing_field",
        "record 2 of the S3 event notification has no bucket field",
    )


def test_a_reason_never_quotes_the_body() -> None:
    secret = "wlsecret-Zq8Xv2Lp0Tr5"
    for body in (f"Authorization: Bearer {secret}", {secret: secret}, sns(f"{{{secret}"), [secret]):
        message = read(body if isinstance(body, str | dict) else json.dumps(body))
        assert message.problem is not None
        assert secret not in message.problem
