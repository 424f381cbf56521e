"""The Parquet lake: the embedded default sink, and cheap long-term storage, in a local folder or on S3.

Layout: ``<root>/event_date=YYYY-MM-DD/account=<12 digits|unknown>/part-<digest>.parquet``, hive-style,
so Polars, DuckDB, Athena and Spark read it unchanged. Each file holds ``enrich.schema.LAKE_FILE``.
Writes are idempotent by ``_id``: ids already in the partition are dropped before writing, and the file
name is a digest of the ids it holds, so even a crash between two writes converges on a re-run.
Files go through ``storage.Location`` (a ``pyarrow.fs`` filesystem), so the same code writes both places.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from enrich import schema as S
from ingest.deadline import Deadline
from ingest.sinks.base import SinkResult
from ingest.sinks.storage import Location, resolve

if TYPE_CHECKING:
    from polars._typing import ParquetCompression

HIVE_SCHEMA: Final = pl.Schema({S.EVENT_DATE: pl.Date, S.ACCOUNT_PARTITION: pl.String})


def partition_columns() -> list[pl.Expr]:
    """The two partition keys of a row: its UTC event day and its web ACL's account."""
    account = pl.col(S.ENRICHMENT).struct.field("webacl").struct.field("account_id")
    return [
        pl.col(S.TIMESTAMP).dt.strftime("%Y-%m-%d").alias(S.EVENT_DATE),
        account.fill_null(S.UNKNOWN_ACCOUNT).alias(S.ACCOUNT_PARTITION),
    ]


def scan_lake(root: Path) -> pl.LazyFrame:
    """Every event in a local lake, with ``event_date`` and ``account`` from the folder names."""
    return pl.scan_parquet(
        root / "**" / "*.parquet", hive_partitioning=True, hive_schema=HIVE_SCHEMA, missing_columns="insert"
    )


class ParquetLake:
    """A ``Sink`` writing hive-partitioned Parquet under ``location`` (a folder path or ``s3://`` URI)."""

    name = "lake"
    projection = S.WAF_RECORD

    def __init__(
        self, location: Location | str | os.PathLike[str], *, compression: ParquetCompression = "zstd"
    ) -> None:
        if not isinstance(location, Location):
            location = resolve(os.fspath(location), option="lake")
        self.location = location
        self.compression = compression

    def write(self, batch: pl.DataFrame, deadline: Deadline) -> SinkResult:
        """Write the ids the lake does not hold yet; an I/O failure makes the whole batch retryable.

        Partitions the deadline leaves unwritten are retryable (a replay rewrites nothing twice).
        """
        rows = batch.select(*S.LAKE_FILE.names(), *partition_columns())
        written: set[str] = set()
        folder = self.location.base
        try:
            for (day, account), part in rows.group_by(S.EVENT_DATE, S.ACCOUNT_PARTITION):
                if deadline.passed():
                    unsent = set(batch[S.DOC_ID].to_list()) - written
                    return SinkResult(
                        retryable=unsent, retry_reason="the deadline came before the lake write"
                    )
                folder = self.location.join(f"{S.EVENT_DATE}={day}", f"{S.ACCOUNT_PARTITION}={account}")
                written |= self._write_new(folder, part.drop(S.EVENT_DATE, S.ACCOUNT_PARTITION))
        except OSError as exc:  # pyarrow's I/O errors (ArrowIOError) are OSErrors too
            ids = set(batch[S.DOC_ID].to_list())
            return SinkResult(retryable=ids, retry_reason=f"lake write failed: {exc}")
        except (pa.ArrowException, pl.exceptions.PolarsError) as exc:  # an unreadable file in a partition
            ids = set(batch[S.DOC_ID].to_list())
            reason = f"lake write failed: a file in {folder} cannot be read ({type(exc).__name__})"
            return SinkResult(retryable=ids, retry_reason=reason)
        return SinkResult(present=set(batch[S.DOC_ID].to_list()) - written)

    def _write_new(self, folder: str, rows: pl.DataFrame) -> set[str]:
        """Write the rows whose ids the partition lacks (each id once); return the ids written."""
        rows = rows.unique(S.DOC_ID, keep="first", maintain_order=True)
        new = rows.filter(~pl.col(S.DOC_ID).is_in(self._present(folder, rows[S.DOC_ID]).implode()))
        if new.is_empty():
            return set()
        ids = new[S.DOC_ID].to_list()
        digest = hashlib.blake2b("\n".join(sorted(ids)).encode(), digest_size=12)
        # Polars encodes into memory, then one write: 200 ms for 20k records against 340 ms for
        # pyarrow.parquet.write_table, and a failed encode can never leave a partial S3 object behind.
        encoded = io.BytesIO()
        new.sort(S.TIMESTAMP).write_parquet(encoded, compression=self.compression, statistics=True)
        self.location.write_bytes(f"{folder}/part-{digest.hexdigest()}.parquet", encoded.getbuffer())
        return set(ids)

    def _present(self, folder: str, ids: pl.Series) -> pl.Series:
        """Which of ``ids`` the partition already holds, reading only its files' ``_id`` column."""
        files = [path for path in self.location.files(folder) if path.endswith(".parquet")]
        if not files:
            return pl.Series(S.DOC_ID, [], pl.String)
        if self.location.local:
            # Polars reads one column of many wide local files about 5x faster than pyarrow.dataset
            # (22 s against 107-121 s for the checks of a 200k-record run at 2,000 per batch), and
            # without its 140 MB of RSS growth over the run.
            found = (
                pl.scan_parquet(files)
                .select(S.DOC_ID)
                .filter(pl.col(S.DOC_ID).is_in(ids.implode()))
                .collect(engine="streaming")
            )
            return found[S.DOC_ID]
        table = ds.dataset(files, format="parquet", filesystem=self.location.filesystem).to_table(
            columns=[S.DOC_ID], filter=pc.field(S.DOC_ID).isin(ids.to_arrow())
        )
        return pl.Series(S.DOC_ID, table.column(S.DOC_ID), pl.String)
