"""A source's bytes → UTF-8 blocks of at most one read's size, whatever the compression and encoding.

Compression is sniffed from the gzip magic bytes, never the file name (Firehose objects have none).
Gzip members and plain runs may follow each other in any order (``cat a.log.gz b.log c.log.gz``): the
magic is safe to look for in plain text because ``0x8b`` can never follow ``0x1f`` in UTF-8. Inflating
is capped at one read's size per call (``max_length``), so a highly compressible input (256 MiB of
zeros gzipped into 256 KiB) never becomes one huge block. A byte-order mark where a file's content
starts (the stream, each gzip member, each plain run) is dropped; UTF-16 with a mark becomes UTF-8.
"""

from __future__ import annotations

import codecs
import zlib
from collections.abc import Generator, Iterator
from typing import BinaryIO, Final

GZIP_MAGIC: Final = b"\x1f\x8b\x08"  # ID1, ID2 and CM = 8 (deflate): RFC 1952 §2.3.1
_UTF16: Final = {codecs.BOM_UTF16_LE: "utf-16-le", codecs.BOM_UTF16_BE: "utf-16-be"}
_MARKS: Final = (codecs.BOM_UTF8, *_UTF16)
_SALVAGE_STEP: Final = 256  # bytes re-inflated at a time while looking for where damage starts

# Another source of blocks yields nothing but bytes; the generator's return value is what follows.
_Segment = Generator[bytes, None, bytes | None]


class _Damage(Exception):
    """zlib refused ``data``; ``before`` is the inflater as it was before ``data`` was fed."""

    def __init__(self, before: zlib._Decompress, data: bytes, error: zlib.error) -> None:
        super().__init__(str(error))
        self.before, self.data = before, data


class _Text:
    """Drops a byte-order mark where a file's content starts and transcodes UTF-16 to UTF-8."""

    def __init__(self) -> None:
        self.error: str | None = None
        self._decoder: codecs.IncrementalDecoder | None = None  # None: the bytes are UTF-8 already
        self._head: bytes | None = b""  # a content start whose mark is still undecided

    def begin(self, *, new_file: bool) -> bytes:
        """A gzip member or plain run starts; a new file (not a continuing member) resets the encoding."""
        out = self._end_head()
        if new_file:
            out += self._end_decoder()
        self._head = b""
        return out

    def feed(self, data: bytes) -> bytes:
        """The UTF-8 bytes for ``data``."""
        if self._head is not None:
            data = self._head + data
            if any(len(data) < len(m) and m.startswith(data) for m in _MARKS):
                self._head = data  # wait for the rest of what may be a mark
                return b""
            self._head = None
            data = self._drop_mark(data)
        if self._decoder is None:
            return data
        # lone surrogates come out as bytes that are not UTF-8: framing rejects only their record
        return self._decoder.decode(data).encode("utf-8", "surrogatepass")

    def finish(self) -> bytes:
        """What is still held at the end of the stream."""
        return self._end_head() + self._end_decoder()

    def _drop_mark(self, data: bytes) -> bytes:
        if data.startswith(codecs.BOM_UTF8):
            self._decoder = None
            return data[len(codecs.BOM_UTF8) :]
        mark = data[:2]
        if mark in _UTF16:
            self._end_decoder()
            self._decoder = codecs.getincrementaldecoder(_UTF16[mark])("surrogatepass")
            return data[2:]
        return data

    def _end_head(self) -> bytes:
        head, self._head = self._head, None
        return self.feed(head) if head else b""

    def _end_decoder(self) -> bytes:
        decoder, self._decoder = self._decoder, None
        if decoder is None:
            return b""
        try:
            return decoder.decode(b"", final=True).encode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            self.error = self.error or "the UTF-16 text ends in the middle of a character"
            return b""


