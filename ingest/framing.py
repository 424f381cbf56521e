"""Bytes of a WAF log object → the bytes of each record, in bounded batches.

WAF writes one compact JSON object per line, so the common case is a line split done in C, on bytes:
text never becomes a Python ``str`` (a single non-ASCII character would make CPython hold a whole block
at four bytes per character). Lines that are not one clean object are parsed as a JSON stream
(``raw_decode``): objects concatenated ``}{`` by a Firehose transform that dropped newlines,
pretty-printed records over several lines, and garbage, which is cut at the next line that starts a
new object and rejected with its bytes (waf-log-format.md §4.2, §6.10). Compression is sniffed from the
gzip magic bytes, never the file name (Firehose objects have none).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Final

from ingest.outcomes import RejectedRecord, RejectKind

GZIP_MAGIC: Final = b"\x1f\x8b"
READ_SIZE: Final = 1 << 20
# Larger than any WAF record (Firehose caps a record at 1,000 KiB, CloudWatch Logs an event at 256 KB).
MAX_RECORD_BYTES: Final = 4 << 20

_DECODER: Final = json.JSONDecoder()
_WHITESPACE: Final = " \t\r\n"
_BLANK: Final = b" \t\r"


@dataclass
class FramedBatch:
    """Candidate records (each believed to be one JSON object, valid UTF-8) and what could not be framed."""

    texts: list[bytes] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # 1-based line where each record starts
    parts: list[int] = field(default_factory=list)  # 0: the whole line; k: k-th object on that line
    rejected: list[RejectedRecord] = field(default_factory=list)
    text_bytes: int = 0

    def add(self, text: bytes, line: int, part: int = 0) -> None:
        """Append one candidate record."""
        self.texts.append(text)
        self.lines.append(line)
        self.parts.append(part)
        self.text_bytes += len(text)

    def __len__(self) -> int:
        return len(self.texts) + len(self.rejected)


def position(line: int, part: int = 0) -> str:
    """How a record's place in its source is written in reasons: ``line 12`` or ``line 4, object 2``."""
    return f"line {line}" if part == 0 else f"line {line}, object {part}"


class _Blocks:
    """Decompressed blocks of a stream; remembers why the stream ended early, if it did."""

    def __init__(self, stream: BinaryIO, read_size: int) -> None:
        self._stream = stream
        self._read_size = read_size
        self.error: str | None = None

    def __iter__(self) -> Iterator[bytes]:
        first = self._stream.read(self._read_size)
        if not first.startswith(GZIP_MAGIC):
            while first:
                yield first
                first = self._stream.read(self._read_size)
            return
        yield from self._gunzip(first)

    def _gunzip(self, data: bytes) -> Iterator[bytes]:
        inflater = zlib.decompressobj(wbits=31)
        in_member = False  # bytes of the current gzip member have been fed and its end not yet seen
        while data:
            in_member = True
            try:
                out = inflater.decompress(data)
            except zlib.error as exc:
                self.error = f"corrupt gzip data ({exc})"
                return
            if out:
                yield out
            if inflater.eof:  # a multi-member gzip (concatenated .gz files) starts again
                data, in_member = inflater.unused_data, False
                inflater = zlib.decompressobj(wbits=31)
                if not data:
                    data = self._stream.read(self._read_size)
                if data and not data.startswith(GZIP_MAGIC):
                    self.error = f"{len(data)}+ bytes after the end of the gzip stream are not gzip"
                    return
                continue
            data = self._stream.read(self._read_size)
        if in_member:
            tail = inflater.flush()
            if tail:
                yield tail
            self.error = "the gzip stream is truncated (it ends before its end-of-stream marker)"


def _clean(line: bytes) -> bool:
    """One compact object on its own: the shape of nearly every WAF line (two bytes and two scans)."""
    return line[:1] == b"{" and line[-1:] == b"}" and b"}{" not in line and b"} {" not in line


