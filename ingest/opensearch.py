"""The OpenSearch sink: bulk indexing that loses nothing and never duplicates.

Request bodies are built in Polars (``enrich.documents.bulk_lines``: the record's redacted text plus
``@timestamp`` and ``waflens``, and the action line before it) and sent with the client's ``bulk`` on a
pool, over a gzip transport. opensearch-py's ``parallel_bulk`` helper would serialize every action and
re-encode every document in Python: 1.0 s per 50k documents against 0.36 s for the same bodies from
Polars, a quarter of the whole path (see ``waflens-dev bench``). The client still does transport, gzip and
SigV4.

Every item is classified: delivered, retryable (429, 5xx, timeouts, resets), split (413: resend in
smaller requests), halt (401/403: stop, retryable) or rejected (a 400 such as a mapping error, with
OpenSearch's reason). Retryable items are resent with exponential backoff and full jitter until the
deadline; what still fails then is reported retryable, and the source delivers it again. The client's
own transport retries are off: they resend at once, without backoff.

A 413 halves the request size of the documents it refused, down to ``BulkOptions.min_bytes``, and
from there sends them one per request: a proxy's body limit can sit below the floor, and a large
document need not come first in its request. A document refused alone is rejected. Every round,
split or not, is an attempt and is checked against the deadline.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import polars as pl
from opensearchpy import OpenSearch, TransportError

from enrich import schema as S
from enrich.documents import BULK_LINES, bulk_lines
from ingest.sinks import SinkResult

Verdict = Literal["ok", "retry", "split", "reject", "halt"]
RETRYABLE_STATUS: Final = frozenset({408, 429, 500, 502, 503, 504})
RETRYABLE_TYPES: Final = frozenset(
    {"es_rejected_execution_exception", "rejected_execution_exception", "circuit_breaking_exception"}
)


def classify(status: object, error_type: str | None) -> Verdict:
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
    """``classify``, knowing how many documents shared the request: one refused alone cannot be split."""
    verdict = classify(status, error_type)
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


@dataclass
class BulkOptions:
    """How bulk requests are sized and how long failures may be retried."""

    max_bytes: int = 5 << 20  # before compression; AWS's smallest instance types accept 10 MiB
    concurrency: int = 2
    deadline_seconds: float = 120.0
    backoff: Backoff = field(default_factory=Backoff)
    min_bytes: int = 64 << 10  # 413 never shrinks requests below this


@dataclass(frozen=True)
class Chunk:
    """One bulk request: the ids it carries, in order, and its NDJSON body."""

    ids: list[str]
    body: bytes


def bulk_chunks(lines: pl.DataFrame, max_bytes: int) -> list[Chunk]:
    """Bulk request bodies of about ``max_bytes`` each (at most one document more) from ``bulk_lines()``.

    The lines are joined once into one byte string and each body is a slice of it, cut at line ends:
    a group_by joining each chunk measured 0.25 s per 20k documents, this 0.05 s.
    """
    if lines.is_empty():
        return []
    size = pl.col(BULK_LINES).str.len_bytes().cast(pl.Int64)
    bounds = (
        lines.lazy()
        .select(size.cum_sum().alias("_end"), ((size.cum_sum() - size) // max_bytes).alias("_chunk"))
        .with_row_index("_row")
        .group_by("_chunk", maintain_order=True)
        .agg(pl.col("_row").last(), pl.col("_end").last())
        .collect()
    )
    blob: bytes = lines.select(pl.col(BULK_LINES).str.join("").cast(pl.Binary)).item()
    ids = lines[S.DOC_ID].to_list()
    chunks, row, offset = [], 0, 0
    for _, last_row, end in bounds.iter_rows():
        chunks.append(Chunk(ids[row : last_row + 1], blob[offset:end]))
        row, offset = last_row + 1, end
    return chunks


Outcome = tuple[Verdict, str, str, bool]  # verdict, _id, reason, replaced an existing document


def request_outcomes(ids: list[str], status: object, error_type: str | None, reason: str) -> list[Outcome]:
    """Every document's outcome when the whole request failed: they all share its fate."""
    verdict = request_verdict(status, error_type, documents=len(ids))
    return [(verdict, doc_id, reason, False) for doc_id in ids]


def response_outcomes(ids: list[str], response: Mapping[str, Any]) -> list[Outcome]:
    """Each document's outcome from a bulk response, matched to ``ids`` by position."""
    items = response.get("items")
    if not isinstance(items, list) or len(items) != len(ids):
        return [("retry", doc_id, "bulk response does not match the request", False) for doc_id in ids]
    return [_item_outcome(doc_id, item, documents=len(ids)) for doc_id, item in zip(ids, items, strict=True)]


def _item_outcome(doc_id: str, item: dict[str, Any], *, documents: int) -> Outcome:
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


