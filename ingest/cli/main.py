"""``waflens``: the command line (``ingest``, ``setup``, ``backfill``, ``compact``). The last line of
stdout of each is one JSON object.

The development and demo commands (``generate``, ``bench``) are ``waflens-dev`` (devtools/cli.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

from dashboards.registry import SetupContent
from enrich.config import ConfigError
from ingest import telemetry
from ingest.cli import alerts, backfill, query, setup
from ingest.cli import report as report_command
from ingest.cli.parsing import Parser, package_version
from ingest.cli.progress import IngestProgress, add_progress_option
from ingest.compose import FIELD_NAMES, Settings, build_pipeline
from ingest.deadline import Deadline
from ingest.environment import ENV_PASSWORD, ENV_REGION, ENV_USERNAME, s3_region
from ingest.outcomes import RunSummary
from ingest.run import Limits
from ingest.setup import SetupError
from ingest.sinks.compact import compact
from ingest.sinks.lake import ParquetLake
from ingest.sinks.opensearch.client import Endpoint
from ingest.sinks.opensearch.service import BulkOptions
from ingest.sinks.storage import check_local_file, resolve
from ingest.sources.local import SourceError, expand

# 0: everything settled; 1: something to deliver again (or a damaged source); 2: usage or
# configuration; 3: the run's counts do not balance, a bug in waflens; 4: setup applied everything
# except saved objects a user changed on the cluster (retrying cannot help, a person must decide).
EXIT_OK, EXIT_RETRY, EXIT_USAGE, EXIT_BUG, EXIT_KEPT_CHANGES = 0, 1, 2, 3, 4
# Credentials come from the environment, never the command line (it shows in process lists).
CLI_NAMES = {
    **FIELD_NAMES,
    "lake": "--lake",
    "dead_letter": "--dead-letter",
    "opensearch": "--opensearch",
    "batch_records": "--batch-records",
    "bulk_bytes": "--bulk-bytes",
    "bulk_concurrency": "--bulk-concurrency",
    "deadline": "--deadline",
    "account_tags": "--account-tags",
}


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
    parser.add_argument(
        "--aws-region", metavar="REGION", help="SigV4 region (default: from the host, then AWS_REGION)"
    )
    parser.add_argument("--insecure", action="store_true", help="do not verify the cluster's TLS certificate")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="seconds per request")


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="waflens", description="AWS WAF log analytics pipeline.")
    parser.add_argument("--version", action="version", version=f"waflens {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="decode, enrich and deliver WAF log files")
    ingest.add_argument(
        "paths", nargs="+", type=Path, help="files, folders or - (standard input) of WAF logs (gzip or plain)"
    )
    ingest.add_argument("--lake", metavar="DIR|S3URI", help="Parquet lake: a folder or s3://bucket/prefix")
    ingest.add_argument(
        "--dead-letter",
        metavar="DIR|S3URI",
        help="rejected records: a folder or s3://bucket/prefix (default: LAKE/_dead_letter)",
    )
    ingest.add_argument(
        "--config", type=Path, metavar="FILE", help="config file (TOML or JSON): owners, accounts, redaction"
    )
    ingest.add_argument(
        "--account-tags",
        choices=["off", "organizations"],
        default="off",
        help="also read account names and tags from AWS Organizations (default: the config file only)",
    )
    ingest.add_argument(
        "--batch-records", type=int, default=Limits.batch_records, metavar="N", help="records per batch"
    )
    _add_cluster_options(ingest)
    ingest.add_argument(
        "--bulk-bytes",
        type=int,
        default=BulkOptions.max_bytes,
        metavar="BYTES",
        help="bytes per bulk request",
    )
    ingest.add_argument(
        "--bulk-concurrency",
        type=int,
        default=BulkOptions.concurrency,
        metavar="N",
        help="bulk requests in flight at once",
    )
    ingest.add_argument(
        "--retry-seconds",
        type=float,
        default=BulkOptions.retry_seconds,
        metavar="SECONDS",
        help="seconds to keep retrying one batch's failed documents",
    )
    ingest.add_argument(
        "--deadline",
        type=float,
        metavar="SECONDS",
        help="end the run after SECONDS: what is unfinished then is reported retryable (default: none)",
    )
    ingest.add_argument(
        "--metrics",
        type=Path,
        metavar="FILE",
        help="append the run's metrics to FILE as CloudWatch EMF lines (default: off)",
    )
    add_progress_option(ingest)

    setup.add_parser(commands, _add_cluster_options)
    backfill.add_parser(commands)
    alerts.add_parser(commands)
    query.add_parser(commands, _add_cluster_options)
    report_command.add_parser(commands)
    compact = commands.add_parser(
        "compact", help="rewrite each lake partition's files as one, each event once"
    )
    compact.add_argument("lake", metavar="DIR|S3URI", help="the lake: a folder or s3://bucket/prefix")
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


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The ingest command's settings; each mistake is one sentence naming the option."""
    endpoint = _endpoint(args) if args.opensearch is not None else None
    return Settings(
        config=args.config,
        lake=args.lake,
        dead_letter=args.dead_letter,
        s3_region=s3_region(os.environ),
        opensearch=endpoint,
        bulk=BulkOptions(
            max_bytes=args.bulk_bytes,
            concurrency=args.bulk_concurrency,
            retry_seconds=args.retry_seconds,
            request_seconds=args.timeout,
        ),
        limits=Limits(batch_records=args.batch_records),
        deadline_seconds=args.deadline,
        metrics=args.metrics or "off",
        account_tags=args.account_tags,
        names=CLI_NAMES,
    )


