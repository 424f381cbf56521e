"""The sink's retry logic as pure functions: a verdict from a response, the next request size after a 413."""

from __future__ import annotations

import math

import polars as pl
import pytest

from enrich import schema as S
from enrich.documents import BULK_LINES
from ingest.sinks.opensearch.encoder import bulk_chunks
from ingest.sinks.opensearch.retry import (
    ONE_DOCUMENT,
    next_request_bytes,
    request_outcomes,
    request_verdict,
    response_outcomes,
    without_values,
)

FLOOR = 64 << 10


def test_a_413_halves_the_request_size_down_to_the_floor() -> None:
    assert next_request_bytes(5 << 20, FLOOR) == 5 << 19
    assert next_request_bytes(FLOOR * 2, FLOOR) == FLOOR
    assert next_request_bytes(FLOOR + 1, FLOOR) == FLOOR  # never below the floor while above it


@pytest.mark.parametrize("previous", [FLOOR, FLOOR - 1, 1_000])
def test_a_413_at_or_below_the_floor_sends_one_document_per_request(previous: int) -> None:
    assert next_request_bytes(previous, FLOOR) == ONE_DOCUMENT


@pytest.mark.parametrize("start", [5 << 20, 10 << 20, FLOOR * 3, FLOOR, 1])
def test_repeated_413s_reach_one_document_per_request_in_a_bounded_number_of_steps(start: int) -> None:
    sizes = [start]
    while sizes[-1] != ONE_DOCUMENT:
        sizes.append(next_request_bytes(sizes[-1], FLOOR))
        assert len(sizes) <= math.ceil(math.log2(max(start / FLOOR, 1))) + 2
    assert sizes == sorted(sizes, reverse=True)
    assert next_request_bytes(ONE_DOCUMENT, FLOOR) == ONE_DOCUMENT


def test_at_one_document_per_request_every_document_has_its_own_request() -> None:
    lines = pl.DataFrame({S.DOC_ID: ["a", "b", "c"], BULK_LINES: ['{"index":{}}\n{}\n'] * 3})
    chunks = bulk_chunks(lines, ONE_DOCUMENT)
    assert [chunk.ids for chunk in chunks] == [["a"], ["b"], ["c"]]
    assert all(chunk.body == b'{"index":{}}\n{}\n' for chunk in chunks)


@pytest.mark.parametrize(
    ("documents", "verdict"), [(1, "reject"), (2, "split"), (500, "split")], ids=["alone", "two", "many"]
)
def test_a_413_splits_a_request_unless_its_document_was_alone(documents: int, verdict: str) -> None:
    assert request_verdict(413, "content_too_long_exception", documents=documents) == verdict


@pytest.mark.parametrize(
    ("status", "verdict"), [(429, "retry"), (503, "retry"), (400, "reject"), (403, "halt")]
)
def test_other_statuses_mean_the_same_alone_or_not(status: int, verdict: str) -> None:
    assert request_verdict(status, None, documents=1) == request_verdict(status, None, documents=9) == verdict


def test_a_failed_request_gives_every_document_its_fate() -> None:
    reason = "HTTP 413 content_too_long_exception: too long"
    assert request_outcomes(["a", "b"], 413, "content_too_long_exception", reason) == [
        ("split", "a", reason, False),
        ("split", "b", reason, False),
    ]
    assert request_outcomes(["a"], 413, None, reason) == [("reject", "a", reason, False)]


def test_a_bulk_response_is_read_item_by_item_in_request_order() -> None:
    response = {
        "errors": True,
        "items": [
            {"index": {"_id": "a", "status": 201, "result": "created"}},
            {"index": {"_id": "b", "status": 200, "result": "updated"}},
            {
                "index": {
                    "_id": "c",
                    "status": 429,
                    "error": {"type": "rejected_execution_exception", "reason": "queue full"},
                }
            },
            {
                "index": {
                    "_id": "d",
                    "status": 400,
                    "error": {"type": "mapper_parsing_exception", "reason": "failed to parse field"},
                }
            },
        ],
    }
    assert response_outcomes(["a", "b", "c", "d"], response) == [
        ("ok", "a", "HTTP 201", False),
        ("ok", "b", "HTTP 200", True),
        ("retry", "c", "HTTP 429 rejected_execution_exception: queue full", False),
        ("reject", "d", "HTTP 400 mapper_parsing_exception: failed to parse field", False),
    ]


def test_an_item_refused_as_too_large_while_alone_is_rejected() -> None:
    response = {"items": [{"index": {"_id": "a", "status": 413, "error": {"type": "x", "reason": "y"}}}]}
    assert response_outcomes(["a"], response)[0][0] == "reject"


@pytest.mark.parametrize("response", [{"items": []}, {}, {"items": "nonsense"}])
def test_a_response_that_does_not_match_the_request_is_retried(response: dict[str, object]) -> None:
    assert [verdict for verdict, *_ in response_outcomes(["a", "b"], response)] == ["retry", "retry"]


def test_reasons_keep_field_names_and_drop_the_values_opensearch_quotes() -> None:
    reason = (
        "failed to parse field [httpRequest.uri] of type [keyword] in document with id 'abc'. "
        "Preview of field's value: 'Bearer wlsecret-1'"
    )
    caused = 'For input string: "wlsecret-2"'
    assert without_values(reason) == (
        "failed to parse field [httpRequest.uri] of type [keyword] in document with id '…'"
    )
    assert without_values(caused) == 'For input string: "…"'
