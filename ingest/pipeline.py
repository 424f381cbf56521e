"""One run: sources → framing → decode → enrich → sinks → one outcome per record → summary."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import polars as pl

from enrich import schema as S
from enrich.config import EnrichConfig
from enrich.pipeline import enrich
from enrich.redact import Redaction, redaction_for
from ingest import telemetry
from ingest.deadletter import DeadLetterStore
from ingest.decode import decode
from ingest.framing import FramedBatch, Framer, position
from ingest.outcomes import Outcome, RejectedRecord, RunSummary, classify
from ingest.sinks import Sink


class Source(Protocol):
    """Something with a name whose bytes can be streamed."""

    @property
    def name(self) -> str: ...

    def open(self) -> BinaryIO: ...


@dataclass(frozen=True)
class Limits:
    """Batch bounds: memory depends on these, never on the size of an object."""

    batch_records: int = 20_000
    batch_bytes: int = 32 << 20


def projection_for(sinks: Sequence[Sink]) -> pl.Schema:
    """The widest decode any sink needs: the full record if one wants it, else the enrichment input."""
    return S.WAF_RECORD if any(s.projection == S.WAF_RECORD for s in sinks) else S.ENRICH_INPUT


class Pipeline:
    """Runs sources through enrichment into sinks; every record ends Delivered, Retryable or Rejected."""

    def __init__(
        self,
        *,
        config: EnrichConfig,
        sinks: Sequence[Sink],
        dead_letter: DeadLetterStore,
        limits: Limits = Limits(),
    ) -> None:
        if not sinks:
            raise ValueError("a pipeline needs at least one sink")
        self.config = config
        self.sinks = tuple(sinks)
        self.dead_letter = dead_letter
        self.limits = limits
        self.redaction: Redaction = redaction_for(config.redacted_headers, config.redaction_marker)
        self.projection = projection_for(sinks)

    def run(self, sources: Iterable[Source]) -> RunSummary:
        """Process every source and return the counts."""
        summary = RunSummary()
        for source in sources:
            summary.sources += 1
            self.run_source(source, summary)
        telemetry.run_finished(summary)
        return summary

    def run_source(self, source: Source, summary: RunSummary) -> None:
        """Process one source into ``summary``."""
        framer = Framer(source.name, max_records=self.limits.batch_records, max_bytes=self.limits.batch_bytes)
        try:
            with source.open() as stream:
                for batch in framer.batches(stream):
                    self.run_batch(batch, source.name, summary)
        except OSError as exc:
            summary.unreadable.append(f"{source.name}: {exc}")
            telemetry.source_warning(source.name, f"unreadable: {exc}")
            return
        if framer.error is not None:
            summary.source_warnings.append(f"{source.name}: {framer.error}")
            telemetry.source_warning(source.name, framer.error)

    def run_batch(self, batch: FramedBatch, source: str, summary: RunSummary) -> None:
        """Decode, enrich and deliver one batch; settle every record's outcome."""
        summary.records_in += len(batch)
        decoded = decode(batch, source=source, redaction=self.redaction, projection=self.projection)
        rejected = batch.rejected + decoded.rejected
        if decoded.frame.height + len(decoded.rejected) != len(batch.texts):
            raise AssertionError(f"{source}: decode lost records")  # a bug, never a data problem
        documents = enrich(decoded.frame.lazy(), self.config).collect()
        retryable, sink_rejected, already = self._deliver(documents, source)
        rejected += sink_rejected
        try:
            self.dead_letter.put(rejected)
        except OSError as exc:  # rejected but not stored: the source must deliver them again
            telemetry.records_retryable(len(rejected), f"dead-letter write failed: {exc}")
            retryable += len(rejected)
            rejected = []
        telemetry.records_rejected(rejected)
        summary.add_rejected(rejected)
        summary.retryable += retryable
        summary.already_present += already
        summary.delivered += documents.height - retryable - len(sink_rejected)

    def _deliver(self, documents: pl.DataFrame, source: str) -> tuple[int, list[RejectedRecord], int]:
        """Write to every sink; return (retryable rows, rows a sink rejected, rows already present).

        ``outcomes.classify`` settles each record some sink did not deliver: usually a handful, at
        worst one batch when a sink fails wholesale, so a loop over those ids costs milliseconds.
        """
        results = [(sink, sink.write(documents)) for sink in self.sinks]
        for sink, result in results:
            if result.retryable:
                telemetry.records_retryable(len(result.retryable), result.retry_reason or sink.name)
        troubled = set().union(*(r.retryable | r.rejected.keys() for _, r in results))
        retry_ids, reasons = set(), {}
        for doc_id in troubled:
            per_sink = [
                Outcome.RETRYABLE
                if doc_id in r.retryable
                else Outcome.REJECTED
                if doc_id in r.rejected
                else Outcome.DELIVERED
                for _, r in results
            ]
            outcome = classify(per_sink)
            if outcome is Outcome.RETRYABLE:
                retry_ids.add(doc_id)
            elif outcome is Outcome.REJECTED:
                reasons[doc_id] = "; ".join(
                    f"{s.name}: {r.rejected[doc_id]}" for s, r in results if doc_id in r.rejected
                )
        ids = pl.col(S.DOC_ID)
        retryable = documents.filter(ids.is_in(list(retry_ids))).height if retry_ids else 0
        refused = documents.filter(ids.is_in(list(reasons))) if reasons else documents.clear()
        rejected = [
            RejectedRecord(
                source,
                position(row["line"], row["part"]),
                "sink_rejected",
                reasons[row[S.DOC_ID]],
                row[S.EVENT_ORIGINAL].encode(),
            )
            for row in refused.select(S.DOC_ID, "line", "part", S.EVENT_ORIGINAL).iter_rows(named=True)
        ]
        return retryable, rejected, max((r.already_present for _, r in results), default=0)
