"""``waflens report``: one self-contained HTML file summarising a lake, local or on S3.

The numbers are computed in Polars (``dashboards.report.aggregate``); the page only sums them over the
time range and web ACL a reader picks. The last line of stdout is one JSON object: the file's path, the
events it covers, its size and the seconds it took.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from dashboards.report.aggregate import report_data
from dashboards.report.render import render
from enrich import schema as S
from enrich.config import ConfigError
from ingest.cli.alerts import load_rules, moment
from ingest.environment import s3_region
from ingest.sinks.lake import scan_lake
from ingest.sinks.storage import S3_SCHEME, aws_reason, check_local_folder, resolve


def add_parser(commands: Any) -> None:  # argparse's _SubParsersAction is private
    """Register ``report`` on the ``waflens`` sub-command parsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "report", help="write one self-contained HTML report of a lake"
    )
    parser.add_argument(
        "--lake", required=True, metavar="DIR|S3URI", help="the lake: a folder or s3://bucket/prefix"
    )
    parser.add_argument("--out", required=True, type=Path, metavar="FILE.html", help="the HTML file to write")
    parser.add_argument(
        "--since", metavar="T", help="ISO 8601 time, or 2h / 30m / 7d ago (default: the first event)"
    )
    parser.add_argument(
        "--until", metavar="T", help="ISO 8601 time, or 2h / 30m / 7d ago (default: the last event)"
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="config file (TOML or JSON) whose [alerts] the report evaluates",
    )


def run(args: argparse.Namespace, *, now: datetime | None = None) -> int:
    """Write the report and print its summary line; 0 when written."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    since = moment(args.since, "--since", now) if args.since else None
    until = moment(args.until, "--until", now) if args.until else None
    if since is not None and until is not None and since >= until:
        raise ConfigError("--since must be before --until")
    out: Path = args.out
    check_local_folder(out.parent, "--out")  # before reading anything
    rules = load_rules(args.config)
    events, files = lake_events(args.lake)
    if files == 0:
        sys.stderr.write(
            f"waflens: warning: the lake {args.lake} holds no Parquet files; the report is empty\n"
        )
    data = report_data(events, rules=rules, since=since, until=until)
    if files and data["events"] == 0:
        sys.stderr.write("waflens: warning: no event falls in the chosen time range; the report is empty\n")
    page = render(data).encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(page)
    summary = {
        "report": str(out),
        "events": data["events"],
        "bytes": len(page),
        "seconds": round(time.perf_counter() - started, 2),
        "since": datetime.fromtimestamp(data["since_ms"] / 1000, UTC).isoformat(),
        "until": datetime.fromtimestamp(data["until_ms"] / 1000, UTC).isoformat(),
    }
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0


def lake_events(lake: str) -> tuple[pl.LazyFrame, int]:
    """The lake's events (every file as written; the report counts each ``_id`` once) and its file count.

    A local lake is scanned by Polars; an S3 lake through the same pyarrow filesystem the lake writes
    with, so credentials, region and ``AWS_ENDPOINT_URL`` work as they do for ``ingest --lake``.
    """
    if not lake.startswith(f"{S3_SCHEME}://"):
        root = Path(lake)
        if not root.is_dir():
            raise ConfigError(f"--lake {lake!r} is not a folder")
        files = sum(1 for _ in root.rglob("*.parquet"))
        return (scan_lake(root, each_id_once=False) if files else S.LAKE_FILE.to_frame().lazy()), files
    location = resolve(lake, option="--lake", region=s3_region(os.environ))
    try:
        infos = location.filesystem.get_file_info(
            pafs.FileSelector(location.base, recursive=True, allow_not_found=True)
        )
    except OSError as exc:
        raise ConfigError(f"--lake {lake}: cannot list it ({aws_reason(exc)})") from None
    paths = sorted(
        info.path
        for info in infos
        if info.type == pafs.FileType.File and info.path.endswith(".parquet") and "/." not in info.path
    )
    if not paths:
        return S.LAKE_FILE.to_frame().lazy(), 0
    dataset = pads.dataset(paths, filesystem=location.filesystem, format="parquet")
    return pl.scan_pyarrow_dataset(dataset), len(paths)