def _ingest(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if args.metrics is not None:
        check_local_file(args.metrics, "--metrics")
    pipeline = build_pipeline(settings)  # checks the config file and every target before any work
    expansion = expand(args.paths)
    deadline = Deadline.after(settings.deadline_seconds) if settings.deadline_seconds else None
    telemetry.configure_metrics(settings.metrics)
    try:
        with IngestProgress(args.progress) as progress, telemetry.watched_by(progress):
            summary = pipeline.run(expansion.sources, deadline=deadline, keep_records=False).summary
    finally:
        telemetry.flush_metrics()
    summary.skipped.extend(expansion.skipped)
    if summary.records_in == 0:
        sys.stderr.write("waflens: the inputs held no WAF records\n")
    print_json(summary.as_dict())
    return exit_code(summary)


def exit_code(summary: RunSummary) -> int:
    """The command line's contract, rendered from the run's outcomes."""
    if not summary.balanced:
        sys.stderr.write("waflens: the run's counts do not balance (a bug in waflens; please report it)\n")
        return EXIT_BUG
    return EXIT_OK if summary.succeeded else EXIT_RETRY


def _setup(args: argparse.Namespace, content: SetupContent | None = None) -> int:
    if (args.render is None) == (args.opensearch is None):
        raise ConfigError("setup needs exactly one of --opensearch URL or --render DIR")
    content = setup.only(setup.load_content(args.config) if content is None else content, args.only)
    if args.render is not None:
        print_json({"rendered": setup.render_files(args, content)})
        return EXIT_OK
    try:
        report = setup.apply(args, content, _endpoint(args))
    except SetupError as exc:
        sys.stderr.write(f"waflens: setup failed at {exc}\n")
        print_json(exc.report.as_dict())
        return EXIT_RETRY
    setup.warn_kept(report)
    print_json(report.as_dict())
    return EXIT_KEPT_CHANGES if report.kept_user_changes else EXIT_OK


def _compact(args: argparse.Namespace) -> int:
    location = resolve(args.lake, option="lake", region=s3_region(os.environ))
    report = compact(ParquetLake(location))
    print_json(report.as_dict())
    return EXIT_RETRY if report.unreadable else EXIT_OK


def _backfill(args: argparse.Namespace) -> int:
    report = backfill.run(args)
    print_json(report.as_dict())
    return EXIT_OK if report.complete else EXIT_RETRY


def print_json(value: object) -> None:
    """Write ``value`` as one compact JSON line on stdout: the last line every command prints."""
    sys.stdout.write(orjson.dumps(value).decode() + "\n")


def main(argv: Sequence[str] | None = None, *, content: SetupContent | None = None) -> int:
    """Run one command; usage and configuration problems exit 2 with one sentence on stderr.

    ``content``: what ``setup`` applies instead of what the config file describes (for embedding, tests).
    """
    args = _parser().parse_args(argv)
    commands = {
        "ingest": _ingest,
        "backfill": _backfill,
        "compact": _compact,
        "alerts": alerts.run,
        "report": report_command.run,
    }
    try:
        if args.command == "setup":
            return _setup(args, content)
        if args.command in query.COMMANDS:
            return query.COMMANDS[args.command](args, _endpoint(args) if args.opensearch else None)
        return commands[args.command](args)
    except (ConfigError, SourceError) as exc:
        sys.stderr.write(f"waflens: {exc}\n")
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