class Blocks:
    """Decompressed, UTF-8 blocks of a stream; ``error`` says why the stream ended early, if it did."""

    def __init__(self, stream: BinaryIO, read_size: int) -> None:
        self._stream = stream
        self._read_size = read_size
        self._offset = 0  # bytes read from the stream so far
        self._text = _Text()
        self.error: str | None = None

    def __iter__(self) -> Iterator[bytes]:
        data: bytes | None = self._read()
        after_member = False
        while data is not None:
            data = self._at_least(data, len(GZIP_MAGIC))
            if not data:
                break
            if data.startswith(GZIP_MAGIC):
                data = yield from self._member(data, new_file=not after_member)
                after_member = True
            else:
                data = yield from self._plain(data)
                after_member = False
        tail = self._text.finish()
        if tail:
            yield tail
        self.error = self.error or self._text.error

    def _read(self) -> bytes:
        data = self._stream.read(self._read_size)
        self._offset += len(data)
        return data

    def _at_least(self, data: bytes, size: int) -> bytes:
        while len(data) < size and (more := self._read()):
            data += more
        return data

    def _plain(self, data: bytes) -> _Segment:
        """Yield plain bytes up to the next gzip member (UTF-16 text never holds one); return the rest."""
        start = self._text.begin(new_file=True)
        if start:
            yield start
        scan = data[:2] not in _UTF16
        while data:
            at = _find_magic(data) if scan else -1
            if at >= 0:
                yield from self._emit(data[:at])
                return data[at:]
            keep = _partial_magic(data) if scan else 0
            yield from self._emit(data[: len(data) - keep])
            data = data[len(data) - keep :]
            more = self._read()
            if not more:
                yield from self._emit(data)
                return b""
            data += more
        return b""

    def _member(self, data: bytes, *, new_file: bool) -> _Segment:
        """Yield one gzip member's content; return the bytes after it, or None when the stream is bad."""
        start = self._text.begin(new_file=new_file)
        if start:
            yield start
        inflater = zlib.decompressobj(wbits=31)
        while True:
            try:
                for out in self._inflate(inflater, data):
                    yield from self._emit(out)
            except _Damage as damage:
                at = self._offset - len(damage.data)  # ``data`` is always the end of what was read
                at += yield from self._salvage(damage.before, damage.data)
                self.error = f"the gzip data is damaged at offset {at} of the compressed input ({damage})"
                return None
            if inflater.eof:
                return inflater.unused_data
            data = self._read()
            if not data:
                yield from self._emit(inflater.flush())
                self.error = (
                    f"the gzip stream is truncated at offset {self._offset} "
                    "(it ends before its end-of-stream marker)"
                )
                return None

    def _inflate(self, inflater: zlib._Decompress, data: bytes) -> Iterator[bytes]:
        """Inflate ``data`` in outputs of at most one read's size; raise _Damage where zlib refuses it."""
        while True:
            before = inflater.copy()  # to find where damage starts, should zlib refuse this call
            try:
                out = inflater.decompress(data, self._read_size)
            except zlib.error as exc:
                raise _Damage(before, data, exc) from None
            if out:
                yield out
            data = inflater.unconsumed_tail
            # a full output may leave more pending inside zlib even when all input is consumed
            if inflater.eof or (not data and len(out) < self._read_size):
                return

    def _salvage(self, inflater: zlib._Decompress, data: bytes) -> Generator[bytes, None, int]:
        """Inflate ``data`` again up to the damage, yielding what precedes it; return the damage's index."""
        done = 0
        for step in (_SALVAGE_STEP, 1):
            while done < len(data):
                probe = inflater.copy()
                piece = data[done : done + step]
                try:
                    outputs = [probe.decompress(piece, self._read_size)]
                    while probe.unconsumed_tail or len(outputs[-1]) == self._read_size:
                        outputs.append(probe.decompress(probe.unconsumed_tail, self._read_size))
                except zlib.error:
                    break
                for out in outputs:
                    yield from self._emit(out)
                inflater, done = probe, done + len(piece)
        return done

    def _emit(self, data: bytes) -> Iterator[bytes]:
        text = self._text.feed(data) if data else b""
        if text:
            yield text


def _find_magic(data: bytes) -> int:
    """Where the first gzip magic in ``data`` starts, or -1 (one-byte searches: 0x1f is rare in text)."""
    at = data.find(GZIP_MAGIC[:1])
    while at >= 0 and not data.startswith(GZIP_MAGIC, at):
        at = data.find(GZIP_MAGIC[:1], at + 1)
    return at


def _partial_magic(data: bytes) -> int:
    """How many bytes at the end of ``data`` may begin a gzip magic split across two reads."""
    for size in (2, 1):
        if data.endswith(GZIP_MAGIC[:size]):
            return size
    return 0
