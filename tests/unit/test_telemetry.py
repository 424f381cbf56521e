"""Telemetry: one log line per troubled batch, EMF metrics summed over batches, no tracing outside Lambda."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from aws_xray_sdk import global_sdk_config  # type: ignore[import-untyped]  # ships no types

from enrich.schema import ENRICHED, ENRICHMENT, EVENT_ORIGINAL
from ingest import telemetry
from ingest.outcomes import OUTCOME_DTYPE, OUTCOMES

SECRET = "Bearer wlsecret-123"
Row = tuple[str, int, int, str, str | None, str | None]  # source, line, part, outcome, kind, reason


@pytest.fixture(autouse=True)
def _clean_telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (
        "POWERTOOLS_METRICS_DISABLED",
        "POWERTOOLS_DEV",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_SERVICE_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    telemetry.configure_metrics("off")
    yield
    telemetry.configure_metrics("off")
    telemetry.logger().clear_state()  # the Lambda context keys an instrumented handler added


def outcomes(rows: list[Row]) -> pl.DataFrame:
    """An ``OUTCOMES`` frame from (source, line, part, outcome, kind, reason) rows."""
    return pl.DataFrame(
        {
            "source": [r[0] for r in rows],
            "line": [r[1] for r in rows],
            "part": [r[2] for r in rows],
            "outcome": [r[3] for r in rows],
            "_id": [f"id-{r[1]}-{r[2]}" for r in rows],
            "kind": [r[4] for r in rows],
            "reason": [r[5] for r in rows],
            "replay": [False] * len(rows),
        },
        schema=OUTCOMES,
    )


def delivered(count: int, source: str = "a.log") -> pl.DataFrame:
    return outcomes([(source, line, 0, "delivered", None, None) for line in range(1, count + 1)])


def document(
    *, blocked: bool | None, webacl: str | None, account: str | None, team: str | None
) -> dict[str, Any]:
    """One enriched document's ``waflens`` struct (only what telemetry reads) with a secret elsewhere."""
    return {
        ENRICHMENT: {
            "blocked": blocked,
            "webacl": {"name": webacl, "account_id": account},
            "terminating": {"owner": {"team": team}},
            "user_agent": SECRET,
        },
        EVENT_ORIGINAL: json.dumps(
            {"httpRequest": {"headers": [{"name": "authorization", "value": SECRET}]}}
        ),
    }


def documents(*docs: dict[str, Any]) -> pl.DataFrame:
    """Documents with ``ENRICHED``'s shapes for the enrichment and the original event."""
    return pl.DataFrame(list(docs), schema={ENRICHMENT: ENRICHED[ENRICHMENT], EVENT_ORIGINAL: pl.String})


def log_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def emf_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def by_dimensions(docs: list[dict[str, Any]]) -> dict[tuple[str, ...], dict[str, Any]]:
    """EMF documents keyed by their dimension values, in declared order."""
    keyed = {}
    for doc in docs:
        names = doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
        keyed[tuple(doc[name] for name in names)] = doc
    return keyed


# --- logs ------------------------------------------------------------------------------------------


