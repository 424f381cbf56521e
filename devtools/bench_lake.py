"""Lake writes as a partition fills: waflens's write by file name against reading the partition first.

    python -m devtools.bench_lake [--batches N] [--batch-records R]

Writes N batches of R generated records, all in one partition (the same day and account, as a busy
web ACL's day is), first with ``ParquetLake`` (one metadata request per batch: is the file named by
this batch's ids there?), then with the reference a careful engineer would write first: read the
partition's ``_id`` column (pyarrow dataset, filtered) and write only the ids it lacks. Both run on a
local folder in the same process; on S3 each file read is a GET, so the gap only widens. Then it times
a full read of the lake with each ``_id`` once (``scan_lake``) against reading the files as they are.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pyarrow.compute as pc
import pyarrow.dataset as ds

from devtools.frames import enriched
from devtools.generate import iter_records
from enrich import schema as S
from ingest.deadline import Deadline
from ingest.sinks.lake import ParquetLake, scan_lake

DESCRIPTION = "Lake writes as a partition fills: by file name against reading the partition first."


class ReadFirstLake(ParquetLake):
    """The reference: before each write, read which of the batch's ids the partition already holds."""

    def _write_new(self, folder: str, rows: pl.DataFrame) -> set[str]:
        files = [p for p in self.location.files(folder) if p.endswith(".parquet")]
        if files:
            held = ds.dataset(files, format="parquet", filesystem=self.location.filesystem).to_table(
                columns=[S.DOC_ID], filter=pc.field(S.DOC_ID).isin(rows[S.DOC_ID].to_arrow())
            )
            rows = rows.filter(~pl.col(S.DOC_ID).is_in(pl.Series(held.column(S.DOC_ID)).implode()))
        if rows.is_empty():
            return set()
        self.write_partition(folder, rows)
        return set(rows[S.DOC_ID].to_list())


def batches(count: int, size: int) -> list[pl.DataFrame]:
    """``count`` enriched batches of ``size`` records, every record in one partition."""
    records = [r.decode() for r in iter_records(count * size, seed=3)]
    frame = enriched(records)
    one = frame.with_columns(
        pl.col(S.TIMESTAMP).dt.replace(year=2026, month=1, day=5),
        pl.col(S.ENRICHMENT).struct.with_fields(
            pl.field("webacl").struct.with_fields(pl.lit("111122223333").alias("account_id"))
        ),
    )
    return [one.slice(i * size, size) for i in range(count)]


def write_all(lake: ParquetLake, frames: list[pl.DataFrame]) -> tuple[float, float]:
    """Seconds for the first half of the batches and for the second (a fuller partition)."""
    half = len(frames) // 2
    times = []
    for part in (frames[:half], frames[half:]):
        started = time.perf_counter()
        for frame in part:
            assert not lake.write(frame, Deadline.never()).retryable
        times.append(time.perf_counter() - started)
    return times[0], times[1]


def main(argv: Sequence[str] | None = None) -> int:
    """Measure both write paths and the read, print a table, then one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m devtools.bench_lake", description=DESCRIPTION)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-records", type=int, default=100)
    args = parser.parse_args(argv)
    frames = batches(args.batches, args.batch_records)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as work:
        for name, kind in (("waflens", ParquetLake), ("read-first", ReadFirstLake)):
            root = Path(work) / name
            first, second = write_all(kind(root), frames)
            per_batch = (first + second) / len(frames)
            results[name] = {
                "first_half_s": round(first, 3),
                "second_half_s": round(second, 3),
                "ms_per_batch": round(per_batch * 1000, 2),
            }
        root = Path(work) / "waflens"
        for name, once in (("read once per id", True), ("read as stored", False)):
            started = time.perf_counter()
            rows = scan_lake(root, each_id_once=once).select(pl.len()).collect().item()
            results[name] = {"rows": rows, "read_s": round(time.perf_counter() - started, 3)}
    print(f"{'lake write':<14}{'1st half s':>12}{'2nd half s':>12}{'ms/batch':>10}")
    for name in ("waflens", "read-first"):
        r = results[name]
        print(f"{name:<14}{r['first_half_s']:>12}{r['second_half_s']:>12}{r['ms_per_batch']:>10}")
    for name in ("read once per id", "read as stored"):
        print(f"{name:<18}{results[name]['rows']:>8} rows {results[name]['read_s']:>8} s")
    print(json.dumps({"batches": args.batches, "batch_records": args.batch_records, **results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
