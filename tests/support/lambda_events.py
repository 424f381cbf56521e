"""Lambda events as AWS sends them, built from real WAF records, a Lambda context, and secret checks.

The event shapes follow ``tests/events/`` (one file per kind, as AWS documents them); the records in
them come from ``../shared/waf-samples`` or the generator, so handlers are driven with realistic data.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from devtools.generate import PLANTED_SECRET_PREFIX
from tests.support.samples import sample

EVENTS = Path(__file__).resolve().parents[1] / "events"
PIECE = 8  # no run of this many characters of a planted secret may survive anywhere


@dataclass
class Context:
    """The parts of a Lambda context that Powertools and ``lambda_deadline`` read."""

    millis: int = 60_000
    function_name: str = "waflens"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:111122223333:function:waflens"
    aws_request_id: str = "0f2c5e2a-1b6d-4b1e-9d6a-2f4b8c0e7a11"

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


def event_file(name: str) -> dict[str, Any]:
    """One of the event files in ``tests/events``."""
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


def record_id(i: int) -> str:
    """A recordId shaped like Firehose's (a 56-digit sequence number and a sub-sequence)."""
    return f"49654156937427357282346234529036012546342358739417677826{i:06d}"


def firehose_event(payloads: Sequence[bytes | str], *, invocation_id: str = "inv-0001") -> dict[str, Any]:
    """A data-transformation event; bytes are base64-encoded, a str is put in ``data`` as it is."""
    template = event_file("firehose.json")
    records = [
        {
            "recordId": record_id(i),
            "approximateArrivalTimestamp": 1767571200000 + i,
            "data": p if isinstance(p, str) else base64.b64encode(p).decode(),
        }
        for i, p in enumerate(payloads)
    ]
    return template | {"invocationId": invocation_id, "records": records}


def cloudwatch_event(messages: Sequence[str], *, message_type: str = "DATA_MESSAGE") -> dict[str, Any]:
    """A subscription event: ``cloudwatch_logs.json``'s payload with these messages, gzipped and base64."""
    payload = event_file("cloudwatch_logs.json")
    payload["messageType"] = message_type
    payload["logEvents"] = [
        {"id": f"3719548219028371298374658192837465{i:022d}", "timestamp": 1767571200000 + i, "message": m}
        for i, m in enumerate(messages)
    ]
    return awslogs(json.dumps(payload).encode())


def awslogs(payload: bytes, *, compress: bool = True) -> dict[str, Any]:
    """``{"awslogs": {"data": ...}}`` around ``payload`` (gzipped unless told otherwise)."""
    data = gzip.compress(payload) if compress else payload
    return {"awslogs": {"data": base64.b64encode(data).decode()}}


def waf_lines(name: str = "aws-docs-examples.ndjson") -> list[bytes]:
    """The records of one sample file, one per line."""
    return [line for line in sample(name).read_bytes().splitlines() if line.strip()]


def decoded(response: dict[str, Any]) -> list[tuple[str, str, bytes]]:
    """A Firehose response as (recordId, result, data bytes), checking the base64 strictly."""
    return [
        (r["recordId"], r["result"], base64.b64decode(r["data"], validate=True)) for r in response["records"]
    ]


# --- planted secrets ---------------------------------------------------------------------------------

SECRETS = {
    "authorization": PLANTED_SECRET_PREFIX + "Ab3dEf7hKm9pQr2tUv",
    "token": PLANTED_SECRET_PREFIX + "Gx5zYw8cBn1mLk4jHs",
    "cookie": PLANTED_SECRET_PREFIX + "Tq6rWe3yUi0oPa7sDf",
}


def with_secrets(record: bytes, n: int = 0) -> bytes:
    """``record`` carrying a bearer token, a ``token`` query argument and a session cookie."""
    parsed = orjson.loads(record)
    request = parsed["httpRequest"]
    request["headers"] = [
        *request.get("headers", []),
        {"name": "Authorization", "value": f"Bearer {SECRETS['authorization']}"},
        {"name": "Cookie", "value": f"session={SECRETS['cookie']}; theme=dark"},
    ]
    request["args"] = f"page={n}&token={SECRETS['token']}"
    request["uri"] = f"/login?token={SECRETS['token']}"
    return orjson.dumps(parsed)


def cut_inside_secret(record: bytes) -> bytes:
    """``record`` cut off in the middle of its bearer token: not JSON any more, the secret half there."""
    at = record.index(SECRETS["authorization"].encode()) + len(PLANTED_SECRET_PREFIX) + 9
    return record[:at]


def leaks(outputs: Iterable[str | bytes]) -> set[str]:
    """Every ``PIECE``-character run of a planted secret's random part found in ``outputs``."""
    pieces = {
        secret[len(PLANTED_SECRET_PREFIX) :][i : i + PIECE]
        for secret in SECRETS.values()
        for i in range(len(secret) - len(PLANTED_SECRET_PREFIX) - PIECE + 1)
    }
    found: set[str] = set()
    for output in outputs:
        text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
        found |= {piece for piece in pieces if piece in text}
    return found


def planted_in(data: bytes) -> bool:
    """Whether ``data`` holds a planted secret in clear (so a leak check over it could fail)."""
    return any(secret[-PIECE:].encode() in data for secret in SECRETS.values())
