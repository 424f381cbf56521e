"""``waflens-dev bench``: the vectorized pipeline against a per-record reference and a parse-only ceiling.

One run, one generated gzip input, each path in its own process (so each has its own peak RSS):

* ``pipeline``: the real path, framing → decode → redact → enrich → OpenSearch bulk request bodies
  (``ingest.sinks.opensearch.encoder.bulk_chunks``, the bytes the sink would send);
* ``lake``: the same path into the Parquet lake;
* ``reference``: ``orjson`` and plain dicts, one record at a time, producing the same documents
  (``devtools.bench_reference``; a test holds the two to identical output);
* ``ceiling``: gunzip and ``orjson.loads`` per record, nothing else.

Each reports records/s, MB/s of decompressed input and peak RSS; the summary adds the ratios.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import orjson
import polars as pl

from devtools.bench_reference import Reference
from devtools.generate import write_logs
from enrich import schema as S
from enrich.config import EnrichConfig
from enrich.documents import bulk_lines
from enrich.redact import redaction_from
from ingest.deadline import Deadline
from ingest.run import Pipeline
from ingest.sinks.base import SinkResult
from ingest.sinks.deadletter import FileDeadLetter
from ingest.sinks.lake import ParquetLake
from ingest.sinks.opensearch.encoder import bulk_chunks
from ingest.sinks.opensearch.service import BulkOptions
from ingest.sources.local import LocalFile

PATHS: Final = ("pipeline", "lake", "reference", "ceiling")


class BulkBodySink:
    """A sink that builds the OpenSearch sink's request bodies and counts their bytes, sending nothing."""

    name = "bulk-body"
    projection = S.ENRICH_INPUT

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, batch: pl.DataFrame, deadline: Deadline) -> SinkResult:
        """Build the bulk bodies for ``batch``."""
        for chunk in bulk_chunks(bulk_lines(batch.lazy()).collect(engine="streaming"), BulkOptions.max_bytes):
            self.bytes += len(chunk.body)
        return SinkResult()


def _lines(path: Path) -> Iterator[bytes]:
    """The records of a gzip NDJSON file, one at a time (the way peer loaders read S3 objects)."""
    with gzip.open(path, "rb") as stream:
        yield from (line for line in stream if line.strip())


def measure(path: str, source: Path, workdir: Path) -> dict[str, float]:
    """Run one path over ``source`` in this process; return records, seconds and output bytes."""
    config = EnrichConfig.from_mapping(BENCH_CONFIG)
    started = time.perf_counter()
    if path in ("pipeline", "lake"):
        sink = BulkBodySink() if path == "pipeline" else ParquetLake(workdir / "lake")
        redaction = redaction_from(config)
        pipeline = Pipeline(
            config=config, sinks=[sink], dead_letter=FileDeadLetter(workdir / "dead", redaction)
        )
        summary = pipeline.run([LocalFile(source)], keep_records=False).summary
        records, out = summary.delivered, getattr(sink, "bytes", 0)
    elif path == "reference":
        reference = Reference(config)
        records = out = 0
        for records, line in enumerate(_lines(source), start=1):  # noqa: B007  # records is the count after the loop
            out += len(reference.bulk_lines(line))
    else:
        records = out = 0
        for records, line in enumerate(_lines(source), start=1):  # noqa: B007  # records is the count after the loop
            orjson.loads(line)
    return {"records": records, "seconds": time.perf_counter() - started, "bytes_out": out}


def _child(path: str, source: Path, workdir: Path) -> dict[str, float]:
    """``measure`` in a fresh interpreter, with that process's own peak RSS."""
    command = [sys.executable, "-m", "devtools.bench", path, str(source), str(workdir)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"bench path {path} failed with exit status {status}")
    result: dict[str, float] = json.loads(output)
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    return result


