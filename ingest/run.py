"""One run: sources → framing → decode → enrich → sinks → one outcome per record → summary."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import polars as pl

from enrich import schema as S
from enrich.config import EnrichConfig
from enrich.pipeline import enrich
from enrich.redact import Redaction, redaction_from
from ingest import telemetry
from ingest.decode.framing import FramedBatch, Framer, position
from ingest.decode.records import decode
from ingest.outcomes import Outcome, RejectedRecord, RunSummary, classify
from ingest.sinks.base import Sink
from ingest.sinks.deadletter import DeadLetterStore


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
        self.redaction: Redaction = redaction_from(config)
        self.projection = projection_for(sinks)

    def run(self, sources: Iterable[Source]) -> RunSummary:
        """Process every source and return the counts; a run whose counts do not balance is a bug."""
        summary = RunSummary()
        for source in sources:
            summary.sources += 1
            self.run_source(source, summary)
        if not summary.balanced:
            telemetry.accounting_error(summary)
        telemetry.run_finished(summary)
        return summary

    def run_source(self, source: Source, summary: RunSummary) -> None:
        """Process one source into ``summary``; whatever goes wrong stays inside this source."""
        framer = Framer(source.name, max_records=self.limits.batch_records, max_bytes=self.limits.batch_bytes)
        damage_rejected = False  # the record the damage cut short is already a truncated_input reject
        try:
            with source.open() as stream:
                for batch in framer.batches(stream):
                    damage_rejected |= any(r.kind == "truncated_input" for r in batch.rejected)
                    self.run_batch(batch, source.name, summary)
        except OSError as exc:
            summary.unreadable.append(f"{source.name}: {exc.strerror or type(exc).__name__}")
            telemetry.source_warning(source.name, f"unreadable: {exc.strerror or type(exc).__name__}")
            return
        except Exception as exc:  # the failure boundary: the next source still runs
            reason = telemetry.describe_failure(exc)  # names the error and where, never record content
            summary.failed.append(f"{source.name}: {reason}")
            telemetry.source_failed(source.name, reason)
            return
        if framer.error is not None:
            self._damaged(source.name, framer.error, summary, entry=not damage_rejected)

    def _damaged(self, source: str, problem: str, summary: RunSummary, *, entry: bool) -> None:
        """A source whose bytes break off: listed, and one dead-letter entry naming it and the offset.

        When the damage cut a record short, that record's truncated_input rejection is the entry;
        otherwise (the break fell between records) the entry is an empty one of its own, counted.
        """
        summary.damaged.append(f"{source}: {problem}")
        telemetry.source_warning(source, problem)
        if entry:
            summary.records_in += 1
            self._settle_rejected(
                [RejectedRecord(source, "end of data", "damaged_input", problem, b"")], summary
            )

    def run_batch(self, batch: FramedBatch, source: str, summary: RunSummary) -> None:
        """Decode, enrich and deliver one batch; settle every record's outcome exactly once.

        The batch is counted only once it is settled; if anything fails before that, every record of
        the batch is Retryable (sinks and the dead-letter store are idempotent, so a redelivery of
        records that were in fact written converges on the same state).
        """
        try:
            decoded = decode(batch, source=source, redaction=self.redaction, projection=self.projection)
            if decoded.frame.height + len(decoded.rejected) != len(batch.texts):
                raise AssertionError(f"{source}: decode lost records")  # a bug, never a data problem
            documents = enrich(decoded.frame.lazy(), self.config).collect()
            retryable, sink_rejected, already = self._deliver(documents, source)
        except Exception:
            summary.records_in += len(batch)
            summary.retryable += len(batch)
            raise
        summary.records_in += len(batch)
        summary.retryable += retryable
        summary.already_present += already
        summary.delivered += documents.height - retryable - len(sink_rejected)
        self._settle_rejected(batch.rejected + decoded.rejected + sink_rejected, summary)

    def _settle_rejected(self, rejected: list[RejectedRecord], summary: RunSummary) -> None:
        """Rejected once stored in the dead-letter store; Retryable when the store cannot take them."""
        try:
            self.dead_letter.put(rejected)
        except OSError as exc:  # rejected but not stored: the source must deliver them again
            telemetry.records_retryable(len(rejected), f"dead-letter write failed: {exc.strerror or exc}")
            summary.retryable += len(rejected)
            return
        telemetry.records_rejected(rejected)
        summary.add_rejected(rejected)

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
