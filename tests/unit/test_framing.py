"""Framing: bytes of a log object become record texts, whatever the framing; garbage is rejected."""

from __future__ import annotations

import gzip
import io

import pytest

from ingest.framing import FramedBatch, Framer

RECORD = '{"timestamp":1,"webaclId":"w","action":"ALLOW","httpRequest":{"uri":"/a\\/b"}}'


def frame(
    data: bytes, *, max_records: int = 1000, read_size: int = 1 << 20
) -> tuple[list[FramedBatch], Framer]:
    framer = Framer("src", max_records=max_records, max_bytes=1 << 30, read_size=read_size)
    return list(framer.batches(io.BytesIO(data))), framer


def texts(batches: list[FramedBatch]) -> list[str]:
    return [t.decode() for b in batches for t in b.texts]


def rejected(batches: list[FramedBatch]) -> list[str]:
    return [r.describe() for b in batches for r in b.rejected]


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


def test_gzip_is_sniffed_not_guessed_and_members_concatenate() -> None:
    data = gzip.compress(f"{RECORD}\n".encode()) + gzip.compress(f"{RECORD}\n{RECORD}\n".encode())
    batches, framer = frame(data)
    assert texts(batches) == [RECORD] * 3
    assert framer.error is None


def test_truncated_gzip_keeps_complete_records_and_rejects_the_partial_one() -> None:
    whole = gzip.compress("".join(f'{RECORD[:-1]},"n":{i}}}\n' for i in range(2000)).encode())
    batches, framer = frame(whole[: len(whole) // 2])
    delivered, refused = texts(batches), [r for b in batches for r in b.rejected]
    assert 0 < len(delivered) < 2000
    assert framer.error is not None
    assert "truncated" in framer.error
    assert len(refused) <= 1
    assert all(r.kind == "truncated_input" and "truncated" in r.reason for r in refused)


def test_invalid_utf8_line_is_rejected_alone_with_its_bytes() -> None:
    data = f"{RECORD}\n".encode() + b'{"bad":"\xff\xfe"}\n' + f"{RECORD}\n".encode()
    batches, _ = frame(data)
    refused = [r for b in batches for r in b.rejected]
    assert len(texts(batches)) == 2
    assert [(r.kind, r.position, r.original) for r in refused] == [
        ("invalid_utf8", "line 2", b'{"bad":"\xff\xfe"}')
    ]


def test_garbage_is_rejected_up_to_the_next_record_and_nothing_after_is_lost() -> None:
    data = f'{RECORD}\n{{"broken": [1,2\nmore garbage\n{RECORD}\n'.encode()
    batches, _ = frame(data)
    assert len(texts(batches)) == 2
    refused = [r for b in batches for r in b.rejected]
    assert len(refused) == 1
    assert refused[0].position == "lines 2-3"
    assert refused[0].original == b'{"broken": [1,2\nmore garbage'
    assert refused[0].reason.startswith("invalid JSON:")


def test_a_json_value_that_is_not_an_object_is_rejected() -> None:
    batches, _ = frame(f"[1,2]\n{RECORD}\n".encode())
    assert rejected(batches) == ["src line 1: a JSON list, not a WAF record object"]


def test_batches_are_bounded_by_record_count() -> None:
    batches, _ = frame((f"{RECORD}\n" * 2500).encode(), max_records=1000, read_size=4096)
    assert sum(len(b.texts) for b in batches) == 2500
    assert max(len(b.texts) for b in batches) <= 1000 + 4096 // len(RECORD) + 1


@pytest.mark.parametrize("read_size", [7, 64, 333])
def test_records_split_across_read_blocks_are_reassembled(read_size: int) -> None:
    pretty = '{\n "timestamp": 1,\n "webaclId": "é—x"\n}\n'
    data = f"{RECORD}\n{RECORD}{RECORD}\n{pretty}".encode() * 5
    batches, framer = frame(data, read_size=read_size)
    assert rejected(batches) == []
    assert texts(batches) == [RECORD, RECORD, RECORD, pretty.strip()] * 5
    assert framer.error is None


def test_one_enormous_line_of_concatenated_records_is_framed_across_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "ingest.framing.MAX_RECORD_BYTES", 300
    )  # so a short test exercises the giant-line path
    batches, framer = frame((RECORD * 40).encode(), read_size=97)
    assert rejected(batches) == []
    assert texts(batches) == [RECORD] * 40
    assert [p for b in batches for p in b.parts] == list(range(1, 41))
    assert framer.error is None


def test_bytes_that_are_not_utf8_inside_concatenated_records_reject_only_that_record() -> None:
    bad = b'{"uri":"\xff"}'
    batches, _ = frame(RECORD.encode() + bad + RECORD.encode() + b"\n")
    assert texts(batches) == [RECORD, RECORD]
    refused = [r for b in batches for r in b.rejected]
    assert [(r.kind, r.position, r.original) for r in refused] == [("invalid_utf8", "line 1, object 2", bad)]
