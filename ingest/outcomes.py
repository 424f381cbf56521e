"""Every input record ends in exactly one outcome, keyed by where its source handed it over.

A batch settles into an ``OUTCOMES`` frame: one row per input record with its source, line and object
(the file line; a Firehose record or an S3 object is a source of its own), its outcome, its document
``_id`` and, when it is not delivered, the reason. The run summary is folded from those rows, and each
source's contract (Firehose results, SQS batch failures, exit codes) is rendered from them.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

import polars as pl

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

RejectKind = Literal[
    "invalid_json",  # not parseable as JSON at all
    "invalid_utf8",  # bytes that are not UTF-8 text
    "not_an_object",  # valid JSON, but not a JSON object
    "missing_field",  # a required WAF field is absent or null
    "invalid_field",  # a required field is present with an unusable value
    "reserved_field",  # the record already carries a field waflens adds
    "truncated_input",  # the stream ended mid-record (truncated gzip, cut object)
    "oversize",  # a record larger than any WAF record can be (bytes, or headers)
    "too_deep",  # nested deeper than any WAF record (enrich.redact.MAX_DEPTH)
    "sink_rejected",  # a sink refused the document for good (an OpenSearch mapping error)
    "damaged_input",  # a source's bytes break off (corrupt or truncated gzip): what follows is lost
    "missing_object",  # an announced S3 object that no longer exists: nothing of it can be read
]


class Outcome(enum.Enum):
    """Where a record ended."""

    DELIVERED = "delivered"  # every sink has it
    RETRYABLE = "retryable"  # a sink failed transiently; the source must deliver it again
    REJECTED = "rejected"  # bad for good; its original bytes and the reason are in the dead-letter store


OUTCOME_DTYPE: Final = pl.Enum([o.value for o in Outcome])
_OUTCOME_FIELDS: dict[str, PolarsDataType] = {
    "source": pl.String,
    "line": pl.Int64,  # 1-based line where the record starts (0: the end of a damaged source)
    "part": pl.Int64,  # 0: the whole line; k: the k-th object on that line
    "outcome": OUTCOME_DTYPE,
    "_id": pl.String,  # the document id; null for a record that never decoded
    "kind": pl.String,  # a RejectKind when rejected
    "reason": pl.String,  # why it is rejected or retryable; never record content
    "replay": pl.Boolean,  # delivered, and some sink already held it
}
OUTCOMES: Final = pl.Schema(_OUTCOME_FIELDS)


@dataclass(frozen=True)
class RejectedRecord:
    """A record waflens will not deliver, with the bytes it came as (redacted) and why."""

    source: str
    line: int
    part: int
    kind: RejectKind
    reason: str
    original: bytes
    last_line: int = 0  # a rejected region spanning lines ends here (0: one line)
    doc_id: str | None = None  # the document a sink refused; None for a record that never decoded

    @property
    def position(self) -> str:
        """``line 12``, ``line 4, object 2``, ``lines 3-7``, ``end of data`` or ``whole object``."""
        if self.kind == "damaged_input":
            return "end of data"
        if self.kind == "missing_object":
            return "whole object"
        if self.last_line > self.line:
            return f"lines {self.line}-{self.last_line}"
        return position(self.line, self.part)

    def describe(self) -> str:
        """One line naming the source, the position and the problem."""
        return f"{self.source} {self.position}: {self.reason}"


def position(line: int, part: int = 0) -> str:
    """How a record's place in its source is written in reasons: ``line 12`` or ``line 4, object 2``."""
    return f"line {line}" if part == 0 else f"line {line}, object {part}"


def rejected_rows(records: list[RejectedRecord], outcome: Outcome = Outcome.REJECTED) -> pl.DataFrame:
    """``OUTCOMES`` rows for rejected records (or retryable ones, when the store could not keep them)."""
    return pl.DataFrame(
        {
            "source": [r.source for r in records],
            "line": [r.line for r in records],
            "part": [r.part for r in records],
            "outcome": [outcome.value] * len(records),
            "_id": [r.doc_id for r in records],
            "kind": [r.kind for r in records],
            "reason": [r.reason for r in records],
            "replay": [False] * len(records),
        },
        schema=OUTCOMES,
    )