def bench(records: int, *, seed: int = 0, workdir: Path | None = None) -> dict[str, object]:
    """Generate ``records`` gzip records and measure every path on them; the JSON-ready summary."""
    with tempfile.TemporaryDirectory(prefix="waflens-bench-") as scratch:
        root = workdir or Path(scratch)
        source = root / f"bench-{records}-{seed}.log.gz"
        if not source.exists():
            write_logs(source, records, seed=seed)
        input_mb = sum(len(line) + 1 for line in _lines(source)) / 2**20
        paths: dict[str, dict[str, float]] = {}
        for path in PATHS:
            result = _child(path, source, root / path)
            seconds = result["seconds"]
            paths[path] = {
                "records": result["records"],
                "seconds": round(seconds, 3),
                "records_per_s": round(result["records"] / seconds),
                "mb_per_s": round(input_mb / seconds, 1),
                "peak_rss_mb": result["peak_rss_mb"],
                "bytes_out": result["bytes_out"],
            }
    rps = {name: paths[name]["records_per_s"] for name in PATHS}
    return {
        "records": records,
        "input_mb": round(input_mb, 1),
        "pipeline_rps": rps["pipeline"],
        "lake_rps": rps["lake"],
        "reference_rps": rps["reference"],
        "ceiling_rps": rps["ceiling"],
        "ratio_vs_reference": round(rps["pipeline"] / rps["reference"], 2),
        "ratio_vs_ceiling": round(rps["pipeline"] / rps["ceiling"], 2),
        "peak_rss_mb": paths["pipeline"]["peak_rss_mb"],
        "paths": paths,
    }


def table(result: dict[str, object]) -> str:
    """The side-by-side view ``waflens-dev bench`` prints."""
    paths = result["paths"]
    assert isinstance(paths, dict)
    rows = [f"{'path':<11}{'records/s':>11}{'MB/s':>8}{'seconds':>9}{'peak RSS MB':>13}"]
    for name, r in paths.items():
        rows.append(
            f"{name:<11}{r['records_per_s']:>11}{r['mb_per_s']:>8}{r['seconds']:>9}{r['peak_rss_mb']:>13}"
        )
    rows.append(
        f"pipeline/reference = {result['ratio_vs_reference']}   "
        f"pipeline/ceiling = {result['ratio_vs_ceiling']}   "
        f"({result['records']} records, {result['input_mb']} MB decompressed)"
    )
    return "\n".join(rows)


BENCH_CONFIG: dict[str, object] = {
    "owners": [
        {
            "team": "payments-eng",
            "layer": "first",
            "oncall": "#payments-oncall",
            "rule_group_pattern": ["*/rulegroup/eng-payments-allowlist/*"],
        },
        {
            "team": "search-eng",
            "layer": "first",
            "oncall": "#search-oncall",
            "rule_group_pattern": ["*/rulegroup/eng-search-api-guard/*"],
        },
        {"team": "platform-eng", "layer": "first", "web_acl_rule": ["PREFMManaged*"]},
        {
            "team": "security",
            "layer": "last",
            "oncall": "secops@example.com",
            "managed": [
                "AWSManagedRulesCommonRuleSet",
                "AWSManagedRulesSQLiRuleSet",
                "AWSManagedRulesKnownBadInputsRuleSet",
                "AWSManagedRulesAmazonIpReputationList",
                "AWSManagedRulesBotControlRuleSet",
                "AWSManagedRulesAntiDDoSRuleSet",
            ],
            "rule_group_pattern": [
                "*/rulegroup/sec-baseline-blocklist/*",
                "*/rulegroup/ShieldMitigationRuleGroup_*",
            ],
            "web_acl_rule": ["POSTFMManaged*", "Default_Action"],
        },
    ],
    "accounts": {
        "111111111111": {
            "name": "payments-prod",
            "team": "payments",
            "environment": "prod",
            "cost_centre": "CC-1100",
        },
        "222222222222": {
            "name": "search-prod",
            "team": "search",
            "environment": "prod",
            "cost_centre": "CC-2200",
        },
        "333333333333": {
            "name": "identity-staging",
            "team": "identity",
            "environment": "staging",
            "cost_centre": "CC-3300",
        },
        "444444444444": {
            "name": "platform-dev",
            "team": "platform",
            "environment": "dev",
            "cost_centre": "CC-4400",
        },
    },
    "account_defaults": {"team": "unknown", "environment": "unknown"},
}


if __name__ == "__main__":  # the child process of _child()
    name, input_path, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    work.mkdir(parents=True, exist_ok=True)
    sys.stdout.write(json.dumps(measure(name, input_path, work)))
