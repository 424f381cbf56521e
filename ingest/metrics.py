"""Metrics: counts summed in memory batch by batch, written as CloudWatch EMF documents when flushed.

To stdout in Lambda, where CloudWatch Logs extracts them, or appended to a file by the CLI. Built with
Powertools Metrics, so the documents are Powertools' own. ``ingest.telemetry`` is the interface.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import polars as pl
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from enrich.schema import ENRICHMENT, UNKNOWN_ACCOUNT

SERVICE: Final = "waflens"
NAMESPACE: Final = "waflens"  # POWERTOOLS_METRICS_NAMESPACE overrides it, as everywhere in Powertools

MetricsMode = Literal["off", "emf"] | Path

_COUNTERS: Final = ("RecordsIn", "RecordsDelivered", "RecordsRejected", "RecordsRetryable", "BytesIn")
OVER_BUDGET: Final = "RecordsOverBudget"  # a handler's, written beside the run's counters when not zero
LOOKUPS_FAILED: Final = "AccountTagLookupsFailed"  # written only when non-zero
_BLOCKED_DIMENSIONS: Final = ("WebACL", "Account", "Team")
_BLOCKED: Final = pl.Schema({**dict.fromkeys(_BLOCKED_DIMENSIONS, pl.String), "BlockedRequests": pl.Int64})
_MAX_DIMENSION_VALUE: Final = 1024  # CloudWatch: 1-1024 characters, at least one not whitespace


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


def record_batch(counts: list[int], documents: pl.DataFrame | None) -> None:
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
    if totals.counts[OVER_BUDGET]:
        counters[OVER_BUDGET] = (MetricUnit.Count, totals.counts[OVER_BUDGET])
    if totals.counts[LOOKUPS_FAILED]:
        counters[LOOKUPS_FAILED] = (MetricUnit.Count, totals.counts[LOOKUPS_FAILED])
    documents = [_document(counters, {"service": SERVICE})]
    for webacl, account, team, count in totals.blocked.sort(_BLOCKED_DIMENSIONS).iter_rows():
        blocked = {"BlockedRequests": (MetricUnit.Count, count)}
        documents.append(_document(blocked, {"WebACL": webacl, "Account": account, "Team": team}))
    if mode == "emf":
        for document in documents:
            document.flush_metrics(raise_on_empty_metrics=True)  # print()s to stdout, as in Lambda
        return
    lines = [json.dumps(d.serialize_metric_set(), separators=(",", ":")) + "\n" for d in documents]
    mode.parent.mkdir(parents=True, exist_ok=True)  # the CLI checked before the run that it can be made
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


def add(counter: str, value: int) -> None:
    """Add ``value`` to an occasional counter (``OVER_BUDGET``, ``LOOKUPS_FAILED``) unless metrics are off."""
    if _metrics.mode != "off":
        with _lock:
            _metrics.totals.counts[counter] += value
