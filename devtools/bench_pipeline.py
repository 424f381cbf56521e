"""The bench's ``pipeline`` and ``lake`` paths: waflens's pipeline in process, to bulk bodies or the lake."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from devtools.bench_process import BENCH_CONFIG
from enrich import schema as S
from enrich.config import EnrichConfig
from enrich.documents import bulk_lines
from enrich.redact import redaction_from
from ingest.deadline import Deadline
from ingest.run import Pipeline
from ingest.sinks.base import SinkResult
from ingest.sinks.deadletter import FileDeadLetter
from ingest.sinks.lake import ParquetLake
from ingest.sinks.opensearch.encoder import bulk_chunks
from ingest.sinks.opensearch.service import BulkOptions
from ingest.sources.local import LocalFile


class BulkBodySink:
    """A sink that builds the OpenSearch sink's request bodies and counts them, sending nothing."""

    name = "bulk-body"
    projection = S.ENRICH_INPUT

    def __init__(self) -> None:
        self.bytes = 0
        self.documents = 0

    def write(self, batch: pl.DataFrame, deadline: Deadline) -> SinkResult:
        """Build the bulk bodies for ``batch``; count their bytes and their documents (two lines each)."""
        lines = bulk_lines(batch.lazy()).collect(engine="streaming")  # on every core, as the sink does
        for chunk in bulk_chunks(lines, BulkOptions.max_bytes):
            self.bytes += len(chunk.body)
            self.documents += chunk.body.count(b"\n") // 2
        return SinkResult()


def run_pipeline(source: Path, *, workdir: Path, lake: bool) -> tuple[int, int, int]:
    """Records delivered, documents and body bytes (0 and 0 for the lake) of one pipeline run."""
    config = EnrichConfig.from_mapping(BENCH_CONFIG)
    sink = ParquetLake(workdir / "lake") if lake else BulkBodySink()
    dead_letter = FileDeadLetter(workdir / "dead-letter", redaction_from(config))
    pipeline = Pipeline(config=config, sinks=[sink], dead_letter=dead_letter)
    summary = pipeline.run([LocalFile(source)], keep_records=False).summary
    if isinstance(sink, BulkBodySink):
        return summary.delivered, sink.documents, sink.bytes
    return summary.delivered, 0, 0
