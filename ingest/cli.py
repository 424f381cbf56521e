"""``waflens``: the command line. The last line of stdout of ``ingest`` is the run's JSON summary."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

from enrich.config import ConfigError
from enrich.redact import redaction_for
from ingest.deadletter import LocalDeadLetter
from ingest.generate import write_logs
from ingest.lake import ParquetLake
from ingest.pipeline import Limits, Pipeline
from ingest.settings import load_config
from ingest.sources import SourceError, expand

EXIT_OK, EXIT_RETRY, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="waflens", description="AWS WAF log analytics pipeline.")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="decode, enrich and deliver WAF log files")
    ingest.add_argument("paths", nargs="+", type=Path, help="files or folders of WAF logs (gzip or plain)")
    ingest.add_argument("--lake", type=Path, required=True, help="Parquet lake folder to write")
    ingest.add_argument(
        "--dead-letter", type=Path, help="folder for rejected records (default: LAKE/_dead_letter)"
    )
    ingest.add_argument(
        "--config", type=Path, help="enrichment config (TOML or JSON): owners, accounts, redaction"
    )
    ingest.add_argument("--batch-records", type=int, default=Limits.batch_records, help="records per batch")

    generate = commands.add_parser("generate", help="write realistic synthetic WAF logs")
    generate.add_argument("--records", type=int, required=True)
    generate.add_argument("--out", type=Path, required=True, help="output file; gzip when it ends in .gz")
    generate.add_argument("--seed", type=int, default=0)
    return parser


def _ingest(args: argparse.Namespace) -> int:
    if args.batch_records < 1:
        raise ConfigError("--batch-records must be at least 1")
    config = load_config(args.config)
    sources = expand(args.paths)
    dead_letter = LocalDeadLetter(
        args.dead_letter or args.lake / "_dead_letter",
        redaction_for(config.redacted_headers, config.redaction_marker),
    )
    pipeline = Pipeline(
        config=config,
        sinks=[ParquetLake(args.lake)],
        dead_letter=dead_letter,
        limits=Limits(batch_records=args.batch_records),
    )
    summary = pipeline.run(sources)
    sys.stdout.write(orjson.dumps(summary.as_dict()).decode() + "\n")
    return EXIT_OK if summary.succeeded else EXIT_RETRY


def _generate(args: argparse.Namespace) -> int:
    if args.records < 0:
        raise ConfigError("--records must not be negative")
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        written = write_logs(args.out, args.records, seed=args.seed)
    except OSError as exc:
        raise ConfigError(f"{args.out}: cannot write ({exc.strerror})") from exc
    sys.stdout.write(orjson.dumps({"records": written, "out": str(args.out)}).decode() + "\n")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; usage and configuration problems exit 2 with one sentence on stderr."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "ingest":
            return _ingest(args)
        return _generate(args)
    except (ConfigError, SourceError) as exc:
        sys.stderr.write(f"waflens: {exc}\n")
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
