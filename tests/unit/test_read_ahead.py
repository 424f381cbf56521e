"""ReadAhead: sources framed on a thread of their own, handed over in order, bounded, stoppable."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from dataclasses import dataclass

import pytest

from ingest.decode.ahead import ReadAhead


@dataclass(frozen=True)
class Source:
    name: str
    pieces: int


def test_every_piece_comes_in_order_after_its_source_starts() -> None:
    sources = [Source("a", 3), Source("b", 0), Source("c", 2)]

    def frame(source: Source) -> Generator[str]:
        yield from (f"{source.name}{i}" for i in range(source.pieces))

    with ReadAhead(sources, frame) as ahead:
        seen = [(s.name, piece) for s, piece in ahead]
    assert seen == [
        ("a", None),
        ("a", "a0"),
        ("a", "a1"),
        ("a", "a2"),
        ("b", None),
        ("c", None),
        ("c", "c0"),
        ("c", "c1"),
    ]


def test_a_skipped_source_is_read_no_further_and_the_next_one_still_comes() -> None:
    produced: list[str] = []

    def frame(source: Source) -> Generator[str]:
        for i in range(source.pieces):
            produced.append(f"{source.name}{i}")
            yield f"{source.name}{i}"

    with ReadAhead([Source("long", 1000), Source("next", 1)], frame, depth=2) as ahead:
        seen = []
        for source, piece in ahead:
            seen.append(piece)
            if piece == "long0":
                ahead.skip(source)
    assert "long5" not in seen
    assert seen[-2:] == [None, "next0"]
    assert len(produced) < 10  # the thread stopped reading it, a few pieces ahead at most


def test_the_thread_runs_at_most_depth_pieces_ahead() -> None:
    produced = 0

    def frame(source: Source) -> Generator[int]:
        nonlocal produced
        for i in range(source.pieces):
            produced += 1
            yield i

    with ReadAhead([Source("a", 100)], frame, depth=3) as ahead:
        pieces = iter(ahead)
        next(pieces)  # the start
        time.sleep(0.3)  # give the thread every chance to run ahead
        assert produced <= 3 + 2  # the queue, plus one piece in hand and the one being put
        assert sum(1 for _ in pieces) == 100


def test_an_error_while_framing_is_raised_in_the_callers_thread() -> None:
    def frame(source: Source) -> Generator[int]:
        yield 1
        raise RuntimeError("framing bug")

    with pytest.raises(RuntimeError, match="framing bug"), ReadAhead([Source("a", 2)], frame) as ahead:
        for _ in ahead:
            pass


def test_leaving_early_stops_the_thread() -> None:
    def frame(source: Source) -> Generator[int]:
        yield from range(source.pieces)

    with ReadAhead([Source("a", 10_000)], frame, depth=1) as ahead:
        for _, piece in ahead:
            if piece == 3:
                break
    assert not any(t.name == "waflens-read-ahead" and t.is_alive() for t in threading.enumerate())


def test_no_source_is_opened_once_start_says_no() -> None:
    opened: list[str] = []

    def frame(source: Source) -> Generator[int]:
        opened.append(source.name)
        yield from range(source.pieces)

    allowed = iter([True, False, False])
    with ReadAhead(
        [Source("a", 1), Source("b", 1), Source("c", 1)], frame, start=lambda: next(allowed)
    ) as ahead:
        seen = [(s.name, piece) for s, piece in ahead]
    assert opened == ["a"]
    assert seen == [("a", None), ("a", 0), ("b", None), ("c", None)]
