"""Bytes of a WAF log object → the bytes of each record, in bounded batches.

WAF writes one compact JSON object per line, so the common case is a line split done in C, on bytes:
text never becomes a Python ``str`` (a single non-ASCII character would make CPython hold a whole block
at four bytes per character), and ``jsonscan.one_object`` proves a line is one object from its brackets.
Other lines are parsed as a JSON stream (``raw_decode``): objects concatenated ``}{`` or separated by
whitespace or commas, pretty-printed records over several lines, and garbage, which is cut at the next
line that starts a new object and rejected with its bytes (waf-log-format.md §4.2, §6.10).

No record is held whole past ``max_record_bytes``: a longer one is rejected once with its first
``max_record_bytes`` bytes and the rest of it is skipped (to the end of its line; for a record that spans
lines, to the next line that starts an object), so memory follows the cap and the read size, never the
input. Decompression and byte-order marks are ``ingest.decode.inflate``'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Final

from enrich.redact import MAX_DEPTH
from ingest.decode.inflate import Blocks
from ingest.decode.jsonscan import (
    TOO_DEEP,
    WHITESPACE,
    Failed,
    garbage_end,
    is_utf8,
    lines_text,
    nesting,
    next_record_line,
    one_object,
    read_value,
    rest_of_line_blank,
    skip_blank,
)
from ingest.outcomes import RejectedRecord, RejectKind

READ_SIZE: Final = 1 << 20
# Larger than any WAF record (Firehose caps a record at 1,000 KiB, CloudWatch Logs an event at 256 KB).
MAX_RECORD_BYTES: Final = 4 << 20

_ONE_OBJECT: Final = object()  # a line one_object() has vouched for
_BLANK: Final = b" \t\r"


@dataclass
class FramedBatch:
    """Candidate records and what could not be framed.

    Each text is valid UTF-8 and structurally one JSON object nested at most MAX_DEPTH levels (its
    brackets outside strings balance and its strings close: ``jsonscan.one_object``, or a value
    ``raw_decode`` read). Decode relies on it: Polars decodes a slice's rows as one array, where a row
    left open would merge with the next.
    """

    texts: list[bytes] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # 1-based line where each record starts
    parts: list[int] = field(default_factory=list)  # 0: the whole line; k: k-th object on that line
    sources: list[str] = field(default_factory=list)  # the source each record came from
    rejected: list[RejectedRecord] = field(default_factory=list)
    text_bytes: int = 0
    rejected_bytes: int = 0

    def add(self, text: bytes, line: int, part: int = 0, source: str = "") -> None:
        """Append one candidate record."""
        self.texts.append(text)
        self.lines.append(line)
        self.parts.append(part)
        self.sources.append(source)
        self.text_bytes += len(text)

    def reject(self, record: RejectedRecord) -> None:
        """Append a record framing could not take."""
        self.rejected.append(record)
        self.rejected_bytes += len(record.original)

    def extend(self, other: FramedBatch) -> None:
        """Append ``other``'s records: batches of several sources share one decode, enrichment and write."""
        self.texts += other.texts
        self.lines += other.lines
        self.parts += other.parts
        self.sources += other.sources
        self.rejected += other.rejected
        self.text_bytes += other.text_bytes
        self.rejected_bytes += other.rejected_bytes

    @property
    def size(self) -> int:
        """Bytes held: record texts and rejected originals."""
        return self.text_bytes + self.rejected_bytes

    def __len__(self) -> int:
        return len(self.texts) + len(self.rejected)


@dataclass
class _Cut:
    """An oversize record: its first bytes are kept, the rest is skipped as it arrives."""

    part: int  # its object number on the line it starts on (0: the whole line)
    original: bytes
    line: int  # where it starts
    seen: int  # its bytes so far
    newlines: int  # newlines in it so far, the one that ends it included
    multiline: bool  # skip to the next line that starts an object, not just to the end of the line
    after_newline: bool = False
    done: bool = False

    def skip(self, data: bytes) -> bytes:
        """Skip ``data`` up to where this record ends; return what follows it."""
        if self.multiline and self.after_newline and data[:1] == b"{":
            newline = -1  # the previous block ended the record's last line
        else:
            newline = data.find(b"\n{" if self.multiline else b"\n")
            if newline < 0:
                self.seen += len(data)
                self.newlines += data.count(b"\n")
                self.after_newline = data[-1:] == b"\n"
                return b""
        self.seen += max(newline, 0)
        self.newlines += data.count(b"\n", 0, newline + 1)
        self.done = True
        return data[newline + 1 :]


