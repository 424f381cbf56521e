"""The OpenSearch sink: bulk indexing that loses nothing and never duplicates.

Request bodies are built in Polars (``enrich.documents.bulk_lines``: the record's redacted text plus
``@timestamp`` and ``waflens``, and the action line before it) and sent with the client's ``bulk`` on a
pool, over a gzip transport. opensearch-py's ``parallel_bulk`` helper would serialize every action and
re-encode every document in Python: 1.0 s per 50k documents against 0.36 s for the same bodies from
Polars, a quarter of the whole path (see ``waflens-dev bench``). The client still does transport, gzip and
SigV4.

Bodies are cut in ``encoder``; each item's verdict, the backoff and the request size after a 413 come
from ``retry``. This loop sends, collects verdicts and retries until the deadline (the run's, or the
batch's retry budget if that ends first): every round, split or not, is an attempt and is checked
against it, and each request's timeout is capped by the time left. A request that would have less than
``min_request_seconds`` is not sent; its documents are retryable. The client's own transport retries are
off: they resend at once, without backoff.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from opensearchpy import OpenSearch, TransportError

from enrich import schema as S
from enrich.documents import bulk_lines
from ingest import telemetry
from ingest.deadline import Deadline
from ingest.sinks.base import SinkResult
from ingest.sinks.opensearch.encoder import Chunk, bulk_chunks
from ingest.sinks.opensearch.retry import (
    UNSENT,
    Backoff,
    ItemOutcome,
    Verdict,
    failure_summary,
    next_request_bytes,
    request_outcomes,
    response_outcomes,
    without_values,
)


@dataclass(frozen=True)
class BulkOptions:
    """How bulk requests are sized and how long failures may be retried."""

    max_bytes: int = 5 << 20  # before compression; AWS's smallest instance types accept 10 MiB
    concurrency: int = 2
    retry_seconds: float = 120.0  # how long one batch's failures are retried (within the run's deadline)
    request_seconds: float = 30.0  # one request's timeout, capped by the time left
    min_request_seconds: float = 1.0  # a request with less time left than this is not sent
    backoff: Backoff = field(default_factory=Backoff)
    min_bytes: int = 64 << 10  # 413 never shrinks requests below this


class OpenSearchSink:
    """A ``Sink`` writing each document to its daily index with ``index`` (last write wins, same _id)."""

    name = "opensearch"
    projection = S.ENRICH_INPUT

    def __init__(
        self,
        client: OpenSearch,
        options: BulkOptions | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.options = options or BulkOptions()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._max_bytes = self.options.max_bytes  # lowered for good when the cluster answers 413

    def write(self, batch: pl.DataFrame, deadline: Deadline) -> SinkResult:
        """Index ``batch``; return what is still retryable at the deadline and what was rejected.

        Each round sends what is pending and counts as an attempt. Before the next one the deadline is
        checked: a 413 resends at once in smaller requests, anything else after a backoff.
        """
        pending = bulk_lines(batch.lazy()).collect(engine="streaming")  # on every core
        result = SinkResult()
        deadline = deadline.sooner(self.options.retry_seconds)
        sizes: dict[str, int] = {}  # request bytes of documents a 413 refused; the rest use _max_bytes
        attempt = 0
        while True:
            failed: dict[str, tuple[Verdict, str]] = {}
            for verdict, doc_id, reason, replaced in self._send(pending, sizes, deadline):
                if verdict == "ok":
                    if replaced:
                        result.present.add(doc_id)
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
            if "halt" in verdicts or wait + self.options.min_request_seconds > deadline.remaining():
                why = "refused the credentials" if "halt" in verdicts else "still failing at the deadline"
                result.retryable = set(pending[S.DOC_ID].to_list())
                result.retry_reason = f"opensearch {why}: {next(iter(failed.values()))[1]}"
                return result
            why = failure_summary(reason for _, reason in failed.values())
            telemetry.sink_retrying(telemetry.RetryRound("OpenSearch", attempt + 1, len(failed), why, wait))
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

    def _send(
        self, pending: pl.DataFrame, sizes: Mapping[str, int], deadline: Deadline
    ) -> Iterator[ItemOutcome]:
        with ThreadPoolExecutor(max_workers=self.options.concurrency) as pool:
            chunks = self._chunks(pending, sizes)
            for outcomes in pool.map(self._send_chunk, chunks, [deadline] * len(chunks)):
                yield from outcomes

    def _chunks(self, pending: pl.DataFrame, sizes: Mapping[str, int]) -> list[Chunk]:
        """Requests for ``pending``, each document in requests of its own size (smaller after a 413)."""
        if not sizes:
            return bulk_chunks(pending, self._max_bytes)
        size = pl.col(S.DOC_ID).replace_strict(dict(sizes), default=self._max_bytes, return_dtype=pl.Int64)
        groups = pending.with_columns(size.alias("_bytes")).partition_by("_bytes", as_dict=True)
        return [chunk for (max_bytes,), group in groups.items() for chunk in bulk_chunks(group, max_bytes)]

    def _send_chunk(self, chunk: Chunk, deadline: Deadline) -> list[ItemOutcome]:
        timeout = deadline.cap(self.options.request_seconds)
        if timeout < self.options.min_request_seconds:  # it could not finish in time: keep it unsent
            return [("retry", doc_id, UNSENT, False) for doc_id in chunk.ids]
        try:
            response: dict[str, Any] = self.client.bulk(body=chunk.body, request_timeout=timeout)
        except TransportError as exc:  # the whole request failed: every item shares its fate
            error = exc.info if isinstance(exc.info, dict) else {}
            error_type = error.get("error", {}).get("type") if isinstance(error.get("error"), dict) else None
            reason = f"HTTP {exc.status_code} {error_type or exc.error}: {_short(exc)}"
            return request_outcomes(chunk.ids, exc.status_code, error_type, reason)
        return response_outcomes(chunk.ids, response)


def _short(exc: TransportError) -> str:
    text = without_values(exc.info if exc.info is not None else exc.error)
    return text if len(text) <= 300 else f"{text[:300]}..."
