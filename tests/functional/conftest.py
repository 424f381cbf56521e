"""Fixtures for tests that run the whole pipeline into a temporary lake."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from enrich.config import EnrichConfig
from enrich.redact import redaction_from
from ingest.outcomes import RunSummary
from ingest.run import Limits, Pipeline
from ingest.sinks.deadletter import FileDeadLetter
from ingest.sinks.lake import ParquetLake
from ingest.sources.local import expand

Ingest = Callable[..., RunSummary]


@pytest.fixture
def ingest(tmp_path: Path) -> Ingest:
    """Run the pipeline on paths into ``tmp_path/lake`` (dead letters in ``tmp_path/dead``)."""

    def run(
        paths: Sequence[Path],
        *,
        config: EnrichConfig | None = None,
        compression: str = "zstd",
        batch_records: int = 20_000,
    ) -> RunSummary:
        config = config or EnrichConfig()
        pipeline = Pipeline(
            config=config,
            sinks=[ParquetLake(tmp_path / "lake", compression=compression)],
            dead_letter=FileDeadLetter(tmp_path / "dead", redaction_from(config)),
            limits=Limits(batch_records=batch_records),
        )
        summary = pipeline.run(expand(paths).sources, keep_records=False).summary
        assert summary.balanced, summary.as_dict()
        return summary

    return run
