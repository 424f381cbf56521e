"""Progress on stderr while a long command runs, and a line per retry round when a sink is failing.

On a terminal, ``ingest`` and ``backfill`` keep one line up to date (``waflens: 120,000 records, 85.3 MB,
40.1k records/s, 00:03``); elsewhere (a log file, a pipe, CI) they print no progress, unless
``--progress on``. The line is tqdm's: one small dependency-free module that redraws in place, falls back
to plain lines, and lets other lines (``tqdm.write``) print above it without tearing. Only counts reach it,
through ``telemetry.watched_by``: never record content.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from types import TracebackType
from typing import Final, Literal, Self, TextIO, cast, get_args

from tqdm import tqdm
from tqdm.contrib import DummyTqdmFile

from ingest.telemetry import RetryRound

ProgressMode = Literal["auto", "on", "off"]
BAR_FORMAT: Final = "waflens: {n:,}{unit}{postfix}, {rate_fmt}, {elapsed}"
REDRAW_SECONDS: Final = 0.5


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """``--progress auto|on|off`` on a command's parser."""
    parser.add_argument(
        "--progress",
        choices=get_args(ProgressMode),
        default="auto",
        help="a live count, MB and rate on stderr; auto: only when stderr is a terminal",
    )


class Meter:
    """A count of ``unit`` and their megabytes with the rate, redrawn in place; silent when not wanted."""

    def __init__(self, unit: str, mode: ProgressMode, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.shown = mode == "on" or (mode == "auto" and self.stream.isatty())
        self.bytes = 0
        self._redirect = contextlib.ExitStack()
        self._bar = tqdm(
            total=None,
            unit=f" {unit}",
            unit_scale=True,
            file=self.stream,
            disable=not self.shown,
            bar_format=BAR_FORMAT,
            postfix="0.0 MB",
            mininterval=REDRAW_SECONDS,
            smoothing=0,  # the run's average rate: batches arrive in bursts
        )

    def add(self, items: int, nbytes: int) -> None:
        """``items`` more, of ``nbytes`` bytes."""
        self.bytes += nbytes
        self._bar.set_postfix_str(f"{self.bytes / 1e6:.1f} MB", refresh=False)
        self._bar.update(items)

    def note(self, line: str) -> None:
        """A line of its own on the stream (above the count when it is shown), whatever the mode."""
        tqdm.write(line, file=self.stream)

    def close(self) -> None:
        """Draw the count a last time and end its line."""
        self._redirect.close()
        self._bar.close()

    def __enter__(self) -> Self:
        """While the count is shown, other writes to stderr (the JSON logs) print above it, whole."""
        if self.shown:
            self._redirect.enter_context(
                contextlib.redirect_stderr(cast("TextIO", DummyTqdmFile(self.stream)))
            )
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class IngestProgress(Meter):
    """The ``ingest`` command's ``telemetry.Watcher``: records and MB as batches settle, retry rounds."""

    def __init__(self, mode: ProgressMode, stream: TextIO | None = None) -> None:
        super().__init__("records", mode, stream)

    def batch_settled(self, records: int, bytes_in: int) -> None:
        """Count a settled batch."""
        self.add(records, bytes_in)

    def sink_retrying(self, retry: RetryRound) -> None:
        """One line per round, shown even without the count: a failing sink is never silent."""
        self.note(retry_line(retry))


def retry_line(retry: RetryRound) -> str:
    """``waflens: OpenSearch retry round 2: 37 items (429 Too Many Requests), next in 1.8 s``."""
    when = f"next in {retry.wait_seconds:.1f} s" if retry.wait_seconds > 0 else "resent now"
    items = "item" if retry.items == 1 else "items"
    return f"waflens: {retry.sink} retry round {retry.round}: {retry.items} {items} ({retry.why}), {when}"
