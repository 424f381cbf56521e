"""Payloads joined into one source: each outcome row maps back to the payload (recordId) it came from."""

from __future__ import annotations

import polars as pl

from enrich.config import EnrichConfig
from ingest.run import Pipeline
from ingest.sources.payloads import Payloads
from tests.unit.test_outcomes import FakeDeadLetter, FakeSink, record


def test_each_payload_starts_a_line_and_keys_follow_line_ranges() -> None:
    joined = Payloads.join("fh", [("a", b'{"x":1}'), ("b", b'{"y":2}\n{"z":3}\n'), ("c", b"")])
    assert joined.data == b'{"x":1}\n{"y":2}\n{"z":3}\n\n'
    assert joined.starts == (1, 2, 4)
    rows = pl.DataFrame({"line": [3, 1, 2, 4, 0]})
    assert joined.with_keys(rows).rows() == [(3, "b"), (1, "a"), (2, "b"), (4, "c"), (0, None)]


def test_a_garbage_payload_is_rejected_alone_and_the_others_are_delivered_under_their_own_keys() -> None:
    payloads = [("r-1", record(1)), ("r-2", b'{"cut": "off'), ("r-3", record(3) + b"\n" + record(4))]
    source = Payloads.join("firehose", payloads)
    pipeline = Pipeline(config=EnrichConfig(), sinks=[FakeSink()], dead_letter=FakeDeadLetter())
    result = pipeline.run([source])
    keyed = source.with_keys(result.of("firehose")).select("key", pl.col("outcome").cast(pl.String), "kind")
    assert keyed.rows() == [
        ("r-1", "delivered", None),
        ("r-2", "rejected", "invalid_json"),
        ("r-3", "delivered", None),
        ("r-3", "delivered", None),
    ]
