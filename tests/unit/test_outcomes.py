"""Per-record outcomes: each input record's fate, keyed by source, line and object, with _id and reason."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import orjson
import polars as pl
import pytest

from enrich import schema as S
from enrich.config import EnrichConfig
from ingest.deadline import Deadline
from ingest.outcomes import OUTCOMES, RejectedRecord, RunResult, RunSummary
from ingest.run import Limits, Pipeline
from ingest.sinks.base import SinkResult

BASE = {
    "timestamp": 1767571200000,
    "webaclId": "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/api/1",
    "action": "BLOCK",
    "httpRequest": {"clientIp": "192.0.2.1", "headers": [], "uri": "/"},
}


def record(n: int) -> bytes:
    return orjson.dumps({**BASE, "timestamp": 1767571200000 + n})


@dataclass
class Source:
    name: str
    data: bytes
    trickle: bool = False  # hand the bytes over one line per read, so batches follow batch_records

    def open(self) -> BinaryIO:
        return _Trickle(self.data) if self.trickle else io.BytesIO(self.data)


class _Trickle(io.BytesIO):
    def read(self, size: int | None = -1) -> bytes:
        return self.readline()


@dataclass
class FakeSink:
    """Answers per record: ``retry`` and ``reject`` name timestamps (offsets from BASE) to refuse."""

    name: str = "fake"
    projection: pl.Schema = field(default_factory=lambda: S.WAF_RECORD)
    retry: frozenset[int] = frozenset()
    reject: frozenset[int] = frozenset()
    fail: bool = False
    deadlines: list[Deadline] = field(default_factory=list)

    def write(self, batch: pl.DataFrame, deadline: Deadline) -> SinkResult:
        self.deadlines.append(deadline)
        if self.fail:
            raise ConnectionError("cluster said 'Bearer wlsecret-in-an-error'")
        offsets = batch.select(
            S.DOC_ID,
            (pl.col(S.TIMESTAMP).dt.epoch("ms") - BASE["timestamp"]).alias("n"),  # type: ignore[operator]
        )
        result = SinkResult(retry_reason="HTTP 503 unavailable")
        for doc_id, n in offsets.iter_rows():
            if n in self.retry:
                result.retryable.add(doc_id)
            elif n in self.reject:
                result.rejected[doc_id] = "mapping conflict on [httpRequest.uri]"
        return result


@dataclass
class FakeDeadLetter:
    broken: bool = False
    stored: list[RejectedRecord] = field(default_factory=list)

    def put(self, records: Sequence[RejectedRecord]) -> None:
        if self.broken and records:
            raise OSError(28, "No space left on device")
        self.stored += records


def run(
    sources: list[Source],
    *sinks: FakeSink,
    store: FakeDeadLetter | None = None,
    deadline: Deadline | None = None,
    batch_records: int = 20_000,
) -> RunResult:
    pipeline = Pipeline(
        config=EnrichConfig(),
        sinks=sinks or (FakeSink(),),
        dead_letter=store or FakeDeadLetter(),
        limits=Limits(batch_records=batch_records),
    )
    result = pipeline.run(sources, deadline=deadline)
    assert result.records.schema == OUTCOMES
    assert result.summary.balanced
    return result


def fates(result: RunResult, source: str) -> list[tuple[int, int, str, str | None, str | None]]:
    """(line, part, outcome, kind, reason) per record, in input order."""
    rows = result.of(source).select("line", "part", pl.col("outcome").cast(pl.String), "kind", "reason")
    return list(rows.iter_rows())


def folded(records: pl.DataFrame) -> RunSummary:
    summary = RunSummary()
    summary.add(records)
    return summary


LINES = b"\n".join([record(0), record(1), b"not json", record(2) + b" " + record(3), record(4)]) + b"\n"


def test_every_record_has_one_outcome_keyed_by_line_and_object_with_its_id_and_reason() -> None:
    store = FakeDeadLetter()
    result = run([Source("a.log", LINES)], FakeSink(retry=frozenset({1}), reject=frozenset({3})), store=store)
    assert fates(result, "a.log") == [
        (1, 0, "delivered", None, None),
        (2, 0, "retryable", None, "fake: HTTP 503 unavailable"),
        (3, 0, "rejected", "invalid_json", "invalid JSON: Expecting value (line 1 column 1)"),
        (4, 1, "delivered", None, None),
        (4, 2, "rejected", "sink_rejected", "fake: mapping conflict on [httpRequest.uri]"),
        (5, 0, "delivered", None, None),
    ]
    ids = result.of("a.log")["_id"].to_list()
    assert [i is None for i in ids] == [False, False, True, False, False, False]
    assert len(set(ids) - {None}) == 5  # each decoded record its own document id
    assert sorted((r.kind, r.position) for r in store.stored) == [
        ("invalid_json", "line 3"),
        ("sink_rejected", "line 4, object 2"),
    ]


def test_the_summary_is_folded_from_the_outcome_rows() -> None:
    sources = [Source("a", LINES), Source("b", LINES)]
    result = run(sources, FakeSink(retry=frozenset({1}), reject=frozenset({3})), batch_records=2)
    expected = folded(result.records).as_dict()
    got = result.summary.as_dict()
    assert {k: got[k] for k in expected if k not in ("sources",)} == {
        k: v for k, v in expected.items() if k != "sources"
    }
    assert (got["records_in"], got["delivered"], got["rejected"], got["retryable"]) == (12, 6, 4, 2)
    assert got["sources"] == 2


def test_a_record_one_sink_refuses_and_another_must_retry_is_retryable_with_both_reasons_kept_apart() -> None:
    result = run(
        [Source("a", LINES)], FakeSink(reject=frozenset({0})), FakeSink(name="lake", retry=frozenset({0}))
    )
    assert fates(result, "a")[0] == (1, 0, "retryable", None, "lake: HTTP 503 unavailable")


def test_a_sink_that_raises_makes_its_whole_batch_retryable_with_a_reason_that_quotes_nothing() -> None:
    result = run([Source("a", LINES), Source("b", record(9) + b"\n")], FakeSink(fail=True))
    rows = fates(result, "a")
    assert {outcome for _, _, outcome, _, _ in rows} == {"retryable"}
    assert len(rows) == 6  # the garbage line too: its rejection was never stored
    reason = rows[0][4]
    assert reason is not None
    assert reason.startswith("unexpected ConnectionError at ingest/run.py:")
    assert "wlsecret" not in result.records.write_ndjson()
    assert [(e.source, e.status) for e in result.sources] == [("a", "failed"), ("b", "failed")]


def test_a_dead_letter_store_that_fails_leaves_the_rejected_records_retryable_not_lost() -> None:
    result = run([Source("a", LINES)], FakeSink(reject=frozenset({3})), store=FakeDeadLetter(broken=True))
    assert [
        (line, part, o, reason) for line, part, o, _, reason in fates(result, "a") if o != "delivered"
    ] == [
        (3, 0, "retryable", "dead-letter write failed: No space left on device"),
        (4, 2, "retryable", "dead-letter write failed: No space left on device"),
    ]
    assert not result.summary.succeeded


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class TickingSink(FakeSink):
    """A sink that takes ``seconds`` of ``clock`` per batch."""

    clock: Clock = field(default_factory=Clock)
    seconds: float = 0.0

    def write(self, batch: pl.DataFrame, deadline: Deadline) -> SinkResult:
        self.clock.now += self.seconds
        return super().write(batch, deadline)


def test_after_the_deadline_the_rest_of_a_source_and_the_sources_not_started_are_retryable() -> None:
    clock = Clock()
    sink = TickingSink(clock=clock, seconds=6)
    deadline = Deadline.after(10, clock)
    data = b"".join(record(n) + b"\n" for n in range(5))
    sources = [Source("a", data, trickle=True), Source("b", data, trickle=True)]
    result = run(sources, sink, deadline=deadline, batch_records=2)
    # batches of two: the first two end at t=6 and t=12, so the third is not started
    assert [o for _, _, o, _, _ in fates(result, "a")] == ["delivered"] * 4 + ["retryable"]
    assert fates(result, "a")[4][4] == "the deadline came first"
    assert fates(result, "b") == []
    assert [(e.source, e.status) for e in result.sources] == [("a", "unfinished"), ("b", "unfinished")]
    assert all(d is deadline for d in sink.deadlines)  # the run's deadline reaches every sink
    summary = result.summary
    assert (summary.records_in, summary.delivered, summary.retryable) == (5, 4, 1)
    assert summary.unfinished == [
        "a: the deadline came before its end",
        "b: the deadline came before it was read",
    ]
    assert not summary.succeeded


@pytest.mark.parametrize("kept", [True, False])
def test_a_long_run_can_keep_only_the_summary(kept: bool) -> None:
    pipeline = Pipeline(config=EnrichConfig(), sinks=[FakeSink()], dead_letter=FakeDeadLetter())
    result = pipeline.run([Source("a", LINES)], keep_records=kept)
    assert result.records.height == (6 if kept else 0)
    assert result.summary.records_in == 6
