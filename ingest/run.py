"""One run: sources → framing → decode → enrich → sinks → one outcome per record → summary."""

from __future__ import annotations

from collections.abc import Collection, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import BinaryIO, Protocol

import polars as pl

from enrich import schema as S
from enrich.config import AccountTags, EnrichConfig, overlay_accounts
from enrich.geo import GeoLookup
from enrich.pipeline import enrich
from enrich.redact import Redaction, redaction_from
from enrich.webacl import webacl_expr
from ingest import telemetry
from ingest.deadline import Deadline
from ingest.decode.ahead import ReadAhead
from ingest.decode.framing import FramedBatch, Framer
from ingest.decode.records import decode
from ingest.outcomes import (
    OUTCOMES,
    Outcome,
    RejectedRecord,
    RunResult,
    SourceEnd,
    SourceStatus,
    classify,
    rejected_rows,
)
from ingest.sinks.base import Sink, SinkResult
from ingest.sinks.deadletter import DeadLetterStore

_DELIVERED, _RETRYABLE, _REJECTED = (
    pl.lit(o.value, OUTCOMES["outcome"]) for o in (Outcome.DELIVERED, Outcome.RETRYABLE, Outcome.REJECTED)
)


class Source(Protocol):
    """Something with a name whose bytes can be streamed; the name keys its records' outcomes."""

    @property
    def name(self) -> str: ...

    def open(self) -> BinaryIO: ...


