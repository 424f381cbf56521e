"""The shared WAF sample corpus (../shared/waf-samples) and what each file must yield."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from tests.support.shared import require_shared, shared_dir

# Records per file, from waf-samples/SOURCES.md (one record per line as published).
NDJSON_COUNTS: Final = {
    "aws-docs-examples.ndjson": 6,
    "aws-docs-examples-history.ndjson": 12,
    "aws-waf-security-automations.ndjson": 228,
    "opensearch-dashboards-observability.ndjson": 38,
    "sekoia-intake-formats.ndjson": 10,
    "wazuh.ndjson": 7,
    "panther.ndjson": 6,
    "elastic-integrations.ndjson": 4,
    "centralized-logging-with-opensearch.ndjson": 2,
    "otel-collector-contrib.ndjson": 2,
    "s3logsbeat.ndjson": 2,
    "spryker-docs.ndjson": 2,
    "aws-samples-waf-agentcore.ndjson": 1,
    "grafana-loki-lambda-promtail.ndjson": 1,
    "onug-csnf-doc.ndjson": 1,
    "ahera1-awswaflogtocsv.ndjson": 1,
}
# Framing variants of the same records (SOURCES.md: byte-exact originals).
RAW_COUNTS: Final = {
    "ahera1_awswaflog_sample_no-trailing-newline.log": 1,
    "aws-waf-security-automations_test_waf_log.gz": 228,
    "loki-lambda-promtail_waflog.log.gz": 1,
    "wazuh_aws-waf_concatenated.log": 7,
}
MALFORMED: Final = (
    "aws-docs-2018-09-06-e194892.json.txt",
    "aws-docs-2019-04-09-7358a4c.json.txt",
    "aws-docs-2019-10-25-aef4a48.json.txt",
    "aws-docs-2020-01-06-16f5015.json.txt",
    "onug-csnf-doc_truncated-record.json.txt",
    "otel_missing_webaclid_log.json",
    "wazuh_aws-waf-invalid-json.log",
    "wazuh_aws-waf-wrong-structure.log",
)


def samples_dir() -> Path:
    """``../shared/waf-samples`` (fails in CI when absent)."""
    return require_shared(shared_dir() / "waf-samples")


def sample(*parts: str) -> Path:
    """A file of the corpus, e.g. ``sample("raw", "wazuh_aws-waf_concatenated.log")``."""
    return require_shared(samples_dir().joinpath(*parts))
