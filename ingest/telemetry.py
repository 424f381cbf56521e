"""The one place that talks to Powertools: logs, metrics and traces. Callers name events, not formats.

Logs go to stderr, because the CLI's stdout carries only its final JSON summary. Metrics are summed in
memory batch by batch and written as CloudWatch embedded metric format (EMF) documents when flushed:
to stdout in Lambda, where CloudWatch Logs extracts them, or appended to a file by the CLI. Traces are
X-Ray subsegments, recorded only inside Lambda. Nothing here logs, counts or traces record content.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Final, Literal, TypeVar, cast

import polars as pl
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from enrich.schema import ENRICHMENT, UNKNOWN_ACCOUNT
from ingest.outcomes import Outcome, RunSummary, position

SERVICE = "waflens"
NAMESPACE: Final = "waflens"  # POWERTOOLS_METRICS_NAMESPACE overrides it, as everywhere in Powertools
MAX_PROBLEM_GROUPS: Final = 20  # groups of undelivered records named in one batch's log line
MAX_EXAMPLES: Final = 3  # positions quoted per group

MetricsMode = Literal["off", "emf"] | Path

_COUNTERS: Final = ("RecordsIn", "RecordsDelivered", "RecordsRejected", "RecordsRetryable", "BytesIn")
_OVER_BUDGET: Final = "RecordsOverBudget"  # a handler's, written beside the run's counters when not zero
_LOOKUPS_FAILED: Final = "AccountTagLookupsFailed"  # written only when non-zero
_BLOCKED_DIMENSIONS: Final = ("WebACL", "Account", "Team")
_BLOCKED: Final = pl.Schema({**dict.fromkeys(_BLOCKED_DIMENSIONS, pl.String), "BlockedRequests": pl.Int64})
_MAX_DIMENSION_VALUE: Final = 1024  # CloudWatch: 1-1024 characters, at least one not whitespace

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


def batch_settled(
    source: str, outcomes: pl.DataFrame, *, bytes_in: int, documents: pl.DataFrame | None
) -> None:
    """One batch of ``source`` settled into ``OUTCOMES`` rows: count it, and log it when records failed.

    One log line at most, however many records failed: reasons grouped, with a few positions each.
    Of ``documents`` (``None`` when the batch failed before enrichment) only the enrichment is read.
    """
    by_outcome = dict(outcomes.group_by("outcome").len().iter_rows())
    delivered = by_outcome.get(Outcome.DELIVERED.value, 0)
    rejected = by_outcome.get(Outcome.REJECTED.value, 0)
    retryable = by_outcome.get(Outcome.RETRYABLE.value, 0)
    if rejected or retryable:
        groups = _problems(outcomes)
        log = logger().error if retryable else logger().warning
        log(
            "batch settled with problems",
            extra={
                "source": source,
                "records": outcomes.height,
                "delivered": delivered,
                "rejected": rejected,
                "retryable": retryable,
                "problems": _describe(groups.head(MAX_PROBLEM_GROUPS)),
                "problems_left_out": max(groups.height - MAX_PROBLEM_GROUPS, 0),
            },
        )
    _record([outcomes.height, delivered, rejected, retryable, bytes_in], documents)


def _problems(outcomes: pl.DataFrame) -> pl.DataFrame:
    """Undelivered rows grouped by (outcome, kind, reason), biggest first, with their first positions."""
    return (
        outcomes.lazy()
        .filter(pl.col("outcome") != Outcome.DELIVERED.value)
        .sort("line", "part")
        .group_by("outcome", "kind", "reason")
        .agg(count=pl.len(), examples=pl.struct("line", "part").head(MAX_EXAMPLES))
        .sort(["count", "outcome", "kind", "reason"], descending=[True, False, False, False], nulls_last=True)
        .collect()
    )


def _describe(groups: pl.DataFrame) -> list[dict[str, object]]:
    """The log's view of problem groups (at most ``MAX_PROBLEM_GROUPS`` rows, so a loop is cheap)."""
    return [g | {"examples": [_where(**e) for e in g["examples"]]} for g in groups.iter_rows(named=True)]


def _where(line: int, part: int) -> str:
    """``line 12`` or ``line 4, object 2``; line 0 is the end of a damaged source (see ``OUTCOMES``)."""
    return position(line, part) if line else "end of data"


@dataclass
class _Totals:
    """What the batches settled since the last flush added up to."""

    batches: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    blocked: pl.DataFrame = field(default_factory=_BLOCKED.to_frame)


@dataclass
class _Metrics:
    """The process's metrics: where they go, and what waits for the next flush."""

    mode: MetricsMode = "off"
    totals: _Totals = field(default_factory=_Totals)


_metrics = _Metrics()
_lock = threading.Lock()  # the pipeline settles batches on one thread, but a flush must not split one


def configure_metrics(mode: MetricsMode) -> None:
    """Where metrics go: ``"off"``, ``"emf"`` (stdout, in Lambda) or a file that EMF lines are appended to.

    Anything summed under the previous mode and not flushed is dropped.
    """
    if not (mode in ("off", "emf") or isinstance(mode, Path)):
        raise ValueError(f"metrics mode must be 'off', 'emf' or a file path, not {mode!r}")
    with _lock:
        _metrics.mode = mode
        _metrics.totals = _Totals()


