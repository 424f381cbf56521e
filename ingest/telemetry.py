"""The one place that talks to Powertools: logs, metrics and traces. Callers name events, not formats.

Logs go to stderr, because the CLI's stdout carries only its final JSON summary. Metrics are summed in
memory batch by batch and written as CloudWatch embedded metric format (EMF) documents when flushed
(``ingest.metrics``). Traces are X-Ray subsegments, recorded only inside Lambda. Nothing here logs,
counts or traces record content.
"""

from __future__ import annotations

import functools
import logging
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Final, Protocol, TypeVar, cast

import polars as pl
from aws_lambda_powertools import Logger, Tracer

from ingest import metrics
from ingest.outcomes import Outcome, RunSummary, position

SERVICE: Final = metrics.SERVICE
NAMESPACE: Final = metrics.NAMESPACE
MetricsMode = metrics.MetricsMode
MAX_PROBLEM_GROUPS: Final = 20  # groups of undelivered records named in one batch's log line
MAX_EXAMPLES: Final = 3  # positions quoted per group

E = TypeVar("E")
C = TypeVar("C")
R = TypeVar("R")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (it is replaced by test runners and redirections)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # not setStream(): it flushes the old stream, which may be closed
        super().emit(record)


@cache
def logger() -> Logger:
    """The process's structured logger (built on first use, reused while warm)."""
    return Logger(service=SERVICE, logger_handler=_StderrHandler())


def source_warning(source: str, problem: str) -> None:
    """A source's bytes ended early or had trailing garbage: records may be missing upstream."""
    logger().error("source incomplete", extra={"source": source, "problem": problem})


def run_finished(summary: RunSummary) -> None:
    """The run's counts, once."""
    logger().info("run finished", extra=summary.as_dict())


def describe_failure(exc: BaseException) -> str:
    """An unexpected error as its type and the waflens line it came from: never its message.

    Messages of parsers and data libraries can quote the data they choked on (request content).
    """
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if "/ingest/" in f.filename or "/enrich/" in f.filename
    ]
    where = f" at {_package_path(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return f"unexpected {type(exc).__name__}{where}; its records are retryable"


def _package_path(filename: str) -> str:
    """``ingest/decode/inflate.py`` from an absolute path: the file's path from its top-level package."""
    parts = Path(filename).parts
    start = max(i for i, part in enumerate(parts) if part in ("ingest", "enrich"))
    return "/".join(parts[start:])


def source_failed(source: str, reason: str) -> None:
    """An unexpected error stopped one source; the run went on with the next."""
    logger().error("source failed", extra={"source": source, "reason": reason})


def accounting_error(summary: RunSummary) -> None:
    """The counts do not balance: a bug in waflens, never a data problem."""
    logger().error("run counts do not balance", extra=summary.as_dict())


def batch_settled(outcomes: pl.DataFrame, *, bytes_in: int, documents: pl.DataFrame | None) -> None:
    """One batch settled into ``OUTCOMES`` rows: count it, and log it when records failed.

    One log line at most, however many records failed: reasons grouped, with a few positions each. A
    batch of one source names it (``source``); a batch shared by several counts them (``sources``) and
    each position names its source.
    Of ``documents`` (``None`` when the batch failed before enrichment) only the enrichment is read.
    """
    by_outcome = dict(outcomes.group_by("outcome").len().iter_rows())
    delivered = by_outcome.get(Outcome.DELIVERED.value, 0)
    rejected = by_outcome.get(Outcome.REJECTED.value, 0)
    retryable = by_outcome.get(Outcome.RETRYABLE.value, 0)
    if rejected or retryable:
        sources = outcomes["source"].unique(maintain_order=True)
        shared = len(sources) > 1
        groups = _problems(outcomes)
        log = logger().error if retryable else logger().warning
        log(
            "batch settled with problems",
            extra={
                **({"sources": len(sources)} if shared else {"source": sources[0]}),
                "records": outcomes.height,
                "delivered": delivered,
                "rejected": rejected,
                "retryable": retryable,
                "problems": _describe(groups.head(MAX_PROBLEM_GROUPS), with_source=shared),
                "problems_left_out": max(groups.height - MAX_PROBLEM_GROUPS, 0),
            },
        )
    metrics.record_batch([outcomes.height, delivered, rejected, retryable, bytes_in], documents)
    for watcher in _watchers:
        watcher.batch_settled(outcomes.height, bytes_in)


