"""Replays never duplicate, and distinct events never collide."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from devtools.generate import write_logs
from enrich import schema as S
from ingest.sinks.compact import compact
from ingest.sinks.lake import ParquetLake, scan_lake
from tests.functional.conftest import Ingest


def files(lake: Path) -> list[str]:
    return sorted(str(p.relative_to(lake)) for p in lake.rglob("*.parquet"))


def test_ingesting_the_same_input_twice_leaves_the_lake_unchanged(ingest: Ingest, tmp_path: Path) -> None:
    logs = tmp_path / "waf.log.gz"
    write_logs(logs, 20_000, seed=11)
    first = ingest([logs], batch_records=4000)
    before = files(tmp_path / "lake")
    second = ingest([logs], batch_records=4000)
    assert (first.delivered, first.already_present) == (20_000, 0)
    assert (second.delivered, second.already_present) == (20_000, 20_000)
    assert files(tmp_path / "lake") == before
    raw = scan_lake(tmp_path / "lake", each_id_once=False).select(S.DOC_ID).collect()
    assert raw.height == raw[S.DOC_ID].n_unique() == 20_000  # 20k distinct events, 20k distinct ids


def test_a_replay_cut_into_other_batches_is_read_once_and_compaction_leaves_one_copy(
    ingest: Ingest, tmp_path: Path
) -> None:
    logs, lake = tmp_path / "waf.log.gz", tmp_path / "lake"
    write_logs(logs, 20_000, seed=11)
    ingest([logs], batch_records=4000)
    ingest([logs], batch_records=7000)  # other batch boundaries: other files, the same events
    assert scan_lake(lake, each_id_once=False).select(pl.len()).collect().item() == 40_000
    assert scan_lake(lake).select(pl.len()).collect().item() == 20_000

    report = compact(ParquetLake(lake))
    assert (report.rows_before, report.rows_after) == (40_000, 20_000)
    assert report.files_after == report.partitions == len({Path(f).parent for f in files(lake)})
    raw = scan_lake(lake, each_id_once=False).select(S.DOC_ID).collect()
    assert raw.height == raw[S.DOC_ID].n_unique() == 20_000
    after = files(lake)
    assert compact(ParquetLake(lake)).partitions == 0  # nothing left to do
    assert files(lake) == after
    assert ingest([logs], batch_records=4000).delivered == 20_000  # a later replay: read once again
    assert scan_lake(lake).select(pl.len()).collect().item() == 20_000


def test_the_same_event_from_two_sources_is_stored_once(ingest: Ingest, tmp_path: Path) -> None:
    plain, packed = tmp_path / "a.log", tmp_path / "b.log.gz"
    write_logs(plain, 300, seed=5)
    write_logs(packed, 300, seed=5)
    summary = ingest([plain, packed])
    assert (summary.delivered, summary.already_present) == (600, 300)
    assert scan_lake(tmp_path / "lake", each_id_once=False).collect().height == 300