class AccountDirectory(Protocol):
    """Where account tags come from besides the config file (AWS Organizations); cached by the caller's
    implementation. It must not raise: when it cannot answer, it returns what it has (possibly nothing)."""

    def tags(self, account_ids: Collection[str]) -> Sequence[AccountTags]: ...


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
        accounts: AccountDirectory | None = None,
        geo: GeoLookup | None = None,
    ) -> None:
        if not sinks:
            raise ValueError("a pipeline needs at least one sink")
        self.config = config
        self.sinks = tuple(sinks)
        self.dead_letter = dead_letter
        self.limits = limits
        self.accounts = accounts
        self.geo = geo  # the GeoIP databases [geoip] names, opened by the composition root
        self.redaction: Redaction = redaction_from(config)
        self.projection = projection_for(sinks)

    def run(
        self, sources: Iterable[Source], *, deadline: Deadline | None = None, keep_records: bool = True
    ) -> RunResult:
        """Process every source until ``deadline``; return each record's outcome and the summary.

        Records of several sources share a batch until it is full (``Limits``), so a folder of small
        files or the S3 objects of one SQS batch cost one decode, one enrichment and one write per
        batch rather than per file; each record keeps its source and position for its outcome. A
        source's end is reported once the batch holding its last records has settled.

        With ``keep_records=False`` (a long CLI run) only the summary is kept, folded batch by batch
        from the same outcome rows. A run whose counts do not balance is a bug.
        """
        deadline = deadline or Deadline.never()
        result, kept = RunResult(), []

        def fold(items: Iterable[pl.DataFrame | SourceEnd]) -> set[str]:
            ended = set()
            for item in items:
                if isinstance(item, SourceEnd):
                    result.summary.end(item)
                    result.sources.append(item)
                    ended.add(item.source)
                else:
                    result.summary.add(item)
                    if keep_records:
                        kept.append(item)
            return ended

        shared = _Shared()
        # framing overlaps the batch before; no source is opened once the deadline has come
        with ReadAhead(sources, self._frame_source, start=lambda: not deadline.passed()) as ahead:
            for source, piece in ahead:
                if piece is None:  # the source starts
                    if deadline.passed():
                        ahead.skip(source)
                        fold(self._flush(shared, deadline))
                        fold([SourceEnd(source.name, "unfinished", "the deadline came before it was read")])
                    continue
                if isinstance(piece, SourceEnd):
                    fold(shared.wait(piece))
                    continue
                stopped = False  # a batch holding its records could not be settled: its end is reported
                if len(shared.batch) and not shared.fits(piece, self.limits):
                    stopped = source.name in fold(self._flush(shared, deadline))
                if not stopped:
                    shared.add(source.name, piece)
                    if shared.full(self.limits):
                        stopped = source.name in fold(self._flush(shared, deadline))
                if stopped:
                    ahead.skip(source)  # read no more of it
        fold(self._flush(shared, deadline))
        if kept:
            result.records = pl.concat(kept)
        if not result.summary.balanced:
            telemetry.accounting_error(result.summary)
        telemetry.run_finished(result.summary)
        return result

    def _frame_source(self, source: Source) -> Generator[FramedBatch | SourceEnd]:
        """The source's records in bounded pieces, then how it ended; whatever goes wrong stays inside it."""
        framer = Framer(source.name, max_records=self.limits.batch_records, max_bytes=self.limits.batch_bytes)
        damage_rejected = False  # the record the damage cut short is already a truncated_input reject
        try:
            with source.open() as stream:
                for batch in framer.batches(stream):
                    damage_rejected |= any(r.kind == "truncated_input" for r in batch.rejected)
                    yield batch
        except OSError as exc:
            problem = f"unreadable: {exc.strerror or type(exc).__name__}"
            telemetry.source_warning(source.name, problem)
            yield SourceEnd(source.name, "unreadable", exc.strerror or type(exc).__name__)
            return
        except Exception as exc:  # raised while framing, outside any batch: no record is lost
            reason = telemetry.describe_failure(exc)
            telemetry.source_failed(source.name, reason)
            yield SourceEnd(source.name, "failed", reason)
            return
        if framer.error is None:
            yield SourceEnd(source.name, "complete")
            return
        telemetry.source_warning(source.name, framer.error)
        if not damage_rejected:  # the break fell between records: an entry of its own, counted
            entry = FramedBatch()
            entry.reject(RejectedRecord(source.name, 0, 0, "damaged_input", framer.error, b""))
            yield entry
        yield SourceEnd(source.name, "damaged", framer.error)

    def _flush(self, shared: _Shared, deadline: Deadline) -> Iterator[pl.DataFrame | SourceEnd]:
        """Settle the shared batch: its outcome rows, then the ends of the sources waiting on it.

        When the deadline has come or the batch fails, every record in it is Retryable and each source
        with records in it ends unfinished or failed: the next sources still run.
        """
        batch, names, ends = shared.take()
        if not len(batch):
            yield from ends
            return
        if deadline.passed():
            reason = "the deadline came first"
            yield _settled(batch, _all(batch, Outcome.RETRYABLE, reason))
            yield from _ended(names, ends, "unfinished", "the deadline came before its end")
            return
        try:
            outcomes, documents = self.run_batch(batch, deadline)
        except Exception as exc:  # the failure boundary: the sources of other batches still run
            reason = telemetry.describe_failure(exc)  # the error and where, never content
            yield _settled(batch, _all(batch, Outcome.RETRYABLE, reason))
            for name in names:
                telemetry.source_failed(name, reason)
            yield from _ended(names, ends, "failed", reason)
            return
        yield _settled(batch, outcomes, documents)
        yield from ends

    def run_batch(self, batch: FramedBatch, deadline: Deadline) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Decode, enrich and deliver one batch: one ``OUTCOMES`` row per record in it, and the documents.

        If anything raises, the caller makes every record of the batch Retryable (sinks and the
        dead-letter store are idempotent, so redelivering records that were in fact written converges).
        """
        with telemetry.span("decode"):
            decoded = decode(batch, redaction=self.redaction, projection=self.projection)
        if decoded.frame.height + len(decoded.rejected) != len(batch.texts):
            raise AssertionError("decode lost records")  # a bug, never a data problem
        with telemetry.span("enrich"):
            config = self._config_for(decoded.frame)
            # the streaming engine runs the batch's morsels on every core (half the time on two)
            documents = enrich(decoded.frame.lazy(), config, geo=self.geo).collect(engine="streaming")
        with telemetry.span("deliver"):
            delivered, sink_rejected = self._deliver(documents, deadline)
        outcomes = pl.concat(
            [delivered, self._settle_rejected(batch.rejected + decoded.rejected + sink_rejected)]
        )
        if outcomes.height != len(batch):
            raise AssertionError("a record has no outcome")
        return outcomes, documents

    def _config_for(self, frame: pl.DataFrame) -> EnrichConfig:
        """The config with the directory's tags for this batch's accounts under the file's own entries."""
        if self.accounts is None or frame.is_empty():
            return self.config
        account = webacl_expr(pl.col("webaclId")).struct.field("account_id")
        ids = frame.select(account.drop_nulls().unique())["account_id"].to_list()
        tags = self.accounts.tags(ids) if ids else ()
        return (
            replace(self.config, accounts=overlay_accounts(tags, self.config.accounts))
            if tags
            else self.config
        )

    def _settle_rejected(self, rejected: list[RejectedRecord]) -> pl.DataFrame:
        """Rejected once stored in the dead-letter store; Retryable when the store cannot take them."""
        if not rejected:
            return OUTCOMES.to_frame()
        try:
            self.dead_letter.put(rejected)
        except OSError as exc:  # rejected but not stored: the source must deliver them again
            reason = f"dead-letter write failed: {exc.strerror or type(exc).__name__}"
            return rejected_rows(rejected, Outcome.RETRYABLE).with_columns(
                pl.lit(reason).alias("reason"), pl.lit(None, pl.String).alias("kind")
            )
        return rejected_rows(rejected)

    def _deliver(
        self, documents: pl.DataFrame, deadline: Deadline
    ) -> tuple[pl.DataFrame, list[RejectedRecord]]:
        """Write to every sink; the rows of records delivered or retryable, and those a sink refused.

        ``outcomes.classify`` settles each record some sink did not deliver: usually a handful, at
        worst one batch when a sink fails wholesale, so a loop over those ids costs milliseconds.
        """
        results = [(sink, sink.write(documents, deadline)) for sink in self.sinks]
        troubled = set().union(*(r.retryable | r.rejected.keys() for _, r in results))
        retry, refused = {}, {}
        for doc_id in troubled:
            outcome = classify([_verdict(doc_id, r) for _, r in results])
            if outcome is Outcome.RETRYABLE:
                retry[doc_id] = "; ".join(
                    f"{s.name}: {r.retry_reason}" for s, r in results if doc_id in r.retryable
                )
            elif outcome is Outcome.REJECTED:
                refused[doc_id] = "; ".join(
                    f"{s.name}: {r.rejected[doc_id]}" for s, r in results if doc_id in r.rejected
                )
        present = set().union(*(r.present for _, r in results))
        ids = pl.col(S.DOC_ID)
        rows = documents.select(
            pl.col("source"),
            pl.col("line").cast(pl.Int64),
            pl.col("part").cast(pl.Int64),
            pl.when(ids.is_in(list(retry)))
            .then(_RETRYABLE)
            .when(ids.is_in(list(refused)))
            .then(_REJECTED)
            .otherwise(_DELIVERED)
            .alias("outcome"),
            ids,
            pl.lit(None, pl.String).alias("kind"),
            ids.replace_strict(retry, default=None, return_dtype=pl.String).alias("reason"),
            (ids.is_in(list(present)) | ~ids.is_first_distinct()).alias("replay"),
        )
        rejected = [
            RejectedRecord(source, line, part, "sink_rejected", refused[i], text.encode(), doc_id=i)
            for i, source, line, part, text in documents.filter(ids.is_in(list(refused)))
            .select(S.DOC_ID, "source", "line", "part", S.EVENT_ORIGINAL)
            .iter_rows()
        ]
        return rows.filter(pl.col("outcome") != Outcome.REJECTED.value).with_columns(
            pl.col("replay") & (pl.col("outcome") == Outcome.DELIVERED.value)
        ), rejected


