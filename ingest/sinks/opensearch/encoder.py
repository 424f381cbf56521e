"""The bytes on the wire: bulk request bodies cut from the NDJSON lines Polars builds.

``enrich.documents.bulk_lines`` writes each document's action line and source; here they are sliced
into requests of about ``max_bytes``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from enrich import schema as S
from enrich.documents import BULK_LINES


@dataclass(frozen=True)
class Chunk:
    """One bulk request: the ids it carries, in order, and its NDJSON body."""

    ids: list[str]
    body: bytes


def bulk_chunks(lines: pl.DataFrame, max_bytes: int) -> list[Chunk]:
    """Bulk request bodies of about ``max_bytes`` each (at most one document more) from ``bulk_lines()``.

    A document goes in request ``k`` when its lines start at byte ``k * max_bytes`` or later of the
    whole. As an Arrow large-string array the lines already sit back to back in one buffer, so each
    body is one slice of it, found by bisecting the array's offsets: no join, no copy but the body's.
    """
    if lines.is_empty():
        return []
    texts = lines[BULK_LINES].to_arrow(compat_level=pl.CompatLevel.oldest())
    if not isinstance(texts, pa.LargeStringArray):
        raise TypeError(f"bulk lines exported as {texts.type}, not large_string")
    _, offset_buffer, data = texts.buffers()
    # len(lines) + 1 byte positions in data (int64), after the array's own offset into its buffers
    offsets = memoryview(offset_buffer).cast("q")[texts.offset : texts.offset + len(texts) + 1].tolist()
    ids = lines[S.DOC_ID].to_list()
    chunks, first, n = [], 0, len(ids)
    while first < n:
        request = offsets[first] // max_bytes
        last = bisect.bisect_left(offsets, (request + 1) * max_bytes, first + 1, n)
        chunks.append(Chunk(ids[first:last], data[offsets[first] : offsets[last]].to_pybytes()))
        first = last
    return chunks
