"""S3 objects announced through SQS: a queue's batch in, ``batchItemFailures`` out.

The function reads an SQS queue through an event source mapping with ``ReportBatchItemFailures``. Each
message announces objects (``ingest.handlers.s3_messages``); every object of the batch is one source,
each read once however many messages name it, and the pipeline runs once over all of them. A message
is reported failed, so SQS delivers it again after its visibility timeout, when any record of its
objects is retryable, when one of its objects must be read again (unreadable, failed, or cut short or
never started by the deadline), or when the dead-letter store could not keep what it must keep. Sinks are
idempotent, so a message delivered again converges on the same documents.

Retrying cannot help two things, so they are kept in the dead-letter store and the message succeeds:
a body that cannot be read (not JSON, an unknown shape, a broken record; kept whole, redacted) and an
object that no longer exists (``NoSuchKey``, ``NoSuchVersion``, ``NoSuchBucket``). A test event or a
notification of anything but a new object is skipped.

Powertools' ``BatchProcessor`` is not used: it calls a handler per message, and the pipeline runs once
per batch, with one deadline, so the contract is rendered from the run's outcomes (``respond``).
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import cache
from typing import Any, Final

import boto3
import polars as pl
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes import SQSEvent
from botocore.config import Config

from enrich.config import ConfigError
from ingest import telemetry
from ingest.environment import ENV_FIREHOSE_MODE, LambdaContext
from ingest.handlers import runtime
from ingest.handlers.s3_messages import Message, read_message
from ingest.outcomes import Outcome, RejectedRecord, RunResult
from ingest.run import Pipeline
from ingest.sources.s3 import S3Client, S3Object

MAX_LOGGED: Final = 20  # messages or objects named in one log line; all are counted
# A stalled read fails within seconds rather than holding the function until its timeout; botocore's
# standard mode retries throttling and 5xx answers of GetObject itself (not a body that breaks mid-read).
_CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30
)


class NotAnSqsBatch(ValueError):
    """The event is not an SQS batch: the function is wired to something other than a queue."""


@cache
def s3_client() -> S3Client:
    """The S3 client objects are read with, made on first use and reused while warm."""
    client: S3Client = boto3.client("s3", config=_CLIENT_CONFIG)
    return client


def reset() -> None:
    """Forget the cached client and runtime (tests change the environment between invocations)."""
    s3_client.cache_clear()
    runtime.reset()


@telemetry.instrument
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Deliver the objects a batch of SQS messages announces; list the messages to deliver again."""
    return process(event, context, s3=s3_client())


def process(event: dict[str, Any], context: LambdaContext, *, s3: S3Client) -> PartialItemFailureResponse:
    """``handler`` with the S3 client handed in."""
    current = runtime.runtime()
    if current.settings.firehose_mode is not None:
        raise ConfigError(f"{ENV_FIREHOSE_MODE} is for a Firehose function; unset it for S3 notifications")
    messages = read(event)
    sources = {ref.name: S3Object(ref, s3) for message in messages for ref in message.objects}
    result = runtime.run(sources.values(), context)
    missing = {name for name, source in sources.items() if source.missing is not None}
    bodies = [letter for letter in (m.dead_letter() for m in messages) if letter is not None]
    letters = bodies + [_gone(sources[name]) for name in sorted(missing)]
    unkept = keep(current.pipeline, letters)
    response = respond(messages, result, missing=missing, unkept=unkept)
    _settled(messages, response, missing, dead_lettered=len(letters) - len(unkept))
    return response


def read(event: dict[str, Any]) -> list[Message]:
    """The batch's messages, in order; ``NotAnSqsBatch`` when the event holds no SQS messages."""
    try:
        return [read_message(record) for record in SQSEvent(event).records]
    except (KeyError, TypeError, AttributeError):
        raise NotAnSqsBatch("the event is not an SQS batch (Records[] with messageId and body)") from None


def respond(
    messages: Sequence[Message],
    result: RunResult,
    *,
    missing: Collection[str] = (),
    unkept: Collection[str] = (),
) -> PartialItemFailureResponse:
    """The SQS contract: every message that must be delivered again, in batch order.

    A message fails when any record of its objects is retryable, when one of its objects must be read
    again (``SourceEnd.redeliver``: unreadable, failed, unfinished) unless it is ``missing`` and its
    dead-letter entry was kept, or when its body could not be read and its entry was not kept. ``unkept``
    names the entries the dead-letter store refused (an object's name, a message's ``source``).
    """
    retryable = result.records.filter(pl.col("outcome") == Outcome.RETRYABLE.value)["source"].unique()
    settled = set(missing) - set(unkept)
    again = set(retryable) | {e.source for e in result.sources if e.redeliver and e.source not in settled}
    return {
        "batchItemFailures": [
            {"itemIdentifier": m.message_id}
            for m in messages
            if (m.problem is not None and m.source in unkept) or any(ref.name in again for ref in m.objects)
        ]
    }


def keep(pipeline: Pipeline, letters: list[RejectedRecord]) -> set[str]:
    """Put each of ``letters`` in the dead-letter store; the sources of those it could not take.

    One entry per file, named by its content, so a message delivered again in another batch rewrites the
    same file instead of adding a second entry.
    """
    unkept: set[str] = set()
    for letter in letters:
        try:
            pipeline.dead_letter.put([letter])
        except OSError as exc:
            reason = f"dead-letter write failed: {exc.strerror or type(exc).__name__}"
            telemetry.logger().error(
                "dead letter not kept", extra={"source": letter.source, "reason": reason}
            )
            unkept.add(letter.source)
    return unkept


def _gone(source: S3Object) -> RejectedRecord:
    reason = f"the object does not exist ({source.missing}): it was deleted or never written; not retried"
    return RejectedRecord(source.name, 0, 0, "missing_object", reason, b"")


def _settled(
    messages: Sequence[Message],
    response: PartialItemFailureResponse,
    missing: set[str],
    *,
    dead_lettered: int,
) -> None:
    """One log line per invocation; problems are named by message id and object, never by content."""
    unreadable = [
        {"message_id": m.message_id, "kind": m.kind, "reason": m.problem} for m in messages if m.problem
    ]
    failed = response["batchItemFailures"]
    log = telemetry.logger().warning if failed or unreadable or missing else telemetry.logger().info
    log(
        "sqs batch settled",
        extra={
            "messages": len(messages),
            "objects": len({ref.name for m in messages for ref in m.objects}),
            "failed": len(failed),
            "failed_messages": [f["itemIdentifier"] for f in failed[:MAX_LOGGED]],
            "skipped": sum(len(m.skipped) for m in messages),
            "dead_lettered": dead_lettered,
            "unreadable_messages": unreadable[:MAX_LOGGED],
            "missing_objects": sorted(missing)[:MAX_LOGGED],
        },
    )
