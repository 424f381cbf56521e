"""What a sink promises: take a batch of enriched rows, say which ids failed and how."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

from ingest.deadline import Deadline


@dataclass
class SinkResult:
    """Per-id outcomes of one ``Sink.write``; ids in neither set were delivered."""

    retryable: set[str] = field(default_factory=set)
    rejected: dict[str, str] = field(default_factory=dict)  # _id -> the sink's reason
    present: set[str] = field(default_factory=set)  # delivered ids the sink already held (a replay)
    retry_reason: str | None = None  # why ids are retryable, for the run's log


class Sink(Protocol):
    """A destination for enriched documents. Writes must be idempotent by ``_id``."""

    name: str
    projection: pl.Schema  # the WAF columns this sink needs decoded (see ``enrich.schema``)

    def write(self, batch: pl.DataFrame, deadline: Deadline) -> SinkResult:
        """Deliver ``batch`` (``enrich.schema.ENRICHED`` columns, restricted to ``projection``).

        No request may outlive ``deadline``: what cannot be written before it is retryable, unsent.
        """
        ...
