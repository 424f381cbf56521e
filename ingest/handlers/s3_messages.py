"""What an SQS message announcing S3 objects holds: the objects, what it skips, and what it cannot say.

A body is one of: an S3 event notification (``Records[].s3``), the same wrapped in an SNS notification
(``{"Type": "Notification", "Message": "<json>"}``; with raw message delivery SNS sends the notification
itself), an EventBridge event from S3 (``detail-type`` ``Object Created``), or S3's ``s3:TestEvent``.
Keys arrive URL-encoded in all of them (``+`` for a space, ``%2F``, UTF-8 percent-escapes) and are
decoded here. Reasons name the field and the problem, never a value.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventBridgeNotificationEvent
from aws_lambda_powertools.utilities.data_classes.sns_event import SNSMessage
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ingest.outcomes import RejectedRecord, RejectKind
from ingest.sources.s3 import ObjectRef

SOURCE_PREFIX: Final = "sqs"
TEST_EVENT: Final = "s3:TestEvent"
CREATED: Final = "ObjectCreated:"  # the eventName prefix of a new object's notification
OBJECT_CREATED: Final = "Object Created"  # its EventBridge detail-type
# What botocore accepts as a bucket name (legacy us-east-1 names included): a name outside it would fail
# every GetObject the same way, so it is the message's problem, not the object's.
_BUCKET: Final = re.compile(r"[A-Za-z0-9._-]{1,255}")


class _Unreadable(ValueError):
    """Why a body, or one record of it, cannot be read: a dead-letter kind and a reason."""

    def __init__(self, kind: RejectKind, reason: str) -> None:
        super().__init__(reason)
        self.kind: RejectKind = kind
        self.reason = reason


@dataclass
class _Found:
    objects: list[ObjectRef] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[_Unreadable] = field(default_factory=list)


@dataclass(frozen=True)
class Message:
    """One SQS message: the objects it announces, what it skips and, if any part is unreadable, why."""

    message_id: str
    source: str  # how a dead-letter entry names it: sqs:<queue>/<messageId>
    body: str
    objects: tuple[ObjectRef, ...] = ()
    skipped: tuple[str, ...] = ()  # s3:TestEvent, ObjectRemoved:Delete, Object Deleted, ...
    kind: RejectKind | None = None  # the first problem's kind
    problem: str | None = None  # every problem, in one sentence

    def dead_letter(self) -> RejectedRecord | None:
        """The entry that keeps this message's body when some of it cannot be read; None otherwise."""
        if self.kind is None or self.problem is None:
            return None
        original = self.body.encode("utf-8", "surrogatepass")
        return RejectedRecord(self.source, 1, 0, self.kind, self.problem, original)


def read_message(record: SQSRecord) -> Message:
    """Read one SQS record's body: the objects it names (keys decoded), what it skips, what it cannot say."""
    queue = str(record.get("eventSourceARN") or "").rpartition(":")[2] or "queue"
    found = _Found()
    try:
        _read(_json(record.body, "the message body"), found, wrapped=False)
    except _Unreadable as exc:
        found.problems.append(exc)
    first = found.problems[0] if found.problems else None
    return Message(
        message_id=record.message_id,
        source=f"{SOURCE_PREFIX}:{queue}/{record.message_id}",
        body=record.body,
        objects=tuple(found.objects),
        skipped=tuple(found.skipped),
        kind=first.kind if first else None,
        problem="; ".join(p.reason for p in found.problems) if first else None,
    )


def _json(text: object, what: str) -> Any:
    if not isinstance(text, str):
        raise _Unreadable("invalid_field", f"{what} is not a string")
    try:
        return json.loads(text)
    except RecursionError:
        raise _Unreadable("too_deep", f"{what} is nested too deeply") from None
    except ValueError:
        raise _Unreadable("invalid_json", f"{what} is not JSON") from None


def _read(body: Any, found: _Found, *, wrapped: bool) -> None:
    what = "the SNS notification's Message" if wrapped else "the message body"
    if not isinstance(body, dict):
        raise _Unreadable("not_an_object", f"{what} is JSON but not an object")
    if "Records" in body:
        _notification(S3Event(body), found)
    elif body.get("Event") == TEST_EVENT:
        found.skipped.append(TEST_EVENT)
    elif body.get("Type") == "Notification" and not wrapped:
        _read(_json(SNSMessage(body).get("Message"), "the SNS notification's Message"), found, wrapped=True)
    elif body.get("source") == "aws.s3" and "detail-type" in body:
        _eventbridge(S3EventBridgeNotificationEvent(body), found)
    else:
        raise _Unreadable(
            "missing_field",
            f"{what} is not an S3 event notification, an SNS notification or an EventBridge event from S3",
        )


def _notification(event: S3Event, found: _Found) -> None:
    """Each record of an S3 event notification; a broken record is a problem, the others still count."""
    if not isinstance(event["Records"], list):
        raise _Unreadable("invalid_field", "the S3 event notification's Records is not a list")
    for i, record in enumerate(event.records, 1):
        where = f"record {i} of the S3 event notification"
        try:
            if not isinstance(record.raw_event, dict):
                raise _Unreadable("invalid_field", f"{where} is not an object")
            name = record.event_name
            if not isinstance(name, str):
                raise _Unreadable("invalid_field", f"{where} has an eventName that is not a string")
            if not name.startswith(CREATED):
                found.skipped.append(name[:64])
                continue
            obj = record.s3.get_object
            found.objects.append(_ref(record.s3.bucket.name, _decoded(obj.key, where), obj.version_id, where))
        except KeyError as exc:
            found.problems.append(_Unreadable("missing_field", f"{where} has no {exc.args[0]!s:.40} field"))
        except (TypeError, AttributeError):
            found.problems.append(_Unreadable("invalid_field", f"{where} is not shaped as S3 writes it"))
        except _Unreadable as exc:
            found.problems.append(exc)


def _eventbridge(event: S3EventBridgeNotificationEvent, found: _Found) -> None:
    where = "the EventBridge event"
    try:
        kind = event.detail_type
        if kind != OBJECT_CREATED:
            found.skipped.append(str(kind)[:64])
            return
        obj = event.detail.object
        found.objects.append(
            _ref(event.detail.bucket.name, _decoded(obj.get("key"), where), obj.get("version-id"), where)
        )
    except KeyError as exc:
        raise _Unreadable("missing_field", f"{where} has no {exc.args[0]!s:.40} field") from None
    except (TypeError, AttributeError):
        raise _Unreadable("invalid_field", f"{where} is not shaped as S3 writes it") from None


def _decoded(key: object, where: str) -> str:
    if not isinstance(key, str) or not key:
        raise _Unreadable("invalid_field", f"{where} has an object key that is not a non-empty string")
    return unquote_plus(key)


def _ref(bucket: object, key: str, version: object, where: str) -> ObjectRef:
    if not isinstance(bucket, str) or not _BUCKET.fullmatch(bucket):
        raise _Unreadable("invalid_field", f"{where} has a bucket name S3 would not accept")
    if version is not None and not isinstance(version, str):
        raise _Unreadable("invalid_field", f"{where} has a versionId that is not a string")
    return ObjectRef(bucket, key, version or None)