def classify(per_sink: list[Outcome]) -> Outcome:
    """The single outcome of a record that went to several sinks.

    Retryable wins: the source redelivers, and sinks are idempotent by ``_id``, so the sinks that already
    have the record are not harmed. Otherwise one refusal makes the record Rejected (dead-lettered with
    the sink's reason); only a record every sink accepted is Delivered.
    """
    if Outcome.RETRYABLE in per_sink:
        return Outcome.RETRYABLE
    if Outcome.REJECTED in per_sink:
        return Outcome.REJECTED
    return Outcome.DELIVERED


SourceStatus = Literal[
    "complete",  # read to the end; its records' outcomes say the rest
    "unreadable",  # could not be opened or read: deliver it again
    "failed",  # an unexpected error stopped it: deliver it again
    "damaged",  # its bytes break off; what was readable is settled, one dead-letter entry names the break
    "unfinished",  # the deadline came first (not started, or stopped between batches): deliver it again
]


@dataclass(frozen=True)
class SourceEnd:
    """How one source ended, beyond its records' outcomes."""

    source: str
    status: SourceStatus
    problem: str | None = None

    @property
    def redeliver(self) -> bool:
        """Whether the source must hand its data over again (sinks are idempotent, so that is safe)."""
        return self.status in ("unreadable", "failed", "unfinished")


@dataclass
class RunSummary:
    """Counts for one run, folded from the outcome rows; printed as the CLI's last line."""

    records_in: int = 0
    delivered: int = 0
    rejected: int = 0
    retryable: int = 0
    already_present: int = 0  # delivered records some sink already held (replays)
    rejected_by_kind: Counter[str] = field(default_factory=Counter)
    sources: int = 0
    unreadable: list[str] = field(default_factory=list)  # sources that could not be read: retry them
    failed: list[str] = field(default_factory=list)  # sources an unexpected error stopped: retry them
    damaged: list[str] = field(default_factory=list)  # sources whose bytes break off (one entry each)
    unfinished: list[str] = field(default_factory=list)  # sources the deadline cut short: retry them
    skipped: list[str] = field(default_factory=list)  # files left out when expanding folders, and why

    def add(self, outcomes: pl.DataFrame) -> None:
        """Fold one batch's ``OUTCOMES`` rows into the counts."""
        by_outcome = dict(outcomes["outcome"].value_counts().iter_rows())
        self.records_in += outcomes.height
        self.delivered += by_outcome.get(Outcome.DELIVERED.value, 0)
        self.rejected += by_outcome.get(Outcome.REJECTED.value, 0)
        self.retryable += by_outcome.get(Outcome.RETRYABLE.value, 0)
        self.already_present += outcomes.filter(
            pl.col("replay") & (pl.col("outcome") == Outcome.DELIVERED.value)
        ).height
        rejected = outcomes.filter(pl.col("outcome") == Outcome.REJECTED.value)
        self.rejected_by_kind.update(dict(rejected["kind"].value_counts().iter_rows()))

    def end(self, end: SourceEnd) -> None:
        """Count one source and list it when it did not end cleanly."""
        self.sources += 1
        if end.status != "complete":
            getattr(self, end.status).append(f"{end.source}: {end.problem}")

    @property
    def succeeded(self) -> bool:
        """Nothing is left for the source to deliver again."""
        return self.retryable == 0 and not (self.unreadable or self.failed or self.damaged or self.unfinished)

    @property
    def balanced(self) -> bool:
        """Every record counted in exactly one outcome."""
        return self.records_in == self.delivered + self.rejected + self.retryable

    def as_dict(self) -> dict[str, object]:
        """The JSON-ready summary."""
        return {
            "records_in": self.records_in,
            "delivered": self.delivered,
            "rejected": self.rejected,
            "retryable": self.retryable,
            "already_present": self.already_present,
            "rejected_by_kind": dict(sorted(self.rejected_by_kind.items())),
            "sources": self.sources,
            "unreadable": self.unreadable,
            "failed": self.failed,
            "damaged": self.damaged,
            "unfinished": self.unfinished,
            "skipped": self.skipped,
        }


@dataclass
class RunResult:
    """What a run hands back: the summary, how each source ended and, when kept, every record's outcome."""

    summary: RunSummary = field(default_factory=RunSummary)
    sources: list[SourceEnd] = field(default_factory=list)
    records: pl.DataFrame = field(default_factory=OUTCOMES.to_frame)

    def of(self, source: str) -> pl.DataFrame:
        """The outcome rows of one source, in input order."""
        return self.records.filter(pl.col("source") == source).sort("line", "part")
