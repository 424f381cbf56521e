"""The Firehose contract, rendered from outcome rows: one result per recordId, in order, within budget."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ingest import telemetry
from ingest.handlers.firehose_response import RECORDS, ROWS, TEXTS, respond
from ingest.outcomes import OUTCOMES

Row = tuple[str, int, int, str, str | None]  # key, line, part, outcome, _id


def records(*keys: str, status: dict[str, str] | None = None) -> pl.DataFrame:
    ended = [(status or {}).get(k, "complete") for k in keys]
    return pl.DataFrame({"key": keys, "status": ended}, schema=RECORDS)


def rows(*items: Row) -> pl.DataFrame:
    return pl.DataFrame(list(items), schema=ROWS, orient="row")


def texts(**by_id: str) -> pl.DataFrame:
    return pl.DataFrame({"_id": list(by_id), "text": list(by_id.values())}, schema=TEXTS)


def results(response: Any) -> list[tuple[str, str, bytes]]:
    return [
        (r["recordId"], r["result"], base64.b64decode(r["data"], validate=True)) for r in response["records"]
    ]


@pytest.fixture(autouse=True)
def _metrics_off() -> Any:
    telemetry.configure_metrics("off")
    yield
    telemetry.configure_metrics("off")


def test_each_record_id_is_answered_once_in_input_order_by_what_became_of_its_records() -> None:
    answer = respond(
        records("ok", "bad", "later", "blank", "cut", "mixed", "again", status={"cut": "damaged"}),
        rows(
            ("mixed", 7, 0, "delivered", "d3"),  # rows arrive in any order
            ("ok", 1, 0, "delivered", "d1"),
            ("ok", 2, 0, "delivered", "d2"),
            ("bad", 3, 0, "rejected", None),
            ("later", 4, 0, "retryable", "d9"),
            ("mixed", 6, 0, "rejected", None),
            ("again", 8, 0, "delivered", "d1"),  # the same event as in "ok"
        ),
        texts(d1="one\n", d2="two\n", d3="three\n", d9="nine\n"),
        source="fh",
    )
    assert results(answer) == [
        ("ok", "Ok", b"one\ntwo\n"),
        ("bad", "Dropped", b""),  # the dead-letter store holds it
        ("later", "ProcessingFailed", b""),  # Firehose's error output keeps the original
        ("blank", "Dropped", b""),  # nothing in it
        ("cut", "ProcessingFailed", b""),  # its bytes break off: Firehose keeps the original
        ("mixed", "Ok", b"three\n"),
        ("again", "Dropped", b""),  # its document is already in "ok"'s data
    ]


def test_when_the_deadline_stops_a_source_records_it_settled_are_answered_and_the_rest_fail() -> None:
    answer = respond(
        records(
            "done", "stopped", "unread", status=dict.fromkeys(["done", "stopped", "unread"], "unfinished")
        ),
        rows(("done", 1, 0, "delivered", "d1"), ("stopped", 2, 0, "retryable", None)),
        texts(d1="one\n"),
        source="fh",
    )
    assert results(answer) == [
        ("done", "Ok", b"one\n"),
        ("stopped", "ProcessingFailed", b""),
        ("unread", "ProcessingFailed", b""),
    ]


@pytest.mark.parametrize("status", ["failed", "unreadable", "damaged"])
def test_no_record_of_a_source_that_broke_is_answered_ok(status: str) -> None:
    answer = respond(
        records("a", status={"a": status}), rows(("a", 1, 0, "delivered", "d1")), texts(d1="x\n"), source="fh"
    )
    assert results(answer) == [("a", "ProcessingFailed", b"")]


def test_a_delivered_document_without_its_text_is_never_answered_ok() -> None:
    answer = respond(records("a"), rows(("a", 1, 0, "delivered", "lost")), texts(), source="fh")
    assert results(answer) == [("a", "ProcessingFailed", b"")]


def test_an_empty_batch_is_an_empty_answer() -> None:
    assert respond(records(), rows(), texts(), source="fh") == {"records": []}


def _big(n: int, size: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    keys = [f"r{i:03d}" for i in range(n)]
    outcome_rows = [(k, i + 1, 0, "delivered", f"d{i}") for i, k in enumerate(keys)]
    return records(*keys), rows(*outcome_rows), texts(**{f"d{i}": "x" * (size - 1) + "\n" for i in range(n)})


def test_the_budget_is_an_exact_upper_bound_of_the_serialized_response() -> None:
    given = _big(20, 300)
    unbounded = respond(*given, source="fh", budget=10**9)
    size = len(json.dumps(unbounded))  # the runtime's encoder: default separators, ASCII
    # every entry is counted at the longest result: "ProcessingFailed" is 14 characters more than "Ok"
    exact = size + 20 * (len("ProcessingFailed") - len("Ok"))
    assert [r["result"] for r in respond(*given, source="fh", budget=exact)["records"]] == ["Ok"] * 20
    squeezed = [r["result"] for r in respond(*given, source="fh", budget=exact - 1)["records"]]
    assert squeezed == ["Ok"] * 19 + ["ProcessingFailed"]


def test_records_past_the_budget_are_processing_failed_counted_and_logged_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = tmp_path / "metrics.emf"
    telemetry.configure_metrics(metrics)
    telemetry.batch_settled(OUTCOMES.to_frame(), bytes_in=0, documents=None)  # a run settled a batch
    answer = respond(*_big(50, 3000), source="fh", budget=60_000)
    telemetry.flush_metrics()

    got = [r["result"] for r in answer["records"]]
    kept = got.count("Ok")
    assert 0 < kept < 50
    assert got == ["Ok"] * kept + ["ProcessingFailed"] * (50 - kept)  # input order decides
    assert len(json.dumps(answer)) <= 60_000
    [line] = [json.loads(x) for x in capsys.readouterr().err.splitlines() if "over budget" in x]
    assert (line["source"], line["records"], line["budget_bytes"]) == ("fh", 50 - kept, 60_000)
    [emf] = [json.loads(x) for x in metrics.read_text().splitlines()]
    assert emf["RecordsOverBudget"] == [50 - kept]