def _problems(outcomes: pl.DataFrame) -> pl.DataFrame:
    """Undelivered rows grouped by (outcome, kind, reason), biggest first, with their first positions."""
    return (
        outcomes.lazy()
        .filter(pl.col("outcome") != Outcome.DELIVERED.value)
        .sort("source", "line", "part", maintain_order=True)
        .group_by("outcome", "kind", "reason")
        .agg(count=pl.len(), examples=pl.struct("source", "line", "part").head(MAX_EXAMPLES))
        .sort(["count", "outcome", "kind", "reason"], descending=[True, False, False, False], nulls_last=True)
        .collect()
    )


def _describe(groups: pl.DataFrame, *, with_source: bool) -> list[dict[str, object]]:
    """The log's view of problem groups (at most ``MAX_PROBLEM_GROUPS`` rows, so a loop is cheap)."""
    return [
        g | {"examples": [_where(**e, with_source=with_source) for e in g["examples"]]}
        for g in groups.iter_rows(named=True)
    ]


def _where(source: str, line: int, part: int, *, with_source: bool) -> str:
    """``line 12`` or ``line 4, object 2`` (after the source's name in a shared batch); line 0 is the end
    of a damaged source (see ``OUTCOMES``)."""
    place = position(line, part) if line else "end of data"
    return f"{source} {place}" if with_source else place


@dataclass(frozen=True)
class RetryRound:
    """A sink about to send failed items again: counts and HTTP statuses only, never document content."""

    sink: str  # as people name it: "OpenSearch"
    round: int  # 1 for the first resend
    items: int
    why: str  # e.g. "429 Too Many Requests", from ``retry.failure_summary``
    wait_seconds: float


class Watcher(Protocol):
    """Someone following a run as it goes (the CLI's progress line): told counts, never record content."""

    def batch_settled(self, records: int, bytes_in: int) -> None: ...

    def sink_retrying(self, retry: RetryRound) -> None: ...


_watchers: list[Watcher] = []


@contextmanager
def watched_by(watcher: Watcher) -> Iterator[None]:
    """Tell ``watcher`` of every batch settled and every retry round while the block runs."""
    _watchers.append(watcher)
    try:
        yield
    finally:
        _watchers.remove(watcher)


def sink_retrying(retry: RetryRound) -> None:
    """A sink is failing and about to resend: one line per round, to the watchers, or else the log."""
    if not _watchers:
        logger().warning("sink retrying", extra=asdict(retry))
    for watcher in _watchers:
        watcher.sink_retrying(retry)


def account_tags_unavailable(reason: str, count: int) -> None:
    """AWS Organizations gave no tags for ``count`` accounts of a batch (``reason``: throttled, denied,
    not_in_organization, unavailable); their tags come from the config file alone. One log line."""
    logger().warning("account tags unavailable", extra={"reason": reason, "accounts": count})
    metrics.add(metrics.LOOKUPS_FAILED, count)


def records_over_budget(source: str, records: int, *, budget_bytes: int) -> None:
    """Records a response had no room for (Firehose's 6 MB): handed back for the source to keep, counted."""
    logger().warning(
        "response over budget", extra={"source": source, "records": records, "budget_bytes": budget_bytes}
    )
    metrics.add(metrics.OVER_BUDGET, records)


def configure_metrics(mode: MetricsMode) -> None:
    """Where metrics go: ``"off"``, ``"emf"`` (stdout, in Lambda) or a file EMF lines are appended to."""
    metrics.configure_metrics(mode)


def flush_metrics() -> None:
    """Write what the batches added up to since the last flush (see ``ingest.metrics``)."""
    metrics.flush_metrics()


@cache
def tracer() -> Tracer:
    """The process's X-Ray tracer; Powertools disables it outside Lambda (tests, the CLI, SAM local)."""
    return Tracer(service=SERVICE)


@contextmanager
def span(name: str) -> Iterator[None]:
    """An X-Ray subsegment ``## name`` around a step when tracing is on; nothing otherwise."""
    active = tracer()
    if active.disabled:
        yield
        return
    with active.provider.in_subsegment(name=f"## {name}"):
        yield


def instrument(handler: Callable[[E, C], R]) -> Callable[[E, C], R]:
    """A Lambda handler with its context in every log line, an X-Ray segment, and metrics flushed as EMF.

    Metrics are flushed after every invocation, also a failed one, in the mode the function's cold start
    chose with ``configure_metrics`` (``WAFLENS_METRICS``: EMF by default). The event, the response and error
    messages are neither logged nor traced, whatever Powertools' environment variables say: all three
    can carry record content.
    """

    @functools.wraps(handler)
    def flushing(event: E, context: C) -> R:
        try:
            return handler(event, context)
        finally:
            flush_metrics()

    traced = tracer().capture_lambda_handler(flushing, capture_response=False, capture_error=False)
    logged = logger().inject_lambda_context(traced, log_event=False, clear_state=True)
    return cast("Callable[[E, C], R]", logged)
