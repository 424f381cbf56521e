"""How the sink classifies bulk items, backs off, and resolves authentication for an endpoint."""

from __future__ import annotations

import random

import pytest

from enrich.config import ConfigError
from ingest.sinks.opensearch.client import Endpoint
from ingest.sinks.opensearch.retry import Backoff, item_verdict


@pytest.mark.parametrize(
    ("status", "error_type", "verdict"),
    [
        (201, None, "ok"),
        (200, None, "ok"),
        (429, "rejected_execution_exception", "retry"),
        (429, "es_rejected_execution_exception", "retry"),
        (500, "internal_server_error", "retry"),
        (502, None, "retry"),
        (503, None, "retry"),
        (504, None, "retry"),
        ("N/A", None, "retry"),  # opensearch-py's status for connection errors and timeouts
        (413, None, "split"),
        (400, "mapper_parsing_exception", "reject"),
        (400, "illegal_argument_exception", "reject"),
        (400, "circuit_breaking_exception", "retry"),
        (401, "security_exception", "halt"),
        (403, "security_exception", "halt"),
    ],
)
def test_each_bulk_item_outcome_is_classified(status: object, error_type: str | None, verdict: str) -> None:
    assert item_verdict(status, error_type) == verdict


def test_backoff_is_full_jitter_bounded_by_the_cap() -> None:
    backoff, rng = Backoff(base=0.5, cap=4.0), random.Random(7)
    delays = [[backoff.delay(attempt, rng) for _ in range(200)] for attempt in range(6)]
    assert all(0 <= d <= min(4.0, 0.5 * 2**a) for a, row in enumerate(delays) for d in row)
    assert max(delays[5]) > 3.0  # it grows to the cap...
    assert min(delays[5]) < 1.0  # ...while jitter keeps spreading the retries


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        (Endpoint("http://127.0.0.1:9200"), ("none", "es", None)),
        (Endpoint("https://search-waf-abc.eu-west-1.es.amazonaws.com"), ("sigv4", "es", "eu-west-1")),
        (Endpoint("https://vpc-waf-abc.us-gov-west-1.es.amazonaws.com"), ("sigv4", "es", "us-gov-west-1")),
        (Endpoint("https://abc123.us-east-1.aoss.amazonaws.com"), ("sigv4", "aoss", "us-east-1")),
        (Endpoint("https://os.internal:9200", username="u", password="p"), ("basic", "es", None)),
        (
            Endpoint("https://os.internal:9200", auth="sigv4", region="ap-southeast-2"),
            ("sigv4", "es", "ap-southeast-2"),
        ),
    ],
)
def test_authentication_follows_the_endpoint(
    endpoint: Endpoint, expected: tuple[str, str, str | None]
) -> None:
    assert endpoint.resolved() == expected


def test_sigv4_without_a_region_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="SigV4 needs a region"):
        Endpoint("https://os.internal:9200", auth="sigv4").resolved()
