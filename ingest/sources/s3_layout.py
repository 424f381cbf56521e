"""WAF's log objects in S3: where a key says an object belongs, and how S3 announces a new one.

WAF writes ``[prefix/]AWSLogs/[<org-id>/]<account>/WAFLogs/<region>/<web-acl>/YYYY/MM/dd/HH/mm/<file>.log.gz``
(``<region>`` is ``cloudfront`` for CloudFront web ACLs; ``mm`` is a 5-minute folder, UTC).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote_plus

import orjson

_LAYOUT: Final = re.compile(
    r"(?:^|/)AWSLogs/(?:o-[a-z0-9]{10,32}/)?(?P<account>[0-9]{12})/WAFLogs/(?P<rest>.*)\Z", re.DOTALL
)
_FOLDERS: Final = re.compile(
    r"(?P<region>[^/]+)/(?P<webacl>[^/]+)/(?P<time>[0-9]{4}/[0-9]{2}/[0-9]{2}/[0-9]{2}/[0-9]{2})/(?P<file>[^/]+)",
    re.DOTALL,
)


@dataclass(frozen=True)
class LogKey:
    """What a WAF log object's key says: the web ACL's account, region and name, and the 5-minute folder."""

    account: str
    region: str
    webacl: str
    time: datetime


def parse_key(key: str) -> LogKey | str:
    """The ``LogKey`` of a key in WAF's layout, or why the key is not in it."""
    layout = _LAYOUT.search(key)
    if layout is None:
        return "not under AWSLogs/<account>/WAFLogs/"
    folders = _FOLDERS.fullmatch(layout["rest"])
    if folders is None:
        return "not in a <region>/<web-acl>/YYYY/MM/dd/HH/mm/ folder"
    if not folders["file"].endswith(".log.gz"):
        return "not a .log.gz file"
    try:
        when = datetime.strptime(folders["time"], "%Y/%m/%d/%H/%M").replace(tzinfo=UTC)
    except ValueError:
        return "its YYYY/MM/dd/HH/mm folders are not a time"
    return LogKey(layout["account"], folders["region"], folders["webacl"], when)


def notification(bucket: str, obj: Mapping[str, Any], region: str, request_id: str) -> bytes:
    """The event notification S3 sends when ``obj`` (a ``ListObjectsV2`` entry) is put, as JSON.

    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
    """
    modified: datetime = obj["LastModified"].astimezone(UTC)
    event = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": modified.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "waflens-backfill"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": ""},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "waflens-backfill",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": ""}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {
                "key": quote_plus(obj["Key"], safe="/"),  # as S3 writes it: a space is "+", "/" kept
                "size": obj["Size"],
                "eTag": obj.get("ETag", "").strip('"'),
                "sequencer": f"{int(modified.timestamp() * 1_000_000):016X}",
            },
        },
    }
    return orjson.dumps({"Records": [event]})
