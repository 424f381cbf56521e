"""Replays never duplicate, and distinct events never collide."""

from __future__ import annotations

from pathlib import Path

from devtools.generate import write_logs
from enrich import schema as S
from ingest.sinks.lake import scan_lake
from tests.functional.conftest import Ingest


def test_ingesting_the_same_input_twice_leaves_the_lake_unchanged(ingest: Ingest, tmp_path: Path) -> None:
    logs = tmp_path / "waf.log.gz"
    write_logs(logs, 20_000, seed=11)

    first = ingest([logs], batch_records=4000)
    files_after_first = sorted(p.name for p in (tmp_path / "lake").rglob("*.parquet"))
    second = ingest([logs], batch_records=7000)  # other batch boundaries: ids, not offsets, decide

    lake = scan_lake(tmp_path / "lake").select(S.DOC_ID).collect()
    assert (first.delivered, first.already_present) == (20_000, 0)
    assert (second.delivered, second.already_present) == (20_000, 20_000)
    assert lake.height == lake[S.DOC_ID].n_unique() == 20_000  # 20k distinct events, 20k distinct ids
    assert sorted(p.name for p in (tmp_path / "lake").rglob("*.parquet")) == files_after_first


def test_the_same_event_from_two_sources_is_stored_once(ingest: Ingest, tmp_path: Path) -> None:
    plain, packed = tmp_path / "a.log", tmp_path / "b.log.gz"
    write_logs(plain, 300, seed=5)
    write_logs(packed, 300, seed=5)
    summary = ingest([plain, packed])
    assert (summary.delivered, summary.already_present) == (600, 300)
    assert scan_lake(tmp_path / "lake").collect().height == 300
