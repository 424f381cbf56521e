"""The OpenSearch sink against a fault-injecting _bulk server on loopback: nothing lost, nothing doubled."""

from __future__ import annotations

import gzip
import hashlib
import random
from pathlib import Path

import orjson
import pytest
from botocore.credentials import Credentials

from enrich import schema as S
from enrich.config import EnrichConfig
from enrich.redact import redaction_for
from ingest.deadletter import LocalDeadLetter
from ingest.generate import write_logs
from ingest.lake import ParquetLake, scan_lake
from ingest.opensearch import Backoff, BulkOptions, OpenSearchSink
from ingest.opensearch_client import Endpoint, make_client
from ingest.outcomes import RunSummary
from ingest.pipeline import Pipeline
from ingest.sinks import Sink
from ingest.sources import expand
from tests.support.fake_opensearch import FakeOpenSearch, Faults
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


def opensearch_sink(
    url: str, *, timeout: float = 5.0, clock: FakeClock | None = None, **options: object
) -> OpenSearchSink:
    clock = clock or FakeClock()
    client = make_client(Endpoint(url=url, timeout=timeout))
    return OpenSearchSink(
        client, BulkOptions(**options), clock=clock, sleep=clock.sleep, rng=random.Random(1)
    )  # type: ignore[arg-type]


def run(paths: list[Path], sinks: list[Sink], dead: Path) -> RunSummary:
    redaction = redaction_for(CONFIG.redacted_headers, CONFIG.redaction_marker)
    pipeline = Pipeline(config=CONFIG, sinks=sinks, dead_letter=LocalDeadLetter(dead, redaction))
    summary = pipeline.run(expand(paths))
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
        sink = opensearch_sink(server.url, clock=clock, deadline_seconds=30, backoff=Backoff(base=1, cap=8))
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
