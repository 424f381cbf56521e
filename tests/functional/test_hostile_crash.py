"""Hostile input that used to crash a run: no traceback, and every other source is still processed.

Each case puts a normal valid file (``tail.log``, two records, the first with the case's secret in an
Authorization header) AFTER the hostile input on the command line and checks the tail is delivered.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.hostile import (
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

DEPTH = 5000


def _deep(style: str) -> bytes:
    """A valid record whose ``deep`` member nests ``DEPTH`` objects (built as text: json recurses)."""
    compact = dumps(record("n-1", deep="@deep@"))
    if style == "pretty":  # json.dumps(indent=0): a newline between members, no indentation
        opened, closed = '{\n"a": ' * (DEPTH - 1) + "{}", "\n}" * (DEPTH - 1)
    else:
        opened, closed = '{"a":' * (DEPTH - 1) + "{}", "}" * (DEPTH - 1)
    text = compact.replace('"@deep@"', opened + closed)
    if style == "pretty":
        text = text.replace(",", ",\n")
    return text.encode() + (b" " if style == "trailing-space" else b"") + b"\n"


@pytest.mark.parametrize("style", ["compact", "trailing-space", "pretty"])
def test_a_record_nested_five_thousand_levels(tmp_path: Path, style: str) -> None:
    # Delivered or rejected are both answers; a crash that loses the next file is not.
    planted = secret(f"deep-{style}")
    source = tmp_path / "deep.log"
    source.write_bytes(_deep(style))
    tail = write_valid(tmp_path / "tail.log", "tail", 2, planted)

    run = run_ingest(tmp_path, [source, tmp_path / "tail.log"])

    check(run, Expect(records_in=3, secrets=[planted], also=undelivered(run.lake, tail)))


def test_a_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    planted = secret("bad-name")
    name = os.fsdecode(b"bad\xff.log")
    (tmp_path / name).write_bytes(line(authorized("b-1", planted)) + line(record("b-2")))
    tail = write_valid(tmp_path / "tail.log", "tail", 2, planted)

    run = run_ingest(tmp_path, [tmp_path / name, tmp_path / "tail.log"])

    also = undelivered(run.lake, ["b-1", "b-2", *tail])
    check(run, Expect(records_in=4, delivered=4, secrets=[planted], also=also))


SEPARATORS = {"comma": b",", "two-spaces": b"  ", "tab": b"\t"}


@pytest.mark.parametrize("separator", sorted(SEPARATORS))
def test_two_records_on_one_line(tmp_path: Path, separator: str) -> None:
    planted = secret(f"two-on-a-line-{separator}")
    first, second = dumps(authorized("p-1", planted)).encode(), dumps(record("p-2")).encode()
    source = tmp_path / "pair.log"
    source.write_bytes(first + SEPARATORS[separator] + second + b"\n")
    tail = write_valid(tmp_path / "tail.log", "tail", 2, planted)

    run = run_ingest(tmp_path, [source, tmp_path / "tail.log"])

    also = undelivered(run.lake, ["p-1", "p-2", *tail])
    check(run, Expect(records_in=4, delivered=4, secrets=[planted], also=also))
