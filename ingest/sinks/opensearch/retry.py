"""The sink's retry logic, pure: from a bulk response (or a failed request) to each document's verdict.

Every item is classified: delivered, retryable (429, 5xx, timeouts, resets), split (413: resend in
smaller requests), halt (401/403: stop, retryable) or rejected (a 400 such as a mapping error, with
OpenSearch's reason). Retryable items are resent with exponential backoff and full jitter until the
deadline; what still fails then is reported retryable, and the source delivers it again.

A 413 halves the request size of the documents it refused, down to ``BulkOptions.min_bytes``, and
from there sends them one per request: a proxy's body limit can sit below the floor, and a large
document need not come first in its request. A document refused alone is rejected.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final, Literal

Verdict = Literal["ok", "retry", "split", "reject", "halt"]
RETRYABLE_STATUS: Final = frozenset({408, 429, 500, 502, 503, 504})
RETRYABLE_TYPES: Final = frozenset(
    {"es_rejected_execution_exception", "rejected_execution_exception", "circuit_breaking_exception"}
)


UNSENT: Final = "the deadline came before it was sent"
MISMATCHED: Final = "bulk response does not match the request"


def item_verdict(status: object, error_type: str | None) -> Verdict:
    """What to do with one bulk item, from its status and OpenSearch's error type."""
    if isinstance(status, int) and 200 <= status < 300:
        return "ok"
    if status == 413:
        return "split"
    if status in (401, 403):
        return "halt"  # credentials or permissions: retrying now cannot help, the records are fine
    if not isinstance(status, int) or status in RETRYABLE_STATUS or error_type in RETRYABLE_TYPES:
        return "retry"  # 'N/A' is opensearch-py's status for connection errors and timeouts
    return "reject"


def request_verdict(status: object, error_type: str | None, *, documents: int) -> Verdict:
    """``item_verdict``, knowing how many documents shared the request: one refused alone cannot be split."""
    verdict = item_verdict(status, error_type)
    return "reject" if verdict == "split" and documents == 1 else verdict


ONE_DOCUMENT: Final = 1  # a request size at which ``bulk_chunks`` puts every document in its own request


def next_request_bytes(previous: int, floor: int) -> int:
    """The request size for documents a 413 refused at ``previous`` bytes: half, never below ``floor``;
    once at the floor, one document per request (a proxy's body limit can be lower than any floor)."""
    return max(floor, previous // 2) if previous > floor else ONE_DOCUMENT


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter (a random wait up to base * 2**attempt, capped)."""

    base: float = 0.5
    cap: float = 20.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        return rng.uniform(0, min(self.cap, self.base * 2**attempt))


ItemOutcome = tuple[Verdict, str, str, bool]  # verdict, _id, reason, replaced an existing document


def request_outcomes(
    ids: list[str], status: object, error_type: str | None, reason: str
) -> list[ItemOutcome]:
    """Every document's outcome when the whole request failed: they all share its fate."""
    verdict = request_verdict(status, error_type, documents=len(ids))
    return [(verdict, doc_id, reason, False) for doc_id in ids]


def response_outcomes(ids: list[str], response: Mapping[str, Any]) -> list[ItemOutcome]:
    """Each document's outcome from a bulk response, matched to ``ids`` by position."""
    items = response.get("items")
    if not isinstance(items, list) or len(items) != len(ids):
        return [("retry", doc_id, MISMATCHED, False) for doc_id in ids]
    return [_item_outcome(doc_id, item, documents=len(ids)) for doc_id, item in zip(ids, items, strict=True)]


def _item_outcome(doc_id: str, item: dict[str, Any], *, documents: int) -> ItemOutcome:
    info: dict[str, Any] = next(iter(item.values()))
    status = info.get("status")
    error = info.get("error")
    if isinstance(error, dict):
        return (
            request_verdict(status, error.get("type"), documents=documents),
            doc_id,
            f"HTTP {status} {error.get('type')}: {without_values(error.get('reason'))}",
            False,
        )
    verdict = request_verdict(status, None, documents=documents)
    return verdict, doc_id, f"HTTP {status}", info.get("result") == "updated"


_QUOTED: Final = re.compile(r"""'[^']*'|"[^"]*"|\[[^\]]*\]""")
_PREVIEW: Final = re.compile(r"\.?\s*Preview of field's value.*", re.DOTALL)


def without_values(reason: object) -> str:
    """OpenSearch's error reason with every quoted value cut out: reasons quote the document.

    ``failed to parse field [a] … Preview of field's value: 'secret'`` keeps the field names in
    brackets, which are the mapping's; quoted text (values, ids) becomes ``'…'``.
    """
    text = _PREVIEW.sub("", str(reason))
    return _QUOTED.sub(lambda m: m.group() if m.group()[0] == "[" else f"{m.group()[0]}…{m.group()[0]}", text)


_STATUS: Final = re.compile(r"HTTP (\S+)")
_NO_RESPONSE: Final = {"N/A": "connection failed", "TIMEOUT": "timed out"}  # opensearch-py's pseudo-statuses


def failure_summary(reasons: Iterable[str]) -> str:
    """What failed in a round, by status, most first: ``429 Too Many Requests``, or with counts when
    there are several (``429 Too Many Requests: 30, 503 Service Unavailable: 7``). Reasons can quote
    documents, so only the status they start with is read, never the rest."""
    counts = Counter(_failure_kind(reason) for reason in reasons)
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{kind}: {count}" for kind, count in counts.most_common())


def _failure_kind(reason: str) -> str:
    if reason in (UNSENT, MISMATCHED):
        return reason
    status = _STATUS.match(reason)
    code = status.group(1) if status else ""
    if not code.isdigit():
        return _NO_RESPONSE.get(code, "failed")
    try:
        return f"{code} {HTTPStatus(int(code)).phrase}"
    except ValueError:  # a status http.HTTPStatus does not name
        return f"HTTP {code}"
