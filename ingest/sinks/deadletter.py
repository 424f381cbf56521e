"""The dead-letter store: every Rejected record with its original bytes (redacted) and the reason.

Entries are NDJSON files in a local folder or under an ``s3://`` prefix (``storage.Location``).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence
from typing import Protocol

import orjson

from enrich.redact import Redaction
from enrich.redact_bytes import redact_bytes
from ingest.outcomes import RejectedRecord
from ingest.sinks.storage import Location, resolve


class DeadLetterStore(Protocol):
    """Somewhere rejected records are kept for a person to look at and replay."""

    def put(self, records: Sequence[RejectedRecord]) -> None:
        """Store ``records``; raise OSError when they could not be stored."""
        ...


def entry(record: RejectedRecord, redaction: Redaction) -> bytes:
    """One dead-letter line. Redaction is applied here, at the boundary, whatever the caller did."""
    original = redact_bytes(redaction, record.original)
    body: dict[str, object] = {
        "source": record.source,
        "position": record.position,
        "kind": record.kind,
        "reason": record.reason,
    }
    try:
        body["original"] = original.decode("utf-8")
    except UnicodeDecodeError:
        body["original_base64"] = base64.b64encode(original).decode()
    return orjson.dumps(body)


class FileDeadLetter:
    """NDJSON files in a folder, one per batch, named by a digest of their content (replays overwrite)."""

    def __init__(self, location: Location | str | os.PathLike[str], redaction: Redaction) -> None:
        if not isinstance(location, Location):
            location = resolve(os.fspath(location), option="dead-letter")
        self.location = location
        self.redaction = redaction

    def put(self, records: Sequence[RejectedRecord]) -> None:
        """Write one file holding ``records``."""
        if not records:
            return
        body = b"".join(entry(r, self.redaction) + b"\n" for r in records)
        name = hashlib.blake2b(body, digest_size=12).hexdigest()
        self.location.write_bytes(self.location.join(f"rejected-{name}.ndjson"), body)
