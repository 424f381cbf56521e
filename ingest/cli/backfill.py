"""``waflens backfill``: announce WAF log objects already in S3 to the SQS queue the S3/SQS handler reads.

Progress goes to stderr every few seconds; ``main`` prints the report as the last line of stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from enrich.config import ConfigError
from ingest.backfill import Backfill, Checkpoint, Job, Report, parse_time
from ingest.sinks.storage import check_local_folder

PROGRESS_SECONDS: Final = 5.0
# Standard retry mode retries throttling and 5xx with backoff; what still fails is reported, not lost.
CLIENT_CONFIG: Final = Config(retries={"mode": "standard", "total_max_attempts": 5})


def add_parser(commands: Any) -> None:  # argparse's _SubParsersAction is private
    """Register ``backfill`` on the ``waflens`` sub-command parsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "backfill", help="enqueue WAF log objects already in S3 as S3 event notifications on an SQS queue"
    )
    parser.add_argument("url", metavar="s3://BUCKET/PREFIX", help="where the WAF log objects are")
    parser.add_argument(
        "--queue", required=True, metavar="URL", help="the SQS queue the S3/SQS handler reads"
    )
    parser.add_argument(
        "--since", metavar="ISO", help="objects of this UTC time and later (the key's folders)"
    )
    parser.add_argument("--until", metavar="ISO", help="objects before this UTC time")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="where the last settled key is kept (default: ./waflens-backfill-<bucket>-<digest>.json)",
    )


def run(args: argparse.Namespace) -> Report:
    """Run the backfill ``args`` describe; ConfigError (exit 2) before any request for a usage mistake."""
    since = parse_time(args.since, "--since") if args.since else None
    until = parse_time(args.until, "--until") if args.until else None
    job = Job.from_url(args.url, args.queue, since, until)
    checkpoint = Checkpoint(args.checkpoint, job) if args.checkpoint else Checkpoint.default(job)
    check_local_folder(checkpoint.path.absolute().parent, "--checkpoint")
    checkpoint.load()  # another backfill's file is a usage mistake, found now
    try:
        s3 = boto3.client("s3", config=CLIENT_CONFIG)
        sqs = boto3.client("sqs", config=CLIENT_CONFIG)
    except BotoCoreError as exc:  # no region configured, an unknown profile
        raise ConfigError(f"cannot make the AWS clients: {exc}") from None
    progress = Progress(sys.stderr)
    report = Backfill(
        job, s3, sqs, checkpoint, region=s3.meta.region_name or "us-east-1", progress=progress
    ).run()
    progress.write(report)
    return report


@dataclass
class Progress:
    """One stderr line at most every ``every`` seconds: objects and bytes enqueued, and the rate."""

    stream: TextIO
    every: float = PROGRESS_SECONDS
    clock: Any = time.monotonic
    started: float = field(init=False)
    last: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.last = self.clock()

    def __call__(self, report: Report) -> None:
        """After each batch: a line when ``every`` seconds passed since the last one."""
        if self.clock() - self.last >= self.every:
            self.write(report)

    def write(self, report: Report) -> None:
        """A progress line now."""
        self.last = self.clock()
        seconds = max(self.last - self.started, 1e-9)
        self.stream.write(
            f"waflens: backfill: {report.enqueued} objects ({report.enqueued_bytes / 1e6:.1f} MB) enqueued, "
            f"{report.enqueued / seconds:.0f} objects/s, {report.listed} listed\n"
        )
        self.stream.flush()