class _Shared:
    """The batch being filled from one or more sources, and the ends of sources that wait on it."""

    def __init__(self) -> None:
        self.batch = FramedBatch()
        self.names: dict[str, None] = {}  # sources with records in the batch, in order
        self.ends: list[SourceEnd] = []  # sources read to their end while the batch was not empty

    def fits(self, piece: FramedBatch, limits: Limits) -> bool:
        """Whether ``piece`` can join without the batch going past its bounds."""
        return (
            len(self.batch) + len(piece) < limits.batch_records
            and self.batch.size + piece.size < limits.batch_bytes
        )

    def full(self, limits: Limits) -> bool:
        return len(self.batch) >= limits.batch_records or self.batch.size >= limits.batch_bytes

    def add(self, source: str, piece: FramedBatch) -> None:
        if len(piece):
            self.batch.extend(piece)
            self.names[source] = None

    def wait(self, end: SourceEnd) -> list[SourceEnd]:
        """Hold ``end`` until the batch settles, in order; an empty batch has nothing to wait for."""
        if not len(self.batch) and not self.ends:
            return [end]
        self.ends.append(end)
        return []

    def take(self) -> tuple[FramedBatch, list[str], list[SourceEnd]]:
        taken = self.batch, list(self.names), self.ends
        self.batch, self.names, self.ends = FramedBatch(), {}, []
        return taken


def _ended(names: list[str], ends: list[SourceEnd], status: SourceStatus, reason: str) -> list[SourceEnd]:
    """The ends of a batch's sources when it could not be settled: those with records in it end ``status``.

    A source still being read (no end yet) gets one here; the run stops reading it.
    """
    involved = set(names)
    waiting = [e if e.source not in involved else SourceEnd(e.source, status, reason) for e in ends]
    reading = [SourceEnd(n, status, reason) for n in names if n not in {e.source for e in ends}]
    return waiting + reading


def _settled(
    batch: FramedBatch, outcomes: pl.DataFrame, documents: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Report one settled batch to telemetry (one log line at most, aggregated metrics) and pass it on."""
    telemetry.batch_settled(outcomes, bytes_in=batch.text_bytes, documents=documents)
    return outcomes


def _verdict(doc_id: str, result: SinkResult) -> Outcome:
    if doc_id in result.retryable:
        return Outcome.RETRYABLE
    return Outcome.REJECTED if doc_id in result.rejected else Outcome.DELIVERED


def _all(batch: FramedBatch, outcome: Outcome, reason: str) -> pl.DataFrame:
    """Every record of ``batch`` with one outcome (a batch that failed, or that the deadline stopped)."""
    rejected = batch.rejected
    n = len(batch)
    return pl.DataFrame(
        {
            "source": batch.sources + [r.source for r in rejected],
            "line": batch.lines + [r.line for r in rejected],
            "part": batch.parts + [r.part for r in rejected],
            "outcome": [outcome.value] * n,
            "_id": [None] * n,
            "kind": [None] * n,
            "reason": [reason] * n,
            "replay": [False] * n,
        },
        schema=OUTCOMES,
    )
