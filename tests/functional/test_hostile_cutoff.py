"""Hostile input, broken records carrying a secret: each is rejected, counted, and its secret redacted.

Counting rule: a complete JSON value is one record; a cut-off tail or a maximal run of garbage (up to
the next line that starts a record) is one rejected record. A plain file that ends mid-record is a
rejected record (exit 0); a gzip stream that ends before its end-of-stream marker is a damaged source
(exit 1).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.hostile import (
    OVERSIZE_CUT,
    Expect,
    authorized,
    check,
    dead_letters,
    dumps,
    files_below,
    leaks,
    line,
    raw,
    record,
    run_ingest,
    secret,
    undelivered,
    write_valid,
    written,
)


def _cut_authorization(request_id: str, token: str) -> bytes:
    """A record's text up to the middle of its Authorization value: no closing quote, nothing after."""
    text = line(authorized(request_id, token))
    return text[: text.index(token.encode()) + len(token) // 2]


def test_a_plain_file_ending_inside_an_authorization_value(tmp_path: Path) -> None:
    planted = secret("cut-plain")
    source = tmp_path / "cut.log"
    source.write_bytes(line(record("c-0")) + _cut_authorization("c-1", planted))

    run = run_ingest(tmp_path, [source])

    check(
        run,
        Expect(records_in=2, delivered=1, rejected=1, secrets=[planted], also=undelivered(run.lake, ["c-0"])),
    )


def test_a_gzip_stream_truncated_inside_an_authorization_value(tmp_path: Path) -> None:
    planted = secret("cut-gzip")
    whole = line(record("g-0")) + line(authorized("g-1", planted)) + line(record("g-2"))
    cut_at = whole.index(planted.encode()) + len(planted) // 2
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    head = compressor.compress(whole[:cut_at]) + compressor.flush(zlib.Z_SYNC_FLUSH)
    complete = head + compressor.compress(whole[cut_at:]) + compressor.flush()
    source = tmp_path / "cut.log.gz"
    source.write_bytes(complete[: len(head)])  # decompresses to exactly whole[:cut_at]

    run = run_ingest(tmp_path, [source])

    check(
        run,
        Expect(
            records_in=2,
            exit_code=1,
            delivered=1,
            rejected=1,
            secrets=[planted],
            also=undelivered(run.lake, ["g-0"]),
        ),
    )


def test_an_authorization_value_straddling_the_oversize_cut(tmp_path: Path) -> None:
    planted = secret("cut-oversize")
    text = line(authorized("o-1", planted))
    before = text.index(planted.encode()) + len(planted) // 2  # where the cut must land
    padding = OVERSIZE_CUT - before - len(b',"padding":""')
    # "padding" goes first, so everything after it, the header included, moves right by its length
    padded = text.replace(b"{", b'{"padding":"' + b"p" * padding + b'",', 1)
    assert padded.index(planted.encode()) < OVERSIZE_CUT < padded.index(planted.encode()) + len(planted)
    source = tmp_path / "oversize.log"
    source.write_bytes(padded)
    tail = write_valid(tmp_path / "tail.log", "tail", 2, planted)

    run = run_ingest(tmp_path, [source, tmp_path / "tail.log"])

    check(
        run,
        Expect(
            records_in=3,
            delivered=2,
            rejected=1,
            secrets=[planted],
            max_rss_mb=800,
            also=undelivered(run.lake, tail),
        ),
    )


def _single_quotes(s: str) -> str:
    return dumps(authorized("j-1", s)).replace('"', "'")


def _smart_quotes(s: str) -> str:
    text = dumps(authorized("j-1", s))
    out, opening = [], True
    for char in text:
        if char == '"':
            out.append("\u201c" if opening else "\u201d")
            opening = not opening
        else:
            out.append(char)
    return "".join(out)


def _unquoted_keys(s: str) -> str:
    return re.sub(r'"(\w+)":', r"\1:", dumps(authorized("j-1", s)))


INVALID_JSON: dict[str, Callable[[str], str]] = {
    "single-quotes": _single_quotes,
    "smart-quotes": _smart_quotes,
    "unquoted-keys": _unquoted_keys,
}


@pytest.mark.parametrize("case", sorted(INVALID_JSON))
def test_invalid_json_carrying_a_secret_header(tmp_path: Path, case: str) -> None:
    planted = secret(f"invalid-{case}")
    source = tmp_path / "invalid.log"
    bad = INVALID_JSON[case](planted).encode()
    source.write_bytes(line(record("j-0")) + bad + b"\n" + line(record("j-2")))

    run = run_ingest(tmp_path, [source])

    also = undelivered(run.lake, ["j-0", "j-2"])
    check(run, Expect(records_in=3, delivered=2, rejected=1, secrets=[planted], also=also))


def test_a_top_level_array_of_records_with_a_secret(tmp_path: Path) -> None:
    planted = secret("array")
    source = tmp_path / "array.log"
    array = json.dumps([authorized("a-1", planted), record("a-2")], separators=(",", ":"))
    source.write_bytes(array.encode() + b"\n" + line(record("a-0")))

    run = run_ingest(tmp_path, [source])

    check(
        run,
        Expect(records_in=2, delivered=1, rejected=1, secrets=[planted], also=undelivered(run.lake, ["a-0"])),
    )


def test_a_record_without_webacl_id_carrying_an_escaped_header_name(tmp_path: Path) -> None:
    planted = secret("missing-field")
    headers = [{"name": "Host", "value": "api.example.com"}, "@h@"]
    value = record("w-1", http={"headers": headers})
    del value["webaclId"]
    source = tmp_path / "missing.log"
    text = raw(value, h=f'{{"name":"\\u0041uthorization","value":"Bearer {planted}"}}')
    source.write_bytes(text.encode() + b"\n" + line(record("w-0")))

    run = run_ingest(tmp_path, [source])

    check(
        run,
        Expect(records_in=2, delivered=1, rejected=1, secrets=[planted], also=undelivered(run.lake, ["w-0"])),
    )


def test_a_rejected_timestamp_is_not_repeated_in_the_reason_or_the_logs(tmp_path: Path) -> None:
    # The dead letter's "original" is the (redacted) record and may hold it: every other field may not.
    marker = "TS-" + secret("timestamp-marker")
    source = tmp_path / "timestamp.log"
    source.write_bytes(line(record("t-1", timestamp=marker)))

    run = run_ingest(tmp_path, [source])

    entries = dead_letters(run)
    reasons = [
        (f"dead letter {key}", json.dumps(value).encode())
        for entry in entries
        for key, value in entry.items()
        if key not in {"original", "original_base64"}
    ]
    not_dead_letter = [(where, data) for where, data in written(run) if str(run.dead_letter) not in where]
    also = leaks([*reasons, *not_dead_letter], [marker])
    if not entries:
        also.append(f"no dead-letter entry in {[str(p) for p in files_below(run.dead_letter)]}")
    check(run, Expect(records_in=1, delivered=0, rejected=1, also=also))
