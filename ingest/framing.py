"""Bytes of a WAF log object → the text of each record, in bounded batches.

WAF writes one compact JSON object per line, so the common case is a line split done in C. What is
not a clean line is parsed as a JSON stream (``raw_decode``): objects concatenated ``}{`` by a Firehose
transform that dropped newlines, pretty-printed records over several lines, and garbage, which is cut
at the next line that starts a new object and rejected with its bytes (waf-log-format.md §4.2, §6.10).
Compression is sniffed from the gzip magic bytes, never the file name (Firehose objects have none).
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


@dataclass
class FramedBatch:
    """Candidate record texts (each believed to be one JSON object) and what could not be framed."""

    texts: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # 1-based line where each text starts
    parts: list[int] = field(default_factory=list)  # 0: the whole line; k: k-th object on that line
    rejected: list[RejectedRecord] = field(default_factory=list)
    text_bytes: int = 0

    def add(self, text: str, line: int, part: int = 0) -> None:
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


class Framer:
    """Turns one source's bytes into bounded FramedBatches."""

    def __init__(self, source: str, *, max_records: int, max_bytes: int, read_size: int = READ_SIZE) -> None:
        self.source = source
        self.read_size = read_size
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.error: str | None = None  # why the stream ended early, once batches() is exhausted
        self._batch = FramedBatch()
        self._line = 1  # line number where the pending text starts
        self._pending = ""

    def batches(self, stream: BinaryIO) -> Iterator[FramedBatch]:
        """Frame the whole stream in batches of at most ``max_records`` texts (or ``max_bytes``)."""
        blocks = _Blocks(stream, self.read_size)
        carry = b""
        for block in blocks:
            data = carry + block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) < MAX_RECORD_BYTES:
                    carry = data
                    continue
                cut = _utf8_boundary(data)  # one enormous line: frame what is there, keep the rest
            carry = data[cut:]
            yield from self._feed(data[:cut], final=False)
        self.error = blocks.error
        yield from self._feed(carry, final=True)
        if len(self._batch):
            yield self._batch

    def _feed(self, data: bytes, *, final: bool) -> Iterator[FramedBatch]:
        self._pending += self._decode(data)
        self._frame_pending(final=final)
        # A batch may overshoot its bounds by one read block (READ_SIZE of text): still bounded.
        if len(self._batch.texts) >= self.max_records or self._batch.text_bytes >= self.max_bytes:
            yield self._batch
            self._batch = FramedBatch()

    def _decode(self, data: bytes) -> str:
        """Decode a block; a line that is not UTF-8 is rejected alone and left as an empty line."""
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        first = self._line + self._pending.count("\n")
        kept: list[str] = []
        for offset, raw in enumerate(data.split(b"\n")):
            try:
                kept.append(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                reason = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
                self._reject(raw, position(first + offset), "invalid_utf8", reason)
                kept.append("")
        return "\n".join(kept)

    def _frame_pending(self, *, final: bool) -> None:
        text, line, pos, end = self._pending, self._line, 0, len(self._pending)
        while pos < end:
            nl = text.find("\n", pos)
            if nl < 0 and not final and end - pos < MAX_RECORD_BYTES:
                break  # an unterminated last line waits for the next block
            stop = end if nl < 0 else nl
            raw = text[pos:stop].strip(_WHITESPACE)
            if raw.startswith("{") and raw.endswith("}") and "}{" not in raw and "} {" not in raw:
                self._batch.add(raw, line)
            elif raw:
                resume, waiting = self._stream_region(text, pos, line, final=final)
                line += text.count("\n", pos, resume)
                pos = resume
                if waiting:
                    break
                continue
            pos, line = (end, line) if nl < 0 else (nl + 1, line + 1)
        self._pending, self._line = text[pos:], line

    def _stream_region(self, text: str, start: int, line: int, *, final: bool) -> tuple[int, bool]:
        """Parse JSON values from ``start`` up to the next clean line.

        Returns where framing resumes, and whether the rest must wait for more input (a record that
        continues in the next block).
        """
        pos, part = start, 0
        while True:
            pos = _skip_whitespace(text, pos)
            if pos >= len(text) or (pos != start and text[pos] == "{" and _at_line_start(text, pos)):
                return pos, False
            obj_line = line + text.count("\n", start, pos)
            try:
                value, end = _DECODER.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                resync = _next_object_line(text, max(exc.pos, pos + 1))
                if resync < 0 and not final and len(text) - pos < MAX_RECORD_BYTES:
                    return pos, True
                stop = len(text) if resync < 0 else resync
                chunk = text[pos:stop].rstrip(_WHITESPACE)
                self._reject_text(chunk, obj_line, chunk.count("\n"), exc)
                return stop, False
            part += 1
            alone = part == 1 and _at_line_start(text, pos) and _line_ends_at(text, end)
            where_part = 0 if alone else part
            if isinstance(value, dict):
                self._batch.add(text[pos:end], obj_line, where_part)
            else:
                reason = f"a JSON {type(value).__name__}, not a WAF record object"
                self._reject(text[pos:end].encode(), position(obj_line, where_part), "not_an_object", reason)
            pos = end

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
        self._reject(chunk.strip(_WHITESPACE).encode(), where, kind, reason)

    def _reject(self, original: bytes, where: str, kind: RejectKind, reason: str) -> None:
        self._batch.rejected.append(RejectedRecord(self.source, where, kind, reason, original))


def _utf8_boundary(data: bytes) -> int:
    """The largest cut <= len(data) that does not split a UTF-8 sequence."""
    cut = len(data)
    while cut > len(data) - 4 and cut > 0 and (data[cut - 1] & 0xC0) == 0x80:
        cut -= 1
    return cut - 1 if cut > 0 and data[cut - 1] >= 0xC0 else cut


def _skip_whitespace(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _at_line_start(text: str, pos: int) -> bool:
    return pos == 0 or text[pos - 1] == "\n"


def _line_ends_at(text: str, end: int) -> bool:
    nl = text.find("\n", end)
    return not text[end : len(text) if nl < 0 else nl].strip(_WHITESPACE)


def _next_object_line(text: str, pos: int) -> int:
    """Offset of the next line that starts with ``{`` at column 0 (where a new record may begin)."""
    found = text.find("\n{", pos)
    return -1 if found < 0 else found + 1
