"""An absolute end for a run: a Lambda's remaining time minus a margin, or the CLI's ``--deadline``.

Time is ``time.monotonic``; the pipeline stops starting work once the deadline passes, and sinks cap
every request's timeout by the time left, so no request can outlive the run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


@dataclass(frozen=True)
class Deadline:
    """A point in ``clock`` time after which no new work starts."""

    at: float
    clock: Clock = field(default=time.monotonic, compare=False)

    @classmethod
    def after(cls, seconds: float, clock: Clock = time.monotonic) -> Deadline:
        """``seconds`` from now."""
        return cls(clock() + seconds, clock)

    @classmethod
    def never(cls, clock: Clock = time.monotonic) -> Deadline:
        """No end: every batch runs to completion (the CLI without ``--deadline``)."""
        return cls(math.inf, clock)

    def remaining(self) -> float:
        """Seconds left, never below zero."""
        return max(0.0, self.at - self.clock())

    def passed(self) -> bool:
        """Whether the time is up."""
        return self.clock() >= self.at

    def cap(self, seconds: float) -> float:
        """``seconds`` or the time left, whichever is shorter (a request's timeout)."""
        return min(seconds, self.remaining())

    def sooner(self, seconds: float) -> Deadline:
        """This deadline or ``seconds`` from now, whichever comes first (a batch's retry budget)."""
        return Deadline(min(self.at, self.clock() + seconds), self.clock)
