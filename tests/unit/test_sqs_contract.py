"""The SQS contract, rendered from outcomes alone: which messages go back to the queue, and which do not."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from aws_lambda_powertools.utilities.data_classes import SQSEvent

from ingest.handlers.s3 import respond
from ingest.handlers.s3_messages import Message, read_message
from ingest.outcomes import OUTCOMES, RunResult, SourceEnd, SourceStatus
from tests.support.s3_events import (
    BUCKET,
    Body,
    failed_ids,
    message_id,
    notification,
    notifications,
    sqs_event,
)


def messages(*bodies: Body) -> list[Message]:
    return [read_message(record) for record in SQSEvent(sqs_event(list(bodies))).records]


def name(key: str) -> str:
    return f"s3://{BUCKET}/{key}"


def run(ends: dict[str, SourceStatus], outcomes: Sequence[tuple[str, str]] = ()) -> RunResult:
    """A run's result: how each source ended, and (source, outcome) rows."""
    rows = pl.DataFrame(
        {
            "source": [s for s, _ in outcomes],
            "line": list(range(1, len(outcomes) + 1)),
            "part": [0] * len(outcomes),
            "outcome": [o for _, o in outcomes],
            "_id": [f"id-{i}" for i in range(len(outcomes))],
            "kind": [None] * len(outcomes),
            "reason": [None] * len(outcomes),
            "replay": [False] * len(outcomes),
        },
        schema=OUTCOMES,
    )
    return RunResult(sources=[SourceEnd(s, status) for s, status in ends.items()], records=rows)


def test_an_empty_batch_fails_nothing() -> None:
    assert respond([], RunResult()) == {"batchItemFailures": []}


def test_a_message_fails_when_any_record_of_its_objects_is_retryable() -> None:
    batch = messages(
        notification(key="a"),
        notification(key="b"),
        notifications(notification(key="c"), notification(key="b")),
    )
    result = run(
        {name("a"): "complete", name("b"): "complete", name("c"): "complete"},
        [
            (name("a"), "delivered"),
            (name("b"), "delivered"),
            (name("b"), "retryable"),
            (name("c"), "rejected"),
        ],
    )
    assert failed_ids(respond(batch, result)) == [message_id(1), message_id(2)]


def test_a_message_fails_when_an_object_must_be_read_again() -> None:
    ends: dict[str, SourceStatus] = {
        name("unfinished"): "unfinished",
        name("unreadable"): "unreadable",
        name("failed"): "failed",
        name("damaged"): "damaged",  # its readable records are settled and the break is dead-lettered
        name("complete"): "complete",
    }
    batch = messages(*(notification(key=key.removeprefix(f"s3://{BUCKET}/")) for key in ends))
    assert failed_ids(respond(batch, run(ends))) == [
        message_id(0),
        message_id(1),
        message_id(2),
    ]


def test_a_missing_object_succeeds_once_its_dead_letter_is_kept() -> None:
    batch = messages(notification(key="gone"), notification(key="denied"))
    result = run({name("gone"): "unreadable", name("denied"): "unreadable"})
    assert failed_ids(respond(batch, result, missing={name("gone")})) == [message_id(1)]
    assert failed_ids(respond(batch, result, missing={name("gone")}, unkept={name("gone")})) == [
        message_id(0),
        message_id(1),
    ]


def test_an_unreadable_body_succeeds_once_its_dead_letter_is_kept() -> None:
    batch = messages("not json", {"unknown": "shape"}, notification(key="a"))
    result = run({name("a"): "complete"}, [(name("a"), "delivered")])
    assert failed_ids(respond(batch, result)) == []
    unkept = {batch[1].source}  # the store took the first entry, then refused the second
    assert failed_ids(respond(batch, result, unkept=unkept)) == [message_id(1)]


def test_messages_naming_the_same_object_share_its_fate_in_batch_order() -> None:
    batch = messages(notification(key="x"), notification(key="y"), notification(key="x"))
    result = run({name("x"): "unfinished", name("y"): "complete"})
    assert failed_ids(respond(batch, result)) == [message_id(0), message_id(2)]
