"""A sink that keeps its documents for the caller: a Firehose function returns them in its response.

A Firehose data transformation hands its records back to Firehose, which delivers them to its own
destination; the function's response is rendered from what this sink kept during the run. It holds the
columns a response is built from (no copy: Polars shares them with the batch) until ``take``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from enrich import schema as S
from ingest.deadline import Deadline
from ingest.sinks.base import SinkResult

CAPTURED: Final = pl.Schema(
    {name: S.ENRICHED[name] for name in (S.DOC_ID, S.TIMESTAMP, S.ENRICHMENT, S.EVENT_ORIGINAL)}
)


class CaptureSink:
    """A ``Sink`` that delivers by keeping: every document it is given is delivered, and kept."""

    name = "capture"
    projection = S.ENRICH_INPUT

    def __init__(self) -> None:
        self._kept: list[pl.DataFrame] = []

    def write(self, batch: pl.DataFrame, deadline: Deadline) -> SinkResult:
        """Keep ``batch``'s ids, timestamps, enrichment and redacted record text; nothing can fail."""
        self._kept.append(batch.select(CAPTURED.names()))
        return SinkResult()

    def take(self) -> pl.DataFrame:
        """What was kept since the last ``take`` (``CAPTURED``, one row per ``_id``); then forget it."""
        kept, self._kept = self._kept, []
        if not kept:
            return CAPTURED.to_frame()
        return pl.concat(kept).unique(S.DOC_ID, keep="last", maintain_order=True)