class Framer:
    """Turns one source's bytes into bounded FramedBatches."""

    def __init__(
        self,
        source: str,
        *,
        max_records: int,
        max_bytes: int,
        read_size: int = READ_SIZE,
        max_record_bytes: int = MAX_RECORD_BYTES,
    ) -> None:
        self.source = source
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.read_size = read_size
        self.max_record_bytes = max_record_bytes
        self.error: str | None = None  # why the stream ended early, once batches() is exhausted
        self.peak_pending = 0  # most bytes ever held for unfinished records: max_record_bytes + a block
        self._batch = FramedBatch()
        self._pending = b""  # input not framed yet; starts where a record may start
        self._line = 1  # line number where the pending bytes start
        self._part = 0  # objects already framed on that line when the pending bytes start mid-line
        self._cut: _Cut | None = None

    def batches(self, stream: BinaryIO) -> Iterator[FramedBatch]:
        """Frame the whole stream in batches of about ``max_records`` records (or ``max_bytes``).

        A batch may overshoot by one read block (``read_size`` of decompressed bytes): still bounded.
        """
        blocks = Blocks(stream, self.read_size)
        for block in blocks:
            self._feed(block)
            if len(self._batch) >= self.max_records or self._batch.size >= self.max_bytes:
                yield self._take()
        self.error = blocks.error
        if self._cut is not None:
            self._end_cut()
        self._frame(final=True)
        if len(self._batch):
            yield self._take()

    def _take(self) -> FramedBatch:
        batch, self._batch = self._batch, FramedBatch()
        return batch

    def _feed(self, data: bytes) -> None:
        while data:
            if self._cut is not None:
                data = self._cut.skip(data)
                if self._cut.done:
                    self._end_cut()
                continue
            self._pending += data
            self.peak_pending = max(self.peak_pending, len(self._pending))
            if b"\n" in data:  # otherwise no line was completed: framing again would change nothing
                self._frame(final=False)
            data = b""
            if len(self._pending) > self.max_record_bytes:
                self._frame(final=False, open_tail=True)  # the records of one long line so far
            if len(self._pending) > self.max_record_bytes:
                data = self._start_cut()

    def _start_cut(self) -> bytes:
        """Keep the first bytes of the unfinished record; return the rest, to be skipped."""
        record, limit = self._pending, self.max_record_bytes
        part = self._part + 1 if self._part else 0
        head = record[:limit]
        self._cut = _Cut(part, head, self._line, limit, head.count(b"\n"), multiline=b"\n" in head)
        self._pending = b""
        return record[limit:]

    def _end_cut(self) -> None:
        cut, self._cut = self._cut, None
        assert cut is not None
        self._oversize(cut.original, cut.seen, cut.line, cut.part)
        self._line, self._part = cut.line + cut.newlines, 0

    def _frame(self, *, final: bool, open_tail: bool = False) -> None:
        """Frame the pending bytes: complete lines, or with ``open_tail`` also the unfinished last one."""
        data = self._pending
        end = len(data) if final or open_tail else data.rfind(b"\n") + 1
        if end == 0:
            return
        lines = data[:end].split(b"\n")
        newlines = len(lines) - 1
        if data[end - 1 : end] == b"\n":
            lines.pop()  # the split's empty tail after the final newline
            open_tail = False
        consumed = min(self._frame_lines(lines, final=final, open_tail=open_tail), len(data))
        self._line += newlines if consumed >= end else data.count(b"\n", 0, consumed)
        self._pending = data[consumed:]

    def _frame_lines(self, lines: list[bytes], *, final: bool, open_tail: bool) -> int:
        """Frame ``lines``; return how many bytes were consumed (the rest waits for more input)."""
        batch, limit, number, offset, i = self._batch, self.max_record_bytes, self._line, 0, 0
        while i < len(lines):
            line = lines[i][:-1] if lines[i][-1:] == b"\r" else lines[i]
            last_open = open_tail and i == len(lines) - 1  # the line may go on in the next block
            if (i > 0 or self._part == 0) and not last_open and one_object(line):
                if len(line) <= limit and line.isascii():  # nearly every WAF line: skip _settle's checks
                    batch.add(line, number + i, 0, self.source)
                else:
                    self._settle(line, number + i, 0)
            elif line.strip(_BLANK):
                taken = self._region(lines, i, number + i, final=final, open_tail=open_tail)
                if taken < 0:  # a record continues past these lines: keep it for the next block
                    return offset - taken - 1
                offset += sum(len(x) + 1 for x in lines[i : i + taken])
                i += taken
                continue
            offset += len(lines[i]) + 1
            if not last_open:  # blank so far, an open line keeps counting the objects framed on it
                self._part = 0
            i += 1
        return offset

    def _region(self, lines: list[bytes], start: int, line: int, *, final: bool, open_tail: bool) -> int:
        """Frame JSON values from ``lines[start]`` up to the next line that starts a new record.

        Returns how many lines the region took, or, when a value (or garbage) may continue past the
        lines at hand, ``-1 - n`` where ``n`` is how many bytes of ``lines[start:]`` were framed. Bytes
        that are not UTF-8 survive the round trip through ``str`` as surrogates: rejected and framed
        bytes are exactly the input's.
        """
        stop = next_record_line(lines, start)
        text = lines_text(lines, start, stop)
        part, pos, end, counted = self._part, 0, 0, 0
        self._part = 0
        while True:
            # commas only separate: after an object, on this line or an earlier block of it
            pos = skip_blank(text, pos, commas=bool(part or end))
            line += text.count("\n", counted, pos)
            counted = pos
            if text.count("\n", end, pos):
                part = 0  # a new line: objects on it are counted from 1
            if pos >= len(text):
                if open_tail and stop == len(lines):
                    self._part = part  # the line goes on in the next block
                return stop - start
            parsed = read_value(text, pos)
            if isinstance(parsed, Failed) and parsed.ran_out and stop < len(lines):
                # a "{" line at column 0 inside a record (a JSON string cannot span lines) ended the
                # window early: at least double it, so a run of such lines costs linear time
                stop = next_record_line(lines, min(len(lines), 2 * stop - start) - 1)
                text = lines_text(lines, start, stop)
                continue
            if isinstance(parsed, Failed):
                stop = garbage_end(lines, start, text, pos, parsed.at)
                if not final and stop == len(lines):  # it may go on in lines not read yet
                    self._part = part
                    return -1 - len(text[:pos].encode("utf-8", "surrogateescape"))
                chunk = lines_text(lines, start, stop)[pos:].rstrip(WHITESPACE)
                self._reject_rest(chunk, line, parsed, at_end=stop == len(lines))
                return stop - start
            value, found = parsed
            part += 1
            alone = part == 1 and rest_of_line_blank(text, found, open_end=open_tail and stop == len(lines))
            snippet = text[pos:found].encode("utf-8", "surrogateescape")
            self._settle(snippet, line, 0 if alone else part, value)
            pos = end = found

    def _settle(self, text: bytes, line: int, part: int, value: object = _ONE_OBJECT) -> None:
        """One value: a record, or rejected for its size, type, depth or bytes."""
        if len(text) > self.max_record_bytes:
            self._oversize(text, len(text), line, part)
        elif value is TOO_DEEP:
            self._reject(text, line, part, "too_deep", f"nested deeper than {MAX_DEPTH} levels")
        elif not isinstance(value, dict) and value is not _ONE_OBJECT:
            kind = type(value).__name__
            self._reject(text, line, part, "not_an_object", f"a JSON {kind}, not a WAF record object")
        elif value is not _ONE_OBJECT and not one_object(text) and nesting(text) > MAX_DEPTH:
            self._reject(text, line, part, "too_deep", f"nested deeper than {MAX_DEPTH} levels")
        elif is_utf8(text):
            self._batch.add(text, line, part, self.source)
        else:
            self._reject(text, line, part, "invalid_utf8", "not UTF-8 text")

    def _reject_rest(self, chunk: str, line: int, failed: Failed, *, at_end: bool) -> None:
        """Reject what could not be parsed, up to the next line that starts a record."""
        last = line + chunk.count("\n")
        original = chunk.encode("utf-8", "surrogateescape")
        if len(original) > self.max_record_bytes:
            self._oversize(original, len(original), line, 0, last)
        elif at_end and self.error is not None:
            reason = f"{self.error}; incomplete record: {failed.detail}"
            self._reject(original, line, 0, "truncated_input", reason, last=last)
        else:
            self._reject(original, line, 0, failed.kind, failed.detail, last=last)

    def _oversize(self, original: bytes, seen: int, line: int, part: int, last: int = 0) -> None:
        limit = self.max_record_bytes
        reason = f"record larger than {limit} bytes (cut at {limit} bytes; at least {seen} bytes seen)"
        self._reject(original[:limit], line, part, "oversize", reason, last=last)

    def _reject(
        self, original: bytes, line: int, part: int, kind: RejectKind, reason: str, *, last: int = 0
    ) -> None:
        self._batch.reject(RejectedRecord(self.source, line, part, kind, reason, original, last_line=last))