class OpenSearchSink:
    """A ``Sink`` writing each document to its daily index with ``index`` (last write wins, same _id)."""

    name = "opensearch"
    projection = S.ENRICH_INPUT

    def __init__(
        self,
        client: OpenSearch,
        options: BulkOptions | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.options = options or BulkOptions()
        self._clock, self._sleep = clock, sleep
        self._rng = rng or random.Random()
        self._max_bytes = self.options.max_bytes  # lowered for good when the cluster answers 413

    def write(self, batch: pl.DataFrame) -> SinkResult:
        """Index ``batch``; return what is still retryable at the deadline and what was rejected.

        Each round sends what is pending and counts as an attempt. Before the next one the deadline is
        checked: a 413 resends at once in smaller requests, anything else after a backoff.
        """
        pending = bulk_lines(batch.lazy()).collect()
        result = SinkResult()
        deadline = self._clock() + self.options.deadline_seconds
        sizes: dict[str, int] = {}  # request bytes of documents a 413 refused; the rest use _max_bytes
        attempt = 0
        while True:
            failed: dict[str, tuple[Verdict, str]] = {}
            for verdict, doc_id, reason, replaced in self._send(pending, sizes):
                if verdict == "ok":
                    result.already_present += replaced
                elif verdict == "reject":
                    result.rejected[doc_id] = reason
                else:
                    failed[doc_id] = (verdict, reason)
            pending = pending.filter(pl.col(S.DOC_ID).is_in(list(failed)))
            if pending.is_empty():
                return result
            self._shrink(failed, sizes)
            verdicts = {verdict for verdict, _ in failed.values()}
            wait = 0.0 if verdicts == {"split"} else self.options.backoff.delay(attempt, self._rng)
            if "halt" in verdicts or self._clock() + wait >= deadline:
                why = "refused the credentials" if "halt" in verdicts else "still failing at the deadline"
                result.retryable = set(pending[S.DOC_ID].to_list())
                result.retry_reason = f"opensearch {why}: {next(iter(failed.values()))[1]}"
                return result
            if wait:
                self._sleep(wait)
            attempt += 1

    def _shrink(self, failed: Mapping[str, tuple[Verdict, str]], sizes: dict[str, int]) -> None:
        """Give each document a 413 refused a smaller request, and keep the size for later batches."""
        sent_at = self._max_bytes
        for doc_id, (verdict, _) in failed.items():
            if verdict == "split":
                sizes[doc_id] = next_request_bytes(sizes.get(doc_id, sent_at), self.options.min_bytes)
        if sizes:
            self._max_bytes = min(self._max_bytes, max(self.options.min_bytes, min(sizes.values())))

    def _send(self, pending: pl.DataFrame, sizes: Mapping[str, int]) -> Iterator[Outcome]:
        with ThreadPoolExecutor(max_workers=self.options.concurrency) as pool:
            for outcomes in pool.map(self._send_chunk, self._chunks(pending, sizes)):
                yield from outcomes

    def _chunks(self, pending: pl.DataFrame, sizes: Mapping[str, int]) -> list[Chunk]:
        """Requests for ``pending``, each document in requests of its own size (smaller after a 413)."""
        if not sizes:
            return bulk_chunks(pending, self._max_bytes)
        size = pl.col(S.DOC_ID).replace_strict(dict(sizes), default=self._max_bytes, return_dtype=pl.Int64)
        groups = pending.with_columns(size.alias("_bytes")).partition_by("_bytes", as_dict=True)
        return [chunk for (max_bytes,), group in groups.items() for chunk in bulk_chunks(group, max_bytes)]

    def _send_chunk(self, chunk: Chunk) -> list[Outcome]:
        try:
            response: dict[str, Any] = self.client.bulk(body=chunk.body)
        except TransportError as exc:  # the whole request failed: every item shares its fate
            error = exc.info if isinstance(exc.info, dict) else {}
            error_type = error.get("error", {}).get("type") if isinstance(error.get("error"), dict) else None
            reason = f"HTTP {exc.status_code} {error_type or exc.error}: {_short(exc)}"
            return request_outcomes(chunk.ids, exc.status_code, error_type, reason)
        return response_outcomes(chunk.ids, response)


_QUOTED: Final = re.compile(r"""'[^']*'|"[^"]*"|\[[^\]]*\]""")
_PREVIEW: Final = re.compile(r"\.?\s*Preview of field's value.*", re.DOTALL)


def without_values(reason: object) -> str:
    """OpenSearch's error reason with every quoted value cut out: reasons quote the document.

    ``failed to parse field [a] … Preview of field's value: 'secret'`` keeps the field names in
    brackets, which are the mapping's; quoted text (values, ids) becomes ``'…'``.
    """
    text = _PREVIEW.sub("", str(reason))
    return _QUOTED.sub(lambda m: m.group() if m.group()[0] == "[" else f"{m.group()[0]}…{m.group()[0]}", text)


def _short(exc: TransportError) -> str:
    text = without_values(exc.info if exc.info is not None else exc.error)
    return text if len(text) <= 300 else f"{text[:300]}..."
