"""``waflens-dev``: development and demo commands. The last line of stdout of each is one JSON object."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from devtools.bench import bench, table
from devtools.generate import write_logs
from devtools.generate_catalog import SPAN_MS, START_MS
from enrich.config import ConfigError
from ingest.cli.main import EXIT_OK, EXIT_USAGE, print_json


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="waflens-dev", description="waflens development and demo tools.")
    commands = parser.add_subparsers(dest="command", required=True)

    bench = commands.add_parser("bench", help="measure the pipeline against a per-record reference")
    bench.add_argument("--records", type=int, default=200_000)
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--workdir", type=Path, help="keep the generated input and outputs here")
    bench.add_argument("--json", action="store_true", help="print only the JSON summary")

    generate = commands.add_parser("generate", help="write realistic synthetic WAF logs")
    generate.add_argument("--records", type=int, required=True)
    generate.add_argument("--out", type=Path, required=True, help="output file; gzip when it ends in .gz")
    generate.add_argument("--seed", type=int, default=0)
    return parser


def _bench(args: argparse.Namespace) -> int:
    if args.records < 1:
        raise ConfigError("--records must be at least 1")
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    result = bench(args.records, seed=args.seed, workdir=args.workdir)
    if not args.json:
        sys.stdout.write(table(result) + "\n")
    print_json(result)
    return EXIT_OK


def _generate(args: argparse.Namespace) -> int:
    if args.records < 0:
        raise ConfigError("--records must not be negative")
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        written = write_logs(args.out, args.records, seed=args.seed)
    except OSError as exc:
        raise ConfigError(f"{args.out}: cannot write ({exc.strerror})") from exc
    since, until = (datetime.fromtimestamp(ms / 1000, UTC) for ms in (START_MS, START_MS + SPAN_MS))
    print_json(
        {"records": written, "out": str(args.out), "since": since.isoformat(), "until": until.isoformat()}
    )
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; usage and configuration problems exit 2 with one sentence on stderr."""
    args = _parser().parse_args(argv)
    commands = {"bench": _bench, "generate": _generate}
    try:
        return commands[args.command](args)
    except ConfigError as exc:
        sys.stderr.write(f"waflens-dev: {exc}\n")
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