def test_a_garbage_batch_is_one_log_line_with_grouped_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    # 20,000 rejected lines over 25 reasons: "reason 24" holds lines 2400-20000, the others 100 lines each
    frame = pl.DataFrame({"line": range(1, 20_001)}).select(
        source=pl.lit("garbage.log"),
        line=pl.col("line"),
        part=pl.lit(0, pl.Int64),
        outcome=pl.lit("rejected", OUTCOME_DTYPE),
        _id=pl.lit(None, pl.String),
        kind=pl.lit("invalid_json"),
        reason=pl.format("reason {}", pl.min_horizontal(pl.col("line") // 100, 24)),
        replay=pl.lit(False),
    )
    assert frame.schema == OUTCOMES

    telemetry.batch_settled(frame, bytes_in=1_000_000, documents=None)

    [line] = log_lines(capsys.readouterr().err)
    assert line["message"] == "batch settled with problems"
    assert line["level"] == "WARNING"
    assert (line["source"], line["records"], line["delivered"], line["rejected"], line["retryable"]) == (
        "garbage.log",
        20_000,
        0,
        20_000,
        0,
    )
    problems = line["problems"]
    assert len(problems) == 20
    assert line["problems_left_out"] == 5
    assert problems[0] == {
        "outcome": "rejected",
        "kind": "invalid_json",
        "reason": "reason 24",
        "count": 17_601,
        "examples": ["line 2400", "line 2401", "line 2402"],
    }
    counts = [p["count"] for p in problems]
    assert counts == sorted(counts, reverse=True)


def test_an_all_delivered_batch_logs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    telemetry.batch_settled(delivered(50), bytes_in=5_000, documents=None)

    assert capsys.readouterr().err == ""


def test_retryable_records_log_at_error_with_object_positions(capsys: pytest.CaptureFixture[str]) -> None:
    frame = outcomes(
        [
            ("b.log", 1, 0, "delivered", None, None),
            ("b.log", 4, 2, "retryable", None, "opensearch: 429 too many requests"),
            ("b.log", 4, 3, "retryable", None, "opensearch: 429 too many requests"),
            ("b.log", 7, 0, "rejected", "missing_field", "missing webaclId"),
            ("b.log", 0, 0, "rejected", "damaged_input", "gzip stream breaks off"),
        ]
    )

    telemetry.batch_settled(frame, bytes_in=900, documents=None)

    [line] = log_lines(capsys.readouterr().err)
    assert line["level"] == "ERROR"
    assert (line["records"], line["delivered"], line["rejected"], line["retryable"]) == (5, 1, 2, 2)
    assert line["problems_left_out"] == 0
    assert line["problems"][0] == {
        "outcome": "retryable",
        "kind": None,
        "reason": "opensearch: 429 too many requests",
        "count": 2,
        "examples": ["line 4, object 2", "line 4, object 3"],
    }
    examples = {p["kind"]: p["examples"] for p in line["problems"][1:]}
    assert examples == {"missing_field": ["line 7"], "damaged_input": ["end of data"]}


# --- metrics ---------------------------------------------------------------------------------------


def test_metrics_file_sums_counters_and_blocked_requests_across_batches(tmp_path: Path) -> None:
    sink = tmp_path / "metrics.ndjson"
    telemetry.configure_metrics(sink)
    shop = document(blocked=True, webacl="shop", account="111122223333", team="payments")
    first = documents(shop, shop, document(blocked=False, webacl="shop", account="111122223333", team="x"))
    second = documents(shop, document(blocked=True, webacl="api", account="444455556666", team="edge"))
    rejected = outcomes([("b.log", 3, 0, "rejected", "invalid_json", "not JSON")])

    telemetry.batch_settled(delivered(3), bytes_in=300, documents=first)
    mixed = pl.concat([delivered(2, "b.log"), rejected])
    telemetry.batch_settled(mixed, bytes_in=250, documents=second)
    telemetry.flush_metrics()

    docs = by_dimensions(emf_lines(sink.read_text()))
    assert set(docs) == {("waflens",), ("shop", "111122223333", "payments"), ("api", "444455556666", "edge")}
    run = docs[("waflens",)]
    [declared] = run["_aws"]["CloudWatchMetrics"]
    assert declared["Namespace"] == "waflens"
    assert declared["Dimensions"] == [["service"]]
    assert {m["Name"]: m["Unit"] for m in declared["Metrics"]} == {
        "RecordsIn": "Count",
        "RecordsDelivered": "Count",
        "RecordsRejected": "Count",
        "RecordsRetryable": "Count",
        "BytesIn": "Bytes",
    }
    assert isinstance(run["_aws"]["Timestamp"], int)
    counters = {name: run[name] for name in ("RecordsIn", "RecordsDelivered", "RecordsRejected")}
    assert counters == {"RecordsIn": [6.0], "RecordsDelivered": [5.0], "RecordsRejected": [1.0]}
    assert (run["RecordsRetryable"], run["BytesIn"]) == ([0.0], [550.0])
    shop_doc = docs[("shop", "111122223333", "payments")]
    [shop_declared] = shop_doc["_aws"]["CloudWatchMetrics"]
    assert shop_declared["Dimensions"] == [["WebACL", "Account", "Team"]]
    assert shop_declared["Metrics"] == [{"Name": "BlockedRequests", "Unit": "Count"}]
    assert shop_doc["BlockedRequests"] == [3.0]
    assert docs[("api", "444455556666", "edge")]["BlockedRequests"] == [1.0]


def test_blocked_requests_fall_back_to_unknown_and_unowned(tmp_path: Path) -> None:
    sink = tmp_path / "metrics.ndjson"
    telemetry.configure_metrics(sink)
    docs = documents(
        document(blocked=True, webacl=None, account=None, team=None),
        document(blocked=True, webacl="  ", account="", team=""),
        document(blocked=True, webacl="shop", account="111122223333", team=None),
        document(blocked=None, webacl="shop", account="111122223333", team=None),
    )

    telemetry.batch_settled(delivered(4), bytes_in=400, documents=docs)
    telemetry.flush_metrics()

    emitted = by_dimensions(emf_lines(sink.read_text()))
    blocked = {key: doc["BlockedRequests"] for key, doc in emitted.items() if "BlockedRequests" in doc}
    assert blocked == {("unknown", "unknown", "unowned"): [2.0], ("shop", "111122223333", "unowned"): [1.0]}
    assert set(emitted) == {("waflens",), *blocked}


def test_a_batch_that_failed_before_enrichment_counts_records_only(tmp_path: Path) -> None:
    sink = tmp_path / "metrics.ndjson"
    telemetry.configure_metrics(sink)

    telemetry.batch_settled(delivered(2), bytes_in=10, documents=None)
    telemetry.flush_metrics()

    [run] = emf_lines(sink.read_text())
    assert (run["service"], run["RecordsIn"], run["BytesIn"]) == ("waflens", [2.0], [10.0])


def test_flush_resets_the_totals(tmp_path: Path) -> None:
    sink = tmp_path / "metrics.ndjson"
    telemetry.configure_metrics(sink)
    telemetry.batch_settled(delivered(7), bytes_in=70, documents=None)
    telemetry.flush_metrics()

    telemetry.flush_metrics()
    assert len(emf_lines(sink.read_text())) == 1

    telemetry.batch_settled(delivered(2), bytes_in=20, documents=None)
    telemetry.flush_metrics()
    first, second = emf_lines(sink.read_text())
    assert (first["RecordsIn"], second["RecordsIn"]) == ([7.0], [2.0])


def test_metrics_off_records_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sink = tmp_path / "metrics.ndjson"
    telemetry.configure_metrics(sink)
    telemetry.configure_metrics("off")

    telemetry.batch_settled(delivered(3), bytes_in=30, documents=None)
    telemetry.flush_metrics()

    assert not sink.exists()
    assert capsys.readouterr().out == ""


def test_nothing_settled_flushes_nothing_and_warns_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    telemetry.configure_metrics("emf")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        telemetry.flush_metrics()

    assert capsys.readouterr() == ("", "")


def test_powertools_metrics_disabled_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    sink = tmp_path / "metrics.ndjson"
    telemetry.configure_metrics(sink)

    telemetry.batch_settled(delivered(3), bytes_in=30, documents=None)
    telemetry.flush_metrics()

    assert not sink.exists()


def test_namespace_follows_powertools_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "waflens-staging")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "something-else")
    sink = tmp_path / "metrics.ndjson"
    telemetry.configure_metrics(sink)
    docs = documents(document(blocked=True, webacl="shop", account="111122223333", team="payments"))

    telemetry.batch_settled(delivered(1), bytes_in=1, documents=docs)
    telemetry.flush_metrics()

    run, blocked = emf_lines(sink.read_text())
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in (run, blocked)} == {"waflens-staging"}
    assert run["service"] == "waflens"
    assert "service" not in blocked


