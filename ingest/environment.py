"""Settings from the environment (Lambda): every variable name waflens reads, in one place.

Each mistake is one sentence naming the variable; a password is never quoted back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final, Protocol, TypeVar

from enrich.config import ConfigError
from ingest.accounts import DEFAULT_TTL_SECONDS
from ingest.compose import FIELD_NAMES, AccountTagSource, FirehoseMode, Settings
from ingest.deadline import Clock, Deadline
from ingest.metrics import MetricsMode
from ingest.run import Limits
from ingest.sinks.opensearch.client import Endpoint
from ingest.sinks.opensearch.service import BulkOptions

ENV_CONFIG: Final = "WAFLENS_CONFIG"  # path of the config file (TOML or JSON)
ENV_LAKE: Final = "WAFLENS_LAKE"  # Parquet lake: a folder or s3://bucket/prefix
ENV_DEAD_LETTER: Final = "WAFLENS_DEAD_LETTER"  # dead-letter store: a folder or s3://bucket/prefix
ENV_OPENSEARCH_URL: Final = "WAFLENS_OPENSEARCH_URL"
ENV_OPENSEARCH_AUTH: Final = "WAFLENS_OPENSEARCH_AUTH"  # auto, none, basic or sigv4
ENV_AWS_SERVICE: Final = "WAFLENS_AWS_SERVICE"  # es or aoss (default: from the host)
ENV_REGION: Final = "AWS_REGION"  # SigV4 region and the region of s3:// targets; set by Lambda
ENV_DEFAULT_REGION: Final = "AWS_DEFAULT_REGION"  # the AWS CLI's name for it; read when AWS_REGION is unset
ENV_USERNAME: Final = "OPENSEARCH_USERNAME"  # basic auth; the CLI reads these too
ENV_PASSWORD: Final = "OPENSEARCH_PASSWORD"
ENV_REQUEST_SECONDS: Final = "WAFLENS_REQUEST_SECONDS"  # one request's timeout
ENV_BATCH_RECORDS: Final = "WAFLENS_BATCH_RECORDS"
ENV_BULK_BYTES: Final = "WAFLENS_BULK_BYTES"
ENV_BULK_CONCURRENCY: Final = "WAFLENS_BULK_CONCURRENCY"
ENV_RETRY_SECONDS: Final = "WAFLENS_RETRY_SECONDS"  # how long one batch's failures are retried
ENV_DEADLINE_MARGIN: Final = "WAFLENS_DEADLINE_MARGIN_SECONDS"  # stop this long before the timeout
ENV_METRICS: Final = "WAFLENS_METRICS"  # emf (default in Lambda) or off
ENV_FIREHOSE_MODE: Final = "WAFLENS_FIREHOSE_MODE"  # a Firehose function: transform or index
ENV_ACCOUNT_TAGS: Final = "WAFLENS_ACCOUNT_TAGS"  # organizations or off (default)
ENV_ACCOUNT_TAGS_TTL: Final = (
    "WAFLENS_ACCOUNT_TAGS_TTL_SECONDS"  # how long AWS Organizations' answers are kept
)

ENV_NAMES: Final = {
    **FIELD_NAMES,
    "lake": ENV_LAKE,
    "dead_letter": ENV_DEAD_LETTER,
    "opensearch": ENV_OPENSEARCH_URL,
    "batch_records": ENV_BATCH_RECORDS,
    "bulk_bytes": ENV_BULK_BYTES,
    "bulk_concurrency": ENV_BULK_CONCURRENCY,
    "deadline": ENV_DEADLINE_MARGIN,
    "account_tags": ENV_ACCOUNT_TAGS,
    "account_tags_ttl": ENV_ACCOUNT_TAGS_TTL,
}

T = TypeVar("T")


def _read(environ: Mapping[str, str], name: str, parse: Callable[[str], T], what: str, default: T) -> T:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        return parse(text)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, not {text!r}") from None


def _seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return value


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(text)
        return text

    return parse


def settings_from_environ(environ: Mapping[str, str]) -> Settings:
    """The settings a Lambda function is configured with (see the README for each variable)."""
    url = environ.get(ENV_OPENSEARCH_URL, "").strip()
    endpoint = None
    if url:
        auth = _read(
            environ,
            ENV_OPENSEARCH_AUTH,
            _choice("auto", "none", "basic", "sigv4"),
            "one of auto, none, basic, sigv4",
            "auto",
        )
        service = _read(environ, ENV_AWS_SERVICE, _choice("es", "aoss"), "es or aoss", None)
        endpoint = Endpoint(
            url=url,
            auth=auth,  # type: ignore[arg-type]  # checked by _choice
            service=service,  # type: ignore[arg-type]
            region=environ.get(ENV_REGION) or None,
            username=environ.get(ENV_USERNAME) or None,
            password=environ.get(ENV_PASSWORD) or None,
            timeout=_read(environ, ENV_REQUEST_SECONDS, _seconds, "a number of seconds", 30.0),
        )
        endpoint.resolved()  # an unusable URL or missing credentials fail now, in one sentence
    bulk = BulkOptions(
        max_bytes=_read(environ, ENV_BULK_BYTES, int, "a whole number of bytes", BulkOptions.max_bytes),
        concurrency=_read(environ, ENV_BULK_CONCURRENCY, int, "a whole number", BulkOptions.concurrency),
        retry_seconds=_read(
            environ, ENV_RETRY_SECONDS, _seconds, "a number of seconds", BulkOptions.retry_seconds
        ),
        request_seconds=endpoint.timeout if endpoint else BulkOptions.request_seconds,
    )
    metrics: MetricsMode = (
        "off" if _read(environ, ENV_METRICS, _choice("emf", "off"), "emf or off", "emf") == "off" else "emf"
    )
    account_tags: AccountTagSource = (
        "organizations"
        if _read(environ, ENV_ACCOUNT_TAGS, _choice("organizations", "off"), "organizations or off", "off")
        == "organizations"
        else "off"
    )
    return Settings(
        config=_read(environ, ENV_CONFIG, Path, "a path", None),
        lake=_read(environ, ENV_LAKE, str, "a folder or s3:// URI", None),
        dead_letter=_read(environ, ENV_DEAD_LETTER, str, "a folder or s3:// URI", None),
        s3_region=s3_region(environ),
        opensearch=endpoint,
        bulk=bulk,
        limits=Limits(
            batch_records=_read(environ, ENV_BATCH_RECORDS, int, "a whole number", Limits.batch_records)
        ),
        deadline_margin_seconds=_read(environ, ENV_DEADLINE_MARGIN, _seconds, "a number of seconds", 10.0),
        metrics=metrics,
        firehose_mode=_firehose_mode(environ),
        account_tags=account_tags,
        account_tags_ttl_seconds=_read(
            environ, ENV_ACCOUNT_TAGS_TTL, _seconds, "a number of seconds", DEFAULT_TTL_SECONDS
        ),
        names=ENV_NAMES,
    )


def _firehose_mode(environ: Mapping[str, str]) -> FirehoseMode | None:
    mode = _read(environ, ENV_FIREHOSE_MODE, _choice("transform", "index"), "transform or index", None)
    return "transform" if mode == "transform" else "index" if mode == "index" else None


def s3_region(environ: Mapping[str, str]) -> str | None:
    """The region of s3:// targets: ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else unknown."""
    return environ.get(ENV_REGION, "").strip() or environ.get(ENV_DEFAULT_REGION, "").strip() or None


class LambdaContext(Protocol):
    """The part of the Lambda context a deadline needs."""

    def get_remaining_time_in_millis(self) -> int: ...


def lambda_deadline(context: LambdaContext, settings: Settings, clock: Clock | None = None) -> Deadline:
    """The function's remaining time minus the margin: after it, the rest is reported retryable."""
    seconds = context.get_remaining_time_in_millis() / 1000 - settings.deadline_margin_seconds
    return Deadline.after(max(0.0, seconds), clock) if clock else Deadline.after(max(0.0, seconds))
