"""The CLI's progress line: shown on a terminal (or when asked), silent otherwise; retry lines always."""

from __future__ import annotations

import io
import os
import select
import sys
from collections.abc import Iterator

import pytest

from ingest.cli.progress import IngestProgress, Meter, retry_line
from ingest.telemetry import RetryRound


@pytest.fixture
def terminal() -> Iterator[tuple[io.TextIOWrapper, int]]:
    """A pseudo-terminal: the stream a command would write to, and the fd its output is read from."""
    reader, writer = os.openpty()
    stream = open(writer, "w", encoding="utf-8")  # noqa: SIM115  # closed below
    yield stream, reader
    stream.close()
    os.close(reader)


def shown(reader: int) -> str:
    """Everything written so far: a pseudo-terminal hands its output over in pieces, so read until idle."""
    chunks = []
    while select.select([reader], [], [], 0.2)[0]:
        chunks.append(os.read(reader, 65536))
    return b"".join(chunks).decode()


def test_a_terminal_gets_a_count_of_records_megabytes_and_rate(
    terminal: tuple[io.TextIOWrapper, int],
) -> None:
    stream, reader = terminal
    with IngestProgress("auto", stream) as progress:
        progress.batch_settled(20_000, 45_000_000)
        progress.batch_settled(5_000, 11_300_000)
    stream.flush()
    last = shown(reader).replace("\r\n", "\n").split("\r")[-1].strip()
    assert last.startswith("waflens: 25,000 records, 56.3 MB, ")
    assert " records/s, " in last


def test_nothing_is_shown_when_stderr_is_not_a_terminal() -> None:
    stream = io.StringIO()
    with IngestProgress("auto", stream) as progress:
        progress.batch_settled(20_000, 45_000_000)
    assert stream.getvalue() == ""


def test_off_is_silent_even_on_a_terminal(terminal: tuple[io.TextIOWrapper, int]) -> None:
    stream, reader = terminal
    with Meter("objects", "off", stream) as meter:
        meter.add(10, 1_000_000)
        meter.note("waflens: a note")
    stream.flush()
    assert shown(reader).replace("\r\n", "\n") == "waflens: a note\n"


def test_on_shows_the_count_anywhere() -> None:
    stream = io.StringIO()
    with Meter("objects", "on", stream) as meter:
        meter.add(13, 2_500_000)
    assert stream.getvalue().split("\r")[-1].startswith("waflens: 13 objects, 2.5 MB, ")


def test_other_stderr_lines_print_above_the_count_while_it_is_shown() -> None:
    stream, before = io.StringIO(), sys.stderr
    with Meter("records", "on", stream) as meter:
        meter.add(1, 10)
        sys.stderr.write('{"message": "a log line"}\n')
    assert sys.stderr is before  # restored after the block
    lines = stream.getvalue().split("\r")
    assert '{"message": "a log line"}\n' in lines


@pytest.mark.parametrize(
    ("retry", "line"),
    [
        (
            RetryRound("OpenSearch", 2, 37, "429 Too Many Requests", 1.83),
            "waflens: OpenSearch retry round 2: 37 items (429 Too Many Requests), next in 1.8 s",
        ),
        (
            RetryRound("OpenSearch", 1, 1, "413 Content Too Large", 0.0),
            "waflens: OpenSearch retry round 1: 1 item (413 Content Too Large), resent now",
        ),
    ],
)
def test_a_retry_round_is_one_line(retry: RetryRound, line: str) -> None:
    assert retry_line(retry) == line
    stream = io.StringIO()
    with IngestProgress("auto", stream) as progress:
        progress.sink_retrying(retry)
    assert stream.getvalue() == line + "\n"
