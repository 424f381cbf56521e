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
from ingest.run import Pipeline
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
