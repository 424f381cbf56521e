"""The one place that talks to Powertools Logger; callers name events, not log formats.

The CLI's stdout carries only the final JSON summary, so structured logs go to stderr.
"""

from __future__ import annotations

import logging
import sys
import traceback
from functools import cache
from pathlib import Path

from aws_lambda_powertools import Logger

from ingest.outcomes import RejectedRecord, RunSummary

SERVICE = "waflens"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (it is replaced by test runners and redirections)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # not setStream(): it flushes the old stream, which may be closed
        super().emit(record)


@cache
def logger() -> Logger:
    """The process's structured logger (built on first use, reused while warm)."""
    return Logger(service=SERVICE, logger_handler=_StderrHandler())


def records_rejected(records: list[RejectedRecord]) -> None:
    """Log each rejection by source, position and reason; never the record's bytes."""
    for record in records:
        logger().warning("record rejected", extra={"kind": record.kind, "where": record.describe()})


def records_retryable(count: int, reason: str) -> None:
    """A sink failed transiently for ``count`` records; the source must deliver them again."""
    logger().error("records retryable", extra={"count": count, "reason": reason})


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