def _utf8(line: bytes) -> bool:
    if line.isascii():
        return True
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class Framer:
    """Turns one source's bytes into bounded FramedBatches."""

    def __init__(self, source: str, *, max_records: int, max_bytes: int, read_size: int = READ_SIZE) -> None:
        self.source = source
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.read_size = read_size
        self.error: str | None = None  # why the stream ended early, once batches() is exhausted
        self._batch = FramedBatch()
        self._line = 1  # line number where the pending bytes start
        self._pending = b""
        self._carried_part = (0, 0)  # (line, objects already framed on it) when a line resumes

    def batches(self, stream: BinaryIO) -> Iterator[FramedBatch]:
        """Frame the whole stream in batches of about ``max_records`` records (or ``max_bytes``).

        A batch may overshoot by one read block (``read_size`` of decompressed bytes): still bounded.
        """
        blocks = _Blocks(stream, self.read_size)
        for block in blocks:
            self._pending += block
            self._frame(final=False)
            if len(self._batch.texts) >= self.max_records or self._batch.text_bytes >= self.max_bytes:
                yield self._batch
                self._batch = FramedBatch()
        self.error = blocks.error
        self._frame(final=True)
        if len(self._batch):
            yield self._batch

    def _frame(self, *, final: bool) -> None:
        data = self._pending
        end = len(data) if final else data.rfind(b"\n") + 1
        if end == 0:
            if len(data) < MAX_RECORD_BYTES:
                return  # an unterminated line waits for the next block
            end = len(data)  # one enormous line: frame what is there
        lines = data[:end].split(b"\n")
        if data[end - 1 : end] == b"\n":
            lines.pop()  # the split's empty tail after the final newline
        consumed = self._frame_lines(lines, final=final)
        self._pending = data[consumed:]

    def _frame_lines(self, lines: list[bytes], *, final: bool) -> int:
        """Frame ``lines``; return how many bytes were consumed (the rest waits for more input)."""
        batch, number, offset, i = self._batch, self._line, 0, 0
        while i < len(lines):
            line = lines[i][:-1] if lines[i][-1:] == b"\r" else lines[i]
            continuing = i == 0 and self._carried_part[1] > 0  # the rest of a line split across blocks
            if _clean(line) and _utf8(line) and not continuing:
                batch.add(line, number + i)
            elif line.strip(_BLANK):
                if _clean(line) and not continuing:
                    self._reject(line, position(number + i), "invalid_utf8", "not UTF-8 text")
                else:
                    taken, kept = self._region(lines, i, number + i, final=final)
                    if kept is not None:  # a record continues past these lines: keep it for the next block
                        kept_bytes, kept_lines = kept
                        self._line = number + i + kept_lines
                        return offset + kept_bytes
                    offset += sum(len(x) + 1 for x in lines[i : i + taken])
                    i += taken
                    continue
            offset += len(lines[i]) + 1
            i += 1
        self._line = number + len(lines)
        return offset

    def _region(
        self, lines: list[bytes], start: int, line: int, *, final: bool
    ) -> tuple[int, tuple[int, int] | None]:
        """Parse JSON values from ``lines[start]`` up to the next line that starts a new record.

        Returns how many lines the region took, or, when a record continues past the lines at hand, the
        (bytes, lines) of the region already framed, so the rest waits for the next block. Bytes that
        are not UTF-8 survive the round trip through ``str`` as surrogates: rejected and framed bytes are
        exactly the input's.
        """
        stop = _next_record_line(lines, start)
        text = b"\n".join(lines[start:stop]).decode("utf-8", "surrogateescape")
        carried_line, carried = self._carried_part
        pos, part, newlines, counted = 0, carried if carried_line == line else 0, 0, 0
        last_end = 0
        self._carried_part = (0, 0)
        while True:
            pos = _skip_whitespace(text, pos)
            if pos >= len(text):
                return stop - start, None
            newlines += text.count("\n", counted, pos)
            counted = pos
            try:
                value, end = _DECODER.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                if exc.pos >= len(text.rstrip(_WHITESPACE)) and stop < len(lines):
                    # it ran out of lines, not into an error: a nested "{" line at column 0 ended the
                    # window early (a JSON string cannot span lines), so take lines up to the next one
                    stop = _next_record_line(lines, stop)
                    text = b"\n".join(lines[start:stop]).decode("utf-8", "surrogateescape")
                    continue
                if stop == len(lines) and not final and len(text) - pos < MAX_RECORD_BYTES:
                    on_line = part if text.count("\n", last_end, pos) == 0 else 0
                    self._carried_part = (line + newlines, on_line)
                    return 0, (len(text[:pos].encode("utf-8", "surrogateescape")), newlines)
                chunk = text[pos:].rstrip(_WHITESPACE)
                self._reject_text(chunk, line + newlines, chunk.count("\n"), exc)
                return stop - start, None
            part += 1
            alone = part == 1 and (pos == 0 or text[pos - 1] == "\n") and _rest_of_line_blank(text, end)
            where = position(line + newlines, 0 if alone else part)
            snippet = text[pos:end].encode("utf-8", "surrogateescape")
            if not isinstance(value, dict):
                self._reject(
                    snippet, where, "not_an_object", f"a JSON {type(value).__name__}, not a WAF record object"
                )
            elif _utf8(snippet):
                self._batch.add(snippet, line + newlines, 0 if alone else part)
            else:
                self._reject(snippet, where, "invalid_utf8", "not UTF-8 text")
            pos = last_end = end

    def _reject_text(self, chunk: str, line: int, extra_lines: int, exc: json.JSONDecodeError) -> None:
        where = position(line) if extra_lines == 0 else f"lines {line}-{line + extra_lines}"
        detail = f"{exc.msg} (line {exc.lineno} column {exc.colno})"
        kind: RejectKind = "invalid_json"
        if self.error is not None:
            kind, reason = "truncated_input", f"{self.error}; incomplete record: {detail}"
        elif len(chunk) >= MAX_RECORD_BYTES:
            kind, reason = "oversize", f"no complete JSON object within {MAX_RECORD_BYTES} bytes: {detail}"
        else:
            reason = f"invalid JSON: {detail}"
        self._reject(chunk.encode("utf-8", "surrogateescape"), where, kind, reason)

    def _reject(self, original: bytes, where: str, kind: RejectKind, reason: str) -> None:
        self._batch.rejected.append(RejectedRecord(self.source, where, kind, reason, original))


def _next_record_line(lines: list[bytes], after: int) -> int:
    """Index of the next line that starts with ``{`` at column 0, where a new record may begin."""
    return next((j for j in range(after + 1, len(lines)) if lines[j][:1] == b"{"), len(lines))


def _rest_of_line_blank(text: str, end: int) -> bool:
    newline = text.find("\n", end)
    return not text[end : len(text) if newline < 0 else newline].strip(_WHITESPACE)


def _skip_whitespace(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos
