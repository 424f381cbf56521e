"""Firehose data transformation: a delivery stream's records in, each recordId's result out.

``WAFLENS_FIREHOSE_MODE`` chooses what an Ok record carries. ``transform``: its enriched, redacted
documents (NDJSON), for Firehose to deliver to its own OpenSearch or S3 destination. ``index``: waflens
indexes into its own targets (``WAFLENS_OPENSEARCH_URL``, ``WAFLENS_LAKE``) and the record carries its WAF
records as WAF wrote them, redacted, for Firehose's S3 destination or backup. Rejected records are in the
dead-letter store in both modes.

The records that are UTF-8 text (WAF sends JSON lines) are joined into one source, each on lines of its
own; so are gzip records that inflate whole into such text, up to one batch's bytes in all. Any other
record (damaged gzip, UTF-16, binary) is read like a file of its own, so what the decoder does with such
bytes stays inside that record: about 40 ms each, against 0.4 ms joined. A record whose data is not
base64 is an unreadable source.
"""

from __future__ import annotations

import base64
import codecs
import errno
import io
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

import polars as pl
from aws_lambda_powertools.utilities.data_classes import KinesisFirehoseEvent

from enrich import schema as S
from enrich.config import ConfigError
from enrich.documents import document_expr
from ingest import telemetry
from ingest.compose import FirehoseMode
from ingest.decode.inflate import GZIP_MAGIC
from ingest.environment import ENV_FIREHOSE_MODE, LambdaContext
from ingest.handlers import runtime
from ingest.handlers.firehose_response import RECORDS, ROWS, TEXTS, Response, respond
from ingest.outcomes import RunResult
from ingest.run import Pipeline, Source
from ingest.sinks.capture import CaptureSink
from ingest.sources.payloads import Payloads

SOURCE_PREFIX: Final = "firehose"
_NAMES: Final = pl.Schema({"source": pl.String, "key": pl.String})


@dataclass(frozen=True)
class OneRecord:
    """A record read like a file of its own; ``data`` is None when its base64 did not decode."""

    name: str
    record_id: str
    data: bytes | None

    def open(self) -> BinaryIO:
        """The record's bytes; an unreadable source when there are none."""
        if self.data is None:
            raise OSError(errno.EINVAL, "its data is not base64")
        return io.BytesIO(self.data)


@dataclass(frozen=True)
class Invocation:
    """One invocation's records as sources, and which source each recordId is in."""

    record_ids: list[str]
    joined: Payloads
    alone: list[OneRecord]

    @classmethod
    def read(cls, event: KinesisFirehoseEvent, *, inflate_bytes: int) -> Invocation:
        """The event's records: text joined (gzip inflated, ``inflate_bytes`` in all), the rest alone."""
        name = f"{SOURCE_PREFIX}:{event.invocation_id}"
        record_ids: list[str] = []
        joined: list[tuple[str, bytes]] = []
        alone: list[OneRecord] = []
        for record in event.records:
            record_ids.append(record.record_id)
            data = text = _base64(record.data)
            if data is not None and data.startswith(GZIP_MAGIC):
                text = _inflated(data, inflate_bytes)
                inflate_bytes -= len(text or b"")
            if text is not None and _is_text(text):
                joined.append((record.record_id, text))
            else:
                alone.append(OneRecord(f"{name}:{record.record_id}", record.record_id, data))
        return cls(record_ids, Payloads.join(name, joined), alone)

    @property
    def sources(self) -> list[Source]:
        """What the pipeline reads: the joined records, then each record of its own."""
        return [self.joined, *self.alone]

    def keyed(self, result: RunResult) -> tuple[pl.DataFrame, pl.DataFrame]:
        """``RECORDS`` (each recordId and how its source ended) and the ``ROWS`` keyed by recordId."""
        ended = {end.source: end.status for end in result.sources}
        alone = {r.record_id: r.name for r in self.alone}
        status = [ended.get(alone.get(key, self.joined.name), "unfinished") for key in self.record_ids]
        records = pl.DataFrame({"key": self.record_ids, "status": status}, schema=RECORDS)
        names = pl.DataFrame({"source": list(alone.values()), "key": list(alone)}, schema=_NAMES)
        parts = [self.joined.with_keys(result.of(self.joined.name)), result.records.join(names, on="source")]
        rows = pl.concat([part.select(ROWS.names()).cast(ROWS) for part in parts])
        return records, rows.drop_nulls("key")  # a row at the end of a damaged source names no record


@telemetry.instrument
def handler(event: dict[str, Any], context: LambdaContext) -> Response:
    """Run one Firehose invocation's records; answer every recordId, in order, within 6 MB."""
    current = runtime.runtime()
    mode = current.settings.firehose_mode
    if mode is None:
        raise ConfigError(f"{ENV_FIREHOSE_MODE} must be transform or index in a Firehose function")
    capture = _capture(current.pipeline)
    invocation = Invocation.read(
        KinesisFirehoseEvent(event), inflate_bytes=current.settings.limits.batch_bytes
    )
    capture.take()  # anything an invocation that failed left behind
    result = runtime.run(invocation.sources, context)
    records, rows = invocation.keyed(result)
    return respond(records, rows, texts(capture.take(), mode), source=invocation.joined.name)


def texts(captured: pl.DataFrame, mode: FirehoseMode) -> pl.DataFrame:
    """What an Ok record returns for each document: its compact document, or its redacted WAF record."""
    if mode == "transform":
        text = document_expr(compact=True)
    else:
        text = pl.col(S.EVENT_ORIGINAL).str.strip_chars_end()
    return captured.select(S.DOC_ID, pl.concat_str(text, pl.lit("\n")).alias("text")).cast(TEXTS)


def _capture(pipeline: Pipeline) -> CaptureSink:
    """The sink ``build_pipeline`` adds for a Firehose function (``Settings.firehose_mode``)."""
    return next(sink for sink in pipeline.sinks if isinstance(sink, CaptureSink))


def _base64(data: object) -> bytes | None:
    """Firehose's base64, strictly (``b64decode`` would skip characters outside the alphabet)."""
    try:
        return base64.b64decode(data, validate=True)  # type: ignore[arg-type]  # anything an event holds
    except (ValueError, TypeError):
        return None


def _inflated(data: bytes, limit: int) -> bytes | None:
    """One whole gzip member's content within ``limit`` bytes; None for anything else (read alone)."""
    if limit <= 0:  # zlib reads a max_length of 0 as no limit at all
        return None
    inflater = zlib.decompressobj(wbits=31)
    try:
        text = inflater.decompress(data, limit)
    except zlib.error:
        return None
    return text if inflater.eof and not inflater.unused_data and not inflater.unconsumed_tail else None


def _is_text(data: bytes) -> bool:
    """UTF-8 without a byte-order mark: safe to join (no gzip magic, nothing for the decoder to sniff)."""
    if data.isascii():
        return True
    if data.startswith(codecs.BOM_UTF8):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
