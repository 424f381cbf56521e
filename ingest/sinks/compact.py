"""Lake compaction: each partition's files rewritten as one, each ``_id`` once.

Writers never read a partition (a replay of a batch is found by its file name, a digest of its ids), so
the same event can sit in two files when it arrived in two differently cut batches: the same events in
a Firehose backup and in WAF's own S3 delivery, or a replay with another batch size. Readers through
``scan_lake`` never see those duplicates; compaction removes them from the files themselves, for
engines that read the Parquet directly (Athena, DuckDB, Spark). It is safe beside running writers: a
file written while a partition is compacted is not among those it deletes, and a crash between the
write and the deletes leaves duplicates that the next compaction removes.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from enrich import schema as S
from ingest.sinks.lake import ParquetLake
from ingest.sinks.storage import Location


@dataclass
class CompactReport:
    """What one compaction did."""

    partitions: int = 0  # partitions rewritten
    files_before: int = 0
    files_after: int = 0
    rows_before: int = 0
    rows_after: int = 0  # rows_before - rows_after duplicates removed
    unreadable: list[str] = field(default_factory=list)  # partitions left as they are, and why

    def as_dict(self) -> dict[str, object]:
        """The JSON-ready report."""
        return {
            "partitions": self.partitions,
            "files_before": self.files_before,
            "files_after": self.files_after,
            "rows_before": self.rows_before,
            "rows_after": self.rows_after,
            "duplicates_removed": self.rows_before - self.rows_after,
            "unreadable": self.unreadable,
        }


def partition_files(location: Location) -> dict[str, list[str]]:
    """The lake's Parquet files by partition folder (hidden files and the dead letters left out)."""
    selector = pafs.FileSelector(location.base, recursive=True, allow_not_found=True)
    folders: dict[str, list[str]] = defaultdict(list)
    for info in location.filesystem.get_file_info(selector):
        relative = posixpath.relpath(info.path, location.base)
        hidden = any(part.startswith((".", "_")) for part in relative.split("/"))
        if info.type == pafs.FileType.File and info.path.endswith(".parquet") and not hidden:
            folders[posixpath.dirname(info.path)].append(info.path)
    return {folder: sorted(files) for folder, files in sorted(folders.items())}


def compact(lake: ParquetLake) -> CompactReport:
    """Rewrite every partition that holds more than one file; memory follows the largest partition."""
    location, report = lake.location, CompactReport()
    for folder, files in partition_files(location).items():
        if len(files) < 2:
            continue
        name = posixpath.relpath(folder, location.base)
        try:
            table = ds.dataset(files, format="parquet", filesystem=location.filesystem).to_table()
        except (OSError, pa.ArrowException) as exc:  # a damaged file: the partition stays as it is
            report.unreadable.append(f"{name}: {type(exc).__name__}")
            continue
        rows = pl.from_arrow(table)
        assert isinstance(rows, pl.DataFrame)
        written = lake.write_partition(folder, rows.select(S.LAKE_FILE.names()))
        for path in files:
            if path != written:
                location.filesystem.delete_file(path)
        report.partitions += 1
        report.files_before += len(files)
        report.files_after += 1
        report.rows_before += rows.height
        report.rows_after += rows[S.DOC_ID].n_unique()
    return report
