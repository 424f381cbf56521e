"""``waflens``: the command line (``ingest``, ``setup``). The last line of stdout of each is one JSON object.

The development and demo commands (``generate``, ``bench``) are ``waflens-dev`` (devtools/cli.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson
from opensearchpy.exceptions import OpenSearchException

from dashboards.cluster import setup_requests
from enrich.config import ConfigError
from enrich.redact import redaction_from
from ingest.config_file import check_writable, load_config
from ingest.run import Limits, Pipeline
from ingest.sinks.base import Sink
from ingest.sinks.deadletter import LocalDeadLetter
from ingest.sinks.lake import ParquetLake
from ingest.sinks.opensearch.client import Endpoint, make_client
from ingest.sinks.opensearch.service import BulkOptions, OpenSearchSink
from ingest.sinks.opensearch.setup import apply
from ingest.sources.local import SourceError, expand

# 0: everything settled; 1: something to deliver again (or a damaged source); 2: usage or
# configuration; 3: the run's counts do not balance, a bug in waflens.
EXIT_OK, EXIT_RETRY, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3
# Credentials come from the environment, never the command line (it shows in process lists).
ENV_USERNAME, ENV_PASSWORD, ENV_REGION = "OPENSEARCH_USERNAME", "OPENSEARCH_PASSWORD", "AWS_REGION"


def _add_cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--opensearch", metavar="URL", help="OpenSearch endpoint, e.g. http://127.0.0.1:9200")
    parser.add_argument(
        "--opensearch-auth",
        choices=["auto", "none", "basic", "sigv4"],
        default="auto",
        help="auto: SigV4 for *.es/aoss.amazonaws.com, basic when OPENSEARCH_USERNAME is set, else none",
    )
    parser.add_argument(
        "--aws-service", choices=["es", "aoss"], help="SigV4 service (default: from the host)"
    )
    parser.add_argument("--aws-region", help="SigV4 region (default: from the host, then AWS_REGION)")
    parser.add_argument("--insecure", action="store_true", help="do not verify the cluster's TLS certificate")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="waflens", description="AWS WAF log analytics pipeline.")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="decode, enrich and deliver WAF log files")
    ingest.add_argument(
        "paths", nargs="+", type=Path, help="files, folders or - (standard input) of WAF logs (gzip or plain)"
    )
    ingest.add_argument("--lake", type=Path, help="Parquet lake folder to write")
    ingest.add_argument("--dead-letter", type=Path, help="rejected records (default: LAKE/_dead_letter)")
    ingest.add_argument("--config", type=Path, help="config file (TOML or JSON): owners, accounts, redaction")
    ingest.add_argument("--batch-records", type=int, default=Limits.batch_records, help="records per batch")
    _add_cluster_options(ingest)
    ingest.add_argument(
        "--bulk-bytes", type=int, default=BulkOptions.max_bytes, help="bytes per bulk request"
    )
    ingest.add_argument("--bulk-concurrency", type=int, default=BulkOptions.concurrency)
    ingest.add_argument(
        "--deadline",
        type=float,
        default=BulkOptions.deadline_seconds,
        help="seconds to keep retrying a batch",
    )

    setup = commands.add_parser("setup", help="apply (or render) the index template and retention policy")
    setup.add_argument("--config", type=Path, help="config file with [index] and [retention]")
    setup.add_argument("--render", type=Path, metavar="DIR", help="write the requests as files, send nothing")
    _add_cluster_options(setup)
    return parser


def _endpoint(args: argparse.Namespace) -> Endpoint:
    return Endpoint(
        url=args.opensearch,
        auth=args.opensearch_auth,
        service=args.aws_service,
        region=args.aws_region or os.environ.get(ENV_REGION),
        username=os.environ.get(ENV_USERNAME),
        password=os.environ.get(ENV_PASSWORD),
        verify_certs=not args.insecure,
        timeout=args.timeout,
    )


def _ingest(args: argparse.Namespace) -> int:
    if args.batch_records < 1:
        raise ConfigError("--batch-records must be at least 1")
    if args.lake is None and args.opensearch is None:
        raise ConfigError("name a target: --lake DIR, --opensearch URL, or both")
    config, _ = load_config(args.config)
    expansion = expand(args.paths)
    redaction = redaction_from(config)
    dead_letter_dir = args.dead_letter or (
        args.lake / "_dead_letter" if args.lake else Path("waflens-dead-letter")
    )
    # permanent mistakes are found before any work, not as every record turning retryable
    check_writable(dead_letter_dir, "--dead-letter")
    sinks: list[Sink] = []
    if args.lake is not None:
        check_writable(args.lake, "--lake")
        sinks.append(ParquetLake(args.lake))
    if args.opensearch is not None:
        options = BulkOptions(
            max_bytes=args.bulk_bytes, concurrency=args.bulk_concurrency, deadline_seconds=args.deadline
        )
        sinks.append(OpenSearchSink(make_client(_endpoint(args)), options))
    pipeline = Pipeline(
        config=config,
        sinks=sinks,
        dead_letter=LocalDeadLetter(dead_letter_dir, redaction),
        limits=Limits(batch_records=args.batch_records),
    )
    summary = pipeline.run(expansion.sources)
    summary.skipped.extend(expansion.skipped)
    print_json(summary.as_dict())
    if not summary.balanced:
        sys.stderr.write("waflens: the run's counts do not balance (a bug in waflens; please report it)\n")
        return EXIT_BUG
    return EXIT_OK if summary.succeeded else EXIT_RETRY


def _setup(args: argparse.Namespace) -> int:
    if (args.render is None) == (args.opensearch is None):
        raise ConfigError("setup needs exactly one of --opensearch URL or --render DIR")
    _, cluster = load_config(args.config)
    requests = setup_requests(cluster)
    if args.render is not None:
        args.render.mkdir(parents=True, exist_ok=True)
        written = []
        for number, request in enumerate(requests, start=1):
            path = args.render / f"{number:02d}-{request.name}.json"
            path.write_text(request.render(), encoding="utf-8")
            written.append(str(path))
        print_json({"rendered": written})
        return EXIT_OK
    try:
        changes = apply(make_client(_endpoint(args)), requests)
    except OpenSearchException as exc:
        sys.stderr.write(f"waflens: setup failed: {exc}\n")
        return EXIT_RETRY
    print_json(dict(changes))
    return EXIT_OK


def print_json(value: object) -> None:
    """Write ``value`` as one compact JSON line on stdout: the last line every command prints."""
    sys.stdout.write(orjson.dumps(value).decode() + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; usage and configuration problems exit 2 with one sentence on stderr."""
    args = _parser().parse_args(argv)
    commands = {"ingest": _ingest, "setup": _setup}
    try:
        return commands[args.command](args)
    except (ConfigError, SourceError) as exc:
        sys.stderr.write(f"waflens: {exc}\n")
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
