"""The OpenSearch sink against a fault-injecting _bulk server on loopback: nothing lost, nothing doubled."""

from __future__ import annotations

import gzip
import hashlib
import random
import threading
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from botocore.credentials import Credentials
from opensearchpy import OpenSearch

from devtools.fake_opensearch import FakeOpenSearch, Faults
from devtools.generate import write_logs
from enrich import schema as S
from enrich.config import EnrichConfig
from enrich.redact import redaction_for
from ingest.deadline import Clock, Deadline
from ingest.outcomes import RunSummary
from ingest.run import Pipeline
from ingest.sinks.base import Sink, SinkResult
from ingest.sinks.deadletter import FileDeadLetter
from ingest.sinks.lake import ParquetLake, scan_lake
from ingest.sinks.opensearch.client import Endpoint, make_client
from ingest.sinks.opensearch.retry import Backoff
from ingest.sinks.opensearch.service import BulkOptions, OpenSearchSink
from ingest.sources.local import expand
from tests.support.opensearch_spec import spec_validator
from tests.support.samples import samples_dir

CONFIG = EnrichConfig()


class FakeClock:
    """Time that passes only when the sink sleeps, so backoff is exercised without waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Clocked:
    """A sink whose deadlines run on a test clock: the run's deadline (none here) moved onto ``clock``."""

    def __init__(self, sink: OpenSearchSink, clock: Clock) -> None:
        self.sink, self.clock, self.name, self.projection = sink, clock, sink.name, sink.projection

    def write(self, batch: pl.DataFrame, deadline: Deadline) -> SinkResult:
        assert deadline.at == float("inf")
        return self.sink.write(batch, Deadline.never(self.clock))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sink, name)


def opensearch_sink(
    url: str, *, timeout: float = 5.0, clock: FakeClock | None = None, **options: Any
) -> Clocked:
    clock = clock or FakeClock()
    client = make_client(Endpoint(url=url, timeout=timeout))
    options.setdefault("request_seconds", timeout)
    sink = OpenSearchSink(client, BulkOptions(**options), sleep=clock.sleep, rng=random.Random(1))
    return Clocked(sink, clock)


class MeteredClient:
    """A client whose bulk requests tick a clock, one second each, and that fails the test past a budget.

    The sink under test could loop; this turns a hang into an AssertionError out of ``write``, and lets a
    deadline be reached by requests sent rather than by waiting.
    """

    def __init__(self, client: OpenSearch, budget: int) -> None:
        self.client, self.budget, self.sent = client, budget, 0
        self._lock = threading.Lock()

    def bulk(self, **kwargs: Any) -> Any:
        with self._lock:
            self.sent += 1
            spent = self.sent > self.budget
        if spent:
            raise AssertionError(f"more than {self.budget} bulk requests: the sink is looping")
        return self.client.bulk(**kwargs)

    def clock(self) -> float:
        return float(self.sent)


class Recorded:
    """A sink that keeps what the wrapped sink returned, for its ``retry_reason``."""

    def __init__(self, sink: OpenSearchSink) -> None:
        self.sink, self.name, self.projection = sink, sink.name, sink.projection
        self.results: list[SinkResult] = []

    def write(self, batch: pl.DataFrame, deadline: Deadline) -> SinkResult:
        self.results.append(self.sink.write(batch, deadline))
        return self.results[-1]


def metered_sink(url: str, *, budget: int, **options: Any) -> tuple[Clocked, MeteredClient]:
    """A sink whose clock advances one second per bulk request and never by sleeping."""
    client = MeteredClient(make_client(Endpoint(url=url, timeout=5.0)), budget)
    sink = OpenSearchSink(
        client,  # type: ignore[arg-type]  # only bulk is called
        BulkOptions(**options),
        sleep=lambda _: None,
        rng=random.Random(1),
    )
    return Clocked(sink, client.clock), client


def run(paths: list[Path], sinks: list[Sink], dead: Path) -> RunSummary:
    redaction = redaction_for(CONFIG.redacted_headers, CONFIG.redaction_marker)
    pipeline = Pipeline(config=CONFIG, sinks=sinks, dead_letter=FileDeadLetter(dead, redaction))
    summary = pipeline.run(expand(paths).sources).summary
    assert summary.balanced
    return summary