def test_an_unknown_metrics_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="'off', 'emf' or a file path"):
        telemetry.configure_metrics("stdout")  # type: ignore[arg-type]


# --- secrets ---------------------------------------------------------------------------------------


def test_record_content_reaches_neither_logs_nor_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = tmp_path / "metrics.ndjson"
    telemetry.configure_metrics(sink)
    frame = outcomes(
        [
            ("c.log", 1, 0, "delivered", None, None),
            ("c.log", 2, 0, "rejected", "sink_rejected", "opensearch refused the document: mapping conflict"),
            ("c.log", 3, 0, "retryable", None, "opensearch: 503"),
        ]
    )
    docs = documents(*[document(blocked=True, webacl="shop", account="111122223333", team="payments")] * 3)

    telemetry.batch_settled(frame, bytes_in=3_000, documents=docs)
    telemetry.flush_metrics()

    err = capsys.readouterr().err
    assert "batch settled with problems" in err
    assert SECRET not in err
    assert "wlsecret" not in sink.read_text()
    assert len(emf_lines(sink.read_text())) == 2


# --- traces and Lambda handlers --------------------------------------------------------------------


def test_tracing_is_off_outside_lambda_and_span_is_a_no_op() -> None:
    with telemetry.span("decode") as entered:
        assert entered is None

    assert telemetry.tracer().disabled
    assert not global_sdk_config.sdk_enabled()  # X-Ray itself is off: nothing is sent to a daemon


@dataclass
class FakeContext:
    function_name: str = "waflens-firehose"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:111122223333:function:waflens-firehose"
    aws_request_id: str = "req-0001"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def test_instrumented_handler_flushes_emf_to_stdout_with_context_in_logs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    frame = outcomes([("fh", 1, 0, "delivered", None, None), ("fh", 2, 0, "rejected", "invalid_json", "bad")])

    @telemetry.instrument
    def handler(event: dict[str, str], context: FakeContext) -> dict[str, str]:
        docs = documents(document(blocked=True, webacl="shop", account="111122223333", team="payments"))
        telemetry.batch_settled(frame, bytes_in=123, documents=docs)
        return {"result": "ok"}

    telemetry.configure_metrics("emf")  # what a handler's cold start does with WAFLENS_METRICS
    assert handler({"source": "fh"}, FakeContext()) == {"result": "ok"}

    out, err = capsys.readouterr()
    docs = by_dimensions(emf_lines(out))
    assert docs[("waflens",)]["RecordsIn"] == [2.0]
    assert docs[("shop", "111122223333", "payments")]["BlockedRequests"] == [1.0]
    [line] = log_lines(err)
    assert (line["function_name"], line["function_request_id"]) == ("waflens-firehose", "req-0001")


def test_instrumented_handler_flushes_metrics_when_it_raises(capsys: pytest.CaptureFixture[str]) -> None:
    @telemetry.instrument
    def handler(event: dict[str, str], context: FakeContext) -> None:
        telemetry.batch_settled(delivered(4, "fh"), bytes_in=40, documents=None)
        raise RuntimeError("sink exploded")

    telemetry.configure_metrics("emf")
    with pytest.raises(RuntimeError, match="sink exploded"):
        handler({}, FakeContext())

    [run] = emf_lines(capsys.readouterr().out)
    assert (run["RecordsIn"], run["RecordsDelivered"]) == ([4.0], [4.0])
