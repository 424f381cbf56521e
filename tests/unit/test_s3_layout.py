"""WAF's S3 key layout, and the S3 event notification a backfill sends for an object."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import unquote_plus

import pytest
from aws_lambda_powertools.utilities.data_classes import S3Event

from ingest.sources.s3_layout import LogKey, notification, parse_key

KEY = (
    "AWSLogs/111122223333/WAFLogs/us-east-1/shop-acl/2026/01/05/10/35/"
    "111122223333_waflogs_us-east-1_shop-acl_20260105T1035Z_a1b2c3d4.log.gz"
)
AT = datetime(2026, 1, 5, 10, 35, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (KEY, LogKey("111122223333", "us-east-1", "shop-acl", AT)),
        (f"waf/central/{KEY}", LogKey("111122223333", "us-east-1", "shop-acl", AT)),
        (
            "AWSLogs/o-abcd123456/111122223333/WAFLogs/cloudfront/cdn_acl/2026/01/05/10/35/x.log.gz",
            LogKey("111122223333", "cloudfront", "cdn_acl", AT),
        ),
    ],
)
def test_keys_in_wafs_layout_give_the_web_acl_and_the_folder_time(key: str, expected: LogKey) -> None:
    assert parse_key(key) == expected


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("2026/01/05/10/aws-waf-logs-stream-1-2026-01-05-10-35-00-x", "not under AWSLogs/<account>/WAFLogs/"),
        (
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/05/x.json.gz",
            "not under AWSLogs/<account>/WAFLogs/",
        ),
        (
            "AWSLogs/11112222333/WAFLogs/us-east-1/acl/2026/01/05/10/35/x.log.gz",
            "not under AWSLogs/<account>/WAFLogs/",
        ),
        (
            "xAWSLogs/111122223333/WAFLogs/us-east-1/acl/2026/01/05/10/35/x.log.gz",
            "not under AWSLogs/<account>/WAFLogs/",
        ),
        (
            "AWSLogs/111122223333/WAFLogs/us-east-1/acl/2026/01/05/10/x.log.gz",
            "not in a <region>/<web-acl>/YYYY/MM/dd/HH/mm/ folder",
        ),
        (
            "AWSLogs/111122223333/WAFLogs/us-east-1/acl/2026/01/05/10/35/",
            "not in a <region>/<web-acl>/YYYY/MM/dd/HH/mm/ folder",
        ),
        ("AWSLogs/111122223333/WAFLogs/us-east-1/acl/2026/01/05/10/35/x.log", "not a .log.gz file"),
        (
            "AWSLogs/111122223333/WAFLogs/us-east-1/acl/2026/13/05/10/35/x.log.gz",
            "its YYYY/MM/dd/HH/mm folders are not a time",
        ),
        (
            "AWSLogs/111122223333/WAFLogs/us-east-1/acl/2026/02/30/10/35/x.log.gz",
            "its YYYY/MM/dd/HH/mm folders are not a time",
        ),
    ],
)
def test_keys_outside_the_layout_say_why(key: str, reason: str) -> None:
    assert parse_key(key) == reason


@pytest.mark.parametrize(
    ("key", "encoded"),
    [
        (KEY, KEY),
        (
            "AWSLogs/111122223333/WAFLogs/eu-west-1/a b/2026/01/05/10/35/ü + é=%2F&?.log.gz",
            "AWSLogs/111122223333/WAFLogs/eu-west-1/a+b/2026/01/05/10/35/%C3%BC+%2B+%C3%A9%3D%252F%26%3F.log.gz",
        ),
    ],
)
def test_the_notification_is_what_s3_sends_with_the_key_form_encoded(key: str, encoded: str) -> None:
    modified = datetime(2026, 1, 5, 11, 40, 3, 123456, tzinfo=timezone(timedelta(hours=1)))
    obj = {"Key": key, "Size": 1234, "ETag": '"9dd4e461268c8034f5c8564e155c67a6"', "LastModified": modified}

    body = json.loads(notification("aws-waf-logs-shop", obj, "eu-west-1", "REQ1"))

    [raw] = body["Records"]
    assert raw["s3"]["object"]["key"] == encoded  # a space is "+", "/" kept, the rest percent-encoded
    assert unquote_plus(encoded) == key
    event = S3Event(body)  # Powertools' S3 event data class reads it like one S3 sent
    record = event.record
    assert (record.event_source, record.event_name, record.aws_region) == (
        "aws:s3",
        "ObjectCreated:Put",
        "eu-west-1",
    )
    assert record.event_time == "2026-01-05T10:40:03.123Z"
    assert (event.bucket_name, event.object_key) == ("aws-waf-logs-shop", key)
    assert (record.s3.bucket.arn, record.s3.get_object.size) == ("arn:aws:s3:::aws-waf-logs-shop", 1234)
    assert record.s3.get_object.etag == "9dd4e461268c8034f5c8564e155c67a6"
    assert record.s3.get_object.sequencer
    assert record.response_elements["x-amz-request-id"] == "REQ1"
