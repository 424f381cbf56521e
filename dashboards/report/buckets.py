"""The report's time grid: fine buckets for the charts, coarse buckets for the top-N lists and the time
filter, both aligned to the epoch so every coarse bucket is a whole number of fine ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import polars as pl

_MINUTE: Final = 60_000
# Bucket sizes in ms; each one divides every larger one that can be chosen with it (checked in ``grid``).
STEPS_MS: Final = tuple(m * _MINUTE for m in (1, 5, 15, 30, 60, 120, 360, 720, 1440, 10080))
# At most this many points per chart line (a 3-day lake: 15-minute buckets, 288 points) ...
MAX_FINE: Final = 300
# ... and at most this many steps of the time filter: top-N cells grow linearly with it (see aggregate.py).
MAX_COARSE: Final = 40


@dataclass(frozen=True)
class Grid:
    """``count`` fine buckets of ``fine_ms`` from ``start`` (epoch ms), grouped ``ratio`` to a coarse one."""

    start_ms: int
    fine_ms: int
    coarse_ms: int
    count: int

    @property
    def ratio(self) -> int:
        """Fine buckets per coarse bucket."""
        return self.coarse_ms // self.fine_ms

    def fine(self, ts: pl.Expr) -> pl.Expr:
        """The fine bucket index of a ``Datetime`` expression."""
        return ((ts.dt.epoch("ms") - self.start_ms) // self.fine_ms).cast(pl.Int32)

    def coarse(self, ts: pl.Expr) -> pl.Expr:
        """The coarse bucket index of a ``Datetime`` expression."""
        return ((ts.dt.epoch("ms") - self.start_ms) // self.coarse_ms).cast(pl.Int32)

    def as_dict(self) -> dict[str, int]:
        """The grid as the page reads it."""
        return {
            "start_ms": self.start_ms,
            "fine_ms": self.fine_ms,
            "coarse_ms": self.coarse_ms,
            "count": self.count,
            "ratio": self.ratio,
        }


def epoch_ms(moment: datetime) -> int:
    """``moment`` (naive means UTC) as epoch milliseconds."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return int(aware.timestamp() * 1000)


def grid(since: datetime, until: datetime) -> Grid:
    """The smallest steps that cover [since, until) in at most MAX_FINE fine and MAX_COARSE coarse buckets."""
    first, last = epoch_ms(since), epoch_ms(until)
    span = max(last - first, 1)
    fine = next((s for s in STEPS_MS if span / s <= MAX_FINE), STEPS_MS[-1])
    coarse = next(
        (s for s in STEPS_MS if s >= fine and s % fine == 0 and span / s <= MAX_COARSE - 1), STEPS_MS[-1]
    )
    start = first - first % coarse
    end = last + (-last) % coarse
    return Grid(start_ms=start, fine_ms=fine, coarse_ms=coarse, count=max((end - start) // fine, 1))
