"""The lean per-record ingester ``waflens-dev bench`` holds the vectorized path to.

What a competent engineer writes instead of waflens, one record at a time on one core: ``orjson.loads``,
the header values of the known sensitive names replaced (no query arguments, match details, cookies or
strings), every look-up cached by its key (web ACL ARN, account, terminating rule group, user agent, host,
client IP, OWASP value), the pipeline's document id of the record's bytes (``record_id``), and
``orjson.dumps`` of the action and the document. Its ``waflens`` objects, ``@timestamp``, index and id are
the heavy reference's (``tests/unit/test_bench_lean.py`` holds them equal on generated records); only its
redaction is lighter, which is the point: it is the fastest honest per-record path, not a copy of the
policy walk.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Final

import orjson

from devtools.bench_process import BENCH_CONFIG, lines
from devtools.bench_reference import Reference, _dict, _list
from enrich.config import EnrichConfig
from ingest.decode.records import record_id

_CACHE: Final = 8192

_DAY_MS: Final = 86_400_000
_UA_FIELDS: Final = ("browser", "browser_version", "os", "device")


class LeanIngester:
    """Bulk lines for one record at a time, the per-record way, with every look-up cached."""

    def __init__(self, config: EnrichConfig) -> None:
        # the enrichment's rules, written per record, with a cache in front of each look-up
        reference = self.reference = Reference(config)
        for name in (
            "webacl",
            "account",
            "owner",
            "domain",
            "client_ip",
            "normalize_name",
            "parse_user_agent",
        ):
            setattr(reference, name, lru_cache(maxsize=_CACHE)(getattr(reference, name)))
        self.prefix = config.index_prefix
        self.sensitive = reference.redaction.header_names
        self.marker = reference.redaction.marker
        self.days: dict[int, tuple[str, str]] = {}

    def bulk_lines(self, line: bytes) -> bytes:
        """The action line and the document line for one WAF record."""
        text = line.strip()
        record = orjson.loads(text)
        doc_id = record_id(text)
        request = _dict(record.get("httpRequest"))
        headers = [h for h in _list(request.get("headers")) if isinstance(h, dict)]
        for header in headers:
            name = header.get("name")
            if (
                isinstance(name, str)
                and self.reference.normalize_name(name) in self.sensitive
                and header.get("value") is not None
            ):
                header["value"] = self.marker
        day, millis = divmod(record["timestamp"], _DAY_MS)
        if day not in self.days:
            midnight = datetime.fromtimestamp(day * 86_400, UTC)
            self.days[day] = (f"{self.prefix}-{midnight:%Y.%m.%d}", f"{midnight:%Y-%m-%d}")
        index, date = self.days[day]
        seconds, ms = divmod(millis, 1000)
        hours, rest = divmod(seconds, 3600)
        record["@timestamp"] = f"{date}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{ms:03d}Z"
        record["waflens"] = self.reference.enrichment(record)
        action = b'{"index":{"_index":"' + index.encode() + b'","_id":"' + doc_id.encode() + b'"}}\n'
        return action + orjson.dumps(record) + b"\n"


def ingest_file(source: Path) -> tuple[int, int, int]:
    """Records, documents and bytes of bulk lines of the lean ingester over a gzip NDJSON file.

    One record at a time, as a per-record loader reads an S3 object; the documents are counted from the
    lines written (two per document).
    """
    ingester = LeanIngester(EnrichConfig.from_mapping(BENCH_CONFIG))
    records = out = newlines = 0
    for records, line in enumerate(lines(source), start=1):  # noqa: B007  # records is the count after the loop
        body = ingester.bulk_lines(line)
        out += len(body)
        newlines += body.count(b"\n")
    return records, newlines // 2, out
