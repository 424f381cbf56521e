"""Framing: bytes of a log object become record texts, whatever the framing; garbage is rejected."""

from __future__ import annotations

import codecs
import gzip
import io
import json
import struct
import zlib
from collections.abc import Iterator

import pytest

from ingest.decode.framing import MAX_RECORD_BYTES, READ_SIZE, FramedBatch, Framer
from ingest.decode.inflate import Blocks
from ingest.decode.jsonscan import MAX_DEPTH, one_object
from ingest.outcomes import RejectedRecord

RECORD = '{"timestamp":1,"webaclId":"w","action":"ALLOW","httpRequest":{"uri":"/a\\/b"}}'
# a record as WAF writes them: arrays of objects, so "},{" inside one record is normal
HEADERS = '{"timestamp":2,"webaclId":"w","httpRequest":{"headers":[{"name":"a","value":"1"},{"name":"b"}]}}'
MIB = 1 << 20


def frame(
    data: bytes,
    *,
    max_records: int = 1000,
    read_size: int = 1 << 20,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> tuple[list[FramedBatch], Framer]:
    framer = Framer(
        "src",
        max_records=max_records,
        max_bytes=1 << 30,
        read_size=read_size,
        max_record_bytes=max_record_bytes,
    )
    return list(framer.batches(io.BytesIO(data))), framer


def texts(batches: list[FramedBatch]) -> list[str]:
    return [t.decode() for b in batches for t in b.texts]


def refused(batches: list[FramedBatch]) -> list[RejectedRecord]:
    return [r for b in batches for r in b.rejected]


def rejected(batches: list[FramedBatch]) -> list[str]:
    return [r.describe() for r in refused(batches)]


def nested(depth: int) -> str:
    """A valid record whose ``deep`` member makes the whole record ``depth`` levels deep."""
    return '{"timestamp":1,"deep":' + '{"a":' * (depth - 2) + "{}" + "}" * (depth - 2) + "}"


# --- framings that hold records -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(f"{RECORD}\n{RECORD}\n", 2, id="ndjson"),
        pytest.param(f"{RECORD}\r\n{RECORD}\r\n", 2, id="crlf"),
        pytest.param(f"{RECORD}\n{RECORD}", 2, id="no-final-newline"),
        pytest.param(f"{RECORD}{RECORD}{RECORD}\n", 3, id="concatenated"),
        pytest.param(f"{RECORD} {RECORD}\n\n\n{RECORD}", 3, id="concatenated-with-space-and-blank-lines"),
        pytest.param(
            '{\n  "timestamp": 1,\n  "headers": [\n{"name":"a"}\n]\n}\n' + RECORD, 2, id="pretty-printed"
        ),
    ],
)
def test_every_framing_yields_each_record_once(data: str, expected: int) -> None:
    batches, framer = frame(data.encode())
    assert len(texts(batches)) == expected
    assert rejected(batches) == []
    assert framer.error is None
    assert all(t.startswith("{") for t in texts(batches))
    assert all(t.endswith("}") for t in texts(batches))


@pytest.mark.parametrize("separator", [",", "  ", "\t", " , ", ",,", "\t,\t"])
def test_objects_on_one_line_separated_by_whitespace_or_commas_are_separate_records(separator: str) -> None:
    batches, framer = frame(f"{HEADERS}{separator}{RECORD}\n{RECORD}\n".encode())
    assert texts(batches) == [HEADERS, RECORD, RECORD]
    assert [(b.lines, b.parts) for b in batches] == [([1, 1, 2], [1, 2, 0])]
    assert rejected(batches) == []
    assert framer.error is None


def test_a_record_whose_arrays_hold_objects_stays_one_record() -> None:
    batches, _ = frame(f"{HEADERS}\n{HEADERS},\n".encode())
    assert texts(batches) == [HEADERS, HEADERS]
    assert rejected(batches) == []


def test_braces_inside_strings_neither_hide_nor_fake_a_second_object() -> None:
    first, second = '{"uri":"/a{","q":"\\"}"}', '{"uri":"}/b","h":[{"v":"}{"}]}'
    batches, _ = frame(f"{first},{second}\n{second}\n".encode())
    assert texts(batches) == [first, second, second]
    assert [p for b in batches for p in b.parts] == [1, 2, 0]


