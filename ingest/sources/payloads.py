"""Many small payloads read as one source: Firehose records, CloudWatch Logs events.

A Firehose invocation hands over hundreds of records of one WAF log line each. Run one by one, each
would be a batch of one; joined, they are one batch, and each payload starts on a line of its own, so
every outcome row's line says which payload (``recordId``, log event id) it came from.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

import polars as pl


@dataclass(frozen=True)
class Payloads:
    """Payloads joined with newlines; ``starts[i]`` is the first line of ``keys[i]``'s bytes."""

    name: str
    keys: tuple[str, ...]
    starts: tuple[int, ...]
    data: bytes

    @classmethod
    def join(cls, name: str, payloads: Iterable[tuple[str, bytes]]) -> Payloads:
        """``payloads`` as (key, bytes) in order; a payload that does not end a line gets a newline."""
        keys: list[str] = []
        starts: list[int] = []
        parts: list[bytes] = []
        line = 1
        for key, data in payloads:
            ended = data if data.endswith(b"\n") else data + b"\n"
            keys.append(key)
            starts.append(line)
            parts.append(ended)
            line += ended.count(b"\n")
        return cls(name, tuple(keys), tuple(starts), b"".join(parts))

    def open(self) -> BinaryIO:
        """The joined bytes."""
        return io.BytesIO(self.data)

    def with_keys(self, outcomes: pl.DataFrame, column: str = "key") -> pl.DataFrame:
        """``outcomes`` (``OUTCOMES`` rows of this source) with the key of the payload each row came from.

        A row at line 0 (the end of a damaged stream) belongs to no payload: its key is null.
        """
        index = pl.DataFrame(
            {"_start": self.starts, column: self.keys}, schema={"_start": pl.Int64, column: pl.String}
        )
        return (
            outcomes.with_row_index("_order")
            .sort("line")
            .join_asof(index, left_on="line", right_on="_start", strategy="backward")
            .sort("_order")
            .drop("_order", "_start")
        )
