"""The OpenSearch sink: bulk indexing that loses nothing and never duplicates.

Documents are serialized in Polars (``enrich.documents``) and handed to opensearch-py's
``parallel_bulk`` helper, which chunks them by bytes and sends chunks concurrently over a gzip
transport. Every item's result is classified: delivered, retryable (429, 5xx, timeouts, resets, auth
trouble), split (413: resend in smaller requests) or rejected (a 400 such as a mapping error, with
OpenSearch's reason). Retryable items are resent with exponential backoff and full jitter until the
deadline; what is still failing then is reported retryable, and the source delivers it again. The
client's own transport retries are off: they resend at once, without backoff.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import polars as pl
from opensearchpy import OpenSearch, helpers

from enrich import schema as S
from enrich.documents import DOCUMENT, documents
from ingest.sinks import SinkResult

Verdict = Literal["ok", "retry", "split", "reject", "halt"]
RETRYABLE_STATUS: Final = frozenset({408, 429, 500, 502, 503, 504})
_ACTION_LINE_BYTES: Final = 128  # an upper bound for {"index":{"_index":...,"_id":...}} and two newlines


def classify(status: object, error_type: str | None) -> Verdict:
    """What to do with one bulk item, from its status and OpenSearch's error type."""
    if isinstance(status, int) and 200 <= status < 300:
        return "ok"
    if status == 413:
        return "split"
    if status in (401, 403):
        return "halt"  # credentials or permissions: retrying now cannot help, the records are fine
    if not isinstance(status, int) or status in RETRYABLE_STATUS:
        return "retry"  # 'N/A' is opensearch-py's status for connection errors and timeouts
    if error_type in (
        "es_rejected_execution_exception",
        "rejected_execution_exception",
        "circuit_breaking_exception",
    ):
        return "retry"
    return "reject"


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

    max_bytes: int = 5 << 20  # uncompressed; AWS's smallest instance types accept 10 MiB
    max_docs: int = 5000
    concurrency: int = 2
    deadline_seconds: float = 120.0
    backoff: Backoff = field(default_factory=Backoff)
    min_bytes: int = 64 << 10  # below this a 413 means one document is too large


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
        """Index ``batch``; return what is still retryable at the deadline and what was rejected."""
        docs = documents(batch.lazy()).collect()
        pending = list(zip(docs[S.DOC_INDEX], docs[S.DOC_ID], docs[DOCUMENT], strict=True))
        result = SinkResult()
        deadline = self._clock() + self.options.deadline_seconds
        attempt, last_error = 0, ""
        while pending:
            retry: list[tuple[str, str, str]] = []
            split = halted = False
            by_id = {doc_id: (index, doc_id, doc) for index, doc_id, doc in pending}
            for verdict, doc_id, reason, updated in self._send(pending, self._max_bytes):
                if verdict == "ok":
                    result.already_present += updated
                elif verdict == "reject":
                    result.rejected[doc_id] = reason
                elif verdict == "split" and self._alone(by_id[doc_id][2]):
                    result.rejected[doc_id] = (
                        f"{reason} (the document alone is {len(by_id[doc_id][2])} bytes)"
                    )
                else:
                    split |= verdict == "split"
                    halted |= verdict == "halt"
                    last_error = reason
                    retry.append(by_id[doc_id])
            pending = retry
            if not pending:
                break
            if halted:
                result.retryable = {doc_id for _, doc_id, _ in pending}
                result.retry_reason = f"opensearch refused the credentials: {last_error}"
                break
            if split:  # resend at once, in smaller requests, and keep that size for later batches
                self._max_bytes = max(self.options.min_bytes, self._max_bytes // 2)
                continue
            wait = self.options.backoff.delay(attempt, self._rng)
            if self._clock() + wait >= deadline:
                result.retryable = {doc_id for _, doc_id, _ in pending}
                result.retry_reason = f"opensearch: still failing at the deadline: {last_error}"
                break
            self._sleep(wait)
            attempt += 1
        return result

    def _alone(self, document: str) -> bool:
        """True when a document was sent alone, so a 413 is about the document, not the request.

        The helpers' chunker starts a new request for a document that does not fit beside the others, and
        closes it after a document at least as large as the limit: such a document always travels alone.
        """
        return (
            len(document) + _ACTION_LINE_BYTES >= self._max_bytes or self._max_bytes <= self.options.min_bytes
        )

    def _send(
        self, pending: list[tuple[str, str, str]], max_bytes: int
    ) -> Iterator[tuple[Verdict, str, str, int]]:
        """One pass of parallel bulk requests: (verdict, _id, reason, 1 if it replaced a document)."""
        results = helpers.parallel_bulk(
            self.client,
            pending,
            thread_count=self.options.concurrency,
            chunk_size=self.options.max_docs,
            max_chunk_bytes=max_bytes,
            expand_action_callback=_expand,
            raise_on_error=False,
            raise_on_exception=False,
        )
        for _ok, item in results:
            info: dict[str, Any] = next(iter(item.values()))
            error = info.get("error")
            error_type = error.get("type") if isinstance(error, dict) else None
            verdict = classify(info.get("status"), error_type)
            yield (
                verdict,
                str(info["_id"]),
                _reason(info.get("status"), error),
                int(info.get("result") == "updated"),
            )


def _expand(item: tuple[str, str, str]) -> tuple[dict[str, dict[str, str]], str]:
    """The helpers' action and source for a pre-serialized document (strings pass through unchanged)."""
    index, doc_id, doc = item
    return {"index": {"_index": index, "_id": doc_id}}, doc


def _reason(status: object, error: object) -> str:
    if isinstance(error, dict):
        return f"HTTP {status} {error.get('type')}: {error.get('reason')}"
    return f"HTTP {status}: {error}"
