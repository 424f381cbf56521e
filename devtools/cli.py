"""``waflens-dev``: development and demo commands. The last line of stdout of each is one JSON object."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from devtools import bench, bench_files, bench_scale
from devtools.generate import write_logs
from devtools.generate_catalog import SPAN_MS, START_MS
from enrich.config import ConfigError
from ingest.cli.main import EXIT_OK, EXIT_USAGE, print_json
from ingest.cli.parsing import Parser


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="waflens-dev", description="waflens development and demo tools.")
    commands = parser.add_subparsers(dest="command", required=True)

    paths = ", ".join(bench.PATHS)
    speed = commands.add_parser(
        "bench", help=f"records/s of {paths}: waflens against a lean per-record ingester"
    )
    speed.add_argument("--records", type=_positive, default=200_000, metavar="N", help="records generated")
    speed.add_argument(
        "--runs", type=_positive, default=1, metavar="N", help="run every path N times, in alternation"
    )
    _add_common(speed)

    scale = commands.add_parser(
        "bench-scale", help="waflens ingest --lake over input sizes and batch sizes: time and peak RSS"
    )
    scale.add_argument(
        "--records",
        type=_sizes,
        default=[20_000, 200_000, 2_000_000],
        metavar="N[,N...]",
        help="input sizes (default: 20000,200000,2000000)",
    )
    scale.add_argument(
        "--batch-records",
        type=_sizes,
        default=[bench_scale.DEFAULT_BATCH],
        metavar="N[,N...]",
        help=f"batch sizes, each run on every input size (default: {bench_scale.DEFAULT_BATCH})",
    )
    scale.add_argument(
        "--budget-mb",
        type=float,
        default=bench_scale.LAMBDA_MB,
        metavar="MB",
        help="name the largest batch size whose peak RSS stays within it",
    )
    _add_common(scale)

    files = commands.add_parser(
        "bench-files", help="waflens ingest into a partition of many files, and of many small files"
    )
    files.add_argument("--records", type=_positive, default=100_000, metavar="N", help="records generated")
    files.add_argument(
        "--files", type=_positive, default=10_000, metavar="N", help="the same records split into N files"
    )
    files.add_argument(
        "--partition-files",
        type=_positive,
        default=500,
        metavar="N",
        help="files the partition holds already",
    )
    files.add_argument(
        "--runs", type=_positive, default=1, metavar="N", help="run every case N times, in alternation"
    )
    _add_common(files)

    generate = commands.add_parser("generate", help="write realistic synthetic WAF logs")
    generate.add_argument("--records", type=int, required=True)
    generate.add_argument("--out", type=Path, required=True, help="output file; gzip when it ends in .gz")
    generate.add_argument("--seed", type=int, default=0)
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="the generator's seed")
    parser.add_argument(
        "--workdir", type=Path, metavar="DIR", help="keep the generated inputs here, to reuse them"
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON summary")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _sizes(text: str) -> list[int]:
    return [_positive(part) for part in text.split(",")]


def _bench(args: argparse.Namespace) -> int:
    if args.command == "bench":
        result = bench.bench(args.records, runs=args.runs, seed=args.seed, workdir=_workdir(args))
        shown = bench.table(result)
    elif args.command == "bench-scale":
        result = bench_scale.bench_scale(
            args.records, args.batch_records, seed=args.seed, workdir=_workdir(args), budget_mb=args.budget_mb
        )
        shown = bench_scale.table(result)
    else:
        if args.files > args.records:
            raise ConfigError(
                f"--files {args.files} is more than --records {args.records}: a file would be empty"
            )
        result = bench_files.bench_files(
            args.records,
            args.files,
            args.partition_files,
            runs=args.runs,
            seed=args.seed,
            workdir=_workdir(args),
        )
        shown = bench_files.table(result)
    if not args.json:
        sys.stdout.write(shown + "\n")
    print_json(result)
    return EXIT_OK


def _workdir(args: argparse.Namespace) -> Path | None:
    if args.workdir is None:
        return None
    try:
        args.workdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--workdir {args.workdir}: cannot create it ({exc.strerror})") from exc
    return args.workdir  # type: ignore[no-any-return]


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
    commands = {"bench": _bench, "bench-scale": _bench, "bench-files": _bench, "generate": _generate}
    try:
        return commands[args.command](args)
    except ConfigError as exc:
        sys.stderr.write(f"waflens-dev: {exc}\n")
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
