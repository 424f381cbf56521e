"""The bytes on the wire: bulk request bodies cut from the NDJSON lines Polars builds.

``enrich.documents.bulk_lines`` writes each document's action line and source; here they are joined
once and sliced into requests of about ``max_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from enrich import schema as S
from enrich.documents import BULK_LINES


@dataclass(frozen=True)
class Chunk:
    """One bulk request: the ids it carries, in order, and its NDJSON body."""

    ids: list[str]
    body: bytes


def bulk_chunks(lines: pl.DataFrame, max_bytes: int) -> list[Chunk]:
    """Bulk request bodies of about ``max_bytes`` each (at most one document more) from ``bulk_lines()``.

    The lines are joined once into one byte string and each body is a slice of it, cut at line ends:
    a group_by joining each chunk measured 0.25 s per 20k documents, this 0.05 s.
    """
    if lines.is_empty():
        return []
    size = pl.col(BULK_LINES).str.len_bytes().cast(pl.Int64)
    bounds = (
        lines.lazy()
        .select(size.cum_sum().alias("_end"), ((size.cum_sum() - size) // max_bytes).alias("_chunk"))
        .with_row_index("_row")
        .group_by("_chunk", maintain_order=True)
        .agg(pl.col("_row").last(), pl.col("_end").last())
        .collect()
    )
    blob: bytes = lines.select(pl.col(BULK_LINES).str.join("").cast(pl.Binary)).item()
    ids = lines[S.DOC_ID].to_list()
    chunks, row, offset = [], 0, 0
    for _, last_row, end in bounds.iter_rows():
        chunks.append(Chunk(ids[row : last_row + 1], blob[offset:end]))
        row, offset = last_row + 1, end
    return chunks
