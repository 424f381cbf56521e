"""Every input record ends in exactly one outcome; this module names them and counts them."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

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
]


class Outcome(enum.Enum):
    """Where a record ended."""

    DELIVERED = "delivered"  # every sink has it
    RETRYABLE = "retryable"  # a sink failed transiently; the source must deliver it again
    REJECTED = "rejected"  # bad for good; its original bytes and the reason are in the dead-letter store


@dataclass(frozen=True)
class RejectedRecord:
    """A record waflens will not deliver, with the bytes it came as (redacted) and why."""

    source: str
    position: str
    kind: RejectKind
    reason: str
    original: bytes

    def describe(self) -> str:
        """One line naming the source, the position and the problem."""
        return f"{self.source} {self.position}: {self.reason}"


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


@dataclass
class RunSummary:
    """Counts for one run, printed as the CLI's last line and emitted as metrics."""

    records_in: int = 0
    delivered: int = 0
    rejected: int = 0
    retryable: int = 0
    already_present: int = 0  # delivered records the sinks already had (replays)
    rejected_by_kind: Counter[str] = field(default_factory=Counter)
    sources: int = 0
    unreadable: list[str] = field(default_factory=list)  # sources that could not be read: retry them
    failed: list[str] = field(default_factory=list)  # sources an unexpected error stopped: retry them
    damaged: list[str] = field(default_factory=list)  # sources whose bytes break off (one entry each)
    skipped: list[str] = field(default_factory=list)  # files left out when expanding folders, and why

    def add_rejected(self, records: list[RejectedRecord]) -> None:
        """Count rejected records by kind."""
        self.rejected += len(records)
        self.rejected_by_kind.update(r.kind for r in records)

    @property
    def succeeded(self) -> bool:
        """Nothing is left for the source to deliver again."""
        return self.retryable == 0 and not (self.unreadable or self.failed or self.damaged)

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
            "skipped": self.skipped,
        }
