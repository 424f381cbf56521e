"""Reading JSON for framing: a line's brackets in C byte operations, and values from a stream of text.

WAF records hold arrays of objects (``"headers":[{…},{…}]``), so ``},{`` inside a record is normal and
only brackets outside strings can tell one object from two on a line. Finding them costs a few scans in
C (``translate``, ``replace``), about as much as the two substring searches it replaces; a Python loop
over the bytes would cost more than decoding the record.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Final

from enrich.redact import MAX_DEPTH  # one depth rule everywhere (raw_decode recurses, orjson stops at 1,024)
from ingest.outcomes import RejectKind

_NOT_STRUCTURE: Final = bytes(b for b in range(256) if b not in b'{}[]"')
_STRING: Final = re.compile(rb'"[^"]*"')  # a string once only brackets and quotes are left
_STEP: Final = bytes.maketrans(b"{[}]", b"\x02\x02\x00\x00")  # opening +1, closing -1 (after - 1)
# each pass of one_object's loop peels one or two levels, so this many passes prove MAX_DEPTH
_PASSES: Final = (MAX_DEPTH - 1) // 2
_TOKEN: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[][{}]')
_DECODER: Final = json.JSONDecoder()
WHITESPACE: Final = " \t\r\n"
_SPACES: Final = re.compile(r"[ \t\r\n]*")
_SEPARATORS: Final = re.compile(r"[ \t\r\n,]*")  # between two objects: {…},{…} is two records
TOO_DEEP: Final = object()  # read_value's value for one json cannot read for its depth


def brackets(text: bytes) -> bytes:
    """The brackets of JSON ``text`` that are outside strings, in order (exact for valid JSON)."""
    if b"\\" in text:  # an escaped quote must not end a string, nor an escaped backslash hide its end
        text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    # removing two adjacent quotes moves no bracket into or out of a string
    marks = text.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    return _STRING.sub(b"", marks) if b'"' in marks else marks


def one_object(line: bytes) -> bool:
    """``line`` is one JSON object with nothing after it, nested at most MAX_DEPTH levels.

    Exact for valid JSON: two objects on a line (``{…},{…}``, ``{…} {…}``) are never one. False for
    some objects nested between MAX_DEPTH / 2 and MAX_DEPTH levels: ``nesting`` settles those.
    """
    if line[:1] != b"{" or line[-1:] != b"}":
        return False
    inner = brackets(line)[1:-1]
    for _ in range(_PASSES):
        if not inner:
            return True
        shorter = inner.replace(b"{}", b"").replace(b"[]", b"")
        if len(shorter) == len(inner):
            return False  # not one balanced group: two values, or not JSON
        inner = shorter
    return not inner


def nesting(text: bytes) -> int:
    """How many levels deep the JSON value ``text`` nests (exact; a Python step per bracket)."""
    steps = brackets(text).translate(_STEP, b'"')
    return max(accumulate(step - 1 for step in steps), default=0)


def value_end(text: str, pos: int) -> tuple[int, int] | None:
    """Where the object or array starting at ``text[pos]`` ends, and how deep it nests; None if it
    does not end in ``text``. For values too deep for ``json``: no recursion, a step per token."""
    depth = deepest = 0
    for token in _TOKEN.finditer(text, pos):
        char = text[token.start()]
        if char in "{[":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "}]":
            depth -= 1
            if depth <= 0:
                return token.end(), deepest
    return None


@dataclass(frozen=True)
class Failed:
    """Why no JSON value could be read at some position."""

    kind: RejectKind
    detail: str
    at: int  # where in the text reading failed
    ran_out: bool  # the text ended before the value did: more text may complete it


def read_value(text: str, pos: int) -> tuple[object, int] | Failed:
    """The JSON value at ``text[pos]`` and where it ends (``TOO_DEEP`` for one nested past what json
    can read), or why there is none."""
    try:
        value, end = _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        detail = f"invalid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
        return Failed("invalid_json", detail, exc.pos, ran_out=exc.pos >= len(text.rstrip(WHITESPACE)))
    except RecursionError:  # json recurses, so a value this deep cannot be read (nor be a WAF record)
        deep = value_end(text, pos)
        if deep is None:
            return Failed("too_deep", f"nested deeper than {MAX_DEPTH} levels", len(text), ran_out=True)
        return TOO_DEEP, deep[0]
    return value, end


def is_utf8(text: bytes) -> bool:
    """``text`` is valid UTF-8 (an ASCII check first: nearly every WAF record is ASCII)."""
    if text.isascii():
        return True
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def skip_blank(text: str, pos: int, *, commas: bool) -> int:
    """Where the whitespace (and with ``commas``, the commas) that starts at ``text[pos]`` ends."""
    match = (_SEPARATORS if commas else _SPACES).match(text, pos)
    return match.end() if match else pos


def rest_of_line_blank(text: str, end: int, *, open_end: bool) -> bool:
    """Nothing but separators follows ``text[end]`` on its line (``open_end``: the text stops mid-line)."""
    newline = text.find("\n", end)
    if newline < 0 and open_end:
        return False  # the line goes on in the next block
    return not text[end : len(text) if newline < 0 else newline].strip(WHITESPACE + ",")


def lines_text(lines: list[bytes], start: int, stop: int) -> str:
    """``lines[start:stop]`` as one text; bytes that are not UTF-8 become surrogates (and back, exactly)."""
    return b"\n".join(lines[start:stop]).decode("utf-8", "surrogateescape")


def garbage_end(lines: list[bytes], start: int, text: str, pos: int, failed_at: int) -> int:
    """The line where garbage that starts at ``text[pos]`` ends: the next line that starts a record,
    or the very line where reading failed when it starts one (the record before it was cut short)."""
    failed_line = start + text.count("\n", 0, failed_at)
    at_line_start = failed_at > pos and text[failed_at - 1 : failed_at] == "\n"
    if at_line_start and lines[failed_line][:1] == b"{":
        return failed_line
    return next_record_line(lines, failed_line)


def next_record_line(lines: list[bytes], after: int) -> int:
    """Index of the next line that starts with ``{`` at column 0, where a new record may begin."""
    return next((j for j in range(after + 1, len(lines)) if lines[j][:1] == b"{"), len(lines))
