"""The Firehose data-transformation contract: each recordId's result and data, rendered from its outcomes.

Firehose wants every recordId back exactly once, in order, as ``Ok`` (with the data to deliver),
``Dropped`` (nothing of it to deliver) or ``ProcessingFailed`` (Firehose writes the original record to its
error output). The response must stay under Lambda's 6 MB limit for a synchronous invocation.
https://docs.aws.amazon.com/firehose/latest/dev/data-transformation-status-model.html
"""

from __future__ import annotations

import json
from typing import Final, Literal, TypedDict, cast

import polars as pl

from enrich import schema as S
from ingest import telemetry
from ingest.outcomes import Outcome

# Lambda refuses a response over 6,291,556 bytes (its error quotes the limit); the response's size is
# computed for the runtime's encoder (json.dumps separators, ASCII), so the margin is for nothing else.
RESPONSE_BUDGET: Final = 6_000_000
Result = Literal["Ok", "Dropped", "ProcessingFailed"]
# An entry's bytes besides its recordId (quoted) and its data, with the ", " between two entries. Every
# entry is counted at the longest result: an upper bound, never an estimate.
_SEPARATOR: Final = len(", ")
_ENTRY_BYTES: Final = (
    len(json.dumps({"recordId": "", "result": "ProcessingFailed", "data": ""})) - len('""') + _SEPARATOR
)
_FRAME_BYTES: Final = len(json.dumps({"records": []}))

RECORDS: Final = pl.Schema({"key": pl.String, "status": pl.String})  # status: its source's SourceStatus
# Sources whose records cannot all be accounted for: a framing failure or a damaged stream can leave a
# record's last lines without a row, so none of their records is answered Ok.
_BROKEN: Final = ("failed", "damaged", "unreadable")
ROWS: Final = pl.Schema(
    {"key": pl.String, "line": pl.Int64, "part": pl.Int64, "outcome": pl.String, S.DOC_ID: pl.String}
)
TEXTS: Final = pl.Schema({S.DOC_ID: pl.String, "text": pl.String})


class RecordResult(TypedDict):
    """One entry of the response, as Firehose reads it."""

    recordId: str
    result: Result
    data: str  # base64; empty unless Ok


class Response(TypedDict):
    """A data-transformation Lambda's response."""

    records: list[RecordResult]


def respond(
    records: pl.DataFrame,
    rows: pl.DataFrame,
    texts: pl.DataFrame,
    *,
    source: str,
    budget: int = RESPONSE_BUDGET,
) -> Response:
    """Every recordId of ``records`` (``RECORDS``, input order) with its result and data.

    ``rows`` are the outcome rows (``ROWS``) keyed by recordId; ``texts`` what an Ok record returns for
    each delivered document (``TEXTS``, each text ending in a newline). Per recordId: ``ProcessingFailed``
    (Firehose's error output keeps the original) if any row is retryable, if the deadline left it unread
    (an unfinished source, no rows) or if its source failed, was damaged or unreadable; else ``Ok`` with
    its delivered documents, each once per response; else ``Dropped`` (rejected into the dead-letter
    store, or empty). An Ok record the budget has no room for becomes ``ProcessingFailed``, counted.
    """
    delivered = pl.col("outcome") == Outcome.DELIVERED.value
    retryable = pl.col("outcome") == Outcome.RETRYABLE.value
    order = records.with_row_index("_order")
    per_key = (
        rows.lazy()
        .join(order.lazy().select("key", "_order"), on="key")
        .sort("_order", "line", "part")
        .join(texts.lazy(), on=S.DOC_ID, how="left", validate="m:1", maintain_order="left")
        .with_columns(  # a document is returned once per response, by the first record that holds it
            (delivered & pl.when(delivered).then(pl.col(S.DOC_ID)).is_first_distinct()).alias("_fresh")
        )
        .group_by("key")
        .agg(
            # a delivered document without its text would be a bug: never answer Ok without it
            retry=(retryable | (delivered & pl.col("text").is_null())).any(),
            text=pl.col("text").filter(pl.col("_fresh")).str.join(""),
        )
    )
    unread = (pl.col("status") != "complete") & pl.col("retry").is_null()  # no row: never framed
    result = (
        pl.when(pl.col("status").is_in(_BROKEN) | unread | pl.col("retry").fill_null(False))
        .then(pl.lit("ProcessingFailed"))
        .when(pl.col("text").fill_null("") != "")
        .then(pl.lit("Ok"))
        .otherwise(pl.lit("Dropped"))
    )
    answer = (
        order.lazy()
        .join(per_key, on="key", how="left", maintain_order="left")
        .with_columns(result.alias("result"))
        .with_columns(
            pl.when(pl.col("result") == "Ok")
            .then(pl.col("text").str.encode("base64"))
            .otherwise(pl.lit(""))
            .alias("data")
        )
        .collect()
    )
    return _within(answer, source, budget)


def _within(answer: pl.DataFrame, source: str, budget: int) -> Response:
    """The response, with the Ok records past ``budget`` (in input order) turned ``ProcessingFailed``."""
    ids = answer["key"].to_list()
    entries = _FRAME_BYTES + sum(_ENTRY_BYTES + len(json.dumps(i)) for i in ids) - (_SEPARATOR if ids else 0)
    fits = pl.col("data").str.len_bytes().cum_sum() <= budget - entries
    over = (pl.col("result") == "Ok") & ~fits
    answer = answer.with_columns(over.alias("_over"))
    dropped = int(answer["_over"].sum())
    if dropped:
        telemetry.records_over_budget(source, dropped, budget_bytes=budget)
    final = answer.select(
        pl.col("key").alias("recordId"),
        pl.when(pl.col("_over")).then(pl.lit("ProcessingFailed")).otherwise("result").alias("result"),
        pl.when(pl.col("_over")).then(pl.lit("")).otherwise("data").alias("data"),
    )
    return {"records": cast("list[RecordResult]", final.to_dicts())}
