"""The local Parquet lake: the embedded default sink, and cheap long-term storage.

Layout: ``<root>/event_date=YYYY-MM-DD/account=<12 digits|unknown>/part-<digest>.parquet``, hive-style,
so Polars, DuckDB, Athena and Spark read it unchanged. Each file holds ``enrich.schema.LAKE_FILE``.
Writes are idempotent by ``_id``: ids already in the partition are dropped before writing, and the file
name is a digest of the ids it holds, so even a crash between two writes converges on a re-run.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

import polars as pl

from enrich import schema as S
from ingest.deadline import Deadline
from ingest.sinks.base import SinkResult

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
    """Every event in the lake, with ``event_date`` and ``account`` from the folder names."""
    return pl.scan_parquet(
        root / "**" / "*.parquet", hive_partitioning=True, hive_schema=HIVE_SCHEMA, missing_columns="insert"
    )


class ParquetLake:
    """A ``Sink`` writing hive-partitioned Parquet under ``root``."""

    name = "lake"
    projection = S.WAF_RECORD

    def __init__(self, root: Path, *, compression: ParquetCompression = "zstd") -> None:
        self.root = root
        self.compression = compression

    def write(self, batch: pl.DataFrame, deadline: Deadline) -> SinkResult:
        """Write the ids the lake does not hold yet; an I/O failure makes the whole batch retryable.

        Partitions the deadline leaves unwritten are retryable (a replay rewrites nothing twice).
        """
        rows = batch.select(*S.LAKE_FILE.names(), *partition_columns())
        written: set[str] = set()
        folder = self.root
        try:
            for (day, account), part in rows.group_by(S.EVENT_DATE, S.ACCOUNT_PARTITION):
                if deadline.passed():
                    unsent = set(batch[S.DOC_ID].to_list()) - written
                    return SinkResult(
                        retryable=unsent, retry_reason="the deadline came before the lake write"
                    )
                folder = self.root / f"{S.EVENT_DATE}={day}" / f"{S.ACCOUNT_PARTITION}={account}"
                written |= self._write_new(folder, part.drop(S.EVENT_DATE, S.ACCOUNT_PARTITION))
        except OSError as exc:
            ids = set(batch[S.DOC_ID].to_list())
            return SinkResult(retryable=ids, retry_reason=f"lake write failed: {exc}")
        except pl.exceptions.PolarsError as exc:  # an unreadable file already in a partition
            ids = set(batch[S.DOC_ID].to_list())
            reason = f"lake write failed: a file in {folder} cannot be read ({type(exc).__name__})"
            return SinkResult(retryable=ids, retry_reason=reason)
        return SinkResult(present=set(batch[S.DOC_ID].to_list()) - written)

    def _write_new(self, folder: Path, rows: pl.DataFrame) -> set[str]:
        """Write the rows whose ids the partition lacks (each id once); return the ids written."""
        rows = rows.unique(S.DOC_ID, keep="first", maintain_order=True)
        new = rows.filter(~pl.col(S.DOC_ID).is_in(self._present(folder, rows[S.DOC_ID]).implode()))
        if new.is_empty():
            return set()
        ids = new[S.DOC_ID].to_list()
        digest = hashlib.blake2b("\n".join(sorted(ids)).encode(), digest_size=12)
        target = folder / f"part-{digest.hexdigest()}.parquet"
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{target.name}.tmp"  # hidden from readers until complete
        new.sort(S.TIMESTAMP).write_parquet(temporary, compression=self.compression, statistics=True)
        os.replace(temporary, target)
        return set(ids)

    def _present(self, folder: Path, ids: pl.Series) -> pl.Series:
        """Which of ``ids`` the partition already holds, scanning only its ``_id`` column in streaming."""
        files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        if not files:
            return pl.Series(S.DOC_ID, [], pl.String)
        found = (
            pl.scan_parquet(files)
            .select(S.DOC_ID)
            .filter(pl.col(S.DOC_ID).is_in(ids.implode()))
            .collect(engine="streaming")
        )
        return found[S.DOC_ID]