@pytest.mark.parametrize(
    ("line", "one"),
    [
        (HEADERS, True),
        ('{"a":"}{"}', True),
        ('{"a":"\\"},{\\""}', True),
        ('{"a":"\\\\"}', True),
        ('{"a":1},{"b":2}', False),
        ('{"u":"{"},{"v":"}"}', False),
        ('{"a":"\\"{"},{"b":"}\\""}', False),  # read without its escapes, this is one object
        ('{"a":1}{"b":2}', False),
        ('{"a":1} x', False),
        ('[{"a":1}]', False),
        ('{"a":"}', False),
        (nested(MAX_DEPTH // 2), True),
        (nested(MAX_DEPTH + 1), False),
    ],
)
def test_one_object_reads_a_lines_brackets_outside_its_strings(line: str, one: bool) -> None:
    assert one_object(line.encode()) is one


def test_a_top_level_array_of_records_is_one_not_an_object_rejection() -> None:
    batches, _ = frame(f"[ {RECORD}, {RECORD} ]\n{RECORD}\n".encode())
    assert texts(batches) == [RECORD]
    assert rejected(batches) == ["src line 1: a JSON list, not a WAF record object"]


def test_gzip_is_sniffed_not_guessed_and_members_concatenate() -> None:
    data = gzip.compress(f"{RECORD}\n".encode()) + gzip.compress(f"{RECORD}\n{RECORD}\n".encode())
    batches, framer = frame(data)
    assert texts(batches) == [RECORD] * 3
    assert framer.error is None


@pytest.mark.parametrize("read_size", [1, 3, 4096])
def test_plain_bytes_after_a_gzip_stream_are_records_and_a_later_member_is_inflated(read_size: int) -> None:
    data = gzip.compress(f"{RECORD}\n".encode()) + f"{HEADERS}\n".encode() + gzip.compress(b"{}\n")
    batches, framer = frame(data, read_size=read_size)
    assert texts(batches) == [RECORD, HEADERS, "{}"]
    assert framer.error is None


# --- damaged input --------------------------------------------------------------------------------


def test_truncated_gzip_keeps_complete_records_and_rejects_the_partial_one() -> None:
    whole = gzip.compress("".join(f'{RECORD[:-1]},"n":{i}}}\n' for i in range(2000)).encode())
    cut = whole[: len(whole) // 2]
    batches, framer = frame(cut)
    delivered, refusals = texts(batches), refused(batches)
    assert 0 < len(delivered) < 2000
    assert framer.error is not None
    assert "truncated" in framer.error
    assert f"offset {len(cut)}" in framer.error
    assert len(refusals) <= 1
    assert all(r.kind == "truncated_input" and "truncated" in r.reason for r in refusals)


def test_corrupt_gzip_keeps_what_came_before_and_names_the_compressed_offset_of_the_damage() -> None:
    head = "".join(f'{RECORD[:-1]},"n":{i}}}\n' for i in range(300)).encode()
    partial = RECORD[:30].encode()
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    # a full flush ends the good part on a byte boundary; 0xff there is a reserved block type
    good = compressor.compress(head + partial) + compressor.flush(zlib.Z_FULL_FLUSH)
    after = compressor.compress(head) + compressor.flush()
    batches, framer = frame(good + b"\xff" * 64 + after[64:], read_size=4096)
    assert len(texts(batches)) == 300
    assert framer.error is not None
    assert f"damaged at offset {len(good)} of the compressed input" in framer.error
    [partial_record] = refused(batches)
    assert partial_record.kind == "truncated_input"
    assert partial_record.original == partial
    assert f"offset {len(good)}" in partial_record.reason


def test_invalid_utf8_line_is_rejected_alone_with_its_bytes() -> None:
    data = f"{RECORD}\n".encode() + b'{"bad":"\xff\xfe"}\n' + f"{RECORD}\n".encode()
    batches, _ = frame(data)
    assert len(texts(batches)) == 2
    assert [(r.kind, r.position, r.original) for r in refused(batches)] == [
        ("invalid_utf8", "line 2", b'{"bad":"\xff\xfe"}')
    ]


def test_garbage_is_rejected_up_to_the_next_record_and_nothing_after_is_lost() -> None:
    data = f'{RECORD}\n{{"broken": [1,2\nmore garbage\n{RECORD}\n'.encode()
    batches, _ = frame(data)
    assert len(texts(batches)) == 2
    [garbage] = refused(batches)
    assert garbage.position == "lines 2-3"
    assert garbage.original == b'{"broken": [1,2\nmore garbage'
    assert garbage.reason.startswith("invalid JSON:")


@pytest.mark.parametrize("read_size", [5, 4096])
def test_a_record_cut_short_does_not_take_the_record_on_the_next_line_with_it(read_size: int) -> None:
    batches, _ = frame(f'{{"timestamp":1,"uri":"/cut\n{RECORD}\n'.encode(), read_size=read_size)
    assert texts(batches) == [RECORD]
    assert [(r.kind, r.position, r.original) for r in refused(batches)] == [
        ("invalid_json", "line 1", b'{"timestamp":1,"uri":"/cut')
    ]


def test_a_json_value_that_is_not_an_object_is_rejected() -> None:
    batches, _ = frame(f"[1,2]\n{RECORD}\n".encode())
    assert rejected(batches) == ["src line 1: a JSON list, not a WAF record object"]


def test_bytes_that_are_not_utf8_inside_concatenated_records_reject_only_that_record() -> None:
    bad = b'{"uri":"\xff"}'
    batches, _ = frame(RECORD.encode() + bad + RECORD.encode() + b"\n")
    assert texts(batches) == [RECORD, RECORD]
    assert [(r.kind, r.position, r.original) for r in refused(batches)] == [
        ("invalid_utf8", "line 1, object 2", bad)
    ]


def test_a_reason_names_the_problem_and_place_but_never_the_input() -> None:
    secret = "hx0123456789abcdef"
    data = "\n".join(
        [
            f'["{secret}"]',  # not an object
            f'{{"token":"{secret}"',  # cut short
            nested(MAX_DEPTH + 1).replace("{}", f'{{"t":"{secret}"}}'),  # too deep
            f'{{"token":"{secret}","pad":"{"p" * 2000}"}}',  # too large
            f"garbage {secret}",
            RECORD,
        ]
    )
    batches, _ = frame(data.encode(), max_record_bytes=1000)
    assert {r.kind for r in refused(batches)} == {"invalid_json", "not_an_object", "too_deep", "oversize"}
    assert all(secret not in r.reason and secret not in r.position for r in refused(batches))


# --- size ---------------------------------------------------------------------------------------


def test_batches_are_bounded_by_record_count() -> None:
    batches, _ = frame((f"{RECORD}\n" * 2500).encode(), max_records=1000, read_size=4096)
    assert sum(len(b.texts) for b in batches) == 2500
    assert max(len(b.texts) for b in batches) <= 1000 + 4096 // len(RECORD) + 1


def test_batches_are_bounded_by_count_when_every_line_is_rejected() -> None:
    batches, _ = frame(b"[1]\n" * 2500, max_records=1000, read_size=4096)
    assert sum(len(b.rejected) for b in batches) == 2500
    assert max(len(b) for b in batches) <= 1000 + 4096 // 4


@pytest.mark.parametrize("read_size", [7, 64, 333])
def test_records_split_across_read_blocks_are_reassembled(read_size: int) -> None:
    pretty = '{\n "timestamp": 1,\n "webaclId": "é—x"\n}\n'
    data = f"{RECORD}\n{RECORD}{RECORD}\n{pretty}".encode() * 5
    batches, framer = frame(data, read_size=read_size)
    assert rejected(batches) == []
    assert texts(batches) == [RECORD, RECORD, RECORD, pretty.strip()] * 5
    assert framer.error is None


@pytest.mark.parametrize("separator", ["", ",", " "])
def test_one_line_of_concatenated_records_longer_than_the_cap_is_framed_record_by_record(
    separator: str,
) -> None:
    batches, framer = frame(separator.join([RECORD] * 40).encode(), read_size=97, max_record_bytes=300)
    assert rejected(batches) == []
    assert texts(batches) == [RECORD] * 40
    assert [p for b in batches for p in b.parts] == list(range(1, 41))
    assert framer.peak_pending <= 300 + 97
    assert framer.error is None


@pytest.mark.parametrize("read_size", [64, 4096, 1 << 16])
def test_a_record_past_the_cap_is_rejected_once_cut_and_framing_resumes_on_the_next_line(
    read_size: int,
) -> None:
    big = RECORD[:-1] + ',"padding":"' + "p" * 20_000 + '"}'
    batches, framer = frame(
        f"{RECORD}\n{big}\n{RECORD}\n".encode(), read_size=read_size, max_record_bytes=1000
    )
    assert texts(batches) == [RECORD, RECORD]
    assert [b.lines for b in batches] == [[1, 3]]
    [cut] = refused(batches)
    assert (cut.kind, cut.position, cut.original) == ("oversize", "line 2", big[:1000].encode())
    assert cut.reason.startswith("record larger than 1000 bytes (cut at 1000 bytes; at least ")
    assert framer.peak_pending <= 1000 + read_size


class _GiantLine(io.RawIOBase):
    """A record line of ``size`` bytes, then one more record: generated as read, never held whole."""

    def __init__(self, size: int) -> None:
        super().__init__()
        head, tail = RECORD[:-1].encode() + b',"padding":"', b'"}\n' + RECORD.encode() + b"\n"
        self._parts = iter([head, *self._padding(size - len(head) - 2), tail])
        self.largest_read = 0

    @staticmethod
    def _padding(size: int) -> Iterator[bytes]:
        chunk = b"p" * MIB
        while size > 0:
            yield chunk[:size]
            size -= MIB

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        part = next(self._parts, b"")
        self.largest_read = max(self.largest_read, len(part))
        return part


def test_a_300_mb_line_is_one_rejected_record_and_memory_follows_the_cap() -> None:
    stream = _GiantLine(300_000_000)
    framer = Framer("src", max_records=1000, max_bytes=1 << 30)
    batches = list(framer.batches(stream))  # type: ignore[arg-type]
    assert texts(batches) == [RECORD]
    [cut] = refused(batches)
    assert cut.kind == "oversize"
    assert len(cut.original) == MAX_RECORD_BYTES
    assert "at least 300000000 bytes seen" in cut.reason
    assert framer.peak_pending <= MAX_RECORD_BYTES + READ_SIZE
    assert stream.largest_read <= MIB


def test_a_record_with_200000_headers_is_one_rejected_record() -> None:
    headers = ",".join(f'{{"name":"x-h{i}","value":"v"}}' for i in range(200_000))
    big = f'{{"timestamp":1,"httpRequest":{{"headers":[{headers}]}}}}'
    assert len(big) > MAX_RECORD_BYTES
    batches, framer = frame(f"{big}\n{RECORD}\n".encode())
    assert texts(batches) == [RECORD]
    assert [(r.kind, r.position) for r in refused(batches)] == [("oversize", "line 1")]
    assert framer.peak_pending <= MAX_RECORD_BYTES + READ_SIZE


def test_a_pretty_printed_record_past_the_cap_is_one_rejected_record() -> None:
    big = json.dumps({"timestamp": 1, "items": [{"n": i} for i in range(300)]}, indent=2)
    batches, framer = frame(f"{RECORD}\n{big}\n{RECORD}\n".encode(), read_size=64, max_record_bytes=1000)
    assert texts(batches) == [RECORD, RECORD]
    [cut] = refused(batches)
    assert (cut.kind, cut.position, cut.original) == ("oversize", "line 2", big[:1000].encode())
    assert [b.lines for b in batches] == [[1, 2 + big.count("\n") + 1]]
    assert framer.peak_pending <= 1000 + 64


def test_a_run_of_garbage_past_the_cap_is_one_rejected_record() -> None:
    garbage = "".join(f"garbage {n}\n" for n in range(500))
    batches, _ = frame(f"{garbage}{RECORD}\n".encode(), read_size=256, max_record_bytes=1000)
    assert texts(batches) == [RECORD]
    assert [(r.kind, r.position) for r in refused(batches)] == [("oversize", "line 1")]
    assert [b.lines for b in batches] == [[501]]


def gzip_of_zeros(mib: int) -> bytes:
    """A gzip stream of ``mib`` MiB of zeros, built from one compressed MiB (full flushes repeat)."""
    compressor, chunk = zlib.compressobj(9, zlib.DEFLATED, -15), bytes(MIB)
    unit = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
    trailer = struct.pack("<II", crc, mib * MIB)
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + unit * mib + compressor.flush() + trailer


def test_one_read_of_highly_compressible_gzip_inflates_in_blocks_no_larger_than_a_read() -> None:
    data = gzip_of_zeros(64)
    assert len(data) < READ_SIZE  # the whole stream arrives in one read
    blocks = Blocks(io.BytesIO(data), READ_SIZE)
    sizes = [len(b) for b in blocks]
    assert blocks.error is None
    assert sum(sizes) == 64 * MIB
    assert max(sizes) <= READ_SIZE
    batches, framer = frame(data + gzip.compress(f"\n{RECORD}\n".encode()))
    assert texts(batches) == [RECORD]
    assert [(r.kind, len(r.original)) for r in refused(batches)] == [("oversize", MAX_RECORD_BYTES)]
    assert framer.peak_pending <= MAX_RECORD_BYTES + READ_SIZE


# --- encodings and nesting ------------------------------------------------------------------------


def test_a_utf8_byte_order_mark_is_dropped_at_the_start_and_at_each_gzip_member() -> None:
    marked = codecs.BOM_UTF8 + f"{RECORD}\n".encode()
    for data in (marked, gzip.compress(marked) + gzip.compress(marked)):
        batches, framer = frame(data, read_size=2)
        assert texts(batches) == [RECORD] * (1 if data is marked else 2)
        assert rejected(batches) == []
        assert framer.error is None


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("read_size", [3, 4096])
def test_utf16_with_a_byte_order_mark_is_read_as_utf8(encoding: str, read_size: int) -> None:
    text = f'{RECORD}\n{{"timestamp":3,"uri":"/é—🙂"}}\n'
    mark = codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE
    batches, framer = frame(mark + text.encode(encoding), read_size=read_size)
    assert texts(batches) == text.splitlines()
    assert framer.error is None


def test_a_lone_surrogate_in_utf16_rejects_only_its_record() -> None:
    data = codecs.BOM_UTF16_LE + f"{RECORD}\n".encode("utf-16-le") + b'{\x00"\x00\x00\xd8"\x00}\x00\n\x00'
    batches, _ = frame(data + f"{RECORD}\n".encode("utf-16-le"))
    assert texts(batches) == [RECORD, RECORD]
    assert [(r.kind, r.position) for r in refused(batches)] == [("invalid_utf8", "line 2")]


@pytest.mark.parametrize("style", ["compact", "trailing-space", "pretty"])
def test_a_record_nested_five_thousand_levels_is_rejected_once(style: str) -> None:
    deep = nested(5000)
    if style == "pretty":
        deep = deep.replace('{"a":', '{\n"a": ').replace("}", "\n}")
    data = f"{deep}{' ' if style == 'trailing-space' else ''}\n{RECORD}\n"
    batches, _ = frame(data.encode())
    assert texts(batches) == [RECORD]
    [too_deep] = refused(batches)
    assert (too_deep.kind, too_deep.position) == ("too_deep", "line 1")
    assert too_deep.reason == f"nested deeper than {MAX_DEPTH} levels"
    assert too_deep.original == deep.encode()


@pytest.mark.parametrize("trailer", ["", " ", RECORD])
def test_nesting_up_to_the_limit_is_a_record_and_one_level_more_is_rejected(trailer: str) -> None:
    batches, _ = frame(f"{nested(MAX_DEPTH)}{trailer}\n{nested(MAX_DEPTH + 1)}{trailer}\n".encode())
    assert texts(batches)[0] == nested(MAX_DEPTH)
    assert [(r.kind, r.original) for r in refused(batches)] == [("too_deep", nested(MAX_DEPTH + 1).encode())]
