"""``waflens backfill``: announce WAF log objects already in S3 to the SQS queue the S3/SQS handler reads.

Progress goes to stderr while it runs on a terminal, and one line at the end; ``main`` prints the report
as the last line of stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Final, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from enrich.config import ConfigError
from ingest.backfill import Backfill, Checkpoint, Job, Report, parse_time
from ingest.cli.progress import Meter, ProgressMode, add_progress_option
from ingest.sinks.storage import check_local_folder

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
    add_progress_option(parser)


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
    with Progress(args.progress, sys.stderr) as progress:
        report = Backfill(
            job, s3, sqs, checkpoint, region=s3.meta.region_name or "us-east-1", progress=progress
        ).run()
    progress.write(report)
    return report


class Progress(Meter):
    """Objects and bytes enqueued, and the rate: kept up to date on a terminal, one line at the end."""

    def __init__(self, mode: ProgressMode, stream: TextIO, clock: Any = time.monotonic) -> None:
        super().__init__("objects", mode, stream)
        self.clock = clock
        self.started = clock()
        self.enqueued = 0

    def __call__(self, report: Report) -> None:
        """After each batch: what it added to the count."""
        self.add(report.enqueued - self.enqueued, report.enqueued_bytes - self.bytes)
        self.enqueued = report.enqueued

    def write(self, report: Report) -> None:
        """The closing line, whatever the mode."""
        seconds = max(self.clock() - self.started, 1e-9)
        self.note(
            f"waflens: backfill: {report.enqueued} objects ({report.enqueued_bytes / 1e6:.1f} MB) enqueued, "
            f"{report.enqueued / seconds:.0f} objects/s, {report.listed} listed"
        )
