"""Hostile input by size: one record far past any WAF record, huge runs of garbage, many records.

Memory is bounded by the batch, never the input, so each case states a peak-RSS bound for the child.
Inputs are generated to disk in a streaming way and deleted after the case. A record larger than the
framing's limit is ONE rejected record, however large; a maximal run of garbage is ONE rejected record.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.hostile import (
    TIMESTAMP_MS,
    WEBACL_ID,
    Expect,
    authorized,
    check,
    dumps,
    line,
    record,
    run_ingest,
    secret,
    undelivered,
    write_valid,
)

pytestmark = pytest.mark.slow
MIB = 1 << 20


@pytest.fixture
def big(tmp_path: Path) -> Iterator[Path]:
    """A path for a large input, removed after the case so kept pytest folders stay small."""
    path = tmp_path / "big.log"
    yield path
    path.unlink(missing_ok=True)


def _padded_record(path: Path, token: str, padding_mib: int) -> None:
    """One line: a valid record with the token in its Authorization header, then ``padding_mib`` MiB."""
    head = dumps(authorized("big-1", token)).encode()[:-1] + b',"padding":"'
    with path.open("wb") as out:
        out.write(head)
        block = b"p" * MIB
        for _ in range(padding_mib):
            out.write(block)
        out.write(b'"}\n')


@pytest.mark.parametrize(("case", "mib", "bound"), [("20-MB", 20, 1000), ("300-MB-line", 300, 1500)])
def test_one_oversize_record_is_one_rejected_record(
    tmp_path: Path, big: Path, case: str, mib: int, bound: int
) -> None:
    planted = secret(f"oversize-{case}")
    _padded_record(big, planted, mib)
    tail = write_valid(tmp_path / "tail.log", "tail", 2, planted)

    run = run_ingest(tmp_path, [big, tmp_path / "tail.log"], timeout=240)

    also = undelivered(run.lake, tail)
    check(run, Expect(records_in=3, delivered=2, rejected=1, secrets=[planted], max_rss_mb=bound, also=also))


def test_a_record_with_two_hundred_thousand_headers_is_one_rejected_record(tmp_path: Path, big: Path) -> None:
    planted = secret("200k-headers")
    headers = [{"name": "Authorization", "value": f"Bearer {planted}"}]
    headers += [{"name": f"x-h{i}", "value": "v"} for i in range(200_000)]
    big.write_bytes(line(record("hdr-1", http={"headers": headers})))
    tail = write_valid(tmp_path / "tail.log", "tail", 2, planted)

    run = run_ingest(tmp_path, [big, tmp_path / "tail.log"])

    also = undelivered(run.lake, tail)
    check(run, Expect(records_in=3, delivered=2, rejected=1, secrets=[planted], max_rss_mb=1000, also=also))


def test_a_gzip_of_256_mib_of_zeros(tmp_path: Path, big: Path) -> None:
    planted = secret("zeros")
    with gzip.open(big, "wb", compresslevel=6) as out:
        zeros = bytes(MIB)
        for _ in range(256):
            out.write(zeros)
    tail = write_valid(tmp_path / "tail.log", "tail", 2, planted)

    run = run_ingest(tmp_path, [big, tmp_path / "tail.log"], timeout=240)

    # one maximal garbage region: no line in it starts a record
    also = undelivered(run.lake, tail)
    check(run, Expect(records_in=3, delivered=2, rejected=1, secrets=[planted], max_rss_mb=600, also=also))


NON_OBJECT_LINES: dict[str, tuple[Callable[[int], bytes], int]] = {
    # no line starts a record, so the whole run is one maximal garbage region: ONE rejected record
    "garbage-text": (lambda n: b"garbage %d\n" % n, 1),
    # every line is a complete JSON value that is not an object: one rejected record each
    "json-arrays": (lambda n: b'["garbage",%d]\n' % n, 500_000),
}


@pytest.mark.parametrize("case", sorted(NON_OBJECT_LINES))
def test_half_a_million_non_object_lines(tmp_path: Path, big: Path, case: str) -> None:
    planted = secret(f"non-objects-{case}")
    make, rejected = NON_OBJECT_LINES[case]
    with big.open("wb") as out:
        for start in range(0, 500_000, 50_000):
            out.write(b"".join(make(n) for n in range(start, start + 50_000)))
    tail = write_valid(tmp_path / "tail.log", "tail", 2, planted)

    run = run_ingest(tmp_path, [big, tmp_path / "tail.log"], timeout=240)

    also = undelivered(run.lake, tail)
    check(
        run,
        Expect(
            records_in=rejected + 2,
            delivered=2,
            rejected=rejected,
            secrets=[planted],
            max_rss_mb=1000,
            also=also,
        ),
    )


def test_a_million_tiny_valid_records(tmp_path: Path, big: Path) -> None:
    planted = secret("million")
    count = 1_000_000
    tiny = {"timestamp": TIMESTAMP_MS, "webaclId": WEBACL_ID, "action": "ALLOW"}
    head, rest = dumps(tiny | {"httpRequest": {"clientIp": "203.0.113.7", "requestId": "@"}}).split('"@"')
    with big.open("wb") as out:
        out.write(line(authorized("tiny-0", planted)))
        for start in range(1, count, 50_000):
            block = range(start, min(start + 50_000, count))
            out.write("".join(f'{head}"t-{n}"{rest}\n' for n in block).encode())

    run = run_ingest(tmp_path, [big], timeout=240)

    check(run, Expect(records_in=count, delivered=count, secrets=[planted], max_rss_mb=1500))