def _record(counts: list[int], documents: pl.DataFrame | None) -> None:
    """Add one batch's counters (in ``_COUNTERS`` order) to the totals; nothing when metrics are off."""
    if _metrics.mode == "off":
        return
    blocked = _BLOCKED.to_frame() if documents is None else _blocked(documents)
    with _lock:
        totals = _metrics.totals
        totals.batches += 1
        totals.counts.update(dict(zip(_COUNTERS, counts, strict=True)))
        totals.blocked = (
            pl.concat([totals.blocked, blocked])
            .group_by(_BLOCKED_DIMENSIONS)
            .agg(pl.col("BlockedRequests").sum())
        )


def account_tags_unavailable(reason: str, count: int) -> None:
    """AWS Organizations gave no tags for ``count`` accounts of a batch (``reason``: throttled, denied,
    not_in_organization, unavailable); their tags come from the config file alone. One log line."""
    logger().warning("account tags unavailable", extra={"reason": reason, "accounts": count})
    if _metrics.mode != "off":
        with _lock:
            _metrics.totals.counts[_LOOKUPS_FAILED] += count


def _blocked(documents: pl.DataFrame) -> pl.DataFrame:
    """Blocked requests counted per web ACL, account and the team owning the rule that blocked them."""
    enrichment = pl.col(ENRICHMENT)
    webacl = enrichment.struct.field("webacl")
    team = enrichment.struct.field("terminating").struct.field("owner").struct.field("team")
    return (
        documents.lazy()
        .filter(enrichment.struct.field("blocked"))
        .group_by(
            _dimension(webacl.struct.field("name"), "unknown").alias("WebACL"),
            _dimension(webacl.struct.field("account_id"), UNKNOWN_ACCOUNT).alias("Account"),
            _dimension(team, "unowned").alias("Team"),
        )
        .agg(BlockedRequests=pl.len().cast(pl.Int64))
        .collect()
    )


def _dimension(value: pl.Expr, fallback: str) -> pl.Expr:
    """A valid CloudWatch dimension value, ``fallback`` when missing or blank (Powertools drops those)."""
    usable = value.str.strip_chars().str.len_chars() > 0
    return pl.when(usable).then(value.str.slice(0, _MAX_DIMENSION_VALUE)).otherwise(pl.lit(fallback))


def records_over_budget(source: str, records: int, *, budget_bytes: int) -> None:
    """Records a response had no room for (Firehose's 6 MB): handed back for the source to keep, counted."""
    logger().warning(
        "response over budget", extra={"source": source, "records": records, "budget_bytes": budget_bytes}
    )
    with _lock:
        _metrics.totals.counts[_OVER_BUDGET] += records


def flush_metrics() -> None:
    """Write what the batches added up to since the last flush, then start again from zero.

    One EMF document holds the run's counters (dimension ``service``), one more each web ACL, account
    and team with blocked requests. Nothing when no batch settled, metrics are off or Powertools' are.
    """
    with _lock:
        mode, totals = _metrics.mode, _metrics.totals
        _metrics.totals = _Totals()
    if mode == "off" or totals.batches == 0 or is_metrics_disabled():
        return
    counters = {name: (_unit(name), totals.counts[name]) for name in _COUNTERS}
    if totals.counts[_OVER_BUDGET]:
        counters[_OVER_BUDGET] = (MetricUnit.Count, totals.counts[_OVER_BUDGET])
    if totals.counts[_LOOKUPS_FAILED]:
        counters[_LOOKUPS_FAILED] = (MetricUnit.Count, totals.counts[_LOOKUPS_FAILED])
    documents = [_document(counters, {"service": SERVICE})]
    for webacl, account, team, count in totals.blocked.sort(_BLOCKED_DIMENSIONS).iter_rows():
        blocked = {"BlockedRequests": (MetricUnit.Count, count)}
        documents.append(_document(blocked, {"WebACL": webacl, "Account": account, "Team": team}))
    if mode == "emf":
        for document in documents:
            document.flush_metrics(raise_on_empty_metrics=True)  # print()s to stdout, as in Lambda
        return
    lines = [json.dumps(d.serialize_metric_set(), separators=(",", ":")) + "\n" for d in documents]
    with mode.open("a", encoding="utf-8") as sink:
        sink.writelines(lines)


def _unit(counter: str) -> MetricUnit:
    return MetricUnit.Bytes if counter == "BytesIn" else MetricUnit.Count


def _document(metrics: dict[str, tuple[MetricUnit, int]], dimensions: dict[str, str]) -> EphemeralMetrics:
    """One EMF document built (and validated) by Powertools: a few metrics sharing one set of dimensions.

    Each holds far fewer than Powertools' 100 metrics, past which ``add_metric`` prints on its own.
    """
    # EphemeralMetrics keeps its own metric set (Metrics() shares one across the process); service=""
    # keeps POWERTOOLS_SERVICE_NAME from adding a dimension, so each document has only those named here.
    document = EphemeralMetrics(service="")
    document.namespace = document.namespace or NAMESPACE
    for name, (unit, value) in metrics.items():
        document.add_metric(name=name, unit=unit, value=value)
    for key, label in dimensions.items():
        document.add_dimension(name=key, value=label)
    return document


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
