"""Framing as a property: how the bytes arrive (block size, gzip members) never changes what is framed,
and every byte that is not blank ends in a record or in a rejected record's original."""

from __future__ import annotations

import gzip
import io
import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.decode.framing import FramedBatch, Framer

# brackets, commas and quotes inside strings are what could fool a framer; é — 🙂 are multi-byte
_CHARS = st.sampled_from(list('ab {}[],:"\\é—🙂\t/'))
_RECORDS = st.fixed_dictionaries(
    {
        "timestamp": st.integers(0, 2**53),
        "webaclId": st.text(_CHARS, max_size=6),
        "headers": st.lists(st.fixed_dictionaries({"name": st.text(_CHARS, max_size=4)}), max_size=3),
    },
    optional={"nested": st.fixed_dictionaries({"x": st.lists(st.integers(), max_size=2)})},
)
_SEPARATORS = st.sampled_from(["", " ", "  ", "\t", ",", " , ", ",,"])
_GARBAGE = st.sampled_from(["garbage", "[1, 2]", "not json, at all", '{"broken": ', "}", "42", '"text"'])


def _compact(record: dict[str, object]) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


Piece = tuple[str, list[dict[str, object]]]  # its text, and the records in it


@st.composite
def _pieces(draw: st.DrawFn, *, garbage: bool = True) -> Piece:
    """One of: an NDJSON line, objects on one line, a pretty-printed record, a blank or a garbage line."""
    kinds = ["ndjson", "one-line", "pretty", "blank"] + (["garbage"] if garbage else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "ndjson":
        record = draw(_RECORDS)
        return _compact(record), [record]
    if kind == "one-line":
        records = draw(st.lists(_RECORDS, min_size=2, max_size=3))
        return draw(_SEPARATORS).join(_compact(r) for r in records), records
    if kind == "pretty":  # indent=0 puts nested objects' "{" at column 0
        record = draw(_RECORDS)
        return json.dumps(record, indent=draw(st.sampled_from([0, 1, 2])), ensure_ascii=False), [record]
    if kind == "blank":
        return draw(st.sampled_from(["", " ", "\t"])), []
    return draw(_GARBAGE), []


@st.composite
def _inputs(draw: st.DrawFn, *, garbage: bool = True) -> tuple[bytes, list[dict[str, object]]]:
    """An input of several pieces, and the records in it (all of them only when there is no garbage)."""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    pieces = draw(st.lists(_pieces(garbage=garbage), max_size=8))
    text = newline.join(t for t, _ in pieces) + (newline if draw(st.booleans()) else "")
    return text.encode(), [r for _, records in pieces for r in records]


def _frame(data: bytes, read_size: int) -> list[FramedBatch]:
    framer = Framer("src", max_records=5, max_bytes=1 << 20, read_size=read_size)
    return list(framer.batches(io.BytesIO(data)))


def _outcome(batches: list[FramedBatch]) -> tuple[list[tuple[bytes, int, int]], list[tuple[str, str, bytes]]]:
    records = [
        (t, line, part) for b in batches for t, line, part in zip(b.texts, b.lines, b.parts, strict=True)
    ]
    rejects: list[tuple[str, str, bytes]] = [
        (r.kind, r.position, r.original) for b in batches for r in b.rejected
    ]
    return records, rejects


def _gzip(data: bytes, split: int) -> bytes:
    """``data`` gzipped as two members split at ``split`` (as bgzip or ``cat a.gz b.gz`` would)."""
    cut = min(split, len(data))
    return gzip.compress(data[:cut], mtime=0) + gzip.compress(data[cut:], mtime=0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(given=_inputs(), read_size=st.integers(1, 64), compressed=st.booleans(), split=st.integers(0, 400))
def test_how_the_bytes_arrive_never_changes_what_is_framed(
    given: tuple[bytes, list[dict[str, object]]], read_size: int, compressed: bool, split: int
) -> None:
    data, _ = given
    whole = _outcome(_frame(data, len(data) + 1))
    arriving = _outcome(_frame(_gzip(data, split) if compressed else data, read_size))
    assert arriving == whole
    assert [json.loads(t) for t, _, _ in arriving[0]] == [json.loads(t) for t, _, _ in whole[0]]


@settings(max_examples=150, deadline=None)
@given(given=_inputs(garbage=False), read_size=st.integers(1, 64))
def test_without_garbage_the_records_that_went_in_come_out_and_nothing_is_rejected(
    given: tuple[bytes, list[dict[str, object]]], read_size: int
) -> None:
    data, records = given
    framed, rejects = _outcome(_frame(data, read_size))
    assert [json.loads(t) for t, _, _ in framed] == records
    assert rejects == []


@settings(max_examples=150, deadline=None)
@given(given=_inputs())
def test_every_byte_that_is_not_blank_is_in_a_record_or_a_rejected_original(
    given: tuple[bytes, list[dict[str, object]]],
) -> None:
    data, _ = given
    records, rejects = _outcome(_frame(data, 16))
    # in input order: objects on a line by their number; a rejection without one ends its first line
    placed: list[tuple[tuple[int, float], bytes]] = [((line, part), text) for text, line, part in records]
    placed += [(_place(position), original) for _, position, original in rejects]
    framed = b"".join(_squeeze(text) for _, text in sorted(placed, key=lambda p: p[0]))
    assert _in_order_but_for_separators(_squeeze(data), framed)


def _place(position: str) -> tuple[int, float]:
    """``line 4, object 2`` → (4, 2); ``line 4`` or ``lines 4-6`` → (4, ∞)."""
    where, _, part = position.partition(", object ")
    first = where.split()[-1].split("-")[0]
    return int(first), float(part) if part else math.inf


def _squeeze(text: bytes) -> bytes:
    return bytes(b for b in text if b not in b" \t\r\n")


def _in_order_but_for_separators(data: bytes, framed: bytes) -> bool:
    """``framed`` is ``data`` with only commas (separators between objects) left out."""
    at = 0
    for byte in data:
        if at < len(framed) and framed[at] == byte:
            at += 1
        elif byte != ord(","):
            return False
    return at == len(framed)