def dead_letters(folder: Path) -> list[dict[str, str]]:
    return [
        orjson.loads(line) for f in sorted(folder.glob("*.ndjson")) for line in f.read_bytes().splitlines()
    ]


def poison_records(path: Path, count: int) -> None:
    """Records a cluster refuses for good (the fake answers 400 mapper_parsing_exception to poisonField)."""
    base = orjson.loads((samples_dir() / "panther.ndjson").read_bytes().splitlines()[0])
    lines = [
        orjson.dumps({**base, "timestamp": base["timestamp"] + i, "poisonField": i}) for i in range(count)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")


def padded_records(path: Path, count: int, *, padding: int = 0, sizes: dict[int, int] | None = None) -> None:
    """``count`` distinct panther records, ``args`` padded to ``padding`` bytes (``sizes[i]`` for i)."""
    base = orjson.loads((samples_dir() / "panther.ndjson").read_bytes().splitlines()[0])
    sizes = sizes or {}

    def record(i: int) -> bytes:
        request = {**base["httpRequest"], "args": "q=" + "x" * sizes.get(i, padding)}
        return orjson.dumps({**base, "timestamp": base["timestamp"] + i, "httpRequest": request})

    path.write_bytes(b"".join(record(i) + b"\n" for i in range(count)))


def bulk_requests(server: FakeOpenSearch) -> list[tuple[int, list[bytes]]]:
    """Each _bulk request's status and the documents (source lines) it carried."""
    return [
        (r.status, r.decompressed_body.splitlines()[1::2])
        for r in server.requests
        if r.path.endswith("_bulk")
    ]


def test_samples_are_indexed_once_with_gzip_and_every_bulk_line_passes_the_spec(tmp_path: Path) -> None:
    with FakeOpenSearch() as server:
        corpus = [*sorted(samples_dir().glob("*.ndjson")), samples_dir() / "raw", samples_dir() / "malformed"]
        summary = run(corpus, [opensearch_sink(server.url)], tmp_path / "dead")
        bulks = [r for r in server.requests if r.path.endswith("/_bulk")]
        assert summary.delivered == 568 - 8
        assert summary.rejected == 8  # the malformed samples
        assert len(server.documents) == 320  # 323 records, three of them exact duplicates
        assert all(r.headers.get("content-encoding") == "gzip" for r in bulks)
        assert sum(len(r.body) for r in bulks) < sum(len(r.decompressed_body) for r in bulks) / 3
        for request in bulks:
            assert spec_validator().bulk_body(request.decompressed_body) == []
        assert {"waflens-events-2023.04.24", "waflens-events-2020.06.17"} <= {
            index for index, _ in server.documents
        }


@pytest.mark.slow
def test_under_every_fault_each_record_is_stored_once_or_dead_lettered_and_replays_add_nothing(
    tmp_path: Path,
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_logs(inputs / "generated.log.gz", 50_000, seed=17)
    poison_records(inputs / "poison.log", 25)
    faults = Faults(
        seed=3,
        item_429=0.15,
        item_500=0.05,
        request_500=0.03,
        reset=0.03,
        slow=0.02,
        max_body_bytes=1 << 20,
        poison_field="poisonField",
        slow_seconds=3.0,
    )
    with FakeOpenSearch(faults) as server:

        def sinks() -> list[Sink]:
            return [
                ParquetLake(tmp_path / "lake"),
                opensearch_sink(server.url, timeout=2.0, max_bytes=4 << 20),
            ]

        first = run(
            [inputs, samples_dir() / "aws-waf-security-automations.ndjson"], sinks(), tmp_path / "dead"
        )
        stored = set(server.documents)
        assert first.retryable == 0
        assert first.rejected_by_kind == {"sink_rejected": 25}
        assert first.delivered == 50_000 + 228
        lake_ids = set(scan_lake(tmp_path / "lake").select(S.DOC_ID).collect()[S.DOC_ID])
        rejected = dead_letters(tmp_path / "dead")
        assert len(rejected) == 25
        assert all(
            "mapper_parsing_exception" in r["reason"] and "poisonField" in r["original"] for r in rejected
        )
        stored_ids = {doc_id for _, doc_id in stored}
        assert len(stored_ids) == len(stored)  # one index per event: an id is never stored twice
        assert stored_ids <= lake_ids
        assert (
            len(lake_ids - stored_ids) == 25
        )  # the poisoned records, in the lake but refused by the cluster
        assert max(server.index_count_by_key.values()) > 1  # retries did resend some documents...
        statuses = {r.status for r in server.requests}
        assert 413 in statuses  # oversized requests were split
        assert statuses & {500, 502, 503}  # request-level server errors were retried
        assert any(r.aborted for r in server.requests)  # connection resets were retried

        second = run(
            [inputs, samples_dir() / "aws-waf-security-automations.ndjson"], sinks(), tmp_path / "dead"
        )
        assert second.retryable == 0
        assert set(server.documents) == stored  # ...and a full replay adds no document


def test_records_still_failing_at_the_deadline_are_retryable_and_not_dead_lettered(tmp_path: Path) -> None:
    clock = FakeClock()
    with FakeOpenSearch(Faults(fail_first_n_requests=10_000)) as server:
        sink = opensearch_sink(server.url, clock=clock, retry_seconds=30, backoff=Backoff(base=1, cap=8))
        summary = run([samples_dir() / "panther.ndjson"], [sink], tmp_path / "dead")
        assert (summary.retryable, summary.delivered, summary.rejected) == (6, 0, 0)
        assert server.documents == {}
        assert dead_letters(tmp_path / "dead") == []
        assert 20 <= clock.now < 30  # it backed off until the deadline, not forever
        assert len([r for r in server.requests if r.path.endswith("_bulk")]) > 3


def test_a_document_too_large_for_the_cluster_is_rejected_once_splitting_cannot_help(tmp_path: Path) -> None:
    record = orjson.loads((samples_dir() / "panther.ndjson").read_bytes().splitlines()[0])
    record["httpRequest"]["args"] = "q=" + "x" * 300_000
    logs = tmp_path / "big.log"
    logs.write_bytes(orjson.dumps(record) + b"\n" + (samples_dir() / "panther.ndjson").read_bytes())
    with FakeOpenSearch(Faults(max_body_bytes=200_000)) as server:
        summary = run(
            [logs], [opensearch_sink(server.url, max_bytes=1 << 20, min_bytes=64 << 10)], tmp_path / "dead"
        )
        assert (summary.delivered, summary.rejected, summary.retryable) == (6, 1, 0)
        assert len(server.documents) == 6
        (entry,) = dead_letters(tmp_path / "dead")
        assert entry["kind"] == "sink_rejected"
        assert "HTTP 413" in entry["reason"]


def test_sigv4_signs_the_compressed_bytes_it_sends(tmp_path: Path) -> None:
    with FakeOpenSearch() as server:
        endpoint = Endpoint(url=server.url, auth="sigv4", service="es", region="eu-west-1")
        client = make_client(
            endpoint, credentials=Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        )
        sink = OpenSearchSink(client, BulkOptions(), rng=random.Random(0))
        run([samples_dir() / "panther.ndjson"], [sink], tmp_path / "dead")
        (request,) = [r for r in server.requests if r.path.endswith("_bulk")]
        assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        assert "/eu-west-1/es/aws4_request" in request.headers["authorization"]
        assert request.headers["content-encoding"] == "gzip"
        assert request.headers["x-amz-content-sha256"] == hashlib.sha256(request.body).hexdigest()
        assert gzip.decompress(request.body) == request.decompressed_body
        assert len(server.documents) == 6


SIZE_LEVELS = 5  # request sizes from max_bytes=1 MiB halving to min_bytes=64 KiB, before one per request


@pytest.mark.parametrize(
    ("count", "big_at"),
    [(7, 1), (300, 150)],
    ids=["oversized-document-second", "oversized-document-in-the-middle-of-many"],
)
def test_an_oversized_document_after_others_is_rejected_alone_and_the_rest_delivered(
    tmp_path: Path, count: int, big_at: int
) -> None:
    # given a document above the cluster's 413 limit that shares its first requests with others
    logs = tmp_path / "big.log"
    padded_records(logs, count, sizes={big_at: 300_000})
    with FakeOpenSearch(Faults(max_body_bytes=200_000)) as server:
        sink, _ = metered_sink(server.url, budget=1_000, max_bytes=1 << 20, min_bytes=64 << 10)
        # when the batch is written
        summary = run([logs], [sink], tmp_path / "dead")
        # then it is the only one refused, and only once it was sent alone
        assert (summary.delivered, summary.rejected, summary.retryable) == (count - 1, 1, 0)
        assert len(server.documents) == count - 1
        (entry,) = dead_letters(tmp_path / "dead")
        assert "HTTP 413" in entry["reason"]
        assert "x" * 300_000 in entry["original"]
        requests = bulk_requests(server)
        big = [docs for _, docs in requests if any(len(doc) > 300_000 for doc in docs)]
        assert [len(docs) for docs in big].count(1) == 1  # sent alone once, then rejected
        # and each document was sent at most once per request size, and once alone
        assert sum(len(docs) for _, docs in requests) <= (SIZE_LEVELS + 1) * count


def test_a_proxy_limit_below_the_floor_gets_every_document_that_fits_sent_one_per_request(
    tmp_path: Path,
) -> None:
    # given a proxy whose body limit fits one ~5 KB document but never two, far below min_bytes
    logs = tmp_path / "padded.log"
    padded_records(logs, 20, padding=4_000, sizes={9: 20_000})
    with FakeOpenSearch(Faults(max_body_bytes=8_000)) as server:
        sink, _ = metered_sink(server.url, budget=1_000, max_bytes=1 << 20, min_bytes=64 << 10)
        # when the batch is written
        summary = run([logs], [sink], tmp_path / "dead")
        # then every document that fits alone is delivered, one per request, and the one too big is rejected
        assert (summary.delivered, summary.rejected, summary.retryable) == (19, 1, 0)
        assert len(server.documents) == 19
        requests = bulk_requests(server)
        assert all(len(docs) == 1 for status, docs in requests if status == 200)
        assert all(status == 413 for status, docs in requests if len(docs) > 1)
        # and the rounds were bounded: a few requests per size level, then one per document
        assert len(requests) <= SIZE_LEVELS * 2 + 20
        # and the next batch starts at the learned floor, not at max_bytes
        first_of_replay = len(requests)
        run([logs], [sink], tmp_path / "dead")
        replay = bulk_requests(server)[first_of_replay:]
        assert max(len(docs) for _, docs in replay) <= (64 << 10) // 5_000 + 1
        assert len(replay) < len(requests)


def test_a_server_refusing_every_request_as_too_large_rejects_each_document_and_stops(tmp_path: Path) -> None:
    # given a server that answers 413 to every bulk request, however small
    with FakeOpenSearch(Faults(max_body_bytes=0)) as server:
        sink, _ = metered_sink(server.url, budget=100, max_bytes=1 << 20, min_bytes=64 << 10)
        # when the samples are written
        summary = run([samples_dir() / "panther.ndjson"], [sink], tmp_path / "dead")
        # then each document is rejected once it was refused alone, and nothing is retried for ever
        assert (summary.delivered, summary.rejected, summary.retryable) == (0, 6, 0)
        assert all("HTTP 413" in entry["reason"] for entry in dead_letters(tmp_path / "dead"))
        assert len(bulk_requests(server)) == SIZE_LEVELS + 6  # one request per size level, then one each


def test_splitting_stops_at_the_deadline_and_what_is_pending_is_retryable(tmp_path: Path) -> None:
    # given a server that answers 413 to everything, and a deadline three requests away
    with FakeOpenSearch(Faults(max_body_bytes=0)) as server:
        sink, client = metered_sink(
            server.url, budget=100, max_bytes=1 << 20, min_bytes=64 << 10, retry_seconds=3
        )
        recorded = Recorded(sink)
        # when the samples are written
        summary = run([samples_dir() / "panther.ndjson"], [recorded], tmp_path / "dead")
        # then splitting stops at the deadline and every document is retryable, none dead-lettered
        assert (summary.delivered, summary.rejected, summary.retryable) == (0, 0, 6)
        assert dead_letters(tmp_path / "dead") == []
        assert client.sent == len(bulk_requests(server)) == 3
        (result,) = recorded.results
        assert result.retry_reason is not None
        assert "deadline" in result.retry_reason
        assert "HTTP 413" in result.retry_reason
