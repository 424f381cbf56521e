"""Frames for tests of later stages: ``enriched`` (from devtools) and the documents the sink sends."""

from __future__ import annotations

import orjson
import polars as pl

from devtools.frames import enriched
from enrich.documents import bulk_lines

__all__ = ["documents_by_id", "enriched"]


def documents_by_id(frame: pl.DataFrame) -> dict[str, tuple[str, dict[str, object]]]:
    """``_id`` -> (``_index``, parsed document), read back from the bulk lines the sink sends."""
    out: dict[str, tuple[str, dict[str, object]]] = {}
    for doc_id, lines in bulk_lines(frame.lazy()).collect().iter_rows():
        action, document, _ = lines.split("\n")  # not splitlines(): U+2028 may sit raw inside a JSON string
        out[doc_id] = (orjson.loads(action)["index"]["_index"], orjson.loads(document))
    return out
