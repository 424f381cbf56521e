"""Accounting: each record counted in exactly one outcome, whatever fails; one source never sinks a run."""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import orjson
import polars as pl
import pytest

from enrich import schema as S
from enrich.config import EnrichConfig
from ingest.deadline import Deadline
from ingest.outcomes import RejectedRecord
from ingest.run import Limits, Pipeline
from ingest.sinks.base import SinkResult

RECORD = {
    "timestamp": 1767571200000,
    "webaclId": "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/api/1",
    "action": "BLOCK",
    "httpRequest": {"clientIp": "192.0.2.1", "headers": [], "uri": "/"},
}


def records(n: int, *, garbage: int = 0) -> bytes:
    lines = [orjson.dumps({**RECORD, "timestamp": RECORD["timestamp"] + i}) for i in range(n)]  # type: ignore[operator]
    lines += [b"not json %d" % i for i in range(garbage)]
    return b"\n".join(lines) + b"\n"


@dataclass
class Source:
    name: str
    data: bytes
    fail_after: int | None = None  # raise a non-OSError once this many bytes were read

    def open(self) -> BinaryIO:
        if self.fail_after is None:
            return io.BytesIO(self.data)
        return _Failing(self.data, self.fail_after)


class _Failing(io.BytesIO):
    def __init__(self, data: bytes, after: int) -> None:
        super().__init__(data)
        self.after = after

    def read(self, size: int | None = -1) -> bytes:
        if self.tell() >= self.after:
            raise ValueError("decoder state broke on 'Bearer wlsecret-quoted-in-a-message'")
        return super().read(min(size or self.after, self.after - self.tell()))


@dataclass
class Sink:
    name: str = "fake"
    projection: pl.Schema = field(default_factory=lambda: S.WAF_RECORD)
    retry: int = 0  # how many of each batch's ids come back retryable
    reject: int = 0  # how many come back rejected
    explode: bool = False
    written: list[str] = field(default_factory=list)

    def write(self, batch: pl.DataFrame, deadline: Deadline) -> SinkResult:
        if self.explode:
            raise RuntimeError("cluster answered with 'Bearer wlsecret-in-an-error'")
        ids = batch[S.DOC_ID].to_list()
        retry, rejected = ids[: self.retry], ids[self.retry : self.retry + self.reject]
        self.written += ids[self.retry + self.reject :]
        return SinkResult(retryable=set(retry), rejected={i: "mapping conflict" for i in rejected})


@dataclass
class DeadLetter:
    broken: bool = False
    stored: list[RejectedRecord] = field(default_factory=list)

    def put(self, records: Sequence[RejectedRecord]) -> None:
        if self.broken and records:
            raise OSError(30, "Read-only file system")
        self.stored += records


def pipeline(*sinks: Sink, dead_letter: DeadLetter | None = None) -> Pipeline:
    return Pipeline(config=EnrichConfig(), sinks=sinks or (Sink(),), dead_letter=dead_letter or DeadLetter())


def counts(summary: object) -> tuple[int, int, int, int]:
    d = summary.as_dict()  # type: ignore[attr-defined]
    return d["records_in"], d["delivered"], d["rejected"], d["retryable"]


def test_a_dead_letter_store_that_fails_turns_rejects_retryable_and_never_counts_below_zero() -> None:
    # two adjacent garbage lines are one rejected region
    summary = pipeline(dead_letter=DeadLetter(broken=True)).run([Source("a", records(3, garbage=2))]).summary
    assert counts(summary) == (4, 3, 0, 1)
    assert summary.balanced
    assert not summary.succeeded


def test_sink_rejections_are_dead_lettered_and_sink_retries_counted_once() -> None:
    store = DeadLetter()
    summary = (
        pipeline(Sink(retry=2, reject=1), dead_letter=store).run([Source("a", records(6, garbage=1))]).summary
    )
    assert counts(summary) == (7, 3, 2, 2)
    assert sorted(r.kind for r in store.stored) == ["invalid_json", "sink_rejected"]


def test_a_record_one_sink_refuses_and_another_must_retry_is_retryable_not_rejected() -> None:
    summary = pipeline(Sink(retry=1), Sink(name="other", reject=1)).run([Source("a", records(4))]).summary
    assert counts(summary) == (4, 3, 0, 1)


def test_an_unexpected_error_in_a_source_stops_that_source_only_and_names_no_content(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = Source("good", records(4))
    bad = Source("bad", records(4), fail_after=10)
    summary = pipeline().run([bad, good]).summary
    assert counts(summary) == (4, 4, 0, 0)
    assert len(summary.failed) == 1
    assert re.fullmatch(
        r"bad: unexpected ValueError at ingest/(\w+/)*\w+\.py:\d+; its records are retryable",
        summary.failed[0],
    )
    assert "wlsecret" not in " ".join(summary.failed)
    assert not summary.succeeded


def test_a_sink_that_raises_makes_its_batch_retryable_and_the_run_goes_on() -> None:
    summary = pipeline(Sink(explode=True)).run([Source("a", records(3)), Source("b", records(2))]).summary
    assert counts(summary) == (5, 0, 0, 5)
    assert len(summary.failed) == 2
    assert all("RuntimeError" in f and "wlsecret" not in f for f in summary.failed)


@pytest.mark.parametrize(
    ("cut", "kind"),
    [
        pytest.param(lambda data: data[: len(data) // 2], "truncated_input", id="mid-record"),
        pytest.param(lambda data: data[:-8], "damaged_input", id="between-records"),  # only the trailer lost
    ],
)
def test_a_damaged_source_is_one_dead_letter_entry_naming_the_offset_and_a_non_zero_outcome(
    cut: Callable[[bytes], bytes], kind: str
) -> None:
    store = DeadLetter()
    summary = pipeline(dead_letter=store).run([Source("cut.gz", cut(gzip.compress(records(50))))]).summary
    assert summary.balanced
    assert len(summary.damaged) == 1
    assert summary.damaged[0].startswith("cut.gz: ")
    assert [r.kind for r in store.stored] == [kind]
    assert "offset" in store.stored[0].reason
    assert not summary.succeeded


@dataclass
class Counting(Sink):
    """A sink that remembers each batch's sources and fails the batches it is told to."""

    fail_calls: tuple[int, ...] = ()
    batches: list[list[str]] = field(default_factory=list)

    def write(self, batch: pl.DataFrame, deadline: Deadline) -> SinkResult:
        self.batches.append(batch["source"].to_list())
        if len(self.batches) in self.fail_calls:
            raise RuntimeError("cluster down")
        return super().write(batch, deadline)


def _limited(sink: Sink, store: DeadLetter | None = None, *, batch_records: int) -> Pipeline:
    return Pipeline(
        config=EnrichConfig(),
        sinks=[sink],
        dead_letter=store or DeadLetter(),
        limits=Limits(batch_records=batch_records),
    )


def test_small_sources_share_one_batch_and_each_record_keeps_its_source_and_line() -> None:
    sink = Counting()
    sources = [Source(f"s{i:03d}.log", records(3)) for i in range(100)]
    result = pipeline(sink).run(sources)
    assert len(sink.batches) == 1  # one decode, enrichment and write for 300 records of 100 files
    assert counts(result.summary) == (300, 300, 0, 0)
    assert [e.source for e in result.sources] == [s.name for s in sources]
    assert all(e.status == "complete" for e in result.sources)
    assert result.of("s042.log")["line"].to_list() == [1, 2, 3]


def test_a_shared_batch_stays_within_the_limits() -> None:
    sink = Counting()
    sources = [Source(f"s{i}", records(4)) for i in range(7)]
    summary = _limited(sink, batch_records=10).run(sources).summary
    assert [len(b) for b in sink.batches] == [8, 8, 8, 4]  # a source that would overflow starts the next
    assert counts(summary) == (28, 28, 0, 0)


def test_a_failed_shared_batch_fails_only_the_sources_with_records_in_it() -> None:
    sink = Counting(fail_calls=(2,))
    sources = [Source(f"s{i}", records(4)) for i in range(5)]
    result = _limited(sink, batch_records=10).run(sources)
    assert [(e.source, e.status) for e in result.sources] == [
        ("s0", "complete"),
        ("s1", "complete"),
        ("s2", "failed"),
        ("s3", "failed"),
        ("s4", "complete"),
    ]
    assert counts(result.summary) == (20, 12, 0, 8)
    assert set(result.records.filter(pl.col("outcome") == "retryable")["source"]) == {"s2", "s3"}


def test_a_piece_that_would_overflow_the_shared_batch_starts_a_new_one() -> None:
    sink = Counting()
    sources = [Source("small", records(3)), Source("large", records(25)), Source("last", records(2))]
    result = _limited(sink, batch_records=10).run(sources)
    # framing cuts a source at a read block (1 MiB) past the limit, so the large source is one piece
    assert [len(b) for b in sink.batches] == [3, 25, 2]
    assert counts(result.summary) == (30, 30, 0, 0)
    assert [(e.source, e.status) for e in result.sources] == [
        ("small", "complete"),
        ("large", "complete"),
        ("last", "complete"),
    ]


def test_rejected_records_of_a_shared_batch_are_dead_lettered_under_their_own_source() -> None:
    store = DeadLetter()
    sources = [
        Source("a", records(2, garbage=1)),
        Source("b", records(1, garbage=1)),
        Source("c", records(2)),
    ]
    result = pipeline(Counting(), dead_letter=store).run(sources)
    assert sorted((r.source, r.line) for r in store.stored) == [("a", 3), ("b", 2)]
    assert counts(result.summary) == (7, 5, 2, 0)


def test_when_the_deadline_comes_the_shared_batch_is_retryable_and_its_sources_unfinished() -> None:
    sink = Counting()
    after_one_write = Deadline(1, clock=lambda: len(sink.batches))
    sources = [Source(f"s{i}", records(4)) for i in range(5)]
    result = _limited(sink, batch_records=10).run(sources, deadline=after_one_write)
    statuses = [(e.source, e.status) for e in result.sources]
    assert statuses[:2] == [("s0", "complete"), ("s1", "complete")]
    assert {s for s, status in statuses[2:]} == {"s2", "s3", "s4"}
    assert all(status == "unfinished" for _, status in statuses[2:])
    assert result.summary.balanced
    assert counts(result.summary)[1] == 8
